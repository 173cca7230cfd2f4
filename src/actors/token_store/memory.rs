//! The in-memory backend of the token store, for the embedded single-process setup: the same
//! rules as the Redis scripts (sessions per user, rotation, grace, reuse), under one mutex, with expiry checked on every read and swept by
//! the live-token worker.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{Revoked, Rotation, SessionInfo, SessionMeta};
use crate::tokens::{RefreshToken, TokenHash};

pub struct MemoryTokens {
    state: Mutex<State>,
    ttl: Duration,
    grace: Duration,
    /// `SESSIONS_PER_USER`.
    per_user: usize,
}

#[derive(Default)]
struct State {
    families: HashMap<String, Family>,
    /// The live families of each user.
    sessions: HashMap<Uuid, Vec<String>>,
}

struct Family {
    user_id: Uuid,
    current: TokenHash,
    previous: Option<Predecessor>,
    expires: Instant,
    /// Unix milliseconds: when the session started and was last refreshed.
    created: i64,
    seen: i64,
    meta: SessionMeta,
}

struct Predecessor {
    hash: TokenHash,
    rotated_at: Instant,
    sealed_successor: [u8; 16],
}

impl MemoryTokens {
    pub fn new(ttl: Duration, grace: Duration, per_user: u32) -> MemoryTokens {
        MemoryTokens { state: Mutex::default(), ttl, grace, per_user: per_user.max(1) as usize }
    }

    /// The critical sections never panic halfway through a change; a poisoned lock still holds
    /// consistent maps.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for the user; beyond `SESSIONS_PER_USER`, their least recently used
    /// sessions end. Returns the family ids of the sessions it ended.
    pub fn store_new(&self, user_id: Uuid, token: &RefreshToken, meta: &SessionMeta) -> Vec<String> {
        let now = Instant::now();
        let ms = chrono::Utc::now().timestamp_millis();
        let mut guard = self.lock();
        let s = &mut *guard;
        let mut mine: Vec<(String, i64)> = Vec::new();
        for id in s.sessions.remove(&user_id).unwrap_or_default() {
            match s.families.get(&id) {
                Some(f) if f.expires > now => mine.push((id, f.seen)),
                _ => {
                    s.families.remove(&id);
                }
            }
        }
        mine.sort_by_key(|(_, seen)| *seen);
        let excess = (mine.len() + 1).saturating_sub(self.per_user);
        let ended: Vec<String> = mine.drain(..excess).map(|(id, _)| id).collect();
        for id in &ended {
            s.families.remove(id);
        }
        let family = token.family();
        let record =
            Family { user_id, current: token.hash(), previous: None, expires: now + self.ttl, created: ms, seen: ms, meta: meta.clone() };
        s.families.insert(family.clone(), record);
        s.sessions.insert(user_id, mine.into_iter().map(|(id, _)| id).chain(std::iter::once(family)).collect());
        ended
    }

    /// `proven`: whether `presented` carries a valid tag (see `TokenBackend::rotate`).
    pub fn rotate(&self, presented: &RefreshToken, successor: &RefreshToken, proven: bool) -> Rotation {
        let now = Instant::now();
        let (family_id, hash) = (presented.family(), presented.hash());
        let mut s = self.lock();
        let Some(family) = s.families.get_mut(&family_id).filter(|f| f.expires > now) else {
            return Rotation::Gone;
        };
        let user_id = family.user_id;
        if family.current == hash {
            family.previous = Some(Predecessor { hash, rotated_at: now, sealed_successor: presented.seal(successor) });
            family.current = successor.hash();
            family.expires = now + self.ttl;
            family.seen = chrono::Utc::now().timestamp_millis();
            return Rotation::Rotated(user_id);
        }
        if let Some(p) = &family.previous
            && p.hash == hash
            && !self.grace.is_zero()
            && now.duration_since(p.rotated_at) <= self.grace
        {
            return Rotation::Grace { user_id, sealed: p.sealed_successor.to_vec(), current_hash: family.current };
        }
        // Security: only a token that proves it belonged to the family (a valid tag, or the exact
        // predecessor) may end it; anything else knows at most the family id and touches nothing.
        if !proven && family.previous.as_ref().is_none_or(|p| p.hash != hash) {
            return Rotation::Invalid;
        }
        Self::revoke_family(&mut s, &family_id, user_id);
        Rotation::Reused(user_id)
    }

