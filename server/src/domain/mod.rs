//! The domain's values, shared by the protocol layers and the store: who a user is, which
//! client asks, how it authenticates, which grant it uses, for which resource and scopes,
//! what the policies decided. Each parses on construction, so a value held is a value
//! checked; each reads and writes as its plain text (serde, SQL columns; a scope set as a
//! list of scopes), so wire formats and stored rows are what they would be as strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::Random;

mod admin;
mod resource;
mod scope;
mod sign_in;

pub use admin::AdminScope;
pub use resource::ResourceUri;
pub use scope::{Scope, ScopeSet};
pub use sign_in::{SignInMethods, SignedIn};

/// Why a value did not parse, in words fit for an `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub &'static str);

/// String conversions every domain value has: `FromStr` and `TryFrom<String>` parse,
/// `Display`, `as_str` and `Into<String>` give the text back.
macro_rules! text_value {
    ($t:ident) => {
        impl FromStr for $t {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $t {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, ParseError> {
                Self::parse(&s)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_string()
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    };
}

/// An opaque identifier: non-empty, at most `max` bytes, no control characters (it goes
/// into logs and command lines).
fn opaque(s: &str, max: usize, error: &'static str) -> Result<String, ParseError> {
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(ParseError(error));
    }
    Ok(s.to_string())
}

/// A user's stable identifier, the `sub` of every token: opaque, never the email (emails
/// change; `sub` must not).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        opaque(s, 255, "not a valid user id").map(Self)
    }
    /// A fresh identifier for a new account.
    pub fn generate(random: &dyn Random) -> Self {
        Self(random.id())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
text_value!(UserId);

/// A passkey's credential id (WebAuthn §4, "Credential ID"), as unpadded base64url text:
/// at most 1,023 bytes decoded, so at most 1,364 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasskeyId(String);

impl PasskeyId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if s.is_empty() || s.len() > 1364 || !s.chars().all(base64url) {
            return Err(ParseError("not a passkey id"));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
text_value!(PasskeyId);

/// A client's identifier: one Lanyard issued, or the URL of a Client ID Metadata Document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Metadata-document URLs are the long ones; 2,048 bytes is more than any client sends.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        opaque(s, 2048, "not a valid client id").map(Self)
    }
    /// A fresh identifier for a client Lanyard registers.
    pub fn generate(random: &dyn Random) -> Self {
        Self(random.id())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
text_value!(ClientId);

/// An email address, case-folded and trimmed: the key that makes accounts unique. Parsing
/// checks only its shape as a key (an `@`, at most 254 bytes, RFC 5321's path limit);
/// sign-up asks more of a new address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let folded = s.trim().to_lowercase();
        if folded.is_empty() || folded.len() > Self::MAX_LEN || !folded.contains('@') {
            return Err(ParseError("not a valid email"));
        }
        Ok(Self(folded))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
text_value!(Email);

/// A closed set of names with one text form each: `parse` and `as_str` from one table.
macro_rules! named_enum {
    ($(#[$m:meta])* $t:ident, $error:literal { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $t {
            $($(#[$vm])* $v,)+
        }

        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v,)+];

            pub fn parse(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($s => Ok(Self::$v),)+
                    _ => Err(ParseError($error)),
                }
            }
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$v => $s,)+
                }
            }
        }

        text_value!($t);
    };
}

named_enum! {
    /// The OAuth grants Lanyard serves at its token endpoint.
    GrantType, "not a grant type Lanyard serves" {
        AuthorizationCode = "authorization_code",
        RefreshToken = "refresh_token",
        /// A confidential client's token for itself (RFC 6749 §4.4).
        ClientCredentials = "client_credentials",
    }
}

named_enum! {
    /// How a client authenticates at the token endpoint (RFC 7591 §2
    /// `token_endpoint_auth_method`).
    AuthMethod, "not a token endpoint auth method Lanyard supports" {
        /// A public client: PKCE is its proof.
        None = "none",
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        /// RFC 7523 signed assertions.
        PrivateKeyJwt = "private_key_jwt",
    }
}

impl AuthMethod {
    /// Whether the client holds a shared secret that Lanyard issues.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretPost | Self::ClientSecretBasic)
    }
}

named_enum! {
    /// A way a user proves who they are, by its RFC 8176 authentication method reference.
    SignInMethod, "not a sign-in method Lanyard uses" {
        /// A password.
        Password = "pwd",
        /// A one-time code: TOTP (RFC 6238), or one of its single-use recovery codes.
        OneTimeCode = "otp",
        /// A proof of possession of a hardware-bound key: a passkey that never leaves its
        /// device (not backup-eligible).
        HardwareKey = "hwk",
        /// A proof of possession of a software-secured key: a passkey that syncs between
        /// devices (backup-eligible).
        SoftwareKey = "swk",
        /// More than one factor.
        MultiFactor = "mfa",
    }
}

named_enum! {
    /// What a mint's policies decided, as the decision log keeps it.
    PolicyOutcome, "not a policy outcome" {
        Allow = "allow",
        Deny = "deny",
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_fold_and_cap() {
        let e = Email::parse("  Ada@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada@example.com");
        assert_eq!(e, Email::parse("ada@example.com").unwrap());
        assert!(Email::parse("").is_err());
        assert!(Email::parse("   ").is_err());
        assert!(Email::parse("example.com").is_err());
        let long = format!("{}@example.com", "a".repeat(Email::MAX_LEN));
        assert!(Email::parse(&long).is_err());
        let longest = format!("{}@x.io", "a".repeat(Email::MAX_LEN - 5));
        assert_eq!(
            Email::parse(&longest).unwrap().as_str().len(),
            Email::MAX_LEN
        );
    }

    #[test]
    fn ids_refuse_empty_long_and_control_text() {
        assert_eq!(UserId::parse("u-1").unwrap().to_string(), "u-1");
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"a".repeat(256)).is_err());
        assert!(ClientId::parse("a\nb").is_err());
        let url = "https://app.example/client.json";
        assert_eq!(ClientId::parse(url).unwrap().as_str(), url);
    }

    #[test]
    fn values_serialise_as_their_text() {
        let id = UserId::parse("u-1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""u-1""#);
        assert_eq!(serde_json::from_str::<UserId>(r#""u-1""#).unwrap(), id);
        assert!(serde_json::from_str::<UserId>(r#""""#).is_err());
        let grants = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        let text = serde_json::to_string(&grants).unwrap();
        assert_eq!(text, r#"["authorization_code","refresh_token"]"#);
        assert_eq!(
            serde_json::from_str::<Vec<GrantType>>(&text).unwrap(),
            grants
        );
        assert!(serde_json::from_str::<GrantType>(r#""password""#).is_err());
    }

    #[test]
    fn names_round_trip() {
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Ok(*m));
        }
        for o in PolicyOutcome::ALL {
            assert_eq!(o.as_str().parse::<PolicyOutcome>(), Ok(*o));
        }
        assert_eq!(
            "reused".parse::<PolicyOutcome>(),
            Err(ParseError("not a policy outcome"))
        );
    }
}
