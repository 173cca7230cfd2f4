//! `gatehouse healthcheck`: asks the running service's `/health/ready` over loopback and exits
//! 0 when it answers 200, so a container image needs no shell or curl for its HEALTHCHECK.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// The exit code: 0 ready, 1 not.
pub fn run() -> i32 {
    let port = std::env::var("PORT").ok().and_then(|p| p.trim().parse().ok()).unwrap_or(3001);
    // A service listening on every address (`0.0.0.0`, as in a container) is asked on loopback.
    let host = std::env::var("HOST")
        .ok()
        .and_then(|h| h.trim().parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    match probe(SocketAddr::new(host, port), "/health/ready") {
        Ok(true) => 0,
        Ok(false) => {
            eprintln!("gatehouse healthcheck: not ready");
            1
        }
        Err(e) => {
            eprintln!("gatehouse healthcheck: {e}");
            1
        }
    }
}

/// Whether `GET path` on `addr` answers 200.
pub fn probe(addr: SocketAddr, path: &str) -> std::io::Result<bool> {
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write of the whole request: `write!` on an unbuffered stream sends each piece of the
    // format separately, and a server that answers after the first piece and closes would make
    // the rest fail with a broken pipe.
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut status_line = [0u8; 12];
    stream.read_exact(&mut status_line)?;
    Ok(status_line.starts_with(b"HTTP/1.") && &status_line[9..12] == b"200")
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn answer_once(reply: &'static str) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // The whole request head, as a server reads it, before answering.
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            conn.write_all(reply.as_bytes()).unwrap();
        });
        addr
    }

    #[test]
    fn ready_is_200_and_anything_else_is_not() {
        assert!(super::probe(answer_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), "/health/ready").unwrap());
        assert!(!super::probe(answer_once("HTTP/1.1 503 Service Unavailable\r\n\r\n"), "/health/ready").unwrap());
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert!(super::probe(closed, "/health/ready").is_err());
    }
}
