//! `GET /`: the ping.

use actix_web::{HttpResponse, http::StatusCode};

use crate::envelope::{Envelope, success};
use crate::error::ApiError;
use crate::routes::facts::Declared;

/// `GET /`, declared.
pub struct Ping;

impl Declared for Ping {
    const ERRORS: &'static [&'static [ApiError]] = &[];
}

#[utoipa::path(get, path = "/", impl_for = Ping, tag = "ops", responses((status = 200, description = "the ping: `content` is `\"server is OK\"`", body = Envelope<String>)))]
pub async fn ping() -> HttpResponse {
    success(StatusCode::OK, "server is OK")
}
