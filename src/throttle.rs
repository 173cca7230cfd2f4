//! Throttling of login and registration, per client IP and per account (or per device that
//! logged into the account before), with counters in the counter store (Redis, beside the
//! refresh tokens) so that every replica shares them.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::actors::CounterStore;
use crate::config::ThrottleConfig;
use crate::device_cookie::Device;
use crate::domain::Identifier;
use crate::error::ApiError;
use crate::middleware::RequestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Register,
    /// `POST /auth/password/forgot`: per IP and per address asked for.
    Forgot,
    /// `POST /auth/password/reset` and `POST /auth/email/verify`: per IP (a token is guessed
    /// nowhere else).
    Redeem,
    /// Mail a signed-in user asks for (`/auth/email/resend`, `/auth/email`): per account.
    Mail,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Register => "register",
            Action::Forgot => "forgot",
            Action::Redeem => "redeem",
            Action::Mail => "mail",
        }
    }
}

/// Whose attempts a per-account counter counts.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// An account that exists, however the attempt named it: its username, in any spelling,
    /// and its email share this one counter.
    Existing(Uuid),
    /// An existing account, from a browser holding a valid device cookie for it: that device's
    /// own counter, apart from everyone else's.
    Device(&'a Device),
    /// No such account (or not yet, for a registration): the canonical identifier.
    Named(&'a Identifier),
}

impl Account<'_> {
    fn kind(self) -> &'static str {
        match self {
            Account::Existing(_) => "account",
            Account::Device(_) => "device",
            Account::Named(_) => "name",
        }
    }

    /// For the log line of a refusal: which account, when it exists.
    fn user_id(self) -> String {
        match self {
            Account::Existing(id) | Account::Device(&Device { user_id: id, .. }) => format!(" user_id={id}"),
            Account::Named(_) => String::new(),
        }
    }
}

#[derive(Clone)]
pub struct Throttle {
    counters: CounterStore,
    config: ThrottleConfig,
}

impl Throttle {
    pub fn new(counters: CounterStore, config: ThrottleConfig) -> Throttle {
        Throttle { counters, config }
    }

    /// Counts an attempt from this client IP, then refuses it when the IP is over its limit.
    ///
    /// Reliability: this comes first, before the database is asked anything, so one client's
    /// flood costs the database nothing once it is over the limit.
    pub async fn attempt_from(&self, rid: &RequestId, action: Action, ip: IpAddr) -> Result<(), ApiError> {
        let limit = match action {
            Action::Login | Action::Redeem => self.config.login_per_ip,
            Action::Register | Action::Forgot | Action::Mail => self.config.register_per_ip,
        };
        self.count(rid, action, ip_counter(action, ip), limit, None).await
    }

    /// Counts an attempt on this account, then refuses it when the account is over its limit.
    ///
    /// Security: the attempt is counted atomically *before* any Argon2 work, so a burst of
    /// parallel guesses cannot overshoot the limit. Windows are fixed and short: an account is
    /// never locked for longer than `THROTTLE_WINDOW`, and a device that logged into it before
    /// is not locked by strangers at all (it has its own counter).
    pub async fn attempt_on(&self, rid: &RequestId, action: Action, account: Account<'_>) -> Result<(), ApiError> {
        self.count(rid, action, account_counter(action, account), self.config.per_account, Some(account)).await
    }

    /// `account` is `None` for the IP counter.
    async fn count(
        &self,
        rid: &RequestId,
        action: Action,
        counter: String,
        limit: u32,
        account: Option<Account<'_>>,
    ) -> Result<(), ApiError> {
        if limit == 0 {
            return Ok(());
        }
        match self.counters.hit(vec![(counter, limit)], self.config.window).await? {
            None => Ok(()),
            Some(wait) => {
                let what = account.map_or_else(|| "ip".to_string(), |a| format!("{}{}", a.kind(), a.user_id()));
                log::warn!(target: "gatehouse::auth", "{} throttled per {what} rid={rid}", action.name());
                Err(ApiError::RateLimited { retry_after: Duration::from_secs(wait.as_millis().div_ceil(1000) as u64) })
            }
        }
    }

