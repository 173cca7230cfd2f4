//! What is known of the client: its IP address (for throttling) and, for browsers, its origin.

use std::future::{Ready, ready};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::header::{HOST, ORIGIN};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::config::IpNet;
use crate::error::ApiError;
use crate::state::AppState;

/// The client's IP address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Security: the peer address, unless the peer is a configured trusted proxy; then the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Entries left of it
/// were written by the client and prove nothing, so a client cannot pick its own throttle key.
///
/// `lines` are the header's lines in the order received: a proxy may append its entry to the
/// last line (nginx, Envoy, most load balancers) or add a line of its own (HAProxy's
/// `option forwardfor`), so the list is every line joined with commas, and reading only the
/// first line would hand the choice back to the client. Each entry may be written `ip`,
/// `ip:port`, `[v6]` or `[v6]:port`, with spaces or quotes around it and an IPv6 zone.
///
/// Security: an entry that still is not an address (`unknown`, an obfuscated name) was written
/// by the trusted proxy right of it, which did not say who its peer was: the client is then that
/// proxy, the last trusted hop. Going further left would let the client choose. The
/// lenient parsing above is what keeps real clients written in a proxy's own style out of that
/// shared bucket; a proxy that never names its clients is a misconfiguration, logged at warn.
pub fn client_ip<'a>(peer: IpAddr, lines: impl IntoIterator<Item = &'a str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let lines: Vec<&str> = lines.into_iter().collect();
    let mut client = peer;
    for hop in lines.iter().rev().flat_map(|line| line.rsplit(',')).map(str::trim).filter(|hop| !hop.is_empty()) {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip,
            None => {
                // Once per process: the cause is the proxy's configuration, not the request.
                static WARNED: AtomicBool = AtomicBool::new(false);
                if !WARNED.swap(true, Ordering::Relaxed) {
                    log::warn!(target: "gatehouse::auth", "an X-Forwarded-For entry written by trusted proxy {client} is not an address: the clients it names that way share one throttle count");
                }
                return client;
            }
        }
    }
    client
}

/// One `X-Forwarded-For` entry: `ip`, `ip:port`, `[v6]`, `[v6]:port`, optionally quoted, an
/// IPv6 zone (`%eth0`) dropped. `None` for anything else.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let hop = hop.strip_prefix('"').and_then(|h| h.strip_suffix('"')).unwrap_or(hop).trim();
    let without_zone = |addr: &str| addr.split_once('%').map_or(addr, |(ip, _)| ip).parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    let is_port = |port: &str| !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = hop.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return if port_ok { without_zone(addr) } else { None };
    }
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    match hop.split_once(':') {
        // One colon: `v4:port`. More: an IPv6 address (perhaps with a zone) without brackets.
        Some((v4, port)) if !port.contains(':') => v4.parse::<Ipv4Addr>().ok().filter(|_| is_port(port)).map(IpAddr::V4),
        Some(_) => without_zone(hop),
        None => None,
    }
}

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<ClientIp, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else { return ready(Err(ApiError::Internal)) };
        // unwrap_or: a peer address is always present on TCP; loopback stands in for tests
        // that call handlers without a connection.
        let peer = req.peer_addr().map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        // Lossy: a client's non-ASCII bytes spoil only its own entries, never the addresses a
        // proxy appended to the same line.
        let lines: Vec<_> = req.headers().get_all("x-forwarded-for").map(|v| String::from_utf8_lossy(v.as_bytes())).collect();
        ready(Ok(ClientIp(client_ip(peer, lines.iter().map(|l| l.as_ref()), &state.trusted_proxies))))
    }
}

/// Taken by the routes that set or use the refresh cookie.
///
/// Security: a browser names the page that sent a request in `Origin`. A request from an
/// origin outside `CORS_ORIGINS` (and not the service's own) is refused before it can log in,
/// rotate or revoke a session with the cookie the browser attaches: the CSRF defence that does
/// not depend on `SameSite` alone. A browser request with no `Origin` that the browser itself
/// marks as coming from another site (`Sec-Fetch-Site`: a link or form navigation to
/// `GET /auth/refreshAccessToken`) is refused too. Clients that are not browsers send neither
/// header and pass.
#[derive(Debug, Clone, Copy)]
pub struct CheckedOrigin;

impl FromRequest for CheckedOrigin {
    type Error = ApiError;
    type Future = Ready<Result<CheckedOrigin, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else { return ready(Err(ApiError::Internal)) };
        let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
        let allowed = match req.headers().get(ORIGIN) {
            Some(origin) => origin.to_str().is_ok_and(|o| state.cors_origins.iter().any(|a| a == o) || same_origin(o, host)),
            None => !req.headers().get("sec-fetch-site").is_some_and(|s| s == "cross-site" || s == "same-site"),
        };
        if !allowed {
            log::warn!(target: "gatehouse::auth", "request refused: origin not allowed");
        }
        ready(if allowed { Ok(CheckedOrigin) } else { Err(ApiError::OriginNotAllowed) })
    }
}

