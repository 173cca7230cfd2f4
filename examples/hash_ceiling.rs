//! Argon2's ceiling for `scripts/bench`: how many verifications per second the service's own
//! hasher (same parameters, same thread count and priority, same build) completes when it is
//! kept exactly full and nothing else runs.
//!
//!   cargo run --release --example hash_ceiling -- [seconds]
//!
//! Reads `HASHER_THREADS`, `HASHER_NICE` and `ARGON2_*` with the service's defaults and prints
//! one JSON object: `t_hash` (seconds per verification with every thread busy) and the ceiling
//! `min(HASHER_THREADS, cores) / t_hash`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gatehouse::actors::Hasher;
use gatehouse::config::Config;
use gatehouse::domain::Password;

const PASSWORD: &str = "ceiling-benchmark-password";

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::args().nth(1).map_or(Ok(3.0), |s| s.parse())?;
    // Only the hasher's variables are read; everything else keeps its default.
    let config =
        Config::from_lookup(|key| (key.starts_with("ARGON2_") || key.starts_with("HASHER_")).then(|| std::env::var(key).ok()).flatten())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = config.hasher_threads;
    let hasher = Hasher::start(&config.argon2, threads, threads * 2, config.hasher_nice);
    let password = || Password::parse_attempt(PASSWORD.into()).expect("a short literal");
    let phc: Arc<str> = hasher.hash(password()).await?.into();

    // One job at a time: the cost of a single verification on an otherwise idle machine.
    let started = Instant::now();
    let mut single = 0u32;
    while single < 3 || started.elapsed() < Duration::from_secs_f64(seconds / 3.0) {
        assert!(hasher.verify(password(), Some(phc.clone())).await?.matches);
        single += 1;
    }
    let t_single = started.elapsed().as_secs_f64() / f64::from(single);

    // Every thread busy: each of `threads` loops keeps one job in flight.
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let loops = (0..threads).map(|_| {
        let (hasher, phc) = (hasher.clone(), phc.clone());
        async move {
            let mut done = 0u32;
            while done == 0 || Instant::now() < deadline {
                assert!(hasher.verify(password(), Some(phc.clone())).await.expect("verify").matches);
                done += 1;
            }
            done
        }
    });
    let done: u32 = join_all(loops).await.into_iter().sum();
    let elapsed = started.elapsed().as_secs_f64();
    let busy = threads.min(cores) as f64;
    let t_hash = busy * elapsed / f64::from(done);
    println!(
        "{}",
        serde_json::json!({
            "threads": threads,
            "cores": cores,
            "argon2": { "m_kib": config.argon2.m_kib, "t": config.argon2.t, "p": config.argon2.p },
            "t_hash_single_s": t_single,
            "t_hash_s": t_hash,
            "verifications": done,
            "ceiling_per_s": busy / t_hash,
        })
    );
    Ok(())
}
