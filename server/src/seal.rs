//! Sealing: AES-256-GCM with a key derived by SHA-256 from a context label and some key
//! material, the one authenticated-encryption scheme Lanyard uses. A refresh token's
//! successor is sealed under the token it replaces (`oauth::successor`); a TOTP secret
//! under the operator's encryption key, bound to its user (`portal::totp`).
//!
//! The label keeps the keys of different uses apart, so one piece of material never opens
//! what another use sealed. A seal is the 96-bit nonce, then ciphertext and tag; the
//! nonce is random, which is safe for far more seals than one key ever makes.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};

use crate::clock::Random;

/// A key for one use, derived from its material.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// The key for `context` (a versioned label ending in NUL) from `material`.
    pub fn derive(context: &[u8], material: &[u8]) -> Option<Self> {
        let mut input = context.to_vec();
        input.extend_from_slice(material);
        let bytes = digest(&SHA256, &input);
        UnboundKey::new(&AES_256_GCM, bytes.as_ref())
            .ok()
            .map(|k| Self(LessSafeKey::new(k)))
    }

    /// `plain`, sealed: nonce, then ciphertext and tag. `bound` is authenticated but not
    /// stored: only a caller that names the same value opens the seal.
    pub fn seal(&self, plain: &[u8], bound: &[u8], random: &dyn Random) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut sealed = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bound),
                &mut sealed,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// What was sealed; `None` when another key or another `bound` value was used, or the
    /// bytes were tampered with.
    pub fn open(&self, sealed: &[u8], bound: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(bound), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    #[test]
    fn only_the_same_key_and_binding_open_a_seal() {
        let random = OsRandom::default();
        let key = SealKey::derive(b"test v1\0", b"material").unwrap();
        let sealed = key.seal(b"secret", b"user-1", &random).unwrap();
        assert_eq!(
            key.open(&sealed, b"user-1").as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(key.open(&sealed, b"user-2"), None);
        let other_use = SealKey::derive(b"other v1\0", b"material").unwrap();
        assert_eq!(other_use.open(&sealed, b"user-1"), None);
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(key.open(&tampered, b"user-1"), None);
        assert_eq!(key.open(&sealed[..5], b"user-1"), None);
        assert_ne!(key.seal(b"secret", b"user-1", &random).unwrap(), sealed);
    }
}
