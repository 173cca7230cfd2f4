//! The login flow: the ordering that keeps a password login safe.

use std::net::IpAddr;

use uuid::Uuid;

use super::{Services, Session};
use crate::actors::token_store::SessionMeta;
use crate::actors::user_repo::Lookup;
use crate::audit::Kind;
use crate::device_cookie::Device;
use crate::domain::{Identifier, Password};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::revocation::Reason;
use crate::throttle::{Account, Action};

/// A login attempt as the client sent it, not yet validated: a password and a username or an
/// email. No `Debug`: it holds a password.
pub struct Credentials {
    pub password: String,
    pub username: Option<String>,
    pub email: Option<String>,
    /// The client's `User-Agent`, recorded with the session (bounded and sanitised).
    pub user_agent: Option<String>,
}

/// Logs in from `ip`, on a browser that presented `device` (a valid device cookie, of any
/// account) or none.
///
/// The order is the point: validate; count the attempt per IP; admit to the hasher; look the
/// account up; count the attempt per account (or per device); verify (a dummy verification for
/// an unknown user); issue the session; re-hash a weaker stored hash in the background.
pub async fn login(
    services: &Services,
    rid: &RequestId,
    ip: IpAddr,
    device: Option<Device>,
    credentials: Credentials,
) -> Result<Session, ApiError> {
    let password = Password::parse_attempt(credentials.password)?;
    let identifier = Identifier::parse(credentials.username.as_deref(), credentials.email.as_deref())?;
    services.throttle.attempt_from(rid, Action::Login, ip).await?;
    // Reliability: a login the hasher has no room for is shed before the database is asked,
    // so a login storm costs the database nothing beyond what the hasher can serve.
    let slot = services.hasher.admit()?;
    // A name that could never have been registered cannot exist: it skips the database but,
    // like every unknown user, still pays for a dummy verification below.
    let record = match &identifier {
        Identifier::Username(name) => services.users.find(Lookup::Username(name.as_str().to_string())).await?,
        Identifier::Email(email) => services.users.find(Lookup::Email(email.as_str().to_string())).await?,
        Identifier::Unregistrable(_) => None,
    };
    // Security: the account's attempt is counted on the identity the lookup resolved (its id,
    // so every spelling and both identifiers share one counter), or on the canonical identifier
    // when there is no such account: one count either way, before any Argon2 work. A browser
    // with a valid device cookie for this very account counts on its own counter instead, so
    // strangers' guesses do not lock its owner out; a cookie for another account is ignored.
    let device = device.filter(|d| record.as_ref().is_some_and(|r| r.user.id == d.user_id));
    let account = match (&device, &record) {
        (Some(device), _) => Account::Device(device),
        (None, Some(record)) => Account::Existing(record.user.id),
        (None, None) => Account::Named(&identifier),
    };
    services.throttle.attempt_on(rid, Action::Login, account).await?;
    // Security: an unknown user is verified against a dummy hash, with the same Argon2 runs as a
    // wrong password (the normalised form, and the raw form when it differs), so this answer
    // and its timing are the same as for a wrong password.
    let verified = services.hasher.verify_admitted(slot, password.clone(), record.as_ref().map(|r| r.password_hash.clone())).await?;
    let Some(record) = record.filter(|_| verified.matches) else {
        services.audit.record(rid, Kind::LoginFailed, account_id(&account), Some(ip));
        log::info!(target: "gatehouse::auth", "login failed rid={rid}");
        return Err(ApiError::InvalidCredentials);
    };
    // Security: only with the right password does a disabled account learn that it is disabled
    // (a wrong one gets the usual 401 above), so the answer tells a guesser nothing more.
    if record.disabled {
        services.audit.record(rid, Kind::LoginRefusedDisabled, Some(record.user.id), Some(ip));
        log::info!(target: "gatehouse::auth", "login refused: account disabled user_id={} rid={rid}", record.user.id);
        return Err(ApiError::AccountDisabled);
    }
    let user = record.user;
    services.can_sign()?;
    // Only once the password is right: a wrong one must not learn whether the account is verified.
    if services.lifecycle.require_verified_email && !user.email_verified {
        log::info!(target: "gatehouse::auth", "login refused: email not verified user_id={} rid={rid}", user.id);
        return Err(ApiError::EmailNotVerified);
    }
    let issued = services.tokens.issue(user.id, SessionMeta::new(ip, credentials.user_agent.as_deref())).await?;
    // The sessions beyond SESSIONS_PER_USER that this login ended (with the default of one,
    // the user's previous session): their access tokens end with them. The account's count is
    // cleared at the same time: the two are independent, and go to Redis in one write.
    futures_util::future::join(
        services.revocations.ended(rid, user.id, &issued.ended, Reason::Replaced),
        services.throttle.succeeded(rid, Action::Login, account),
    )
    .await;
    let refresh = issued.token;
    log::info!(target: "gatehouse::auth", "login user_id={}{} rid={rid}", user.id, if device.is_some() { " from a known device" } else { "" });
    services.audit.record(rid, Kind::LoginSucceeded, Some(user.id), Some(ip));
    if verified.needs_rehash {
        upgrade_hash(services, rid, user.id, password);
    }
    services.session(user, refresh)
}

/// Re-hashes the normalised password with the configured parameters after a successful login
/// that matched a hash made with weaker parameters or from the password's raw form, in the
/// background: the login does not wait for it, and a failure only postpones the upgrade to the
/// next login.
fn upgrade_hash(services: &Services, rid: &RequestId, user_id: Uuid, password: Password) {
    let (hasher, users, rid) = (services.hasher.clone(), services.users.clone(), rid.clone());
    actix_web::rt::spawn(async move {
        let result = async { users.update_password_hash(user_id, hasher.hash(password).await?).await }.await;
        match result {
            Ok(()) => log::info!(target: "gatehouse::auth", "password hash upgraded user_id={user_id} rid={rid}"),
            Err(e) => log::warn!(target: "gatehouse::auth", "password hash upgrade postponed user_id={user_id}: {e} rid={rid}"),
        }
    });
}

/// The account a login attempt was counted on, when the lookup found one.
fn account_id(account: &Account<'_>) -> Option<Uuid> {
    match account {
        Account::Existing(id) => Some(*id),
        Account::Device(device) => Some(device.user_id),
        Account::Named(_) => None,
    }
}
