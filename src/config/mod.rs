//! Configuration from the environment: every variable, its default, and a startup error that
//! names the variable when a value is bad.

mod ipnet;
mod sections;

use std::{collections::HashMap, fmt::Display, net::SocketAddr, str::FromStr, time::Duration};

pub use ipnet::IpNet;
pub use sections::SigningConfig;
pub use sections::{
    AccountConfig, Argon2Config, CookiesConfig, Database, HasherConfig, HttpConfig, MailConfig, Mode, RedisTarget, SameSite, StoresConfig,
    ThrottleConfig, TokenStoreKind, TokensConfig,
};
pub use sections::{AdminConfig, AuditConfig, SessionsConfig};

#[derive(Clone)]
pub struct Config {
    pub mode: Mode,
    pub http: HttpConfig,
    pub stores: StoresConfig,
    pub tokens: TokensConfig,
    pub cookies: CookiesConfig,
    pub hasher: HasherConfig,
    pub argon2: Argon2Config,
    pub throttle: ThrottleConfig,
    pub password_denylist: bool,
    pub signing: SigningConfig,
    pub mail: MailConfig,
    pub account: AccountConfig,
    pub sessions: SessionsConfig,
    pub admin: AdminConfig,
    pub audit: AuditConfig,
}

impl std::fmt::Debug for Config {
    // The secret never reaches a log, not even through a debug print of the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("host", &self.http.host)
            .field("port", &self.http.port)
            .field("jwt_secret", &self.tokens.jwt_secret.as_ref().map(|_| "<redacted>"))
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
        let token_store = redis_target(&env)?.map_or(TokenStoreKind::Memory, TokenStoreKind::Redis);
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
            http: HttpConfig {
                host: env.string("HOST", "127.0.0.1"),
                port: env.parse("PORT", 3001)?,
                workers: env.parse("WORKERS", cores)?,
                cors_origins: env
                    .string("CORS_ORIGINS", "http://localhost:5173,http://127.0.0.1:5173")
                    .split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect(),
                max_body_bytes: env.parse("MAX_BODY_BYTES", 16 * 1024)?,
                shutdown_grace: Duration::from_secs(env.parse("SHUTDOWN_GRACE", 10)?),
                trusted_proxies: env
                    .string("TRUSTED_PROXIES", "")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().map_err(|e| ConfigError(format!("invalid value for TRUSTED_PROXIES: {e}"))))
                    .collect::<Result<_, _>>()?,
                body_read_timeout: Duration::from_secs(env.parse("BODY_READ_TIMEOUT", 10)?),
                max_connections_per_ip: env.parse("MAX_CONNECTIONS_PER_IP", 64)?,
                max_connections: env.optional("MAX_CONNECTIONS")?,
                metrics_addr,
            },
            stores: StoresConfig {
                database,
                database_max_connections: env.parse("DATABASE_MAX_CONNECTIONS", 10)?,
                token_store,
                redis_key_prefix: env.string("REDIS_KEY_PREFIX", "gatehouse:"),
                redis_max_connections: env.parse("REDIS_MAX_CONNECTIONS", 16)?,
                redis_wait_replicas: env.parse("REDIS_WAIT_REPLICAS", 0)?,
                dependency_timeout: Duration::from_millis(env.parse("DEPENDENCY_TIMEOUT_MS", 500)?),
                data_dir,
                user_cache_ttl: Duration::from_secs(env.parse("USER_CACHE_TTL", 5)?),
                user_cache_size: env.parse("USER_CACHE_SIZE", 10_000)?,
            },
            tokens: TokensConfig {
                jwt_secret,
                jwt_issuer: env.string("JWT_ISSUER", "gatehouse"),
                jwt_audience: env.string("JWT_AUDIENCE", "gatehouse"),
                access_token_ttl: Duration::from_secs(env.parse("ACCESS_TOKEN_TTL", 300)?),
                jwt_leeway: Duration::from_secs(env.parse("JWT_LEEWAY", 5)?),
                refresh_token_ttl: Duration::from_secs(env.parse("REFRESH_TOKEN_TTL", 172_800)?),
                refresh_reuse_grace: Duration::from_secs(env.parse("REFRESH_REUSE_GRACE", 10)?),
            },
            cookies: CookiesConfig {
                name: env.string("COOKIE_NAME", "jwt"),
                secure: cookie_secure,
                samesite: cookie_samesite,
                device_ttl: Duration::from_secs(env.parse("DEVICE_COOKIE_TTL", 31_536_000)?),
            },
            hasher: HasherConfig {
                threads: hasher_threads,
                queue: env.parse("HASHER_QUEUE", 64 * hasher_threads)?,
                nice: env.parse("HASHER_NICE", 5)?,
            },
            argon2: Argon2Config { m_kib: env.parse("ARGON2_M_KIB", 19_456)?, t: env.parse("ARGON2_T", 2)?, p: env.parse("ARGON2_P", 1)? },
            throttle: ThrottleConfig {
                window: Duration::from_secs(env.parse("THROTTLE_WINDOW", 900)?),
                login_per_ip: env.parse("THROTTLE_LOGIN_PER_IP", 100)?,
                register_per_ip: env.parse("THROTTLE_REGISTER_PER_IP", 20)?,
                per_account: env.parse("THROTTLE_PER_ACCOUNT", 10)?,
            },
            password_denylist: env.parse("PASSWORD_DENYLIST", true)?,
            signing: SigningConfig {
                algorithm: env.parse("JWT_ALGORITHM", crate::keys::Algorithm::EdDSA)?,
                key_lifetime: Duration::from_secs(env.parse("SIGNING_KEY_LIFETIME", 2_592_000)?),
                jwks_max_age: Duration::from_secs(env.parse("JWKS_MAX_AGE", 300)?),
                key_refresh: Duration::from_secs(env.parse("SIGNING_KEY_REFRESH", 60)?),
            },
            mail: MailConfig {
                smtp_url: match env.raw("SMTP_URL") {
                    None => None,
                    Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => Some(url),
                    Some(url) => return Err(invalid("SMTP_URL", &redact_url(&url), "smtp://… or smtps://…")),
                },
                from: env.string("MAIL_FROM", "gatehouse <noreply@localhost>"),
                app_url: env.string("APP_URL", "http://localhost:5173").trim_end_matches('/').to_string(),
                templates_dir: env.raw("MAIL_TEMPLATES_DIR").map(std::path::PathBuf::from),
                poll_interval: Duration::from_millis(env.parse("MAIL_POLL_INTERVAL_MS", 1000)?),
                retry_base: Duration::from_millis(env.parse("MAIL_RETRY_BASE_MS", 5000)?),
                max_attempts: env.parse("MAIL_MAX_ATTEMPTS", 10)?,
                send_timeout: Duration::from_secs(env.parse("MAIL_SEND_TIMEOUT", 30)?),
            },
            account: AccountConfig {
                password_reset_ttl: Duration::from_secs(env.parse("PASSWORD_RESET_TTL", 1800)?),
                email_verify_ttl: Duration::from_secs(env.parse("EMAIL_VERIFY_TTL", 86_400)?),
                require_verified_email: env.parse("REQUIRE_VERIFIED_EMAIL", false)?,
                forgot_floor: Duration::from_millis(env.parse("FORGOT_FLOOR_MS", 250)?),
            },
            sessions: SessionsConfig {
                per_user: env.parse("SESSIONS_PER_USER", 1)?,
                revocation_fail_open: Duration::from_secs(env.parse("REVOCATION_FAIL_OPEN", 60)?),
                revocation_heartbeat: Duration::from_millis(env.parse("REVOCATION_HEARTBEAT_MS", 1000)?),
            },
            admin: AdminConfig {
                // Security: the admin token guards every account; a short one is refused.
                token: match env.raw("ADMIN_TOKEN") {
                    Some(t) if t.len() >= MIN_SECRET_BYTES && crate::secret::looks_random(t.as_bytes()) => Some(t.into_bytes()),
                    Some(_) => {
                        return Err(ConfigError(format!(
                            "ADMIN_TOKEN must be at least {MIN_SECRET_BYTES} random bytes (for example: openssl rand -base64 48)"
                        )));
                    }
                    None => None,
                },
            },
            audit: AuditConfig { retention: Duration::from_secs(env.parse::<u64>("AUDIT_RETENTION_DAYS", 90)?.saturating_mul(86_400)) },
        };
        config.check()?;
        Ok(config)
    }

    /// Cross-field and range checks, each naming its variable.
    fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("WORKERS", self.http.workers as u64),
            ("HASHER_THREADS", self.hasher.threads as u64),
            ("HASHER_QUEUE", self.hasher.queue as u64),
            ("ACCESS_TOKEN_TTL", self.tokens.access_token_ttl.as_secs()),
            ("REFRESH_TOKEN_TTL", self.tokens.refresh_token_ttl.as_secs()),
            ("DATABASE_MAX_CONNECTIONS", self.stores.database_max_connections as u64),
            ("REDIS_MAX_CONNECTIONS", self.stores.redis_max_connections as u64),
            ("DEPENDENCY_TIMEOUT_MS", self.stores.dependency_timeout.as_millis() as u64),
            ("THROTTLE_WINDOW", self.throttle.window.as_secs()),
            ("DEVICE_COOKIE_TTL", self.cookies.device_ttl.as_secs()),
            ("BODY_READ_TIMEOUT", self.http.body_read_timeout.as_secs()),
            ("MAX_CONNECTIONS", self.http.max_connections.unwrap_or(1)),
            ("SIGNING_KEY_LIFETIME", self.signing.key_lifetime.as_secs()),
            ("SIGNING_KEY_REFRESH", self.signing.key_refresh.as_secs()),
            ("MAIL_POLL_INTERVAL_MS", self.mail.poll_interval.as_millis() as u64),
            ("MAIL_RETRY_BASE_MS", self.mail.retry_base.as_millis() as u64),
            ("MAIL_MAX_ATTEMPTS", self.mail.max_attempts as u64),
            ("MAIL_SEND_TIMEOUT", self.mail.send_timeout.as_secs()),
            ("PASSWORD_RESET_TTL", self.account.password_reset_ttl.as_secs()),
            ("EMAIL_VERIFY_TTL", self.account.email_verify_ttl.as_secs()),
            ("SESSIONS_PER_USER", u64::from(self.sessions.per_user)),
            ("AUDIT_RETENTION_DAYS", self.audit.retention.as_secs()),
            ("REVOCATION_HEARTBEAT_MS", self.sessions.revocation_heartbeat.as_millis() as u64),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError(format!("{name} must be greater than 0")));
        }
        if self.cookies.name.is_empty() || !self.cookies.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b)) {
            return Err(invalid("COOKIE_NAME", &self.cookies.name, "letters, digits, '_' or '-'"));
        }
        // Browsers store a `__Host-` cookie only with `Path=/`, and the refresh cookie is scoped
        // to `/auth`: such a name would silently never be stored. `__Secure-` works (with Secure).
        if self.cookies.name.starts_with("__Host-") {
            return Err(ConfigError(format!(
                "COOKIE_NAME={} cannot work: browsers require Path=/ for __Host- cookies and the refresh cookie is scoped to /auth; use a __Secure- name",
                self.cookies.name
            )));
        }
        if self.cookies.name.starts_with("__Secure-") && !self.cookies.secure {
            return Err(ConfigError(format!("COOKIE_NAME={} requires COOKIE_SECURE=true", self.cookies.name)));
        }
        argon2::Params::new(self.argon2.m_kib, self.argon2.t, self.argon2.p, None)
            .map_err(|e| ConfigError(format!("ARGON2_M_KIB / ARGON2_T / ARGON2_P are not valid Argon2 parameters: {e}")))?;
        if !(0..=19).contains(&self.hasher.nice) {
            return Err(invalid("HASHER_NICE", &self.hasher.nice.to_string(), "0 to 19"));
        }
        // Browsers cap a cookie's lifetime at 400 days (RFC 6265bis): a longer one would only
        // mislead the reader.
        if self.cookies.device_ttl > MAX_COOKIE_LIFETIME {
            return Err(invalid("DEVICE_COOKIE_TTL", &self.cookies.device_ttl.as_secs().to_string(), "1 to 34560000 seconds (400 days)"));
        }
        if lettre::message::Mailbox::from_str(&self.mail.from).is_err() {
            return Err(invalid("MAIL_FROM", &self.mail.from, "an address, optionally with a name: gatehouse <noreply@example.com>"));
        }
        if !(self.mail.app_url.starts_with("http://") || self.mail.app_url.starts_with("https://")) {
            return Err(invalid("APP_URL", &self.mail.app_url, "http://… or https://…, the SPA's base URL"));
        }
        if self.http.max_body_bytes < 256 {
            return Err(invalid("MAX_BODY_BYTES", &self.http.max_body_bytes.to_string(), "at least 256"));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> String {
        format!("{}:{}", self.http.host, self.http.port)
    }
}

