//! The password flows: change (signed in), forgot (a reset mail), reset (with the mailed token).

use std::net::IpAddr;
use std::time::Instant;

use uuid::Uuid;

use super::account::{Caller, confirm_password, end_sessions};
use super::{Services, Session};
use crate::account_store::Purpose;
use crate::actors::token_store::SessionMeta;
use crate::actors::user_repo::Lookup;
use crate::audit::Kind;
use crate::domain::{Email, Identifier};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::throttle::{Account, Action};
use crate::tokens::account::hash_presented;

/// A password change as the client sent it. No `Debug`: it holds passwords.
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    /// The caller's `User-Agent`, kept (bounded) with the session it continues in.
    pub user_agent: Option<String>,
}

/// Changes the signed-in user's password: the current one checked, the new one held to the
/// policy; pending resets are voided and every session ends, the caller's continuing in a fresh
/// one (its refresh token is what this answers).
pub async fn change_password(
    services: &Services,
    rid: &RequestId,
    ip: IpAddr,
    user_id: Uuid,
    change: PasswordChange,
) -> Result<Session, ApiError> {
    let new = services.password_policy.parse_new(change.new_password)?;
    let record = confirm_password(services, rid, user_id, change.current_password).await?;
    let hash = services.hasher.hash(new).await?;
    services.account.change_password(user_id, &hash).await?;
    services.users.forget(user_id);
    log::info!(target: "gatehouse::auth", "password changed user_id={user_id} rid={rid}");
    services.audit.record(rid, Kind::PasswordChanged, Some(user_id), Some(ip));
    // `Caller::Continues` always yields the caller's token.
    let meta = SessionMeta::new(ip, change.user_agent.as_deref());
    let refresh = end_sessions(services, rid, user_id, Caller::Continues(meta)).await?.ok_or(ApiError::Internal)?;
    services.session(record.user, refresh)
}

/// Queues a reset mail when `email` names an account; answers the same either way.
///
/// Security: the answer, and the time it takes, are the same for a known and an unknown
/// address: the work (a lookup, and for a known one a transaction) is done inside a floor
/// (`FORGOT_FLOOR_MS`) that every answer waits out. Attempts are counted per IP and per
/// address, before the database is asked, whether or not the address exists.
pub async fn forgot(services: &Services, rid: &RequestId, ip: IpAddr, email: String) -> Result<(), ApiError> {
    let started = Instant::now();
    let email = Email::parse(&email)?;
    services.throttle.attempt_from(rid, Action::Forgot, ip).await?;
    let address = Identifier::Email(email.clone());
    services.throttle.attempt_on(rid, Action::Forgot, Account::Named(&address)).await?;
    let result = async {
        let Some(record) = services.users.find(Lookup::Email(email.as_str().to_string())).await? else {
            log::info!(target: "gatehouse::auth", "password reset asked for an unknown address rid={rid}");
            return Ok(());
        };
        services.account.issue(record.user.id, Purpose::Reset, email.as_str(), services.lifecycle.password_reset_ttl).await?;
        log::info!(target: "gatehouse::auth", "password reset mail queued user_id={} rid={rid}", record.user.id);
        Ok(())
    }
    .await;
    actix_web::rt::time::sleep_until((started + services.lifecycle.forgot_floor).into()).await;
    result
}

/// A reset as the client sent it. No `Debug`: it holds a password and a token.
pub struct PasswordReset {
    pub token: String,
    pub password: String,
    /// The caller's `User-Agent`, kept (bounded) with the session it starts.
    pub user_agent: Option<String>,
}

/// Sets a new password with a mailed token: the token is used up, every session of the user
/// ends, the email counts as verified (the mailbox was proven), and the caller gets a session,
/// as after a login.
pub async fn reset_password(services: &Services, rid: &RequestId, ip: IpAddr, reset: PasswordReset) -> Result<Session, ApiError> {
    let password = services.password_policy.parse_new(reset.password)?;
    let token_hash = hash_presented(&reset.token).ok_or(ApiError::InvalidAccountToken)?;
    // Security: guesses at tokens are counted per IP before any Argon2 work (and a token has
    // 256 bits: the count bounds the cost of guessing, not its odds).
    services.throttle.attempt_from(rid, Action::Redeem, ip).await?;
    let hash = services.hasher.hash(password).await?;
    let Some(user_id) = services.account.reset_password(&token_hash, &hash).await? else {
        log::info!(target: "gatehouse::auth", "password reset refused: unknown, used or expired token rid={rid}");
        return Err(ApiError::InvalidAccountToken);
    };
    services.users.forget(user_id);
    log::info!(target: "gatehouse::auth", "password reset user_id={user_id} rid={rid}");
    services.audit.record(rid, Kind::PasswordReset, Some(user_id), Some(ip));
    let meta = SessionMeta::new(ip, reset.user_agent.as_deref());
    let refresh = end_sessions(services, rid, user_id, Caller::Continues(meta)).await?.ok_or(ApiError::Internal)?;
    let record = services.users.find(Lookup::Id(user_id)).await?.ok_or(ApiError::InvalidAccountToken)?;
    services.session(record.user, refresh)
}
