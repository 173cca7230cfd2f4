//! `GET /auth/me` and `GET /me`: the user named by the bearer token.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::actors::User;
use crate::envelope::success;
use crate::error::ApiError;
use crate::extract::AuthenticatedUser;
use crate::state::AppState;

#[derive(Serialize)]
struct MeBody<'a> {
    user: &'a User,
}

pub async fn me(state: web::Data<AppState>, auth: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    // A token can outlive its user only if the user was removed out of band: treat it as invalid.
    let user = state.users.find_by_id(auth.user_id).await?.ok_or(ApiError::InvalidAccessToken)?;
    Ok(success(StatusCode::OK, MeBody { user: &user }))
}