/// `http(s)://<Host>`: a page served by the service itself.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    matches!((rest, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(client_ip(ip("203.0.113.9"), ["1.2.3.4"], &[]), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("203.0.113.9"), ["1.2.3.4"], &nets(&["10.0.0.0/8"])), ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["6.6.6.6, 198.51.100.7, 10.0.0.9"], &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), [], &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), ["10.0.0.7, 10.0.0.9"], &trusted), ip("10.0.0.7"), "only proxies: the left-most one");
    }

    #[test]
    fn nginx_appending_to_the_clients_header_names_the_real_client() {
        // `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;` appends ", $remote_addr"
        // to whatever the client sent, even an entry that looks like a trusted proxy.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["198.51.100.7"], &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), ["6.6.6.6, 10.9.9.9, 198.51.100.7"], &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn haproxy_adding_a_line_of_its_own_names_the_real_client() {
        // `option forwardfor` adds a separate `X-Forwarded-For` line after the client's lines.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["6.6.6.6", "198.51.100.7"], &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), ["1.1.1.1", "2.2.2.2, 3.3.3.3", "", "198.51.100.7"], &trusted), ip("198.51.100.7"));
        // Two proxies, each adding its line: the inner one's line names the outer proxy.
        assert_eq!(client_ip(ip("10.0.0.2"), ["6.6.6.6", "198.51.100.7", "10.0.0.3"], &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn envoy_appending_without_a_space_names_the_real_client() {
        let trusted = nets(&["10.0.0.0/8", "fd00::/8"]);
        assert_eq!(client_ip(ip("fd00::2"), ["6.6.6.6,2001:db8::7"], &trusted), ip("2001:db8::7"));
        assert_eq!(client_ip(ip("fd00::2"), ["6.6.6.6,2001:db8::7,10.0.0.5"], &trusted), ip("2001:db8::7"));
    }

    #[test]
    fn cloud_load_balancers_with_ports_and_their_own_address_name_the_real_client() {
        // AWS ALB with the client port kept: `ip:port` and `[v6]:port`.
        let alb = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.1.20"), ["203.0.113.7:54321"], &alb), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("10.0.1.20"), ["6.6.6.6, [2001:db8::7]:54321"], &alb), ip("2001:db8::7"));
        assert_eq!(client_ip(ip("10.0.1.20"), ["[2001:db8::8]"], &alb), ip("2001:db8::8"));
        // GCP: "<client supplied>,<client>,<load balancer IP>", from Google's front ends.
        let gcp = nets(&["35.191.0.0/16", "130.211.0.0/22", "34.120.0.1"]);
        assert_eq!(client_ip(ip("35.191.3.4"), ["6.6.6.6,203.0.113.7,34.120.0.1"], &gcp), ip("203.0.113.7"));
    }

    #[test]
    fn cloudflare_in_front_of_nginx_needs_both_trusted() {
        // Cloudflare appends the client, nginx appends the Cloudflare edge it came from.
        let header = ["6.6.6.6, 198.51.100.7, 173.245.48.9"];
        let both = nets(&["10.0.0.0/8", "173.245.48.0/20"]);
        assert_eq!(client_ip(ip("10.0.0.2"), header, &both), ip("198.51.100.7"));
        // With only nginx trusted, the edge is the client: safe, but every visitor shares it.
        assert_eq!(client_ip(ip("10.0.0.2"), header, &nets(&["10.0.0.0/8"])), ip("173.245.48.9"));
    }

    #[test]
    fn oddly_written_entries_still_name_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        for hop in [
            " 198.51.100.7 ",
            "198.51.100.7:80",
            "\"198.51.100.7\"",
            "\"[2001:db8::7]:443\"",
            "2001:db8::7",
            "fe80::7%eth0",
            "[fe80::7%25eth0]:80",
        ] {
            let expected = if hop.contains("198.") {
                ip("198.51.100.7")
            } else if hop.contains("fe80") {
                ip("fe80::7")
            } else {
                ip("2001:db8::7")
            };
            assert_eq!(client_ip(ip("10.0.0.2"), [format!("6.6.6.6,{hop}").as_str()], &trusted), expected, "{hop}");
        }
    }

    #[test]
    fn an_entry_that_is_no_address_stops_at_the_proxy_that_wrote_it() {
        // Never further left: those entries are the client's own.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["garbage"], &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), ["6.6.6.6, unknown, 10.0.0.9"], &trusted), ip("10.0.0.9"));
        for hop in ["1.2.3.4:", "1.2.3.4:port", "1.2.3.4:123456", "[2001:db8::7", "[2001:db8::7]x", "[1.2.3.4]", "_hidden", "\u{fffd}"] {
            assert_eq!(parse_hop(hop), None, "{hop}");
        }
    }

    #[test]
    fn same_origin_compares_scheme_less_host() {
        assert!(same_origin("http://127.0.0.1:3001", Some("127.0.0.1:3001")));
        assert!(!same_origin("http://evil.example", Some("127.0.0.1:3001")));
        assert!(!same_origin("null", Some("127.0.0.1:3001")));
    }
}
