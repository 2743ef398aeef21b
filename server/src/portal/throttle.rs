//! Sign-in throttling, so that a password cannot be guessed at the speed of argon2, and an
//! attacker cannot lock anyone out. Wrong passwords count per (account, client address):
//! ten lock that address out of that account for the rest of the window, and each lockout
//! within a day doubles the next window (backoff), while the owner still signs in from
//! anywhere else. They also count per address across accounts, so that
//! one address cannot try a few passwords on each of many accounts. The counters are the
//! store's: in process on one machine, in Redis across instances, so that spreading
//! guesses over the instances behind a load balancer gains nothing.
//!
//! Second-factor codes have a throttle of their own, by the same rules, keyed by the
//! account's id: a right password must not clear the code failures, or whoever knows the
//! password could guess codes ten at a time for ever.
//! [`allow_mail`] limits the mail a visitor can make Lanyard send, the same way.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::clock::UnixTime;
use crate::metrics::Metrics;
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
    metrics: Arc<Metrics>,
    /// What is being guessed: names this throttle's counters.
    kind: &'static str,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

/// Passwords, by account email.
pub const PASSWORDS: &str = "sign-in";
/// Second-factor codes, by account id.
pub const CODES: &str = "second-factor";

/// The window failures count in at `level`: doubling with each lockout.
fn window(level: u32) -> i64 {
    WINDOW_SECS << level.min(MAX_DOUBLINGS)
}

impl Throttle {
    /// A throttle for `kind`: [`PASSWORDS`] or [`CODES`].
    pub fn new(counters: Arc<dyn Counters>, kind: &'static str, metrics: Arc<Metrics>) -> Self {
        Self {
            counters,
            kind,
            metrics,
        }
    }

    /// Failures for one account from one address, at a backoff level (lockouts so far).
    fn pair(&self, account: &str, client: IpAddr, level: u32) -> String {
        format!("{}-failures:{account}:{client}:{level}", self.kind)
    }

    fn lockouts(&self, account: &str, client: IpAddr) -> String {
        format!("{}-lockouts:{account}:{client}", self.kind)
    }

    fn address(&self, client: IpAddr) -> String {
        format!("{}-failures-from:{client}", self.kind)
    }

    /// How many times `client` was locked out of `account` lately.
    async fn level(&self, account: &str, client: IpAddr, now: UnixTime) -> StoreResult<u32> {
        let key = self.lockouts(account, client);
        let tally = self.counters.tally(&key, LOCKOUT_MEMORY_SECS, now).await?;
        Ok(tally.map_or(0, |t| t.count))
    }

    /// Seconds until `client` may try `account` again, if it is locked out now.
    pub async fn locked_for(
        &self,
        account: &str,
        client: IpAddr,
        now: UnixTime,
    ) -> StoreResult<Option<i64>> {
        let mut checks = vec![(self.address(client), MAX_ADDRESS_FAILURES, WINDOW_SECS)];
        // The last lockout was the window before this level's.
        if let Some(last) = self.level(account, client, now).await?.checked_sub(1) {
            checks.push((self.pair(account, client, last), MAX_FAILURES, window(last)));
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
        if longest.is_some() {
            self.metrics
                .sign_in_throttled
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(longest)
    }

    pub async fn failed(&self, account: &str, client: IpAddr, now: UnixTime) -> StoreResult<()> {
        self.metrics
            .sign_in_failures
            .fetch_add(1, Ordering::Relaxed);
        let level = self.level(account, client, now).await?;
        let key = self.pair(account, client, level);
        let tally = self.counters.hit(&key, window(level), now).await?;
        if tally.count == MAX_FAILURES {
            let memory = LOCKOUT_MEMORY_SECS;
            self.counters
                .hit(&self.lockouts(account, client), memory, now)
                .await?;
        }
        self.counters
            .hit(&self.address(client), WINDOW_SECS, now)
            .await?;
        Ok(())
    }

    /// A right guess clears the account's failures and lockouts from that address (not
    /// the address's count over other accounts).
    pub async fn succeeded(&self, account: &str, client: IpAddr, now: UnixTime) -> StoreResult<()> {
        for level in 0..=self.level(account, client, now).await? {
            self.counters
                .clear(&self.pair(account, client, level))
                .await?;
        }
        self.counters.clear(&self.lockouts(account, client)).await
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
        let t = Throttle::new(Arc::new(InProcess::default()), PASSWORDS, Arc::default());
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
    async fn a_right_password_leaves_code_failures_counted() {
        let counters: Arc<dyn Counters> = Arc::new(InProcess::default());
        let passwords = Throttle::new(counters.clone(), PASSWORDS, Arc::default());
        let codes = Throttle::new(counters, CODES, Arc::default());
        let a = ip("203.0.113.9");
        for _ in 0..MAX_FAILURES {
            codes.failed("u-1", a, 100).await.unwrap();
        }
        passwords.succeeded("u-1", a, 100).await.unwrap();
        assert_eq!(
            codes.locked_for("u-1", a, 100).await.unwrap(),
            Some(WINDOW_SECS)
        );
        assert_eq!(passwords.locked_for("u-1", a, 100).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_address_failing_across_many_accounts_is_locked_out_of_all() {
        let t = Throttle::new(Arc::new(InProcess::default()), PASSWORDS, Arc::default());
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
        let t = Throttle::new(Arc::new(InProcess::default()), PASSWORDS, Arc::default());
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
