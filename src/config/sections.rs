//! The sections of `Config`, one per concern, and the kinds of value they hold.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::IpNet;

/// Where users live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Postgres(String),
    /// A `sqlite://…` file or `sqlite::memory:`.
    Sqlite(String),
}

/// Where refresh tokens and throttle counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStoreKind {
    Redis(RedisTarget),
    /// In this process's memory: for one process only.
    Memory,
}

/// Which Redis deployment the token store runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One node: `REDIS_URL`.
    Node { url: String },
    /// A primary that Sentinels watch and fail over (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`).
    /// `url` (`REDIS_URL`, optional) gives the nodes' credentials and database; its host is not
    /// used: the Sentinels name the primary.
    Sentinel { sentinels: Vec<(String, u16)>, master: String, url: Option<String> },
    /// A Redis Cluster, from its seed nodes (`REDIS_CLUSTER_NODES`). `url` (`REDIS_URL`, optional)
    /// gives the nodes' credentials; its host is not used.
    Cluster { nodes: Vec<(String, u16)>, url: Option<String> },
}

impl RedisTarget {
    /// How the deployment is named in logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RedisTarget::Node { .. } => "node",
            RedisTarget::Sentinel { .. } => "sentinel",
            RedisTarget::Cluster { .. } => "cluster",
        }
    }
}

/// Whether the service runs with production guarantees (secrets required) or for development.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Production,
    Development,
}

/// The `SameSite` attribute of the refresh cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Debug, Clone)]
pub struct Argon2Config {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

/// The public listener and what it accepts.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// Peers whose `X-Forwarded-For` is believed (a load balancer in front); empty: none.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a request body may take to arrive after its headers.
    pub body_read_timeout: Duration,
    /// Open connections per client address (IPv6: per /64); zero: no bound.
    pub max_connections_per_ip: usize,
    /// Open connections in total; `None`: as many as the open-files limit leaves room for.
    pub max_connections: Option<u64>,
    /// The `/metrics` listener; `None`: off.
    pub metrics_addr: Option<SocketAddr>,
}

/// Where users, refresh tokens and throttle counters live, and how they are reached.
#[derive(Debug, Clone)]
pub struct StoresConfig {
    pub database: Database,
    pub database_max_connections: u32,
    pub token_store: TokenStoreKind,
    pub redis_key_prefix: String,
    pub redis_max_connections: u32,
    /// `REDIS_WAIT_REPLICAS`: replicas that must hold a session change before it is answered
    /// (Redis `WAIT`); zero: answered once the primary has it.
    pub redis_wait_replicas: u32,
    /// Bound on every call to PostgreSQL or Redis, pool checkout included.
    pub dependency_timeout: Duration,
    /// Where the embedded database and the generated secret live.
    pub data_dir: PathBuf,
    /// How long `/auth/me` may serve a user read from the database earlier; zero: never.
    pub user_cache_ttl: Duration,
    /// How many users that cache holds at most.
    pub user_cache_size: usize,
}

/// The access and refresh tokens.
#[derive(Clone)]
pub struct TokensConfig {
    /// `None` means "not configured": development mode keeps a generated one in `data_dir`,
    /// production refuses to start.
    pub jwt_secret: Option<Vec<u8>>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    /// Accepted clock difference between replicas when checking `exp` and `nbf`.
    pub jwt_leeway: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
}

/// The refresh cookie's attributes, which the device cookie shares.
#[derive(Debug, Clone)]
pub struct CookiesConfig {
    pub name: String,
    pub secure: bool,
    pub samesite: SameSite,
    /// Lifetime of the device cookie (`{COOKIE_NAME}-device`) set at login and registration.
    pub device_ttl: Duration,
}

/// The hasher's threads and queue; its Argon2 parameters are `Config::argon2`.
#[derive(Debug, Clone)]
pub struct HasherConfig {
    pub threads: usize,
    /// How many hash or verify jobs may wait for a hasher thread before new ones are shed.
    pub queue: usize,
    /// The niceness of the hasher threads (0 to 19): higher yields the CPU to the HTTP workers.
    pub nice: i32,
}

