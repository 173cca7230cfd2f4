//! The email flows: verify (with the mailed token), resend a verification, change the address.

use std::net::IpAddr;

use uuid::Uuid;

use super::Services;
use super::account::confirm_password;
use crate::account_store::Purpose;
use crate::actors::User;
use crate::actors::user_repo::Lookup;
use crate::domain::Email;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::throttle::{Account, Action};
use crate::tokens::account::hash_presented;

/// Proves an address with a mailed token: it becomes the account's email, verified (the old
/// address, if it changed, is told). Answers the user as it now is.
pub async fn verify_email(services: &Services, rid: &RequestId, ip: IpAddr, token: String) -> Result<User, ApiError> {
    let token_hash = hash_presented(&token).ok_or(ApiError::InvalidAccountToken)?;
    services.throttle.attempt_from(rid, Action::Redeem, ip).await?;
    let Some(verified) = services.account.verify_email(&token_hash).await? else {
        log::info!(target: "gatehouse::auth", "email verification refused: unknown, used or expired token rid={rid}");
        return Err(ApiError::InvalidAccountToken);
    };
    services.users.forget(verified.user_id);
    let changed = if verified.previous.is_some() { " (changed)" } else { "" };
    log::info!(target: "gatehouse::auth", "email verified{changed} user_id={} rid={rid}", verified.user_id);
    if verified.previous.is_some() {
        services.audit.record(rid, crate::audit::Kind::EmailChanged, Some(verified.user_id), Some(ip));
    }
    let record = services.users.find(Lookup::Id(verified.user_id)).await?.ok_or(ApiError::InvalidAccountToken)?;
    Ok(record.user)
}

/// Queues a new verification mail to the signed-in user's address: `false` when there is
/// nothing to verify (no address, or already verified).
pub async fn resend_verification(services: &Services, rid: &RequestId, user_id: Uuid) -> Result<bool, ApiError> {
    services.throttle.attempt_on(rid, Action::Mail, Account::Existing(user_id)).await?;
    let record = services.users.find(Lookup::Id(user_id)).await?.ok_or(ApiError::InvalidAccessToken)?;
    let Some(email) = record.user.email.filter(|_| !record.user.email_verified) else { return Ok(false) };
    services.account.issue(user_id, Purpose::Verify, &email, services.lifecycle.email_verify_ttl).await?;
    log::info!(target: "gatehouse::auth", "verification mail queued user_id={user_id} rid={rid}");
    Ok(true)
}

/// An email change as the client sent it. No `Debug`: it holds a password.
pub struct EmailChange {
    pub password: String,
    pub email: String,
}

/// Starts an email change: with the password checked, a verification mail goes to the new
/// address; the account's email changes only when that link is followed.
pub async fn change_email(services: &Services, rid: &RequestId, user_id: Uuid, change: EmailChange) -> Result<(), ApiError> {
    let email = Email::parse(&change.email)?;
    services.throttle.attempt_on(rid, Action::Mail, Account::Existing(user_id)).await?;
    let record = confirm_password(services, rid, user_id, change.password).await?;
    // Told now rather than when the link is followed; the unique index still decides then.
    if let Some(other) = services.users.find(Lookup::Email(email.as_str().to_string())).await?
        && other.user.id != user_id
    {
        return Err(ApiError::EmailTaken);
    }
    if record.user.email_verified && record.user.email.as_deref() == Some(email.as_str()) {
        return Ok(());
    }
    services.account.issue(user_id, Purpose::Verify, email.as_str(), services.lifecycle.email_verify_ttl).await?;
    log::info!(target: "gatehouse::auth", "email change asked, verification mail queued user_id={user_id} rid={rid}");
    Ok(())
}

/// Queues the verification mail of a new account. A failure is logged, not answered: the
/// account exists, and `/auth/email/resend` sends another.
pub(super) async fn welcome(services: &Services, rid: &RequestId, user: &User) {
    let Some(email) = &user.email else { return };
    if let Err(e) = services.account.issue(user.id, Purpose::Verify, email, services.lifecycle.email_verify_ttl).await {
        log::warn!(target: "gatehouse::auth", "verification mail not queued user_id={}: {e} rid={rid}", user.id);
    }
}
