//! The request middleware: a request id on every request and response, one log line per
//! request, the request metrics, the envelope for errors the framework made, and the refusal of
//! encoded request bodies.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};

use crate::error::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id, available to handlers through the request's extensions (or as an
/// extractor), and passed on to the flows so that their log lines carry it as `rid=<id>`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl actix_web::FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<RequestId, Self::Error>>;

    /// The id `request_context` gave the request; a fresh one where that middleware is not
    /// installed (a handler called without the middleware), so a handler always has one to log.
    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(req.extensions().get::<RequestId>().cloned().unwrap_or_else(|| RequestId(new_request_id()))))
    }
}

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

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| sane(v)).map_or_else(new_request_id, str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    crate::metrics::request_started();
    let result = next.call(req).await;
    crate::metrics::request_finished();
    // An error that escaped the services inside (handlers' errors do not: actix-web turns them
    // into responses) is answered by actix-web itself; it gets the envelope all the same. (The
    // request cannot be kept here to answer it: routing needs the only reference to it.)
    let res = result.map_err(|err| if err.as_error::<ApiError>().is_some() { err } else { framework_error(&err).into() })?;
    let mut res = envelope_framework_error(res.map_into_left_body());
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
    crate::metrics::request_completed(&method, &route, status.as_u16(), elapsed);
    crate::metrics::auth::record(res.request().app_data::<crate::metrics::auth::Counter>().copied(), &res);
    Ok(res)
}

/// Security (SPEC: every failure in the envelope): an error response made by a part of the
/// framework rather than by `ApiError` (actix-cors refuses a preflight with a plain-text 400) is
/// rendered again in the envelope, keeping the headers it carried (`Vary`, CORS). Responses that
/// carry no error, or an `ApiError`, are left as they are.
fn envelope_framework_error<B>(res: ServiceResponse<EitherBody<B>>) -> ServiceResponse<EitherBody<B>> {
    let replacement = match res.response().error() {
        None => return res,
        Some(err) if err.as_error::<ApiError>().is_some() => return res,
        Some(err) => framework_error(err),
    };
    let (request, old) = res.into_parts();
    let mut new = HttpResponse::from_error(replacement);
    for (name, value) in old.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH && !new.headers().contains_key(name) {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, new).map_into_right_body()
}

/// The `ApiError` that stands for an error another part of the framework made.
fn framework_error(err: &Error) -> ApiError {
    if err.as_error::<actix_cors::CorsError>().is_some() {
        return ApiError::CorsPreflightRejected;
    }
    let status = err.as_response_error().status_code();
    log::debug!(target: "gatehouse::http", "framework error {status} enveloped: {err}");
    match status.as_u16() {
        404 => ApiError::NotFound,
        405 => ApiError::MethodNotAllowed,
        415 => ApiError::UnsupportedMediaType,
        400..=499 => ApiError::BadRequest,
        _ => {
            log::error!(target: "gatehouse::http", "unhandled framework error {status}: {err}");
            ApiError::Internal
        }
    }
}

/// Whether a `Content-Encoding` header names only `identity` (no coding at all).
fn identity_only(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|v| v.split(',').map(str::trim).all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity")))
}

/// Security: request bodies are never decoded. A small gzip body inflates to megabytes before
/// any size limit sees it, and no client of this API needs to compress a few hundred bytes of
/// JSON; so a request carrying `Content-Encoding` (anything but `identity`) is refused with 415
/// here, before routing and before anything reads its body. (actix-web is built without its
/// `compress-*` features, so no extractor can inflate a body either: see Cargo.toml.)
pub async fn refuse_encoded_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if req.headers().get_all(CONTENT_ENCODING).all(identity_only) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    Ok(req.error_response(ApiError::UnsupportedContentEncoding).map_into_right_body())
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
    fn only_the_identity_coding_counts_as_no_coding() {
        use actix_web::http::header::HeaderValue;
        for accepted in ["identity", "IDENTITY", " identity , identity", ""] {
            assert!(super::identity_only(&HeaderValue::from_static(accepted)), "{accepted:?}");
        }
        for refused in ["gzip", "identity, gzip", "br", "x-gzip", "deflate ,identity"] {
            assert!(!super::identity_only(&HeaderValue::from_static(refused)), "{refused:?}");
        }
        assert!(!super::identity_only(&HeaderValue::from_bytes(b"identit\xff").unwrap()));
    }

    /// An error made outside `ApiError` (a CORS preflight refusal, or any other framework
    /// error) is answered in the envelope, with the headers it carried.
    #[actix_web::test]
    async fn framework_errors_are_rendered_in_the_envelope() {
        use actix_web::middleware::from_fn;
        use actix_web::{App, HttpResponse, test, web};

        let app = test::init_service(
            App::new()
                .wrap(from_fn(super::request_context))
                .route("/cors", web::get().to(|| async { Err::<HttpResponse, _>(actix_cors::CorsError::OriginNotAllowed) }))
                .route("/other", web::get().to(|| async { Err::<HttpResponse, _>(actix_web::error::ErrorImATeapot("plain text")) }))
                .route("/server", web::get().to(|| async { Err::<HttpResponse, _>(actix_web::error::ErrorBadGateway("plain text")) }))
                .route(
                    "/vary",
                    web::get().to(|| async {
                        let mut res = HttpResponse::from_error(actix_web::error::ErrorNotFound("plain"));
                        res.headers_mut()
                            .insert(actix_web::http::header::VARY, actix_web::http::header::HeaderValue::from_static("origin"));
                        res
                    }),
                ),
        )
        .await;
        for (path, status, code) in [
            ("/cors", 400, "CORS_PREFLIGHT_REJECTED"),
            ("/other", 400, "BAD_REQUEST"),
            ("/server", 500, "INTERNAL_ERROR"),
            ("/vary", 404, "NOT_FOUND"),
        ] {
            let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(resp.status().as_u16(), status, "{path}");
            assert!(resp.headers().contains_key(super::REQUEST_ID), "{path}");
            if path == "/vary" {
                assert_eq!(resp.headers().get("vary").unwrap(), "origin");
            }
            let body: serde_json::Value = test::read_body_json(resp).await;
            assert_eq!(body["success"], false, "{path}: {body}");
            assert_eq!(body["status"], status, "{path}: {body}");
            assert_eq!(body["content"]["error_code"], code, "{path}: {body}");
        }
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
