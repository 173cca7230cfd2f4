//! `/metrics`: served on its own listener with the metrics operators alert on, never on the
//! public port; and the live-token and dependency workers' ticks, driven directly.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use gatehouse::actors::redis_pool::PoolSettings;
use gatehouse::actors::token_store::{RedisSettings, RedisTokens, SessionMeta, TokenBackend};
use gatehouse::actors::user_repo::UserStore;
use gatehouse::actors::workers::{PoolProbe, Probes, dependencies, live_tokens};
use gatehouse::actors::{UserRepo, Users};
use gatehouse::config::RedisTarget;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::helpers::{database_server_url, spawn_app, spawn_app_with};

#[actix_web::test]
async fn metrics_are_served_on_their_own_listener_after_traffic() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let session = app.register_user().await;
    app.login(&json!({"username": session.username, "password": "not the password"})).await;
    let rotated = app.refresh(&session.refresh).await;
    assert_eq!(rotated.status(), 200);
    app.refresh(&session.refresh).await; // the predecessor again, within the grace window
    app.refresh("not-a-token").await;
    app.logout(&session.refresh).await;

    let text = app.scrape_after_first_tick().await;
    // At least: under `cargo test` other tests' servers share this process's recorder.
    for (series, at_least) in [
        (r#"gatehouse_http_requests_total{method="POST",route="/auth/register",status="2xx"}"#, 1.0),
        (r#"gatehouse_http_request_duration_seconds_bucket{route="/auth/login",le="+Inf"}"#, 1.0),
        ("gatehouse_http_requests_in_flight", 0.0),
        (r#"gatehouse_registrations_total{outcome="success"}"#, 1.0),
        (r#"gatehouse_logins_total{outcome="failure"}"#, 1.0),
        (r#"gatehouse_logins_total{outcome="throttled"}"#, 0.0),
        (r#"gatehouse_refreshes_total{outcome="rotated"}"#, 1.0),
        (r#"gatehouse_refreshes_total{outcome="grace"}"#, 1.0),
        (r#"gatehouse_refreshes_total{outcome="invalid"}"#, 1.0),
        (r#"gatehouse_refreshes_total{outcome="reused"}"#, 0.0),
        (r#"gatehouse_logouts_total{outcome="success"}"#, 1.0),
        (r#"gatehouse_argon2_duration_seconds_count{operation="hash"}"#, 1.0),
        (r#"gatehouse_argon2_duration_seconds_count{operation="verify"}"#, 1.0),
        ("gatehouse_hasher_queue_depth", 0.0),
        ("gatehouse_hasher_busy_threads", 0.0),
        ("gatehouse_hasher_threads", 2.0),
        (r#"gatehouse_store_operation_duration_seconds_count{store="token_store",operation="Rotate"}"#, 2.0),
        (r#"gatehouse_store_operation_duration_seconds_count{store="user_repo",operation="CreateUser"}"#, 1.0),
        (r#"gatehouse_store_errors_total{store="token_store",kind="unavailable"}"#, 0.0),
        (r#"gatehouse_dependency_up{dependency="database"}"#, 1.0),
        ("gatehouse_refresh_tokens_live", 0.0),
        ("process_resident_memory_bytes", 1.0),
        ("process_cpu_seconds_total", 0.0),
        ("process_open_fds", 3.0),
    ] {
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("missing {series} in:\n{text}"));
        let value: f64 = value.trim().parse().unwrap();
        assert!(value >= at_least, "{series} = {value}, expected at least {at_least}");
    }
    // The pools of the engines this run uses: SQLite alone on the embedded backend.
    let pools: &[&str] = if crate::helpers::embedded() { &["sqlite"] } else { &["postgres", "redis"] };
    for pool in pools {
        for state in ["idle", "in_use"] {
            let series = format!(r#"gatehouse_pool_connections{{pool="{pool}",state="{state}"}}"#);
            assert!(text.contains(&series), "missing {series} in:\n{text}");
        }
    }
    assert!(text.contains("gatehouse_build_info{"), "{text}");
    // No label carries an id, a name or a token.
    assert!(!text.contains(&session.user_id) && !text.contains(&session.username) && !text.contains(&session.refresh));
}

#[actix_web::test]
async fn the_public_port_does_not_serve_metrics() {
    let app = spawn_app().await;
    crate::helpers::assert_error(app.get("/metrics").await, 404, "NOT_FOUND").await;
}

#[actix_web::test]
async fn a_worker_tick_counts_users_with_a_live_refresh_token_and_sweeps_expired_ones() {
    let prefix = format!("gh-test:{}:", Uuid::new_v4().simple());
    let target = crate::common::redis_target();
    let settings = |ttl| RedisSettings {
        pool: PoolSettings { target: &target, prefix: &prefix, max_connections: 2, timeout: Duration::from_secs(2), wait_replicas: 0 },
        ttl,
        grace: Duration::from_secs(0),
        per_user: 1,
    };
    let long = Arc::new(RedisTokens::new(settings(Duration::from_secs(60))).unwrap());
    // The live-users histogram counts by granule (a 288th of the token lifetime, at least a
    // second): a short lifetime makes the bound testable.
    let short = RedisTokens::new(settings(Duration::from_millis(200))).unwrap();
    let pg = PgPoolOptions::new().max_connections(1).connect_lazy(&database_server_url()).unwrap();
    let tokens = TokenBackend::Redis(long.clone());
    let probes = Probes {
        tokens: tokens.clone(),
        users: Users::new(UserRepo::new(UserStore::Postgres(pg.clone())).start(), Duration::from_secs(2)),
        pools: vec![PoolProbe::Database(UserStore::Postgres(pg)), PoolProbe::Redis(long.pool().clone())],
        exporter: None,
    };
    assert_eq!(live_tokens::tick(&tokens).await, Some(0));

    let user = Uuid::new_v4();
    let key = crate::helpers::refresh_key();
    let meta = SessionMeta::default();
    long.store_new(user, &key.generate(user), &meta).await.unwrap();
    long.store_new(user, &key.generate(user), &meta).await.unwrap(); // a second login replaces the first: still one
    let (other, third) = (Uuid::new_v4(), Uuid::new_v4());
    long.store_new(other, &key.generate(other), &meta).await.unwrap();
    short.store_new(third, &key.generate(third), &meta).await.unwrap();
    assert_eq!(live_tokens::tick(&tokens).await, Some(3));
    let report = dependencies::tick(&probes).await;
    assert!(report.database_up && report.token_store_up);

    // Never under the truth; over it by at most the users whose last session expired within
    // the last granule (one second here), and only until that granule ends.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let soon = live_tokens::tick(&tokens).await.unwrap();
    assert!((2..=3).contains(&soon), "{soon}");
    tokio::time::sleep(gatehouse::actors::token_store::layout::live_granule(Duration::from_millis(200)) + Duration::from_millis(100)).await;
    assert_eq!(live_tokens::tick(&tokens).await, Some(2), "the expired token's granule has ended");
    // A logout takes the user out at once.
    long.end(other, None, None).await.unwrap();
    assert_eq!(live_tokens::tick(&tokens).await, Some(1));
}

#[actix_web::test]
async fn a_worker_tick_reports_a_store_that_is_down() {
    let down = RedisTokens::new(RedisSettings {
        pool: PoolSettings {
            target: &RedisTarget::Node { url: "redis://127.0.0.1:1".into() },
            prefix: "gh-test:down:",
            max_connections: 1,
            timeout: Duration::from_millis(300),
            wait_replicas: 0,
        },
        ttl: Duration::from_secs(60),
        grace: Duration::from_secs(0),
        per_user: 1,
    })
    .unwrap();
    let pg = PgPoolOptions::new().max_connections(1).connect_lazy(&database_server_url()).unwrap();
    let tokens = TokenBackend::Redis(Arc::new(down));
    let probes = Probes {
        tokens: tokens.clone(),
        users: Users::new(UserRepo::new(UserStore::Postgres(pg)).start(), Duration::from_secs(2)),
        pools: vec![],
        exporter: None,
    };
    assert_eq!(live_tokens::tick(&tokens).await, None);
    let report = dependencies::tick(&probes).await;
    assert!(!report.token_store_up && report.database_up);
}

#[actix_web::test]
async fn a_refresh_the_token_store_cannot_serve_counts_as_an_error() {
    let app =
        spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0"), ("REDIS_URL", "redis://127.0.0.1:1"), ("DEPENDENCY_TIMEOUT_MS", "300")]).await;
    let token = crate::helpers::refresh_key().generate(Uuid::now_v7()).encode();
    assert_eq!(app.refresh(&token).await.status(), 503);
    let text = app.client.get(format!("{}/metrics", app.metrics_address.clone().unwrap())).send().await.unwrap().text().await.unwrap();
    let errors = |line: &str| text.lines().find_map(|l| l.strip_prefix(line)).map(|v| v.trim().parse::<f64>().unwrap());
    assert!(errors(r#"gatehouse_refreshes_total{outcome="error"} "#) >= Some(1.0), "{text}");
    assert!(errors(r#"gatehouse_store_errors_total{store="token_store",kind="unavailable"} "#) >= Some(1.0), "{text}");
}

/// The labels of one exposition line: `name{a="x",b="y"} 1` → `[("a", "x"), ("b", "y")]`.
fn labels(line: &str) -> Vec<(String, String)> {
    let inner = line.split_once('{').and_then(|(_, rest)| rest.rsplit_once('}')).map_or("", |(inner, _)| inner);
    let mut out = Vec::new();
    let mut rest = inner;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    out
}

#[actix_web::test]
async fn made_up_methods_and_paths_add_no_series() {
    const METHODS: [&str; 10] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "other"];
    const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let doc = crate::helpers::body(app.get("/openapi.json").await).await;
    let mut routes: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    routes.push("<unmatched>".into());

    for i in 0..200 {
        let method = if i % 2 == 0 { format!("FOO{i}") } else { format!("X-{i}") };
        // Unknown paths, a known path with a made-up method, a known path with a tail, and a
        // percent-encoded spelling of a known path (decoded by the router: the known path).
        let (path, status, code) = match i % 4 {
            0 => (format!("/no-such-path/{i}"), 404, "NOT_FOUND"),
            1 => ("/auth/login".to_string(), 405, "METHOD_NOT_ALLOWED"),
            2 => (format!("/auth/login/{i}"), 404, "NOT_FOUND"),
            _ => (format!("/auth/%6Cogin?n={i}"), 405, "METHOD_NOT_ALLOWED"),
        };
        let resp = app.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        crate::helpers::assert_error(resp, status, code).await;
    }
    for (method, path) in
        [("GET", "/no-such-path/a"), ("POST", "/no-such-path/b"), ("DELETE", "/auth/login"), ("GET", "/%2E%2E/etc/passwd")]
    {
        app.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(path)).send().await.unwrap();
    }

    let text = app.scrape_after_first_tick().await;
    let (mut counters, mut other) = (0, 0.0);
    for line in text.lines().filter(|l| l.starts_with("gatehouse_http_request")) {
        if line.starts_with("gatehouse_http_requests_in_flight") {
            continue;
        }
        for (key, value) in labels(line) {
            match key.as_str() {
                "method" => assert!(METHODS.contains(&value.as_str()), "{line}"),
                "route" => assert!(routes.contains(&value), "{line}"),
                "status" => assert!(CLASSES.contains(&value.as_str()), "{line}"),
                "le" => {}
                _ => panic!("unexpected label {key} in {line}"),
            }
        }
        if line.starts_with("gatehouse_http_requests_total{") {
            counters += 1;
            if labels(line).iter().any(|(k, v)| k == "method" && v == "other") {
                other += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
            }
        }
    }
    // Other tests in this process share the recorder: at least this test's 200, and never more
    // series than the fixed sets allow.
    assert!(other >= 200.0, "method=\"other\" counted {other}:\n{text}");
    assert!(counters <= METHODS.len() * routes.len() * CLASSES.len(), "{counters} series");
    for made_up in ["FOO", "X-1", "no-such-path", "%6C", "passwd"] {
        assert!(!text.contains(made_up), "{made_up} reached /metrics");
    }
}
