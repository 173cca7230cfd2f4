//! The administration flows behind `/admin/*` (on the management listener only): find users,
//! see one with their sessions, disable or enable an account, end its sessions, delete it. Each
//! ended session's access tokens are revoked on every replica, like a user's own logout.

mod guard;

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

pub use guard::{AdminCaller, AdminToken};

use crate::actors::token_store::SessionInfo;
use crate::actors::user_repo::{Lookup, Search, UserRecord};
use crate::actors::{TokenStore, User, Users};
use crate::audit::{AuditEvent, AuditLog, Kind};
use crate::error::{ApiError, Dependency};
use crate::keys::{KeyError, Keys, MaintainError, PlanError};
use crate::middleware::RequestId;
use crate::revocation::{Reason, Revocations};

/// Users per page when the query does not say, and at most.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// What the admin flows use: built once per worker of the management listener.
#[derive(Clone)]
pub struct Admin {
    pub users: Users,
    pub tokens: TokenStore,
    pub revocations: Revocations,
    pub audit: AuditLog,
    /// The signing keys: rotate now, retire a key now.
    pub keys: Keys,
}

/// A user as an operator sees it: the public fields and whether the account is disabled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminUser {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
}

impl From<UserRecord> for AdminUser {
    fn from(r: UserRecord) -> AdminUser {
        AdminUser { user: r.user, disabled: r.disabled }
    }
}

/// A page of users and where the next one starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub users: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<Uuid>,
}

/// One user and their live sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserDetail {
    pub user: AdminUser,
    pub sessions: Vec<SessionInfo>,
}

impl Admin {
    /// Users whose username or email starts with `q` (case-insensitively), in creation order.
    pub async fn search(&self, q: &str, limit: u32, cursor: Option<Uuid>) -> Result<Page, ApiError> {
        // No name or email holds a NUL (and PostgreSQL refuses one in text): nobody matches.
        if q.contains('\0') {
            return Ok(Page { users: Vec::new(), next_cursor: None });
        }
        let limit = limit.clamp(1, MAX_LIMIT);
        let users: Vec<AdminUser> =
            self.users.search(Search { prefix: q.to_string(), after: cursor, limit }).await?.into_iter().map(AdminUser::from).collect();
        let next_cursor = (users.len() == limit as usize).then(|| users.last().map(|u| u.user.id)).flatten();
        Ok(Page { users, next_cursor })
    }

    async fn record(&self, id: Uuid) -> Result<UserRecord, ApiError> {
        self.users.find(Lookup::Id(id)).await?.ok_or(ApiError::UserNotFound)
    }

    pub async fn user(&self, id: Uuid) -> Result<UserDetail, ApiError> {
        let record = self.record(id).await?;
        Ok(UserDetail { sessions: self.tokens.list(id).await?, user: record.into() })
    }

    /// Disables the account and ends its sessions at once: every access token of the user issued
    /// up to now is refused, on every replica; its login gets `ACCOUNT_DISABLED`.
    pub async fn disable(&self, rid: &RequestId, id: Uuid) -> Result<AdminUser, ApiError> {
        if !self.users.set_disabled(id, true).await? {
            return Err(ApiError::UserNotFound);
        }
        let ended = self.tokens.end(id, None).await?;
        self.revocations.account_closed(rid, id, &ended, Reason::Disabled).await;
        crate::metrics::sessions::admin_action("disable");
        self.audit.record(rid, Kind::AccountDisabled, Some(id), None);
        log::info!(target: "gatehouse::admin", "account disabled user_id={id} sessions_ended={} rid={rid}", ended.len());
        Ok(self.record(id).await?.into())
    }

    pub async fn enable(&self, rid: &RequestId, id: Uuid) -> Result<AdminUser, ApiError> {
        if !self.users.set_disabled(id, false).await? {
            return Err(ApiError::UserNotFound);
        }
        crate::metrics::sessions::admin_action("enable");
        self.audit.record(rid, Kind::AccountEnabled, Some(id), None);
        log::info!(target: "gatehouse::admin", "account enabled user_id={id} rid={rid}");
        Ok(self.record(id).await?.into())
    }

