//! `RedisPool`: the Redis connections the token store, the counter store and the revocation
//! record share, on any of the three deployments (one node, a Sentinel-managed primary, a Redis
//! Cluster), the key prefix, and the one way a command is run on them (a timeout, and broken
//! connections replaced). The stores' scripts live with the stores.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bb8_redis::bb8;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::config::RedisTarget;
use crate::error::{ApiError, Dependency};

/// A connection a command runs on: one node's (a single node, or the primary the Sentinels
/// name), or the cluster's, which routes each command to the node serving its key's slot and
/// follows `MOVED` and `ASK`.
#[derive(Clone)]
pub enum Conn {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(&'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Where a node connection comes from: a fixed node, or whichever primary the Sentinels name at
/// the time of connecting (so a new connection after a failover reaches the new primary).
#[derive(Clone)]
enum Source {
    Node(redis::Client),
    Sentinel {
        sentinels: Arc<tokio::sync::Mutex<SentinelClient>>,
        /// The nodes' credentials and database (`REDIS_URL`).
        url: Option<String>,
    },
}

/// How long the primary a `+switch-master` announced is preferred to what a Sentinel answers:
/// the Sentinels that did not lead the failover learn of it within seconds.
const ANNOUNCED_WINS: Duration = Duration::from_secs(60);

/// The primary switches the Sentinels announced (`+switch-master`).
#[derive(Default)]
struct Switches {
    /// How many since start: a connection made before the latest leads to the former primary.
    count: AtomicU64,
    /// The latest announced primary, and when.
    announced: Mutex<Option<(String, u16, std::time::Instant)>>,
}

impl Switches {
    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn announced(&self) -> Option<(String, u16)> {
        let announced = self.announced.lock().unwrap_or_else(PoisonError::into_inner);
        announced.as_ref().filter(|(_, _, at)| at.elapsed() < ANNOUNCED_WINS).map(|(h, p, _)| (h.clone(), *p))
    }
}

impl Source {
    /// Reliability: right after a failover, a Sentinel that did not lead it may still name the
    /// former primary, which accepts writes until it is demoted (and then loses them). For a
    /// while after an announcement, its primary is taken over any Sentinel's answer.
    async fn client(&self, switches: &Switches) -> RedisResult<redis::Client> {
        match self {
            Source::Node(client) => Ok(client.clone()),
            Source::Sentinel { url, .. } if let Some((host, port)) = switches.announced() => {
                redis::Client::open(node_info(url.as_deref(), &host, port)?)
            }
            Source::Sentinel { sentinels, .. } => sentinels.lock().await.async_get_client().await,
        }
    }
}

/// bb8's manager for node connections. A connection that failed is reported broken, so the pool
/// drops it instead of handing the dead multiplexed connection out again after Redis restarts
/// or the Sentinels promote another primary (the old one answers writes with `READONLY`, a
/// failure like any other); testing on every checkout instead would cost a PING round trip per
/// request. And redis-rs's own connect and reply timeouts follow `DEPENDENCY_TIMEOUT_MS`: left
/// at redis-rs's fixed defaults (1 s, 500 ms), a raised timeout would not be honoured.
#[derive(Clone)]
pub struct RedisManager {
    source: Source,
    config: AsyncConnectionConfig,
    switches: Arc<Switches>,
}

/// A pooled multiplexed connection, and whether any command sent over it failed. The flag is
/// shared with every clone handed out, since commands run on clones after the connection went
/// back to the pool (see `RedisPool::with_conn`).
pub struct Pooled {
    conn: MultiplexedConnection,
    broken: Arc<AtomicBool>,
    /// The number of primary switches when it connected: a connection made before the latest
    /// one leads to the former primary.
    switches: u64,
}

impl Pooled {
    fn stale(&self, switches: &Switches) -> bool {
        self.broken.load(Ordering::Relaxed) || self.switches != switches.count()
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = Pooled;
    type Error = RedisError;

    async fn connect(&self) -> Result<Pooled, RedisError> {
        let switches = self.switches.count();
        let conn = self.source.client(&self.switches).await?.get_multiplexed_async_connection_with_config(&self.config).await?;
        Ok(Pooled { conn, broken: Arc::default(), switches })
    }

    async fn is_valid(&self, c: &mut Pooled) -> Result<(), RedisError> {
        redis::cmd("PING").query_async::<String>(&mut c.conn).await.map(drop)
    }

    fn has_broken(&self, c: &mut Pooled) -> bool {
        c.stale(&self.switches)
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

/// One cluster connection, opened on first use (the service starts while the cluster is down).
/// The cluster client keeps a multiplexed connection per node behind it, reconnects to nodes
/// that fail and refreshes its slot map after `MOVED` or a failover, so it is never replaced.
struct ClusterLink {
    client: ClusterClient,
    conn: Mutex<Option<ClusterConnection>>,
    connecting: tokio::sync::Mutex<()>,
}

impl ClusterLink {
    fn new(client: ClusterClient) -> Arc<ClusterLink> {
        Arc::new(ClusterLink { client, conn: Mutex::default(), connecting: tokio::sync::Mutex::default() })
    }

    fn current(&self) -> Option<ClusterConnection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    async fn get(&self) -> RedisResult<ClusterConnection> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        // One connection attempt at a time: the requests that arrive meanwhile wait for it.
        let _one = self.connecting.lock().await;
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let conn = self.client.get_async_connection().await?;
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }
}

/// How connections are kept: pooled node connections, or cluster links.
#[derive(Clone)]
enum Links {
    Pooled {
        pool: bb8::Pool<RedisManager>,
        /// The pools made by `for_worker`, shared by the whole family, so `pool_state` reports
        /// the connections that requests actually use.
        worker_pools: Arc<Mutex<Vec<bb8::Pool<RedisManager>>>>,
        /// Shared, to keep the handle small: the pools hold copies of their own.
        manager: Arc<RedisManager>,
    },
    Cluster {
        link: Arc<ClusterLink>,
        /// Every worker's link, for `pool_state`.
        worker_links: Arc<Mutex<Vec<Arc<ClusterLink>>>>,
    },
}

/// The Redis connections and the key prefix their users write under. Cloning shares them.
#[derive(Clone)]
pub struct RedisPool {
    links: Links,
    max_connections: u32,
    prefix: String,
    timeout: Duration,
    /// `REDIS_WAIT_REPLICAS`.
    wait_replicas: u32,
}

/// What a pool is made from.
pub struct PoolSettings<'a> {
    pub target: &'a RedisTarget,
    pub prefix: &'a str,
    pub max_connections: u32,
    pub timeout: Duration,
    /// Replicas a session change must reach before it is answered (`REDIS_WAIT_REPLICAS`).
    pub wait_replicas: u32,
}

impl RedisPool {
    /// Builds the connections without connecting: the service starts while Redis is down and
    /// connects when it comes up (readiness reports it meanwhile).
    pub fn new(s: PoolSettings<'_>) -> Result<RedisPool, RedisError> {
        // redis-rs's own reply timeout is only a backstop: `with_conn` bounds every command,
        // without counting a pause of the process against it.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(s.timeout))
            .set_response_timeout(Some(crate::timeout::backstop(s.timeout)));
        let links = match s.target {
            RedisTarget::Node { url } => {
                let source = Source::Node(redis::Client::open(url.as_str())?);
                pooled(RedisManager { source, config, switches: Arc::default() }, &s)
            }
            RedisTarget::Sentinel { sentinels, master, url } => {
                let client = sentinel_client(sentinels, master, url.as_deref())?;
                let source = Source::Sentinel { sentinels: Arc::new(tokio::sync::Mutex::new(client)), url: url.clone() };
                let switches = Arc::new(Switches::default());
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(watch_switches(sentinels.clone(), master.clone(), Arc::downgrade(&switches)));
                }
                pooled(RedisManager { source, config, switches }, &s)
            }
            RedisTarget::Cluster { .. } => {
                Links::Cluster { link: ClusterLink::new(cluster_client(s.target, s.timeout)?), worker_links: Arc::default() }
            }
        };
        Ok(RedisPool {
            links,
            max_connections: s.max_connections,
            prefix: s.prefix.to_string(),
            timeout: s.timeout,
            wait_replicas: s.wait_replicas,
        })
    }

    /// Connections of its own, for one HTTP worker: a pool with `1 / share` of the connections,
    /// or a cluster connection of its own. Called on the worker's thread: a multiplexed
    /// connection's I/O task runs on the runtime that opened it, so each worker's Redis traffic
    /// stays on its own thread instead of crossing to whichever thread happened to open a
    /// shared pool's connections (two cross-thread wake-ups per command).
    pub fn for_worker(&self, share: usize) -> RedisPool {
        let max_connections = (self.max_connections / share.max(1) as u32).max(1);
        let links = match &self.links {
            Links::Pooled { worker_pools, manager, .. } => {
                let worker_pool = pool(manager, max_connections, self.timeout);
                worker_pools.lock().unwrap_or_else(PoisonError::into_inner).push(worker_pool.clone());
                Links::Pooled { pool: worker_pool, worker_pools: worker_pools.clone(), manager: manager.clone() }
            }
            Links::Cluster { link, worker_links } => {
                let worker_link = ClusterLink::new(link.client.clone());
                worker_links.lock().unwrap_or_else(PoisonError::into_inner).push(worker_link.clone());
                Links::Cluster { link: worker_link, worker_links: worker_links.clone() }
            }
        };
        RedisPool { links, max_connections, ..self.clone() }
    }

    /// The key of `id` of this `kind`, under the prefix.
    pub fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs `op` on a connection within the timeout.
    ///
    /// A pooled connection goes back to the pool as soon as it is taken, and `op` runs on a
    /// clone of it: a multiplexed connection is made to be shared, so the concurrent requests of
    /// a worker pipeline their commands over one socket (one write and one read for many of
    /// them, on gatehouse's side and on Redis's) instead of taking a connection each. Every
    /// command is a single script, so none needs a connection to itself. A connection on which
    /// a command failed or timed out is marked broken: the next request skips it and the pool
    /// replaces it (after a failover: with a connection to the new primary).
    pub async fn with_conn<T>(&self, op: impl AsyncFnOnce(&mut Conn) -> RedisResult<T>) -> Result<T, ApiError> {
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
        crate::timeout::within(self.timeout, work).await.unwrap_or_else(|_| {
            log::warn!("token store: Redis did not answer within {} ms", self.timeout.as_millis());
            Err(ApiError::Unavailable(Dependency::TokenStore))
        })
    }

    /// A healthy connection, and the guard that marks it broken unless the caller disarms it. A
    /// pooled connection found broken is dropped by the pool when it is returned here, so the
    /// loop ends: at worst with a new connection.
    async fn shared_conn(&self) -> Result<(Conn, Failing), ApiError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            log::warn!("token store: no Redis connection: {e}");
            ApiError::Unavailable(Dependency::TokenStore)
        };
        match &self.links {
            Links::Pooled { pool, manager, .. } => loop {
                let pooled = pool.get().await.map_err(|e| unavailable(&e))?;
                if !pooled.stale(&manager.switches) {
                    return Ok((Conn::Node(pooled.conn.clone()), Failing(Some(pooled.broken.clone()))));
                }
            },
            Links::Cluster { link, .. } => Ok((Conn::Cluster(link.get().await.map_err(|e| unavailable(&e))?), Failing(None))),
        }
    }

