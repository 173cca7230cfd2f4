//! `POST /auth/logout`: revokes the session's refresh token and clears the cookie.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::client::CheckedOrigin;
use crate::envelope::{Envelope, success_with};
use crate::error::{ApiError, Dependency};
use crate::metrics::auth::Counter;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

// For the document only: the handler writes this content as JSON.
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

/// Idempotent: without a cookie, or with a token that is no longer valid, the answer is the
/// same 200 and the cookie is cleared. Only a store failure answers otherwise (503, cookie kept,
/// so the client can retry and the session does not live on unseen), and so does more than one
/// refresh cookie (400 `AMBIGUOUS_REFRESH_TOKEN`, nothing revoked, nothing cleared: see
/// `RefreshCookie::read`; a planted cookie must not be able to end the user's session).
#[utoipa::path(post, path = "/auth/logout", impl_for = Logout, tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "the refresh token is revoked (if it was live) and the cookie cleared; idempotent", body = Envelope<LogoutContent>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
pub async fn logout(_: CheckedOrigin, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match state.cookie.read(&req) {
        Ok(token) => match state.tokens.revoke(token).await? {
            Some(user_id) => log::info!(target: "gatehouse::auth", "logout user_id={user_id}"),
            None => log::info!(target: "gatehouse::auth", "logout with a token that was not live"),
        },
        Err(e @ ApiError::AmbiguousRefreshToken) => {
            log::warn!(target: "gatehouse::auth", "logout refused: more than one refresh cookie");
            return Err(e);
        }
        Err(_) => {}
    }
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.cookie(state.cookie.clear());
    Ok(success_with(builder, serde_json::json!({ "message": "logged out" })))
}
