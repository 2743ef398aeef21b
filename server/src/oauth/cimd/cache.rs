//! What was fetched, kept as long as its response allowed. The cache (`quick_cache`) is
//! bounded by the bytes it holds, so a stream of distinct client_id URLs cannot grow it;
//! each entry also counts a fixed overhead, which bounds the number of entries.
//! Freshness is checked against the injected clock, so expiry needs no timer.

use std::hash::Hash;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use crate::clock::UnixTime;

/// Bookkeeping counted per entry beside its body: key, expiry and the parsed value.
const ENTRY_OVERHEAD: u64 = 512;

struct Entry<V> {
    value: Arc<V>,
    until: UnixTime,
    weight: u64,
}

// By hand: the derive would ask `V: Clone`, and only the `Arc` is cloned.
impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            until: self.until,
            weight: self.weight,
        }
    }
}

#[derive(Clone)]
struct ByBytes;

impl<K, V> Weighter<K, Entry<V>> for ByBytes {
    fn weight(&self, _key: &K, entry: &Entry<V>) -> u64 {
        entry.weight
    }
}

pub struct Fresh<K, V> {
    entries: Cache<K, Entry<V>, ByBytes>,
}

impl<K: Hash + Eq + Clone, V> Fresh<K, V> {
    /// A cache holding at most `max_bytes` of fetched bodies and overhead.
    pub fn new(max_bytes: u64) -> Self {
        let estimated_entries = (max_bytes / (4 * ENTRY_OVERHEAD)).max(16) as usize;
        Self {
            entries: Cache::with_weighter(estimated_entries, max_bytes, ByBytes),
        }
    }

    /// The value kept for `key`, while it is still fresh at `now`.
    pub fn get<Q>(&self, key: &Q, now: UnixTime) -> Option<Arc<V>>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let entry = self.entries.get(key)?;
        if entry.until > now {
            return Some(entry.value);
        }
        self.entries.remove(key);
        None
    }

    /// Keeps `value`, fetched as `bytes` bytes, for `ttl` seconds (not at all for 0).
    pub fn keep(&self, key: K, value: Arc<V>, bytes: usize, ttl: i64, now: UnixTime) {
        if ttl <= 0 {
            return;
        }
        let entry = Entry {
            value,
            until: now + ttl,
            weight: bytes as u64 + ENTRY_OVERHEAD,
        };
        self.entries.insert(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_by_the_given_clock() {
        let cache: Fresh<String, u32> = Fresh::new(1 << 20);
        cache.keep("a".into(), Arc::new(1), 10, 60, 1_000);
        cache.keep("b".into(), Arc::new(2), 10, 0, 1_000);
        assert_eq!(cache.get("a", 1_059).as_deref(), Some(&1));
        assert_eq!(cache.get("a", 1_060), None);
        assert_eq!(cache.get("b", 1_000), None, "ttl 0 is not kept");
    }

    #[test]
    fn the_cache_is_bounded_by_bytes() {
        let cache: Fresh<u32, u32> = Fresh::new(64 * 1024);
        for i in 0..10_000 {
            cache.keep(i, Arc::new(i), 4 * 1024, 3_600, 0);
        }
        assert!(cache.entries.weight() <= 64 * 1024);
        let kept = (0..10_000).filter(|i| cache.get(i, 1).is_some()).count();
        assert!(kept > 0 && kept <= 64 / 4, "{kept}");
    }
}
