//! Fixtures shared by `tests/api` and `tests/faults` (each includes this module): where the
//! stores are, free ports, the HTTP client, the test secret and password, the settings every
//! test server starts from, reading cookies by their configured name, and the error envelope.

// Each test binary uses its part of these helpers.
#![allow(dead_code)]

pub mod mail;
pub mod raw_http;
pub mod redis_topology;

use std::collections::HashMap;

use gatehouse::config::Config;
use reqwest::Response;
use serde_json::Value;

/// The signing secret of every test server (a fixed value, so a test can mint or check tokens).
pub const TEST_SECRET: &str = "WWMgovxjVmvwqMXf4Ty/wwK7HwFk1g4BM3udPucly2XA";
/// The password of every test user: long enough, and not on the common-password list.
pub const PASSWORD: &str = "correct horse battery";

/// The PostgreSQL server `DATABASE_URL` points at (the machine's shared one by default).
pub fn database_server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis server `REDIS_URL` points at (the machine's shared one by default).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The variables naming the Redis deployment the API suite runs on: `REDIS_CLUSTER_NODES` (a
/// Redis Cluster), `REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER` (a Sentinel-managed primary),
/// or `REDIS_URL` alone (one node), as `scripts/test` sets them for each of its passes.
pub fn redis_vars() -> Vec<(String, String)> {
    let mut vars = vec![("REDIS_URL".to_string(), redis_url())];
    for name in ["REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"] {
        if let Ok(value) = std::env::var(name) {
            vars.push((name.to_string(), value));
        }
    }
    vars
}

/// The deployment `redis_vars` names, as the service reads it.
pub fn redis_target() -> gatehouse::config::RedisTarget {
    let mut vars = base_vars();
    vars.extend(redis_vars());
    match Config::from_map(&vars).expect("the Redis variables are valid").stores.token_store {
        gatehouse::config::TokenStoreKind::Redis(target) => target,
        gatehouse::config::TokenStoreKind::Memory => unreachable!("REDIS_URL is always set"),
    }
}

/// A plain client to every node that holds data of `target`: the node, the current primary,
/// or every node of the cluster.
pub async fn redis_data_nodes(target: &gatehouse::config::RedisTarget) -> Vec<redis::Client> {
    let count = match target {
        gatehouse::config::RedisTarget::Cluster { nodes, .. } => nodes.len(),
        _ => 1,
    };
    let mut clients = Vec::new();
    for n in 0..count {
        clients.push(gatehouse::actors::redis_pool::node_client(target, n).await.expect("a Redis node"));
    }
    clients
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A short tag no other test uses.
pub fn unique_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

/// A user name no other test uses.
pub fn unique_name(tag: &str) -> String {
    format!("{tag}-{}", &unique_tag()[..8])
}

/// The HTTP client builder of every test: redirects are not followed, so a test sees each
/// answer as the server gave it.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

/// The settings every test server starts from, whatever runs it (in process or as a child):
/// cheap Argon2 (the same code path, smaller parameters), metrics off, the test secret. No
/// port, storage or timeouts: each suite chooses those.
pub fn base_vars() -> HashMap<String, String> {
    [
        ("HOST", "127.0.0.1"),
        ("WORKERS", "2"),
        ("JWT_SECRET", TEST_SECRET),
        ("METRICS_ADDR", "off"),
        ("ARGON2_M_KIB", "1024"),
        ("ARGON2_T", "1"),
        ("ARGON2_P", "1"),
        ("HASHER_THREADS", "2"),
        // Test keys expire on their own within minutes.
        ("REFRESH_TOKEN_TTL", "900"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The refresh cookie's name when `COOKIE_NAME` is not set: the configuration's default, read
/// from `gatehouse::config` rather than spelled out here.
pub fn refresh_cookie_name() -> String {
    let vars = base_vars();
    Config::from_lookup(|key| vars.get(key).cloned()).expect("the test settings are valid").cookies.name
}

/// The refresh cookie's name under these settings (`COOKIE_NAME`, or the default).
pub fn refresh_cookie_name_in(overrides: &[(&str, &str)]) -> String {
    overrides.iter().rev().find(|(k, _)| *k == "COOKIE_NAME").map_or_else(refresh_cookie_name, |(_, v)| v.to_string())
}

/// A `Set-Cookie` of one cookie: its value and its attributes.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub value: String,
    pub attributes: Vec<String>,
}

impl SetCookie {
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attribute))
    }
}

/// The cookie called `name` among those a response sets, whatever their order.
pub fn set_cookie(resp: &Response, name: &str) -> Option<SetCookie> {
    resp.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|raw| {
        let mut parts = raw.split(';').map(str::trim);
        let value = parts.next()?.strip_prefix(name)?.strip_prefix('=')?.to_string();
        Some(SetCookie { value, attributes: parts.map(str::to_string).collect() })
    })
}

