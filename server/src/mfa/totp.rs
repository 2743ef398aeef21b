//! TOTP (RFC 6238 with its defaults: HMAC-SHA-1, 30-second steps, six digits, what every
//! authenticator app speaks), through `totp-rs`. The secret is 160 random bits (RFC 4226
//! §4) and exists in the clear only in memory: at rest it is sealed under the operator's
//! key and bound to its user.

use crate::clock::{Random, UnixTime};
use crate::domain::UserId;
use crate::seal::SealKey;
use crate::secret::Secret;

/// RFC 4226 §4 asks for at least 128 bits and recommends 160.
const SECRET_BYTES: usize = 20;

/// A TOTP secret. Never printed.
pub struct TotpSecret(Secret<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        random.fill(&mut bytes);
        Self(Secret::new(bytes))
    }

    /// Sealed for storage, bound to `sub`: a sealed secret copied to another user's row
    /// opens for no one.
    pub fn seal(&self, key: &SealKey, sub: &UserId, random: &dyn Random) -> Option<Vec<u8>> {
        key.seal(self.0.expose(), sub.as_str().as_bytes(), random)
    }

    pub fn open(key: &SealKey, sub: &UserId, sealed: &[u8]) -> Option<Self> {
        key.open(sealed, sub.as_str().as_bytes())
            .map(|b| Self(Secret::new(b)))
    }

    /// The generator for this secret, labelled `issuer:account` for authenticator apps
    /// (neither may hold a colon, which the label uses as its separator).
    fn totp(&self, issuer: &str, account: &str) -> Option<totp_rs::Totp> {
        totp_rs::Builder::new()
            .with_secret(self.0.expose().clone())
            .with_issuer(Some(issuer.replace(':', " ")))
            .with_account_name(account.replace(':', " "))
            .build()
            .ok()
    }

    /// The time step (`unix time / 30`) whose code `code` is, if it is one at `now` or a
    /// step either side of it (RFC 6238 §5.2: clocks drift and people type slowly).
    pub fn step_of(&self, code: &str, now: UnixTime) -> Option<i64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now).ok()?;
        let step = self.totp("", "")?.check(code, now)?;
        i64::try_from(step).ok()
    }

    /// The `otpauth://totp/...` URI an authenticator app reads from the QR code.
    pub fn uri(&self, issuer: &str, account: &str) -> Option<String> {
        self.totp(issuer, account)?.to_url().ok()
    }

    /// The secret in base32, for typing into an app that cannot scan.
    pub fn base32(&self) -> Option<String> {
        Some(self.totp("", "")?.secret().to_base32())
    }
}

/// `uri` as a QR code, an SVG document drawn on the server (the page runs no script).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration means nothing inside HTML.
    Some(match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    /// RFC 6238 Appendix B, SHA-1, truncated to six digits.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = TotpSecret(Secret::new(b"12345678901234567890".to_vec()));
        assert_eq!(secret.step_of("287082", 59), Some(1));
        assert_eq!(secret.step_of("081804", 1_111_111_109), Some(37_037_036));
        assert_eq!(secret.step_of("050471", 1_111_111_111), Some(37_037_037));
        // One step either side is accepted, two are not.
        assert_eq!(
            secret.step_of("081804", 1_111_111_109 + 30),
            Some(37_037_036)
        );
        assert_eq!(secret.step_of("081804", 1_111_111_109 + 60), None);
        for junk in ["", "28708", "2870822", "28708a", "abcdef"] {
            assert_eq!(secret.step_of(junk, 59), None, "{junk:?}");
        }
    }

    #[test]
    fn the_uri_names_the_account_and_carries_the_secret() {
        let secret = TotpSecret(Secret::new(b"12345678901234567890".to_vec()));
        assert_eq!(
            secret.uri("auth.example.com", "ada@example.com").unwrap(),
            "otpauth://totp/auth.example.com:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=auth.example.com"
        );
        assert!(
            qr_svg("otpauth://totp/x:y?secret=AA")
                .unwrap()
                .starts_with("<svg")
        );
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user() {
        let random = OsRandom::default();
        let key = SealKey::derive(b"test\0", b"k").unwrap();
        let (ada, bob) = (UserId::parse("ada").unwrap(), UserId::parse("bob").unwrap());
        let secret = TotpSecret::generate(&random);
        let sealed = secret.seal(&key, &ada, &random).unwrap();
        let opened = TotpSecret::open(&key, &ada, &sealed).unwrap();
        assert_eq!(opened.0.expose(), secret.0.expose());
        assert!(TotpSecret::open(&key, &bob, &sealed).is_none());
        assert!(!format!("{secret:?}").contains(&secret.base32().unwrap()));
    }
}
