//! The route table, and the envelope for every rejection the framework itself makes.

mod auth;
mod health;
pub mod metrics;
pub mod openapi;
mod ping;

use actix_web::error::JsonPayloadError;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder, ResponseError, web};

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(route(Method::GET, "/", ping::ping))
        .service(route(Method::POST, "/auth/register", auth::register))
        .service(route(Method::POST, "/auth/login", auth::login))
        .service(route(Method::POST, "/auth/refresh", auth::refresh))
        // The original demo's name for the same operation.
        .service(route(Method::GET, "/auth/refreshAccessToken", auth::refresh))
        .service(route(Method::POST, "/auth/logout", auth::logout))
        .service(route(Method::GET, "/auth/me", auth::me))
        .service(route(Method::GET, "/me", auth::me))
        .service(route(Method::GET, "/health/live", health::live))
        .service(route(Method::GET, "/health/ready", health::ready))
        .service(route(Method::GET, "/openapi.json", openapi::openapi_json));
}

/// A resource answering `method` with `handler`; every other method answers 405 in the
/// envelope with the `Allow` header RFC 9110 §15.5.6 requires.
fn route<F, Args>(method: Method, path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let allow = method.clone();
    web::resource(path).route(web::method(method).to(handler)).default_service(web::to(move || {
        let mut response = ApiError::MethodNotAllowed.error_response();
        // unwrap: a method name is always a valid header value.
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_str(allow.as_str()).unwrap());
        std::future::ready(response)
    }))
}

/// The app's default service: unknown routes answer 404 in the envelope.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// JSON bodies: bounded in size, `application/json` required, and every rejection in the envelope.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |err, _: &HttpRequest| {
        match err {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => ApiError::PayloadTooLarge { limit },
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(e) => ApiError::InvalidJson(describe_json_error(&e)),
            JsonPayloadError::Payload(e) if crate::body_deadline::is_timeout(&e) => ApiError::RequestTimeout,
            JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
            _ => ApiError::InvalidJson("the body could not be read".into()),
        }
        .into()
    })
}

/// serde's message says what is wrong and where, but may quote the input: keep it short.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use actix_web::{App, test, web};

    #[derive(serde::Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        name: String,
    }

    /// Without the middleware that refuses encoded bodies, a gzip body still reaches the JSON
    /// extractor as the compressed bytes it is: no decoder is built in to inflate it.
    #[actix_web::test]
    async fn a_gzip_body_is_never_decoded_by_the_json_extractor() {
        let app = test::init_service(
            App::new().app_data(super::json_config(1024)).route("/", web::post().to(|_: web::Json<Probe>| async { "decoded" })),
        )
        .await;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(br#"{"name": "valid JSON once inflated"}"#).unwrap();
        let gzip = encoder.finish().unwrap();
        let req = test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-encoding", "gzip"))
            .set_payload(gzip)
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), 400);
        let body: serde_json::Value = test::read_body_json(resp).await;
        assert_eq!(body["content"]["error_code"], "INVALID_JSON", "{body}");
    }
}
