//! Revocation across replicas: two gatehouse processes over one Redis of the test's own. A
//! session ended through one replica is refused (`401 SESSION_REVOKED`) by the other within
//! milliseconds; when the revocation channel is killed or Redis freezes, no revoked token is
//! accepted anywhere once it is back; a revocation the channel did not carry is read from the
//! record; a replica started after a revocation refuses the token from its first request; a
//! signing key retired through one replica is refused by the other at once; and a replica out of
//! touch fails open, then closed, as documented.

use std::time::{Duration, Instant};

use crate::common::{header_of_token, sid_of};
use crate::gatehouse::{Client, NO_THROTTLE, Replica, Session, median, unique_name};
use crate::services::{Postgres, Redis};

/// A heartbeat long enough that, within a test, only the channel itself (or a replay on
/// resubscription) can deliver a revocation.
const NO_HEARTBEAT: (&str, &str) = ("REVOCATION_HEARTBEAT_MS", "600000");

/// The admin token of the replicas whose admin API a test uses.
const ADMIN_TOKEN: &str = "Zq8vN3xR1tK6wP0mB5cY7hJ2sD9fG4lA-admin-token";

fn settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    NO_THROTTLE.iter().copied().chain([("SESSIONS_PER_USER", "100")]).chain(extra.iter().copied()).collect()
}

/// Polls `at` with `token` until it answers `401 SESSION_REVOKED`; returns how long that took.
async fn until_revoked(client: &Client, at: &Replica, token: &str, within: Duration) -> Duration {
    client.until_refused(at, token, "SESSION_REVOKED", within).await
}

async fn logged_in(client: &Client, at: &Replica, name: &str, n: usize) -> Vec<Session> {
    let mut sessions = Vec::new();
    for _ in 0..n {
        sessions.push(Session::from(&client.login(at, name).await));
    }
    sessions
}

#[tokio::test]
async fn a_session_ended_through_one_replica_is_refused_by_the_other_within_milliseconds() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let s = settings(&[NO_HEARTBEAT]);
    let (a, b) = (Replica::over(&pg, &redis, &s).await, Replica::over(&pg, &redis, &s).await);
    let client = Client::new();
    let name = unique_name("propagation");
    assert_eq!(client.register(&a, &name).await.status, 201);
    let mut delays = Vec::new();
    for session in logged_in(&client, &a, &name, 20).await {
        // B has seen the token (it is in B's table of verified tokens).
        assert_eq!(client.me(&b, &session.access).await.status, 200);
        assert_eq!(client.logout(&a, &session.refresh).await.status, 200);
        // The heartbeat is off: only the channel can tell B in time.
        delays.push(until_revoked(&client, &b, &session.access, Duration::from_secs(10)).await);
        let at_a = client.me(&a, &session.access).await;
        assert_eq!((at_a.status, at_a.code()), (401, "SESSION_REVOKED"), "the replica that ended it refuses at once");
    }
    delays.sort();
    eprintln!("propagation A -> B: median {:?}, max {:?}", median(delays.clone()), delays.last().unwrap());
}

#[tokio::test]
async fn revocations_made_while_the_channel_is_killed_are_replayed_and_none_is_accepted_after() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let s = settings(&[NO_HEARTBEAT]);
    let (a, b) = (Replica::over(&pg, &redis, &s).await, Replica::over(&pg, &redis, &s).await);
    let client = Client::new();
    let name = unique_name("killed-channel");
    assert_eq!(client.register(&a, &name).await.status, 201);
    let sessions = logged_in(&client, &a, &name, 24).await;
    for s in &sessions {
        assert_eq!(client.me(&b, &s.access).await.status, 200);
    }
    let (ended, kept) = sessions.split_at(16);
    let mut conn = redis.connection().await;
    // Sessions end through A while the subscriptions are killed, over and over: some of these
    // revocations are published while B (and A) have no subscription at all.
    for (i, s) in ended.iter().enumerate() {
        if i % 4 == 0 {
            let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut conn).await.unwrap();
            assert!(i > 0 || killed == 2, "both replicas were subscribed");
        }
        assert_eq!(client.logout(&a, &s.refresh).await.status, 200);
    }
    for s in ended {
        for at in [&a, &b] {
            until_revoked(&client, at, &s.access, Duration::from_secs(10)).await;
        }
    }
    for s in kept {
        for at in [&a, &b] {
            assert_eq!(client.me(at, &s.access).await.status, 200, "a live session is not refused");
        }
    }
    let log = b.log_text();
    assert!(log.contains("revocation channel lost") || log.contains("revocation channel closed"), "{log}");
    assert!(log.matches("revocations replayed from the record").count() >= 2, "{log}");
}

