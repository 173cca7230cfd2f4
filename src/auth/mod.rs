//! The authentication flows, one file each: `register`, `login`, `refresh`, `logout` and `me`;
//! the account lifecycle in `password`, `email` and `delete_me` (what they share in `account`).
//!
//! A flow owns the ordering that keeps its operation safe (throttle before any hash, the
//! hasher admitted before the database is asked, a dummy verification for unknown users, ...)
//! and answers in domain terms: a `Session`, a rotation outcome, a user. It knows nothing of
//! HTTP: the handlers in `routes::auth` extract, make one flow call, and shape the answer
//! (envelope, status, cookies). So a test can run a flow without a server (see `tests`).
//!
//! `Services` is what the flows need: the hasher, the token store, the users, the throttle,
//! the access-token keys, the password policy and the revocations. What only HTTP needs (the refresh and device
//! cookies, the CORS origins, the trusted proxies) stays in `AppState`, next to it.
//!
//! Every flow takes the request's `RequestId` and prints it as `rid=<id>` on its auth event
//! lines, like the access log line (`middleware::request_context`), so one grep follows a
//! request from its access line to its `login failed` or `reuse detected`.

mod account;
mod delete_me;
mod email;
mod login;
mod logout;
mod me;
mod password;
mod refresh;
mod register;
mod sessions;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::account_store::AccountStore;
use crate::actors::{Hasher, TokenStore, User, Users};
use crate::audit::AuditLog;
use crate::config::AccountConfig;
use crate::domain::PasswordPolicy;
use crate::error::{ApiError, Dependency};
use crate::revocation::Revocations;
use crate::throttle::Throttle;
use crate::tokens::{AccessTokens, RefreshToken};

pub use delete_me::delete_me;
pub use email::{EmailChange, change_email, resend_verification, verify_email};
pub use login::{Credentials, login};
pub use logout::logout;
pub use me::me;
pub use password::{PasswordChange, PasswordReset, change_password, forgot, reset_password};
pub use refresh::{Refresh, refresh};
pub use register::{NewAccount, register};
pub use sessions::{end_session, logout_all, sessions};

/// What the flows work with: handles to the actors and stores, and the keys. Cheap to clone
/// (every field is a handle or an `Arc`); built once per HTTP worker, inside `AppState`.
#[derive(Clone)]
pub struct Services {
    pub hasher: Hasher,
    pub tokens: TokenStore,
    pub users: Users,
    pub throttle: Throttle,
    pub access: Arc<AccessTokens>,
    pub password_policy: PasswordPolicy,
    /// Account tokens, the outbox, and the changes to users that go with them.
    pub account: AccountStore,
    pub lifecycle: AccountConfig,
    /// Ends access tokens with their sessions, here and on every replica.
    pub revocations: Revocations,
    /// The audit trail: security events, queued for the audit worker.
    pub audit: AuditLog,
}

/// A signed access token and how long it is valid.
pub struct AccessToken {
    pub token: String,
    pub expires_in: Duration,
}

/// A session just started by a registration or a login: the user, their new refresh token
/// (already stored) and an access token. The caller hands the refresh token to the client and
/// marks the client as a device of this user.
pub struct Session {
    pub user: User,
    pub refresh: RefreshToken,
    pub access: AccessToken,
}

impl Services {
    /// Signs an access token for `user_id` in session `sid`.
    pub(crate) fn access_token(&self, user_id: Uuid, sid: &str) -> Result<AccessToken, ApiError> {
        let token = self.access.sign(user_id, sid).map_err(|e| {
            log::warn!("signing an access token failed: {e}");
            ApiError::Unavailable(Dependency::Database)
        })?;
        Ok(AccessToken { token, expires_in: self.access.ttl() })
    }

    /// Reliability: a key signs, checked before a flow stores a refresh token, so that a
    /// replica whose keys are not loaded yet (the database away since startup) answers 503
    /// without leaving a session behind that no access token came with.
    pub(crate) fn can_sign(&self) -> Result<(), ApiError> {
        if self.access.can_sign() {
            return Ok(());
        }
        log::warn!("no signing key loaded yet: the database holds the keys");
        Err(ApiError::Unavailable(Dependency::Database))
    }

    fn session(&self, user: User, refresh: RefreshToken) -> Result<Session, ApiError> {
        let access = self.access_token(user.id, &refresh.family())?;
        Ok(Session { user, refresh, access })
    }
}
