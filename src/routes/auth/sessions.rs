//! `GET /auth/sessions`, `DELETE /auth/sessions/{id}` and `POST /auth/logout-all`: the HTTP
//! side of the session flows (`auth::sessions`), for the bearer of an access token.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::actors::token_store::SessionInfo;
use crate::auth;
use crate::envelope::{Envelope, success, success_with};
use crate::error::{ApiError, Dependency};
use crate::extract::AuthenticatedUser;
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

/// `content` of `GET /auth/sessions`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionsContent {
    sessions: Vec<SessionInfo>,
}

/// `content` of `DELETE /auth/sessions/{id}` and `POST /auth/logout-all`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EndedContent {
    /// How many sessions ended.
    ended: usize,
}

impl EndedContent {
    pub fn new(ended: usize) -> EndedContent {
        EndedContent { ended }
    }
}

const STORE: &[ApiError] = &[ApiError::Unavailable(Dependency::TokenStore), ApiError::Internal];

/// `GET /auth/sessions`, declared.
pub struct Sessions;

impl Declared for Sessions {
    const ERRORS: &'static [&'static [ApiError]] = &[facts::BEARER, STORE];
}

/// `DELETE /auth/sessions/{id}`, declared.
pub struct EndSession;

impl Declared for EndSession {
    const ERRORS: &'static [&'static [ApiError]] = &[facts::BEARER, &[ApiError::SessionNotFound], STORE];
}

/// `POST /auth/logout-all`, declared.
pub struct LogoutAll;

impl Declared for LogoutAll {
    const ERRORS: &'static [&'static [ApiError]] = &[facts::BEARER, STORE];
}

#[utoipa::path(get, path = "/auth/sessions", impl_for = Sessions, tag = "sessions", security(("bearer" = [])),
    responses((status = 200, description = "the caller's live sessions, most recently used first; `current` marks the one of the bearer token", body = Envelope<SessionsContent>)))]
pub async fn list_sessions(state: web::Data<AppState>, auth: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let sessions = auth::sessions(&state.services, &auth.subject).await?;
    Ok(success(StatusCode::OK, SessionsContent { sessions }))
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", impl_for = EndSession, tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "a session id from `GET /auth/sessions` (the `sid` of its access tokens)")),
    responses((status = 200, description = "the session ended: its refresh token is dead and its access tokens are refused (`SESSION_REVOKED`) on every replica; another user's session id answers 404 like an unknown one", body = Envelope<EndedContent>)))]
pub async fn end_session(
    rid: RequestId,
    state: web::Data<AppState>,
    auth: AuthenticatedUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth::end_session(&state.services, &rid, &auth.subject, &id).await?;
    Ok(success(StatusCode::OK, EndedContent { ended: 1 }))
}

#[utoipa::path(post, path = "/auth/logout-all", impl_for = LogoutAll, tag = "sessions", security(("bearer" = [])),
    responses((status = 200, description = "every session of the caller ended, this one included; the refresh cookie is cleared", body = Envelope<EndedContent>, headers(("set-cookie" = String, description = "the cleared refresh cookie: `jwt=; HttpOnly; Path=/auth; SameSite=…; Max-Age=0`")))))]
pub async fn logout_all(rid: RequestId, state: web::Data<AppState>, auth: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let ended = auth::logout_all(&state.services, &rid, auth.user_id).await?;
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.cookie(state.cookie.clear());
    Ok(success_with(builder, EndedContent { ended }))
}
