//! `spawn_app`: a gatehouse on port 0 with storage of its own, on the backend the run asks for.
//!
//! `GATEHOUSE_TEST_BACKEND=embedded` runs every API test on the embedded default (SQLite in a
//! fresh data directory, refresh tokens in memory); anything else (the default) on PostgreSQL
//! (a freshly created and migrated database per test) and Redis (a key prefix per test).

use std::collections::HashMap;
use std::str::FromStr;

use gatehouse::actors::token_store::TokenBackend;
use gatehouse::config::Config;
use gatehouse::device_cookie::DeviceCookie;
use gatehouse::keys::Keys;
use gatehouse::startup::Application;
use gatehouse::tokens::{AccessTokens, RefreshKey};
use reqwest::Response;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection, postgres::PgConnectOptions};
use uuid::Uuid;

// The shared fixtures, under the names the API tests have always used.
pub use crate::common::{
    PASSWORD, SetCookie, TEST_SECRET, assert_cookie_attributes, assert_documented, assert_error, body, body_of_token, database_server_url,
    header_of_token, path_matches, refresh_cookie, refresh_cookie_name, set_cookie, sid_of,
};

pub struct TestApp {
    pub address: String,
    /// The `/metrics` listener's address, when the test turned `METRICS_ADDR` on.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub config: Config,
    pub backend: TokenBackend,
    pub server: actix_web::dev::ServerHandle,
    /// The server's signing keys (the worker's functions, and the key set it signs with).
    pub keys: Keys,
    /// The variables it started on.
    pub vars: HashMap<String, String>,
}

/// Whether this run tests the embedded default rather than PostgreSQL + Redis.
pub fn embedded() -> bool {
    std::env::var("GATEHOUSE_TEST_BACKEND").is_ok_and(|b| b == "embedded")
}

