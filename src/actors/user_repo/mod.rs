//! `UserRepo`: users in PostgreSQL or the embedded SQLite database, through sqlx. Uniqueness is
//! decided by the database's unique indexes, never by a read-then-write that two concurrent
//! registrations could both pass.

/// sqlx takes `&'static str`: the dialects' lookups share their column list at compile time.
macro_rules! select_user_where {
    ($clause:literal) => {
        concat!("SELECT id, username, email, created_at, password_hash FROM users WHERE ", $clause)
    };
}

mod cache;
mod postgres;
mod sqlite;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use anyhow::Context as _;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use crate::actors::ask;
use crate::config::Database;
use crate::domain::{Email, Username};
use crate::error::{ApiError, Dependency};
use crate::schema::Schema;

pub use cache::UserCache;

/// A user as clients see it: never a hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A user with the stored password hash, for the login path only.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: Arc<str>,
}

/// A `users` row as a dialect reads it; only the id's type differs between engines.
#[derive(sqlx::FromRow)]
struct Row<Id> {
    id: Id,
    username: String,
    email: Option<String>,
    created_at: DateTime<Utc>,
    password_hash: String,
}

impl<Id> Row<Id> {
    fn into_record(self, id: Uuid) -> UserRecord {
        UserRecord {
            user: User { id, username: self.username, email: self.email, created_at: self.created_at },
            password_hash: self.password_hash.into(),
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

/// How a login names its user.
#[derive(Debug, Clone)]
pub enum Lookup {
    Username(String),
    Email(String),
    Id(Uuid),
}

/// The one seam between the repository and its engines: each operation dispatches to the
/// dialect's SQL; everything else (errors, actor, handle) is shared.
#[derive(Clone)]
pub enum UserStore {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

const INVALID_URL: &str = "DATABASE_URL is not a valid database URL";

impl UserStore {
    /// Builds the pool without connecting, so the service can start while PostgreSQL is away.
    /// Makes the pool without connecting; for SQLite, first creates the database file, private.
    pub fn connect_lazy(database: &Database, max_connections: u32, timeout: Duration) -> anyhow::Result<UserStore> {
        Ok(match database {
            Database::Postgres(url) => UserStore::Postgres(
                PgPoolOptions::new().max_connections(max_connections).acquire_timeout(timeout).connect_lazy(url).context(INVALID_URL)?,
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

    async fn insert(&self, user: &NewUser) -> Result<(), sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::insert(pool, user).await,
            UserStore::Sqlite(pool) => sqlite::insert(pool, user).await,
        }
    }

    async fn find(&self, lookup: &Lookup) -> Result<Option<UserRecord>, sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::find(pool, lookup).await,
            UserStore::Sqlite(pool) => sqlite::find(pool, lookup).await,
        }
    }

    async fn update_password_hash(&self, id: Uuid, hash: &str) -> Result<(), sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => postgres::update_password_hash(pool, id, hash).await,
            UserStore::Sqlite(pool) => sqlite::update_password_hash(pool, id, hash).await,
        }
    }

    async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            UserStore::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            UserStore::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }
}

pub struct UserRepo {
    store: UserStore,
}

impl UserRepo {
    pub fn new(store: UserStore) -> UserRepo {
        UserRepo { store }
    }
}

impl Actor for UserRepo {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "Result<User, ApiError>")]
pub struct CreateUser {
    pub id: Uuid,
    pub username: Username,
    pub email: Option<Email>,
    pub password_hash: String,
}

#[derive(Message)]
#[rtype(result = "Result<Option<UserRecord>, ApiError>")]
pub struct FindUser(pub Lookup);

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct UpdatePasswordHash {
    pub id: Uuid,
    pub password_hash: String,
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct Ping;

impl Handler<CreateUser> for UserRepo {
    type Result = ResponseFuture<Result<User, ApiError>>;
    fn handle(&mut self, msg: CreateUser, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move {
            let row = NewUser {
                id: msg.id,
                username: msg.username.as_str().to_string(),
                email: msg.email.map(|e| e.as_str().to_string()),
                password_hash: msg.password_hash,
                created_at: Utc::now().trunc_subsecs(6),
            };
            store.insert(&row).await.map_err(db_error)?;
            Ok(User { id: row.id, username: row.username, email: row.email, created_at: row.created_at })
        })
    }
}

