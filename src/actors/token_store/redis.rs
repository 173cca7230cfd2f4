//! The Redis backend of the token store: one Lua script per operation, so each is atomic and
//! costs one round trip.
//!
//! Keys, under the configured prefix: `fam:{family}` is a hash `{uid, cur, prev, at, sealed}`
//! (hashes only), `user:{uid}` names the user's one live family, and `live` is a sorted set of
//! user ids by expiry that the live-token worker counts. Every key expires with the token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, RedisResult, Script};
use uuid::Uuid;

use super::Rotation;
use crate::error::{ApiError, Dependency};
use crate::tokens::RefreshToken;

/// bb8-redis's manager, with two changes. A connection that failed is reported broken, so the
/// pool drops it instead of handing the dead multiplexed connection out again after Redis
/// restarts (bb8-redis never reports a connection broken; testing on every checkout instead
/// would cost a PING round trip per request). And redis-rs's own connect and reply timeouts
/// follow `DEPENDENCY_TIMEOUT_MS`: left at redis-rs's fixed defaults (1 s, 500 ms), a raised
/// timeout would not be honoured.
#[derive(Clone)]
pub struct RedisManager {
    manager: RedisConnectionManager,
    client: redis::Client,
    config: AsyncConnectionConfig,
}

impl RedisManager {
    fn new(url: &str, timeout: Duration) -> Result<RedisManager, RedisError> {
        Ok(RedisManager {
            manager: RedisConnectionManager::new(url)?,
            client: redis::Client::open(url)?,
            config: AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout)),
        })
    }
}

/// A pooled multiplexed connection, and whether any command sent over it failed. The flag is
/// shared with every clone handed out, since commands run on clones after the connection went
/// back to the pool (see `RedisTokens::with_conn`).
pub struct RedisConn {
    conn: MultiplexedConnection,
    broken: Arc<AtomicBool>,
}

impl bb8::ManageConnection for RedisManager {
    type Connection = RedisConn;
    type Error = RedisError;

    async fn connect(&self) -> Result<RedisConn, RedisError> {
        let conn = self.client.get_multiplexed_async_connection_with_config(&self.config).await?;
        Ok(RedisConn { conn, broken: Arc::default() })
    }

    async fn is_valid(&self, c: &mut RedisConn) -> Result<(), RedisError> {
        self.manager.is_valid(&mut c.conn).await
    }

    fn has_broken(&self, c: &mut RedisConn) -> bool {
        c.broken.load(Ordering::Relaxed)
    }
}

/// Marks a connection broken when dropped armed: when its command failed, or was cut short by
/// the timeout (its future dropped mid-flight).
struct Failing(Option<Arc<AtomicBool>>);

impl Drop for Failing {
    fn drop(&mut self) {
        if let Some(broken) = self.0.take() {
            broken.store(true, Ordering::Relaxed);
        }
    }
}

pub struct RedisTokens {
    pool: bb8::Pool<RedisManager>,
    /// The pools made by `for_worker`, shared by the whole family, so `pool_state` reports the
    /// connections that requests actually use.
    worker_pools: Arc<Mutex<Vec<bb8::Pool<RedisManager>>>>,
    manager: RedisManager,
    max_connections: u32,
    prefix: String,
    timeout: Duration,
    ttl: Duration,
    grace: Duration,
    issue: Script,
    rotate: Script,
    revoke: Script,
    live: Script,
    throttle: Script,
}

pub struct RedisSettings<'a> {
    pub url: &'a str,
    pub prefix: &'a str,
    pub max_connections: u32,
    pub timeout: Duration,
    pub ttl: Duration,
    pub grace: Duration,
}

impl RedisTokens {
    /// Builds the pool without connecting: the service starts while Redis is down and
    /// connects when it comes up (readiness reports it meanwhile).
    pub fn new(s: RedisSettings<'_>) -> Result<RedisTokens, RedisError> {
        let manager = RedisManager::new(s.url, s.timeout)?;
        Ok(RedisTokens {
            pool: pool(&manager, s.max_connections, s.timeout),
            worker_pools: Arc::default(),
            manager,
            max_connections: s.max_connections,
            prefix: s.prefix.to_string(),
            timeout: s.timeout,
            ttl: s.ttl,
            grace: s.grace,
            issue: Script::new(include_str!("issue.lua")),
            rotate: Script::new(include_str!("rotate.lua")),
            revoke: Script::new(include_str!("revoke.lua")),
            live: Script::new(include_str!("live.lua")),
            throttle: Script::new(include_str!("throttle.lua")),
        })
    }

