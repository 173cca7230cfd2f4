//! SIGTERM: stop accepting, finish what started within the grace period, exit 0.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::gatehouse::{Client, Replica, Session, unique_name};
use crate::services::{Postgres, Redis};

/// Argon2 costly enough that a login is still running when the signal arrives.
const SLOW_HASH: [(&str, &str); 3] = [("ARGON2_M_KIB", "32768"), ("ARGON2_T", "32"), ("HASHER_THREADS", "2")];

#[tokio::test]
async fn sigterm_lets_in_flight_logins_finish_then_exits_zero() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let mut app = Replica::over(&pg, &redis, &SLOW_HASH).await;
    let client = Client::new();
    let name = unique_name("shutdown");
    assert_eq!(client.register(&app, &name).await.status, 201);
    let one_login = client.login(&app, &name).await.elapsed;

    // Four logins, each on its own connection, are in flight when the signal arrives: two
    // hashing, two queued behind them.
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, name) = (Client::new(), app.base.clone(), name.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let resp = client
                    .http
                    .post(format!("{url}/auth/login"))
                    .json(&serde_json::json!({"username": name, "password": crate::gatehouse::PASSWORD}))
                    .send()
                    .await;
                (resp.map(|r| (r.status().as_u16(), r.headers().get("set-cookie").is_some())), started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    app.sigterm();

    // Stopped accepting: a new connection is refused well before the in-flight work is done.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = Client::new().http.get(app.url("/")).send().await;
    assert!(late.is_err(), "a connection made after SIGTERM was served: {:?}", late.map(|r| r.status()));

    for task in in_flight {
        let (outcome, took) = task.await.unwrap();
        let (status, cookie) = outcome.unwrap_or_else(|e| panic!("an in-flight login was cut off after {took:?}: {e}"));
        assert_eq!((status, cookie), (200, true), "an in-flight login did not finish normally");
        assert!(took > Duration::from_millis(300), "a login finished before the signal ({took:?}): make Argon2 slower");
    }
    let status = app.wait_exit(Duration::from_secs(15)).expect("exits within the grace period");
    let stopped = signalled.elapsed();
    eprintln!("one login {one_login:?}; exit {status} {stopped:?} after SIGTERM with 4 logins in flight");
    assert!(status.success(), "exit status {status}");
    assert!(stopped < Duration::from_secs(10), "the grace period is an upper bound, not a wait: {stopped:?}");
    assert!(app.log_text().contains("gatehouse stopped"), "the log says it stopped");
}

/// The audit events of the last requests before SIGTERM are in `audit_events` once the
/// process has exited. The test holds a lock on the table while the last login's event is
/// written and lets go half a second after the signal: a process that did not wait for its audit
/// writer would be gone by then, its event with it.
#[tokio::test]
async fn the_audit_events_of_the_last_requests_are_written_before_the_process_exits() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let mut app = Replica::over(&pg, &redis, &[]).await;
    let client = Client::new();
    let name = unique_name("lastwords");
    assert_eq!(client.register(&app, &name).await.status, 201);
    assert_eq!(client.login_with(&app, &name, "not the password at all").await.status, 401);
    let mut db = PgConnection::connect(&pg.url()).await.unwrap();
    let kinds = async |db: &mut PgConnection| -> Vec<String> {
        sqlx::query_scalar(
            "SELECT kind FROM audit_events WHERE user_id = (SELECT id FROM users WHERE lower(username) = lower($1)) ORDER BY id",
        )
        .bind(&name)
        .fetch_all(db)
        .await
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while kinds(&mut db).await.is_empty() {
        assert!(Instant::now() < deadline, "the failed login's event was never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut locker = PgConnection::connect(&pg.url()).await.unwrap();
    let mut held = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE").execute(&mut *held).await.unwrap();
    assert_eq!(client.login(&app, &name).await.status, 200);
    app.sigterm();
    tokio::time::sleep(Duration::from_millis(500)).await;
    held.commit().await.unwrap();
    let status = app.wait_exit(Duration::from_secs(15)).expect("exits");
    assert!(status.success(), "exit status {status}");
    assert_eq!(kinds(&mut db).await, ["login_failed", "login_succeeded"], "{}", app.log_text());
}

/// Idle HTTP workers stop first on SIGTERM. The store connections they opened must not
/// break under the requests other workers are still finishing (they did: Redis connections
/// were driven by the runtime of the worker that opened them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_while_idle_workers_stop_and_their_tokens_work_on_the_next_replica() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let client = Client::new();
    for round in 0..2 {
        let settings = [SLOW_HASH[0], SLOW_HASH[1], SLOW_HASH[2], ("WORKERS", "4")];
        let mut old = Replica::over(&pg, &redis, &settings).await;
        let name = unique_name("handover");
        let registered = Session::from(&client.register(&old, &name).await);
        // Many connections at once, spread over all workers, so every worker opens pooled
        // PostgreSQL and Redis connections of its own.
        let warm: Vec<_> = (0..12)
            .map(|_| {
                let (base, access) = (old.base.clone(), registered.access.clone());
                tokio::spawn(async move {
                    let http = Client::new().http;
                    let me = http.get(format!("{base}/auth/me")).bearer_auth(access).send().await.unwrap().status();
                    let ready = http.get(format!("{base}/health/ready")).send().await.unwrap().status();
                    (me.as_u16(), ready.as_u16())
                })
            })
            .collect();
        for task in warm {
            assert_eq!(task.await.unwrap(), (200, 200));
        }

        // A registration and a login whose store calls come after the signal.
        let (c1, c2, o1, o2, n) = (Client::new(), Client::new(), old.base.clone(), old.base.clone(), name.clone());
        let newcomer = unique_name("newcomer");
        let register = tokio::spawn(async move { post_json(&c1, &o1, "/auth/register", &newcomer).await });
        let login = tokio::spawn(async move { post_json(&c2, &o2, "/auth/login", &n).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        old.sigterm();
        let (registered_late, logged_in) = (register.await.unwrap(), login.await.unwrap());
        assert_eq!(registered_late.0, 201, "round {round}: in-flight register: {}", registered_late.1);
        assert_eq!(logged_in.0, 200, "round {round}: in-flight login: {}", logged_in.1);
        assert!(old.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()));

        let new = Replica::over(&pg, &redis, &[]).await;
        for (what, (_, body, refresh)) in [("register", registered_late), ("login", logged_in)] {
            let access = body["content"]["access_token"].as_str().unwrap();
            assert_eq!(client.me(&new, access).await.status, 200, "{what}'s access token");
            let refreshed = client.refresh(&new, &refresh.unwrap()).await;
            assert_eq!(refreshed.status, 200, "{what}'s refresh token: {}", refreshed.body);
        }
    }
}

/// Posts a username and the test password; the status, the body and the refresh cookie (the
/// replicas here run with the default cookie name).
async fn post_json(client: &Client, base: &str, path: &str, username: &str) -> (u16, serde_json::Value, Option<String>) {
    let body = serde_json::json!({"username": username, "password": crate::gatehouse::PASSWORD});
    let resp = client.http.post(format!("{base}{path}")).json(&body).send().await.unwrap_or_else(|e| panic!("{path} cut off: {e}"));
    let status = resp.status().as_u16();
    let cookie = crate::common::refresh_cookie(&resp).map(|c| c.value);
    (status, resp.json().await.unwrap_or_default(), cookie)
}
