//! Time and randomness, injected so that expiry and rotation are testable (style.md §12).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Seconds since the Unix epoch; every expiry in Lanyard is one of these.
pub type UnixTime = i64;

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place Lanyard reads the wall clock: everything else is handed a `Clock`, so
    // tests can move time without waiting for it.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixTime {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Source of secrets: codes, refresh tokens, session ids, client ids.
pub trait Random: Send + Sync + fmt::Debug {
    fn fill(&self, buf: &mut [u8]);

    /// 256 random bits, base64url: the shape of every bearer secret Lanyard hands out.
    fn token(&self) -> String {
        let mut buf = [0u8; 32];
        self.fill(&mut buf);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// 128 random bits, base64url: identifiers that must not be guessable but are not secrets.
    /// Drawn again when the first character is `-` or `_` (1 time in 32): an id that starts
    /// with `-` reads as a flag when an operator pastes it into the CLI.
    fn id(&self) -> String {
        loop {
            let mut buf = [0u8; 16];
            self.fill(&mut buf);
            let id = URL_SAFE_NO_PAD.encode(buf);
            if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                return id;
            }
        }
    }
}

/// The operating system's CSPRNG, through aws-lc.
#[derive(Debug, Default)]
pub struct OsRandom(SystemRandom);

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // SystemRandom only fails when the OS has no entropy source at all; nothing
        // sensible can continue then.
        if self.0.fill(buf).is_err() {
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::*;

    /// Fills with 0xF8 (base64url `-`…), then 0xFC (`_`…), then zeros (`A`…).
    #[derive(Debug, Default)]
    struct Scripted(AtomicU8);

    impl Random for Scripted {
        fn fill(&self, buf: &mut [u8]) {
            let byte = match self.0.fetch_add(1, Ordering::Relaxed) {
                0 => 0xF8,
                1 => 0xFC,
                _ => 0,
            };
            buf.fill(byte);
        }
    }

    #[test]
    fn ids_never_start_with_a_dash_or_an_underscore() {
        let random = Scripted::default();
        assert_eq!(random.id(), "A".repeat(22));
        assert_eq!(
            random.0.load(Ordering::Relaxed),
            3,
            "two draws were refused"
        );
    }
}
