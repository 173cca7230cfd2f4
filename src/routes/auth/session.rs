//! What register, login and refresh answer with: an access token in the body and the refresh
//! token in the cookie (register and login add the device cookie).

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;
use uuid::Uuid;

use crate::actors::User;
use crate::envelope::success_with;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::RefreshToken;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessTokenBody {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionBody {
    user: User,
    #[serde(flatten)]
    token: AccessTokenBody,
}

pub fn access_token(state: &AppState, user_id: Uuid) -> Result<AccessTokenBody, ApiError> {
    let access_token = state.access.sign(user_id).map_err(|e| {
        log::error!("signing an access token failed: {e}");
        ApiError::Internal
    })?;
    Ok(AccessTokenBody { access_token, token_type: "Bearer", expires_in: state.access.ttl().as_secs() })
}

/// The response to a successful register or login, for a refresh token already stored. It
/// also marks this browser as a device that has logged into the account (see `device_cookie`).
pub fn started(state: &AppState, status: StatusCode, user: User, refresh: &RefreshToken) -> Result<HttpResponse, ApiError> {
    let token = access_token(state, user.id)?;
    let mut builder = HttpResponse::build(status);
    builder.cookie(state.cookie.set(refresh));
    builder.cookie(state.device.issue(user.id));
    Ok(success_with(builder, SessionBody { user, token }))
}
