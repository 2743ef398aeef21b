//! Sign-in throttling, so that a password cannot be guessed at the speed of argon2, and an
//! attacker cannot lock anyone out. Wrong passwords count per (account, client address):
//! ten lock that address out of that account for the rest of the window, and each lockout
//! within a day doubles the next window (backoff), while the owner still signs in from
//! anywhere else. They also count per address across accounts, so that
//! one address cannot try a few passwords on each of many accounts. The counters are the
//! store's: in process on one machine, in Redis across instances, so that spreading
//! guesses over the instances behind a load balancer gains nothing.
//!
//! [`allow_mail`] limits the mail a visitor can make Lanyard send, the same way.

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
/// How long lockouts are remembered for the backoff, and the most it doubles.
const LOCKOUT_MEMORY_SECS: i64 = 24 * 3600;
const MAX_DOUBLINGS: u32 = 6;

pub struct Throttle {
    counters: Arc<dyn Counters>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

/// Failures for one account from one address, at a backoff level (lockouts so far).
fn pair(email: &str, client: IpAddr, level: u32) -> String {
    format!("sign-in-failures:{email}:{client}:{level}")
}

fn lockouts(email: &str, client: IpAddr) -> String {
    format!("sign-in-lockouts:{email}:{client}")
}

/// The window failures count in at `level`: doubling with each lockout.
fn window(level: u32) -> i64 {
    WINDOW_SECS << level.min(MAX_DOUBLINGS)
}

fn address(client: IpAddr) -> String {
    format!("sign-in-failures-from:{client}")
}

impl Throttle {
    pub fn new(counters: Arc<dyn Counters>) -> Self {
        Self { counters }
    }

    /// How many times `client` was locked out of `email` lately.
    async fn level(&self, email: &str, client: IpAddr, now: UnixTime) -> StoreResult<u32> {
        let key = lockouts(email, client);
        let tally = self.counters.tally(&key, LOCKOUT_MEMORY_SECS, now).await?;
        Ok(tally.map_or(0, |t| t.count))
    }

    /// Seconds until `client` may try `email` again, if it is locked out now.
    pub async fn locked_for(
        &self,
        email: &str,
        client: IpAddr,
        now: UnixTime,
    ) -> StoreResult<Option<i64>> {
        let mut checks = vec![(address(client), MAX_ADDRESS_FAILURES, WINDOW_SECS)];
        // The last lockout was the window before this level's.
        if let Some(last) = self.level(email, client, now).await?.checked_sub(1) {
            checks.push((pair(email, client, last), MAX_FAILURES, window(last)));
        }
        let mut longest = None;
        for (key, max, window) in checks {
            if let Some(t) = self.counters.tally(&key, window, now).await? {
                let left = t.since + window - now;
                if t.count >= max && left > 0 {
                    longest = longest.max(Some(left));
                }
            }
        }
        Ok(longest)
    }

    pub async fn failed(&self, email: &str, client: IpAddr, now: UnixTime) -> StoreResult<()> {
        let level = self.level(email, client, now).await?;
        let key = pair(email, client, level);
        let tally = self.counters.hit(&key, window(level), now).await?;
        if tally.count == MAX_FAILURES {
            let memory = LOCKOUT_MEMORY_SECS;
            self.counters
                .hit(&lockouts(email, client), memory, now)
                .await?;
        }
        self.counters
            .hit(&address(client), WINDOW_SECS, now)
            .await?;
        Ok(())
    }

    /// A right password clears the account's failures and lockouts from that address (not
    /// the address's count over other accounts).
    pub async fn succeeded(&self, email: &str, client: IpAddr, now: UnixTime) -> StoreResult<()> {
        for level in 0..=self.level(email, client, now).await? {
            self.counters.clear(&pair(email, client, level)).await?;
        }
        self.counters.clear(&lockouts(email, client)).await
    }
}

/// Mail a visitor can make Lanyard send, limited so that no one floods an inbox or probes
/// addresses through the server. Counted whether or not the address has an account, so a
/// refusal says nothing about accounts.
#[derive(Debug, Clone, Copy)]
pub enum MailLimit<'a> {
    /// Verification links and sign-up notices to one address.
    ToAddress(&'a str),
    /// Password-reset requests for one address (past it, no more mail; the page is the same).
    ResetsTo(&'a str),
    /// Password-reset requests from one client address (past it, 429).
    ResetsFrom(IpAddr),
}

/// The window the mail limits count in.
pub const MAIL_WINDOW_SECS: i64 = 3600;

impl MailLimit<'_> {
    fn key_and_max(self) -> (String, u32) {
        match self {
            Self::ToAddress(email) => (format!("mail-to:{email}"), 3),
            Self::ResetsTo(email) => (format!("reset-to:{email}"), 3),
            Self::ResetsFrom(client) => (format!("reset-from:{client}"), 20),
        }
    }
}

/// Counts one more mail against `limit`; false once it is over.
pub async fn allow_mail(
    counters: &dyn Counters,
    limit: MailLimit<'_>,
    now: UnixTime,
) -> StoreResult<bool> {
    let (key, max) = limit.key_and_max();
    let tally = counters.hit(&key, MAIL_WINDOW_SECS, now).await?;
    Ok(tally.count <= max)
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
        t.succeeded("a@example.com", attacker, 160).await.unwrap();
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

    #[tokio::test]
    async fn mail_to_an_address_is_limited_per_hour() {
        let c = InProcess::default();
        for _ in 0..3 {
            assert!(
                allow_mail(&c, MailLimit::ToAddress("a@x.io"), 100)
                    .await
                    .unwrap()
            );
        }
        assert!(
            !allow_mail(&c, MailLimit::ToAddress("a@x.io"), 200)
                .await
                .unwrap()
        );
        assert!(
            allow_mail(&c, MailLimit::ResetsTo("a@x.io"), 200)
                .await
                .unwrap()
        );
        assert!(
            allow_mail(&c, MailLimit::ToAddress("b@x.io"), 200)
                .await
                .unwrap()
        );
        let later = 100 + MAIL_WINDOW_SECS;
        assert!(
            allow_mail(&c, MailLimit::ToAddress("a@x.io"), later)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn each_lockout_within_a_day_doubles_the_next() {
        let t = Throttle::new(Arc::new(InProcess::default()));
        let a = ip("203.0.113.9");
        let mut now = 100;
        for round in 0..3u32 {
            for _ in 0..MAX_FAILURES {
                t.failed("a@example.com", a, now).await.unwrap();
            }
            let lock = WINDOW_SECS << round;
            assert_eq!(
                t.locked_for("a@example.com", a, now).await.unwrap(),
                Some(lock),
                "round {round}"
            );
            now += lock;
            assert_eq!(t.locked_for("a@example.com", a, now).await.unwrap(), None);
        }
        // A right password starts over.
        t.succeeded("a@example.com", a, now).await.unwrap();
        for _ in 0..MAX_FAILURES {
            t.failed("a@example.com", a, now).await.unwrap();
        }
        assert_eq!(
            t.locked_for("a@example.com", a, now).await.unwrap(),
            Some(WINDOW_SECS)
        );
    }
}
