//! `POST /auth/register`.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use uuid::Uuid;

use super::session::{self, SessionBody};
use crate::client::{CheckedOrigin, ClientIp};
use crate::domain::{Email, Identifier, Username, ValidationError};
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::metrics::auth::Counter;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;
use crate::throttle::{Account, Action};

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
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let username = Username::parse(&body.username)?;
    let email = body.email.as_deref().map(Email::parse).transpose()?;
    let password = state.password_policy.parse_new(body.password)?;
    state.throttle.attempt_from(Action::Register, ip).await?;
    // Security: counted on the canonical name, so compatibility spellings of one name (which
    // would all be refused as taken) share one counter.
    let name = Identifier::Username(username.clone());
    state.throttle.attempt_on(Action::Register, Account::Named(&name)).await?;
    // Security: the password is hashed before the database is asked about the name, so a taken
    // name costs a caller the same Argon2 work as a free one.
    let hash = state.hasher.hash(password).await?;
    // The refresh token is stored before the user row: if the token store is down, nothing
    // has been written and the client can simply retry. A token stored for a registration that
    // then loses the name race is revoked at once (and would expire unused anyway).
    let id = Uuid::now_v7();
    let refresh = state.tokens.issue(id).await?;
    let user = match state.users.create(id, username, email, hash).await {
        Ok(user) => user,
        Err(e) => {
            if let Err(revoke) = state.tokens.revoke(refresh).await {
                log::warn!("could not revoke the token of a failed registration: {revoke}");
            }
            return Err(e);
        }
    };
    log::info!(target: "gatehouse::auth", "register user_id={}", user.id);
    session::started(&state, StatusCode::CREATED, user, &refresh)
}
