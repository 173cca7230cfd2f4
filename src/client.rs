//! What is known of the client: its IP address (for throttling) and, for browsers, its origin.

use std::future::{Ready, ready};
use std::net::IpAddr;

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
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(chain) = forwarded_for else { return peer };
    let mut client = peer;
    for hop in chain.rsplit(',').map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<ClientIp, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else { return ready(Err(ApiError::Internal)) };
        // unwrap_or: a peer address is always present on TCP; loopback stands in for tests
        // that call handlers without a connection.
        let peer = req.peer_addr().map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        ready(Ok(ClientIp(client_ip(peer, forwarded, &state.trusted_proxies))))
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

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("10.0.0.2"), Some("6.6.6.6, 198.51.100.7, 10.0.0.9"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("garbage"), &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn same_origin_compares_scheme_less_host() {
        assert!(same_origin("http://127.0.0.1:3001", Some("127.0.0.1:3001")));
        assert!(!same_origin("http://evil.example", Some("127.0.0.1:3001")));
        assert!(!same_origin("null", Some("127.0.0.1:3001")));
    }
}
