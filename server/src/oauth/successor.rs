//! A rotated refresh token's successor, kept sealed for the grace window so that a second
//! presentation of the same token gets the same successor back: two racing refreshes from
//! one client both go on, and a family never forks into two live tokens. The key is derived
//! from the presented token itself, which is stored only as a hash: only someone holding
//! that token can open the seal (and they could have rotated it themselves).

use crate::clock::Random;
use crate::seal::SealKey;

/// Distinguishes this key from the token's stored hash (a plain SHA-256 of the token).
const CONTEXT: &[u8] = b"lanyard refresh successor v1\0";

/// `successor`, sealed under a key only `presented` opens: nonce, then ciphertext and tag.
pub fn seal(presented: &str, successor: &str, random: &dyn Random) -> Option<Vec<u8>> {
    SealKey::derive(CONTEXT, presented.as_bytes())?.seal(successor.as_bytes(), b"", random)
}

/// The successor sealed for `presented`; `None` when another token's key does not open it
/// or the bytes were tampered with.
pub fn open(presented: &str, sealed: &[u8]) -> Option<String> {
    let plain = SealKey::derive(CONTEXT, presented.as_bytes())?.open(sealed, b"")?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    #[test]
    fn only_the_presented_token_opens_its_successor() {
        let random = OsRandom::default();
        let sealed = seal("old-token", "new-token", &random).unwrap();
        assert_eq!(open("old-token", &sealed).as_deref(), Some("new-token"));
        assert_eq!(open("another-token", &sealed), None);
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(open("old-token", &tampered), None);
        assert_eq!(open("old-token", &sealed[..5]), None);
        // A fresh nonce each time: two seals of one successor differ.
        assert_ne!(seal("old-token", "new-token", &random).unwrap(), sealed);
    }
}
