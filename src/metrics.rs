//! Metric names, in one place, and the small helpers that record them.
//!
//! Every label value is drawn from a small fixed set (route templates, methods, status classes,
//! outcomes, operation names): never an id, a username, a token, a raw path or a method as sent.
//! Label values are `&'static str` wherever they can be, so that a value made from input does not
//! compile; the route template is the one exception, and comes from the route table.

pub mod auth;
pub mod exporter;
pub mod keys;
pub mod mail;
pub mod process;
pub mod sessions;
pub mod store;

use std::time::{Duration, Instant};

use actix_web::http::Method;

pub const HTTP_REQUESTS: &str = "gatehouse_http_requests_total";
pub const HTTP_DURATION: &str = "gatehouse_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "gatehouse_http_requests_in_flight";
pub const HASHER_QUEUE: &str = "gatehouse_hasher_queue_depth";
pub const HASHER_BUSY: &str = "gatehouse_hasher_busy_threads";
pub const HASHER_THREADS: &str = "gatehouse_hasher_threads";
pub const ARGON2_DURATION: &str = "gatehouse_argon2_duration_seconds";
pub const LOGINS: &str = "gatehouse_logins_total";
pub const REGISTRATIONS: &str = "gatehouse_registrations_total";
pub const REFRESHES: &str = "gatehouse_refreshes_total";
pub const LOGOUTS: &str = "gatehouse_logouts_total";
pub const STORE_DURATION: &str = "gatehouse_store_operation_duration_seconds";
pub const STORE_ERRORS: &str = "gatehouse_store_errors_total";
pub const POOL_CONNECTIONS: &str = "gatehouse_pool_connections";
pub const POOL_MAX: &str = "gatehouse_pool_max_connections";
pub const DEPENDENCY_UP: &str = "gatehouse_dependency_up";
pub const LIVE_REFRESH_TOKENS: &str = "gatehouse_refresh_tokens_live";
pub const WORKER_ERRORS: &str = "gatehouse_worker_errors_total";
pub const BUILD_INFO: &str = "gatehouse_build_info";

pub fn request_started() {
    metrics::gauge!(HTTP_IN_FLIGHT).increment(1.0);
}

pub fn request_finished() {
    metrics::gauge!(HTTP_IN_FLIGHT).decrement(1.0);
}

/// The `method` label: a method as sent would let any client mint a new series with each
/// made-up method name (`FOO1`, `FOO2`, …), and every series stays in memory and in every scrape.
pub fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// Security: every label is drawn from a fixed set, whatever the client sends: the method
/// (`method_label`), the route template (`route` is a pattern of the route table or
/// `<unmatched>`, never the raw path), the status class.
pub fn request_completed(method: &Method, route: &str, status: u16, elapsed: Duration) {
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(HTTP_REQUESTS, "method" => method_label(method), "route" => route.to_string(), "status" => class).increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route.to_string()).record(elapsed.as_secs_f64());
}

pub fn hasher_queue(depth: usize) {
    metrics::gauge!(HASHER_QUEUE).set(depth as f64);
}

pub fn hasher_threads(threads: usize) {
    metrics::gauge!(HASHER_THREADS).set(threads as f64);
}

/// Counts a hasher thread as busy while alive, and records how long its Argon2 work took.
pub struct HasherBusy {
    operation: &'static str,
    started: Instant,
}

impl HasherBusy {
    /// `operation` is `"hash"` or `"verify"`.
    pub fn enter(operation: &'static str) -> HasherBusy {
        metrics::gauge!(HASHER_BUSY).increment(1.0);
        HasherBusy { operation, started: Instant::now() }
    }
}

impl Drop for HasherBusy {
    fn drop(&mut self) {
        metrics::gauge!(HASHER_BUSY).decrement(1.0);
        metrics::histogram!(ARGON2_DURATION, "operation" => self.operation).record(self.started.elapsed().as_secs_f64());
    }
}

/// What a refresh led to: `rotated`, `grace`, `reused`, `invalid` (unknown, expired, revoked or
/// malformed: the store cannot tell an expired family from one that never existed), `missing`
/// (no cookie), `ambiguous` (more than one refresh cookie: a planted one?) or `error` (the token
/// store failed).
pub fn refresh_outcome(outcome: &'static str) {
    metrics::counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// One call to the token store or the user repository: its duration by operation, and its
/// failure when the dependency was at fault (`unavailable`: down or too slow; `internal`: a
/// driver error).
pub fn store_operation(store: &'static str, operation: &'static str, elapsed: Duration, error: Option<&'static str>) {
    metrics::histogram!(STORE_DURATION, "store" => store, "operation" => operation).record(elapsed.as_secs_f64());
    if let Some(kind) = error {
        metrics::counter!(STORE_ERRORS, "store" => store, "kind" => kind).increment(1);
    }
}

/// Creates the counters whose label values are known in advance at zero, so that a first
/// event shows up in `increase()` and `rate()` (a series born at 1 increases by nothing) and
/// every series exists before anything happened.
pub fn init_series() {
    let outcomes: [(&'static str, &[&'static str]); 4] = [
        (LOGINS, &["success", "failure", "rejected", "throttled", "shed", "error"]),
        (REGISTRATIONS, &["success", "conflict", "rejected", "throttled", "shed", "error"]),
        (LOGOUTS, &["success", "rejected", "error"]),
        (REFRESHES, &["rotated", "grace", "reused", "invalid", "missing", "ambiguous", "error"]),
    ];
    for (name, values) in outcomes {
        for &outcome in values {
            metrics::counter!(name, "outcome" => outcome).increment(0);
        }
    }
    for store in ["token_store", "user_repo"] {
        for kind in ["unavailable", "internal"] {
            metrics::counter!(STORE_ERRORS, "store" => store, "kind" => kind).increment(0);
        }
    }
    metrics::gauge!(HTTP_IN_FLIGHT).set(0.0);
    metrics::gauge!(HASHER_QUEUE).set(0.0);
    metrics::gauge!(HASHER_BUSY).set(0.0);
    mail::init_series();
    sessions::init_series();
}

/// A connection pool's connections, by state.
pub fn pool_connections(pool: &'static str, idle: u32, in_use: u32, max: u32) {
    metrics::gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => "idle").set(f64::from(idle));
    metrics::gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!(POOL_MAX, "pool" => pool).set(f64::from(max));
}

pub fn dependency_up(dependency: &'static str, up: bool) {
    metrics::gauge!(DEPENDENCY_UP, "dependency" => dependency).set(if up { 1.0 } else { 0.0 });
}

pub fn live_refresh_tokens(count: u64) {
    metrics::gauge!(LIVE_REFRESH_TOKENS).set(count as f64);
}

pub fn worker_error(worker: &'static str) {
    metrics::counter!(WORKER_ERRORS, "worker" => worker).increment(1);
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(super::method_label(&Method::POST), "POST");
        assert_eq!(super::method_label(&Method::TRACE), "TRACE");
        for made_up in ["FOO1", "X-123", "get", "PROPFIND"] {
            assert_eq!(super::method_label(&Method::from_bytes(made_up.as_bytes()).unwrap()), "other", "{made_up}");
        }
    }
}
