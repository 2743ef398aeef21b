//! Secrets that redact themselves and compare in constant time, and the hash under which
//! bearer secrets are stored (style.md §3).

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A value that must never reach a log.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// SHA-256 of a high-entropy bearer secret, base64url. Codes, refresh tokens, session ids
/// and client secrets are stored only in this form, so a leaked database grants nothing.
/// (256 random bits need no slow hash; argon2 is for passwords.)
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(digest(&SHA256, secret.as_bytes())))
    }
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison, so a timing oracle cannot walk a stored hash.
    pub fn matches(&self, secret: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), Self::of(secret).0.as_bytes())
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash([redacted])")
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[redacted]");
        assert_eq!(
            format!("{:?}", SecretHash::of("x")),
            "SecretHash([redacted])"
        );
    }

    #[test]
    fn hash_matches_only_its_secret() {
        let h = SecretHash::of("abc");
        assert!(h.matches("abc"));
        assert!(!h.matches("abd"));
        assert_eq!(h.as_str(), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }
}
