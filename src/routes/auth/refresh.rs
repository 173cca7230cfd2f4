//! `POST /auth/refresh` and `GET /auth/refreshAccessToken`: a new access token for the refresh
//! cookie, which is rotated.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};

use super::session::{AccessTokenBody, access_token};
use crate::actors::RotateOutcome;
use crate::client::CheckedOrigin;
use crate::envelope::{Envelope, success_with};
use crate::error::{ApiError, Dependency};
use crate::metrics::auth::Counter;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

/// The failures of both names of the operation.
const ERRORS: &[&[ApiError]] = &[
    facts::ORIGIN_CHECKED,
    &[ApiError::AmbiguousRefreshToken, ApiError::MissingRefreshToken, ApiError::InvalidRefreshToken, ApiError::RefreshTokenReused],
    &[ApiError::Unavailable(Dependency::TokenStore), ApiError::Internal],
];

/// `POST /auth/refresh`, declared.
pub struct Refresh;

impl Declared for Refresh {
    const ERRORS: &'static [&'static [ApiError]] = ERRORS;
    const COUNTER: Option<Counter> = Some(Counter::Refreshes);
}

/// `GET /auth/refreshAccessToken`, the original demo's name for the same operation, declared.
pub struct RefreshAccessToken;

impl Declared for RefreshAccessToken {
    const ERRORS: &'static [&'static [ApiError]] = ERRORS;
    const COUNTER: Option<Counter> = Some(Counter::Refreshes);
}

#[utoipa::path(post, path = "/auth/refresh", impl_for = Refresh, tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "a new access token; the refresh cookie is rotated", body = Envelope<AccessTokenBody>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
#[utoipa::path(get, path = "/auth/refreshAccessToken", impl_for = RefreshAccessToken, operation_id = "refresh_access_token", tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "the same as `POST /auth/refresh` (the original demo's name)", body = Envelope<AccessTokenBody>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
pub async fn refresh(_: CheckedOrigin, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let presented = match state.cookie.read(&req) {
        Ok(token) => token,
        // Security: see `RefreshCookie::read`; no clearing cookie, since it would delete the
        // user's own cookie and leave the planted one.
        Err(e @ ApiError::AmbiguousRefreshToken) => {
            log::warn!(target: "gatehouse::auth", "refresh refused: more than one refresh cookie");
            crate::metrics::refresh_outcome("ambiguous");
            return Err(e);
        }
        Err(e) => {
            crate::metrics::refresh_outcome(if matches!(e, ApiError::MissingRefreshToken) { "missing" } else { "invalid" });
            return Ok(refused(&state, e));
        }
    };
    let (user_id, token) = match state.tokens.rotate(presented).await? {
        RotateOutcome::Rotated { user_id, token } => {
            log::info!(target: "gatehouse::auth", "refresh rotated user_id={user_id}");
            crate::metrics::refresh_outcome("rotated");
            (user_id, token)
        }
        RotateOutcome::Grace { user_id, token } => {
            log::info!(target: "gatehouse::auth", "refresh within reuse grace user_id={user_id}");
            crate::metrics::refresh_outcome("grace");
            (user_id, token)
        }
        RotateOutcome::Reused { user_id } => {
            log::warn!(target: "gatehouse::auth", "refresh token reuse detected, session revoked user_id={user_id}");
            crate::metrics::refresh_outcome("reused");
            return Ok(refused(&state, ApiError::RefreshTokenReused));
        }
        RotateOutcome::Invalid => {
            log::info!(target: "gatehouse::auth", "refresh refused: invalid token");
            crate::metrics::refresh_outcome("invalid");
            return Ok(refused(&state, ApiError::InvalidRefreshToken));
        }
    };
    let body = access_token(&state, user_id)?;
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.cookie(state.cookie.set(&token));
    Ok(success_with(builder, body))
}

/// A refused refresh also clears the cookie, so the client stops sending a dead token.
fn refused(state: &AppState, error: ApiError) -> HttpResponse {
    let mut response = error.error_response();
    // unwrap: a cookie built from a validated name and a fixed value always encodes.
    response.add_cookie(&state.cookie.clear()).unwrap();
    response
}
