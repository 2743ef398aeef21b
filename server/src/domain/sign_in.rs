//! How a user signed in: the RFC 8176 authentication method references that become a
//! token's `amr`, kept with the session, the code and the grant so that every token of a
//! sign-in says the same.

use serde::{Deserialize, Serialize};

use super::{ParseError, SignInMethod, UserId};
use crate::clock::UnixTime;

/// Who is signed in, since when (OIDC `auth_time`) and how (RFC 8176 `amr`): what a
/// session holds, and what its codes, grants, tokens and policies are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub sub: UserId,
    pub auth_time: UnixTime,
    pub amr: SignInMethods,
}

/// The methods of one sign-in, each once, in the order they were used (`mfa` last).
/// Serialised as a list of RFC 8176 names, which is how records keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct SignInMethods(Vec<SignInMethod>);

impl SignInMethods {
    /// A password alone.
    pub fn password() -> Self {
        Self(vec![SignInMethod::Password])
    }

    /// A password and then a one-time code: two factors, so `mfa` too (RFC 8176 §2).
    pub fn password_and_code() -> Self {
        Self(vec![
            SignInMethod::Password,
            SignInMethod::OneTimeCode,
            SignInMethod::MultiFactor,
        ])
    }

    /// A passkey alone (`hwk` or `swk`): the key is possessed, and the authenticator checked
    /// the user's PIN or biometric (WebAuthn user verification, which Lanyard requires), so
    /// two factors, and `mfa` too.
    pub fn passkey(key: SignInMethod) -> Self {
        Self(vec![key, SignInMethod::MultiFactor])
    }

    /// A password and then a passkey (`hwk` or `swk`).
    pub fn password_and_passkey(key: SignInMethod) -> Self {
        Self(vec![SignInMethod::Password, key, SignInMethod::MultiFactor])
    }

    pub fn contains(&self, method: SignInMethod) -> bool {
        self.0.contains(&method)
    }

    pub fn iter(&self) -> impl Iterator<Item = SignInMethod> + '_ {
        self.0.iter().copied()
    }

    /// The names, as a token's `amr` lists them.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(SignInMethod::as_str).collect()
    }
}

/// Records written before sign-in methods were kept were all password sign-ins.
impl Default for SignInMethods {
    fn default() -> Self {
        Self::password()
    }
}

impl TryFrom<Vec<String>> for SignInMethods {
    type Error = ParseError;
    fn try_from(names: Vec<String>) -> Result<Self, ParseError> {
        let mut methods = Vec::with_capacity(names.len());
        for name in names {
            let m = SignInMethod::parse(&name)?;
            if !methods.contains(&m) {
                methods.push(m);
            }
        }
        if methods.is_empty() {
            return Err(ParseError("a sign-in has at least one method"));
        }
        Ok(Self(methods))
    }
}

impl From<SignInMethods> for Vec<String> {
    fn from(m: SignInMethods) -> Self {
        m.names().into_iter().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_read_and_write_as_rfc_8176_names() {
        let both = SignInMethods::password_and_code();
        assert_eq!(both.names(), ["pwd", "otp", "mfa"]);
        let text = serde_json::to_string(&both).unwrap();
        assert_eq!(text, r#"["pwd","otp","mfa"]"#);
        assert_eq!(serde_json::from_str::<SignInMethods>(&text).unwrap(), both);
        assert!(serde_json::from_str::<SignInMethods>(r#"["pwd","sms"]"#).is_err());
        assert!(serde_json::from_str::<SignInMethods>("[]").is_err());
        let alone = SignInMethods::passkey(SignInMethod::HardwareKey);
        assert_eq!(alone.names(), ["hwk", "mfa"]);
        let after = SignInMethods::password_and_passkey(SignInMethod::SoftwareKey);
        assert_eq!(after.names(), ["pwd", "swk", "mfa"]);
        assert_eq!(
            serde_json::from_str::<SignInMethods>(r#"["pwd","swk","mfa"]"#).unwrap(),
            after
        );
        assert_eq!(
            serde_json::from_str::<SignInMethods>(r#"["pwd","pwd"]"#).unwrap(),
            SignInMethods::password()
        );
    }
}