/// Attempts allowed per window before `429 RATE_LIMITED`; `0` turns a limit off.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    pub window: Duration,
    pub login_per_ip: u32,
    pub register_per_ip: u32,
    pub per_account: u32,
}

/// Access-token signing keys: the algorithm and the rotation's timings.
#[derive(Debug, Clone)]
pub struct SigningConfig {
    /// `JWT_ALGORITHM`: EdDSA (the default), ES256 or HS256.
    pub algorithm: crate::keys::Algorithm,
    /// How long a key signs before the next one takes over.
    pub key_lifetime: Duration,
    /// `Cache-Control: max-age` of the JWKS: how long a verifier may keep it.
    pub jwks_max_age: Duration,
    /// How often each replica reloads the keys (and its key worker ticks).
    pub key_refresh: Duration,
}

impl SigningConfig {
    /// The rotation's timings: a next key is published for `JWKS_MAX_AGE` plus the refresh
    /// interval before it signs (every verifier and replica has had the chance to fetch it);
    /// a retired key verifies for the refresh interval (a replica may sign with it until its
    /// next reload), `ACCESS_TOKEN_TTL` and `JWT_LEEWAY` more.
    pub fn policy(&self, tokens: &TokensConfig) -> crate::keys::Policy {
        crate::keys::Policy {
            algorithm: self.algorithm,
            lifetime: self.key_lifetime,
            publish_ahead: self.jwks_max_age + self.key_refresh,
            keep_after_retire: self.key_refresh + tokens.access_token_ttl + tokens.jwt_leeway,
        }
    }
}

/// Outgoing mail: where it goes, who it is from, what its links point at, how it is retried.
/// No `Debug`: `smtp_url` may carry the SMTP password.
#[derive(Clone)]
pub struct MailConfig {
    /// `smtp://` (STARTTLS with `?tls=required`, plain otherwise) or `smtps://` (implicit TLS),
    /// with `user:password@` when the server wants credentials; `None`: `.eml` files under
    /// `DATA_DIR/outbox/`.
    pub smtp_url: Option<String>,
    pub from: String,
    /// The SPA's base URL: mail links point at its pages.
    pub app_url: String,
    /// Templates that replace the built-in ones, by file name; `None`: the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// How often the mail worker looks for due mail.
    pub poll_interval: Duration,
    /// The first retry's delay; each later one doubles it, up to an hour.
    pub retry_base: Duration,
    /// Attempts before a message is given up.
    pub max_attempts: u32,
    /// Bound on one SMTP conversation.
    pub send_timeout: Duration,
}

/// The account lifecycle: token lifetimes, the verified-email requirement, the forgot floor.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub password_reset_ttl: Duration,
    pub email_verify_ttl: Duration,
    pub require_verified_email: bool,
    /// Every `POST /auth/password/forgot` answers after at least this long, known address or not.
    pub forgot_floor: Duration,
}

/// Sessions and the revocation of their access tokens.
#[derive(Debug, Clone)]
pub struct SessionsConfig {
    /// `SESSIONS_PER_USER`: beyond it, a login ends the user's least recently used session.
    pub per_user: u32,
    /// `REVOCATION_FAIL_OPEN`: how long a replica that lost the revocation channel keeps
    /// accepting bearer tokens from what it knows before it refuses them with 503.
    pub revocation_fail_open: Duration,
    /// `REVOCATION_HEARTBEAT_MS`: how often the listener checks its subscription and the record.
    pub revocation_heartbeat: Duration,
}

/// The admin API on the management listener.
#[derive(Clone, Default)]
pub struct AdminConfig {
    /// `ADMIN_TOKEN`: at least 32 bytes; `None` turns the admin API off.
    pub token: Option<Vec<u8>>,
}

impl std::fmt::Debug for AdminConfig {
    // The token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig").field("token", &self.token.as_ref().map(|_| "<redacted>")).finish()
    }
}

/// The audit trail.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `AUDIT_RETENTION_DAYS`: events older than this are pruned.
    pub retention: Duration,
}
