//! `UserCache`: users by id for a few seconds, so `/auth/me` does not cost a database round
//! trip (and a mailbox hop) on every request.
//!
//! Sound because users are immutable through this API: nothing changes a username or an email,
//! and a password-hash upgrade does not show in a `User`; what does change an account forgets
//! its entry. The price is staleness bounded by the TTL: a user removed out of band, or a
//! database outage, shows in `/auth/me` at most `ttl` (plus `REREAD_BOUND` while the entry is
//! being re-read) later for a user who is cached. Only `/auth/me` reads it; login and
//! registration always ask the database.
//!
//! Each thread (each HTTP worker) keeps entries of its own, so a hit touches no memory another
//! worker writes; a user is read from the database once per TTL by each worker that serves them.
//! `forget` reaches every thread's entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::RenderedUser;
use crate::per_thread::PerThread;

/// How long an expired entry keeps being answered while one request re-reads its user.
const REREAD_BOUND: Duration = Duration::from_secs(1);

/// Keys are ids of users this service stored, looked up by the `sub` of verified tokens.
type Entries = HashMap<Uuid, Entry, foldhash::fast::RandomState>;

struct Entry {
    cached_at: Instant,
    user: Arc<RenderedUser>,
    /// When a request set out to re-read the user, once the entry expired.
    rereading_since: Option<Instant>,
}

pub struct UserCache {
    ttl: Duration,
    /// Entries kept at most by each thread.
    capacity: usize,
    tables: PerThread<Mutex<Entries>>,
}

impl UserCache {
    /// A `ttl` of zero or a `capacity` of zero turns the cache off.
    pub fn new(ttl: Duration, capacity: usize) -> UserCache {
        UserCache { ttl, capacity, tables: PerThread::default() }
    }

    /// This thread's entries.
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.tables.get().lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }

    pub fn get(&self, id: Uuid) -> Option<Arc<RenderedUser>> {
        if !self.enabled() {
            return None;
        }
        let mut entries = self.entries();
        let entry = entries.get_mut(&id)?;
        let age = entry.cached_at.elapsed();
        if age < self.ttl {
            return Some(entry.user.clone());
        }
        // Reliability: an expired entry is re-read by one request; the others in flight keep
        // getting it meanwhile (for `REREAD_BOUND` at most), so an expiry under load costs one
        // database read per worker, not one per request in flight: such a burst took every
        // pooled connection and starved the other users of the pool.
        match entry.rereading_since {
            Some(since) if since.elapsed() < REREAD_BOUND && age < self.ttl + REREAD_BOUND => Some(entry.user.clone()),
            _ => {
                entry.rereading_since = Some(Instant::now());
                None
            }
        }
    }

    /// The entry of `id` if it was read within the TTL plus the re-read bound: what a failed
    /// re-read answers with.
    pub fn recent(&self, id: Uuid) -> Option<Arc<RenderedUser>> {
        self.entries().get(&id).filter(|entry| entry.cached_at.elapsed() < self.ttl + REREAD_BOUND).map(|entry| entry.user.clone())
    }

    pub fn put(&self, user: Arc<RenderedUser>) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries();
        let id = user.user.id;
        if !entries.contains_key(&id) {
            crate::bounded::make_room(&mut entries, self.capacity, |_, entry| entry.cached_at.elapsed() < self.ttl);
        }
        entries.insert(id, Entry { cached_at: Instant::now(), user, rereading_since: None });
    }
    /// Drops one user from every thread's entries: after a change to the account, or its
    /// deletion.
    pub fn forget(&self, id: Uuid) {
        for entries in self.tables.iter() {
            entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    use crate::actors::User;

    fn user() -> Arc<RenderedUser> {
        Arc::new(RenderedUser::new(User {
            id: Uuid::now_v7(),
            username: "alice".into(),
            email: None,
            email_verified: false,
            created_at: Utc::now(),
        }))
    }

    #[test]
    fn a_cached_user_is_served_until_the_ttl_passes() {
        let cache = UserCache::new(Duration::from_millis(50), 10);
        let alice = user();
        assert!(cache.get(alice.user.id).is_none());
        cache.put(alice.clone());
        assert!(cache.get(alice.user.id).is_some_and(|hit| Arc::ptr_eq(&hit, &alice)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(alice.user.id).is_none(), "past the TTL the database is asked again");
    }

    /// A cache whose one entry (alice) has just expired.
    fn expired_entry() -> (UserCache, Arc<RenderedUser>) {
        let cache = UserCache::new(Duration::from_millis(50), 10);
        let alice = user();
        cache.put(alice.clone());
        std::thread::sleep(Duration::from_millis(60));
        (cache, alice)
    }

    #[test]
    fn an_expired_entry_is_reread_by_one_caller_while_the_others_get_it() {
        let (cache, alice) = expired_entry();
        assert!(cache.get(alice.user.id).is_none(), "the first caller after the expiry re-reads the user");
        for _ in 0..3 {
            assert!(cache.get(alice.user.id).is_some_and(|hit| Arc::ptr_eq(&hit, &alice)), "the others get the entry meanwhile");
        }
        let reread = Arc::new(RenderedUser::new(User { username: "alice2".into(), ..alice.user.clone() }));
        cache.put(reread.clone());
        assert!(cache.get(alice.user.id).is_some_and(|hit| Arc::ptr_eq(&hit, &reread)));
    }

    #[test]
    fn an_entry_that_cannot_be_reread_stops_being_answered_after_the_bound() {
        let (cache, alice) = expired_entry();
        assert!(cache.get(alice.user.id).is_none());
        assert!(cache.get(alice.user.id).is_some());
        assert!(cache.recent(alice.user.id).is_some(), "what a failed re-read answers with");
        std::thread::sleep(REREAD_BOUND);
        assert!(cache.recent(alice.user.id).is_none());
        assert!(cache.get(alice.user.id).is_none(), "the re-read failed: another caller tries");
        assert!(cache.get(alice.user.id).is_none(), "and past the TTL and the bound, nobody is answered from it");
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = UserCache::new(Duration::from_secs(60), 8);
        for _ in 0..100 {
            cache.put(user());
            assert!(cache.entries().len() <= 8);
        }
    }

    #[test]
    fn a_zero_ttl_or_capacity_turns_it_off() {
        for cache in [UserCache::new(Duration::ZERO, 10), UserCache::new(Duration::from_secs(5), 0)] {
            let alice = user();
            cache.put(alice.clone());
            assert!(cache.get(alice.user.id).is_none());
        }
    }

    #[test]
    fn forget_reaches_every_thread() {
        let cache = Arc::new(UserCache::new(Duration::from_secs(60), 10));
        let alice = user();
        let id = alice.user.id;
        let other = {
            let cache = cache.clone();
            let alice = alice.clone();
            std::thread::spawn(move || cache.put(alice))
        };
        other.join().unwrap();
        cache.put(alice);
        assert!(cache.get(id).is_some());
        cache.forget(id);
        assert!(cache.get(id).is_none());
        assert!(cache.tables.iter().all(|entries| entries.lock().unwrap().is_empty()), "gone from the other thread's entries too");
    }
}
