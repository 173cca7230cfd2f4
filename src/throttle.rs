//! Throttling of login and registration, per client IP and per account identifier, with
//! counters in the token store so that every replica shares them.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::actors::TokenStore;
use crate::config::ThrottleConfig;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Register,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Register => "register",
        }
    }
}

#[derive(Clone)]
pub struct Throttle {
    store: TokenStore,
    config: ThrottleConfig,
}

impl Throttle {
    pub fn new(store: TokenStore, config: ThrottleConfig) -> Throttle {
        Throttle { store, config }
    }

    /// Counts this attempt, then refuses it when the IP or the account is over its limit.
    ///
    /// Security: the attempt is counted atomically *before* any Argon2 work, so a burst of
    /// parallel guesses cannot overshoot the limit. Windows are fixed and short: a victim's
    /// account is never locked for longer than `THROTTLE_WINDOW`.
    pub async fn attempt(&self, action: Action, ip: IpAddr, account: &str) -> Result<(), ApiError> {
        let per_ip = match action {
            Action::Login => self.config.login_per_ip,
            Action::Register => self.config.register_per_ip,
        };
        if per_ip == 0 && self.config.per_account == 0 {
            return Ok(());
        }
        let counters = vec![(ip_counter(action, ip), per_ip), (account_counter(action, account), self.config.per_account)];
        match self.store.hit(counters, self.config.window).await? {
            None => Ok(()),
            Some(wait) => {
                log::warn!(target: "gatehouse::auth", "{} throttled", action.name());
                Err(ApiError::RateLimited { retry_after: Duration::from_secs(wait.as_millis().div_ceil(1000) as u64) })
            }
        }
    }

    /// A successful login clears its account's count, so a user who mistyped a few times is
    /// not held back later. The IP count stays.
    pub async fn succeeded(&self, action: Action, account: &str) {
        if let Err(e) = self.store.forget(account_counter(action, account)).await {
            log::warn!("could not reset a throttle counter: {e}");
        }
    }
}

/// Security: an IPv6 client is counted by its /64, the smallest block a provider hands one
/// customer (RFC 6177): one host can take any address in it, so counting whole addresses would
/// give it 2^64 fresh budgets. IPv4 counts per address, an IPv4-mapped IPv6 address as its IPv4.
fn ip_counter(action: Action, ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("{}:ip:{v4}", action.name()),
        IpAddr::V6(v6) => format!("{}:ip:{}/64", action.name(), Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
    }
}

/// Security: the identifier (a username or an email) is hashed, so the store never holds
/// account names in its keys; case and surrounding space do not make a new counter.
fn account_counter(action: Action, account: &str) -> String {
    let digest = Sha256::digest(account.trim().to_lowercase().as_bytes());
    format!("{}:account:{}", action.name(), &hex::encode(digest)[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_counters_ignore_case_and_never_hold_the_name() {
        let a = account_counter(Action::Login, "Alice@Example.com");
        assert_eq!(a, account_counter(Action::Login, " alice@example.com "));
        assert!(!a.to_lowercase().contains("alice"));
        assert_ne!(a, account_counter(Action::Register, "alice@example.com"));
    }

    #[test]
    fn ip_counters_fold_mapped_ipv6() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(ip_counter(Action::Login, v4), ip_counter(Action::Login, mapped));
        assert_eq!(ip_counter(Action::Login, v4), "login:ip:10.1.2.3");
        assert_ne!(ip_counter(Action::Login, v4), ip_counter(Action::Login, "10.1.2.4".parse().unwrap()), "IPv4 counts per address");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let key = |s: &str| ip_counter(Action::Login, s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), "login:ip:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "one /64, one count");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"), "the neighbouring /64 is another client");
        assert_ne!(key("2001:db8:1:2::1"), ip_counter(Action::Register, "2001:db8:1:2::1".parse().unwrap()));
    }
}
