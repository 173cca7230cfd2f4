//! Redis or PostgreSQL away: quick 503s in the envelope, what needs neither keeps working,
//! readiness names the missing one, and the service recovers by itself when it returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::gatehouse::{Answer, Client, Replica, Session, TIMEOUT_MS, unique_name};
use crate::services::{Postgres, Redis};

const RECOVERY: Duration = Duration::from_secs(15);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Live, not ready, and readiness names each store as given ("up" or "down").
async fn assert_not_ready(client: &Client, app: &Replica, database: &str, token_store: &str) {
    assert_eq!(client.get(app, "/health/live").await.status, 200);
    let ready = client.get(app, "/health/ready").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.code(), "SERVICE_UNAVAILABLE", "{}", ready.body);
    let checks = &ready.body["content"]["checks"];
    assert_eq!((checks["database"].as_str(), checks["token_store"].as_str()), (Some(database), Some(token_store)), "{}", ready.body);
}

#[tokio::test]
async fn a_redis_outage_answers_503_quickly_and_heals_without_a_restart() {
    let (pg, mut redis) = (Postgres::start(), Redis::start());
    let app = Replica::over(&pg, &redis, &[]).await;
    let client = Client::new();
    let name = unique_name("redis-outage");
    let session = Session::from(&client.register(&app, &name).await);

    redis.kill();
    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        let answers = [
            ("login", client.login(&app, &name).await),
            ("refresh", client.refresh(&app, &session.refresh).await),
            ("logout", client.logout(&app, &session.refresh).await),
            ("register", client.register(&app, &unique_name("during")).await),
        ];
        for (what, answer) in answers {
            answer.assert_unavailable(&format!("{what} #{round}"));
            slowest = slowest.max(answer.elapsed);
        }
        // A bearer-protected route that needs no Redis.
        assert_eq!(client.me(&app, &session.access).await.status, 200);
    }
    eprintln!("redis down: slowest 503 {slowest:?} (timeout {TIMEOUT_MS} ms)");
    assert_not_ready(&client, &app, "up", "down").await;

    let restarted = Instant::now();
    redis.restart();
    let healed = app.wait_ready(&client, RECOVERY).await;
    eprintln!("redis back: ready again {:?} after the restart finished ({:?} in all)", healed, restarted.elapsed());
    // The refresh token survived (Redis persists it) and was never rotated by the failed calls.
    let refreshed = client.refresh(&app, &session.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let current = refreshed.cookie.expect("a rotated cookie");
    assert_eq!(client.login(&app, &name).await.status, 200);
    // That login replaced the session: the token from before is no longer valid.
    assert_eq!(client.refresh(&app, &current).await.status, 401);
}

#[tokio::test]
async fn a_postgres_outage_answers_503_quickly_and_heals_without_a_restart() {
    let (mut pg, redis) = (Postgres::start(), Redis::start());
    let app = Replica::over(&pg, &redis, &[]).await;
    let client = Client::new();
    let name = unique_name("pg-outage");
    let session = Session::from(&client.register(&app, &name).await);

    pg.kill();
    let mut refresh = session.refresh.clone();
    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        let answers = [
            ("register", client.register(&app, &unique_name("during")).await),
            ("login", client.login(&app, &name).await),
            ("me", client.me(&app, &session.access).await),
        ];
        for (what, answer) in answers {
            answer.assert_unavailable(&format!("{what} #{round}"));
            slowest = slowest.max(answer.elapsed);
        }
        // Refresh needs only Redis.
        let refreshed = client.refresh(&app, &refresh).await;
        assert_eq!(refreshed.status, 200, "refresh #{round}: {}", refreshed.body);
        refresh = refreshed.cookie.expect("a rotated cookie");
    }
    eprintln!("postgres down: slowest 503 {slowest:?} (timeout {TIMEOUT_MS} ms)");
    assert_not_ready(&client, &app, "down", "up").await;
    // A registration that failed on the database left no refresh token behind in Redis.
    let mut conn = redis.connection().await;
    let users: Vec<String> = redis::cmd("KEYS").arg(crate::gatehouse::SESSION_KEYS).query_async(&mut conn).await.unwrap();
    assert_eq!(users.len(), 1, "only the one registered user holds a session: {users:?}");

    pg.restart();
    let healed = app.wait_ready(&client, RECOVERY).await;
    eprintln!("postgres back: ready again {healed:?} after the restart finished");
    assert_eq!(client.me(&app, &session.access).await.status, 200);
    assert_eq!(client.login(&app, &name).await.status, 200);
    assert_eq!(client.register(&app, &unique_name("after")).await.status, 201);
}

