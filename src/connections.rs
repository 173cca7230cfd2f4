//! Bounds on what slow or greedy clients can hold: connections per client address and in total,
//! the request-body deadline, and the open-files limit they are sized against.

use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, ResponseError};

use crate::body_deadline::Body;
use crate::config::Config;
use crate::error::ApiError;

/// File descriptors kept out of `MAX_CONNECTIONS`'s default, besides the two pools: listeners,
/// the metrics listener and its clients, each worker's event loop, the SQLite files, the logs.
const FD_RESERVE: u64 = 256;

/// actix-server's own default, per worker: the default total never exceeds what it would allow.
const ACTIX_DEFAULT_PER_WORKER: u64 = 25_000;

/// The client an open connection counts against: an IPv4 address, or an IPv6 /64 (one
/// subscriber's network: a client that holds a /64 can take any address in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    V4(u32),
    V6Net(u64),
}

impl From<IpAddr> for Peer {
    fn from(ip: IpAddr) -> Peer {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Peer::V4(u32::from(v4)),
            IpAddr::V6(v6) => Peer::V6Net((u128::from(v6) >> 64) as u64),
        }
    }
}

/// Open connections per client, across every worker.
pub struct ConnectionTable {
    per_peer: usize,
    open: Mutex<HashMap<Peer, usize>>,
}

impl ConnectionTable {
    /// `per_peer` connections per client; zero: no bound (and nothing counted).
    pub fn new(per_peer: usize) -> Arc<ConnectionTable> {
        Arc::new(ConnectionTable { per_peer, open: Mutex::new(HashMap::new()) })
    }

    /// Counts a new connection from `ip`; the count drops when the returned slot is dropped.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> ConnectionSlot {
        let peer = Peer::from(ip);
        // The lock guards plain arithmetic that cannot panic; a poisoned table is still right.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(peer).or_insert(0);
        *count += 1;
        ConnectionSlot { table: self.clone(), peer, admitted: *count <= self.per_peer }
    }

    /// How many connections `ip`'s client holds open.
    #[cfg(test)]
    fn count(&self, ip: IpAddr) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).get(&Peer::from(ip)).copied().unwrap_or(0)
    }

    /// The `HttpServer::on_connect` hook: a slot in each connection's extensions (none when the
    /// bound is off, `MAX_CONNECTIONS_PER_IP=0`).
    ///
    /// Reliability: actix-http keeps a connection's extensions in its dispatcher (requests hold
    /// clones, released when a request ends), so the slot is dropped, and the count decremented,
    /// when the connection closes, however it closes.
    pub fn on_connect(self: Arc<Self>) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
        move |conn, extensions| {
            if self.per_peer == 0 {
                return;
            }
            if let Some(peer) = conn.downcast_ref::<actix_web::rt::net::TcpStream>().and_then(|s| s.peer_addr().ok()) {
                extensions.insert(self.open(peer.ip()));
            }
        }
    }
}

/// One open connection, counted against its client; whether it was within the bound when it
/// opened.
pub struct ConnectionSlot {
    table: Arc<ConnectionTable>,
    peer: Peer,
    admitted: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Entry::Occupied(mut count) = open.entry(self.peer) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
    }
}

/// The bounds of one server, from the configuration and the open-files limit.
pub struct Bounds {
    /// `HttpServer::max_connections`: it bounds each worker, so the total is split among them.
    pub per_worker: usize,
    pub per_client: Arc<ConnectionTable>,
    pub body_read_timeout: BodyReadTimeout,
}

impl Bounds {
    /// Reliability: past the total, actix stops accepting and new connections wait in the
    /// listen backlog, costing the process no file descriptor.
    pub fn from_config(config: &Config) -> Bounds {
        let fds = open_files_limit();
        let reserved = FD_RESERVE + u64::from(config.stores.database_max_connections) + u64::from(config.stores.redis_max_connections);
        let workers = config.http.workers as u64;
        let total = max_connections(config.http.max_connections, fds, reserved, workers);
        if config.http.max_connections.is_some_and(|wanted| wanted > total) {
            log::warn!("MAX_CONNECTIONS lowered to {total}: the open files limit ({}) leaves room for no more", fds.unwrap_or_default());
        }
        let per_ip = match config.http.max_connections_per_ip {
            0 => "no bound".to_string(),
            n => n.to_string(),
        };
        log::info!(
            "connections: at most {total} in total, per client address {per_ip}; request bodies within {}s",
            config.http.body_read_timeout.as_secs()
        );
        Bounds {
            per_worker: usize::try_from(total.div_ceil(workers)).unwrap_or(usize::MAX),
            per_client: ConnectionTable::new(config.http.max_connections_per_ip),
            body_read_timeout: BodyReadTimeout(config.http.body_read_timeout),
        }
    }
}

