//! Logging: env_logger, `info` unless `RUST_LOG` says otherwise.

/// Driver crates log every statement at `info`/`debug`; they are held at `warn` by default.
const DEFAULT_FILTER: &str = "info,sqlx=warn,actix_server=warn,actix_web=warn";

pub fn init() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_FILTER)).format_timestamp_millis().init();
}
