//! What register, login and refresh answer with: an access token in the body and the refresh
//! token in the cookie (register and login add the device cookie).

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;

use crate::actors::User;
use crate::auth::{AccessToken, Session};
use crate::envelope::success_with;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessTokenBody {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

impl From<AccessToken> for AccessTokenBody {
    fn from(access: AccessToken) -> AccessTokenBody {
        AccessTokenBody { access_token: access.token, token_type: "Bearer", expires_in: access.expires_in.as_secs() }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionBody {
    user: User,
    #[serde(flatten)]
    token: AccessTokenBody,
}

/// The response to a successful register or login. It also marks this browser as a device that
/// has logged into the account (see `device_cookie`).
pub fn started(state: &AppState, status: StatusCode, session: Session) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    builder.cookie(state.cookie.set(&session.refresh));
    builder.cookie(state.device.issue(session.user.id));
    success_with(builder, SessionBody { user: session.user, token: session.access.into() })
}