/// App data: how long a request's body may take to arrive (`BODY_READ_TIMEOUT`).
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// The middleware: refuses the requests of a connection beyond its client's bound, and puts
/// every request body under the deadline.
///
/// Reliability: the client's other connections keep working; the refused one answers
/// `429 TOO_MANY_CONNECTIONS` in the envelope with `Connection: close`, at once and without
/// reading its body, so it is gone within a round trip. A request without a body (most of them:
/// every GET) costs a lookup and nothing else.
pub async fn bound<B: MessageBody + 'static>(mut req: ServiceRequest, next: Next<B>) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let refused = req.conn_data::<ConnectionSlot>().is_some_and(|slot| !slot.admitted);
    let body = match req.take_payload() {
        Payload::None => None,
        payload => {
            let timeout = req.app_data::<BodyReadTimeout>().map_or(DEFAULT_BODY_READ_TIMEOUT, |t| t.0);
            Some(Body::new(payload, timeout))
        }
    };
    if refused {
        let res = req.into_response(ApiError::TooManyConnections.error_response());
        return Ok(match body {
            Some(body) => body.finish(res).map_body(|_, b| b.boxed()).map_into_right_body(),
            None => res.map_into_right_body(),
        });
    }
    let Some(body) = body else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    req.set_payload(body.stream());
    let res = next.call(req).await?;
    Ok(body.finish(res))
}

const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Raises the soft limit on open files to the hard limit, so the connection bounds, not the
/// kernel, decide when the process stops accepting. Returns the soft limit in force afterwards.
///
/// Reliability: a soft limit of 1024 (a common default) runs out at about a thousand slow
/// clients, after which `accept` fails and even `/health/live` stops answering. The hard limit
/// is the most an unprivileged process may take; raising to it needs no privilege.
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    // An unlimited hard limit is not a valid soft one on every system: take Linux's usual
    // ceiling (fs.nr_open) then.
    let target = if limit.rlim_max == libc::RLIM_INFINITY { 1 << 20 } else { limit.rlim_max };
    if limit.rlim_cur >= target {
        return Ok((before, before));
    }
    limit.rlim_cur = target;
    // SAFETY: setrlimit reads the struct it is given, which lives for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((before, target))
}

/// The soft limit on open files now in force, when the system tells.
fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as above.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit.rlim_cur)
}

/// The total connection bound: `configured` (`MAX_CONNECTIONS`) when given, else all the open
/// files the process may have less `reserved`; never more than `fd_limit - reserved`, so the
/// pools, the listeners and the files always find a descriptor. At least one per worker.
fn max_connections(configured: Option<u64>, fd_limit: Option<u64>, reserved: u64, workers: u64) -> u64 {
    let ceiling = fd_limit.map(|fds| fds.saturating_sub(reserved));
    let wanted = configured.unwrap_or_else(|| ceiling.unwrap_or(u64::MAX).min(ACTIX_DEFAULT_PER_WORKER * workers));
    ceiling.map_or(wanted, |c| wanted.min(c)).max(workers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_beyond_the_bound_are_not_admitted_and_closing_frees_a_place() {
        let table = ConnectionTable::new(2);
        let (a, b) = (table.open(ip("192.0.2.1")), table.open(ip("192.0.2.1")));
        let c = table.open(ip("192.0.2.1"));
        assert!(a.admitted && b.admitted && !c.admitted);
        assert!(table.open(ip("192.0.2.2")).admitted, "another client has its own count");
        drop((a, c));
        assert_eq!(table.count(ip("192.0.2.1")), 1);
        assert!(table.open(ip("192.0.2.1")).admitted);
        drop(b);
        assert_eq!(table.count(ip("192.0.2.1")), 0);
        assert!(table.open.lock().unwrap().is_empty(), "no entry is left for a client that left");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(Peer::from(ip("2001:db8:1:2::1")), Peer::from(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(Peer::from(ip("2001:db8:1:2::1")), Peer::from(ip("2001:db8:1:3::1")));
        assert_eq!(Peer::from(ip("::ffff:192.0.2.7")), Peer::from(ip("192.0.2.7")));
        assert_ne!(Peer::from(ip("192.0.2.7")), Peer::from(ip("192.0.2.8")));
    }

    #[test]
    fn the_total_bound_stays_below_the_open_files_limit() {
        assert_eq!(max_connections(None, Some(1024), 300, 2), 724);
        assert_eq!(max_connections(Some(5000), Some(1024), 300, 2), 724, "a configured bound above the limit is lowered");
        assert_eq!(max_connections(Some(100), Some(1024), 300, 2), 100);
        assert_eq!(max_connections(None, Some(1 << 20), 300, 2), 50_000, "never above actix's own default");
        assert_eq!(max_connections(None, Some(100), 300, 4), 4, "at least one per worker");
        assert_eq!(max_connections(None, None, 300, 2), 50_000);
    }

    #[test]
    fn raising_the_open_files_limit_leaves_it_at_the_hard_limit() {
        let (_, after) = raise_open_files_limit().unwrap();
        assert_eq!(open_files_limit(), Some(after));
    }
}
