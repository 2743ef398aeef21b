//! Minting and verifying JWTs. Access tokens follow RFC 9068 (`typ: at+jwt`); ID tokens
//! follow OIDC Core §2. Signing uses the ring's parsed key and precomputed header, so a
//! mint costs one signature and two small serialisations.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Validation, decode, decode_header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keyring::Ring;
use super::keys::KeyError;
use crate::clock::UnixTime;
use crate::domain::SignInMethods;

/// RFC 9068 §2.2 claims, the user's email and whether it is verified, then whatever
/// policies added.
#[derive(Debug)]
pub struct AccessClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub azp: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    /// The user's part; `None` for a client-credentials token, which is the client's own
    /// (its `sub` is the client's id).
    pub user: Option<UserClaims<'a>>,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub jti: &'a str,
    pub extra: &'a Map<String, Value>,
}

/// What an access token says of its user.
#[derive(Debug, Clone, Copy)]
pub struct UserClaims<'a> {
    /// The email, and whether it was verified: a resource server keys on `sub`, and can
    /// tell a self-registered address from a vouched one.
    pub email: &'a str,
    pub email_verified: bool,
    /// When the user signed in (OIDC `auth_time`) and how (RFC 8176 `amr`), so that a
    /// resource server can ask for a recent or a two-factor sign-in.
    pub auth_time: UnixTime,
    pub amr: &'a SignInMethods,
}

/// The claims an access token sets itself; an added claim of one of these names is left
/// out, so a token never carries a name twice (the policy chain refuses them earlier).
const OWN_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "client_id",
    "scope",
    "email",
    "email_verified",
    "auth_time",
    "amr",
    "iat",
    "exp",
    "jti",
];

impl Serialize for AccessClaims<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("iss", self.iss)?;
        m.serialize_entry("sub", self.sub)?;
        m.serialize_entry("aud", self.aud)?;
        m.serialize_entry("azp", self.azp)?;
        m.serialize_entry("client_id", self.client_id)?;
        m.serialize_entry("scope", self.scope)?;
        if let Some(user) = &self.user {
            m.serialize_entry("email", user.email)?;
            m.serialize_entry("email_verified", &user.email_verified)?;
            m.serialize_entry("auth_time", &user.auth_time)?;
            m.serialize_entry("amr", &user.amr.names())?;
        }
        m.serialize_entry("iat", &self.iat)?;
        m.serialize_entry("exp", &self.exp)?;
        m.serialize_entry("jti", self.jti)?;
        for (name, value) in self.extra {
            if !OWN_CLAIMS.contains(&name.as_str()) {
                m.serialize_entry(name, value)?;
            }
        }
        m.end()
    }
}

/// OIDC ID token claims.
#[derive(Debug, Serialize)]
pub struct IdClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub azp: &'a str,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub auth_time: UnixTime,
    /// RFC 8176 names, as OIDC Core §2 lists them.
    pub amr: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

fn sign(ring: &Ring, header: &str, claims: &impl Serialize) -> Result<String, KeyError> {
    let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
    let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
    out.push_str(header);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
    let sig = ring.signer.sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut out);
    Ok(out)
}

pub fn mint_access(ring: &Ring, claims: &AccessClaims<'_>) -> Result<String, KeyError> {
    sign(ring, &ring.access_header, claims)
}

pub fn mint_id(ring: &Ring, claims: &IdClaims<'_>) -> Result<String, KeyError> {
    sign(ring, &ring.id_header, claims)
}

/// What a verified access token says.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifiedAccess {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub email: Option<String>,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub jti: String,
    /// Everything else, policy claims included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VerifiedAccess {
    /// The grant a token belongs to: `jti` is `<grant id>.<random>`.
    pub fn grant_id(&self) -> &str {
        self.jti.split('.').next().unwrap_or_default()
    }
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("not an access token")]
    WrongType,
    #[error("token expired")]
    Expired,
    #[error("token is for another audience")]
    WrongAudience,
    #[error("invalid token")]
    Invalid,
}

/// Clock skew tolerated on `exp`/`nbf`/`iat`.
const LEEWAY: u64 = 30;

