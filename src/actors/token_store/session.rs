//! What the token store knows of a session besides its hashes: where and when it started, when
//! it was last refreshed, and the client's (bounded, sanitised) user agent.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The longest user agent kept, in characters.
const MAX_USER_AGENT: usize = 200;

/// Recorded when a session starts.
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    /// The client's address as resolved through `TRUSTED_PROXIES`.
    pub ip: String,
    pub user_agent: String,
}

impl SessionMeta {
    /// Security: the user agent is the client's to choose, and it is shown back to the user and
    /// to operators: only printable ASCII is kept (no control characters, no markup-significant
    /// `<`, `>`, `"`, `'`, `&`, `\`), at most `MAX_USER_AGENT` characters, so it can neither
    /// forge a log line nor fill the store.
    pub fn new(ip: std::net::IpAddr, user_agent: Option<&str>) -> SessionMeta {
        let user_agent = user_agent
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .filter(|c| !matches!(c, '<' | '>' | '"' | '\'' | '&' | '\\'))
            .take(MAX_USER_AGENT)
            .collect::<String>()
            .trim()
            .to_string();
        SessionMeta { ip: ip.to_string(), user_agent }
    }
}

/// One of a user's live sessions, as `GET /auth/sessions` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The session id: the `sid` of its access tokens.
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    /// Whether this is the session of the access token the request came with.
    pub current: bool,
}

impl SessionInfo {
    pub(crate) fn from_millis(id: String, created: i64, seen: i64, ip: String, user_agent: String) -> SessionInfo {
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        SessionInfo { id, created_at: at(created), last_refreshed_at: at(seen), ip, user_agent, current: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_bounded_and_sanitised() {
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let meta = SessionMeta::new(ip, Some("Mozilla\r\n<script>x</script>\u{7}é \"q\""));
        assert_eq!(meta.user_agent, "Mozillascriptx/script q");
        assert_eq!(SessionMeta::new(ip, Some(&"a".repeat(10_000))).user_agent.len(), MAX_USER_AGENT);
        assert_eq!(SessionMeta::new(ip, None).user_agent, "");
        assert_eq!(meta.ip, "127.0.0.1");
    }
}
