//! Signing key material: generated here, stored as PKCS#8, parsed once into an aws-lc key
//! that signs without re-parsing (re-parsing per token halves the RS256 rate).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};

use crate::clock::UnixTime;
use crate::config::SigningAlg;
use crate::store::{KeyState, StoredKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key {0} is not a valid {1} key")]
    Rejected(String, String),
    #[error("signing failed")]
    Sign,
}

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A parsed key: signs, and knows its public JWK.
pub struct KeyPairHandle {
    pub kid: String,
    pub alg: SigningAlg,
    material: Material,
    /// The public half as a JWK (with `kid`, `alg`, `use`).
    pub jwk: Value,
    /// The same public key, for verification.
    pub decoding: DecodingKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeyPairHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairHandle")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint: a kid derived from the key, identical on every instance.
fn thumbprint(canonical: &Value) -> String {
    let text = canonical.to_string();
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

impl KeyPairHandle {
    /// Generates a new key of `alg` and returns it in its stored form.
    pub fn generate(
        alg: SigningAlg,
        state: KeyState,
        now: UnixTime,
    ) -> Result<StoredKey, KeyError> {
        let der = match alg {
            SigningAlg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| KeyError::Generate)?
                .as_der()
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| KeyError::Generate)?
                .to_pkcs8v1()
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
        };
        let handle = Self::from_der(alg, &der, "new")?;
        Ok(StoredKey {
            kid: handle.kid,
            alg: alg.as_str().to_string(),
            private_der: der,
            state,
            created_at: now,
            retired_at: None,
        })
    }

    pub fn from_stored(key: &StoredKey) -> Result<Self, KeyError> {
        let alg = match key.alg.as_str() {
            "RS256" => SigningAlg::RS256,
            "ES256" => SigningAlg::ES256,
            other => return Err(KeyError::Rejected(key.kid.clone(), other.to_string())),
        };
        Self::from_der(alg, &key.private_der, &key.kid)
    }

    fn from_der(alg: SigningAlg, der: &[u8], kid_hint: &str) -> Result<Self, KeyError> {
        let rejected = || KeyError::Rejected(kid_hint.to_string(), alg.as_str().to_string());
        let (material, mut jwk, decoding) = match alg {
            SigningAlg::RS256 => {
                let kp = RsaKeyPair::from_pkcs8(der).map_err(|_| rejected())?;
                let parts: PublicKeyComponents<Vec<u8>> = kp.public_key().into();
                let (n, e) = (b64(&parts.n), b64(&parts.e));
                let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|_| rejected())?;
                (
                    Material::Rsa(kp),
                    json!({"e": e, "kty": "RSA", "n": n}),
                    decoding,
                )
            }
            SigningAlg::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| rejected())?;
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = kp.public_key().as_ref();
                if point.len() != 65 {
                    return Err(rejected());
                }
                let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| rejected())?;
                (
                    Material::Ec(kp),
                    json!({"crv": "P-256", "kty": "EC", "x": x, "y": y}),
                    decoding,
                )
            }
        };
        let kid = thumbprint(&jwk);
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), json!(kid));
            map.insert("alg".into(), json!(alg.as_str()));
            map.insert("use".into(), json!("sig"));
        }
        Ok(Self {
            kid,
            alg,
            material,
            jwk,
            decoding,
            rng: SystemRandom::new(),
        })
    }

    pub fn jwt_algorithm(&self) -> Algorithm {
        match self.alg {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
        }
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.material {
            Material::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            Material::Ec(kp) => Ok(kp
                .sign(&self.rng, message)
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_kid_is_stable() {
        for alg in [SigningAlg::RS256, SigningAlg::ES256] {
            let stored = KeyPairHandle::generate(alg, KeyState::Current, 1).unwrap();
            let a = KeyPairHandle::from_stored(&stored).unwrap();
            let b = KeyPairHandle::from_stored(&stored).unwrap();
            assert_eq!(a.kid, stored.kid);
            assert_eq!(a.jwk, b.jwk);
            assert_eq!(a.jwk["alg"], alg.as_str());
            assert!(!a.sign(b"x").unwrap().is_empty());
        }
    }
}
