//! `POST /auth/logout`: revokes the session's refresh token and clears the cookie.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use crate::client::CheckedOrigin;
use crate::envelope::success_with;
use crate::error::ApiError;
use crate::state::AppState;

/// Idempotent: without a cookie, or with a token that is no longer valid, the answer is the
/// same 200 and the cookie is cleared. Only a store failure answers otherwise (503, cookie kept,
/// so the client can retry and the session does not live on unseen), and so does more than one
/// refresh cookie (400 `AMBIGUOUS_REFRESH_TOKEN`, nothing revoked, nothing cleared: see
/// `RefreshCookie::read`; a planted cookie must not be able to end the user's session).
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
