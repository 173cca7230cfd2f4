//! `POST /auth/login`.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Deserialize;

use super::session;
use crate::actors::user_repo::Lookup;
use crate::client::{CheckedOrigin, ClientIp};
use crate::throttle::Action;
use crate::domain::{Email, Password, Username, ValidationError};
use crate::error::ApiError;
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
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let password = Password::parse_attempt(body.password)?;
    let account = body.username.as_deref().or(body.email.as_deref()).unwrap_or_default();
    // A name that could never have been registered cannot exist: it skips the database but,
    // like every unknown user, still pays for a dummy verification below.
    let lookup = match (&body.username, &body.email) {
        (Some(name), _) => Username::parse(name).ok().map(|u| Lookup::Username(u.as_str().to_string())),
        (None, Some(email)) => Email::parse(email).ok().map(|e| Lookup::Email(e.as_str().to_string())),
        (None, None) => return Err(ValidationError::MissingIdentifier.into()),
    };
    state.throttle.attempt(Action::Login, ip, account).await?;
    // Reliability: a login the hasher has no room for is shed before the database is asked,
    // so a login storm costs the database nothing beyond what the hasher can serve.
    let slot = state.hasher.admit()?;
    let record = match lookup {
        Some(lookup) => state.users.find(lookup).await?,
        None => None,
    };
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
    log::info!(target: "gatehouse::auth", "login user_id={}", user.id);
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
