//! The Prometheus exporter: one recorder per process, histogram buckets that fit an auth
//! service, build info, and the exposition the `/metrics` route renders (its listener is
//! assembled in `startup`, beside the public one).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::{ARGON2_DURATION, BUILD_INFO, HTTP_DURATION, STORE_DURATION};

/// Request latency: most routes answer in well under a millisecond to tens of milliseconds;
/// login and register include an Argon2 computation, hence the upper buckets.
const HTTP_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Argon2id at OWASP's parameters costs ~40–50 ms per hash here; stronger settings or a busy
/// machine reach hundreds of milliseconds.
const ARGON2_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5];
/// One Redis script or PostgreSQL query on loopback or a LAN: sub-millisecond to tens of ms;
/// the top buckets catch the dependency timeout (500 ms by default).
const STORE_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The builder with gatehouse's buckets. Tests use it to build a private recorder.
pub fn builder() -> PrometheusBuilder {
    let buckets = [
        (HTTP_DURATION, HTTP_BUCKETS),
        (ARGON2_DURATION, ARGON2_BUCKETS),
        (STORE_DURATION, STORE_BUCKETS),
        (super::sessions::REVOCATION_LAG, super::sessions::LAG_BUCKETS),
    ];
    buckets.into_iter().fold(PrometheusBuilder::new(), |b, (name, values)| {
        // unwrap: every bucket list above is non-empty.
        b.set_buckets_for_metric(Matcher::Full(name.to_string()), values).unwrap()
    })
}

/// A recorder that is not installed globally, for tests (`metrics::with_local_recorder`).
pub fn build_recorder() -> PrometheusRecorder {
    builder().build_recorder()
}

/// The process-wide recorder's handle, installing it on first use. Many applications may be
/// built in one process (the API tests do): they all share this one recorder.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                log::warn!("another metrics recorder is installed, /metrics will stay empty: {e}");
            }
            build_info();
            super::init_series();
            handle
        })
        .clone()
}

/// `gatehouse_build_info{version, commit} 1`: join on it to see which build a replica runs.
pub fn build_info() {
    let commit = option_env!("GATEHOUSE_GIT_COMMIT").unwrap_or("unknown");
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "commit" => commit).set(1.0);
}

/// The exposition: the recorder's metrics, then the process metrics read at scrape time.
pub fn render(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    let mut text = handle.render();
    text.push_str(&super::process::render());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_with_their_buckets_and_build_info_is_present() {
        let recorder = build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            build_info();
            metrics::histogram!(ARGON2_DURATION, "operation" => "hash").record(0.045);
            metrics::histogram!(HTTP_DURATION, "route" => "/").record(0.0003);
        });
        let text = render(&handle);
        assert!(text.contains("gatehouse_argon2_duration_seconds_bucket{operation=\"hash\",le=\"0.05\"} 1"), "{text}");
        assert!(text.contains("gatehouse_argon2_duration_seconds_bucket{operation=\"hash\",le=\"0.025\"} 0"), "{text}");
        assert!(text.contains("gatehouse_http_request_duration_seconds_bucket{route=\"/\",le=\"0.0005\"} 1"), "{text}");
        assert!(text.contains(&format!("gatehouse_build_info{{version=\"{}\"", env!("CARGO_PKG_VERSION"))), "{text}");
        assert!(text.contains("# TYPE gatehouse_argon2_duration_seconds histogram"), "{text}");
    }
}
