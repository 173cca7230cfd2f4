//! gatehouse replicas as child processes of the test (the real binary, so signals and several
//! replicas behave as in production), and a client that times every call.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::common::{assert_envelope, base_vars, client_builder, free_port, refresh_cookie_name_in};
use crate::services::{Postgres, Redis, signal};

// The shared fixtures, under the names the fault tests have always used.
pub use crate::common::{PASSWORD, unique_name};

/// How long a replica over healthy stores may take to become ready.
pub const READY: Duration = Duration::from_secs(15);
/// The dependency timeout the replicas run with, and the bound the tests hold a 503 to: twice
/// it (the actor-level backstop), plus room for a busy machine. Twice the default, so that a
/// machine busy with other builds does not turn healthy calls into timeouts.
pub const TIMEOUT_MS: u64 = 1000;
pub const FAST_503: Duration = Duration::from_millis(2 * TIMEOUT_MS + 1000);
/// For tests that log one account in hundreds of times from one IP: throttling (on by default,
/// as in production) would answer them 429 long before the effect under test shows.
pub const NO_THROTTLE: [(&str, &str); 3] =
    [("THROTTLE_PER_ACCOUNT", "0"), ("THROTTLE_LOGIN_PER_IP", "0"), ("THROTTLE_REGISTER_PER_IP", "0")];

/// The glob of the session keys of a replica's store (`REDIS_KEY_PREFIX` `gh:`): one key per
/// user, `gh:{<bucket>}:<tag>`, the tag in base64url (see `token_store::layout`).
pub const SESSION_KEYS: &str = "gh:{???}:???????????";