    /// A successful login clears the count it was made under, so a user who mistyped a few
    /// times is not held back later. The IP count stays.
    pub async fn succeeded(&self, rid: &RequestId, action: Action, account: Account<'_>) {
        if self.config.per_account == 0 {
            return;
        }
        if let Err(e) = self.counters.forget(account_counter(action, account)).await {
            log::warn!("could not reset a throttle counter: {e} rid={rid}");
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

/// Security: the identity is hashed, so the store never holds account names (or device nonces)
/// in its keys. Every spelling of one account maps to one identity: the account's id once it
/// is found, else the canonical identifier the lookup used.
fn account_counter(action: Action, account: Account<'_>) -> String {
    let identity = match account {
        Account::Existing(id) => format!("user:{id}"),
        Account::Device(device) => format!("device:{}:{}", device.user_id, hex::encode(device.nonce)),
        Account::Named(identifier) => identifier.canonical(),
    };
    let digest = Sha256::digest(identity.as_bytes());
    format!("{}:account:{}", action.name(), &hex::encode(digest)[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(action: Action, username: Option<&str>, email: Option<&str>) -> String {
        account_counter(action, Account::Named(&Identifier::parse(username, email).unwrap()))
    }

    #[test]
    fn account_counters_ignore_case_and_never_hold_the_name() {
        let a = named(Action::Login, None, Some("Alice@Example.com"));
        assert_eq!(a, named(Action::Login, None, Some(" alice@example.com ")));
        assert!(!a.to_lowercase().contains("alice"));
        assert_ne!(a, named(Action::Register, None, Some("alice@example.com")));
        assert_eq!(named(Action::Login, Some("ab"), None), named(Action::Login, Some(" AB "), None), "unparseable names too");
    }

    #[test]
    fn an_account_device_and_name_each_have_their_own_counter() {
        let id = Uuid::now_v7();
        let (one, two) = (Device { user_id: id, nonce: [1; 16] }, Device { user_id: id, nonce: [2; 16] });
        let counters = [
            account_counter(Action::Login, Account::Existing(id)),
            account_counter(Action::Login, Account::Device(&one)),
            account_counter(Action::Login, Account::Device(&two)),
            account_counter(Action::Login, Account::Existing(Uuid::now_v7())),
            named(Action::Login, Some("alice"), None),
        ];
        for (i, a) in counters.iter().enumerate() {
            assert!(!a.contains(&id.to_string()) && !a.contains(&hex::encode([1u8; 16])), "{a}");
            for b in &counters[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    /// A spelling of `plain` (ASCII lower-case letters and digits) that NFKC folds back onto it,
    /// up to case: each character in one of several compatibility forms.
    fn spell(plain: &str, styles: &[u8], space: (&str, &str)) -> String {
        let form = |c: char, style: u8| -> char {
            let letter = c.is_ascii_lowercase();
            // Offsets into the alphabet or the digits; only the one that applies is used.
            let (l, d) = ((c as u32).wrapping_sub('a' as u32), (c as u32).wrapping_sub('0' as u32));
            let code = match style % 8 {
                0 => return c,
                1 => return c.to_ascii_uppercase(),
                2 if letter => 0xFF41 + l,  // fullwidth small
                2 => 0xFF10 + d,            // fullwidth digit
                3 if letter => 0x1D400 + l, // mathematical bold capital
                3 => 0x1D7CE + d,           // mathematical bold digit
                4 if letter => 0x1D5BA + l, // mathematical sans-serif small
                4 => 0x1D7E2 + d,           // mathematical sans-serif digit
                5 if letter => 0x24D0 + l,  // circled small
                5 if d == 0 => 0x24EA,      // circled digit zero
                5 => 0x2460 + d - 1,        // circled digits one to nine
                6 if letter => 0xFF21 + l,  // fullwidth capital
                7 if letter => 0x1D5A0 + l, // mathematical sans-serif capital
                _ => return c,
            };
            // unwrap: every code above is an assigned character.
            char::from_u32(code).unwrap()
        };
        let body: String = plain.chars().zip(styles.iter().cycle()).map(|(c, s)| form(c, *s)).collect();
        format!("{}{body}{}", space.0, space.1)
    }

    proptest::proptest! {
        #[test]
        fn every_spelling_of_one_identity_shares_one_counter(
            plain in "[a-z][a-z0-9]{2,20}",
            first in proptest::collection::vec(0u8..8, 1..24),
            second in proptest::collection::vec(0u8..8, 1..24),
            space in proptest::sample::select(vec![("", ""), (" ", ""), ("", "  "), ("\t", " "), ("\u{3000}", "\u{3000}")]),
        ) {
            let (a, b) = (spell(&plain, &first, space), spell(&plain, &second, ("", "")));
            let expected = named(Action::Login, Some(&plain), None);
            proptest::prop_assert_eq!(named(Action::Login, Some(&a), None), expected.clone(), "{:?}", a);
            proptest::prop_assert_eq!(named(Action::Login, Some(&b), None), expected, "{:?}", b);
            // The same spellings of the local part of an email do not fold (emails are compared
            // as typed, lower-cased), but case and surrounding space still do.
            proptest::prop_assert_eq!(
                named(Action::Login, None, Some(&format!("{}{plain}@Example.COM{}", space.0, space.1))),
                named(Action::Login, None, Some(&format!("{}@example.com", plain.to_uppercase())))
            );
        }
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