    /// Durability: with `REDIS_WAIT_REPLICAS` above zero, waits until that many replicas hold
    /// the writes made so far over the connection that serves `key` (Redis `WAIT`, bounded by
    /// half the dependency timeout). A change acknowledged so survives the primary's death.
    /// Returns whether it was acknowledged (always, with zero); a shortfall is logged and counted.
    pub async fn replicated(&self, key: &str) -> bool {
        if self.wait_replicas == 0 {
            return true;
        }
        let timeout_ms = (self.timeout.as_millis() as u64 / 2).max(1);
        // In a pipeline with a command on `key`, `WAIT` goes to the node serving the key's slot
        // (a cluster routes a pipeline by its keys), over the connection that made the write.
        let acked = self
            .with_conn(async |c| {
                redis::pipe().cmd("PTTL").arg(key).cmd("WAIT").arg(self.wait_replicas).arg(timeout_ms).query_async::<(i64, u32)>(c).await
            })
            .await
            .map_or(0, |(_, acked)| acked);
        if acked < self.wait_replicas {
            log::warn!("token store: a session change reached {acked} of {} replicas in time", self.wait_replicas);
            crate::metrics::sessions::replication_short();
            return false;
        }
        true
    }

    /// How many times the Sentinels have switched the primary since start (0 elsewhere): a
    /// subscription made before a switch is on the former primary.
    pub fn primary_switches(&self) -> u64 {
        match &self.links {
            Links::Pooled { manager, .. } => manager.switches.count(),
            Links::Cluster { .. } => 0,
        }
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.with_conn(async |c| redis::cmd("PING").query_async::<String>(c).await).await.map(drop)
    }