#[tokio::test]
async fn starting_with_both_stores_down_is_live_not_ready_until_they_come_up() {
    let mut pg = Postgres::init();
    let mut redis = Redis::start();
    redis.kill();
    let app = Replica::start(&pg.url(), &redis.url(), &[]).await;
    let client = Client::new();

    assert_not_ready(&client, &app, "down", "down").await;
    client.register(&app, &unique_name("early")).await.assert_unavailable("register before the database");
    client.login(&app, "nobody").await.assert_unavailable("login before the database");

    // PostgreSQL first: the migrations run in the background, Redis is still missing.
    pg.restart();
    let deadline = Instant::now() + RECOVERY;
    loop {
        let ready = client.get(&app, "/health/ready").await;
        if ready.body["content"]["checks"]["database"] == "up" {
            assert_eq!(ready.status, 503, "still waiting for Redis: {}", ready.body);
            break;
        }
        assert!(Instant::now() < deadline, "the schema was not migrated after {RECOVERY:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    redis.restart();
    app.wait_ready(&client, RECOVERY).await;
    let name = unique_name("late");
    let session = Session::from(&client.register(&app, &name).await);
    assert_eq!(client.me(&app, &session.access).await.status, 200);
    assert!(app.log_text().contains("migrations applied"), "the log says when the schema is in place");
}

/// A Redis slower than redis-rs's built-in 500 ms but within `DEPENDENCY_TIMEOUT_MS` is waited
/// for: the configured timeout is the one that applies.
#[tokio::test]
async fn a_slow_redis_within_the_configured_timeout_is_waited_for() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let app = Replica::over(&pg, &redis, &[("DEPENDENCY_TIMEOUT_MS", "5000")]).await;
    let client = Client::new();
    let session = Session::from(&client.register(&app, &unique_name("slow-redis")).await);

    redis.freeze();
    let refresh = {
        let (client, cookie) = (client.clone(), app.refresh_cookie_header(&session.refresh));
        let app_base = app.base.clone();
        tokio::spawn(async move { client.http.post(format!("{app_base}/auth/refresh")).header("cookie", cookie).send().await })
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    redis.thaw();
    let resp = refresh.await.unwrap().expect("answered");
    assert_eq!(resp.status(), 200, "a 1.2 s stall is within the 5 s timeout");
}

/// Frozen rather than crashed: connections stay open and nothing answers. Every request that
/// needs the frozen store answers 503 within the bound: more of them than the PostgreSQL pool
/// has connections, and as many Redis commands waiting on one multiplexed connection. The
/// service recovers when the store thaws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_stores_and_their_exhausted_pools_answer_503_in_bounded_time() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    // No user cache: `/auth/me` must reach the frozen database's exhausted pool here, not be
    // answered from the cache for the user it read a moment before.
    let small_pools = [("DATABASE_MAX_CONNECTIONS", "2"), ("REDIS_MAX_CONNECTIONS", "2"), ("USER_CACHE_TTL", "0")];
    let app = Arc::new(Replica::over(&pg, &redis, &small_pools).await);
    let client = Client::new();
    let session = Session::from(&client.register(&app, &unique_name("frozen")).await);
    let at_once = |call: fn(Client, Arc<Replica>, String) -> BoxFuture<Answer>, token: &str| {
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(call(Client::new(), app.clone(), token.to_string()))).collect();
        futures_util::future::join_all(tasks)
    };

    redis.freeze();
    for answer in at_once(|c, app, t| Box::pin(async move { c.logout(&app, &t).await }), &session.refresh).await {
        answer.unwrap().assert_unavailable("logout with Redis frozen");
    }
    assert_eq!(client.me(&app, &session.access).await.status, 200);
    redis.thaw();
    app.wait_ready(&client, RECOVERY).await;
    // The logouts reached Redis before it froze or were cut off: either way the session is
    // either revoked or still the client's, never something else. Which one is a race between
    // the freeze and the logouts' writes, so both answers are possible.
    let after = client.refresh(&app, &session.refresh).await;
    match after.status {
        200 => assert!(after.cookie.is_some(), "a refresh that succeeds rotates the cookie: {}", after.body),
        _ => crate::common::assert_envelope(&after.body, 401, "INVALID_REFRESH_TOKEN", "the session was revoked: "),
    }

    pg.freeze();
    for answer in at_once(|c, app, t| Box::pin(async move { c.me(&app, &t).await }), &session.access).await {
        answer.unwrap().assert_unavailable("/auth/me with PostgreSQL frozen");
    }
    assert_not_ready(&client, &app, "down", "up").await;
    pg.thaw();
    app.wait_ready(&client, RECOVERY).await;
    assert_eq!(client.me(&app, &session.access).await.status, 200);
}
