//! Sign-in throttling, so that a password cannot be guessed at the speed of argon2, and an
//! attacker cannot lock anyone out. Wrong passwords count per (account, client address):
//! ten lock that address out of that account for the rest of the window, while the owner
//! still signs in from anywhere else. They also count per address across accounts, so that
//! one address cannot try a few passwords on each of many accounts. The counters are the
//! store's: in process on one machine, in Redis across instances, so that spreading
//! guesses over the instances behind a load balancer gains nothing.

use std::net::IpAddr;
use std::sync::Arc;

use crate::clock::UnixTime;
use crate::store::StoreResult;
use crate::store::counters::Counters;

/// Failures allowed for one account from one address in a window.
pub const MAX_FAILURES: u32 = 10;
/// Failures allowed from one address over all accounts in a window: generous, since many
/// users can share an address.
pub const MAX_ADDRESS_FAILURES: u32 = 100;
pub const WINDOW_SECS: i64 = 15 * 60;

pub struct Throttle {
    counters: Arc<dyn Counters>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

fn pair(email: &str, client: IpAddr) -> String {
    format!("sign-in-failures:{email}:{client}")
}

fn address(client: IpAddr) -> String {
    format!("sign-in-failures-from:{client}")
}

impl Throttle {
    pub fn new(counters: Arc<dyn Counters>) -> Self {
        Self { counters }
    }

    /// Seconds until `client` may try `email` again, if it is locked out now.
    pub async fn locked_for(
        &self,
        email: &str,
        client: IpAddr,
        now: UnixTime,
    ) -> StoreResult<Option<i64>> {
        let mut longest = None;
        for (key, max) in [
            (pair(email, client), MAX_FAILURES),
            (address(client), MAX_ADDRESS_FAILURES),
        ] {
            if let Some(t) = self.counters.tally(&key, WINDOW_SECS, now).await? {
                let left = t.since + WINDOW_SECS - now;
                if t.count >= max && left > 0 {
                    longest = longest.max(Some(left));
                }
            }
        }
        Ok(longest)
    }

    pub async fn failed(&self, email: &str, client: IpAddr, now: UnixTime) -> StoreResult<()> {
        self.counters
            .hit(&pair(email, client), WINDOW_SECS, now)
            .await?;
        self.counters
            .hit(&address(client), WINDOW_SECS, now)
            .await?;
        Ok(())
    }

    /// A right password clears the account's failures from that address (not the
    /// address's count over other accounts).
    pub async fn succeeded(&self, email: &str, client: IpAddr) -> StoreResult<()> {
        self.counters.clear(&pair(email, client)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::counters::InProcess;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn locks_one_address_out_of_one_account_for_the_window() {
        let t = Throttle::new(Arc::new(InProcess::default()));
        let (attacker, owner) = (ip("203.0.113.9"), ip("198.51.100.4"));
        for _ in 0..MAX_FAILURES - 1 {
            t.failed("a@example.com", attacker, 100).await.unwrap();
        }
        assert_eq!(
            t.locked_for("a@example.com", attacker, 100).await.unwrap(),
            None
        );
        t.failed("a@example.com", attacker, 100).await.unwrap();
        assert_eq!(
            t.locked_for("a@example.com", attacker, 160).await.unwrap(),
            Some(WINDOW_SECS - 60)
        );
        // The owner, elsewhere, is not locked out; nor is another account.
        assert_eq!(
            t.locked_for("a@example.com", owner, 160).await.unwrap(),
            None
        );
        assert_eq!(
            t.locked_for("b@example.com", attacker, 160).await.unwrap(),
            None
        );
        assert_eq!(
            t.locked_for("a@example.com", attacker, 100 + WINDOW_SECS)
                .await
                .unwrap(),
            None
        );
        t.succeeded("a@example.com", attacker).await.unwrap();
        assert_eq!(
            t.locked_for("a@example.com", attacker, 160).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn an_address_failing_across_many_accounts_is_locked_out_of_all() {
        let t = Throttle::new(Arc::new(InProcess::default()));
        let sprayer = ip("203.0.113.9");
        for n in 0..MAX_ADDRESS_FAILURES {
            t.failed(&format!("u{n}@example.com"), sprayer, 100)
                .await
                .unwrap();
        }
        assert_eq!(
            t.locked_for("new@example.com", sprayer, 100).await.unwrap(),
            Some(WINDOW_SECS)
        );
        assert_eq!(
            t.locked_for("new@example.com", ip("198.51.100.4"), 100)
                .await
                .unwrap(),
            None
        );
    }
}
