//! Slow clients: a flood of connections whose bodies stall is bounded per client address and
//! timed out, while other clients keep being served.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::gatehouse::{Client, READY, Replica, Session, median, unique_name};
use crate::raw_http::{Conn, RawResponse, get, stalled_post};
use crate::services::{Postgres, Redis};

/// The per-client bound the replica runs with.
const PER_IP: usize = 40;
/// Connections the flood opens from 127.0.0.1: far beyond its bound.
const FROM_ONE: usize = 150;
/// Other flooding addresses (127.0.0.2 …), each holding its full bound: the stalled bodies add
/// up to several times one client's bound.
const OTHERS: u8 = 4;
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Where the probing client connects from: not a flooding address.
const PROBE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 99));

struct Outcome {
    from: IpAddr,
    answer: Option<RawResponse>,
    /// From the last byte sent to the answer.
    waited: Duration,
    closed: bool,
}

/// One flooding connection: headers announcing 1000 bytes, a few of them, then nothing.
async fn stall(app: std::net::SocketAddr, from: IpAddr, sent: Arc<AtomicUsize>) -> Outcome {
    let mut conn = Conn::open(app, from).await.unwrap_or_else(|e| panic!("connect from {from}: {e}"));
    conn.send(&stalled_post("/auth/login", 1000, r#"{"username":"slo"#)).await.unwrap();
    let started = Instant::now();
    sent.fetch_add(1, Ordering::SeqCst);
    let answer = tokio::time::timeout(BODY_READ_TIMEOUT + Duration::from_secs(20), conn.response())
        .await
        .unwrap_or_else(|_| panic!("a connection from {from} was never answered"));
    let waited = started.elapsed();
    let closed = conn.closed_within(Duration::from_secs(10)).await;
    Outcome { from, answer, waited, closed }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_flood_is_bounded_per_client_and_timed_out_while_others_are_served() {
    // The flood's sockets are this process's files too.
    gatehouse::connections::raise_open_files_limit().unwrap();
    let (pg, redis) = (Postgres::start(), Redis::start());
    let per_ip = PER_IP.to_string();
    let timeout = BODY_READ_TIMEOUT.as_secs().to_string();
    let app = Replica::start(&pg.url(), &redis.url(), &[("MAX_CONNECTIONS_PER_IP", &per_ip), ("BODY_READ_TIMEOUT", &timeout)]).await;
    // Every request of the test but the flood's comes from the probe's address, so 127.0.0.1
    // holds no connection (a pooled keep-alive one) when the flood starts.
    let probe = Client { http: crate::common::client_builder().local_address(PROBE).timeout(Duration::from_secs(20)).build().unwrap() };
    app.wait_ready(&probe, READY).await;
    let session = Session::from(&probe.register(&app, &unique_name("slow")).await);
    let mut baseline = Vec::new();
    for _ in 0..20 {
        baseline.push(probe.me(&app, &session.access).await.elapsed);
    }
    let baseline = median(baseline);

    let sent = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<IpAddr> = std::iter::repeat_n(Ipv4Addr::LOCALHOST, FROM_ONE)
        .chain((2..2 + OTHERS).flat_map(|last| std::iter::repeat_n(Ipv4Addr::new(127, 0, 0, last), PER_IP)))
        .map(IpAddr::V4)
        .collect();
    let total = flooders.len();
    let tasks: Vec<_> = flooders.into_iter().map(|from| tokio::spawn(stall(app.addr(), from, sent.clone()))).collect();
    let opening = Instant::now();
    while sent.load(Ordering::SeqCst) < total {
        assert!(opening.elapsed() < Duration::from_secs(20), "only {} of {total} flooding connections opened", sent.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_sent = Instant::now();
    // Probing for half the deadline after the last was sent keeps every stalled body stalled
    // meanwhile, as long as opening took less than the other half.
    let opened_in = all_sent - opening;
    assert!(opened_in < BODY_READ_TIMEOUT / 2, "opening the flood took {opened_in:?}: no time left to probe before the deadline");

    // While the flood holds its connections, another client is served as usual.
    let (mut live, mut me) = (Vec::new(), Vec::new());
    while all_sent.elapsed() < BODY_READ_TIMEOUT / 2 {
        let answer = probe.get(&app, "/health/live").await;
        assert_eq!(answer.status, 200, "/health/live during the flood: {}", answer.body);
        live.push(answer.elapsed);
        let answer = probe.me(&app, &session.access).await;
        assert_eq!(answer.status, 200, "/auth/me during the flood: {}", answer.body);
        me.push(answer.elapsed);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let slowest = live.iter().chain(&me).max().copied().unwrap_or_default();
    let (live_n, during) = (live.len(), median(me));
    eprintln!(
        "{total} flooding connections opened in {opened_in:?}; during the flood {live_n} probes each of /health/live and \
         /auth/me, /auth/me median {during:?} (before: {baseline:?}), slowest probe {slowest:?}"
    );
    assert!(during < baseline * 5 + Duration::from_millis(100), "/auth/me went from {baseline:?} to {during:?} during the flood");
    assert!(slowest < Duration::from_secs(2), "a probe took {slowest:?} during the flood");

    let mut by_address: HashMap<IpAddr, (usize, usize)> = HashMap::new();
    for Outcome { from, answer, waited, closed } in outcomes {
        let answer = answer.unwrap_or_else(|| panic!("a connection from {from} was closed without an answer"));
        let tally = by_address.entry(from).or_default();
        match answer.status {
            408 => {
                tally.0 += 1;
                assert_eq!(answer.code(), "REQUEST_TIMEOUT", "{answer:?}");
                assert_eq!(answer.body["content"]["error_type"], "RequestError", "{answer:?}");
                assert!(
                    waited >= BODY_READ_TIMEOUT - Duration::from_millis(100),
                    "a stalled body was answered after {waited:?}, before its deadline"
                );
                assert!(waited < BODY_READ_TIMEOUT + Duration::from_secs(10), "a stalled body was answered only after {waited:?}");
            }
            429 => {
                tally.1 += 1;
                assert_eq!(answer.code(), "TOO_MANY_CONNECTIONS", "{answer:?}");
                assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
                assert!(waited < BODY_READ_TIMEOUT, "a connection beyond the bound was refused only after {waited:?}");
            }
            other => panic!("a flooding connection from {from} answered {other}: {answer:?}"),
        }
        assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
        assert!(closed, "a connection from {from} stayed open after its {}", answer.status);
    }
    // Every connection was opened before the first deadline: exactly the bound was admitted per
    // address, the rest refused at once.
    assert_eq!(by_address[&IpAddr::V4(Ipv4Addr::LOCALHOST)], (PER_IP, FROM_ONE - PER_IP), "127.0.0.1: (timed out, refused)");
    for last in 2..2 + OTHERS {
        assert_eq!(by_address[&IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))], (PER_IP, 0), "127.0.0.{last}: (timed out, refused)");
    }

    // The flood is over and its connections closed: 127.0.0.1 has its places back.
    let over = Instant::now();
    loop {
        let mut conn = Conn::open(app.addr(), IpAddr::V4(Ipv4Addr::LOCALHOST)).await.unwrap();
        conn.send(&get("/health/live")).await.unwrap();
        let status = conn.response().await.map(|r| r.status);
        if status == Some(200) {
            break;
        }
        assert!(over.elapsed() < Duration::from_secs(10), "127.0.0.1 still refused after its connections closed: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
