//! Configuration from the environment: every variable, its default, and a startup error that
//! names the variable when a value is bad.

use std::{collections::HashMap, fmt::Display, net::IpAddr, net::SocketAddr, str::FromStr, time::Duration};

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
    Redis(String),
    /// In this process's memory: for one process only.
    Memory,
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

#[derive(Clone)]
pub struct Config {
    pub mode: Mode,
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub database: Database,
    pub database_max_connections: u32,
    pub token_store: TokenStoreKind,
    pub redis_key_prefix: String,
    pub redis_max_connections: u32,
    /// Bound on every call to PostgreSQL or Redis, pool checkout included.
    pub dependency_timeout: Duration,
    /// `None` means "not configured": development mode keeps a generated one in `data_dir`,
    /// production refuses to start.
    pub jwt_secret: Option<Vec<u8>>,
    /// Where the embedded database and the generated secret live.
    pub data_dir: std::path::PathBuf,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    /// Accepted clock difference between replicas when checking `exp` and `nbf`.
    pub jwt_leeway: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    pub cookie_name: String,
    pub cookie_secure: bool,
    pub cookie_samesite: SameSite,
    /// Lifetime of the device cookie (`{COOKIE_NAME}-device`) set at login and registration.
    pub device_cookie_ttl: Duration,
    pub cors_origins: Vec<String>,
    pub metrics_addr: Option<SocketAddr>,
    pub hasher_threads: usize,
    /// How many hash or verify jobs may wait for a hasher thread before new ones are shed.
    pub hasher_queue: usize,
    /// The niceness of the hasher threads (0 to 19): higher yields the CPU to the HTTP workers.
    pub hasher_nice: i32,
    /// How long `/auth/me` may serve a user read from the database earlier; zero: never.
    pub user_cache_ttl: Duration,
    /// How many users that cache holds at most.
    pub user_cache_size: usize,
    pub argon2: Argon2Config,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    pub password_denylist: bool,
    pub throttle: ThrottleConfig,
    /// Peers whose `X-Forwarded-For` is believed (a load balancer in front); empty: none.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a request body may take to arrive after its headers.
    pub body_read_timeout: Duration,
    /// Open connections per client address (IPv6: per /64); zero: no bound.
    pub max_connections_per_ip: usize,
    /// Open connections in total; `None`: as many as the open-files limit leaves room for.
    pub max_connections: Option<u64>,
}

/// Attempts allowed per window before `429 RATE_LIMITED`; `0` turns a limit off.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    pub window: Duration,
    pub login_per_ip: u32,
    pub register_per_ip: u32,
    pub per_account: u32,
}

/// An address block such as `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<IpNet, String> {
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(IpNet { addr: addr.to_canonical(), prefix })
    }
}

impl std::fmt::Debug for Config {
    // The secret never reaches a log, not even through a debug print of the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

const MIN_SECRET_BYTES: usize = 32;
const MAX_COOKIE_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);
const WEAK_SECRET: &str = "does not look random (a repeated pattern, a run or too few distinct characters)";

