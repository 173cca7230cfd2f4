//! HTTP/1.1 written by hand over TCP, for tests about what a client does to its connection:
//! stall a body, hold connections open, connect from a chosen loopback address. Part of the
//! fixtures `tests/api` and `tests/faults` share (`tests/common`).

// Each test binary uses its part of these helpers.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use actix_web::rt::net::{TcpSocket, TcpStream};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One response as it came off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> &str {
        self.body["content"]["error_code"].as_str().unwrap_or("")
    }
}

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// A connection to `server` from the local address `from` (any of 127.0.0.0/8 on Linux).
    pub async fn open(server: SocketAddr, from: IpAddr) -> std::io::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from, 0))?;
        Ok(Conn { stream: socket.connect(server).await?, buf: Vec::new() })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads one response (its head and its `Content-Length` body); `None` when the server
    /// closed the connection first.
    pub async fn response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> =
            lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
        let length: usize =
            headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        while self.buf.len() < head_end + 4 + length {
            if !self.fill().await {
                return None;
            }
        }
        let body = serde_json::from_slice(&self.buf[head_end + 4..head_end + 4 + length]).unwrap_or(Value::Null);
        self.buf.drain(..head_end + 4 + length);
        Some(RawResponse { status, headers, body })
    }

    /// Whether the server closes the connection within `within` (anything it sends is dropped).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            while self.fill().await {
                self.buf.clear();
            }
        })
        .await
        .is_ok()
    }

    /// Reads more; false at end of stream (or on a reset, which closes the connection too).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }
}

/// A JSON POST that declares `declared` body bytes and sends only `sent`: a body that stalls.
pub fn stalled_post(path: &str, declared: usize, sent: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{sent}")
        .into_bytes()
}

/// A chunked POST whose first chunk arrives and whose end never does.
pub fn stalled_chunked_post(path: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n")
        .into_bytes()
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}