    /// Ends every session of the user; how many ended.
    pub async fn end_sessions(&self, rid: &RequestId, id: Uuid) -> Result<usize, ApiError> {
        self.record(id).await?;
        let ended = self.tokens.end(id, None).await?;
        self.revocations.all_ended(rid, id, &ended, Reason::Admin).await;
        crate::metrics::sessions::admin_action("end_sessions");
        self.audit.record(rid, Kind::SessionsEndedByAdmin, Some(id), None);
        log::info!(target: "gatehouse::admin", "sessions ended by an operator user_id={id} count={} rid={rid}", ended.len());
        Ok(ended.len())
    }

    /// Deletes the user and everything they own: their sessions end first (so a failure leaves
    /// the account without sessions, not sessions without an account), then the row goes.
    pub async fn delete(&self, rid: &RequestId, id: Uuid) -> Result<(), ApiError> {
        self.record(id).await?;
        let ended = self.tokens.end(id, None).await?;
        self.revocations.account_closed(rid, id, &ended, Reason::Deleted).await;
        if !self.users.delete(id).await? {
            return Err(ApiError::UserNotFound);
        }
        crate::metrics::sessions::admin_action("delete");
        self.audit.record(rid, Kind::UserDeleted, Some(id), None);
        log::info!(target: "gatehouse::admin", "user deleted user_id={id} at={} rid={rid}", Utc::now().to_rfc3339());
        Ok(())
    }

    /// Rotates the signing keys now: the next key becomes current (a new next key is published
    /// behind it); answers the new current kid. Every replica signs with it from its next reload.
    pub async fn rotate_key(&self, rid: &RequestId) -> Result<String, ApiError> {
        let kid = self.keys.rotate_now().await.map_err(key_error)?;
        crate::metrics::sessions::admin_action("rotate_key");
        self.audit.record(rid, Kind::KeyRotated, None, None);
        log::warn!(target: "gatehouse::admin", "signing keys rotated by an operator kid={kid} rid={rid}");
        Ok(kid)
    }

    /// Retires a (compromised) key now: the tokens it signed are refused here at once, and on
    /// every other replica as soon as the revocation channel tells it (its next key reload,
    /// `SIGNING_KEY_REFRESH`, at the latest); if it was current, the next key signs.
    pub async fn retire_key(&self, rid: &RequestId, kid: &str) -> Result<(), ApiError> {
        self.keys.retire_now(kid).await.map_err(key_error)?;
        // The other replicas reload their keys when they hear of it, within milliseconds.
        self.revocations.key_retired(rid, kid).await;
        crate::metrics::sessions::admin_action("retire_key");
        self.audit.record(rid, Kind::KeyRetired, None, None);
        log::warn!(target: "gatehouse::admin", "signing key retired by an operator kid={kid} rid={rid}");
        Ok(())
    }

    /// The audit trail, newest first: of one user (`Some`), or of everyone; a page of `limit`
    /// before the event `cursor`.
    pub async fn events(&self, user_id: Option<Uuid>, limit: u32, cursor: Option<i64>) -> Result<EventPage, ApiError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let events = self.audit.events(user_id, limit, cursor).await?;
        let next_cursor = (events.len() == limit as usize).then(|| events.last().map(|e| e.id)).flatten();
        Ok(EventPage { events, next_cursor })
    }
}

/// A page of audit events and where the next (older) one starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` for the next (older) page; `null` on the last one.
    pub next_cursor: Option<i64>,
}

/// A key worker's failure as the admin API answers it: an unknown kid is a 404, the HS256 key a
/// 409; anything else is the database's (503).
fn key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::Maintain(MaintainError::Refused(PlanError::UnknownKid)) => ApiError::KeyNotFound,
        KeyError::Maintain(MaintainError::Refused(PlanError::SecretKey)) => ApiError::KeyNotRetirable,
        other => {
            log::warn!(target: "gatehouse::admin", "a key action failed: {other}");
            ApiError::Unavailable(Dependency::Database)
        }
    }
}