/// The refresh cookie (by its default name) a response sets.
pub fn refresh_cookie(resp: &Response) -> Option<SetCookie> {
    set_cookie(resp, &refresh_cookie_name())
}

/// The attributes every refresh cookie must carry, the rotated and the cleared one too.
pub fn assert_cookie_attributes(cookie: &SetCookie) {
    assert!(cookie.has("HttpOnly"), "{cookie:?}");
    assert!(cookie.has("Path=/auth"), "{cookie:?}");
    assert!(cookie.has("SameSite=Lax"), "{cookie:?}");
    assert!(cookie.attributes.iter().any(|a| a.starts_with("Max-Age=")), "{cookie:?}");
}

///
/// Every failure read here (and by `assert_error`) is checked against the OpenAPI document: its
/// `error_code` must be listed for its path and status (`assert_documented`).
pub async fn body(resp: Response) -> Value {
    let (path, status) = (resp.url().path().to_string(), resp.status().as_u16());
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_documented(&path, status, &body);
    body
}

/// `/openapi.json` and `/admin/openapi.json` as the servers serve them, built once for the run.
static DOCUMENT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(gatehouse::routes::openapi::document);
static ADMIN_DOCUMENT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(gatehouse::routes::openapi::admin_document);

/// Panics when `body` is a failure whose `error_code` the document of `path` (the admin API's
/// for `/admin/…`, the public one otherwise) does not list for `path` and `status`: under an
/// operation of that path, or among the answers no operation makes (`components.responses`:
/// unknown path, wrong method, refused preflight). A response says nothing of the request's
/// method, so any operation of the path will do; a wrong method is `METHOD_NOT_ALLOWED`,
/// documented once.
pub fn assert_documented(path: &str, status: u16, body: &Value) {
    let Some(code) = body["content"]["error_code"].as_str().filter(|_| body["success"] == false) else { return };
    let (document, name) =
        if path.starts_with("/admin/") { (&*ADMIN_DOCUMENT, "/admin/openapi.json") } else { (&*DOCUMENT, "/openapi.json") };
    let lists = |response: &Value| {
        let schema = &response["content"]["application/json"]["schema"];
        match schema["properties"]["content"]["properties"]["error_code"]["enum"].as_array() {
            Some(codes) => codes.iter().any(|c| c == code),
            // A body that is not `ApiError`'s (`Readiness`) names its code in the description.
            None => response["description"].as_str().is_some_and(|d| d.contains(code)),
        }
    };
    let operations = document["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.iter())
        .filter(|(template, _)| path_matches(template, path))
        .flat_map(|(_, ops)| ops.as_object().into_iter().flat_map(|ops| ops.values()));
    let by_operation = operations.filter_map(|op| op["responses"].get(status.to_string())).any(lists);
    let unrouted = document["components"]["responses"].as_object().into_iter().flat_map(|r| r.values());
    let once = unrouted.filter(|r| r["content"]["application/json"]["schema"]["properties"]["status"]["const"] == status).any(lists);
    assert!(by_operation || once, "{path} answered {status} {code}, which {name} does not list there: {body}");
}

/// Whether `path` is an instance of the document's path `template` (`/auth/sessions/{id}`).
pub fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()))
}

/// Asserts the error envelope of a response, returns the body.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
    let body = body(resp).await;
    assert_envelope(&body, status, code, "");
    body
}

/// Asserts that `body` is the error envelope with this status and code; `what` prefixes the
/// failure messages.
pub fn assert_envelope(body: &Value, status: u16, code: &str, what: &str) {
    assert_eq!(body["success"], false, "{what}{body}");
    assert_eq!(body["status"], status, "{what}{body}");
    assert_eq!(body["content"]["error_code"], code, "{what}{body}");
    assert!(body["content"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}{body}");
    assert!(body["content"]["error_type"].as_str().is_some(), "{what}{body}");
}

/// The claims of a JWT, unverified: for a test that needs a token's times or session.
pub fn body_of_token(token: &str) -> Value {
    part_of_token(token, 1)
}

/// The header of a JWT, unverified: its `alg` and the `kid` of the key that signed it.
pub fn header_of_token(token: &str) -> Value {
    part_of_token(token, 0)
}

/// The `n`th part of a JWT (0: the header, 1: the claims), decoded.
fn part_of_token(token: &str, n: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(n).expect("a JWT has three parts");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The `sid` claim of an access token: the session it belongs to.
pub fn sid_of(access_token: &str) -> String {
    body_of_token(access_token)["sid"].as_str().expect("access tokens carry sid").to_string()
}
