//! `UserStore`: the pool of one engine (PostgreSQL or SQLite), its migrations, and the
//! dispatch of each operation to the dialect's SQL.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use super::{Lookup, NewUser, Search, UserRecord, postgres, sqlite};
use crate::config::Database;

/// The one seam between the repository and its engines: each operation dispatches to the
/// dialect's SQL; everything else (errors, actor, handle) is shared.
#[derive(Clone)]
pub enum UserStore {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// How long a PostgreSQL connection may sit in the pool before it is pinged again on its way out.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

const INVALID_URL: &str = "DATABASE_URL is not a valid database URL";

impl UserStore {
    /// Builds the pool without connecting, so the service can start while PostgreSQL is away;
    /// for SQLite, first creates the database file, private.
    pub fn connect_lazy(database: &Database, max_connections: u32, timeout: Duration) -> anyhow::Result<UserStore> {
        Ok(match database {
            Database::Postgres(url) => UserStore::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(timeout)
                    // Reliability: sqlx pings every connection when it goes back to the pool,
                    // and by default again when it comes out. Under load a connection comes
                    // out again within milliseconds of its last good ping, so the second ping
                    // is only a round trip: it is kept for a connection idle for longer than
                    // `PING_IDLE_AFTER`, which a restart of the server may have broken meanwhile.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for > PING_IDLE_AFTER {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_lazy(url)
                    .context(INVALID_URL)?,
            ),
            Database::Sqlite(url) => {
                let options = SqliteConnectOptions::from_str(url)
                    .context(INVALID_URL)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(timeout);
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                if !in_memory && !options.get_filename().as_os_str().is_empty() {
                    sqlite::create_private_files(options.get_filename())?;
                }
                // Each connection to `sqlite::memory:` is a separate empty database: keep one.
                let max = if in_memory { 1 } else { max_connections };
                UserStore::Sqlite(SqlitePoolOptions::new().max_connections(max).acquire_timeout(timeout).connect_lazy_with(options))
            }
        })
    }

    /// Applies the engine's migrations (embedded in the binary).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            UserStore::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
            UserStore::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await,
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            UserStore::Postgres(_) => "PostgreSQL",
            UserStore::Sqlite(_) => "SQLite",
        }
    }

    /// The pool's engine label, connections open, idle, and its maximum: for the pool gauges.
    pub fn pool_state(&self) -> (&'static str, u32, u32, u32) {
        match self {
            UserStore::Postgres(p) => ("postgres", p.size(), p.num_idle() as u32, p.options().get_max_connections()),
            UserStore::Sqlite(p) => ("sqlite", p.size(), p.num_idle() as u32, p.options().get_max_connections()),
        }
    }

    pub(super) async fn insert(&self, user: &NewUser) -> Result<(), sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::insert(pool, user).await,
            UserStore::Sqlite(pool) => sqlite::insert(pool, user).await,
        }
    }

    pub(super) async fn find(&self, lookup: &Lookup) -> Result<Option<UserRecord>, sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::find(pool, lookup).await,
            UserStore::Sqlite(pool) => sqlite::find(pool, lookup).await,
        }
    }

    pub(super) async fn update_password_hash(&self, id: Uuid, hash: &str) -> Result<(), sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::update_password_hash(pool, id, hash).await,
            UserStore::Sqlite(pool) => sqlite::update_password_hash(pool, id, hash).await,
        }
    }

    pub(super) async fn search(&self, search: &Search) -> Result<Vec<UserRecord>, sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::search(pool, search).await,
            UserStore::Sqlite(pool) => sqlite::search(pool, search).await,
        }
    }

    pub(super) async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<bool, sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::set_disabled(pool, id, disabled).await,
            UserStore::Sqlite(pool) => sqlite::set_disabled(pool, id, disabled).await,
        }
    }

    pub(super) async fn delete(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::delete(pool, id).await,
            UserStore::Sqlite(pool) => sqlite::delete(pool, id).await,
        }
    }

    pub(super) async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            UserStore::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }
}
