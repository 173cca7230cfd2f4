//! Overload: a login storm is shed at the hasher's bounded queue with 503 and `Retry-After`,
//! bearer requests keep their latency meanwhile, and an exhausted pool answers 503 in bounded
//! time instead of hanging its clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

use crate::gatehouse::{Client, FAST_503, NO_THROTTLE, Replica, Session, median, unique_name};
use crate::services::{Postgres, Redis};

const QUEUE: usize = 4;
const STORM: usize = 48;

async fn me_latencies(client: &Client, app: &Replica, access: &str, until: Instant) -> Vec<Duration> {
    let mut samples = Vec::new();
    while Instant::now() < until {
        let answer = client.me(app, access).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        samples.push(answer.elapsed);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

// Several threads, so the probe's timings do not wait behind the storm's clients in this process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_storm_is_shed_at_once_and_bearer_requests_keep_their_latency() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    // One hasher thread at OWASP's memory cost and twice its passes: about 50 ms of CPU per
    // login with the per-thread work area, so one thread serves far fewer logins than the storm
    // asks for.
    let queue = QUEUE.to_string();
    let mut settings = vec![("HASHER_THREADS", "1"), ("HASHER_QUEUE", queue.as_str()), ("ARGON2_M_KIB", "19456"), ("ARGON2_T", "4")];
    settings.extend(NO_THROTTLE);
    let app = Arc::new(Replica::over(&pg, &redis, &settings).await);
    let client = Client::new();
    let name = unique_name("storm");
    let session = Session::from(&client.register(&app, &name).await);
    // The storm logs in as another user: a login replaces its user's session (and revokes that
    // session's access tokens), which would end the bearer session measured here.
    let stormer = unique_name("stormer");
    client.register(&app, &stormer).await;

    let baseline = median(me_latencies(&client, &app, &session.access, Instant::now() + Duration::from_secs(2)).await);

    let storm_ends = Instant::now() + Duration::from_secs(4);
    // Clients that log in again as soon as they are let in, and come back when `Retry-After`
    // says when shed: far more demand than one hasher thread serves.
    let stormers: Vec<_> = (0..STORM)
        .map(|_| {
            let (app, name) = (app.clone(), stormer.clone());
            tokio::spawn(async move {
                let client = Client::new();
                let mut answers = Vec::new();
                while Instant::now() < storm_ends {
                    let answer = client.login(&app, &name).await;
                    if answer.status == 503 {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    answers.push(answer);
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = median(me_latencies(&client, &app, &session.access, storm_ends - Duration::from_millis(300)).await);

    let (mut admitted, mut shed) = (Vec::new(), Vec::new());
    for task in stormers {
        for answer in task.await.unwrap() {
            match answer.status {
                200 => admitted.push(answer.elapsed),
                503 => {
                    assert_eq!(answer.code(), "OVERLOADED", "{}", answer.body);
                    assert_eq!(answer.body["content"]["error_type"], "ServiceError");
                    assert_eq!(answer.retry_after.as_deref(), Some("1"));
                    shed.push(answer.elapsed);
                }
                other => panic!("a login in the storm answered {other}: {}", answer.body),
            }
        }
    }
    let (admitted_n, shed_n) = (admitted.len(), shed.len());
    let (admitted, shed) = (median(admitted), median(shed));
    eprintln!(
        "storm: {admitted_n} logins admitted (median {admitted:?}), {shed_n} shed (median {shed:?}); \
         /auth/me median {baseline:?} before, {during:?} during"
    );
    assert!(shed_n > admitted_n, "a storm of {STORM} clients on a queue of {QUEUE} is mostly shed");
    assert!(shed < admitted, "shedding answers at once, without waiting for the hasher");
    // The hasher runs on its own thread: bearer requests do not queue behind Argon2. A busy
    // machine slows everything a little, so the bound is loose; queuing behind the storm would
    // cost hundreds of milliseconds.
    assert!(during < baseline * 5 + Duration::from_millis(50), "/auth/me went from {baseline:?} to {during:?}");

    // The storm left nothing behind: a burst the size of the queue is admitted in full.
    let burst: Vec<_> = (0..QUEUE)
        .map(|_| {
            let (app, name) = (app.clone(), name.clone());
            tokio::spawn(async move { Client::new().login(&app, &name).await.status })
        })
        .collect();
    for task in burst {
        assert_eq!(task.await.unwrap(), 200);
    }
}

#[tokio::test]
async fn an_exhausted_database_pool_answers_503_instead_of_waiting() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let app = Arc::new(Replica::over(&pg, &redis, &[("DATABASE_MAX_CONNECTIONS", "1")]).await);
    let client = Client::new();
    let session = Session::from(&client.register(&app, &unique_name("pool")).await);

    // Hold a lock that every read of `users` waits for: the one pooled connection hangs in a
    // query, and every other request waits for the pool.
    let mut locker = PgConnection::connect(&pg.url()).await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let waiting: Vec<_> = (0..6)
        .map(|_| {
            let (app, access) = (app.clone(), session.access.clone());
            tokio::spawn(async move { Client::new().me(&app, &access).await })
        })
        .collect();
    for task in waiting {
        task.await.unwrap().assert_unavailable("/auth/me with the pool exhausted");
    }
    // What needs no database keeps working.
    assert_eq!(client.refresh(&app, &session.refresh).await.status, 200);

    locker.execute("ROLLBACK").await.unwrap();
    let released = Instant::now();
    loop {
        let answer = client.me(&app, &session.access).await;
        if answer.status == 200 {
            break;
        }
        answer.assert_unavailable("/auth/me while the pool drains");
        assert!(released.elapsed() < FAST_503 * 3, "the pool did not recover after the lock was released");
    }
}

/// A login the hasher has no room for is shed before the database is asked: with the hasher
/// busy and PostgreSQL frozen, it answers `OVERLOADED` at once, not `SERVICE_UNAVAILABLE` after
/// the timeout.
#[tokio::test]
async fn a_login_is_shed_before_it_touches_the_database() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    // A hash long enough (several hundred milliseconds) that the login below surely finds the
    // hasher's one place taken, however slow the machine is at the moment.
    let settings = [("HASHER_THREADS", "1"), ("HASHER_QUEUE", "1"), ("ARGON2_M_KIB", "32768"), ("ARGON2_T", "20")];
    let app = Arc::new(Replica::over(&pg, &redis, &settings).await);
    let client = Client::new();
    let name = unique_name("shed-first");
    let registered = client.register(&app, &name).await;
    assert_eq!(registered.status, 201, "{}", registered.body);

    // A registration takes the hasher's one place for about as long as the first one took; the
    // login comes a quarter of the way into it.
    let busy = {
        let app = app.clone();
        tokio::spawn(async move { Client::new().register(&app, &unique_name("busy")).await })
    };
    tokio::time::sleep(registered.elapsed / 4).await;
    pg.freeze();
    let shed = client.login(&app, &name).await;
    pg.thaw();
    assert_eq!((shed.status, shed.code()), (503, "OVERLOADED"), "{}", shed.body);
    assert!(shed.elapsed < Duration::from_millis(crate::gatehouse::TIMEOUT_MS), "shed after {:?}", shed.elapsed);
    let _ = busy.await;
    assert_eq!(client.login(&app, &name).await.status, 200);
}
