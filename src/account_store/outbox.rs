//! The mail outbox as the mail worker sees it: claim a due message, then mark it sent (deleted),
//! due again later, or given up.
//!
//! Reliability: a claim pushes the message's `next_attempt_at` a lease ahead, in one statement
//! (on PostgreSQL over `FOR UPDATE SKIP LOCKED`, so replicas polling at once take different
//! rows and never wait on each other). No other worker takes it while the lease runs, so two
//! replicas never send one message twice; a worker that dies mid-send leaves it to be claimed
//! again once the lease ends, so a crash loses nothing. The lease outlasts a send's timeout.

use std::time::Duration;

use uuid::Uuid;

use super::{AccountStore, UuidColumn, now_ms, on_engine};
use crate::error::ApiError;
use crate::mail::Kind;

/// A message claimed for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub token_id: Option<Uuid>,
    pub recipient: String,
    pub kind: Kind,
    pub detail: Option<String>,
    /// This attempt's number, from 1.
    pub attempt: u32,
}

/// How far behind the outbox is: messages waiting (given-up ones apart), the oldest one's age.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxDepth {
    pub waiting: i64,
    pub oldest_age: Duration,
    pub given_up: i64,
}

const CLAIM_POSTGRES: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id = (SELECT id FROM mail_outbox WHERE given_up_at IS NULL AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING id, token_id, recipient, kind, detail, attempts";
// SQLite has one writer at a time: the statement is atomic as it stands (one process only).
const CLAIM_SQLITE: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id = (SELECT id FROM mail_outbox WHERE given_up_at IS NULL AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at LIMIT 1) \
     RETURNING id, token_id, recipient, kind, detail, attempts";
const DEPTH: &str = "SELECT COUNT(*) FILTER (WHERE given_up_at IS NULL), \
     COALESCE(MIN(created_at) FILTER (WHERE given_up_at IS NULL), 0), COUNT(*) FILTER (WHERE given_up_at IS NOT NULL) FROM mail_outbox";

impl AccountStore {
    /// Claims the most overdue message for `lease`; `None` when nothing is due.
    pub async fn claim(&self, lease: Duration) -> Result<Option<Claimed>, ApiError> {
        let now = now_ms();
        let until = now + lease.as_millis() as i64;
        self.run(async {
            macro_rules! read {
                ($row:expr) => {{
                    let row = $row;
                    let kind: String = sqlx::Row::try_get(&row, "kind")?;
                    let attempts: i32 = sqlx::Row::try_get(&row, "attempts")?;
                    Claimed {
                        id: row.uuid("id")?,
                        token_id: row.uuid_opt("token_id")?,
                        recipient: sqlx::Row::try_get(&row, "recipient")?,
                        kind: Kind::parse(&kind).ok_or_else(|| sqlx::Error::Decode(format!("unknown mail kind {kind}").into()))?,
                        detail: sqlx::Row::try_get(&row, "detail")?,
                        attempt: attempts.max(1) as u32,
                    }
                }};
            }
            match &self.store {
                crate::actors::user_repo::UserStore::Postgres(pool) => {
                    let row = sqlx::query(CLAIM_POSTGRES).bind(now).bind(until).fetch_optional(pool).await?;
                    Ok(match row {
                        Some(row) => Some(read!(row)),
                        None => None,
                    })
                }
                crate::actors::user_repo::UserStore::Sqlite(pool) => {
                    let row = sqlx::query(CLAIM_SQLITE).bind(now).bind(until).fetch_optional(pool).await?;
                    Ok(match row {
                        Some(row) => Some(read!(row)),
                        None => None,
                    })
                }
            }
        })
        .await
    }

    /// The message went out: it leaves the outbox.
    pub async fn delivered(&self, mail_id: Uuid) -> Result<(), ApiError> {
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                sqlx::query("DELETE FROM mail_outbox WHERE id = $1").bind(id(mail_id)).execute(pool).await.map(drop)
            })
        })
        .await
    }

    /// The attempt failed: due again after `delay`.
    pub async fn retry_later(&self, mail_id: Uuid, delay: Duration) -> Result<(), ApiError> {
        let at = now_ms() + delay.as_millis() as i64;
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                sqlx::query("UPDATE mail_outbox SET next_attempt_at = $2 WHERE id = $1")
                    .bind(id(mail_id))
                    .bind(at)
                    .execute(pool)
                    .await
                    .map(drop)
            })
        })
        .await
    }

    /// The attempts ran out: kept, marked, never tried again.
    pub async fn give_up(&self, mail_id: Uuid) -> Result<(), ApiError> {
        let now = now_ms();
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                sqlx::query("UPDATE mail_outbox SET given_up_at = $2 WHERE id = $1")
                    .bind(id(mail_id))
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(drop)
            })
        })
        .await
    }

    pub async fn depth(&self) -> Result<OutboxDepth, ApiError> {
        let now = now_ms();
        let (waiting, oldest, given_up): (i64, i64, i64) =
            self.run(async { on_engine!(&self.store, |pool, _id| sqlx::query_as(DEPTH).fetch_one(pool).await) }).await?;
        let oldest_age = if waiting > 0 { Duration::from_millis((now - oldest).max(0) as u64) } else { Duration::ZERO };
        Ok(OutboxDepth { waiting, oldest_age, given_up })
    }
}