impl Handler<FindUser> for UserRepo {
    type Result = ResponseFuture<Result<Option<UserRecord>, ApiError>>;
    fn handle(&mut self, msg: FindUser, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.find(&msg.0).await.map_err(db_error) })
    }
}

impl Handler<UpdatePasswordHash> for UserRepo {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, msg: UpdatePasswordHash, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.update_password_hash(msg.id, &msg.password_hash).await.map_err(db_error) })
    }
}

impl Handler<Ping> for UserRepo {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.ping().await.map_err(db_error) })
    }
}

/// Maps a driver error: unique violations to conflicts (by index name in PostgreSQL, by column
/// in SQLite's message), an unreachable database to a 503, anything else to a logged 500. The
/// driver's text only ever reaches the log.
fn db_error(e: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &e {
        let names = |needle: &str| db.constraint().is_some_and(|c| c.contains(needle)) || db.message().contains(needle);
        if db.is_unique_violation() {
            if names("username") {
                return ApiError::UsernameTaken;
            }
            if names("email") {
                return ApiError::EmailTaken;
            }
        }
    }
    if is_unavailable(&e) {
        log::warn!("user repository: database unavailable: {e}");
        return ApiError::Unavailable(Dependency::Database);
    }
    log::error!("user repository: database error: {e}");
    ApiError::Internal
}

/// The database is away (unreachable, restarting, out of connections, busy), not wrong: worth
/// a 503 and a retry. PostgreSQL SQLSTATE classes 08 (connection exception), 53 (insufficient
/// resources) and 57 (operator intervention, e.g. shutting down); SQLite's BUSY (5) and LOCKED (6).
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57") || c == "5" || c == "6")
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// The handle route handlers hold.
#[derive(Clone)]
pub struct Users {
    addr: Addr<UserRepo>,
    timeout: Duration,
    schema: Option<Schema>,
    cache: Option<Arc<UserCache>>,
}

impl Users {
    pub fn new(addr: Addr<UserRepo>, timeout: Duration) -> Users {
        Users { addr, timeout, schema: None, cache: None }
    }

    /// Until `schema` is ready every call answers 503, readiness included.
    pub fn gated(mut self, schema: Schema) -> Users {
        self.schema = Some(schema);
        self
    }

    /// Serves `find_by_id` from `cache` (shared by every worker).
    pub fn cached(mut self, cache: Arc<UserCache>) -> Users {
        self.cache = Some(cache);
        self
    }

    fn schema_ready(&self) -> Result<(), ApiError> {
        self.schema.as_ref().map_or(Ok(()), Schema::check)
    }

    /// The user with this id, from the cache when it was read in the last `USER_CACHE_TTL`
    /// seconds: no database round trip and no mailbox hop. Only `/auth/me` uses it.
    pub async fn find_by_id(&self, id: Uuid) -> Result<Option<Arc<User>>, ApiError> {
        if let Some(user) = self.cache.as_ref().and_then(|c| c.get(id)) {
            return Ok(Some(user));
        }
        let Some(record) = self.find(Lookup::Id(id)).await? else { return Ok(None) };
        let user = Arc::new(record.user);
        if let Some(cache) = &self.cache {
            cache.put(user.clone());
        }
        Ok(Some(user))
    }

    pub async fn create(&self, id: Uuid, username: Username, email: Option<Email>, password_hash: String) -> Result<User, ApiError> {
        self.schema_ready()?;
        ask(&self.addr, CreateUser { id, username, email, password_hash }, self.timeout, Dependency::Database).await
    }

    pub async fn find(&self, lookup: Lookup) -> Result<Option<UserRecord>, ApiError> {
        self.schema_ready()?;
        ask(&self.addr, FindUser(lookup), self.timeout, Dependency::Database).await
    }

    pub async fn update_password_hash(&self, id: Uuid, password_hash: String) -> Result<(), ApiError> {
        self.schema_ready()?;
        ask(&self.addr, UpdatePasswordHash { id, password_hash }, self.timeout, Dependency::Database).await
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.schema_ready()?;
        ask(&self.addr, Ping, self.timeout, Dependency::Database).await
    }
}
