//! The in-memory backend of the token store, for the embedded single-process setup: the same
//! rules as the Redis scripts, under one mutex, with expiry checked on every read and swept by
//! the live-token worker.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Rotation;
use crate::tokens::RefreshToken;

pub struct MemoryTokens {
    state: Mutex<State>,
    ttl: Duration,
    grace: Duration,
}

#[derive(Default)]
struct State {
    families: HashMap<String, Family>,
    /// The one live family of each user.
    sessions: HashMap<Uuid, Session>,
}

struct Family {
    user_id: Uuid,
    current: String,
    previous: Option<Predecessor>,
    expires: Instant,
}

struct Predecessor {
    hash: String,
    rotated_at: Instant,
    sealed_successor: String,
}

struct Session {
    family: String,
    expires: Instant,
}

impl MemoryTokens {
    pub fn new(ttl: Duration, grace: Duration) -> MemoryTokens {
        MemoryTokens { state: Mutex::default(), ttl, grace }
    }

    /// The critical sections never panic halfway through a change; a poisoned lock still holds
    /// consistent maps.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a family for the user, replacing the one they had.
    pub fn store_new(&self, user_id: Uuid, token: &RefreshToken) {
        let now = Instant::now();
        let mut s = self.lock();
        if let Some(old) = s.sessions.remove(&user_id) {
            s.families.remove(&old.family);
        }
        let family = token.family();
        let expires = now + self.ttl;
        s.families.insert(family.clone(), Family { user_id, current: token.hash().0, previous: None, expires });
        s.sessions.insert(user_id, Session { family, expires });
    }

    /// `proven`: whether `presented` carries a valid tag (see `TokenBackend::rotate`).
    pub fn rotate(&self, presented: &RefreshToken, successor: &RefreshToken, proven: bool) -> Rotation {
        let now = Instant::now();
        let (family_id, hash) = (presented.family(), presented.hash().0);
        let mut s = self.lock();
        let Some(family) = s.families.get_mut(&family_id).filter(|f| f.expires > now) else {
            return Rotation::Invalid;
        };
        let user_id = family.user_id;
        if family.current == hash {
            family.previous = Some(Predecessor { hash, rotated_at: now, sealed_successor: presented.seal(successor) });
            family.current = successor.hash().0;
            family.expires = now + self.ttl;
            s.sessions.insert(user_id, Session { family: family_id, expires: now + self.ttl });
            return Rotation::Rotated(user_id);
        }
        if let Some(p) = &family.previous
            && p.hash == hash
            && !self.grace.is_zero()
            && now.duration_since(p.rotated_at) <= self.grace
        {
            return Rotation::Grace { user_id, sealed: p.sealed_successor.clone(), current_hash: family.current.clone() };
        }
        // Security: only a token that proves it belonged to the family (a valid tag, or the exact
        // predecessor) may end it; anything else knows at most the family id and touches nothing.
        if !proven && family.previous.as_ref().is_none_or(|p| p.hash != hash) {
            return Rotation::Invalid;
        }
        Self::revoke_family(&mut s, &family_id, user_id);
        Rotation::Reused(user_id)
    }

    /// Logout: revokes the family if `presented` is its current token or the immediate predecessor.
    pub fn revoke(&self, presented: &RefreshToken) -> Option<Uuid> {
        let now = Instant::now();
        let (family_id, hash) = (presented.family(), presented.hash().0);
        let mut s = self.lock();
        let family = s.families.get(&family_id).filter(|f| f.expires > now)?;
        let known = family.current == hash || family.previous.as_ref().is_some_and(|p| p.hash == hash);
        if !known {
            return None;
        }
        let user_id = family.user_id;
        Self::revoke_family(&mut s, &family_id, user_id);
        Some(user_id)
    }

    fn revoke_family(s: &mut State, family_id: &str, user_id: Uuid) {
        s.families.remove(family_id);
        if s.sessions.get(&user_id).is_some_and(|session| session.family == family_id) {
            s.sessions.remove(&user_id);
        }
    }

    /// Drops everything expired at `now` and counts the users with a live token: the body of
    /// the live-token worker's tick, callable directly.
    pub fn sweep_and_count(&self, now: Instant) -> u64 {
        let mut s = self.lock();
        s.families.retain(|_, f| f.expires > now);
        s.sessions.retain(|_, session| session.expires > now);
        s.sessions.len() as u64
    }

