//! `POST /auth/login`: the HTTP side of `auth::login`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::session::{self, SessionBody};
use crate::auth::{self, Credentials};
use crate::client::{CheckedOrigin, ClientIp};
use crate::domain::ValidationError;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::metrics::auth::Counter;
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
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

/// `POST /auth/login`, declared.
pub struct Login;

impl Declared for Login {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        facts::ORIGIN_CHECKED,
        &[ApiError::Validation(ValidationError::PasswordTooLong), ApiError::Validation(ValidationError::MissingIdentifier)],
        &[ApiError::InvalidCredentials, ApiError::AccountDisabled],
        // With `REQUIRE_VERIFIED_EMAIL=true`, the right password of an unverified account.
        &[ApiError::EmailNotVerified],
        facts::THROTTLED,
        facts::ALL_STORES,
    ];
    const COUNTER: Option<Counter> = Some(Counter::Logins);
}

#[utoipa::path(post, path = "/auth/login", impl_for = Login, tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "logged in (by `username` or `email`); sets the refresh cookie, replacing the user's previous session, and the device cookie", body = Envelope<SessionBody>, headers(("set-cookie" = String, description = "the refresh cookie `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`, and the device cookie `jwt-device=…` with the same attributes")))))]
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
    let user_agent = super::user_agent(&req);
    let session = auth::login(&state.services, &rid, ip, device, Credentials { password, username, email, user_agent }).await?;
    Ok(session::started(&state, StatusCode::OK, session))
}
