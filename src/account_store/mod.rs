//! `AccountStore`: the account lifecycle's tables (single-use tokens, the mail outbox) and the
//! changes to `users` that go with them, each in one transaction.
//!
//! It talks to the user repository's pool directly, with a timeout per call, rather than through
//! an actor: it holds no state of its own, and the pool is already shared by every worker. The
//! SQL text is shared by both engines (`$n` placeholders, times as Unix milliseconds); only how
//! an id is bound and read differs (`on_engine!`).

mod outbox;
mod tokens;

use std::future::Future;
use std::time::Duration;

use sqlx::Row as _;
use uuid::Uuid;

use crate::actors::user_repo::{Schema, UserStore, db_error};
use crate::error::{ApiError, Dependency};
use crate::tokens::AccountTokenKey;

pub use outbox::{Claimed, OutboxDepth};
pub use tokens::{Purpose, Verified};

/// Runs `$body` on the engine's pool, with `$id` turning a `Uuid` into what that engine binds.
macro_rules! on_engine {
    ($store:expr, |$pool:ident, $id:ident| $body:expr) => {
        match $store {
            crate::actors::user_repo::UserStore::Postgres($pool) => {
                let $id = |u: uuid::Uuid| u;
                $body
            }
            crate::actors::user_repo::UserStore::Sqlite($pool) => {
                let $id = |u: uuid::Uuid| u.to_string();
                $body
            }
        }
    };
}
pub(crate) use on_engine;

/// Reads a UUID column: native in PostgreSQL, TEXT in SQLite.
pub(crate) trait UuidColumn {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error>;
    fn uuid_opt(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error>;
}

impl UuidColumn for sqlx::postgres::PgRow {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        self.try_get(column)
    }
    fn uuid_opt(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.try_get(column)
    }
}

impl UuidColumn for sqlx::sqlite::SqliteRow {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        self.uuid_opt(column)?.ok_or_else(|| sqlx::Error::Decode(format!("{column} is NULL").into()))
    }
    fn uuid_opt(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        let text: Option<String> = self.try_get(column)?;
        text.map(|t| t.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
    }
}

/// Now, as the tables keep time: Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The handle the flows and the mail worker hold. Cheap to clone.
#[derive(Clone)]
pub struct AccountStore {
    store: UserStore,
    schema: Schema,
    timeout: Duration,
    key: AccountTokenKey,
}

impl AccountStore {
    pub fn new(store: UserStore, schema: Schema, timeout: Duration, key: AccountTokenKey) -> AccountStore {
        AccountStore { store, schema, timeout, key }
    }

    pub fn key(&self) -> &AccountTokenKey {
        &self.key
    }

    /// Runs one database call: the schema gate first, the timeout around it, driver errors
    /// mapped like the user repository's.
    async fn run<T>(&self, call: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, ApiError> {
        self.schema.check()?;
        match crate::timeout::within(self.timeout, call).await {
            Ok(result) => result.map_err(db_error),
            Err(_) => {
                log::warn!("account store: the database did not answer within {:?}", self.timeout);
                Err(ApiError::Unavailable(Dependency::Database))
            }
        }
    }
}
