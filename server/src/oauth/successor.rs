//! A rotated refresh token's successor, kept sealed for the grace window so that a second
//! presentation of the same token gets the same successor back: two racing refreshes from
//! one client both go on, and a family never forks into two live tokens. The key is derived
//! from the presented token itself, which is stored only as a hash: only someone holding
//! that token can open the seal (and they could have rotated it themselves).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};

use crate::clock::Random;

/// Distinguishes this key from the token's stored hash (a plain SHA-256 of the token).
const CONTEXT: &[u8] = b"lanyard refresh successor v1\0";

fn key(presented: &str) -> Option<LessSafeKey> {
    let mut input = CONTEXT.to_vec();
    input.extend_from_slice(presented.as_bytes());
    let bytes = digest(&SHA256, &input);
    UnboundKey::new(&AES_256_GCM, bytes.as_ref())
        .ok()
        .map(LessSafeKey::new)
}

/// `successor`, sealed under a key only `presented` opens: nonce, then ciphertext and tag.
pub fn seal(presented: &str, successor: &str, random: &dyn Random) -> Option<Vec<u8>> {
    let key = key(presented)?;
    let mut nonce = [0u8; NONCE_LEN];
    random.fill(&mut nonce);
    let mut sealed = successor.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut sealed,
    )
    .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(out)
}

/// The successor sealed for `presented`; `None` when another token's key does not open it
/// or the bytes were tampered with.
pub fn open(presented: &str, sealed: &[u8]) -> Option<String> {
    let key = key(presented)?;
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::empty(), &mut body).ok()?;
    String::from_utf8(plain.to_vec()).ok()
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