    /// Logout: ends the session if `presented` is its current token or the immediate predecessor.
    pub fn revoke(&self, presented: &RefreshToken) -> Revoked {
        let now = Instant::now();
        let (family_id, hash) = (presented.family(), presented.hash());
        let mut s = self.lock();
        let Some(family) = s.families.get(&family_id).filter(|f| f.expires > now) else { return Revoked::Gone };
        let known = family.current == hash || family.previous.as_ref().is_some_and(|p| p.hash == hash);
        if !known {
            return Revoked::Kept;
        }
        let user_id = family.user_id;
        Self::revoke_family(&mut s, &family_id, user_id);
        Revoked::Ended(user_id)
    }

    /// Ends one session of `user_id` (`Some(family id)`) or all of them but `keep`; returns the
    /// family ids of the sessions it ended. Another user's family is never touched.
    pub fn end(&self, user_id: Uuid, family: Option<&str>, keep: Option<&str>) -> Vec<String> {
        let mut guard = self.lock();
        let s = &mut *guard;
        let Some(mine) = s.sessions.get_mut(&user_id) else { return Vec::new() };
        let (ended, kept): (Vec<String>, Vec<String>) =
            std::mem::take(mine).into_iter().partition(|id| family.is_none_or(|f| f == id) && keep != Some(id.as_str()));
        *mine = kept;
        if mine.is_empty() {
            s.sessions.remove(&user_id);
        }
        let now = Instant::now();
        ended.into_iter().filter(|id| s.families.remove(id).is_some_and(|f| f.expires > now)).collect()
    }

