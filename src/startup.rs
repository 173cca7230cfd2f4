//! `Application`: the one place where pools, actors and the HTTP server are made, and where the
//! storage engines are chosen (PostgreSQL or SQLite for users, Redis or memory for tokens).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix::Actor;
use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::account_store::AccountStore;
use crate::actors::counters::{CounterBackend, MemoryCounters, RedisCounters};
use crate::actors::redis_pool::PoolSettings;
use crate::actors::token_store::{MemoryTokens, RedisSettings, RedisTokens, TokenBackend};
use crate::actors::user_repo::{UserCache, UserStore};
use crate::actors::workers::{DependenciesWorker, LiveTokensWorker, PoolProbe, Probes};
use crate::actors::{CounterStore, CounterStoreActor, Hasher, TokenStore, TokenStoreActor, UserRepo, Users};
use crate::admin::{Admin, AdminToken};
use crate::audit::AuditLog;
use crate::auth::Services;
use crate::config::{Config, Database, TokenStoreKind};
use crate::cookie::RefreshCookie;
use crate::device_cookie::DeviceCookie;
use crate::domain::PasswordPolicy;
use crate::keys::{KeyWorker, Keys};
use crate::mail::{MailWorker, Mailer};
use crate::middleware::{REQUEST_ID, refuse_encoded_bodies, request_context};
use crate::revocation::{ListenerSettings, RevocationListener, RevocationTable, Revocations};
use crate::routes;
use crate::routes::jwks::Jwks;
use crate::state::AppState;
use crate::store_arbiters::StoreArbiters;
use crate::throttle::Throttle;
use crate::tokens::{AccessTokens, AccountTokenKey, RefreshKey};

