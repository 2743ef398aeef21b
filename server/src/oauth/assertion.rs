//! Client assertions (RFC 7523 §2.2; OIDC Core §9 `private_key_jwt`): a client without a
//! shared secret proves who it is with a short-lived JWT signed by a key its metadata
//! document publishes. ChatGPT authenticates this way when the server offers it.
//!
//! Its audience is the issuer, alone (RFC 7523bis): not a list, and not an endpoint's URL,
//! so that an assertion made for another server, or for one of this server's endpoints in
//! a confused deployment, is never taken here. An assertion is accepted once: its `jti` is
//! counted in the store's rate-limit counters (shared by every instance) until it expires,
//! and its lifetime is capped so that this memory stays small.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::cimd::KeySource;
use crate::app::App;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live (from now to its `exp`).
const MAX_LIFETIME: i64 = 600;
/// Clock skew forgiven on `exp` and `nbf`.
const LEEWAY: u64 = 30;
/// Asymmetric algorithms only: an assertion is checked against a public key.
const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// The claims read from a payload, which must be a JSON object throughout (RFC 7519 §7.2):
/// the other members are read too, not skipped, so invalid UTF-8 in one of them is refused,
/// and a JSON array (which serde would take for a struct) is no payload.
#[derive(Debug, Deserialize)]
struct Claims {
    jti: Option<String>,
    exp: i64,
    /// Checked to be one string, not a list; `Validation` has checked its value.
    aud: Value,
    #[serde(flatten)]
    _rest: Map<String, Value>,
}

/// The one claim read before the signature is checked, from a payload held to the same
/// rule.
#[derive(Debug, Deserialize)]
struct Unverified {
    sub: Option<String>,
    #[serde(flatten)]
    _rest: Map<String, Value>,
}

/// The client an assertion says it comes from (its `sub`), read before anything is checked,
/// to find that client's keys.
pub fn claimed_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Unverified>(&bytes).ok()?.sub
}

/// Checks that `assertion` was signed by one of the client's keys, names the client as its
/// issuer and subject and this server's issuer as its only audience, expires soon, and has
/// not been presented before.
pub async fn verify(
    app: &App,
    client_id: &str,
    keys: &KeySource,
    assertion: &str,
) -> Result<(), String> {
    // The header is read before the keys are fetched: a malformed assertion costs no fetch.
    let header = header(assertion)?;
    let set = app
        .cimd
        .keys(keys, app.now())
        .await
        .map_err(|e| format!("the client's keys could not be had: {e}"))?;
    let now = app.now();
    let accepted = check(
        assertion,
        &header,
        &set,
        &Expected {
            client_id,
            issuer: app.config.issuer.as_str(),
            now,
        },
    )?;
    let seen = app
        .stores
        .counters
        .hit(
            &format!("client-assertion:{client_id}:{}", accepted.jti),
            // Remembered for as long as it could still be accepted.
            (accepted.exp - now + LEEWAY as i64 + 1).max(1),
            now,
        )
        .await
        .map_err(|e| format!("could not check the assertion for replay: {e}"))?;
    if seen.count > 1 {
        return Err("the client assertion was already used".into());
    }
    Ok(())
}

/// The assertion's header, if it parses and names an algorithm this server accepts.
pub fn header(assertion: &str) -> Result<Header, String> {
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| "malformed client assertion")?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(format!(
            "client assertions signed with {:?} are not accepted",
            header.alg
        ));
    }
    Ok(header)
}

/// Who an assertion must come from and be for, and when it is checked.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// This server's issuer: the assertion's only audience.
    pub issuer: &'a str,
    pub now: i64,
}

/// An assertion that passed every check but the replay check, with what that needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub jti: String,
    pub exp: i64,
}

/// Every check of an assertion that needs no store: the signature by one of `set`'s keys
/// (by `kid` when the header names one), the issuer, subject and audience, the time claims,
/// the lifetime cap and a `jti`. `header` is [`header`]'s answer for the same assertion.
pub fn check(
    assertion: &str,
    header: &Header,
    set: &JwkSet,
    expected: &Expected<'_>,
) -> Result<Accepted, String> {
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.set_issuer(&[expected.client_id]);
    validation.sub = Some(expected.client_id.to_string());
    validation.set_audience(&[expected.issuer]);
    let claims = set
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .find_map(|key| jsonwebtoken::decode::<Claims>(assertion, &key, &validation).ok())
        .map(|data| data.claims)
        .ok_or("the client assertion is not valid for this client")?;
    if !claims.aud.is_string() {
        return Err("a client assertion's audience must be the issuer alone".into());
    }
    if claims.exp - expected.now > MAX_LIFETIME {
        return Err(format!(
            "client assertions may live at most {MAX_LIFETIME} seconds"
        ));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty())
        .ok_or("the client assertion has no jti")?;
    Ok(Accepted {
        jti,
        exp: claims.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_payload(payload: &str) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn the_claimed_client_is_read_from_a_json_object_only() {
        let claimed = |payload| claimed_client(&with_payload(payload));
        assert_eq!(claimed(r#"{"sub":"c1","n":1}"#).as_deref(), Some("c1"));
        assert_eq!(claimed(r#"["c1"]"#), None);
        assert_eq!(claimed(r#"{"sub":"c1","n":"\ud800"}"#), None);
    }
}