/// Checks signature (by `kid`), `typ`, `iss`, `aud` (one of `audiences`), `exp`, and `nbf`
/// when there is one (RFC 7519 §4.1.5). Revocation is the caller's.
pub fn verify_access(
    ring: &Ring,
    token: &str,
    issuer: &str,
    audiences: &[&str],
) -> Result<VerifiedAccess, VerifyError> {
    let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
    // RFC 9068 §4: resource servers MUST check typ, so an ID token cannot pass as access.
    if !header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(VerifyError::WrongType);
    }
    let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
    let key = ring.verifiers.get(&kid).ok_or(VerifyError::UnknownKey)?;
    if header.alg != key.jwt_algorithm() {
        return Err(VerifyError::Invalid);
    }
    let mut v = Validation::new(key.jwt_algorithm());
    v.leeway = LEEWAY;
    v.validate_nbf = true;
    v.set_issuer(&[issuer]);
    v.set_audience(audiences);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    decode::<VerifiedAccess>(token, &key.decoding, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
            jsonwebtoken::errors::ErrorKind::InvalidAudience => VerifyError::WrongAudience,
            _ => VerifyError::Invalid,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningAlg;
    use crate::store::embedded::Embedded;
    use crate::tokens::KeyRing;

    /// Whatever the added claims hold, the payload names each claim once, and the token's
    /// own claims win.
    #[test]
    fn added_claims_never_duplicate_the_tokens_own() {
        let mut extra = Map::new();
        for (name, value) in [
            ("email", "evil@example.com"),
            ("sub", "someone-else"),
            ("email_verified", "yes"),
            ("amr", "none"),
            ("tier", "pro"),
        ] {
            extra.insert(name.into(), Value::String(value.into()));
        }
        let claims = AccessClaims {
            iss: "http://i",
            sub: "u1",
            aud: "http://i/mcp",
            azp: "c1",
            client_id: "c1",
            scope: "read",
            user: Some(UserClaims {
                email: "a@b.c",
                email_verified: false,
                auth_time: 1,
                amr: &SignInMethods::password_and_code(),
            }),
            iat: 1,
            exp: 2,
            jti: "g1.r",
            extra: &extra,
        };
        let text = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            text,
            r#"{"iss":"http://i","sub":"u1","aud":"http://i/mcp","azp":"c1","client_id":"c1","scope":"read","email":"a@b.c","email_verified":false,"auth_time":1,"amr":["pwd","otp","mfa"],"iat":1,"exp":2,"jti":"g1.r","tier":"pro"}"#
        );
    }

    #[tokio::test]
    async fn minted_tokens_verify_and_wrong_audience_fails() {
        let store = Embedded::in_memory().unwrap();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let ring = KeyRing::load(&store, SigningAlg::RS256, 900, now)
            .await
            .unwrap()
            .current();
        let mut extra = Map::new();
        extra.insert("tier".into(), Value::String("pro".into()));
        let claims = AccessClaims {
            iss: "http://i",
            sub: "u1",
            aud: "http://i/mcp",
            azp: "c1",
            client_id: "c1",
            scope: "read write",
            user: Some(UserClaims {
                email: "a@b.c",
                email_verified: false,
                auth_time: now,
                amr: &SignInMethods::password(),
            }),
            iat: now,
            exp: now + 60,
            jti: "g1.r",
            extra: &extra,
        };
        let jwt = mint_access(&ring, &claims).unwrap();
        let got = verify_access(&ring, &jwt, "http://i", &["http://i/mcp"]).unwrap();
        assert_eq!(got.sub, "u1");
        assert_eq!(got.grant_id(), "g1");
        assert_eq!(got.extra["tier"], "pro");
        assert!(got.has_scope("write"));
        assert_eq!(
            verify_access(&ring, &jwt, "http://i", &["http://other/mcp"]).unwrap_err(),
            VerifyError::WrongAudience
        );
        assert_eq!(
            verify_access(&ring, &jwt, "http://evil", &["http://i/mcp"]).unwrap_err(),
            VerifyError::Invalid
        );

        let id = mint_id(
            &ring,
            &IdClaims {
                iss: "http://i",
                sub: "u1",
                aud: "c1",
                azp: "c1",
                iat: now,
                exp: now + 60,
                auth_time: now,
                amr: SignInMethods::password().names(),
                nonce: None,
                email: None,
                email_verified: None,
            },
        )
        .unwrap();
        assert_eq!(
            verify_access(&ring, &id, "http://i", &["c1"]).unwrap_err(),
            VerifyError::WrongType
        );

        let mut tampered = jwt.clone();
        tampered.replace_range(jwt.len() - 4.., "AAAA");
        assert!(verify_access(&ring, &tampered, "http://i", &["http://i/mcp"]).is_err());
    }
}
