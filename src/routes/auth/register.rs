//! `POST /auth/register`: the HTTP side of `auth::register`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::session::{self, SessionBody};
use crate::auth::{self, NewAccount};
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
pub struct RegisterRequest {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

/// `POST /auth/register`, declared.
pub struct Register;

impl Declared for Register {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        facts::ORIGIN_CHECKED,
        &[
            ApiError::Validation(ValidationError::UsernameLength),
            ApiError::Validation(ValidationError::UsernameCharacters),
            ApiError::Validation(ValidationError::EmailInvalid),
            ApiError::Validation(ValidationError::EmailTooLong),
            ApiError::Validation(ValidationError::PasswordTooShort),
            ApiError::Validation(ValidationError::PasswordTooLong),
            ApiError::Validation(ValidationError::PasswordTooCommon),
        ],
        &[ApiError::UsernameTaken, ApiError::EmailTaken],
        facts::THROTTLED,
        facts::ALL_STORES,
    ];
    const COUNTER: Option<Counter> = Some(Counter::Registrations);
}

#[utoipa::path(post, path = "/auth/register", impl_for = Register, tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "registered and logged in; sets the refresh cookie, and the device cookie", body = Envelope<SessionBody>, headers(("set-cookie" = String, description = "the refresh cookie `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`, and the device cookie `jwt-device=…` with the same attributes")))))]
pub async fn register(
    _: CheckedOrigin,
    ClientIp(ip): ClientIp,
    rid: RequestId,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegisterRequest { username, password, email } = body.into_inner();
    let user_agent = super::user_agent(&req);
    let session = auth::register(&state.services, &rid, ip, NewAccount { username, password, email, user_agent }).await?;
    Ok(session::started(&state, StatusCode::CREATED, session))
}
