//! `POST /auth/login`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::session::{self, SessionBody};
use crate::actors::user_repo::Lookup;
use crate::client::{CheckedOrigin, ClientIp};
use crate::domain::ValidationError;
use crate::domain::{Identifier, Password};
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::metrics::auth::Counter;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;
use crate::throttle::{Account, Action};

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
        &[ApiError::InvalidCredentials],
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
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let password = Password::parse_attempt(body.password)?;
    let identifier = Identifier::parse(body.username.as_deref(), body.email.as_deref())?;
    state.throttle.attempt_from(Action::Login, ip).await?;
    // Reliability: a login the hasher has no room for is shed before the database is asked,
    // so a login storm costs the database nothing beyond what the hasher can serve.
    let slot = state.hasher.admit()?;
    // A name that could never have been registered cannot exist: it skips the database but,
    // like every unknown user, still pays for a dummy verification below.
    let record = match &identifier {
        Identifier::Username(name) => state.users.find(Lookup::Username(name.as_str().to_string())).await?,
        Identifier::Email(email) => state.users.find(Lookup::Email(email.as_str().to_string())).await?,
        Identifier::Unregistrable(_) => None,
    };
    // Security: the account's attempt is counted on the identity the lookup resolved (its id,
    // so every spelling and both identifiers share one counter), or on the canonical identifier
    // when there is no such account: one count either way, before any Argon2 work. A browser
    // with a valid device cookie for this very account counts on its own counter instead, so
    // strangers' guesses do not lock its owner out; a cookie for another account is ignored.
    let device = state.device.read(&req).filter(|d| record.as_ref().is_some_and(|r| r.user.id == d.user_id));
    let account = match (&device, &record) {
        (Some(device), _) => Account::Device(device),
        (None, Some(record)) => Account::Existing(record.user.id),
        (None, None) => Account::Named(&identifier),
    };
    state.throttle.attempt_on(Action::Login, account).await?;
    // Security: an unknown user is verified against a dummy hash, with the same Argon2 runs as a
    // wrong password (the normalised form, and the raw form when it differs), so this answer
    // and its timing are the same as for a wrong password.
    let verified = state.hasher.verify_admitted(slot, password.clone(), record.as_ref().map(|r| r.password_hash.clone())).await?;
    let Some(record) = record.filter(|_| verified.matches) else {
        log::info!(target: "gatehouse::auth", "login failed");
        return Err(ApiError::InvalidCredentials);
    };
    let user = record.user;
    let refresh = state.tokens.issue(user.id).await?;
    log::info!(target: "gatehouse::auth", "login user_id={}{}", user.id, if device.is_some() { " from a known device" } else { "" });
    state.throttle.succeeded(Action::Login, account).await;
    if verified.needs_rehash {
        upgrade_hash(&state, user.id, password);
    }
    session::started(&state, StatusCode::OK, user, &refresh)
}

/// Re-hashes the normalised password with the configured parameters after a successful login
/// that matched a hash made with weaker parameters or from the password's raw form, in the
/// background: the login does not wait for it, and a failure only postpones the upgrade to the
/// next login.
fn upgrade_hash(state: &web::Data<AppState>, user_id: uuid::Uuid, password: Password) {
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let result = async { state.users.update_password_hash(user_id, state.hasher.hash(password).await?).await }.await;
        match result {
            Ok(()) => log::info!(target: "gatehouse::auth", "password hash upgraded user_id={user_id}"),
            Err(e) => log::warn!(target: "gatehouse::auth", "password hash upgrade postponed user_id={user_id}: {e}"),
        }
    });
}