impl Config {
    /// Reads the process environment (after `.env`, when present, has been loaded into it).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads from a map: what tests use to build a config without touching the environment.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        Self::from_lookup(|key| vars.get(key).cloned())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env(&get);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let data_dir = std::path::PathBuf::from(env.string("DATA_DIR", "data"));
        let database = match env.raw("DATABASE_URL") {
            None => Database::Sqlite(format!("sqlite://{}", data_dir.join("gatehouse.db").display())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Database::Postgres(url),
            Some(url) if url.starts_with("sqlite:") => Database::Sqlite(url),
            Some(url) => return Err(invalid("DATABASE_URL", &redact_url(&url), "postgres://…, sqlite://… or sqlite::memory:")),
        };
        let token_store = match env.raw("REDIS_URL") {
            None => TokenStoreKind::Memory,
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => TokenStoreKind::Redis(url),
            Some(url) => return Err(invalid("REDIS_URL", &redact_url(&url), "redis://… or rediss://…")),
        };
        // Without an explicit mode, a PostgreSQL database means production (secrets required);
        // the embedded default is a development setup.
        let mode = match env.raw("GATEHOUSE_ENV").as_deref() {
            None if matches!(database, Database::Postgres(_)) => Mode::Production,
            None => Mode::Development,
            Some("production") => Mode::Production,
            Some("development") => Mode::Development,
            Some(other) => return Err(invalid("GATEHOUSE_ENV", other, "production or development")),
        };
        let jwt_secret = match env.raw("JWT_SECRET") {
            // Security: a made-up secret (a repeated word, a run of characters) lets anyone who
            // guesses it mint access tokens; production refuses one, development only warns.
            Some(secret) if secret.len() >= MIN_SECRET_BYTES && !crate::secret::looks_random(secret.as_bytes()) => {
                if mode == Mode::Production {
                    return Err(ConfigError(format!("JWT_SECRET {WEAK_SECRET}; make a random one, for example: openssl rand -base64 48")));
                }
                log::warn!("JWT_SECRET {WEAK_SECRET}: accepted in development only (make a random one: openssl rand -base64 48)");
                Some(secret.into_bytes())
            }
            Some(secret) if secret.len() >= MIN_SECRET_BYTES => Some(secret.into_bytes()),
            Some(_) => {
                return Err(ConfigError(format!(
                    "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (for example: openssl rand -base64 48)"
                )));
            }
            None if mode == Mode::Production => {
                return Err(ConfigError(
                    "JWT_SECRET is required in production (at least 32 bytes, for example: openssl rand -base64 48); \
                     set GATEHOUSE_ENV=development to run with one generated and kept in DATA_DIR"
                        .into(),
                ));
            }
            None => None,
        };
        let cookie_samesite = match env.raw("COOKIE_SAMESITE").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("lax") => SameSite::Lax,
            Some("strict") => SameSite::Strict,
            Some("none") => SameSite::None,
            Some(other) => return Err(invalid("COOKIE_SAMESITE", other, "Strict, Lax or None")),
        };
        let cookie_secure = env.parse("COOKIE_SECURE", false)?;
        // Browsers drop `SameSite=None` cookies that are not `Secure`: refuse the combination
        // rather than ship a cookie that silently never comes back.
        if cookie_samesite == SameSite::None && !cookie_secure {
            return Err(ConfigError("COOKIE_SAMESITE=None requires COOKIE_SECURE=true".into()));
        }
        let metrics_addr = match env.raw("METRICS_ADDR").as_deref() {
            Some("" | "off") => None,
            Some(addr) => Some(addr.parse().map_err(|_| invalid("METRICS_ADDR", addr, "host:port or off"))?),
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9100))),
        };
        let hasher_threads = env.parse("HASHER_THREADS", cores)?;
        let config = Config {
            mode,
            host: env.string("HOST", "127.0.0.1"),
            port: env.parse("PORT", 3001)?,
            workers: env.parse("WORKERS", cores)?,
            database,
            database_max_connections: env.parse("DATABASE_MAX_CONNECTIONS", 10)?,
            token_store,
            redis_key_prefix: env.string("REDIS_KEY_PREFIX", "gatehouse:"),
            redis_max_connections: env.parse("REDIS_MAX_CONNECTIONS", 16)?,
            dependency_timeout: Duration::from_millis(env.parse("DEPENDENCY_TIMEOUT_MS", 500)?),
            jwt_secret,
            data_dir,
            jwt_issuer: env.string("JWT_ISSUER", "gatehouse"),
            jwt_audience: env.string("JWT_AUDIENCE", "gatehouse"),
            access_token_ttl: Duration::from_secs(env.parse("ACCESS_TOKEN_TTL", 300)?),
            jwt_leeway: Duration::from_secs(env.parse("JWT_LEEWAY", 5)?),
            refresh_token_ttl: Duration::from_secs(env.parse("REFRESH_TOKEN_TTL", 172_800)?),
            refresh_reuse_grace: Duration::from_secs(env.parse("REFRESH_REUSE_GRACE", 10)?),
            cookie_name: env.string("COOKIE_NAME", "jwt"),
            cookie_secure,
            cookie_samesite,
            device_cookie_ttl: Duration::from_secs(env.parse("DEVICE_COOKIE_TTL", 31_536_000)?),
            cors_origins: env
                .string("CORS_ORIGINS", "http://localhost:5173,http://127.0.0.1:5173")
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            metrics_addr,
            hasher_threads,
            hasher_queue: env.parse("HASHER_QUEUE", 64 * hasher_threads)?,
            hasher_nice: env.parse("HASHER_NICE", 5)?,
            user_cache_ttl: Duration::from_secs(env.parse("USER_CACHE_TTL", 5)?),
            user_cache_size: env.parse("USER_CACHE_SIZE", 10_000)?,
            argon2: Argon2Config { m_kib: env.parse("ARGON2_M_KIB", 19_456)?, t: env.parse("ARGON2_T", 2)?, p: env.parse("ARGON2_P", 1)? },
            max_body_bytes: env.parse("MAX_BODY_BYTES", 16 * 1024)?,
            shutdown_grace: Duration::from_secs(env.parse("SHUTDOWN_GRACE", 10)?),
            password_denylist: env.parse("PASSWORD_DENYLIST", true)?,
            throttle: ThrottleConfig {
                window: Duration::from_secs(env.parse("THROTTLE_WINDOW", 900)?),
                login_per_ip: env.parse("THROTTLE_LOGIN_PER_IP", 100)?,
                register_per_ip: env.parse("THROTTLE_REGISTER_PER_IP", 20)?,
                per_account: env.parse("THROTTLE_PER_ACCOUNT", 10)?,
            },
            trusted_proxies: env
                .string("TRUSTED_PROXIES", "")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|e| ConfigError(format!("invalid value for TRUSTED_PROXIES: {e}"))))
                .collect::<Result<_, _>>()?,
            body_read_timeout: Duration::from_secs(env.parse("BODY_READ_TIMEOUT", 10)?),
            max_connections_per_ip: env.parse("MAX_CONNECTIONS_PER_IP", 64)?,
            max_connections: env.raw("MAX_CONNECTIONS").is_some().then(|| env.parse("MAX_CONNECTIONS", 0)).transpose()?,
        };
        config.check()?;
        Ok(config)
    }

    /// Cross-field and range checks, each naming its variable.
    fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("WORKERS", self.workers as u64),
            ("HASHER_THREADS", self.hasher_threads as u64),
            ("HASHER_QUEUE", self.hasher_queue as u64),
            ("ACCESS_TOKEN_TTL", self.access_token_ttl.as_secs()),
            ("REFRESH_TOKEN_TTL", self.refresh_token_ttl.as_secs()),
            ("DATABASE_MAX_CONNECTIONS", self.database_max_connections as u64),
            ("REDIS_MAX_CONNECTIONS", self.redis_max_connections as u64),
            ("DEPENDENCY_TIMEOUT_MS", self.dependency_timeout.as_millis() as u64),
            ("THROTTLE_WINDOW", self.throttle.window.as_secs()),
            ("DEVICE_COOKIE_TTL", self.device_cookie_ttl.as_secs()),
            ("BODY_READ_TIMEOUT", self.body_read_timeout.as_secs()),
            ("MAX_CONNECTIONS", self.max_connections.unwrap_or(1)),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError(format!("{name} must be greater than 0")));
        }
        if self.cookie_name.is_empty() || !self.cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b)) {
            return Err(invalid("COOKIE_NAME", &self.cookie_name, "letters, digits, '_' or '-'"));
        }
        // Browsers store a `__Host-` cookie only with `Path=/`, and the refresh cookie is scoped
        // to `/auth`: such a name would silently never be stored. `__Secure-` works (with Secure).
        if self.cookie_name.starts_with("__Host-") {
            return Err(ConfigError(format!(
                "COOKIE_NAME={} cannot work: browsers require Path=/ for __Host- cookies and the refresh cookie is scoped to /auth; use a __Secure- name",
                self.cookie_name
            )));
        }
        if self.cookie_name.starts_with("__Secure-") && !self.cookie_secure {
            return Err(ConfigError(format!("COOKIE_NAME={} requires COOKIE_SECURE=true", self.cookie_name)));
        }
        argon2::Params::new(self.argon2.m_kib, self.argon2.t, self.argon2.p, None)
            .map_err(|e| ConfigError(format!("ARGON2_M_KIB / ARGON2_T / ARGON2_P are not valid Argon2 parameters: {e}")))?;
        if !(0..=19).contains(&self.hasher_nice) {
            return Err(invalid("HASHER_NICE", &self.hasher_nice.to_string(), "0 to 19"));
        }
        // Browsers cap a cookie's lifetime at 400 days (RFC 6265bis): a longer one would only
        // mislead the reader.
        if self.device_cookie_ttl > MAX_COOKIE_LIFETIME {
            return Err(invalid("DEVICE_COOKIE_TTL", &self.device_cookie_ttl.as_secs().to_string(), "1 to 34560000 seconds (400 days)"));
        }
        if self.max_body_bytes < 256 {
            return Err(invalid("MAX_BODY_BYTES", &self.max_body_bytes.to_string(), "at least 256"));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A URL for an error message, without its password.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn invalid(name: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError(format!("invalid value for {name}: {value:?} (expected {expected})"))
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    /// An unset or empty variable counts as "not given".
    fn raw(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_string())
    }

    fn parse<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| ConfigError(format!("invalid value for {name}: {v:?} ({e})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_map(&map)
    }

    const SECRET: (&str, &str) = ("JWT_SECRET", "vLa00q66yVlBaJt62MidNXm1MUofIAcB0dxFuOuc+Qpd");

    #[test]
    fn defaults_apply_when_only_the_secret_is_set() {
        let c = config(&[SECRET]).unwrap();
        assert_eq!(c.port, 3001);
        assert_eq!(c.cookie_name, "jwt");
        assert_eq!(c.access_token_ttl, Duration::from_secs(300));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(172_800));
        assert_eq!(c.device_cookie_ttl, Duration::from_secs(31_536_000));
        assert_eq!((c.argon2.m_kib, c.argon2.t, c.argon2.p), (19_456, 2, 1));
    }

    #[test]
    fn production_without_a_secret_fails_naming_the_variable() {
        let err = config(&[("GATEHOUSE_ENV", "production")]).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET"), "{err}");
        let err = config(&[("DATABASE_URL", "postgres://db/gatehouse")]).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET"), "a PostgreSQL URL means production: {err}");
    }

    #[test]
    fn nothing_set_means_the_embedded_development_setup() {
        let c = config(&[]).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.database, Database::Sqlite("sqlite://data/gatehouse.db".into()));
        assert_eq!(c.token_store, TokenStoreKind::Memory);
        let c = config(&[("DATA_DIR", "/var/lib/gh"), ("DATABASE_URL", "sqlite::memory:")]).unwrap();
        assert_eq!(c.database, Database::Sqlite("sqlite::memory:".into()));
    }

    #[test]
    fn urls_select_the_engines_and_bad_ones_are_named_without_their_password() {
        let c = config(&[SECRET, ("DATABASE_URL", "postgres://u:pw@db/gh"), ("REDIS_URL", "redis://cache:6379")]).unwrap();
        assert_eq!(c.database, Database::Postgres("postgres://u:pw@db/gh".into()));
        assert_eq!(c.token_store, TokenStoreKind::Redis("redis://cache:6379".into()));
        let err = config(&[SECRET, ("DATABASE_URL", "mysql://u:hunter2@db/gh")]).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_short_secret_is_refused() {
        let err = config(&[("JWT_SECRET", "short")]).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET") && err.contains("32"), "{err}");
    }

    #[test]
    fn a_made_up_secret_is_refused_in_production_only() {
        for weak in ["test-secret-test-secret-test-secret-0123", "0123456789abcdef0123456789abcdef", &"x".repeat(64)] {
            let err = config(&[("GATEHOUSE_ENV", "production"), ("JWT_SECRET", weak)]).unwrap_err().to_string();
            assert!(err.contains("JWT_SECRET") && err.contains("openssl rand -base64 48"), "{err}");
            assert!(!err.contains(weak), "the message never repeats the secret: {err}");
            let dev = config(&[("GATEHOUSE_ENV", "development"), ("JWT_SECRET", weak)]).unwrap();
            assert_eq!(dev.jwt_secret.as_deref(), Some(weak.as_bytes()), "development warns and goes on");
        }
        assert!(config(&[("GATEHOUSE_ENV", "production"), SECRET]).is_ok());
    }

    #[test]
    fn development_mode_runs_without_a_secret() {
        let c = config(&[("GATEHOUSE_ENV", "development")]).unwrap();
        assert!(c.jwt_secret.is_none());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("PORT", "http"),
            ("ACCESS_TOKEN_TTL", "-1"),
            ("COOKIE_SAMESITE", "sometimes"),
            ("HASHER_THREADS", "0"),
            ("HASHER_NICE", "-5"),
            ("HASHER_NICE", "20"),
            ("ARGON2_M_KIB", "1"),
            ("DEVICE_COOKIE_TTL", "0"),
            ("DEVICE_COOKIE_TTL", "34560001"),
        ] {
            let err = config(&[SECRET, (name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn connection_bounds_default_and_refuse_nonsense() {
        let c = config(&[SECRET]).unwrap();
        assert_eq!((c.body_read_timeout, c.max_connections_per_ip, c.max_connections), (Duration::from_secs(10), 64, None));
        let c = config(&[SECRET, ("MAX_CONNECTIONS_PER_IP", "0"), ("MAX_CONNECTIONS", "5000")]).unwrap();
        assert_eq!((c.max_connections_per_ip, c.max_connections), (0, Some(5000)));
        for (name, value) in
            [("BODY_READ_TIMEOUT", "0"), ("BODY_READ_TIMEOUT", "soon"), ("MAX_CONNECTIONS", "0"), ("MAX_CONNECTIONS_PER_IP", "-1")]
        {
            let err = config(&[SECRET, (name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn trusted_proxies_parse_as_addresses_or_blocks() {
        let c = config(&[SECRET, ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7, ::1")]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(c.trusted_proxies[0].contains(ip("10.200.3.4")));
        assert!(!c.trusted_proxies[0].contains(ip("11.0.0.1")));
        assert!(c.trusted_proxies[1].contains(ip("192.168.1.7")));
        assert!(!c.trusted_proxies[1].contains(ip("192.168.1.8")));
        assert!(c.trusted_proxies[2].contains(ip("::1")));
        assert!(c.trusted_proxies[0].contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6 peers match IPv4 blocks");
        let err = config(&[SECRET, ("TRUSTED_PROXIES", "10.0.0.0/33")]).unwrap_err().to_string();
        assert!(err.contains("TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn cookie_prefixes_are_checked() {
        let err = config(&[SECRET, ("COOKIE_NAME", "__Host-session"), ("COOKIE_SECURE", "true")]).unwrap_err().to_string();
        assert!(err.contains("COOKIE_NAME") && err.contains("__Secure-"), "{err}");
        assert!(config(&[SECRET, ("COOKIE_NAME", "__Secure-session")]).is_err());
        assert!(config(&[SECRET, ("COOKIE_NAME", "__Secure-session"), ("COOKIE_SECURE", "true")]).is_ok());
    }

    #[test]
    fn samesite_none_requires_secure() {
        assert!(config(&[SECRET, ("COOKIE_SAMESITE", "None")]).is_err());
        assert!(config(&[SECRET, ("COOKIE_SAMESITE", "None"), ("COOKIE_SECURE", "true")]).is_ok());
    }

    #[test]
    fn the_secret_never_prints() {
        let c = config(&[SECRET]).unwrap();
        assert!(!format!("{c:?}").contains(SECRET.1));
    }
}