    /// The same store over a pool of its own, with `1 / share` of the connections, for one
    /// HTTP worker. Called on the worker's thread: a multiplexed connection's I/O task runs on
    /// the runtime that opened it, so each worker's Redis traffic stays on its own thread instead
    /// of crossing to whichever thread happened to open a shared pool's connections (two
    /// cross-thread wake-ups per command).
    pub fn for_worker(&self, share: usize) -> RedisTokens {
        let max_connections = (self.max_connections / share.max(1) as u32).max(1);
        let worker_pool = pool(&self.manager, max_connections, self.timeout);
        self.worker_pools.lock().unwrap_or_else(|p| p.into_inner()).push(worker_pool.clone());
        RedisTokens {
            pool: worker_pool,
            worker_pools: self.worker_pools.clone(),
            manager: self.manager.clone(),
            max_connections,
            prefix: self.prefix.clone(),
            timeout: self.timeout,
            ttl: self.ttl,
            grace: self.grace,
            issue: self.issue.clone(),
            rotate: self.rotate.clone(),
            revoke: self.revoke.clone(),
            live: self.live.clone(),
            throttle: self.throttle.clone(),
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// Runs `op` on a pooled connection within the timeout.
    ///
    /// The connection goes back to the pool as soon as it is taken, and `op` runs on a clone
    /// of it: a multiplexed connection is made to be shared, so the concurrent requests of a
    /// worker pipeline their commands over one socket (one write and one read for many of
    /// them, on gatehouse's side and on Redis's) instead of taking a connection each. Every
    /// command is a single script, so none needs a connection to itself. A connection on which
    /// a command failed or timed out is marked broken: the next request skips it and the pool
    /// replaces it.
    async fn with_conn<T>(&self, op: impl AsyncFnOnce(&mut MultiplexedConnection) -> RedisResult<T>) -> Result<T, ApiError> {
        let work = async {
            let (mut conn, mut failing) = self.shared_conn().await?;
            let result = op(&mut conn).await;
            if result.is_ok() {
                failing.0 = None;
            }
            result.map_err(|e| {
                log::error!("token store: Redis error: {e}");
                ApiError::Unavailable(Dependency::TokenStore)
            })
        };
        tokio::time::timeout(self.timeout, work).await.unwrap_or_else(|_| {
            log::warn!("token store: Redis did not answer within {} ms", self.timeout.as_millis());
            Err(ApiError::Unavailable(Dependency::TokenStore))
        })
    }

    /// A clone of a healthy pooled connection, and the guard that marks it broken unless the
    /// caller disarms it. A connection found broken is dropped by the pool when it is returned
    /// here, so the loop ends: at worst with a new connection.
    async fn shared_conn(&self) -> Result<(MultiplexedConnection, Failing), ApiError> {
        loop {
            let pooled = self.pool.get().await.map_err(|e| {
                log::warn!("token store: no Redis connection: {e}");
                ApiError::Unavailable(Dependency::TokenStore)
            })?;
            if !pooled.broken.load(Ordering::Relaxed) {
                return Ok((pooled.conn.clone(), Failing(Some(pooled.broken.clone()))));
            }
        }
    }

    pub async fn store_new(&self, user_id: Uuid, token: &RefreshToken) -> Result<(), ApiError> {
        let uid = user_id.to_string();
        let family = token.family();
        let hash = token.hash();
        self.with_conn(async |c| {
            self.issue
                .key(self.key("user", &uid))
                .key(self.key("fam", &family))
                .key(format!("{}live", self.prefix))
                .arg(&uid)
                .arg(&family)
                .arg(&hash.0)
                .arg(self.ttl_ms())
                .arg(&self.prefix)
                .invoke_async::<i64>(c)
                .await
        })
        .await
        .map(drop)
    }

    /// `proven`: whether `presented` carries a valid tag (see `TokenBackend::rotate`).
    pub async fn rotate(&self, presented: &RefreshToken, successor: &RefreshToken, proven: bool) -> Result<Rotation, ApiError> {
        let family = presented.family();
        let reply: Vec<String> = self
            .with_conn(async |c| {
                self.rotate
                    .key(self.key("fam", &family))
                    .key(format!("{}live", self.prefix))
                    .arg(&family)
                    .arg(&presented.hash().0)
                    .arg(&successor.hash().0)
                    .arg(presented.seal(successor))
                    .arg(self.ttl_ms())
                    .arg(self.grace.as_millis() as u64)
                    .arg(&self.prefix)
                    .arg(if proven { "1" } else { "0" })
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(parse_rotation(&reply))
    }

    pub async fn revoke(&self, presented: &RefreshToken) -> Result<Option<Uuid>, ApiError> {
        let family = presented.family();
        let uid: Option<String> = self
            .with_conn(async |c| {
                self.revoke
                    .key(self.key("fam", &family))
                    .key(format!("{}live", self.prefix))
                    .arg(&family)
                    .arg(&presented.hash().0)
                    .arg(&self.prefix)
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(uid.and_then(|u| u.parse().ok()))
    }

    /// Removes expired entries from the live set and counts the users with a live token.
    pub async fn sweep_and_count(&self) -> Result<u64, ApiError> {
        self.with_conn(async |c| self.live.key(format!("{}live", self.prefix)).invoke_async(c).await).await
    }

    /// Counts an attempt against each `(counter, limit)`; `Some(wait)` when one is over its limit.
    pub async fn hit(&self, counters: &[(String, u32)], window: Duration) -> Result<Option<Duration>, ApiError> {
        let wait_ms: u64 = self
            .with_conn(async |c| {
                let mut call = self.throttle.prepare_invoke();
                for (name, _) in counters {
                    call.key(self.key("throttle", name));
                }
                call.arg(window.as_millis() as u64);
                for (_, limit) in counters {
                    call.arg(*limit);
                }
                call.invoke_async(c).await
            })
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }

    /// Forgets a counter (a successful login clears its account's failures).
    pub async fn forget(&self, counter: &str) -> Result<(), ApiError> {
        let key = self.key("throttle", counter);
        self.with_conn(async |c| redis::cmd("DEL").arg(&key).query_async::<i64>(c).await).await.map(drop)
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.with_conn(async |c| redis::cmd("PING").query_async::<String>(c).await).await.map(drop)
    }

    /// Connections open and idle, over this pool and every worker's.
    pub fn pool_state(&self) -> (u32, u32) {
        let pools = self.worker_pools.lock().unwrap_or_else(|p| p.into_inner());
        std::iter::once(&self.pool)
            .chain(pools.iter())
            .map(|p| p.state())
            .fold((0, 0), |(open, idle), s| (open + s.connections, idle + s.idle_connections))
    }
}

/// Builds a pool without connecting: the service starts while Redis is down and connects when it
/// comes up (readiness reports it meanwhile).
fn pool(manager: &RedisManager, max_connections: u32, timeout: Duration) -> bb8::Pool<RedisManager> {
    bb8::Pool::builder()
        .max_size(max_connections)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build_unchecked(manager.clone())
}

/// Reads the rotate script's reply.
fn parse_rotation(reply: &[String]) -> Rotation {
    let user = reply.get(1).and_then(|u| u.parse::<Uuid>().ok());
    match (reply.first().map(String::as_str), user) {
        (Some("rotated"), Some(user_id)) => Rotation::Rotated(user_id),
        (Some("grace"), Some(user_id)) => match (reply.get(2), reply.get(3)) {
            (Some(sealed), Some(current_hash)) => Rotation::Grace { user_id, sealed: sealed.clone(), current_hash: current_hash.clone() },
            _ => Rotation::Invalid,
        },
        (Some("reused"), Some(user_id)) => Rotation::Reused(user_id),
        _ => Rotation::Invalid,
    }
}
