//! `UserCache`: users by id for a few seconds, so `/auth/me` does not cost a database round
//! trip (and a mailbox hop) on every request.
//!
//! Sound because users are immutable through this API: nothing changes a username or an email,
//! and a password-hash upgrade does not show in a `User`. The price is staleness bounded by the
//! TTL: a user removed out of band, or a database outage, shows in `/auth/me` at most `ttl`
//! later for a user who is cached. Only `/auth/me` reads it; login and registration always ask
//! the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::User;

pub struct UserCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<Uuid, (Instant, Arc<User>)>>,
}

impl UserCache {
    /// A `ttl` of zero or a `capacity` of zero turns the cache off.
    pub fn new(ttl: Duration, capacity: usize) -> UserCache {
        UserCache { ttl, capacity, entries: Mutex::default() }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }

    pub fn get(&self, id: Uuid) -> Option<Arc<User>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(&id).filter(|(cached_at, _)| cached_at.elapsed() < self.ttl).map(|(_, user)| user.clone())
    }

    pub fn put(&self, user: Arc<User>) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !entries.contains_key(&user.id) {
            crate::bounded::make_room(&mut entries, self.capacity, |_, (cached_at, _)| cached_at.elapsed() < self.ttl);
        }
        entries.insert(user.id, (Instant::now(), user));
    }
    /// Drops one user: after a change to the account, or its deletion.
    pub fn forget(&self, id: Uuid) {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn user() -> Arc<User> {
        Arc::new(User { id: Uuid::now_v7(), username: "alice".into(), email: None, email_verified: false, created_at: Utc::now() })
    }

    #[test]
    fn a_cached_user_is_served_until_the_ttl_passes() {
        let cache = UserCache::new(Duration::from_millis(50), 10);
        let alice = user();
        assert!(cache.get(alice.id).is_none());
        cache.put(alice.clone());
        assert_eq!(cache.get(alice.id), Some(alice.clone()));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(alice.id).is_none(), "past the TTL the database is asked again");
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = UserCache::new(Duration::from_secs(60), 8);
        for _ in 0..100 {
            cache.put(user());
            assert!(cache.entries.lock().unwrap().len() <= 8);
        }
    }

    #[test]
    fn a_zero_ttl_or_capacity_turns_it_off() {
        for cache in [UserCache::new(Duration::ZERO, 10), UserCache::new(Duration::from_secs(5), 0)] {
            let alice = user();
            cache.put(alice.clone());
            assert!(cache.get(alice.id).is_none());
        }
    }
}
