//! `RevocationTable`: the ended sessions (by `sid`) and the per-user "not before" times this
//! process has been told of, each kept for as long as an access token issued before it can still
//! be valid (`ACCESS_TOKEN_TTL` + `JWT_LEEWAY`), and whether the table can be trusted right now.
//!
//! Every bearer request reads it (a hash lookup under a read lock, no store round trip); only
//! revocations write it. Entries age out: each carries its own expiry and expired ones are swept
//! at most once a second by a write. Only revocations gatehouse made get in (from its own flows,
//! its own Redis channel and record), so the size is the number of sessions ended within one
//! window, measured in docs/performance.md.
//!
//! Each thread also remembers the tokens that passed since the table last changed: while no
//! revocation arrives, a bearer request of a token seen before reads one atomic and its own
//! thread's set, and takes no lock every worker writes.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use crate::per_thread::PerThread;

/// Tokens a thread remembers as passed, at most (then it forgets them all and starts over).
const PASSED_CAPACITY: usize = 8192;

/// One revocation, as it travels between replicas (`s:<sid>`, `u:<uid>:<not before>` or
/// `k:<kid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The session ended: every access token carrying this `sid` is refused.
    Session(String),
    /// Every access token of this user issued before this Unix second is refused.
    UserBefore(Uuid, i64),
    /// An operator retired the signing key `kid` at once: every access token it signed is
    /// refused. The table holds no entry for it; the listener has its replica reload the keys.
    KeyRetired(String),
}

/// The longest kid a `k:` revocation carries: gatehouse's are 22 characters.
const MAX_KID: usize = 64;

impl Revocation {
    pub fn encode(&self) -> String {
        match self {
            Revocation::Session(sid) => format!("s:{sid}"),
            Revocation::UserBefore(uid, nbf) => format!("u:{uid}:{nbf}"),
            Revocation::KeyRetired(kid) => format!("k:{kid}"),
        }
    }

    /// `None` for anything that is not exactly an encoding: a message on the channel that
    /// gatehouse did not write changes nothing.
    pub fn decode(s: &str) -> Option<Revocation> {
        if let Some(sid) = s.strip_prefix("s:") {
            return sid_key(sid).map(|_| Revocation::Session(sid.to_string()));
        }
        if let Some(kid) = s.strip_prefix("k:") {
            let plausible = (1..=MAX_KID).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            return plausible.then(|| Revocation::KeyRetired(kid.to_string()));
        }
        let (uid, nbf) = s.strip_prefix("u:")?.split_once(':')?;
        Some(Revocation::UserBefore(uid.parse().ok()?, nbf.parse().ok()?))
    }
}

/// A session id as the table keys it: the 128-bit family id (32 hex digits), 16 bytes.
fn sid_key(sid: &str) -> Option<u128> {
    (sid.len() == 32).then(|| u128::from_str_radix(sid, 16).ok()).flatten()
}

/// Why a verified access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its session ended, or its user's tokens were revoked after it was issued.
    Revoked,
    /// The table has not heard from the revocation channel for longer than the fail-open
    /// bound: it cannot tell (see `RevocationTable::check`).
    Unknown,
}

pub struct RevocationTable {
    entries: RwLock<Entries>,
    /// Seconds an entry is kept: `ACCESS_TOKEN_TTL` + `JWT_LEEWAY`.
    window: i64,
    /// How long the table is trusted after it lost the channel (`REVOCATION_FAIL_OPEN`).
    fail_open_ms: i64,
    /// Unix milliseconds since which the table has been out of touch; 0 while in touch.
    lost_since: AtomicI64,
    /// Bumped after every write: what a thread's `Passed` was checked against.
    generation: AtomicU64,
    passed: PerThread<RefCell<Passed>>,
}

/// The tokens (by session, user and issue time) one thread found not revoked while the table
/// was at `generation`.
#[derive(Default)]
struct Passed {
    generation: u64,
    tokens: HashSet<(Option<u128>, Uuid, i64), foldhash::fast::RandomState>,
}

#[derive(Default)]
struct Entries {
    /// sid → Unix second the entry expires.
    sessions: HashMap<u128, i64>,
    /// user → (not before, expiry), both Unix seconds.
    users: HashMap<Uuid, (i64, i64)>,
    next_sweep: i64,
}

