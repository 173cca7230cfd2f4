//! `GET /`: the ping.

use actix_web::{HttpResponse, http::StatusCode};

use crate::envelope::success;

pub async fn ping() -> HttpResponse {
    success(StatusCode::OK, "server is OK")
}
