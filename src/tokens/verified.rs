//! `VerifiedTokens`: access tokens that already passed every check, by their exact text, so a
//! client that presents its token again (a single-page app does, on every call for minutes)
//! costs a table lookup instead of a base64 decode, an HMAC and two JSON parses.
//!
//! Security: an entry is made only after the full verification (signature, algorithm, `typ`,
//! no `crit`, issuer, audience, required claims, `nbf`, `exp`, a plausible `iat` and lifetime),
//! and a hit compares the whole token text,
//! so no other string can borrow an entry. What can change with time is re-checked on every
//! hit: `exp`, with the same leeway, and whether the key that verified the token still verifies
//! (an entry never outlives its key's retirement, an emergency retire included). A
//! token that is not `nbf`-valid yet is never cached, and time only moves forward. Only valid
//! tokens get in, so junk cannot fill the table, and its size is bounded. What can change
//! besides time is revocation: a hit carries the token's session and issue time, and the caller
//! checks them against the revocation table exactly as after a full verification.
//!
//! Each thread keeps a table of its own (an HTTP worker verifies a token once, on its first
//! presentation to that worker): a hit then touches no memory another worker writes.

use std::cell::RefCell;
use std::collections::HashMap;

use uuid::Uuid;

use crate::per_thread::PerThread;

/// Entries kept at most by each thread: about 3 MiB of token text.
const CAPACITY: usize = 8192;

/// Security: foldhash, seeded at random per table, instead of SipHash, which costs four times
/// as much over a ~460-byte key. Flooding a table with colliding keys needs keys of the
/// attacker's choosing; only tokens this service signed and verified get in.
type Table = HashMap<Box<[u8]>, Verified, foldhash::fast::RandomState>;

#[derive(Default)]
pub struct VerifiedTokens {
    tables: PerThread<RefCell<Table>>,
}

#[derive(Clone)]
struct Verified {
    token: Subject,
    exp: i64,
    /// The kid of the key that verified it.
    kid: Box<str>,
}

/// What the request path needs of a verified token: its user, and what the revocation check
/// reads (its session and when it was issued), so a hit is checked like a fresh verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    pub sub: Uuid,
    /// The session id (`sid`) as a number; `None` for a token signed before sessions had ids.
    pub sid: Option<u128>,
    pub iat: i64,
}

impl Subject {
    /// The session id as it is written in tokens and session lists (32 hex digits).
    pub fn sid_hex(&self) -> Option<String> {
        self.sid.map(|sid| format!("{sid:032x}"))
    }
}

/// What a cached token is, at a given moment.
#[derive(Debug, PartialEq, Eq)]
pub enum Cached {
    Valid(Subject),
    Expired,
    Unknown,
}

impl VerifiedTokens {
    /// `token` as of `now` (Unix seconds), with `leeway` seconds of tolerance on `exp`, while
    /// `key_verifies` says its key still verifies. An entry whose key stopped verifying is
    /// forgotten, and the token then goes through the full verification again (and fails it).
    pub fn get(&self, token: &[u8], now: i64, leeway: i64, key_verifies: impl Fn(&str) -> bool) -> Cached {
        let mut entries = self.table().borrow_mut();
        match entries.get(token) {
            None => Cached::Unknown,
            Some(v) if !key_verifies(&v.kid) => {
                entries.remove(token);
                Cached::Unknown
            }
            Some(v) if v.exp < now.saturating_sub(leeway) => {
                entries.remove(token);
                Cached::Expired
            }
            Some(v) => Cached::Valid(v.token),
        }
    }

    /// Records a token that has just passed the full verification with the key `kid`.
    pub fn put(&self, token: &str, subject: Subject, exp: i64, kid: &str, now: i64, leeway: i64) {
        let mut entries = self.table().borrow_mut();
        crate::bounded::make_room(&mut entries, CAPACITY, |_, v| v.exp >= now.saturating_sub(leeway));
        entries.insert(token.as_bytes().into(), Verified { token: subject, exp, kid: kid.into() });
    }

    /// This thread's table. `key_verifies` (in `get`) must not call back into it.
    fn table(&self) -> &RefCell<Table> {
        self.tables.get()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(sub: Uuid) -> Subject {
        Subject { sub, sid: Some(7), iat: 100 }
    }

    #[test]
    fn a_token_is_valid_until_its_exp_plus_leeway_then_forgotten() {
        let cache = VerifiedTokens::default();
        let sub = Uuid::new_v4();
        assert_eq!(cache.get(b"t", 100, 0, any), Cached::Unknown);
        cache.put("t", subject(sub), 200, "k", 100, 5);
        assert_eq!(cache.get(b"t", 200, 5, any), Cached::Valid(subject(sub)));
        assert_eq!(cache.get(b"t", 205, 5, any), Cached::Valid(subject(sub)));
        assert_eq!(cache.get(b"t", 206, 5, any), Cached::Expired);
        assert_eq!(cache.get(b"t", 100, 5, any), Cached::Unknown, "an expired entry is removed");
    }

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn an_entry_dies_with_its_key() {
        let cache = VerifiedTokens::default();
        let sub = Uuid::new_v4();
        cache.put("t", subject(sub), 200, "k1", 100, 0);
        assert_eq!(cache.get(b"t", 100, 0, |kid| kid == "k1"), Cached::Valid(subject(sub)));
        assert_eq!(cache.get(b"t", 100, 0, |kid| kid != "k1"), Cached::Unknown, "k1 retired");
        assert_eq!(cache.get(b"t", 100, 0, any), Cached::Unknown, "and forgotten");
    }

    #[test]
    fn only_the_exact_text_hits() {
        let cache = VerifiedTokens::default();
        cache.put("aaa.bbb.ccc", subject(Uuid::new_v4()), 200, "k", 100, 0);
        for other in ["aaa.bbb.cc", "aaa.bbb.cccd", "AAA.bbb.ccc", ""] {
            assert_eq!(cache.get(other.as_bytes(), 100, 0, any), Cached::Unknown, "{other:?}");
        }
    }

    #[test]
    fn the_table_stays_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..CAPACITY * 3 {
            cache.put(&format!("token-{i}"), subject(Uuid::nil()), 200, "k", 100, 0);
            assert!(cache.len() <= CAPACITY);
        }
        // Expired entries go first when the table is full.
        let cache = VerifiedTokens::default();
        for i in 0..CAPACITY {
            cache.put(&format!("old-{i}"), subject(Uuid::nil()), 50, "k", 40, 0);
        }
        cache.put("fresh", subject(Uuid::nil()), 200, "k", 100, 0);
        assert_eq!(cache.len(), 1);
    }
}
