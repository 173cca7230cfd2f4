//! The route table, and the envelope for every rejection the framework itself makes.

pub mod admin;
mod auth;
pub mod facts;
mod health;
pub mod metrics;
pub mod openapi;
mod ping;

use actix_web::error::JsonPayloadError;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder, ResponseError, web};

use self::facts::{Declared, Facts};
use crate::error::ApiError;

/// Every public route, each built from its declaration beside its handler (`facts::Declared`).
fn routes() -> Vec<(Facts, Resource)> {
    vec![
        declared::<ping::Ping, _, _>(ping::ping),
        declared::<auth::Register, _, _>(auth::register),
        declared::<auth::Login, _, _>(auth::login),
        declared::<auth::Refresh, _, _>(auth::refresh),
        declared::<auth::RefreshAccessToken, _, _>(auth::refresh),
        declared::<auth::Logout, _, _>(auth::logout),
        declared::<auth::Me, _, _>(auth::me),
        declared::<auth::MeAlias, _, _>(auth::me),
        declared::<auth::Sessions, _, _>(auth::list_sessions),
        declared::<auth::EndSession, _, _>(auth::end_session),
        declared::<auth::LogoutAll, _, _>(auth::logout_all),
        declared::<health::Live, _, _>(health::live),
        declared::<health::Ready, _, _>(health::ready),
        declared::<openapi::Document, _, _>(openapi::openapi_json),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for (_, resource) in routes() {
        cfg.service(resource);
    }
}

/// The facts of every public route, in the order of the table.
pub fn table() -> Vec<Facts> {
    routes().into_iter().map(|(facts, _)| facts).collect()
}

/// The resource of a declared route. Its outcome counter travels as the resource's data, for the
/// request middleware to read (`metrics::auth::record`).
fn declared<R, F, Args>(handler: F) -> (Facts, Resource)
where
    R: Declared,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let facts = Facts::of::<R>();
    let mut resource = route(facts.method.clone(), &facts.path, handler);
    if let Some(counter) = facts.counter {
        resource = resource.app_data(counter);
    }
    (facts, resource)
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
