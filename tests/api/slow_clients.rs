//! Slow and greedy clients: a body that stalls is answered 408 and its connection closed, a body
//! nobody reads does not hold its connection, and connections beyond the per-client bound are
//! refused until the client closes some.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, spawn_app_with};
use crate::raw_http::{Conn, get, stalled_chunked_post, stalled_post};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Far longer than any of these exchanges takes on a busy machine, far shorter than forever.
const PATIENCE: Duration = Duration::from_secs(15);

fn server(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

#[actix_web::test]
async fn a_request_body_that_stalls_is_answered_408_and_its_connection_closed() {
    let app = spawn_app_with(&[("BODY_READ_TIMEOUT", "1")]).await;
    let mut conn = Conn::open(server(&app), LOOPBACK).await.unwrap();
    conn.send(&stalled_post("/auth/login", 100, r#"{"username":"#)).await.unwrap();
    let sent = Instant::now();

    let res =
        tokio::time::timeout(PATIENCE, conn.response()).await.expect("a stalled body is answered").expect("an answer before the close");
    let waited = sent.elapsed();
    assert_eq!((res.status, res.code()), (408, "REQUEST_TIMEOUT"), "{res:?}");
    assert_eq!(res.body["success"], false);
    assert_eq!(res.body["status"], 408);
    assert_eq!(res.body["content"]["error_type"], "RequestError");
    assert_eq!(res.header("connection"), Some("close"));
    assert!(waited >= Duration::from_millis(900), "answered after {waited:?}, before the 1 s deadline");
    assert!(conn.closed_within(PATIENCE).await, "the connection stays open after its 408");
}

#[actix_web::test]
async fn a_body_that_arrives_in_time_is_read_as_before() {
    let app = spawn_app_with(&[("BODY_READ_TIMEOUT", "1")]).await;
    let mut conn = Conn::open(server(&app), LOOPBACK).await.unwrap();
    let body = r#"{"username":"nobody-here","password":"correct horse battery"}"#;
    conn.send(&stalled_post("/auth/login", body.len(), body)).await.unwrap();
    let res = tokio::time::timeout(PATIENCE, conn.response()).await.unwrap().unwrap();
    assert_eq!((res.status, res.code()), (401, "INVALID_CREDENTIALS"), "{res:?}");
    // The connection is kept alive for the next request, as without the deadline.
    conn.send(&get("/health/live")).await.unwrap();
    assert_eq!(tokio::time::timeout(PATIENCE, conn.response()).await.unwrap().unwrap().status, 200);
}

/// A route that never reads its body (logout) answers at once; the chunked body the client
/// keeps trickling must not keep the connection open after the answer. The deadline is long,
/// so it is not what closes it.
#[actix_web::test]
async fn a_stalled_body_the_route_never_reads_does_not_hold_the_connection() {
    let app = spawn_app_with(&[("BODY_READ_TIMEOUT", "300")]).await;
    let mut conn = Conn::open(server(&app), LOOPBACK).await.unwrap();
    conn.send(&stalled_chunked_post("/auth/logout")).await.unwrap();
    let res = tokio::time::timeout(PATIENCE, conn.response()).await.expect("logout answers").expect("an answer before the close");
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.header("connection"), Some("close"));
    assert!(conn.closed_within(PATIENCE).await, "the connection stays open, waiting for the rest of the body");
}

#[actix_web::test]
async fn connections_beyond_the_per_client_bound_are_refused_until_others_close() {
    let app = spawn_app_with(&[("MAX_CONNECTIONS_PER_IP", "2")]).await;
    // Two connections, each answered once (so both are surely counted) and kept open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = Conn::open(server(&app), LOOPBACK).await.unwrap();
        conn.send(&get("/health/live")).await.unwrap();
        assert_eq!(conn.response().await.unwrap().status, 200);
        held.push(conn);
    }

    let mut third = Conn::open(server(&app), LOOPBACK).await.unwrap();
    third.send(&stalled_post("/auth/login", 100, "{")).await.unwrap();
    let res = tokio::time::timeout(PATIENCE, third.response()).await.unwrap().expect("refused with an answer");
    assert_eq!((res.status, res.code()), (429, "TOO_MANY_CONNECTIONS"), "{res:?}");
    assert_eq!(res.body["content"]["error_type"], "RateLimitError");
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_eq!(res.header("connection"), Some("close"));
    assert!(third.closed_within(PATIENCE).await, "a refused connection is closed");
    // The held ones are not affected.
    held[0].send(&get("/health/live")).await.unwrap();
    assert_eq!(held[0].response().await.unwrap().status, 200);

    // Closing them gives their places back.
    drop(held);
    let closed = Instant::now();
    loop {
        let mut conn = Conn::open(server(&app), LOOPBACK).await.unwrap();
        conn.send(&get("/health/live")).await.unwrap();
        let status = conn.response().await.map(|r| r.status);
        if status == Some(200) {
            break;
        }
        assert!(closed.elapsed() < PATIENCE, "places not given back after the connections closed: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
