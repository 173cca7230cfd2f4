//! `GET /auth/me` and `GET /me`: the user named by the bearer token.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::actors::User;
use crate::auth;
use crate::envelope::success;
use crate::error::ApiError;
use crate::extract::AuthenticatedUser;
use crate::state::AppState;

#[derive(Serialize)]
struct MeBody<'a> {
    user: &'a User,
}

pub async fn me(state: web::Data<AppState>, auth: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let user = auth::me(&state.services, auth.user_id).await?;
    Ok(success(StatusCode::OK, MeBody { user: &user }))
}
