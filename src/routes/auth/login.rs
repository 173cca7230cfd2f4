//! `POST /auth/login`: the HTTP side of `auth::login`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::session;
use crate::auth::{self, Credentials};
use crate::client::{CheckedOrigin, ClientIp};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    password: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

pub async fn login(
    _: CheckedOrigin,
    ClientIp(ip): ClientIp,
    rid: RequestId,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { password, username, email } = body.into_inner();
    let device = state.device.read(&req);
    let session = auth::login(&state.services, &rid, ip, device, Credentials { password, username, email }).await?;
    Ok(session::started(&state, StatusCode::OK, session))
}
