//! A replica paused the way a stalled machine pauses it (`SIGSTOP`, then `SIGCONT`) while it
//! waits on Redis: what Redis answered during the pause is taken, not timed out. The request in
//! flight answers `200`, not `503`; the revocation listener keeps its subscription (the PING it
//! had outstanding is answered) and applies a revocation published during the pause from the
//! channel, without a resubscription and its replay.

use std::time::Duration;

use crate::gatehouse::{Client, NO_THROTTLE, Replica, Session, TIMEOUT_MS, unique_name};
use crate::services::{Postgres, Redis, signal};

#[tokio::test]
async fn a_replica_paused_while_it_waits_on_redis_takes_the_answers_that_came_meanwhile() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    // A heartbeat every 100 ms: one is outstanding when the pause begins.
    let settings: Vec<(&str, &str)> =
        NO_THROTTLE.iter().copied().chain([("SESSIONS_PER_USER", "100"), ("REVOCATION_HEARTBEAT_MS", "100")]).collect();
    let (a, b) = (Replica::over(&pg, &redis, &settings).await, Replica::over(&pg, &redis, &settings).await);
    let client = Client::new();
    let name = unique_name("paused");
    let refreshed = Session::from(&client.register(&b, &name).await);
    let ended = Session::from(&client.login(&a, &name).await);
    assert_eq!(client.me(&b, &ended.access).await.status, 200);

    // B sends a refresh's script and a heartbeat's PING to a frozen Redis, and is paused while
    // they wait; Redis thaws and answers into B's sockets; A ends a session, which Redis
    // publishes to B; and B resumes three dependency timeouts later.
    redis.freeze();
    let refresh = {
        let (http, url, cookie) = (client.http.clone(), b.url("/auth/refresh"), b.refresh_cookie_header(&refreshed.refresh));
        tokio::spawn(async move { http.post(url).header("cookie", cookie).send().await })
    };
    tokio::time::sleep(Duration::from_millis(TIMEOUT_MS / 3)).await;
    signal(b.pid(), "STOP");
    redis.thaw();
    assert_eq!(client.logout(&a, &ended.refresh).await.status, 200);
    tokio::time::sleep(Duration::from_millis(3 * TIMEOUT_MS)).await;
    signal(b.pid(), "CONT");

    let answer = refresh.await.unwrap().expect("answered");
    assert_eq!(answer.status(), 200, "the answer that came during the pause: {:?}", answer.text().await);
    // The message waits in B's socket: B's listener reads it as B resumes.
    client.until_refused(&b, &ended.access, "SESSION_REVOKED", Duration::from_secs(10)).await;
    let log = b.log_text();
    assert!(!log.contains("revocation channel lost"), "the pause cost the subscription: {log}");
    assert!(!log.contains("did not answer"), "the pause was counted as a timeout: {log}");
}
