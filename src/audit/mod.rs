//! The audit trail: every admin action and security event (logins and their failures, refresh
//! reuse, logouts, sessions ended, accounts disabled, enabled or deleted) becomes a row of
//! `audit_events`. Flows hand events to `AuditLog::record`, which never waits: the event goes
//! into a bounded queue that the `AuditWorker` (`worker.rs`) writes in batches, off the request
//! path, and prunes after `AUDIT_RETENTION_DAYS`. Never a secret in it: an event is a kind, a
//! user id, who acted, the client IP and the request id.

mod store;
mod worker;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::Actor;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use store::{EventRow, events, insert, prune};
use worker::AuditWorker;
pub use worker::flush_batch;

use crate::actors::user_repo::{Schema, UserStore};
use crate::error::ApiError;
use crate::middleware::RequestId;

/// Events the queue holds at most; past it an event is dropped and counted (the request never
/// waits for the audit trail).
pub const QUEUE: usize = 10_000;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginSucceeded,
    LoginFailed,
    LoginRefusedDisabled,
    RefreshReuse,
    Logout,
    LogoutAll,
    SessionEnded,
    AccountDisabled,
    AccountEnabled,
    SessionsEndedByAdmin,
    UserDeleted,
    PasswordChanged,
    PasswordReset,
    EmailChanged,
    AccountDeleted,
    KeyRotated,
    KeyRetired,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::LoginSucceeded => "login_succeeded",
            Kind::LoginFailed => "login_failed",
            Kind::LoginRefusedDisabled => "login_refused_disabled",
            Kind::RefreshReuse => "refresh_reuse",
            Kind::Logout => "logout",
            Kind::LogoutAll => "logout_all",
            Kind::SessionEnded => "session_ended",
            Kind::AccountDisabled => "account_disabled",
            Kind::AccountEnabled => "account_enabled",
            Kind::SessionsEndedByAdmin => "sessions_ended_by_admin",
            Kind::UserDeleted => "user_deleted",
            Kind::PasswordChanged => "password_changed",
            Kind::PasswordReset => "password_reset",
            Kind::EmailChanged => "email_changed",
            Kind::AccountDeleted => "account_deleted",
            Kind::KeyRotated => "key_rotated",
            Kind::KeyRetired => "key_retired",
        }
    }

    /// Who acted: the user themselves, an operator through the admin API, or the service.
    fn actor(self) -> &'static str {
        match self {
            Kind::AccountDisabled
            | Kind::AccountEnabled
            | Kind::SessionsEndedByAdmin
            | Kind::UserDeleted
            | Kind::KeyRotated
            | Kind::KeyRetired => "admin",
            Kind::RefreshReuse => "service",
            _ => "user",
        }
    }
}

/// One event, as the flows make it.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub ip: Option<IpAddr>,
    pub request_id: String,
}

/// One event as the admin API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Increasing with time: the cursor of the next page is the last event's.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// What happened: `login_succeeded`, `login_failed`, `refresh_reuse`, `account_disabled`, ...
    /// (the administration guide lists every kind).
    #[schema(example = "login_succeeded")]
    pub kind: String,
    /// The user the event is about, when there is one.
    pub user_id: Option<Uuid>,
    /// Who acted: `user`, `admin` or `service`.
    pub actor: String,
    /// The client's IP, where the flow knows it.
    pub ip: Option<String>,
    /// The `x-request-id` of the request that made it.
    pub request_id: Option<String>,
}

/// The flows' handle: a sender into the worker's queue, and the store to read from.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Event>,
    store: Arc<UserStore>,
    progress: Arc<Progress>,
}

/// How many events were queued, and how many of them the writer is done with (written, or
/// dropped with a failed batch): a stopping process waits for the two to meet.
#[derive(Default)]
pub struct Progress {
    queued: AtomicU64,
    settled: AtomicU64,
}

impl Progress {
    /// The writer is done with `n` more events.
    fn settled(&self, n: usize) {
        self.settled.fetch_add(n as u64, Ordering::AcqRel);
    }

    fn pending(&self) -> u64 {
        let settled = self.settled.load(Ordering::Acquire);
        self.queued.load(Ordering::Acquire).saturating_sub(settled)
    }
}

impl AuditLog {
    /// The process's audit trail: its bounded queue, and the writer that drains it, started on
    /// the current arbiter.
    pub fn start(store: UserStore, schema: Schema, retention: Duration) -> AuditLog {
        let (queue, events) = mpsc::channel(QUEUE);
        let progress = Arc::new(Progress::default());
        AuditWorker::new(events, store.clone(), schema, retention, progress.clone()).start();
        AuditLog { queue, store: Arc::new(store), progress }
    }

    /// Queues an event; never waits. Reliability: a full queue (the database far behind) drops
    /// the event and counts it, rather than slow a login down.
    pub fn record(&self, rid: &RequestId, kind: Kind, user_id: Option<Uuid>, ip: Option<IpAddr>) {
        let event = Event { at: Utc::now(), kind, user_id, ip, request_id: rid.0.clone() };
        // Counted before the send, so the writer can never be seen done with an event not yet
        // counted as queued.
        self.progress.queued.fetch_add(1, Ordering::AcqRel);
        match self.queue.try_send(event) {
            Ok(()) => crate::metrics::sessions::audit_queue(QUEUE - self.queue.capacity()),
            Err(_) => {
                self.progress.queued.fetch_sub(1, Ordering::AcqRel);
                crate::metrics::sessions::audit_failed("dropped", 1);
                log::warn!(target: "gatehouse::audit", "audit queue full: a {} event was dropped rid={rid}", kind.label());
            }
        }
    }

    /// Waits until the writer is done with every event queued so far, `within` at most; `false`
    /// if some were still waiting then. Reliability: called once the HTTP server has stopped, so
    /// the events of its last requests are written before the process ends.
    pub async fn settle(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.progress.pending() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// The newest events first, of one user or of all, before the event `cursor`.
    pub async fn events(&self, user_id: Option<Uuid>, limit: u32, cursor: Option<i64>) -> Result<Vec<AuditEvent>, ApiError> {
        events(&self.store, user_id, limit, cursor).await.map_err(|e| {
            log::error!(target: "gatehouse::audit", "reading the audit trail failed: {e}");
            ApiError::Unavailable(crate::error::Dependency::Database)
        })
    }
}
