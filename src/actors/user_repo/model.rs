//! The user types: what clients see, what the login path reads, what a dialect reads and writes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A user as clients see it: never a hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    /// Whether the owner of `email` has proven it (a verification link or a password reset).
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// A user with its JSON written once, when it is read from the database: `/auth/me` answers
/// the same user for up to `USER_CACHE_TTL`, and copies these bytes instead of formatting a
/// UUID, a timestamp and escaped strings on every request.
#[derive(Debug)]
pub struct RenderedUser {
    pub user: User,
    pub json: Box<serde_json::value::RawValue>,
}

impl RenderedUser {
    pub fn new(user: User) -> RenderedUser {
        // unwrap: a `User` is plain strings, a UUID, a bool and a timestamp; it always serialises.
        let json = serde_json::value::to_raw_value(&user).unwrap();
        RenderedUser { user, json }
    }
}

/// A user with the stored password hash, for the login path only.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: Arc<str>,
    /// Disabled by an operator: no login (`ACCOUNT_DISABLED`), no session.
    pub disabled: bool,
}

/// A `users` row as a dialect reads it; only the id's type differs between engines.
#[derive(sqlx::FromRow)]
pub(super) struct Row<Id> {
    pub(super) id: Id,
    username: String,
    email: Option<String>,
    email_verified: bool,
    created_at: DateTime<Utc>,
    password_hash: String,
    disabled: bool,
}

impl<Id> Row<Id> {
    pub(super) fn into_record(self, id: Uuid) -> UserRecord {
        UserRecord {
            user: User { id, username: self.username, email: self.email, email_verified: self.email_verified, created_at: self.created_at },
            password_hash: self.password_hash.into(),
            disabled: self.disabled,
        }
    }
}

/// A row about to be inserted; both dialects store exactly these values.
pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    /// Set here rather than by the database, to the microsecond both engines keep.
    pub created_at: DateTime<Utc>,
}

/// A page of the users whose username or email starts with `prefix` (case-insensitively), in id
/// order (UUIDv7: creation order), after the user `after`.
#[derive(Debug, Clone)]
pub struct Search {
    pub prefix: String,
    pub after: Option<Uuid>,
    pub limit: u32,
}

impl Search {
    /// The prefix as a `LIKE` pattern: `%`, `_` and `\` stand for themselves (`ESCAPE '\'`).
    pub(super) fn pattern(&self) -> String {
        let mut p = String::with_capacity(self.prefix.len() + 1);
        for c in self.prefix.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        p
    }
}

/// How a login names its user.
#[derive(Debug, Clone)]
pub enum Lookup {
    Username(String),
    Email(String),
    Id(Uuid),
}
