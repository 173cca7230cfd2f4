//! `RedisPool`: the Redis connections the token store and the counter store share, the key
//! prefix, and the one way a command is run on them (a timeout, and broken connections
//! replaced). The stores' scripts live with the stores.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, RedisResult};

use crate::error::{ApiError, Dependency};

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
/// back to the pool (see `RedisPool::with_conn`).
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

/// A pool of Redis connections and the key prefix its users write under. Cloning shares the pool.
#[derive(Clone)]
pub struct RedisPool {
    pool: bb8::Pool<RedisManager>,
    /// The pools made by `for_worker`, shared by the whole family, so `pool_state` reports the
    /// connections that requests actually use.
    worker_pools: Arc<Mutex<Vec<bb8::Pool<RedisManager>>>>,
    /// Shared, to keep the handle small: the pools hold copies of their own.
    manager: Arc<RedisManager>,
    max_connections: u32,
    prefix: String,
    timeout: Duration,
}

impl RedisPool {
    /// Builds the pool without connecting: the service starts while Redis is down and
    /// connects when it comes up (readiness reports it meanwhile).
    pub fn new(url: &str, prefix: &str, max_connections: u32, timeout: Duration) -> Result<RedisPool, RedisError> {
        let manager = Arc::new(RedisManager::new(url, timeout)?);
        Ok(RedisPool {
            pool: pool(&manager, max_connections, timeout),
            worker_pools: Arc::default(),
            manager,
            max_connections,
            prefix: prefix.to_string(),
            timeout,
        })
    }

    /// A pool of its own, with `1 / share` of the connections, for one HTTP worker. Called on
    /// the worker's thread: a multiplexed connection's I/O task runs on the runtime that opened
    /// it, so each worker's Redis traffic stays on its own thread instead of crossing to
    /// whichever thread happened to open a shared pool's connections (two cross-thread wake-ups
    /// per command).
    pub fn for_worker(&self, share: usize) -> RedisPool {
        let max_connections = (self.max_connections / share.max(1) as u32).max(1);
        let worker_pool = pool(&self.manager, max_connections, self.timeout);
        self.worker_pools.lock().unwrap_or_else(|p| p.into_inner()).push(worker_pool.clone());
        RedisPool {
            pool: worker_pool,
            worker_pools: self.worker_pools.clone(),
            manager: self.manager.clone(),
            max_connections,
            prefix: self.prefix.clone(),
            timeout: self.timeout,
        }
    }

    /// The key of `id` of this `kind`, under the prefix.
    pub fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
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
    pub async fn with_conn<T>(&self, op: impl AsyncFnOnce(&mut MultiplexedConnection) -> RedisResult<T>) -> Result<T, ApiError> {
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

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.with_conn(async |c| redis::cmd("PING").query_async::<String>(c).await).await.map(drop)
    }

    /// Connections open and idle, over this pool and every worker's, and the configured maximum.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let pools = self.worker_pools.lock().unwrap_or_else(|p| p.into_inner());
        std::iter::once(&self.pool)
            .chain(pools.iter())
            .map(|p| p.state())
            .fold((0, 0, self.max_connections), |(open, idle, max), s| (open + s.connections, idle + s.idle_connections, max))
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
