//! The request middleware: a request id on every request and response, one log line per
//! request, and the request metrics.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id, available to handlers through the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A fresh request id: 32 hex digits, a random per-process prefix and a counter.
///
/// Request ids need to be unique, not secret: a counter costs nothing per request, where a
/// random UUID per request cost a `getrandom` system call. The random prefix keeps the ids of
/// several replicas (and restarts) apart.
fn new_request_id() -> String {
    static PREFIX: LazyLock<u64> = LazyLock::new(rand::random);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{:016x}{:016x}", *PREFIX, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A client's id is kept only when it is short and plain, so it cannot forge log lines.
fn sane(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub async fn request_context(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(new_request_id, str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    crate::metrics::request_started();
    let result = next.call(req).await;
    crate::metrics::request_finished();
    let mut res = result?;
    // The route template, never the raw path: bounded label values and no ids in logs.
    let route = res.request().match_pattern().unwrap_or_else(|| "<unmatched>".to_string());
    let status = res.status();
    let elapsed = started.elapsed();
    let headers = res.headers_mut();
    // unwrap: `sane` admits only visible ASCII, and generated ids are hex.
    headers.insert(REQUEST_ID, HeaderValue::from_str(&id).unwrap());
    // Security (RFC 6749 §5.1, RFC 9111 §5.2.2.5): responses carry access tokens, refresh
    // cookies and personal data; no browser or proxy cache may keep them. A route that set its
    // own policy keeps it.
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    log::info!(
        target: "gatehouse::http",
        "{method} {route} {} {:.2}ms rid={id}",
        status.as_u16(),
        elapsed.as_secs_f64() * 1000.0
    );
    crate::metrics::request_completed(method.as_str(), &route, status.as_u16(), elapsed);
    crate::metrics::auth::record(&route, &res);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn generated_ids_are_unique_plain_and_fixed_length() {
        let (a, b) = (super::new_request_id(), super::new_request_id());
        assert_ne!(a, b);
        assert!(a.len() == 32 && sane(&a) && a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a[..16], b[..16], "one process, one prefix");
    }

    #[test]
    fn only_plain_short_ids_are_kept() {
        assert!(sane("abc-123_x.y:z"));
        assert!(!sane(""));
        assert!(!sane(&"a".repeat(65)));
        assert!(!sane("a b"));
        assert!(!sane("a\nINFO forged"));
    }
}
