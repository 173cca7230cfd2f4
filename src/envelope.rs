//! The `{success, status, content}` envelope that every JSON response wears.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::Serialize;

/// The envelope of every JSON answer, documented for each `content` type.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope<T: Serialize> {
    pub success: bool,
    pub status: u16,
    pub content: T,
}

/// The `content` of every failure: a stable code to switch on, a message for people.
#[derive(Serialize)]
pub struct ErrorContent {
    pub error_code: &'static str,
    pub message: String,
    pub error_type: &'static str,
}

/// Bytes reserved for a body up front: most answers fit, so the body is allocated once.
const TYPICAL_BODY: usize = 256;

/// A successful response with `content` in the envelope.
pub fn success<T: Serialize>(status: StatusCode, content: T) -> HttpResponse {
    success_with(HttpResponse::build(status), content)
}

/// The same, on a builder that already carries headers or cookies.
pub fn success_with<T: Serialize>(mut builder: HttpResponseBuilder, content: T) -> HttpResponse {
    let mut response = builder.finish();
    let status = response.status();
    // unwrap: the content types serialised here are plain structs, strings and JSON values.
    let mut body = Vec::with_capacity(TYPICAL_BODY);
    serde_json::to_writer(&mut body, &Envelope { success: status.is_success(), status: status.as_u16(), content }).unwrap();
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response.set_body(body).map_into_boxed_body()
}