#[tokio::test]
async fn a_frozen_redis_fails_open_for_the_bound_then_closed_and_after_it_thaws_no_revoked_token_passes() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let s = settings(&[("REVOCATION_HEARTBEAT_MS", "200"), ("REVOCATION_FAIL_OPEN", "3")]);
    let (a, b) = (Replica::over(&pg, &redis, &s).await, Replica::over(&pg, &redis, &s).await);
    let client = Client::new();
    let name = unique_name("frozen");
    assert_eq!(client.register(&a, &name).await.status, 201);
    let sessions = logged_in(&client, &a, &name, 3).await;
    let (revoked, live, later) = (&sessions[0], &sessions[1], &sessions[2]);
    assert_eq!(client.logout(&a, &revoked.refresh).await.status, 200);
    until_revoked(&client, &b, &revoked.access, Duration::from_secs(10)).await;
    for s in [live, later] {
        assert_eq!(client.me(&b, &s.access).await.status, 200);
    }

    redis.freeze();
    let frozen = Instant::now();
    // Out of touch, B answers from what it knows: the revoked token stays refused, a live one
    // passes, for REVOCATION_FAIL_OPEN at most ...
    let answer = client.me(&b, &revoked.access).await;
    assert_eq!((answer.status, answer.code()), (401, "SESSION_REVOKED"));
    assert_eq!(client.me(&b, &live.access).await.status, 200);
    // ... then it refuses every bearer token with a 503 it can retry, until Redis is back.
    let closed = loop {
        let answer = client.me(&b, &live.access).await;
        if answer.status == 503 {
            answer.assert_unavailable("a bearer check out of touch past the bound");
            break frozen.elapsed();
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(frozen.elapsed() < Duration::from_secs(30), "B never failed closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(closed >= Duration::from_secs(3), "failed closed after {closed:?}, before the bound");
    // Ending a session while Redis is frozen fails (503): nothing ends unseen.
    client.logout(&a, &later.refresh).await.assert_unavailable_envelope("a logout while Redis is frozen");

    redis.thaw();
    let started = Instant::now();
    for at in [&a, &b] {
        loop {
            let answer = client.me(at, &live.access).await;
            if answer.status == 200 {
                break;
            }
            assert_eq!(answer.status, 503, "{}", answer.body);
            assert!(started.elapsed() < Duration::from_secs(20), "{} did not recover", at.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for at in [&a, &b] {
        let answer = client.me(at, &revoked.access).await;
        assert_eq!((answer.status, answer.code()), (401, "SESSION_REVOKED"), "{}", answer.body);
    }
    // The logout that failed can be retried, and reaches B.
    assert_eq!(client.logout(&a, &later.refresh).await.status, 200);
    until_revoked(&client, &b, &later.access, Duration::from_secs(10)).await;
    assert!(b.log_text().contains("revocation channel lost"));
}

#[tokio::test]
async fn a_revocation_redis_refused_to_publish_is_tried_again_until_it_reaches_the_other_replica() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let s = settings(&[NO_HEARTBEAT]);
    let (a, b) = (Replica::over(&pg, &redis, &s).await, Replica::over(&pg, &redis, &s).await);
    let client = Client::new();
    let name = unique_name("republished");
    assert_eq!(client.register(&a, &name).await.status, 201);
    let session = Session::from(&client.login(&a, &name).await);
    assert_eq!(client.me(&b, &session.access).await.status, 200);

    // Every shard of the record made a string: the session's end (its own keys) works, the
    // script that records and publishes its revocation fails (WRONGTYPE).
    let mut conn = redis.connection().await;
    let shards: Vec<String> = (0..16).map(|shard| format!("gh:{{revoked.{shard:x}}}")).collect();
    for key in &shards {
        let _: () = redis::cmd("SET").arg(key).arg("not a sorted set").query_async(&mut conn).await.unwrap();
    }
    assert_eq!(client.logout(&a, &session.refresh).await.status, 200, "the session ended: the logout succeeds");
    let at_a = client.me(&a, &session.access).await;
    assert_eq!((at_a.status, at_a.code()), (401, "SESSION_REVOKED"), "the replica that ended it refuses at once");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.me(&b, &session.access).await.status, 200, "not published yet: B has not heard");

    // Redis takes the publication again: the next attempt reaches B.
    let _: () = redis::cmd("DEL").arg(&shards).query_async(&mut conn).await.unwrap();
    until_revoked(&client, &b, &session.access, Duration::from_secs(10)).await;
    let log = a.log_text();
    assert!(log.contains("revocation not yet published to other replicas"), "{log}");
    assert!(log.contains("revocation published to other replicas after a retry"), "{log}");
    assert!(!log.contains("revocation not published to other replicas"), "nothing given up: {log}");
}

#[tokio::test]
async fn a_revocation_the_channel_did_not_carry_is_read_from_the_record_by_a_heartbeat() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let b = Replica::over(&pg, &redis, &settings(&[("REVOCATION_HEARTBEAT_MS", "200")])).await;
    let client = Client::new();
    let name = unique_name("unpublished");
    assert_eq!(client.register(&b, &name).await.status, 201);
    let session = Session::from(&client.login(&b, &name).await);
    assert_eq!(client.me(&b, &session.access).await.status, 200);

    // Another replica's revocation whose message never came: in the record, as the publishing
    // script writes it (scored by its expiry, in ms), and not on the channel.
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 + 300_000;
    let mut conn = redis.connection().await;
    let _: () = redis::cmd("ZADD")
        .arg("gh:{revoked.3}")
        .arg(expires)
        .arg(format!("s:{}", sid_of(&session.access)))
        .query_async(&mut conn)
        .await
        .unwrap();
    until_revoked(&client, &b, &session.access, Duration::from_secs(10)).await;
    let log = b.log_text();
    assert!(log.contains("1 revocations read from the record before the channel delivered them"), "{log}");
    assert!(!log.contains("revocation channel lost"), "the subscription stayed: {log}");
}

#[tokio::test]
async fn a_replica_started_after_a_revocation_refuses_the_token_from_its_first_request() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let s = settings(&[NO_HEARTBEAT]);
    let a = Replica::over(&pg, &redis, &s).await;
    let client = Client::new();
    let name = unique_name("late-replica");
    assert_eq!(client.register(&a, &name).await.status, 201);
    let sessions = logged_in(&client, &a, &name, 2).await;
    assert_eq!(client.logout(&a, &sessions[0].refresh).await.status, 200);

    let c = Replica::start(&pg.url(), &redis.url(), &s).await;
    let first = client.me(&c, &sessions[0].access).await;
    assert_eq!((first.status, first.code()), (401, "SESSION_REVOKED"), "{}", first.body);
    assert_eq!(client.me(&c, &sessions[1].access).await.status, 200);
}

#[tokio::test]
async fn an_account_disabled_through_one_replicas_admin_api_is_refused_by_the_other() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let management = crate::services::free_port();
    let metrics_addr = format!("127.0.0.1:{management}");
    let a = Replica::over(&pg, &redis, &settings(&[NO_HEARTBEAT, ("METRICS_ADDR", &metrics_addr), ("ADMIN_TOKEN", ADMIN_TOKEN)])).await;
    let b = Replica::over(&pg, &redis, &settings(&[NO_HEARTBEAT])).await;
    let client = Client::new();
    let name = unique_name("disabled");
    let registered = client.register(&a, &name).await;
    let user_id = registered.body["content"]["user"]["id"].as_str().unwrap().to_string();
    let sessions = logged_in(&client, &b, &name, 2).await;
    for s in &sessions {
        assert_eq!(client.me(&b, &s.access).await.status, 200);
    }
    let resp =
        client.http.post(format!("http://{metrics_addr}/admin/users/{user_id}/disable")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    for s in &sessions {
        until_revoked(&client, &b, &s.access, Duration::from_secs(10)).await;
    }
    let login = client.login(&b, &name).await;
    assert_eq!((login.status, login.code()), (403, "ACCOUNT_DISABLED"), "{}", login.body);
}

/// An emergency key retire through one replica's admin API: the other replica refuses the tokens
/// of that key as soon as the revocation channel tells it, long before its next scheduled key
/// reload (an hour away here), even a token it has verified and remembers.
#[tokio::test]
async fn a_key_retired_through_one_replicas_admin_api_is_refused_by_the_other_at_once() {
    const HOURLY_RELOAD: (&str, &str) = ("SIGNING_KEY_REFRESH", "3600");
    let (pg, redis) = (Postgres::start(), Redis::start());
    let metrics_addr = format!("127.0.0.1:{}", crate::services::free_port());
    let a = Replica::over(
        &pg,
        &redis,
        &settings(&[NO_HEARTBEAT, HOURLY_RELOAD, ("METRICS_ADDR", &metrics_addr), ("ADMIN_TOKEN", ADMIN_TOKEN)]),
    )
    .await;
    let b = Replica::over(&pg, &redis, &settings(&[NO_HEARTBEAT, HOURLY_RELOAD])).await;
    let client = Client::new();
    let name = unique_name("key-retired");
    let session = Session::from(&client.register(&a, &name).await);
    assert_eq!(client.me(&b, &session.access).await.status, 200);
    let kid = header_of_token(&session.access)["kid"].as_str().unwrap().to_string();

    let resp = client.http.post(format!("http://{metrics_addr}/admin/keys/{kid}/retire")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let took = client.until_refused(&b, &session.access, "INVALID_ACCESS_TOKEN", Duration::from_secs(10)).await;
    eprintln!("key retire A -> B: {took:?}");
    assert!(b.log_text().contains(&format!("signing key {kid} retired on another replica: keys reloaded")), "{}", b.log_text());
    // B signs with the key that replaced it, which A accepts.
    let fresh = Session::from(&client.login(&b, &name).await);
    assert_ne!(header_of_token(&fresh.access)["kid"], kid.as_str());
    assert_eq!(client.me(&a, &fresh.access).await.status, 200);
}
