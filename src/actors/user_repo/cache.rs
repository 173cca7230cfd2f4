//! `UserCache`: users by id for a few seconds, so `/auth/me` does not cost a database round
//! trip (and a mailbox hop) on every request.
//!
//! Sound because users are immutable through this API: nothing changes a username or an email,
//! and a password-hash upgrade does not show in a `User`. The price is staleness bounded by the
//! TTL: a user removed out of band, or a database outage, shows in `/auth/me` at most `ttl`
//! later for a user who is cached. Only `/auth/me` reads it; login and registration always ask
//! the database.
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

/// Keys are ids of users this service stored, looked up by the `sub` of verified tokens.
type Entries = HashMap<Uuid, (Instant, Arc<RenderedUser>), foldhash::fast::RandomState>;

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
        self.entries().get(&id).filter(|(cached_at, _)| cached_at.elapsed() < self.ttl).map(|(_, user)| user.clone())
    }

    pub fn put(&self, user: Arc<RenderedUser>) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries();
        let id = user.user.id;
        if !entries.contains_key(&id) {
            crate::bounded::make_room(&mut entries, self.capacity, |_, (cached_at, _)| cached_at.elapsed() < self.ttl);
        }
        entries.insert(id, (Instant::now(), user));
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
