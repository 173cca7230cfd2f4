//! Revocation of access tokens: when a session ends, its access tokens are refused with
//! `401 SESSION_REVOKED` on every replica, while the bearer check stays in the process.
//!
//! `Revocations` is what the flows use: `ended` records the end of sessions in this process's
//! `RevocationTable` at once and, with Redis, in the shared record (`record.lua`: sorted sets,
//! `RECORD_SHARDS` of them, each kept for one window) and on the revocation channel, in one
//! script. On a Redis Cluster the channel is the cluster's: a message published on any node
//! reaches the subscribers of every node. Every replica's
//! `RevocationListener` (`listener.rs`) feeds its table from that channel and replays the record
//! whenever it (re)subscribes. The embedded store has one process: its table is the whole truth.

mod listener;
mod table;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis::Script;
use uuid::Uuid;

pub use listener::{ListenerSettings, RevocationListener};
pub use table::{Refusal, Revocation, RevocationTable};

use crate::actors::redis_pool::RedisPool;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::tokens::Subject;

/// How many keys the record is spread over, so that no one key (nor, on a cluster, one node)
/// takes every session end.
pub const RECORD_SHARDS: u8 = 16;

/// The Redis key of one shard of the record, under the key prefix (each shard its own hash
/// slot), and the name of the channel.
pub fn record_key(prefix: &str, shard: u8) -> String {
    format!("{prefix}{{revoked.{shard:x}}}")
}

pub fn channel(prefix: &str) -> String {
    format!("{prefix}revocations")
}

/// Why sessions ended: the label of `gatehouse_revocations_published_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Logout,
    LogoutAll,
    Ended,
    Reuse,
    Replaced,
    /// An operator disabled the account.
    Disabled,
    /// An operator deleted the account.
    Deleted,
    /// An operator ended the user's sessions.
    Admin,
    /// An operator retired a signing key at once.
    KeyRetired,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Logout => "logout",
            Reason::LogoutAll => "logout_all",
            Reason::Ended => "ended",
            Reason::Reuse => "reuse",
            Reason::Replaced => "replaced",
            Reason::Disabled => "disabled",
            Reason::Deleted => "deleted",
            Reason::Admin => "admin",
            Reason::KeyRetired => "key_retired",
        }
    }
}

/// The flows' handle: the table, and where revocations are published.
#[derive(Clone)]
pub struct Revocations {
    table: Arc<RevocationTable>,
    shared: Option<Arc<Shared>>,
}

/// The Redis record and channel.
struct Shared {
    pool: RedisPool,
    script: Script,
    channel: String,
    /// Publications waiting to be tried again, at most `RETRIES_WAITING`.
    waiting: AtomicUsize,
}

/// Publications a worker keeps trying again at once, at most: each is a few hundred bytes and a
/// task; a Redis away for long enough to fill them fails the rest at once (and says so).
const RETRIES_WAITING: usize = 10_000;

/// The first wait before a failed publication is tried again; it doubles up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

impl Revocations {
    /// Revocations that stay in this process: the embedded store.
    pub fn local(table: Arc<RevocationTable>) -> Revocations {
        Revocations { table, shared: None }
    }

    /// Revocations shared over Redis, through `pool` (an HTTP worker's own).
    pub fn shared(table: Arc<RevocationTable>, pool: RedisPool) -> Revocations {
        let prefix = pool.prefix().to_string();
        let shared =
            Shared { pool, script: Script::new(include_str!("record.lua")), channel: channel(&prefix), waiting: AtomicUsize::new(0) };
        Revocations { table, shared: Some(Arc::new(shared)) }
    }

    pub fn table(&self) -> &Arc<RevocationTable> {
        &self.table
    }

    /// Whether a verified access token may pass (see `RevocationTable::check`).
    pub fn check(&self, subject: &Subject) -> Result<(), ApiError> {
        self.table.check(subject.sid, subject.sub, subject.iat, || chrono::Utc::now().timestamp_millis()).map_err(|refusal| match refusal {
            Refusal::Revoked => ApiError::SessionRevoked,
            Refusal::Unknown => ApiError::Unavailable(crate::error::Dependency::TokenStore),
        })
    }

    /// The sessions `sids` of `user_id` have ended (the store already forgot them): their
    /// access tokens are refused here at once and, once published, on every replica.
    ///
    /// Reliability: the store's change is the truth and has happened; a failure to publish is
    /// not answered with an error (a retry would find nothing left to end). The publication is
    /// tried again in the background, with a backoff, until Redis takes it or the access tokens
    /// have expired; the other replicas accept those tokens meanwhile. Each failed attempt is
    /// logged and counted; one given up (the window passed, too many waiting, or the process
    /// exits) leaves them accepted until they expire, as before sessions were revocable:
    /// `GatehouseRevocationPublishFailing` alerts on it.
    pub async fn ended(&self, rid: &RequestId, user_id: Uuid, sids: &[String], reason: Reason) {
        if sids.is_empty() {
            return;
        }
        let revocations: Vec<Revocation> = sids.iter().map(|sid| Revocation::Session(sid.clone())).collect();
        self.publish(rid, Some(user_id), &revocations, reason).await;
    }

