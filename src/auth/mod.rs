//! The authentication flows, one file each: `register`, `login`, `refresh`, `logout` and `me`.
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

mod login;
mod logout;
mod me;
mod refresh;
mod register;
mod sessions;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::actors::{Hasher, TokenStore, User, Users};
use crate::audit::AuditLog;
use crate::domain::PasswordPolicy;
use crate::error::ApiError;
use crate::revocation::Revocations;
use crate::throttle::Throttle;
use crate::tokens::{AccessTokens, RefreshToken};

pub use login::{Credentials, login};
pub use logout::logout;
pub use me::me;
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
            log::error!("signing an access token failed: {e}");
            ApiError::Internal
        })?;
        Ok(AccessToken { token, expires_in: self.access.ttl() })
    }

    fn session(&self, user: User, refresh: RefreshToken) -> Result<Session, ApiError> {
        let access = self.access_token(user.id, &refresh.family())?;
        Ok(Session { user, refresh, access })
    }
}