    /// The live sessions of `user_id`, most recently used first.
    pub fn list(&self, user_id: Uuid) -> Vec<SessionInfo> {
        let now = Instant::now();
        let s = self.lock();
        let mut sessions: Vec<SessionInfo> = s
            .sessions
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                let f = s.families.get(id).filter(|f| f.expires > now)?;
                Some(SessionInfo::from_millis(id.clone(), f.created, f.seen, f.meta.ip.clone(), f.meta.user_agent.clone()))
            })
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_refreshed_at));
        sessions
    }

    fn revoke_family(s: &mut State, family_id: &str, user_id: Uuid) {
        s.families.remove(family_id);
        if let Some(mine) = s.sessions.get_mut(&user_id) {
            mine.retain(|id| id != family_id);
            if mine.is_empty() {
                s.sessions.remove(&user_id);
            }
        }
    }

    /// Drops everything expired at `now` and counts the users with a live token: the body of
    /// the live-token worker's tick, callable directly.
    pub fn sweep_and_count(&self, now: Instant) -> u64 {
        let mut guard = self.lock();
        let s = &mut *guard;
        s.families.retain(|_, f| f.expires > now);
        let families = &s.families;
        s.sessions.retain(|_, mine| {
            mine.retain(|id| families.contains_key(id));
            !mine.is_empty()
        });
        s.sessions.len() as u64
    }

    /// Every string the store holds (ids, hashes, sealed successors): lets a test check that
    /// no token is kept in clear.
    pub fn stored_strings(&self) -> Vec<String> {
        let s = self.lock();
        let mut out = Vec::new();
        for (id, f) in &s.families {
            out.extend([id.clone(), hex::encode(f.current.0)]);
            if let Some(p) = &f.previous {
                out.extend([hex::encode(p.hash.0), hex::encode(p.sealed_successor)]);
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
        MemoryTokens::new(Duration::from_secs(60), Duration::from_secs(10), 1)
    }

    #[test]
    fn a_sweep_after_expiry_removes_the_session() {
        let store = store();
        let token = key().generate(Uuid::now_v7());
        store.store_new(Uuid::now_v7(), &token, &SessionMeta::default());
        assert_eq!(store.sweep_and_count(Instant::now()), 1);
        assert_eq!(store.sweep_and_count(Instant::now() + Duration::from_secs(61)), 0);
        assert!(store.stored_strings().is_empty());
        assert_eq!(rotate(&store, &token, &key().successor(&token)), Rotation::Gone);
    }

    #[test]
    fn rotation_grace_and_replay_follow_the_redis_rules() {
        let store = store();
        let user = Uuid::now_v7();
        let t0 = key().generate(user);
        store.store_new(user, &t0, &SessionMeta::default());
        let t1 = key().successor(&t0);
        assert_eq!(rotate(&store, &t0, &t1), Rotation::Rotated(user));
        assert!(matches!(rotate(&store, &t0, &key().successor(&t0)), Rotation::Grace { .. }));
        let t2 = key().successor(&t1);
        assert_eq!(rotate(&store, &t1, &t2), Rotation::Rotated(user));
        assert_eq!(rotate(&store, &t0, &key().successor(&t0)), Rotation::Reused(user), "an older generation is a replay");
        assert_eq!(rotate(&store, &t2, &key().successor(&t2)), Rotation::Gone, "the family is revoked");
    }

    #[test]
    fn a_token_that_knows_only_the_family_id_changes_nothing() {
        let store = store();
        let user = Uuid::now_v7();
        let t0 = key().generate(user);
        store.store_new(user, &t0, &SessionMeta::default());
        let t1 = key().successor(&t0);
        assert_eq!(rotate(&store, &t0, &t1), Rotation::Rotated(user));
        let before = store.stored_strings();
        for _ in 0..100 {
            let guess = forged(&t1);
            assert_eq!(rotate(&store, &guess, &key().successor(&guess)), Rotation::Invalid);
            assert_eq!(store.revoke(&guess), Revoked::Kept);
        }
        assert_eq!(store.stored_strings(), before, "nothing was revoked or rotated");
        let t2 = key().successor(&t1);
        assert_eq!(rotate(&store, &t1, &t2), Rotation::Rotated(user), "the real session goes on");
        assert_eq!(rotate(&store, &t0, &key().successor(&t0)), Rotation::Reused(user), "a real older generation is still a replay");
    }

    #[test]
    fn an_untagged_token_from_before_tags_rotates_and_a_guess_of_its_family_proves_nothing() {
        let store = MemoryTokens::new(Duration::from_secs(60), Duration::ZERO, 1);
        let user = Uuid::now_v7();
        // Issued before tags existed: the bytes after the family id are all random.
        let legacy = forged(&key().generate(user));
        assert!(!key().proves(&legacy));
        store.store_new(user, &legacy, &SessionMeta::default());
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
        let (first, second) = (key().generate(user), key().generate(user));
        store.store_new(user, &first, &SessionMeta::default());
        store.store_new(user, &second, &SessionMeta::default());
        assert_eq!(rotate(&store, &first, &key().successor(&first)), Rotation::Gone);
        assert_eq!(store.sweep_and_count(Instant::now()), 1);
    }

    #[test]
    fn beyond_the_limit_the_least_recently_used_session_ends() {
        let store = MemoryTokens::new(Duration::from_secs(60), Duration::ZERO, 2);
        let user = Uuid::now_v7();
        let (a, b, c) = (key().generate(user), key().generate(user), key().generate(user));
        assert!(store.store_new(user, &a, &SessionMeta::default()).is_empty());
        std::thread::sleep(Duration::from_millis(2));
        assert!(store.store_new(user, &b, &SessionMeta::default()).is_empty());
        std::thread::sleep(Duration::from_millis(2));
        // `a` is used again: `b` is now the least recently used.
        assert_eq!(rotate(&store, &a, &key().successor(&a)), Rotation::Rotated(user));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(store.store_new(user, &c, &SessionMeta::default()), vec![b.family()]);
        let ids: Vec<String> = store.list(user).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![c.family(), a.family()]);
        assert_eq!(store.end(Uuid::now_v7(), Some(&a.family()), None), Vec::<String>::new(), "another user cannot end it");
        assert_eq!(store.end(user, None, Some(&c.family())), vec![a.family()], "all but the kept one");
        assert_eq!(store.end(user, Some(&c.family()), None), vec![c.family()]);
        assert_eq!(store.end(user, None, None), Vec::<String>::new());
        assert_eq!(store.sweep_and_count(Instant::now()), 0);
    }
}