impl RevocationTable {
    /// A table that is in touch from the start (the embedded store, where every revocation is
    /// made in this process).
    pub fn new(window: Duration, fail_open: Duration) -> RevocationTable {
        RevocationTable {
            entries: RwLock::default(),
            window: window.as_secs() as i64,
            fail_open_ms: fail_open.as_millis() as i64,
            lost_since: AtomicI64::new(0),
            generation: AtomicU64::new(0),
            passed: PerThread::default(),
        }
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window as u64)
    }

    /// Records `revocation`, made or heard of at `now` (Unix seconds), unless it is older than
    /// the window.
    pub fn apply(&self, revocation: &Revocation, now: i64) {
        self.apply_until(revocation, now + self.window, now);
    }

    /// Records `revocation` to be kept until `expires` (Unix seconds): what a replay from the
    /// Redis record knows. Returns whether it refuses a token the table let pass before (a
    /// session or a not-before time it did not hold yet).
    pub fn apply_until(&self, revocation: &Revocation, expires: i64, now: i64) -> bool {
        // A retired key is the key set's to refuse (see `RevocationListener`), not the table's.
        if expires < now || matches!(revocation, Revocation::KeyRetired(_)) {
            return false;
        }
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if now >= e.next_sweep {
            e.sessions.retain(|_, exp| *exp >= now);
            e.users.retain(|_, (_, exp)| *exp >= now);
            e.next_sweep = now + 1;
        }
        let news = match revocation {
            Revocation::Session(sid) => sid_key(sid).is_some_and(|key| {
                let held = e.sessions.get(&key).copied();
                e.sessions.insert(key, held.map_or(expires, |exp| exp.max(expires)));
                held.is_none()
            }),
            Revocation::UserBefore(uid, nbf) => {
                let held = e.users.get(uid).copied();
                e.users.insert(*uid, held.map_or((*nbf, expires), |(n, exp)| (n.max(*nbf), exp.max(expires))));
                held.is_none_or(|(n, _)| *nbf > n)
            }
            Revocation::KeyRetired(_) => false,
        };
        crate::metrics::sessions::revocation_table_size(e.sessions.len() + e.users.len());
        // After the write: a thread that reads the new number checks against the new entries.
        self.generation.fetch_add(1, Ordering::Release);
        news
    }

    /// Whether an access token (already verified) of `sub`, session `sid`, issued at `iat` may
    /// pass at `now_ms` (Unix milliseconds).
    ///
    /// Security: a decision where the contract is silent (docs/sessions.md). While this replica
    /// is out of touch with the revocation channel it keeps answering from what it knows (fail
    /// open) for `REVOCATION_FAIL_OPEN` at most, since a Redis outage alone ends no session (the
    /// store that ends them is the same Redis); past that bound it refuses every bearer token with
    /// 503 (fail closed) until it has replayed the record, because by then revocations made
    /// through other replicas may have been missed.
    /// `sid` is the session id as a number, as the verified token carries it; `now_ms` is read
    /// only while the channel is lost (a clock read the bearer path otherwise does without).
    pub fn check(&self, sid: Option<u128>, sub: Uuid, iat: i64, now_ms: impl FnOnce() -> i64) -> Result<(), Refusal> {
        let lost = self.lost_since.load(Ordering::Relaxed);
        if lost != 0 && now_ms() - lost > self.fail_open_ms {
            return Err(Refusal::Unknown);
        }
        // Security: read before the entries, so a token remembered as passed at this number
        // was checked against every revocation written before the number was bumped past it.
        let generation = self.generation.load(Ordering::Acquire);
        let token = (sid, sub, iat);
        let passed = self.passed.get();
        {
            let passed = passed.borrow();
            if passed.generation == generation && passed.tokens.contains(&token) {
                return Ok(());
            }
        }
        {
            let e = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(key) = sid
                && e.sessions.contains_key(&key)
            {
                return Err(Refusal::Revoked);
            }
            if let Some((nbf, _)) = e.users.get(&sub)
                && iat < *nbf
            {
                return Err(Refusal::Revoked);
            }
        }
        let mut passed = passed.borrow_mut();
        if passed.generation != generation || passed.tokens.len() >= PASSED_CAPACITY {
            passed.generation = generation;
            passed.tokens.clear();
        }
        passed.tokens.insert(token);
        Ok(())
    }

    /// The channel was lost at `now_ms` (kept if it already was).
    pub fn lost(&self, now_ms: i64) {
        let _ = self.lost_since.compare_exchange(0, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The table has caught up with the record and hears the channel again.
    pub fn in_touch(&self) {
        self.lost_since.store(0, Ordering::Relaxed);
    }

    pub fn is_in_touch(&self) -> bool {
        self.lost_since.load(Ordering::Relaxed) == 0
    }

    pub fn len(&self) -> usize {
        let e = self.entries.read().unwrap_or_else(|p| p.into_inner());
        e.sessions.len() + e.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "0123456789abcdef0123456789abcdef";

    fn table() -> RevocationTable {
        RevocationTable::new(Duration::from_secs(305), Duration::from_secs(30))
    }

    #[test]
    fn an_ended_session_is_refused_until_the_window_ends() {
        let t = table();
        let user = Uuid::now_v7();
        assert_eq!(t.check(sid_key(SID), user, 1000, || 1_000_000), Ok(()));
        t.apply(&Revocation::Session(SID.into()), 1000);
        assert_eq!(t.check(sid_key(SID), user, 999, || 1_000_000), Err(Refusal::Revoked));
        assert_eq!(t.check(sid_key(&"f".repeat(32)), user, 999, || 1_000_000), Ok(()), "another session");
        t.apply(&Revocation::Session("e".repeat(32)), 1306);
        assert_eq!(t.len(), 1, "the first entry aged out");
    }

    #[test]
    fn a_token_that_passed_is_refused_once_its_session_or_user_is_revoked() {
        let t = table();
        let user = Uuid::now_v7();
        for _ in 0..2 {
            assert_eq!(t.check(sid_key(SID), user, 999, || 1_000_000), Ok(()), "passes, then passes from memory");
        }
        t.apply(&Revocation::Session(SID.into()), 1000);
        assert_eq!(t.check(sid_key(SID), user, 999, || 1_000_000), Err(Refusal::Revoked));
        let other = "a".repeat(32);
        assert_eq!(t.check(sid_key(&other), user, 999, || 1_000_000), Ok(()));
        t.apply(&Revocation::UserBefore(user, 1000), 1000);
        assert_eq!(t.check(sid_key(&other), user, 999, || 1_000_000), Err(Refusal::Revoked));
        // Another thread's memory is checked against the same number.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(t.check(sid_key(&other), user, 999, || 1_000_000), Err(Refusal::Revoked)));
        });
    }

    #[test]
    fn applying_tells_whether_the_table_refuses_more_than_before() {
        let t = table();
        let user = Uuid::now_v7();
        assert!(t.apply_until(&Revocation::Session(SID.into()), 1305, 1000));
        assert!(!t.apply_until(&Revocation::Session(SID.into()), 1310, 1000), "held already: only its expiry moves");
        assert!(t.apply_until(&Revocation::UserBefore(user, 1000), 1305, 1000));
        assert!(!t.apply_until(&Revocation::UserBefore(user, 999), 1305, 1000), "an earlier not-before refuses nothing more");
        assert!(t.apply_until(&Revocation::UserBefore(user, 1001), 1305, 1000));
        assert!(!t.apply_until(&Revocation::Session("e".repeat(32)), 999, 1000), "expired");
    }

    #[test]
    fn a_user_not_before_refuses_older_tokens_only() {
        let t = table();
        let user = Uuid::now_v7();
        t.apply(&Revocation::UserBefore(user, 1000), 1000);
        assert_eq!(t.check(None, user, 999, || 0), Err(Refusal::Revoked));
        assert_eq!(t.check(sid_key(SID), user, 1000, || 0), Ok(()));
        assert_eq!(t.check(None, Uuid::now_v7(), 999, || 0), Ok(()));
    }

    #[test]
    fn out_of_touch_it_fails_open_for_the_bound_then_closed() {
        let t = table();
        t.lost(1_000_000);
        assert_eq!(t.check(None, Uuid::now_v7(), 0, || 1_030_000), Ok(()));
        assert_eq!(t.check(None, Uuid::now_v7(), 0, || 1_030_001), Err(Refusal::Unknown));
        t.in_touch();
        assert_eq!(t.check(None, Uuid::now_v7(), 0, || 1_030_001), Ok(()));
    }

    #[test]
    fn only_exact_encodings_decode() {
        let user = Uuid::now_v7();
        for r in
            [Revocation::Session(SID.into()), Revocation::UserBefore(user, 42), Revocation::KeyRetired("jQ_lC_jiOAeKss4tN9urow".into())]
        {
            assert_eq!(Revocation::decode(&r.encode()), Some(r));
        }
        let long = format!("k:{}", "a".repeat(65));
        for junk in ["", "s:", "s:xyz", "u:nope:1", &format!("u:{user}"), &format!("x:{SID}"), "k:", "k:a b", "k:a|b", &long] {
            assert_eq!(Revocation::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn a_retired_key_leaves_the_table_as_it_was() {
        let t = table();
        assert!(!t.apply_until(&Revocation::KeyRetired("kid".into()), 1305, 1000), "nothing it refuses is the table's");
        assert_eq!(t.check(sid_key(SID), Uuid::now_v7(), 999, || 0), Ok(()));
    }
}
