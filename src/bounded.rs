//! The eviction policy of the service's bounded in-memory tables (the `/auth/me` user cache and
//! the verified access tokens): one policy, so both stay bounded the same way.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// Makes room in a full table before an insert: drops the entries `live` rejects, and
/// everything if that frees less than a quarter, so the O(capacity) sweep is paid at most once
/// per quarter of the capacity inserted. A table below `capacity` is left as it is.
pub fn make_room<K: Eq + Hash, V, S: BuildHasher>(entries: &mut HashMap<K, V, S>, capacity: usize, live: impl FnMut(&K, &mut V) -> bool) {
    if entries.len() < capacity {
        return;
    }
    entries.retain(live);
    if entries.len() >= capacity - capacity / 4 {
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_keeps_its_live_entries_when_that_frees_a_quarter() {
        let mut t: HashMap<u32, bool> = (0..8).map(|i| (i, i < 2)).collect();
        make_room(&mut t, 8, |_, live| *live);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_full_table_of_live_entries_is_cleared_and_a_table_with_room_untouched() {
        let mut t: HashMap<u32, bool> = (0..8).map(|i| (i, true)).collect();
        make_room(&mut t, 9, |_, _| false);
        assert_eq!(t.len(), 8, "below capacity: nothing dropped");
        make_room(&mut t, 8, |_, live| *live);
        assert!(t.is_empty());
    }
}