    /// Connections open and idle, over this pool and every worker's, and the configured maximum.
    /// A cluster's connections count one per worker link that has connected.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        match &self.links {
            Links::Pooled { pool, worker_pools, .. } => {
                let pools = worker_pools.lock().unwrap_or_else(PoisonError::into_inner);
                std::iter::once(pool)
                    .chain(pools.iter())
                    .map(|p| p.state())
                    .fold((0, 0, self.max_connections), |(open, idle, max), s| (open + s.connections, idle + s.idle_connections, max))
            }
            Links::Cluster { link, worker_links } => {
                let links = worker_links.lock().unwrap_or_else(PoisonError::into_inner);
                let open = std::iter::once(link).chain(links.iter()).filter(|l| l.current().is_some()).count() as u32;
                (open, 0, self.max_connections)
            }
        }
    }
}

/// Follows the Sentinels' `+switch-master` announcements for `master`, counting them in
/// `switches` (the pools then drop every connection made before), until the pools are gone.
///
/// Reliability: after a failover the former primary, if it is still running, accepts writes
/// until the Sentinels reconfigure it as a replica (seconds later), and those writes are lost
/// when it resynchronises. Connections are moved to the new primary when the Sentinels announce
/// it, not when the old one is demoted. One Sentinel at a time, the next one when it fails.
async fn watch_switches(sentinels: Vec<(String, u16)>, master: String, switches: std::sync::Weak<Switches>) {
    for n in 0.. {
        if switches.strong_count() == 0 {
            return;
        }
        let (host, port) = &sentinels[n % sentinels.len()];
        if let Err(e) = follow_switches(host, *port, &master, &switches).await {
            log::warn!("token store: Sentinel {host}:{port} announcements lost: {e}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn follow_switches(host: &str, port: u16, master: &str, switches: &std::sync::Weak<Switches>) -> RedisResult<()> {
    use futures_util::StreamExt;
    let limit = Duration::from_secs(5);
    let client = redis::Client::open(ConnectionAddr::Tcp(host.to_string(), port))?;
    let timed_out = || RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "the Sentinel did not answer"));
    let (mut sink, mut stream) = tokio::time::timeout(limit, client.get_async_pubsub()).await.map_err(|_| timed_out())??.split();
    sink.subscribe("+switch-master").await?;
    loop {
        let message = match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(()),
            // Quiet: make sure the Sentinel still answers, and that the pools still exist.
            Err(_) => {
                crate::timeout::within(limit, sink.ping::<redis::Value>()).await.map_err(|_| timed_out())??;
                if switches.strong_count() == 0 {
                    return Ok(());
                }
                continue;
            }
        };
        let Some(switches) = switches.upgrade() else { return Ok(()) };
        // `<master name> <old ip> <old port> <new ip> <new port>`
        let payload: String = message.get_payload().unwrap_or_default();
        let fields: Vec<&str> = payload.split(' ').collect();
        if let [name, _, _, host, port] = fields[..]
            && name == master
            && let Ok(port) = port.parse()
        {
            *switches.announced.lock().unwrap_or_else(PoisonError::into_inner) = Some((host.to_string(), port, std::time::Instant::now()));
            switches.count.fetch_add(1, Ordering::Relaxed);
            log::warn!("token store: the Sentinels switched the primary ({payload}): reconnecting");
        }
    }
}

