//! Rate-limit counters: how often something happened in a window that opens with its
//! first hit. One instance keeps them in process (the embedded store's way, design.md
//! "Storage split"); several share them through Redis, so that a limit holds across the
//! instances behind a load balancer rather than once per instance.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{StoreError, StoreResult};
use crate::clock::UnixTime;

/// A window's count, and when the window opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub count: u32,
    pub since: UnixTime,
}

#[async_trait]
pub trait Counters: Send + Sync {
    /// Counts one hit on `key`, in the current window or a new one if it has lapsed.
    async fn hit(&self, key: &str, window: i64, now: UnixTime) -> StoreResult<Tally>;
    /// The current window's tally, if one is open at `now`.
    async fn tally(&self, key: &str, window: i64, now: UnixTime) -> StoreResult<Option<Tally>>;
    async fn clear(&self, key: &str) -> StoreResult<()>;
}

/// Past this many keys, lapsed windows are swept.
const SWEEP_AT: usize = 100_000;

/// Counters in this process's memory.
#[derive(Debug, Default)]
pub struct InProcess {
    tallies: Mutex<HashMap<String, Tally>>,
}

impl InProcess {
    fn map(&self) -> StoreResult<std::sync::MutexGuard<'_, HashMap<String, Tally>>> {
        self.tallies
            .lock()
            .map_err(|_| StoreError::Unavailable("counters poisoned".into()))
    }
}

#[async_trait]
impl Counters for InProcess {
    async fn hit(&self, key: &str, window: i64, now: UnixTime) -> StoreResult<Tally> {
        let mut map = self.map()?;
        if map.len() >= SWEEP_AT {
            map.retain(|_, t| t.since + window > now);
        }
        let tally = map.entry(key.to_string()).or_insert(Tally {
            count: 0,
            since: now,
        });
        if tally.since + window <= now {
            *tally = Tally {
                count: 0,
                since: now,
            };
        }
        tally.count += 1;
        Ok(*tally)
    }

    async fn tally(&self, key: &str, window: i64, now: UnixTime) -> StoreResult<Option<Tally>> {
        Ok(self
            .map()?
            .get(key)
            .copied()
            .filter(|t| t.since + window > now))
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        self.map()?.remove(key);
        Ok(())
    }
}