/// A URL for an error message, without its password.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// The Redis deployment the variables name, if any: `REDIS_CLUSTER_NODES`, or `REDIS_SENTINELS`
/// with `REDIS_SENTINEL_MASTER`, or `REDIS_URL` alone. With a cluster or Sentinels, `REDIS_URL`
/// only carries credentials (and, for Sentinels, the database).
fn redis_target<F: Fn(&str) -> Option<String>>(env: &Env<'_, F>) -> Result<Option<RedisTarget>, ConfigError> {
    let url = match env.raw("REDIS_URL") {
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => Some(url),
        Some(url) => return Err(invalid("REDIS_URL", &redact_url(&url), "redis://… or rediss://…")),
        None => None,
    };
    let cluster = env.raw("REDIS_CLUSTER_NODES").map(|v| host_ports("REDIS_CLUSTER_NODES", &v)).transpose()?;
    let sentinels = env.raw("REDIS_SENTINELS").map(|v| host_ports("REDIS_SENTINELS", &v)).transpose()?;
    let master = env.raw("REDIS_SENTINEL_MASTER");
    Ok(match (cluster, sentinels, master) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ConfigError(
                "REDIS_CLUSTER_NODES and REDIS_SENTINELS/REDIS_SENTINEL_MASTER name two Redis deployments: set one".into(),
            ));
        }
        (Some(nodes), None, None) => {
            // A cluster has one database: a URL asking for another would be silently ignored.
            if url.as_deref().is_some_and(|u| redis_db(u) != 0) {
                return Err(ConfigError(
                    "REDIS_URL names a database other than 0, which REDIS_CLUSTER_NODES (a Redis Cluster) cannot use".into(),
                ));
            }
            Some(RedisTarget::Cluster { nodes, url })
        }
        (None, Some(sentinels), Some(master)) => Some(RedisTarget::Sentinel { sentinels, master, url }),
        (None, Some(_), None) => {
            return Err(ConfigError("REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER (the name the Sentinels monitor)".into()));
        }
        (None, None, Some(_)) => {
            return Err(ConfigError("REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS (host:port,host:port,…)".into()));
        }
        (None, None, None) => url.map(|url| RedisTarget::Node { url }),
    })
}

/// `host:port,host:port,…`, at least one.
fn host_ports(name: &str, value: &str) -> Result<Vec<(String, u16)>, ConfigError> {
    let parsed: Option<Vec<(String, u16)>> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (host, port) = s.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            (!host.is_empty()).then_some(())?;
            Some((host.to_string(), port.parse().ok()?))
        })
        .collect();
    match parsed {
        Some(list) if !list.is_empty() => Ok(list),
        _ => Err(invalid(name, value, "host:port,host:port,…")),
    }
}

/// The database number a `redis://` URL selects (its path), 0 when none.
fn redis_db(url: &str) -> i64 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split_once('/').and_then(|(_, path)| path.split(['?', '#']).next()).and_then(|db| db.parse().ok()).unwrap_or(0)
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
        Ok(self.optional(name)?.unwrap_or(default))
    }

    /// A variable with no default: `None` when it is not given.
    fn optional<T: FromStr>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: Display,
    {
        self.raw(name).map(|v| v.parse().map_err(|e: T::Err| ConfigError(format!("invalid value for {name}: {v:?} ({e})")))).transpose()
    }
}

#[cfg(test)]
mod tests;
