//! No half-written state: whatever step of login or refresh a failure cuts, the client ends
//! with a token the store knows, or with none, and what the store holds that no client
//! received expires with the refresh-token lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use crate::gatehouse::{Client, FAST_503, NO_THROTTLE, Replica, SESSION_KEYS, Session, unique_name};
use crate::services::{Postgres, Redis};

/// The remaining lifetime, in ms, of every session key (each user's hash) in the store.
async fn session_key_ttls(conn: &mut MultiplexedConnection) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for pattern in [SESSION_KEYS] {
        let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query_async(conn).await.unwrap();
        for key in keys {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(conn).await.unwrap();
            out.push((key, ttl));
        }
    }
    out
}

#[tokio::test]
async fn a_refresh_cut_off_by_a_frozen_redis_leaves_the_client_a_working_token() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let app = Replica::over(&pg, &redis, &[]).await;
    let client = Client::new();
    let registered = Session::from(&client.register(&app, &unique_name("cut-refresh")).await);
    // One refresh first, so Redis has the rotation script cached and runs the frozen call's
    // EVALSHA once it thaws, rather than answering NOSCRIPT.
    let held = Session::from(&client.refresh(&app, &registered.refresh).await);

    // The rotation reaches Redis, which does not answer: the client gets a 503 and keeps its
    // token, while the store may rotate it once Redis wakes up.
    redis.freeze();
    let cut = client.refresh(&app, &held.refresh).await;
    redis.thaw();
    cut.assert_unavailable("refresh against a frozen Redis");
    assert!(cut.cookie.is_none(), "a failed refresh must not touch the cookie");

    // Retrying with the token it holds gets the client the current one (within the reuse
    // grace if the cut-off rotation did happen), and that one works.
    let retried = client.refresh(&app, &held.refresh).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let current = Session::from(&retried);
    let next = client.refresh(&app, &current.refresh).await;
    assert_eq!(next.status, 200, "{}", next.body);
    let last = next.cookie.unwrap();
    eprintln!(
        "the cut-off rotation was {}",
        if app.log_text().contains("within reuse grace") { "applied; the retry got its token within the grace" } else { "never applied" }
    );

    // Logout revokes what the client ends with.
    assert_eq!(client.logout(&app, &last).await.status, 200);
    assert_eq!(client.refresh(&app, &last).await.status, 401);
}

#[tokio::test]
async fn a_login_cut_off_after_the_password_checked_leaves_no_lasting_token() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    // Slow verification (about half a second even on a fast, idle machine) so Redis can be
    // frozen while it runs; short-lived refresh tokens so their expiry can be watched.
    let settings = [("ARGON2_M_KIB", "32768"), ("ARGON2_T", "24"), ("REFRESH_TOKEN_TTL", "3")];
    let app = Arc::new(Replica::over(&pg, &redis, &settings).await);
    let client = Client::new();
    let name = unique_name("cut-login");
    let registered = Session::from(&client.register(&app, &name).await);

    let login = {
        let (app, name) = (app.clone(), name.clone());
        tokio::spawn(async move { Client::new().login(&app, &name).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    redis.freeze();
    let cut = login.await.unwrap();
    redis.thaw();
    cut.assert_unavailable_envelope("login against a frozen Redis");
    assert!(cut.cookie.is_none(), "no refresh token reaches a client whose login failed");

    // Whatever the store holds now expires within the refresh-token lifetime.
    let mut conn = redis.connection().await;
    let ttls = session_key_ttls(&mut conn).await;
    assert!(!ttls.is_empty(), "the registration's session is stored");
    assert!(ttls.iter().all(|(_, ttl)| (1..=3000).contains(ttl)), "every session key expires: {ttls:?}");
    tokio::time::sleep(Duration::from_millis(3300)).await;
    assert_eq!(session_key_ttls(&mut conn).await, vec![], "nothing outlives its expiry");
    assert_eq!(client.refresh(&app, &registered.refresh).await.status, 401);

    let fresh = Session::from(&client.login(&app, &name).await);
    assert_eq!(client.refresh(&app, &fresh.refresh).await.status, 200);
}

/// Many clients refresh (and now and then log in again) while Redis crashes and comes back,
/// then PostgreSQL does. Every answer is a success or a quick 503, and every token the clients
/// end with is valid; every token they logged out is refused.
///
/// One outcome is allowed for what it is: a login that Redis carried out but whose answer the
/// crash cut off (a 503) has still replaced the user's one session, so the token the client
/// held before stops working (401). The client, which still has the credentials it just sent,
/// logs in again. A 401 that does not follow such a login fails the test.
#[tokio::test]
async fn every_token_clients_hold_after_crashes_mid_traffic_is_valid() {
    let (mut pg, mut redis) = (Postgres::start(), Redis::start());
    let app = Arc::new(Replica::over(&pg, &redis, &NO_THROTTLE).await);
    let client = Client::new();

    let traffic_ends = Instant::now() + Duration::from_secs(7);
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let client = Client::new();
                let name = unique_name(&format!("traffic{i}"));
                let mut token = Session::from(&client.register(&app, &name).await).refresh;
                let mut tally = Tally::default();
                // A login answered 503 since the last session answer (it may have replaced the
                // session anyway), and a refresh refused because one did.
                let (mut login_cut, mut must_login) = (false, false);
                let mut n = 0;
                let settled = |cut: bool| Instant::now() < traffic_ends || (cut && Instant::now() < traffic_ends + Duration::from_secs(10));
                while settled(login_cut || must_login) {
                    n += 1;
                    let login = n % 5 == 0 || must_login;
                    let answer = if login { client.login(&app, &name).await } else { client.refresh(&app, &token).await };
                    match answer.status {
                        200 => {
                            tally.ok += 1;
                            token = answer.cookie.expect("a session answer sets the cookie");
                            (login_cut, must_login) = (false, false);
                        }
                        503 => {
                            answer.assert_unavailable("mid-traffic");
                            tally.unavailable += 1;
                            login_cut |= login;
                        }
                        401 if login_cut && !login => {
                            tally.replaced += 1;
                            must_login = true;
                        }
                        other => panic!("client {i} got {other}: {}", answer.body),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (name, token, tally)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    redis.restart();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pg.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    pg.restart();

    let mut all = Tally::default();
    for task in clients {
        let (name, token, tally) = task.await.unwrap();
        all.ok += tally.ok;
        all.unavailable += tally.unavailable;
        all.replaced += tally.replaced;
        let check = client.refresh(&app, &token).await;
        assert_eq!(check.status, 200, "{name}'s last token is not valid: {}", check.body);
        let last = check.cookie.unwrap();
        assert_eq!(client.logout(&app, &last).await.status, 200);
        assert_eq!(client.refresh(&app, &last).await.status, 401, "{name}'s logged-out token still works");
    }
    eprintln!(
        "mid-traffic: {} answers 200, {} quick 503 (bound {FAST_503:?}), {} sessions replaced by a login cut off after it was stored",
        all.ok, all.unavailable, all.replaced
    );
    assert!(all.unavailable > 0, "the crashes were seen by the clients");
}

#[derive(Default)]
struct Tally {
    ok: u32,
    unavailable: u32,
    replaced: u32,
}