    /// Every session of `user_id` has ended: the sessions `sids`, and every access token of
    /// theirs issued in an earlier second than now. The second covers sessions this call did not
    /// see: one ended by an earlier attempt that timed out after Redis did the work, or one
    /// started concurrently. A token signed within the current second is not covered (`iat` has
    /// whole seconds), so a login right after a logout everywhere works at once.
    pub async fn all_ended(&self, rid: &RequestId, user_id: Uuid, sids: &[String], reason: Reason) {
        let before = chrono::Utc::now().timestamp();
        let revocations: Vec<Revocation> =
            sids.iter().map(|sid| Revocation::Session(sid.clone())).chain([Revocation::UserBefore(user_id, before)]).collect();
        self.publish(rid, Some(user_id), &revocations, reason).await;
    }

    /// The account is closed (disabled or deleted): its sessions `sids`, and every access token
    /// of the user issued up to and including the current second. No new session can start
    /// meanwhile (the account cannot log in), so nothing legitimate is caught by the second.
    pub async fn account_closed(&self, rid: &RequestId, user_id: Uuid, sids: &[String], reason: Reason) {
        let before = chrono::Utc::now().timestamp() + 1;
        let revocations: Vec<Revocation> =
            sids.iter().map(|sid| Revocation::Session(sid.clone())).chain([Revocation::UserBefore(user_id, before)]).collect();
        self.publish(rid, Some(user_id), &revocations, reason).await;
    }

    /// A session that is no longer in the store, presented with a token this service issued for
    /// it: its end is published again. Its end may have happened in a call whose answer was lost
    /// (a timeout after Redis did the work), whose publication never happened.
    pub async fn ended_earlier(&self, rid: &RequestId, sid: String, reason: Reason) {
        self.publish(rid, None, &[Revocation::Session(sid)], reason).await;
    }

    /// An operator retired the signing key `kid` at once (this replica has reloaded its keys):
    /// every other replica reloads its keys when it hears of it, rather than at its next
    /// scheduled reload, so the tokens the key signed are refused everywhere within the
    /// propagation of a revocation.
    pub async fn key_retired(&self, rid: &RequestId, kid: &str) {
        self.publish(rid, None, &[Revocation::KeyRetired(kid.to_string())], Reason::KeyRetired).await;
    }

    async fn publish(&self, rid: &RequestId, user_id: Option<Uuid>, revocations: &[Revocation], reason: Reason) {
        let now = chrono::Utc::now().timestamp();
        for r in revocations {
            self.table.apply(r, now);
        }
        crate::metrics::sessions::revocations_published(reason.label(), revocations.len());
        let user = user_id.map_or_else(|| "unknown".to_string(), |u| u.to_string());
        log::info!(target: "gatehouse::auth", "sessions revoked user_id={user} count={} reason={} rid={rid}", revocations.len(), reason.label());
        let Some(shared) = &self.shared else {
            // The embedded store's channel is this process: delivered as soon as made.
            for _ in revocations {
                crate::metrics::sessions::revocation_received(0.0);
            }
            return;
        };
        let window = self.table.window();
        let encoded: Vec<String> = revocations.iter().map(Revocation::encode).collect();
        if let Err(e) = shared.record(window, &encoded).await {
            crate::metrics::sessions::revocation_publish_failed("retried");
            log::warn!(target: "gatehouse::auth", "revocation not yet published to other replicas user_id={user}: {e}; trying again rid={rid}");
            shared.clone().try_again(window, encoded, format!("user_id={user} rid={rid}"));
        }
    }
}

impl Shared {
    /// Records `encoded` revocations for one window and publishes them, in one script.
    async fn record(&self, window: Duration, encoded: &[String]) -> Result<i64, ApiError> {
        // Any shard will do: the listeners replay them all.
        let key = record_key(self.pool.prefix(), rand::random::<u8>() % RECORD_SHARDS);
        self.pool
            .with_conn(async |c| {
                let mut call = self.script.key(&key);
                call.arg(&self.channel).arg(window.as_millis() as u64);
                for r in encoded {
                    call.arg(r);
                }
                call.invoke_async::<i64>(c).await
            })
            .await
    }

    /// Publishes `encoded` in the background, with a backoff, until Redis takes it or the window
    /// (the access tokens' lifetime) has passed. Publishing twice is harmless: applying a
    /// revocation again changes nothing.
    fn try_again(self: Arc<Self>, window: Duration, encoded: Vec<String>, about: String) {
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= RETRIES_WAITING {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            crate::metrics::sessions::revocation_publish_failed("given_up");
            log::error!(target: "gatehouse::auth", "revocation not published to other replicas {about}: too many waiting to be tried again");
            return;
        }
        let deadline = Instant::now() + window;
        tokio::spawn(async move {
            let mut wait = RETRY_FIRST;
            loop {
                tokio::time::sleep(wait).await;
                if Instant::now() >= deadline {
                    crate::metrics::sessions::revocation_publish_failed("given_up");
                    log::error!(target: "gatehouse::auth", "revocation not published to other replicas {about}: Redis did not take it within the window");
                    break;
                }
                match self.record(window, &encoded).await {
                    Ok(_) => {
                        log::warn!(target: "gatehouse::auth", "revocation published to other replicas after a retry {about}");
                        break;
                    }
                    Err(_) => crate::metrics::sessions::revocation_publish_failed("retried"),
                }
                wait = (wait * 2).min(RETRY_MAX);
            }
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
