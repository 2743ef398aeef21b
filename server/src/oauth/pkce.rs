//! PKCE (RFC 7636), S256 only: `plain` gives no protection against a leaked code.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::constant_time_eq;

/// A `code_challenge` as sent to the authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge is required (PKCE)")]
    Missing,
    #[error("code_challenge_method must be S256")]
    Method,
    #[error("code_challenge is malformed")]
    Malformed,
}

/// RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~].
fn well_formed(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl Challenge {
    /// Parses the pair of parameters. A missing method means `plain` (RFC 7636 §4.3),
    /// which is refused like any other method but S256.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let c = challenge.ok_or(PkceError::Missing)?;
        if method != Some("S256") {
            return Err(PkceError::Method);
        }
        // A SHA-256 digest in base64url is exactly 43 characters.
        if c.len() != 43 || !well_formed(c) {
            return Err(PkceError::Malformed);
        }
        Ok(Self(c.to_string()))
    }

    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` hashes to this challenge.
    pub fn verify(&self, verifier: &str) -> bool {
        if !well_formed(verifier) {
            return false;
        }
        let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
        constant_time_eq(computed.as_bytes(), self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_example() {
        let c = Challenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(c.verify(VERIFIER));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!c.verify("short"));
    }

    #[test]
    fn plain_missing_and_unknown_methods_are_refused() {
        assert_eq!(
            Challenge::parse(Some(CHALLENGE), None),
            Err(PkceError::Method)
        );
        assert_eq!(
            Challenge::parse(Some(CHALLENGE), Some("plain")),
            Err(PkceError::Method)
        );
        assert_eq!(
            Challenge::parse(Some(CHALLENGE), Some("S512")),
            Err(PkceError::Method)
        );
        assert_eq!(
            Challenge::parse(None, Some("S256")),
            Err(PkceError::Missing)
        );
        assert_eq!(
            Challenge::parse(Some("abc"), Some("S256")),
            Err(PkceError::Malformed)
        );
    }
}