pub struct Replica {
    pub base: String,
    /// The name of the refresh cookie it sets (`COOKIE_NAME`, or the default).
    pub cookie_name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Replica {
    /// Starts the binary over `pg` and `redis` with the test defaults, changed by `overrides`,
    /// and waits until it is ready.
    pub async fn over(pg: &Postgres, redis: &Redis, overrides: &[(&str, &str)]) -> Replica {
        let replica = Replica::start(&pg.url(), &redis.url(), overrides).await;
        replica.wait_ready(&Client::new(), READY).await;
        replica
    }

    /// Starts the binary with the test defaults, changed by `overrides`, and waits until it is
    /// live (not necessarily ready).
    pub async fn start(database_url: &str, redis_url: &str, overrides: &[(&str, &str)]) -> Replica {
        let port = free_port();
        let dir = std::env::temp_dir();
        let log = dir.join(format!("gh-faults-gatehouse-{}-{port}.log", std::process::id()));
        let (port_text, timeout) = (port.to_string(), TIMEOUT_MS.to_string());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        // A clean environment, and a working directory without a `.env` file.
        cmd.env_clear().current_dir(&dir).env("PATH", std::env::var("PATH").unwrap_or_default());
        let defaults = [
            ("PORT", port_text.as_str()),
            ("DEPENDENCY_TIMEOUT_MS", timeout.as_str()),
            ("SHUTDOWN_GRACE", "10"),
            ("DATABASE_URL", database_url),
            ("REDIS_URL", redis_url),
            ("REDIS_KEY_PREFIX", "gh:"),
            ("RUST_LOG", "info"),
        ];
        cmd.envs(base_vars());
        for (k, v) in defaults.iter().chain(overrides) {
            cmd.env(k, v);
        }
        let out = std::fs::File::create(&log).expect("create the replica log");
        let child = cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().expect("start gatehouse");
        let cookie_name = refresh_cookie_name_in(overrides);
        let replica = Replica { base: format!("http://127.0.0.1:{port}"), cookie_name, child: Some(child), log };
        crate::services::wait_for_port(port, Duration::from_secs(30));
        replica
    }

    /// The address the replica listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A `Cookie` request header that presents `token` as this replica's refresh cookie.
    pub fn refresh_cookie_header(&self, token: &str) -> String {
        format!("{}={token}", self.cookie_name)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("replica is running").id()
    }

    pub fn sigterm(&self) {
        signal(self.pid(), "TERM");
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `/health/ready` until it answers 200; returns how long that took.
    pub async fn wait_ready(&self, client: &Client, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if let Ok(resp) = client.http.get(self.url("/health/ready")).send().await
                && resp.status() == StatusCode::OK
            {
                return started.elapsed();
            }
            assert!(started.elapsed() < within, "{} not ready after {within:?}", self.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let text = self.log_text();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.base);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// One answer, with how long it took.
pub struct Answer {
    pub status: u16,
    pub elapsed: Duration,
    pub retry_after: Option<String>,
    pub cookie: Option<String>,
    pub body: Value,
}

impl Answer {
    async fn read(resp: Response, started: Instant, cookie_name: &str) -> Answer {
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let cookie = crate::common::set_cookie(&resp, cookie_name).map(|c| c.value).filter(|v| !v.is_empty());
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}, not JSON: {text:?}"));
        Answer { status, elapsed: started.elapsed(), retry_after, cookie, body }
    }

    pub fn code(&self) -> &str {
        self.body["content"]["error_code"].as_str().unwrap_or("")
    }

    /// Asserts the 503 of a dependency that is away: the envelope, `Retry-After`, and quickly.
    pub fn assert_unavailable(&self, what: &str) {
        self.assert_unavailable_envelope(what);
        assert!(self.elapsed < FAST_503, "{what}: 503 took {:?}", self.elapsed);
    }

    /// The same, for a request that did other work (Argon2) before the dependency failed it.
    pub fn assert_unavailable_envelope(&self, what: &str) {
        assert_eq!(self.status, 503, "{what}: {}", self.body);
        assert_envelope(&self.body, 503, "SERVICE_UNAVAILABLE", &format!("{what}: "));
        assert_eq!(self.body["content"]["error_type"], "ServiceError", "{what}: {}", self.body);
        assert!(self.retry_after.is_some(), "{what}: 503 without Retry-After");
    }

    pub fn access_token(&self) -> String {
        self.body["content"]["access_token"].as_str().unwrap_or_else(|| panic!("no access token in {}", self.body)).to_string()
    }
}

/// A user's client: no cookie jar, tokens are passed explicitly so the test decides which one
/// each request carries; every call bounded in time.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
}

impl Client {
    pub fn new() -> Client {
        let http = client_builder().timeout(Duration::from_secs(20)).build().unwrap();
        Client { http }
    }

    /// Sends `req` to `at` and reads the answer (the refresh cookie by `at`'s cookie name).
    async fn send(&self, at: &Replica, req: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        let resp = req.send().await.unwrap_or_else(|e| panic!("request failed at the transport level: {e}"));
        Answer::read(resp, started, &at.cookie_name).await
    }

    pub async fn register(&self, at: &Replica, username: &str) -> Answer {
        self.send(at, self.http.post(at.url("/auth/register")).json(&json!({"username": username, "password": PASSWORD}))).await
    }

    pub async fn login(&self, at: &Replica, username: &str) -> Answer {
        self.login_with(at, username, PASSWORD).await
    }

    pub async fn login_with(&self, at: &Replica, username: &str, password: &str) -> Answer {
        self.send(at, self.http.post(at.url("/auth/login")).json(&json!({"username": username, "password": password}))).await
    }

    pub async fn refresh(&self, at: &Replica, token: &str) -> Answer {
        self.send(at, self.http.post(at.url("/auth/refresh")).header("cookie", at.refresh_cookie_header(token))).await
    }

    pub async fn logout(&self, at: &Replica, token: &str) -> Answer {
        self.send(at, self.http.post(at.url("/auth/logout")).header("cookie", at.refresh_cookie_header(token))).await
    }

    pub async fn me(&self, at: &Replica, access_token: &str) -> Answer {
        self.send(at, self.http.get(at.url("/auth/me")).bearer_auth(access_token)).await
    }

    /// Polls `/auth/me` at `at` with `access_token` until it answers `401 <code>`, every other
    /// answer being a `200`; returns how long that took, and fails after `within`.
    pub async fn until_refused(&self, at: &Replica, access_token: &str, code: &str, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let answer = self.me(at, access_token).await;
            if (answer.status, answer.code()) == (401, code) {
                return started.elapsed();
            }
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert!(started.elapsed() < within, "{} still accepts the token after {within:?}", at.base);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub async fn post(&self, at: &Replica, path: &str, body: &Value) -> Answer {
        self.send(at, self.http.post(at.url(path)).json(body)).await
    }

    pub async fn get(&self, at: &Replica, path: &str) -> Answer {
        self.send(at, self.http.get(at.url(path))).await
    }
}

/// A session: what register or login handed the client.
pub struct Session {
    pub access: String,
    pub refresh: String,
}

impl Session {
    /// From the answer of a register (201), a login or a refresh (200); the caller knows which.
    pub fn from(answer: &Answer) -> Session {
        assert!(matches!(answer.status, 200 | 201), "{}", answer.body);
        Session { access: answer.access_token(), refresh: answer.cookie.clone().expect("a session sets the refresh cookie") }
    }
}

/// The median of some durations.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    assert!(!samples.is_empty());
    samples.sort();
    samples[samples.len() / 2]
}