/// The cluster client for `target`'s seed nodes, with `REDIS_URL`'s credentials when given.
///
/// Reliability: each attempt is bounded by the dependency timeout and retried a few times
/// (slots move during a failover: the client follows `MOVED` and refreshes its map), all of it
/// under `with_conn`'s overall bound, so a request never waits past `DEPENDENCY_TIMEOUT_MS`.
pub fn cluster_client(target: &RedisTarget, timeout: Duration) -> RedisResult<ClusterClient> {
    let RedisTarget::Cluster { nodes, url } = target else {
        return Err(RedisError::from((redis::ErrorKind::InvalidClientConfig, "not a Redis Cluster")));
    };
    let seeds = nodes.iter().map(|(h, p)| node_info(url.as_deref(), h, *p)).collect::<RedisResult<Vec<_>>>()?;
    ClusterClient::builder(seeds)
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .retries(3)
        .min_retry_wait(20)
        .max_retry_wait(200)
        .build()
}

/// A plain client to one node of `target`, for what a cluster connection does not carry
/// (pub/sub): the node itself, the primary the Sentinels name now, or the `n`th seed of a
/// cluster (round robin over the seeds, so a dead one is passed over on the next attempt).
pub async fn node_client(target: &RedisTarget, n: usize) -> RedisResult<redis::Client> {
    match target {
        RedisTarget::Node { url } => redis::Client::open(url.as_str()),
        RedisTarget::Sentinel { sentinels, master, url } => sentinel_client(sentinels, master, url.as_deref())?.async_get_client().await,
        RedisTarget::Cluster { nodes, url } => {
            let (host, port) = &nodes[n % nodes.len()];
            redis::Client::open(node_info(url.as_deref(), host, *port)?)
        }
    }
}

