//! What the account flows share: the password check a signed-in user's sensitive change needs,
//! and the one place they end a user's sessions.

use uuid::Uuid;

use super::Services;
use crate::actors::UserRecord;
use crate::actors::token_store::SessionMeta;
use crate::actors::user_repo::Lookup;
use crate::domain::Password;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::revocation::Reason;
use crate::throttle::{Account, Action};
use crate::tokens::RefreshToken;

/// Checks the password of the signed-in user `user_id` before a sensitive change.
///
/// Security: a wrong password counts against the account's login throttle (the same counter a
/// login uses), so a stolen access token cannot be used to guess the password at leisure; the
/// count comes before any Argon2 work. A user deleted since the token was signed is an invalid
/// token.
pub(super) async fn confirm_password(
    services: &Services,
    rid: &RequestId,
    user_id: Uuid,
    password: String,
) -> Result<UserRecord, ApiError> {
    let password = Password::parse_attempt(password)?;
    services.throttle.attempt_on(rid, Action::Login, Account::Existing(user_id)).await?;
    let slot = services.hasher.admit()?;
    let record = services.users.find(Lookup::Id(user_id)).await?.ok_or(ApiError::InvalidAccessToken)?;
    let verified = services.hasher.verify_admitted(slot, password, Some(record.password_hash.clone())).await?;
    if !verified.matches {
        log::info!(target: "gatehouse::auth", "password check failed user_id={user_id} rid={rid}");
        return Err(ApiError::InvalidCredentials);
    }
    Ok(record)
}

/// Whether the caller keeps a session once the user's sessions end.
#[derive(Debug, Clone)]
pub(super) enum Caller {
    /// The caller gets a fresh session (password change, reset), described by this.
    Continues(SessionMeta),
    /// No session survives (account deletion).
    Leaves,
}

/// Ends every session of `user_id`, on every replica: the one place the account flows do it.
///
/// Security: after a password change or reset, no session that knew the old password lives on,
/// the caller's own included (it continues in a fresh one); access tokens issued before are
/// refused everywhere (`SESSION_REVOKED`), not left to expire. A deletion also refuses any
/// token issued in the current second, since the account can no longer start a session.
pub(super) async fn end_sessions(
    services: &Services,
    rid: &RequestId,
    user_id: Uuid,
    caller: Caller,
) -> Result<Option<RefreshToken>, ApiError> {
    let ended = services.tokens.end(user_id, None).await?;
    log::info!(target: "gatehouse::auth", "sessions ended user_id={user_id} count={} rid={rid}", ended.len());
    match caller {
        Caller::Continues(meta) => {
            services.revocations.all_ended(rid, user_id, &ended, Reason::Ended).await;
            Ok(Some(services.tokens.issue(user_id, meta).await?.token))
        }
        Caller::Leaves => {
            services.revocations.account_closed(rid, user_id, &ended, Reason::Deleted).await;
            Ok(None)
        }
    }
}
