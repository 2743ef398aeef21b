//! Sign-in throttling: after repeated wrong passwords for one account, further attempts are
//! refused for a while, so a password cannot be guessed at the speed of argon2. Counted per
//! case-folded email (not per address: vendor clients share egress IPs), in the store's
//! rate-limit counters: in process on one machine, in Redis across instances, so that
//! spreading guesses over the instances behind a load balancer gains nothing.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::store::StoreResult;
use crate::store::counters::Counters;

/// Failures allowed in a window before the account is locked for the rest of it.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW_SECS: i64 = 15 * 60;

pub struct Throttle {
    counters: Arc<dyn Counters>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

fn key(email: &str) -> String {
    format!("sign-in-failures:{email}")
}

impl Throttle {
    pub fn new(counters: Arc<dyn Counters>) -> Self {
        Self { counters }
    }

    /// Seconds until `email` may try again, if it is locked out now.
    pub async fn locked_for(&self, email: &str, now: UnixTime) -> StoreResult<Option<i64>> {
        let Some(t) = self.counters.tally(&key(email), WINDOW_SECS, now).await? else {
            return Ok(None);
        };
        let left = t.since + WINDOW_SECS - now;
        Ok((t.count >= MAX_FAILURES && left > 0).then_some(left))
    }

    pub async fn failed(&self, email: &str, now: UnixTime) -> StoreResult<()> {
        self.counters.hit(&key(email), WINDOW_SECS, now).await?;
        Ok(())
    }

    pub async fn succeeded(&self, email: &str) -> StoreResult<()> {
        self.counters.clear(&key(email)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::counters::InProcess;

    #[tokio::test]
    async fn locks_after_the_limit_and_unlocks_after_the_window() {
        let t = Throttle::new(Arc::new(InProcess::default()));
        for _ in 0..MAX_FAILURES - 1 {
            t.failed("a@example.com", 100).await.unwrap();
        }
        assert_eq!(t.locked_for("a@example.com", 100).await.unwrap(), None);
        t.failed("a@example.com", 100).await.unwrap();
        assert_eq!(
            t.locked_for("a@example.com", 160).await.unwrap(),
            Some(WINDOW_SECS - 60)
        );
        assert_eq!(t.locked_for("b@example.com", 160).await.unwrap(), None);
        assert_eq!(
            t.locked_for("a@example.com", 100 + WINDOW_SECS)
                .await
                .unwrap(),
            None
        );
        t.succeeded("a@example.com").await.unwrap();
        assert_eq!(t.locked_for("a@example.com", 160).await.unwrap(), None);
    }
}
