//! The signing keys a running server holds: the one that signs, the ones that verify, and
//! the JWKS document, precomputed. Swapped atomically when keys rotate.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::json;

use super::keys::{KeyError, KeyPairHandle};
use crate::clock::UnixTime;
use crate::config::SigningAlg;
use crate::store::{KeyState, KeyStore, StoreError, StoredKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("no current signing key")]
    NoCurrentKey,
}

/// One consistent set of keys.
#[derive(Debug)]
pub struct Ring {
    pub signer: Arc<KeyPairHandle>,
    /// base64url JOSE headers for the signer, computed once.
    pub access_header: String,
    pub id_header: String,
    pub verifiers: HashMap<String, Arc<KeyPairHandle>>,
    pub jwks: Bytes,
    /// (kid, state) pairs this ring was built from, to skip rebuilding when nothing moved.
    fingerprint: Vec<(String, KeyState)>,
}

/// The live ring, replaced whole on rotation: a mint in flight finishes with its own key.
#[derive(Debug)]
pub struct KeyRing {
    ring: ArcSwap<Ring>,
    /// Retired keys stay published this long: the longest lifetime of anything they signed.
    publish_retired_for: i64,
}

fn header(alg: SigningAlg, typ: &str, kid: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"alg": alg.as_str(), "typ": typ, "kid": kid}).to_string())
}

impl KeyRing {
    /// Loads the keys, generating a current and a next key on first start.
    pub async fn load(
        store: &dyn KeyStore,
        alg: SigningAlg,
        publish_retired_for: i64,
        now: UnixTime,
    ) -> Result<Self, KeyRingError> {
        ensure_keys(store, alg, now).await?;
        let ring = build(&store.signing_keys().await?, publish_retired_for, now)?;
        Ok(Self {
            ring: ArcSwap::from_pointee(ring),
            publish_retired_for,
        })
    }

    pub fn current(&self) -> Arc<Ring> {
        self.ring.load_full()
    }

    /// Re-reads the store; swaps in a new ring when the key set moved.
    pub async fn reload(&self, store: &dyn KeyStore, now: UnixTime) -> Result<bool, KeyRingError> {
        let keys = store.signing_keys().await?;
        let fp = fingerprint(&keys, self.publish_retired_for, now);
        if fp == self.ring.load().fingerprint {
            return Ok(false);
        }
        self.ring
            .store(Arc::new(build(&keys, self.publish_retired_for, now)?));
        Ok(true)
    }
}

/// First start: a current key to sign with, and a next key already published.
pub async fn ensure_keys(
    store: &dyn KeyStore,
    alg: SigningAlg,
    now: UnixTime,
) -> Result<(), KeyRingError> {
    let keys = store.signing_keys().await?;
    for state in [KeyState::Current, KeyState::Next] {
        if !keys.iter().any(|k| k.state == state) {
            let key = KeyPairHandle::generate(alg, state, now)?;
            match store.insert_key(&key).await {
                // Another instance generated its own at the same moment: either is fine
                // only if it did not also insert a current key, which the uniqueness of
                // kid does not prevent; the rotate path repairs a double current.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Publishes a next key and promotes the old next: the new signer was in JWKS before it
/// signed anything. Returns the kid that now signs.
pub async fn rotate(
    store: &dyn KeyStore,
    alg: SigningAlg,
    publish_retired_for: i64,
    now: UnixTime,
) -> Result<String, KeyRingError> {
    ensure_keys(store, alg, now).await?;
    let next = KeyPairHandle::generate(alg, KeyState::Next, now)?;
    store.rotate_keys(&next, now).await?;
    store.prune_keys(now - publish_retired_for).await?;
    let keys = store.signing_keys().await?;
    keys.iter()
        .filter(|k| k.state == KeyState::Current)
        .max_by_key(|k| k.created_at)
        .map(|k| k.kid.clone())
        .ok_or(KeyRingError::NoCurrentKey)
}

fn published(k: &StoredKey, publish_retired_for: i64, now: UnixTime) -> bool {
    match k.state {
        KeyState::Next | KeyState::Current => true,
        KeyState::Retired => k.retired_at.is_some_and(|t| t + publish_retired_for > now),
    }
}

fn fingerprint(
    keys: &[StoredKey],
    publish_retired_for: i64,
    now: UnixTime,
) -> Vec<(String, KeyState)> {
    keys.iter()
        .filter(|k| published(k, publish_retired_for, now))
        .map(|k| (k.kid.clone(), k.state))
        .collect()
}

fn build(
    keys: &[StoredKey],
    publish_retired_for: i64,
    now: UnixTime,
) -> Result<Ring, KeyRingError> {
    let mut verifiers = HashMap::new();
    let mut jwks = Vec::new();
    let mut signer: Option<(UnixTime, Arc<KeyPairHandle>)> = None;
    for k in keys
        .iter()
        .filter(|k| published(k, publish_retired_for, now))
    {
        let handle = Arc::new(KeyPairHandle::from_stored(k)?);
        jwks.push(handle.jwk.clone());
        if k.state == KeyState::Current && signer.as_ref().is_none_or(|(t, _)| k.created_at >= *t) {
            signer = Some((k.created_at, handle.clone()));
        }
        verifiers.insert(k.kid.clone(), handle);
    }
    let (_, signer) = signer.ok_or(KeyRingError::NoCurrentKey)?;
    let jwks = Bytes::from(json!({ "keys": jwks }).to_string());
    Ok(Ring {
        access_header: header(signer.alg, "at+jwt", &signer.kid),
        id_header: header(signer.alg, "JWT", &signer.kid),
        signer,
        verifiers,
        jwks,
        fingerprint: fingerprint(keys, publish_retired_for, now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::Embedded;

    #[tokio::test]
    async fn rotation_publishes_before_signing_and_keeps_retired_keys() {
        let store = Embedded::in_memory().unwrap();
        let ring = KeyRing::load(&store, SigningAlg::ES256, 100, 1_000)
            .await
            .unwrap();
        let first = ring.current();
        assert_eq!(first.verifiers.len(), 2, "current and next are published");
        let next_kid = first
            .verifiers
            .keys()
            .find(|k| **k != first.signer.kid)
            .unwrap()
            .clone();

        let signing = rotate(&store, SigningAlg::ES256, 100, 1_010).await.unwrap();
        assert_eq!(
            signing, next_kid,
            "the published next key is the one that signs"
        );
        assert!(ring.reload(&store, 1_010).await.unwrap());
        let second = ring.current();
        assert_eq!(second.signer.kid, next_kid);
        assert!(
            second.verifiers.contains_key(&first.signer.kid),
            "retired key still verifies"
        );
        assert_eq!(second.verifiers.len(), 3);

        // Once everything the retired key signed has expired, it leaves JWKS.
        assert!(ring.reload(&store, 1_200).await.unwrap());
        assert!(!ring.current().verifiers.contains_key(&first.signer.kid));
    }
}