/// A fresh, empty data directory.
pub fn data_dir() -> String {
    let dir = std::env::temp_dir().join(format!("gh-test-{}", Uuid::new_v4().simple()));
    dir.to_string_lossy().into_owned()
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn create_database() -> String {
    let server = database_server_url();
    let admin = PgConnectOptions::from_str(&server).expect("DATABASE_URL parses").database("postgres");
    let mut conn = PgConnection::connect_with(&admin).await.expect("PostgreSQL is reachable at DATABASE_URL (run scripts/test)");
    let name = format!("gh_test_{}", Uuid::new_v4().simple());
    conn.execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#))).await.expect("create test database");
    with_database(&server, &name)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with the test defaults, changed by `overrides` (environment variable names;
/// an empty value unsets a variable).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut vars = test_vars();
    vars.insert("DATA_DIR".into(), data_dir());
    if !embedded() {
        vars.insert("DATABASE_URL".into(), create_database().await);
        vars.extend(crate::common::redis_vars());
        vars.insert("REDIS_KEY_PREFIX".into(), format!("gh-test:{}:", Uuid::new_v4().simple()));
    }
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    // A test that names a Redis node of its own (one that is down, say) means that node alone.
    if overrides.iter().any(|(k, _)| *k == "REDIS_URL") {
        for name in ["REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"] {
            vars.remove(name);
        }
    }
    start(vars).await
}

/// The settings every test server starts from: no storage chosen yet (the embedded default).
pub fn test_vars() -> HashMap<String, String> {
    let mut vars = crate::common::base_vars();
    vars.insert("PORT".into(), "0".into());
    vars.insert("DEPENDENCY_TIMEOUT_MS".into(), "2000".into());
    vars
}

/// A server that sends its mail to a real SMTP server of its own (`MailCatcher`), polling the
/// outbox often.
pub async fn spawn_app_with_mail(overrides: &[(&str, &str)]) -> (TestApp, crate::common::mail::MailCatcher) {
    let catcher = crate::common::mail::MailCatcher::start();
    let url = catcher.url();
    let mut all =
        vec![("SMTP_URL", url.as_str()), ("MAIL_POLL_INTERVAL_MS", "50"), ("MAIL_RETRY_BASE_MS", "100"), ("FORGOT_FLOOR_MS", "50")];
    all.extend_from_slice(overrides);
    (spawn_app_with(&all).await, catcher)
}

/// Starts a server on exactly these variables.
pub async fn start(vars: HashMap<String, String>) -> TestApp {
    let config = Config::from_map(&vars).expect("test configuration is valid");
    let app = Application::build(config.clone()).await.expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    let (backend, server, keys) = (app.token_backend(), app.handle(), app.keys());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = crate::common::client_builder().build().unwrap();
    TestApp { address, metrics_address, client, config, backend, server, keys, vars }
}

/// Another replica of `app`: the same database, token store and data directory, with these
/// variables changed.
pub async fn replica_of(app: &TestApp, overrides: &[(&str, &str)]) -> TestApp {
    let mut vars = app.vars.clone();
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    start(vars).await
}

/// The key every test server tags its refresh tokens with (derived from `TEST_SECRET`).
pub fn refresh_key() -> RefreshKey {
    RefreshKey::derive(TEST_SECRET.as_bytes())
}

/// A registered user and what their registration returned.
#[derive(Clone)]
pub struct Session {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub access_token: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn register(&self, body: &Value) -> Response {
        self.post_json("/auth/register", body).await
    }

    pub async fn login(&self, body: &Value) -> Response {
        self.post_json("/auth/login", body).await
    }

    /// The name of the device cookie this server sets.
    pub fn device_cookie_name(&self) -> String {
        DeviceCookie::name_for(&self.config)
    }

    /// The device cookie a response sets, picked by its name.
    pub fn device_cookie(&self, resp: &Response) -> Option<SetCookie> {
        set_cookie(resp, &self.device_cookie_name())
    }

    /// `POST /auth/login` from a browser that presents this device cookie value.
    pub async fn login_from_device(&self, body: &Value, device: &str) -> Response {
        let cookie = format!("{}={device}", self.device_cookie_name());
        self.client.post(self.url("/auth/login")).header("Cookie", cookie).json(body).send().await.unwrap()
    }

    /// Registers a fresh user with a unique name.
    pub async fn register_user(&self) -> Session {
        let tag = crate::common::unique_tag();
        let (username, email) = (format!("user-{tag}"), format!("{tag}@example.com"));
        let resp = self.register(&json!({"username": username, "email": email, "password": PASSWORD})).await;
        assert_eq!(resp.status(), 201);
        let refresh = self.refresh_cookie(&resp).expect("register sets the refresh cookie").value;
        let body = body(resp).await;
        Session {
            user_id: body["content"]["user"]["id"].as_str().unwrap().to_string(),
            username,
            email,
            access_token: body["content"]["access_token"].as_str().unwrap().to_string(),
            refresh,
        }
    }

    /// The name of the refresh cookie this server sets (`COOKIE_NAME`).
    pub fn refresh_cookie_name(&self) -> &str {
        &self.config.cookies.name
    }

    /// The refresh cookie a response sets, picked by this server's cookie name.
    pub fn refresh_cookie(&self, resp: &Response) -> Option<SetCookie> {
        set_cookie(resp, self.refresh_cookie_name())
    }

    /// A `Cookie` request header that presents `token` as this server's refresh cookie.
    pub fn refresh_cookie_header(&self, token: &str) -> String {
        format!("{}={token}", self.refresh_cookie_name())
    }

    /// `POST /auth/refresh` with the given refresh token as the cookie.
    pub async fn refresh(&self, token: &str) -> Response {
        self.client.post(self.url("/auth/refresh")).header("Cookie", self.refresh_cookie_header(token)).send().await.unwrap()
    }

    pub async fn logout(&self, token: &str) -> Response {
        self.client.post(self.url("/auth/logout")).header("Cookie", self.refresh_cookie_header(token)).send().await.unwrap()
    }

    /// A JSON `POST` with a bearer access token.
    pub async fn post_bearer(&self, path: &str, access_token: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(access_token).json(body).send().await.unwrap()
    }

    /// `DELETE /auth/me` with a bearer access token and the password.
    pub async fn delete_me(&self, access_token: &str, password: &str) -> Response {
        self.client.delete(self.url("/auth/me")).bearer_auth(access_token).json(&json!({"password": password})).send().await.unwrap()
    }

    pub async fn me(&self, access_token: &str) -> Response {
        self.client.get(self.url("/auth/me")).bearer_auth(access_token).send().await.unwrap()
    }

    /// Access tokens signed with this server's current key, as the server signs them.
    pub fn access_tokens(&self) -> AccessTokens {
        AccessTokens::new(self.keys.ring(), "gatehouse", "gatehouse", self.config.tokens.access_token_ttl, self.config.tokens.jwt_leeway)
    }

    /// The kid of the key this server signs with now.
    pub fn current_kid(&self) -> String {
        self.keys.ring().get().signing().expect("a key signs").kid.clone()
    }

    /// `header.claims` signed with this server's current key, whatever the header says: for
    /// tokens that differ from an honest one by one property.
    pub fn signed_with_current_key(&self, header: &Value, claims: &Value) -> String {
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", b64(header), b64(claims));
        let ring = self.keys.ring().get();
        let signature = ring.signing().expect("a key signs").signer.sign(input.as_bytes());
        format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature))
    }

    /// The JWKS this server publishes.
    pub async fn jwks(&self) -> Value {
        let resp = self.get("/.well-known/jwks.json").await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// `/metrics`, once the live-token worker's first tick has recorded its gauges (it runs at
    /// startup, off the request path, and may finish after the first requests).
    pub async fn scrape_after_first_tick(&self) -> String {
        let url = format!("{}/metrics", self.metrics_address.as_deref().expect("the metrics listener is on"));
        for _ in 0..100 {
            let resp = self.client.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
            let text = resp.text().await.unwrap();
            if text.contains("gatehouse_dependency_up{")
                && text.contains("gatehouse_pool_connections{")
                && text.contains("\ngatehouse_refresh_tokens_live ")
            {
                return text;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the workers never ticked");
    }

    /// The database URL this server uses.
    pub fn database_url(&self) -> String {
        match &self.config.stores.database {
            gatehouse::config::Database::Postgres(url) | gatehouse::config::Database::Sqlite(url) => url.clone(),
        }
    }

    /// The stored password hash of a user, read straight from the database.
    pub async fn password_hash_of(&self, username: &str) -> String {
        const QUERY: &str = "SELECT password_hash FROM users WHERE username = $1";
        let url = self.database_url();
        if url.starts_with("sqlite:") {
            let mut conn = SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(QUERY).bind(username).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(QUERY).bind(username).fetch_one(&mut conn).await.unwrap()
        }
    }

    /// Replaces a user's stored password hash, straight in the database (an account as an older
    /// release left it).
    pub async fn set_password_hash_of(&self, username: &str, password_hash: &str) {
        const QUERY: &str = "UPDATE users SET password_hash = $1 WHERE username = $2";
        let url = self.database_url();
        let updated = if url.starts_with("sqlite:") {
            let mut conn = SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(QUERY).bind(password_hash).bind(username).execute(&mut conn).await.unwrap().rows_affected()
        } else {
            let mut conn = PgConnection::connect(&url).await.unwrap();
            sqlx::query(QUERY).bind(password_hash).bind(username).execute(&mut conn).await.unwrap().rows_affected()
        };
        assert_eq!(updated, 1, "no user named {username}");
    }

    /// Every key and value this test's server keeps in its token store.
    pub async fn token_store_dump(&self) -> Vec<String> {
        let TokenBackend::Redis(_) = &self.backend else {
            let TokenBackend::Memory(memory) = &self.backend else { unreachable!() };
            return memory.stored_strings();
        };
        let mut out = Vec::new();
        for client in crate::common::redis_data_nodes(&crate::common::redis_target()).await {
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            // A cluster replica answers reads of its primary's keys only when asked to (elsewhere
            // the command fails, which changes nothing).
            let _ = redis::cmd("READONLY").query_async::<()>(&mut conn).await;
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{}*", self.config.stores.redis_key_prefix)).query_async(&mut conn).await.unwrap();
            for key in keys {
                let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
                let values: Vec<Vec<u8>> = match kind.as_str() {
                    "string" => vec![redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap()],
                    "hash" => redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.unwrap(),
                    "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query_async(&mut conn).await.unwrap(),
                    _ => vec![],
                };
                out.push(key);
                // Binary records are shown as text and as hex, so a search finds a secret either way.
                out.extend(values.iter().flat_map(|v| [String::from_utf8_lossy(v).into_owned(), hex::encode(v)]));
            }
        }
        out
    }
}
