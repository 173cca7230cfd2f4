//! Single-use tokens and the account changes they allow: issued with their mail in one
//! transaction, consumed (deleted) in the transaction that makes their change.

use std::time::Duration;

use sqlx::Row as _;
use uuid::Uuid;

use super::{AccountStore, UuidColumn, now_ms, on_engine};
use crate::error::ApiError;
use crate::mail::Kind;
use crate::tokens::account::hash_of;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Verify => "verify",
        }
    }

    fn mail(self) -> Kind {
        match self {
            Purpose::Reset => Kind::PasswordReset,
            Purpose::Verify => Kind::VerifyEmail,
        }
    }
}

/// An email just proven: the user, the address, and the one it replaced (when it changed).
#[derive(Debug)]
pub struct Verified {
    pub user_id: Uuid,
    pub email: String,
    pub previous: Option<String>,
}

const VOID: &str = "DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2";
const INSERT_TOKEN: &str =
    "INSERT INTO account_tokens (id, user_id, purpose, email, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(super) const INSERT_MAIL: &str = "INSERT INTO mail_outbox (id, user_id, token_id, recipient, kind, detail, attempts, next_attempt_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)";
const CONSUME: &str = "DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2 RETURNING user_id, email, expires_at";
const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2, \
     email_verified = CASE WHEN lower(email) = lower($3) THEN true ELSE email_verified END WHERE id = $1";
const SET_EMAIL: &str = "UPDATE users SET email = $2, email_verified = true WHERE id = $1";
const EMAIL_OF: &str = "SELECT email FROM users WHERE id = $1";

impl AccountStore {
    /// Stores a new token of `purpose` for `user_id`, sent to `email`, and queues its mail, in
    /// one transaction: a crash leaves both or neither. Older tokens of the same purpose (and
    /// their mail, if still queued) are voided in the same step.
    pub async fn issue(&self, user_id: Uuid, purpose: Purpose, email: &str, ttl: Duration) -> Result<(), ApiError> {
        let (token_id, mail_id, now) = (Uuid::new_v4(), Uuid::now_v7(), now_ms());
        let token_hash = hash_of(&self.key.token(token_id));
        let expires_at = now + ttl.as_millis() as i64;
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                let mut tx = pool.begin().await?;
                sqlx::query(VOID).bind(id(user_id)).bind(purpose.as_str()).execute(&mut *tx).await?;
                sqlx::query(INSERT_TOKEN)
                    .bind(id(token_id))
                    .bind(id(user_id))
                    .bind(purpose.as_str())
                    .bind(email)
                    .bind(&token_hash)
                    .bind(expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT_MAIL)
                    .bind(id(mail_id))
                    .bind(id(user_id))
                    .bind(id(token_id))
                    .bind(email)
                    .bind(purpose.mail().as_str())
                    .bind(None::<String>)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            })
        })
        .await?;
        crate::metrics::mail::queued(purpose.mail());
        Ok(())
    }

    /// Queues a mail that carries no token (a notice).
    pub async fn notify(&self, user_id: Uuid, kind: Kind, recipient: &str, detail: &str) -> Result<(), ApiError> {
        let (mail_id, now) = (Uuid::now_v7(), now_ms());
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                sqlx::query(INSERT_MAIL)
                    .bind(id(mail_id))
                    .bind(id(user_id))
                    // No token: a NULL of the engine's id type (PostgreSQL refuses a text NULL for a uuid).
                    .bind(None::<Uuid>.map(id))
                    .bind(recipient)
                    .bind(kind.as_str())
                    .bind(detail)
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(drop)
            })
        })
        .await?;
        crate::metrics::mail::queued(kind);
        Ok(())
    }

    /// Uses a reset token: sets the password, marks the email verified when the token was sent
    /// to the address the account still has (the mailbox was proven), and voids every other
    /// reset token of the user, in one transaction. `None`: no such live token.
    pub async fn reset_password(&self, token_hash: &str, password_hash: &str) -> Result<Option<Uuid>, ApiError> {
        let now = now_ms();
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                let mut tx = pool.begin().await?;
                let Some(row) = sqlx::query(CONSUME).bind(token_hash).bind("reset").fetch_optional(&mut *tx).await? else {
                    return Ok(None);
                };
                let (user_id, email, expires_at): (Uuid, String, i64) =
                    (row.uuid("user_id")?, row.try_get("email")?, row.try_get("expires_at")?);
                if expires_at <= now {
                    // Security: an expired token is deleted when presented, and refused like an unknown one.
                    tx.commit().await?;
                    return Ok(None);
                }
                sqlx::query(SET_PASSWORD).bind(id(user_id)).bind(password_hash).bind(&email).execute(&mut *tx).await?;
                sqlx::query(VOID).bind(id(user_id)).bind("reset").execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(user_id))
            })
        })
        .await
    }

    /// Uses a verification token: the account's email becomes the address it was sent to,
    /// verified. When that replaces another address, the old one is told (a notice queued in
    /// the same transaction) and pending resets to it are voided. `None`: no such live token.
    pub async fn verify_email(&self, token_hash: &str) -> Result<Option<Verified>, ApiError> {
        let now = now_ms();
        let verified = self
            .run(async {
                on_engine!(&self.store, |pool, id| {
                    let mut tx = pool.begin().await?;
                    let Some(row) = sqlx::query(CONSUME).bind(token_hash).bind("verify").fetch_optional(&mut *tx).await? else {
                        return Ok(None);
                    };
                    let (user_id, email, expires_at): (Uuid, String, i64) =
                        (row.uuid("user_id")?, row.try_get("email")?, row.try_get("expires_at")?);
                    if expires_at <= now {
                        tx.commit().await?;
                        return Ok(None);
                    }
                    let previous: Option<String> = sqlx::query_scalar(EMAIL_OF).bind(id(user_id)).fetch_one(&mut *tx).await?;
                    sqlx::query(SET_EMAIL).bind(id(user_id)).bind(&email).execute(&mut *tx).await?;
                    let previous = previous.filter(|p| !p.eq_ignore_ascii_case(&email));
                    if let Some(previous) = &previous {
                        sqlx::query(VOID).bind(id(user_id)).bind("reset").execute(&mut *tx).await?;
                        sqlx::query(INSERT_MAIL)
                            .bind(id(Uuid::now_v7()))
                            .bind(id(user_id))
                            .bind(None::<Uuid>.map(id))
                            .bind(previous)
                            .bind(Kind::EmailChanged.as_str())
                            .bind(&email)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(Some(Verified { user_id, email, previous }))
                })
            })
            .await?;
        if verified.as_ref().is_some_and(|v| v.previous.is_some()) {
            crate::metrics::mail::queued(Kind::EmailChanged);
        }
        Ok(verified)
    }

    /// A password changed by its owner: the new hash, and every pending reset voided.
    pub async fn change_password(&self, user_id: Uuid, password_hash: &str) -> Result<(), ApiError> {
        self.run(async {
            on_engine!(&self.store, |pool, id| {
                let mut tx = pool.begin().await?;
                sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                    .bind(id(user_id))
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(VOID).bind(id(user_id)).bind("reset").execute(&mut *tx).await?;
                tx.commit().await
            })
        })
        .await
    }
}
