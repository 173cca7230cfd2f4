//! `POST /auth/logout`: the HTTP side of `auth::logout`; clears the cookie.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::auth;
use crate::client::CheckedOrigin;
use crate::envelope::{Envelope, success_with};
use crate::error::{ApiError, Dependency};
use crate::metrics::auth::Counter;
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

/// `content` of `POST /auth/logout`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogoutContent {
    message: String,
}

/// `POST /auth/logout`, declared.
pub struct Logout;

impl Declared for Logout {
    const ERRORS: &'static [&'static [ApiError]] =
        &[facts::ORIGIN_CHECKED, &[ApiError::AmbiguousRefreshToken], &[ApiError::Unavailable(Dependency::TokenStore), ApiError::Internal]];
    const COUNTER: Option<Counter> = Some(Counter::Logouts);
}

/// Idempotent (see `auth::logout`): the same 200 and a cleared cookie with or without a live
/// token. A store failure (503) and more than one refresh cookie (400 `AMBIGUOUS_REFRESH_TOKEN`)
/// keep the cookie.
#[utoipa::path(post, path = "/auth/logout", impl_for = Logout, tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "the refresh token is revoked (if it was live) and the cookie cleared; idempotent", body = Envelope<LogoutContent>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
pub async fn logout(_: CheckedOrigin, rid: RequestId, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    auth::logout(&state.services, &rid, state.cookie.read(&req)).await?;
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.cookie(state.cookie.clear());
    Ok(success_with(builder, LogoutContent { message: "logged out".into() }))
}
