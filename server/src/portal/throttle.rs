//! Sign-in throttling: after repeated wrong passwords for one account, further attempts are
//! refused for a while, so a password cannot be guessed at the speed of argon2. Counted per
//! case-folded email (not per address: vendor clients share egress IPs), in process, as
//! the design keeps rate-limit counters for the embedded store.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixTime;

/// Failures allowed in a window before the account is locked for the rest of it.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW_SECS: i64 = 15 * 60;
/// Past this many tracked emails, expired entries are swept.
const SWEEP_AT: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, UnixTime)>>,
}

impl Throttle {
    /// Seconds until `email` may try again, if it is locked out now.
    pub fn locked_for(&self, email: &str, now: UnixTime) -> Option<i64> {
        let map = self.failures.lock().ok()?;
        let (count, since) = *map.get(email)?;
        let left = since + WINDOW_SECS - now;
        (count >= MAX_FAILURES && left > 0).then_some(left)
    }

    pub fn failed(&self, email: &str, now: UnixTime) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, (_, since)| *since + WINDOW_SECS > now);
        }
        let entry = map.entry(email.to_string()).or_insert((0, now));
        if entry.1 + WINDOW_SECS <= now {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, email: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(email);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_unlocks_after_the_window() {
        let t = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            t.failed("a@example.com", 100);
        }
        assert_eq!(t.locked_for("a@example.com", 100), None);
        t.failed("a@example.com", 100);
        assert_eq!(t.locked_for("a@example.com", 160), Some(WINDOW_SECS - 60));
        assert_eq!(t.locked_for("b@example.com", 160), None);
        assert_eq!(t.locked_for("a@example.com", 100 + WINDOW_SECS), None);
        t.succeeded("a@example.com");
        assert_eq!(t.locked_for("a@example.com", 160), None);
    }
}
