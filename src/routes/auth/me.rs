//! `GET /auth/me` and `GET /me`: the user named by the bearer token.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::actors::User;
use crate::auth;
use crate::envelope::{Envelope, success};
use crate::error::{ApiError, Dependency};
use crate::extract::AuthenticatedUser;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

/// What the handler writes: the user's JSON as it was rendered when the user was read.
#[derive(Serialize)]
struct MeBody<'a> {
    user: &'a serde_json::value::RawValue,
}

// For the document: `MeBody`, which the handler writes, borrows the user.
/// `content` of `GET /auth/me`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeContent {
    user: User,
}

/// The failures of both names of the operation.
const ERRORS: &[&[ApiError]] = &[facts::BEARER, &[ApiError::Unavailable(Dependency::Database), ApiError::Internal]];

/// `GET /auth/me`, declared.
pub struct Me;

impl Declared for Me {
    const ERRORS: &'static [&'static [ApiError]] = ERRORS;
}

/// `GET /me`, the same operation, declared.
pub struct MeAlias;

impl Declared for MeAlias {
    const ERRORS: &'static [&'static [ApiError]] = ERRORS;
}

#[utoipa::path(get, path = "/auth/me", impl_for = Me, tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "the user named by the bearer access token", body = Envelope<MeContent>)))]
#[utoipa::path(get, path = "/me", impl_for = MeAlias, operation_id = "me_alias", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "the same as `GET /auth/me`", body = Envelope<MeContent>)))]
pub async fn me(state: web::Data<AppState>, auth: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let user = auth::me(&state.services, auth.user_id).await?;
    Ok(success(StatusCode::OK, MeBody { user: &user.json }))
}