/// The connection to `host:port` with the credentials (and settings) of `url`, if given.
fn node_info(url: Option<&str>, host: &str, port: u16) -> RedisResult<redis::ConnectionInfo> {
    Ok(url.unwrap_or("redis://127.0.0.1").into_connection_info()?.set_addr(ConnectionAddr::Tcp(host.to_string(), port)))
}

/// A client of the Sentinels that names the primary of `master`, whose nodes are reached with
/// the credentials and database of `url`, if given.
fn sentinel_client(sentinels: &[(String, u16)], master: &str, url: Option<&str>) -> RedisResult<SentinelClient> {
    let mut node = SentinelNodeConnectionInfo::default();
    if let Some(url) = url {
        node = node.set_redis_connection_info(url.into_connection_info()?.redis_settings().clone());
    }
    let addrs: Vec<ConnectionAddr> = sentinels.iter().map(|(h, p)| ConnectionAddr::Tcp(h.clone(), *p)).collect();
    SentinelClient::build(addrs, master.to_string(), Some(node), SentinelServerType::Master)
}

fn pooled(manager: RedisManager, s: &PoolSettings<'_>) -> Links {
    let manager = Arc::new(manager);
    Links::Pooled { pool: pool(&manager, s.max_connections, s.timeout), worker_pools: Arc::default(), manager }
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
