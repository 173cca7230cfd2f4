//! The answers actix-http gives itself, before the application sees a request: they stay
//! outside the envelope, and this file holds them to the list in the README (Error codes).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app};

/// A response as read off the wire.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Whether the server closes the connection after its answer (reads reach EOF in time).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Sends `request` as raw bytes on a fresh connection and reads one response (the server closes
/// the connection after each of these).
async fn send_raw(app: &TestApp, request: &[u8]) -> Raw {
    let port = app.address.rsplit(':').next().unwrap();
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
    // The server may answer and close before it has read all of a long request.
    let _ = stream.write_all(request).await;
    let raw = read_response(&mut stream, Duration::from_secs(30)).await;
    assert!(closed(&mut stream).await, "the connection stays open after {}", raw.head);
    raw
}

async fn read_response(stream: &mut TcpStream, within: Duration) -> Raw {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no complete response within {within:?}; read so far: {:?}", String::from_utf8_lossy(&bytes)),
        }
        if let Some(raw) = parse(&bytes) {
            return raw;
        }
    }
    parse(&bytes).unwrap_or_else(|| panic!("the connection closed without a complete response: {:?}", String::from_utf8_lossy(&bytes)))
}

/// One complete response (head and `Content-Length` bytes of body), if `bytes` holds one.
fn parse(bytes: &[u8]) -> Option<Raw> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let body = bytes.get(end + 4..end + 4 + length)?.to_vec();
    Some(Raw { status, head, body })
}

/// The malformed requests that actix-http answers `400` with an empty body.
const BAD_REQUESTS: &[(&str, &str)] = &[
    ("a request line that is not HTTP", "NOT A REQUEST\r\n\r\n"),
    ("a method with a character outside the token set", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("an HTTP/2 preface on the HTTP/1.1 port", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("a header name with a space", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n"),
    ("an HTTP/1.1 request without Host", "GET / HTTP/1.1\r\n\r\n"),
    ("two Host headers", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("a Content-Length that is not a number", "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("two Content-Length headers", "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"),
    (
        "both Content-Length and Transfer-Encoding",
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
    ),
    ("a Transfer-Encoding other than chunked", "POST /auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
    ("an HTTP/1.0 POST without Content-Length", "POST /auth/login HTTP/1.0\r\n\r\n"),
];

#[actix_web::test]
async fn malformed_request_lines_and_headers_get_400_with_an_empty_body() {
    let app = spawn_app().await;
    for (what, request) in BAD_REQUESTS {
        let raw = send_raw(&app, request.as_bytes()).await;
        assert_eq!(raw.status, 400, "{what}: {}", raw.head);
        assert!(raw.body.is_empty(), "{what}: {:?}", String::from_utf8_lossy(&raw.body));
    }
    // The server is unharmed: a well-formed request on a new connection is answered.
    let raw = send_raw(&app, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw.status, 200, "{}", raw.head);
}

#[actix_web::test]
async fn a_request_head_over_128_kib_or_96_headers_gets_431_with_an_empty_body() {
    let app = spawn_app().await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(140 * 1024));
    let long_header = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n", "a".repeat(140 * 1024));
    let many_headers = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", (0..100).map(|i| format!("X-Filler-{i}: v\r\n")).collect::<String>());
    for (what, request) in [("a long URI", long_uri), ("a long header", long_header), ("100 headers", many_headers)] {
        let raw = send_raw(&app, request.as_bytes()).await;
        assert_eq!(raw.status, 431, "{what}: {}", raw.head);
        assert!(raw.body.is_empty(), "{what}: {:?}", String::from_utf8_lossy(&raw.body));
    }
}

#[actix_web::test]
async fn a_request_head_that_never_ends_gets_408_with_an_empty_body() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap();
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // actix-web's client request timeout is 5 s; the deadline leaves room for a busy machine.
    let raw = read_response(&mut stream, Duration::from_secs(60)).await;
    assert_eq!(raw.status, 408, "{}", raw.head);
    assert!(closed(&mut stream).await);
    assert!(raw.body.is_empty(), "{:?}", String::from_utf8_lossy(&raw.body));
}

/// Not on the list: a broken chunk reaches the application as a payload error while it reads
/// the body, and is answered in the envelope.
#[actix_web::test]
async fn a_broken_chunked_body_is_answered_in_the_envelope() {
    let app = spawn_app().await;
    let request =
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let raw = send_raw(&app, request.as_bytes()).await;
    assert_eq!(raw.status, 400, "{}", raw.head);
    let body: serde_json::Value =
        serde_json::from_slice(&raw.body).unwrap_or_else(|_| panic!("not the envelope: {:?}", String::from_utf8_lossy(&raw.body)));
    crate::common::assert_envelope(&body, 400, "INVALID_JSON", "");
}