/// How often the live refresh tokens are counted.
const LIVE_TOKENS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);
/// How long a stopping process waits for the audit writer.
const AUDIT_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);
/// How often the stores are pinged and the pools sampled.
const DEPENDENCIES_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Application {
    port: u16,
    server: Server,
    token_backend: TokenBackend,
    metrics: Option<MetricsServer>,
    keys: Keys,
    audit: AuditLog,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // First, so that everything made below records into the exporter's recorder.
        let recorder = config.http.metrics_addr.map(|_| crate::metrics::exporter::install());
        let secret = crate::secret::load_or_generate(config.tokens.jwt_secret.as_deref(), &config.stores.data_dir)?;
        let refresh_key = RefreshKey::derive(&secret);

        let user_store =
            UserStore::connect_lazy(&config.stores.database, config.stores.database_max_connections, config.stores.dependency_timeout)?;
        let schema = crate::schema::migrate(&user_store).await?;
        // The signing keys live beside the users. The first tick runs here, before the listener
        // opens: with no key yet, it makes one (once, whatever the number of replicas starting
        // together: see `keys::store`). With the database away, the key worker retries.
        let keys = Keys::new(
            user_store.clone(),
            schema.clone(),
            &secret,
            config.signing.policy(&config.tokens),
            config.stores.dependency_timeout * 2,
        );
        if schema.is_ready()
            && let Err(e) = keys.tick().await
        {
            log::warn!("signing keys not loaded at startup, the key worker retries: {e}");
        }
        let access = Arc::new(AccessTokens::new(
            keys.ring(),
            &config.tokens.jwt_issuer,
            &config.tokens.jwt_audience,
            config.tokens.access_token_ttl,
            config.tokens.jwt_leeway,
        ));
        let jwks = web::Data::new(Jwks { ring: keys.ring(), max_age: config.signing.jwks_max_age });
        let token_backend = match &config.stores.token_store {
            TokenStoreKind::Redis(target) => TokenBackend::Redis(Arc::new(
                RedisTokens::new(RedisSettings {
                    pool: PoolSettings {
                        target,
                        prefix: &config.stores.redis_key_prefix,
                        max_connections: config.stores.redis_max_connections,
                        timeout: config.stores.dependency_timeout,
                        wait_replicas: config.stores.redis_wait_replicas,
                    },
                    ttl: config.tokens.refresh_token_ttl,
                    grace: config.tokens.refresh_reuse_grace,
                    per_user: config.sessions.per_user,
                })
                .context("REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES does not name a Redis deployment")?,
            )),
            TokenStoreKind::Memory => TokenBackend::Memory(Arc::new(MemoryTokens::new(
                config.tokens.refresh_token_ttl,
                config.tokens.refresh_reuse_grace,
                config.sessions.per_user,
            ))),
        };
        // One revocation table per process, read by every HTTP worker's bearer checks. With
        // Redis, the listener feeds it from the other replicas; the first replay is awaited (for
        // a bounded time) so that a replica started after a revocation refuses the revoked
        // token from its first request.
        let revocation_table =
            Arc::new(RevocationTable::new(config.tokens.access_token_ttl + config.tokens.jwt_leeway, config.sessions.revocation_fail_open));
        // The embedded store's table is always in touch: every revocation is made in this process.
        crate::metrics::sessions::revocation_subscription(matches!(config.stores.token_store, TokenStoreKind::Memory));
        if let (TokenStoreKind::Redis(target), TokenBackend::Redis(redis)) = (&config.stores.token_store, &token_backend) {
            log::info!("token store: Redis ({})", target.kind());
            // The listener has a thread of its own, and Redis connections opened there: nothing
            // else this process does in the background (key reloads, mail, probes) can hold a
            // revocation back.
            let (target, pool, table, keys) = (target.clone(), redis.pool().clone(), revocation_table.clone(), keys.clone());
            let (prefix, heartbeat, timeout) =
                (config.stores.redis_key_prefix.clone(), config.sessions.revocation_heartbeat, config.stores.dependency_timeout);
            RevocationListener::start_in_arbiter(&actix::Arbiter::new().handle(), move |_| {
                RevocationListener::new(ListenerSettings { target, pool: pool.for_worker(1), prefix, heartbeat, timeout, keys }, table)
            });
            let deadline = std::time::Instant::now() + config.stores.dependency_timeout * 4;
            while !revocation_table.is_in_touch() && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            if !revocation_table.is_in_touch() {
                log::warn!(
                    "revocation channel not subscribed yet: bearer tokens are accepted for REVOCATION_FAIL_OPEN at most until it is"
                );
            }
        }
        log::info!("users in {}, refresh tokens in {}", user_store.engine(), token_backend.engine());
        if matches!(token_backend, TokenBackend::Memory(_)) || matches!(config.stores.database, Database::Sqlite(_)) {
            log::warn!(
                "embedded storage is for one process only: run a single replica, or set DATABASE_URL=postgres://… and REDIS_URL=redis://… to share state"
            );
        }
        // The audit trail: one queue and one writer per process, off the request path.
        let audit = AuditLog::start(user_store.clone(), schema.clone(), config.audit.retention);
        let hasher = Hasher::start(&config.argon2, config.hasher.threads, config.hasher.queue, config.hasher.nice);
        crate::metrics::hasher_threads(config.hasher.threads);
        let user_cache = Arc::new(UserCache::new(config.stores.user_cache_ttl, config.stores.user_cache_size));
        let actor_timeout = config.stores.dependency_timeout * 2;
        // One of each worker per process, off the request path: one counts the live refresh
        // tokens, the other pings the stores and samples the pools.
        LiveTokensWorker::new(token_backend.clone(), LIVE_TOKENS_INTERVAL).start();
        KeyWorker::new(keys.clone(), config.signing.key_refresh).start();
        DependenciesWorker::new(
            Probes {
                tokens: token_backend.clone(),
                users: Users::new(UserRepo::new(user_store.clone()).start(), actor_timeout).gated(schema.clone()),
                pools: std::iter::once(PoolProbe::Database(user_store.clone()))
                    .chain(match &token_backend {
                        TokenBackend::Redis(redis) => Some(PoolProbe::Redis(redis.pool().clone())),
                        TokenBackend::Memory(_) => None,
                    })
                    .collect(),
                exporter: recorder.clone(),
            },
            DEPENDENCIES_INTERVAL,
        )
        .start();

        // One mail worker per process, off the request path: requests only write the outbox.
        let account_store =
            AccountStore::new(user_store.clone(), schema.clone(), config.stores.dependency_timeout, AccountTokenKey::derive(&secret));
        let mailer = Mailer::from_config(account_store.clone(), &config.mail, &config.account, &config.stores.data_dir)?;
        MailWorker::new(mailer, config.mail.poll_interval).start();
        let lifecycle = config.account.clone();
        // The management listener: /metrics, and /admin when ADMIN_TOKEN is set.
        let admin = config.admin.token.as_deref().map(|token| AdminParts {
            token: AdminToken::new(token),
            user_store: user_store.clone(),
            schema: schema.clone(),
            backend: token_backend.clone(),
            key: refresh_key.clone(),
            table: revocation_table.clone(),
            timeout: actor_timeout,
            workers: config.http.workers,
            audit: audit.clone(),
            keys: keys.clone(),
        });
        let metrics = match (config.http.metrics_addr, recorder) {
            (Some(addr), Some(recorder)) => Some(serve_management(addr, recorder, admin)?),
            _ => None,
        };

        let listener = TcpListener::bind(config.listen_addr()).with_context(|| format!("cannot listen on {}", config.listen_addr()))?;
        let port = listener.local_addr()?.port();
        let cookie = RefreshCookie::from_config(&config);
        let device = DeviceCookie::from_config(&config, &secret);
        let json = routes::json_config(config.http.max_body_bytes);
        let origins: Arc<[String]> = config.http.cors_origins.clone().into();
        let trusted_proxies: Arc<[crate::config::IpNet]> = config.http.trusted_proxies.clone().into();
        let throttle_config = config.throttle.clone();
        let password_policy = PasswordPolicy { deny_common: config.password_denylist };

        let backend = token_backend.clone();
        let memory_counters = Arc::new(MemoryCounters::new());
        let stores = Arc::new(StoreArbiters::start(config.http.workers));
        let workers = config.http.workers;
        let connections = crate::connections::Bounds::from_config(&config);
        let body_read_timeout = connections.body_read_timeout;
        let exit_audit = audit.clone();
        let server = HttpServer::new(move || {
            // The token store and user repository actors are started here, once per HTTP
            // worker, so each worker's requests run on a thread of their own; a single shared
            // actor would funnel every worker's futures through one. The hasher is the opposite
            // on purpose: one SyncArbiter for the whole process, so its thread count bounds
            // Argon2's CPU and memory. The user cache keeps each worker's entries apart (each
            // reads a user once per TTL), so its hits touch no memory the other workers write.
            //
            // The user repository runs on a store arbiter, not on the worker: the PostgreSQL pool
            // is shared by every worker, and its connections must outlive the workers during a
            // graceful shutdown (see `store_arbiters`).
            let (store, backend) = (user_store.clone(), backend.clone());
            let users = Users::new(UserRepo::start_in_arbiter(stores.next(), move |_| UserRepo::new(store)), actor_timeout)
                .gated(schema.clone())
                .cached(user_cache.clone());
            // The token store runs on the worker itself, over a Redis pool of the worker's own
            // opened here, on the worker's thread: a refresh then costs no thread hop at all (the
            // hop to a store thread was a third of its CPU), and since only this worker's
            // requests use the pool, it lives exactly as long as they may need it. The throttle's
            // counter store shares that pool.
            let worker_backend = backend.for_worker(workers);
            let counters =
                CounterStore::new(CounterStoreActor::new(counters_beside(&worker_backend, &memory_counters)).start(), actor_timeout);
            let revocations = match &worker_backend {
                TokenBackend::Redis(redis) => Revocations::shared(revocation_table.clone(), redis.pool().clone()),
                TokenBackend::Memory(_) => Revocations::local(revocation_table.clone()),
            };
            let tokens = TokenStore::new(TokenStoreActor::new(worker_backend, refresh_key.clone()).start(), actor_timeout);
            let state = web::Data::new(AppState {
                services: Services {
                    hasher: hasher.clone(),
                    throttle: Throttle::new(counters, throttle_config.clone()),
                    tokens,
                    users,
                    access: access.clone(),
                    password_policy,
                    account: account_store.clone(),
                    lifecycle: lifecycle.clone(),
                    revocations,
                    audit: audit.clone(),
                },
                cookie: cookie.clone(),
                device: device.clone(),
                cors_origins: origins.clone(),
                trusted_proxies: trusted_proxies.clone(),
            });
            App::new()
                .app_data(state)
                .app_data(jwks.clone())
                .app_data(json.clone())
                .app_data(body_read_timeout)
                // Inside CORS, so its 415 carries the CORS headers and is logged, counted and
                // given a request id like any other answer.
                .wrap(from_fn(refuse_encoded_bodies))
                .wrap(from_fn(crate::connections::bound))
                .wrap(cors(&origins))
                .wrap(from_fn(request_context))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .workers(config.http.workers)
        .max_connections(connections.per_worker)
        .on_connect(connections.per_client.on_connect())
        .shutdown_timeout(config.http.shutdown_grace.as_secs())
        .listen(listener)?
        .run();
        log::info!("gatehouse listening on http://{}:{port}", config.http.host);
        Ok(Application { port, server, token_backend, metrics, keys, audit: exit_audit })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `/metrics` listener, when `METRICS_ADDR` is not `off`.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|m| m.port)
    }

    /// Runs until SIGINT or SIGTERM, then stops accepting, lets in-flight requests finish
    /// within `SHUTDOWN_GRACE`, and gives the audit writer `AUDIT_SETTLE` to write their events.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(metrics) = self.metrics {
            metrics.handle.stop(true).await;
        }
        // Reliability: the last requests' audit events are written, not lost with the process
        // (the writer waits up to 50 ms to fill a batch). Bounded: a database that is away must
        // not hold the exit.
        if !self.audit.settle(AUDIT_SETTLE).await {
            log::warn!(target: "gatehouse::audit", "audit events still queued at exit were not written (the database did not take them within {AUDIT_SETTLE:?})");
        }
        result
    }

    /// The token store's backend, for the workers that watch it (and for tests that look inside).
    pub fn token_backend(&self) -> TokenBackend {
        self.token_backend.clone()
    }

    /// The signing keys: the worker's functions (rotate now, retire now), for tests and the
    /// admin API.
    pub fn keys(&self) -> Keys {
        self.keys.clone()
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The running management listener.
struct MetricsServer {
    port: u16,
    handle: ServerHandle,
}

/// What the admin API is made of, on the management listener's worker.
#[derive(Clone)]
struct AdminParts {
    token: AdminToken,
    user_store: UserStore,
    schema: crate::actors::user_repo::Schema,
    backend: TokenBackend,
    key: RefreshKey,
    table: Arc<RevocationTable>,
    timeout: std::time::Duration,
    workers: usize,
    audit: AuditLog,
    keys: Keys,
}

impl AdminParts {
    /// The admin flows' handles, their actors started on the calling (worker) thread.
    fn build(&self) -> Admin {
        let users = Users::new(UserRepo::new(self.user_store.clone()).start(), self.timeout).gated(self.schema.clone());
        let backend = self.backend.for_worker(self.workers);
        let revocations = match &backend {
            TokenBackend::Redis(redis) => Revocations::shared(self.table.clone(), redis.pool().clone()),
            TokenBackend::Memory(_) => Revocations::local(self.table.clone()),
        };
        let tokens = TokenStore::new(TokenStoreActor::new(backend, self.key.clone()).start(), self.timeout);
        Admin { users, tokens, revocations, audit: self.audit.clone(), keys: self.keys.clone() }
    }
}

/// The management listener: binds `addr` and serves `GET /metrics` there on one worker, and
/// `/admin/*` when the admin token is set (404 otherwise, as for any unknown path). Never on the
/// public port.
fn serve_management(addr: SocketAddr, recorder: PrometheusHandle, admin: Option<AdminParts>) -> anyhow::Result<MetricsServer> {
    let handle = recorder;
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} (METRICS_ADDR)"))?;
    let port = listener.local_addr()?.port();
    let server: Server = HttpServer::new(move || {
        let mut app = App::new().app_data(web::Data::new(handle.clone())).configure(routes::metrics::configure);
        if let Some(parts) = &admin {
            app = app
                .app_data(web::Data::new(parts.build()))
                .app_data(web::Data::new(parts.token.clone()))
                .configure(routes::admin::configure);
        }
        app.default_service(web::to(routes::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let server_handle = server.handle();
    actix_web::rt::spawn(server);
    log::info!("metrics on http://{}:{port}/metrics", addr.ip());
    Ok(MetricsServer { port, handle: server_handle })
}

/// The throttle counters' backend beside the token store's: over the same Redis pool (the
/// worker's own, for a worker's backend), or the process's one in-memory map.
fn counters_beside(tokens: &TokenBackend, memory: &Arc<MemoryCounters>) -> CounterBackend {
    match tokens {
        TokenBackend::Redis(redis) => CounterBackend::Redis(Arc::new(RedisCounters::new(redis.pool().clone()))),
        TokenBackend::Memory(_) => CounterBackend::Memory(memory.clone()),
    }
}

/// Security: only the configured origins may read responses, with credentials (the refresh
/// cookie). A request from another origin still reaches the route but its response carries no
/// CORS headers, so the browser withholds it from the page.
fn cors(origins: &[String]) -> Cors {
    let allowed = origins.to_vec();
    Cors::default()
        .allowed_origin_fn(move |origin, _| origin.to_str().is_ok_and(|o| allowed.iter().any(|a| a == o)))
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT, REQUEST_ID])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .supports_credentials()
        .block_on_origin_mismatch(false)
        .max_age(600)
}
