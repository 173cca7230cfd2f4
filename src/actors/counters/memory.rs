//! The in-memory backend of the counter store, for the embedded single-process setup: the same
//! fixed windows as the Redis script, under one mutex.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct MemoryCounters {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    counters: HashMap<String, Counter>,
    /// When the map is next swept of ended windows.
    next_sweep: Option<Instant>,
}

struct Counter {
    count: u32,
    resets: Instant,
}

impl MemoryCounters {
    pub fn new() -> MemoryCounters {
        MemoryCounters::default()
    }

    /// The critical sections never panic halfway through a change; a poisoned lock still holds
    /// a consistent map.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fixed-window counters, as the Redis script keeps them.
    ///
    /// Reliability: counters whose window has ended are dropped at most once a window, here, so
    /// a flood of distinct names holds memory for about two windows, never longer.
    pub fn hit(&self, counters: &[(String, u32)], window: Duration) -> Option<Duration> {
        let now = Instant::now();
        let mut s = self.lock();
        if s.next_sweep.is_none_or(|at| at <= now) {
            s.counters.retain(|_, c| c.resets > now);
            s.next_sweep = Some(now + window);
        }
        let mut wait = Duration::ZERO;
        for (name, limit) in counters.iter().filter(|(_, limit)| *limit > 0) {
            let counter = s.counters.entry(name.clone()).or_insert(Counter { count: 0, resets: now + window });
            if counter.resets <= now {
                *counter = Counter { count: 0, resets: now + window };
            }
            counter.count += 1;
            if counter.count > *limit {
                wait = wait.max(counter.resets - now);
            }
        }
        (!wait.is_zero()).then_some(wait)
    }

    pub fn forget(&self, counter: &str) {
        self.lock().counters.remove(counter);
    }

    /// The names of the counters held, for the sweep test.
    #[cfg(test)]
    pub fn names(&self) -> Vec<String> {
        self.lock().counters.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_refuse_past_their_limit_until_the_window_ends() {
        let store = MemoryCounters::new();
        let counters = vec![("login:ip:x".to_string(), 2), ("login:account:y".to_string(), 0)];
        assert_eq!(store.hit(&counters, Duration::from_secs(60)), None);
        assert_eq!(store.hit(&counters, Duration::from_secs(60)), None);
        assert!(store.hit(&counters, Duration::from_secs(60)).is_some_and(|w| w <= Duration::from_secs(60)));
        store.forget("login:ip:x");
        assert_eq!(store.hit(&counters, Duration::from_secs(60)), None);
    }

    #[test]
    fn counters_whose_window_ended_are_swept_by_a_later_hit() {
        let store = MemoryCounters::new();
        let window = Duration::from_millis(20);
        store.hit(&[("login:ip:a".to_string(), 5)], window);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && store.names().contains(&"login:ip:a".to_string()) {
            std::thread::sleep(Duration::from_millis(5));
            store.hit(&[("login:ip:b".to_string(), 5)], window);
        }
        assert_eq!(store.names(), vec!["login:ip:b".to_string()]);
    }
}
