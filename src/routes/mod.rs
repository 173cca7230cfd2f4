//! The route table, and the envelope for every rejection the framework itself makes.

pub mod admin;
mod auth;
pub mod facts;
mod health;
pub mod jwks;
pub mod metrics;
pub mod openapi;
mod ping;

use actix_web::error::JsonPayloadError;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Responder, ResponseError, Route, web};

use self::facts::{Declared, Facts};
use crate::error::ApiError;

/// Every public route, each built from its declaration beside its handler (`facts::Declared`).
///
/// A request is matched against the paths in this order, so the path clients call most comes
/// first: a single-page app asks `/auth/me` far more often than anything else.
fn routes() -> Vec<(Facts, Route)> {
    vec![
        declared::<auth::Me, _, _>(auth::me),
        declared::<auth::MeAlias, _, _>(auth::me),
        declared::<ping::Ping, _, _>(ping::ping),
        declared::<auth::Register, _, _>(auth::register),
        declared::<auth::Login, _, _>(auth::login),
        declared::<auth::Refresh, _, _>(auth::refresh),
        declared::<auth::RefreshAccessToken, _, _>(auth::refresh),
        declared::<auth::Logout, _, _>(auth::logout),
        declared::<auth::DeleteMe, _, _>(auth::delete_me),
        declared::<auth::ChangePassword, _, _>(auth::change_password),
        declared::<auth::ForgotPassword, _, _>(auth::forgot_password),
        declared::<auth::ResetPassword, _, _>(auth::reset_password),
        declared::<auth::VerifyEmail, _, _>(auth::verify_email),
        declared::<auth::ResendVerification, _, _>(auth::resend_verification),
        declared::<auth::ChangeEmail, _, _>(auth::change_email),
        declared::<auth::Sessions, _, _>(auth::list_sessions),
        declared::<auth::EndSession, _, _>(auth::end_session),
        declared::<auth::LogoutAll, _, _>(auth::logout_all),
        declared::<health::Live, _, _>(health::live),
        declared::<health::Ready, _, _>(health::ready),
        declared::<openapi::Document, _, _>(openapi::openapi_json),
        declared::<jwks::Document, _, _>(jwks::jwks),
    ]
}

/// The public routes, one resource per path (see `serve`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    serve(cfg, routes());
}

/// One resource per path, with a route per method declared on it (`/auth/me` has two). Its
/// outcome counter travels as the resource's data, for the request middleware to read
/// (`metrics::auth::record`); every other method answers 405 in the envelope with the `Allow`
/// header RFC 9110 §15.5.6 requires.
fn serve(cfg: &mut web::ServiceConfig, routes: Vec<(Facts, Route)>) {
    /// The routes of one path.
    struct OnePath {
        path: String,
        methods: Vec<Method>,
        counter: Option<crate::metrics::auth::Counter>,
        routes: Vec<Route>,
    }
    let mut paths: Vec<OnePath> = Vec::new();
    for (facts, route) in routes {
        let index = match paths.iter().position(|p| p.path == facts.path) {
            Some(index) => index,
            None => {
                paths.push(OnePath { path: facts.path.clone(), methods: Vec::new(), counter: None, routes: Vec::new() });
                paths.len() - 1
            }
        };
        let entry = &mut paths[index];
        entry.methods.push(facts.method.clone());
        assert!(entry.counter.is_none() || facts.counter.is_none(), "{}: one outcome counter per path", facts.path);
        entry.counter = entry.counter.or(facts.counter);
        entry.routes.push(route);
    }
    for OnePath { path, methods, counter, routes } in paths {
        let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
        let mut resource = web::resource(path);
        for route in routes {
            resource = resource.route(route);
        }
        if let Some(counter) = counter {
            resource = resource.app_data(counter);
        }
        cfg.service(resource.default_service(web::to(move || method_not_allowed(allow.clone()))));
    }
}

/// The facts of every public route, in the order of the table.
pub fn table() -> Vec<Facts> {
    routes().into_iter().map(|(facts, _)| facts).collect()
}

/// The route of a declared handler, with its facts.
fn declared<R, F, Args>(handler: F) -> (Facts, Route)
where
    R: Declared,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let facts = Facts::of::<R>();
    let route = web::method(facts.method.clone()).to(handler);
    (facts, route)
}

/// A resource of one route (the metrics listener's): `method` answered by `handler`, every
/// other method 405 with `Allow`.
fn route<F, Args>(method: Method, path: &str, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let allow = method.as_str().to_string();
    web::resource(path).route(web::method(method).to(handler)).default_service(web::to(move || method_not_allowed(allow.clone())))
}

fn method_not_allowed(allow: String) -> std::future::Ready<HttpResponse> {
    let mut response = ApiError::MethodNotAllowed.error_response();
    // unwrap: method names joined by ", " are always a valid header value.
    response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_str(&allow).unwrap());
    std::future::ready(response)
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
