//! JWTs a stranger sends: client assertions (RFC 7523) at the token endpoint and access
//! tokens at a protected resource, checked against fixed keys.
//!
//! The input is lines: `token <jwt>` is checked as sent; `header <json>` with `claims
//! <json>` is signed with the key the checks trust first, so the fuzzer reaches the claim
//! checks behind the signature. In the JSON, `{now}`, `{soon}` and `{late}` stand for now,
//! five minutes on and an hour on (a signed assertion must be fresh to pass), and `{kid}`
//! for the key's id.
//!
//! Whatever passes must be signed by that key (checked by aws-lc directly) and say what
//! the RFCs require, read from the payload here rather than from the checks' own parse.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use lanyard::clock::{Clock, SystemClock};
use lanyard::config::SigningAlg;
use lanyard::oauth::assertion::{self, Expected};
use lanyard::store::embedded::Embedded;
use lanyard::tokens::KeyRing;
use lanyard::tokens::jwt::verify_access;
use lanyard::tokens::keyring::Ring;
use serde_json::{Map, Value};

use crate::lines;

const ISSUER: &str = "https://auth.example";
const CLIENT: &str = "https://app.example/oauth/client.json";
const RESOURCE: &str = "https://mcp.example/mcp";
/// Seconds of clock skew the checks forgive, and one more for the time a check takes.
const SKEW: i64 = 31;

/// One ES256 key: the server's signing key, and the key the client's document publishes.
struct Keys {
    ring: Arc<Ring>,
    client: JwkSet,
    /// The public point (SEC1, uncompressed), for checking signatures without jsonwebtoken.
    point: Vec<u8>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
            panic!("no runtime");
        };
        let ring = rt.block_on(async {
            let Ok(store) = Embedded::in_memory() else {
                panic!("no in-memory store");
            };
            match KeyRing::load(&store, SigningAlg::ES256, 900, SystemClock.now()).await {
                Ok(ring) => ring.current(),
                Err(e) => panic!("no key ring: {e}"),
            }
        });
        let jwk = ring.signer.jwk.clone();
        let Ok(client) = serde_json::from_value(serde_json::json!({ "keys": [jwk] })) else {
            panic!("the signing key is not a JWK set");
        };
        let coordinate = |name: &str| {
            let text = ring.signer.jwk[name].as_str().unwrap_or_default();
            URL_SAFE_NO_PAD.decode(text).unwrap_or_default()
        };
        let mut point = vec![4];
        point.extend(coordinate("x"));
        point.extend(coordinate("y"));
        Keys {
            ring,
            client,
            point,
        }
    })
}

pub fn run(data: &[u8]) {
    let keys = keys();
    let (mut header, mut claims) = (None, None);
    for (keyword, rest) in lines::parse(data) {
        match keyword {
            "token" => check(keys, rest),
            "header" => header = Some(rest),
            "claims" => claims = Some(rest),
            _ => {}
        }
    }
    if let (Some(header), Some(claims)) = (header, claims) {
        check(keys, &sign(keys, &fill(keys, header), &fill(keys, claims)));
    }
}

fn fill(keys: &Keys, json: &str) -> String {
    let now = SystemClock.now();
    json.replace("{kid}", &keys.ring.signer.kid)
        .replace("{now}", &now.to_string())
        .replace("{soon}", &(now + 300).to_string())
        .replace("{late}", &(now + 3600).to_string())
}

fn sign(keys: &Keys, header: &str, claims: &str) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let Ok(signature) = keys.ring.signer.sign(token.as_bytes()) else {
        panic!("signing failed");
    };
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// The token as the token endpoint and a protected resource read it.
fn check(keys: &Keys, token: &str) {
    let now = SystemClock.now();
    let parts = Parts::of(token);
    // Who the assertion says it is from, read before anything is checked: the payload's
    // `sub`, whatever the rest of the token holds.
    if let Some(sub) = assertion::claimed_client(token) {
        let payload = token.split('.').nth(1).and_then(object);
        let said = payload.as_ref().and_then(|c| c.get("sub"));
        assert_eq!(said.and_then(Value::as_str), Some(sub.as_str()));
    }
    if let Ok(header) = assertion::header(token) {
        let expected = Expected {
            client_id: CLIENT,
            issuer: ISSUER,
            now,
        };
        if let Ok(accepted) = assertion::check(token, &header, &keys.client, &expected) {
            let Some(p) = parts.as_ref().filter(|p| p.signed_by(&keys.point)) else {
                panic!("an assertion passed that the client's key did not sign: {token}");
            };
            assert_eq!(header.alg, Algorithm::ES256);
            assert_eq!(p.string("iss"), Some(CLIENT), "iss");
            assert_eq!(p.string("sub"), Some(CLIENT), "sub");
            // RFC 7523bis: the issuer alone, as a string.
            assert_eq!(p.claims.get("aud"), Some(&Value::from(ISSUER)), "aud");
            let exp = p.number("exp");
            assert_eq!(exp, Some(accepted.exp), "exp");
            assert!(accepted.exp >= now - SKEW, "expired at {}", accepted.exp);
            assert!(
                accepted.exp <= now + 600 + 1,
                "lives past the cap: {}",
                accepted.exp
            );
            not_before(p, now);
            assert_eq!(p.string("jti"), Some(accepted.jti.as_str()), "jti");
            assert!(!accepted.jti.is_empty());
        }
    }
    if let Ok(access) = verify_access(&keys.ring, token, ISSUER, &[RESOURCE]) {
        let Some(p) = parts.as_ref().filter(|p| p.signed_by(&keys.point)) else {
            panic!("an access token passed that the server did not sign: {token}");
        };
        // RFC 9068 §4: the type is checked, so no other JWT passes as an access token.
        let typ = p
            .header
            .get("typ")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"),
            "typ {typ:?}"
        );
        assert_eq!(p.header.get("alg"), Some(&Value::from("ES256")));
        assert_eq!(p.string("iss"), Some(ISSUER), "iss");
        assert_eq!(p.claims.get("aud"), Some(&Value::from(RESOURCE)), "aud");
        assert_eq!(p.string("sub"), Some(access.sub.as_str()), "sub");
        assert_eq!(p.number("exp"), Some(access.exp), "exp");
        assert!(access.exp >= now - SKEW, "expired at {}", access.exp);
        not_before(p, now);
    }
}

/// `nbf`, when there is one, has come (RFC 7519 §4.1.5).
fn not_before(p: &Parts, now: i64) {
    if let Some(nbf) = p.claims.get("nbf") {
        let nbf = nbf.as_f64().unwrap_or(f64::INFINITY);
        assert!(nbf <= (now + SKEW) as f64, "not before {nbf}");
    }
}

/// A base64url part that holds a JSON object.
fn object(part: &str) -> Option<Map<String, Value>> {
    match URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// A compact JWS taken apart by hand.
struct Parts {
    signing_input: String,
    signature: Vec<u8>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl Parts {
    fn of(token: &str) -> Option<Self> {
        let mut it = token.split('.');
        let (h, c, s) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        Some(Self {
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
            header: object(h)?,
            claims: object(c)?,
        })
    }

    fn signed_by(&self, point: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }

    fn string(&self, claim: &str) -> Option<&str> {
        self.claims.get(claim).and_then(Value::as_str)
    }

    fn number(&self, claim: &str) -> Option<i64> {
        self.claims.get(claim).and_then(Value::as_i64)
    }
}
