//! `POST /auth/refresh` and `GET /auth/refreshAccessToken`: a new access token for the refresh
//! cookie, which is rotated.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};

use super::session::access_token;
use crate::actors::RotateOutcome;
use crate::client::CheckedOrigin;
use crate::envelope::success_with;
use crate::error::ApiError;
use crate::state::AppState;

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
