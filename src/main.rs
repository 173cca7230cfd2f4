//! The `gatehouse` binary: configuration, logging, then the application until a signal stops it.

use gatehouse::config::Config;
use gatehouse::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is the normal case; a malformed one is worth a word.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("gatehouse: ignoring .env: {e}");
    }
    // `gatehouse healthcheck`: the container's HEALTHCHECK, which has no shell or curl to use.
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        std::process::exit(gatehouse::healthcheck::run());
    }
    gatehouse::telemetry::init();
    // Reliability: the connection bounds, not the kernel's soft limit, decide when to stop
    // accepting (see `connections`).
    match gatehouse::connections::raise_open_files_limit() {
        Ok((before, after)) if after > before => log::info!("open files limit raised from {before} to {after}"),
        Ok((_, now)) => log::info!("open files limit: {now}"),
        Err(e) => log::warn!("cannot raise the open files limit: {e}"),
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            log::error!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    let app = Application::build(config).await?;
    app.run_until_stopped().await?;
    log::info!("gatehouse stopped");
    Ok(())
}
