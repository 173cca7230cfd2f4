//! `POST /auth/register`: the HTTP side of `auth::register`.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::session;
use crate::auth::{self, NewAccount};
use crate::client::{CheckedOrigin, ClientIp};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

pub async fn register(
    _: CheckedOrigin,
    ClientIp(ip): ClientIp,
    rid: RequestId,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegisterRequest { username, password, email } = body.into_inner();
    let session = auth::register(&state.services, &rid, ip, NewAccount { username, password, email }).await?;
    Ok(session::started(&state, StatusCode::CREATED, session))
}