    /// Every string the store holds (ids, hashes, sealed successors): lets a test check that
    /// no token is kept in clear.
    pub fn stored_strings(&self) -> Vec<String> {
        let s = self.lock();
        let mut out = Vec::new();
        for (id, f) in &s.families {
            out.extend([id.clone(), f.current.clone()]);
            if let Some(p) = &f.previous {
                out.extend([p.hash.clone(), p.sealed_successor.clone()]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::RefreshKey;

    fn key() -> RefreshKey {
        RefreshKey::derive(b"a service secret of enough length for a test")
    }

    /// Rotates the way `TokenBackend::rotate` does: the proof is the tag.
    fn rotate(store: &MemoryTokens, presented: &RefreshToken, successor: &RefreshToken) -> Rotation {
        store.rotate(presented, successor, key().proves(presented))
    }

    /// A token of `token`'s family with random bytes after the family id: what someone who has
    /// seen only the family id can make.
    fn forged(token: &RefreshToken) -> RefreshToken {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rand::RngCore;
        let mut bytes = URL_SAFE_NO_PAD.decode(token.encode()).unwrap();
        rand::rng().fill_bytes(&mut bytes[16..]);
        let forged = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
        assert_eq!(forged.family(), token.family());
        forged
    }

    fn store() -> MemoryTokens {
        MemoryTokens::new(Duration::from_secs(60), Duration::from_secs(10))
    }

    #[test]
    fn a_sweep_after_expiry_removes_the_session() {
        let store = store();
        let token = key().generate();
        store.store_new(Uuid::now_v7(), &token);
        assert_eq!(store.sweep_and_count(Instant::now()), 1);
        assert_eq!(store.sweep_and_count(Instant::now() + Duration::from_secs(61)), 0);
        assert!(store.stored_strings().is_empty());
        assert_eq!(rotate(&store, &token, &key().successor(&token)), Rotation::Invalid);
    }

    #[test]
    fn rotation_grace_and_replay_follow_the_redis_rules() {
        let store = store();
        let user = Uuid::now_v7();
        let t0 = key().generate();
        store.store_new(user, &t0);
        let t1 = key().successor(&t0);
        assert_eq!(rotate(&store, &t0, &t1), Rotation::Rotated(user));
        assert!(matches!(rotate(&store, &t0, &key().successor(&t0)), Rotation::Grace { .. }));
        let t2 = key().successor(&t1);
        assert_eq!(rotate(&store, &t1, &t2), Rotation::Rotated(user));
        assert_eq!(rotate(&store, &t0, &key().successor(&t0)), Rotation::Reused(user), "an older generation is a replay");
        assert_eq!(rotate(&store, &t2, &key().successor(&t2)), Rotation::Invalid, "the family is revoked");
    }

    #[test]
    fn a_token_that_knows_only_the_family_id_changes_nothing() {
        let store = store();
        let user = Uuid::now_v7();
        let t0 = key().generate();
        store.store_new(user, &t0);
        let t1 = key().successor(&t0);
        assert_eq!(rotate(&store, &t0, &t1), Rotation::Rotated(user));
        let before = store.stored_strings();
        for _ in 0..100 {
            let guess = forged(&t1);
            assert_eq!(rotate(&store, &guess, &key().successor(&guess)), Rotation::Invalid);
            assert_eq!(store.revoke(&guess), None);
        }
        assert_eq!(store.stored_strings(), before, "nothing was revoked or rotated");
        let t2 = key().successor(&t1);
        assert_eq!(rotate(&store, &t1, &t2), Rotation::Rotated(user), "the real session goes on");
        assert_eq!(rotate(&store, &t0, &key().successor(&t0)), Rotation::Reused(user), "a real older generation is still a replay");
    }

    #[test]
    fn an_untagged_token_from_before_tags_rotates_and_a_guess_of_its_family_proves_nothing() {
        let store = MemoryTokens::new(Duration::from_secs(60), Duration::ZERO);
        let user = Uuid::now_v7();
        // Issued before tags existed: the bytes after the family id are all random.
        let legacy = forged(&key().generate());
        assert!(!key().proves(&legacy));
        store.store_new(user, &legacy);
        let next = key().successor(&legacy);
        assert_eq!(rotate(&store, &legacy, &next), Rotation::Rotated(user), "no forced logout on upgrade");
        assert!(key().proves(&next), "its successor carries a tag");
        let guess = forged(&legacy);
        assert_eq!(rotate(&store, &guess, &key().successor(&guess)), Rotation::Invalid);
        // The exact predecessor is proof enough even without a tag: it is a real, rotated token.
        assert_eq!(rotate(&store, &legacy, &key().successor(&legacy)), Rotation::Reused(user));
    }

    #[test]
    fn a_new_login_replaces_the_previous_family() {
        let store = store();
        let user = Uuid::now_v7();
        let (first, second) = (key().generate(), key().generate());
        store.store_new(user, &first);
        store.store_new(user, &second);
        assert_eq!(rotate(&store, &first, &key().successor(&first)), Rotation::Invalid);
        assert_eq!(store.sweep_and_count(Instant::now()), 1);
    }
}
