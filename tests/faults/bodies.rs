//! Compressed request bodies: a flood of gzip bombs is refused with 415 without inflating a
//! byte, so the process's memory stays where it was.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::gatehouse::{Client, READY, Replica, unique_name};

const BOMBS: usize = 64;
/// What a chunked bomb inflates to.
const INFLATED: usize = 50 * 1024 * 1024;
/// What a bomb with a `Content-Length` under `MAX_BODY_BYTES` (16 KiB) inflates to.
const INFLATED_SMALL: usize = 12 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

/// A field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the replica's /proc status");
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("{field} in {status}"));
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"));
    kib * 1024
}

/// A JSON login body of `inflated` bytes, gzipped: about a thousandth of that on the wire.
fn gzip_bomb(inflated: usize) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(br#"{"username": "bomb", "password": ""#).unwrap();
    let block = vec![b'a'; 1024 * 1024];
    for _ in 0..inflated / block.len() {
        encoder.write_all(&block).unwrap();
    }
    encoder.write_all(br#""}"#).unwrap();
    encoder.finish().unwrap()
}

/// Posts `bomb` to `/auth/login` as a gzip body on a connection of its own, either chunked (no
/// length for a limit to refuse up front) or with a `Content-Length`; returns the status and
/// the body of the answer (as a JSON string when it is not JSON).
async fn send_bomb(port: &str, bomb: &[u8], chunked: bool) -> (u16, Value) {
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).await.expect("connect to the replica");
    let framing = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {}", bomb.len()) };
    let mut request =
        format!("POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nConnection: close\r\n{framing}\r\n\r\n").into_bytes();
    if chunked {
        for chunk in bomb.chunks(8192) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
    } else {
        request.extend_from_slice(bomb);
    }
    // The server may answer before it has read the whole body; the answer is what counts.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    (status, serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_gzip_bombs_is_refused_without_growing_the_process() {
    let (bomb, small) = (Arc::new(gzip_bomb(INFLATED)), Arc::new(gzip_bomb(INFLATED_SMALL)));
    assert!(bomb.len() < 128 * 1024, "the bomb is small on the wire: {} bytes", bomb.len());
    assert!(small.len() < 16 * 1024, "the small bomb fits MAX_BODY_BYTES: {} bytes", small.len());
    // The embedded backend: this test is about the HTTP layer, not the stores.
    let data_dir = std::env::temp_dir().join(unique_name("gh-faults-bodies"));
    // 64 bombs at once from one address, plus the memory probes: the per-client connection
    // bound (64 by default) is not what this test is about, so it is off here.
    let app = Arc::new(Replica::start("", "", &[("DATA_DIR", data_dir.to_str().unwrap()), ("MAX_CONNECTIONS_PER_IP", "0")]).await);
    let client = Client::new();
    app.wait_ready(&client, READY).await;
    // Warm up the paths a request takes, so that the idle figure is a served process's.
    let name = unique_name("warm");
    assert_eq!(client.register(&app, &name).await.status, 201);
    assert_eq!(client.login(&app, &name).await.status, 200);
    let (idle_rss, idle_peak) = (memory(app.pid(), "VmRSS"), memory(app.pid(), "VmHWM"));

    let port = app.base.rsplit(':').next().unwrap().to_string();
    // Half chunked 50 MiB bombs, half 12 MiB ones whose length passes the body limit.
    let flood: Vec<_> = (0..BOMBS)
        .map(|i| {
            let (port, bomb, chunked) = (port.clone(), if i % 2 == 0 { bomb.clone() } else { small.clone() }, i % 2 == 0);
            tokio::spawn(async move { send_bomb(&port, &bomb, chunked).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in flood {
        answers.push(task.await.unwrap());
    }

    let (rss, peak) = (memory(app.pid(), "VmRSS"), memory(app.pid(), "VmHWM"));
    eprintln!(
        "idle: RSS {} MiB, peak {} MiB; after {BOMBS} bombs: RSS {} MiB, peak {} MiB",
        idle_rss / MIB,
        idle_peak / MIB,
        rss / MIB,
        peak / MIB
    );
    // One inflated bomb alone is 50 MiB: the bound allows not even two of them, nor six small ones.
    let bound = idle_peak.max(idle_rss) + 64 * MIB;
    assert!(peak <= bound, "peak {} MiB over the bound {} MiB", peak / MIB, bound / MIB);
    assert!(rss <= idle_rss + 64 * MIB, "RSS {} MiB, idle {} MiB", rss / MIB, idle_rss / MIB);
    for (status, body) in answers {
        assert_eq!(status, 415, "{body}");
        crate::common::assert_envelope(&body, 415, "UNSUPPORTED_CONTENT_ENCODING", "");
    }
    // And the replica still serves.
    assert_eq!(client.login(&app, &name).await.status, 200);
    drop(app);
    let _ = std::fs::remove_dir_all(&data_dir);
}
