//! What a policy answers: a consent or token decision, built with chained helpers
//! (`TokenDecision::allow().claim("tier", "pro").drop_scope("write")`) and inspected the
//! same way in tests.
//!
//! A deny is final: the helpers that add to an allow leave a deny untouched, so a policy can
//! decide early and keep chaining without re-checking.

use crate::request::InputError;

/// The value of a claim added to an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimValue {
    /// A JSON string.
    Text(String),
    /// A JSON integer.
    Integer(i64),
    /// A JSON boolean.
    Boolean(bool),
    /// A JSON array of strings.
    Texts(Vec<String>),
    /// Any JSON value, as its serialized text.
    Json(String),
}

impl ClaimValue {
    /// The string, when this is a [`ClaimValue::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The strings, when this is a [`ClaimValue::Texts`].
    pub fn as_texts(&self) -> Option<&[String]> {
        match self {
            Self::Texts(v) => Some(v),
            _ => None,
        }
    }
}

impl From<&str> for ClaimValue {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for ClaimValue {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&String> for ClaimValue {
    fn from(value: &String) -> Self {
        Self::Text(value.clone())
    }
}

impl From<i64> for ClaimValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<i32> for ClaimValue {
    fn from(value: i32) -> Self {
        Self::Integer(value.into())
    }
}

impl From<u32> for ClaimValue {
    fn from(value: u32) -> Self {
        Self::Integer(value.into())
    }
}

impl From<bool> for ClaimValue {
    fn from(value: bool) -> Self {
        Self::Boolean(value)
    }
}

impl From<Vec<String>> for ClaimValue {
    fn from(value: Vec<String>) -> Self {
        Self::Texts(value)
    }
}

impl From<&[String]> for ClaimValue {
    fn from(value: &[String]) -> Self {
        Self::Texts(value.to_vec())
    }
}

impl From<Vec<&str>> for ClaimValue {
    fn from(value: Vec<&str>) -> Self {
        Self::Texts(value.into_iter().map(str::to_owned).collect())
    }
}

impl<const N: usize> From<[&str; N]> for ClaimValue {
    fn from(value: [&str; N]) -> Self {
        Self::Texts(value.into_iter().map(str::to_owned).collect())
    }
}

/// Any JSON: objects and mixed arrays, which the typed cases cannot carry.
impl From<serde_json::Value> for ClaimValue {
    fn from(value: serde_json::Value) -> Self {
        Self::Json(value.to_string())
    }
}

/// A claim to add to the access token. Reserved names (`iss sub aud exp iat nbf jti azp
/// client_id scope`) make the host reject the whole decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claim's name in the token.
    pub name: String,
    /// The claim's value.
    pub value: ClaimValue,
}

/// What an allowing policy changes on the consent page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsentOutcome {
    /// Requested scopes to withhold.
    pub drop_scopes: Vec<String>,
    /// Lines shown to the user on the consent page.
    pub notices: Vec<String>,
}

/// A policy's verdict at the consent phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Show the consent page, with these changes.
    Allow(ConsentOutcome),
    /// Refuse; the page shows this user-facing reason and the client gets `access_denied`.
    Deny(String),
}

impl ConsentDecision {
    /// Allows with nothing changed.
    pub fn allow() -> Self {
        Self::Allow(ConsentOutcome::default())
    }

    /// Denies with a reason the user will read.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Deny(reason.into())
    }

    /// Withholds a requested scope. Callers should only name scopes that were requested:
    /// the host treats any other as bad output.
    #[must_use]
    pub fn drop_scope(mut self, scope: impl Into<String>) -> Self {
        if let Self::Allow(outcome) = &mut self {
            push_unique(&mut outcome.drop_scopes, scope.into());
        }
        self
    }

    /// Adds a line to the consent page.
    #[must_use]
    pub fn notice(mut self, notice: impl Into<String>) -> Self {
        if let Self::Allow(outcome) = &mut self {
            outcome.notices.push(notice.into());
        }
        self
    }

    /// Whether the page will be shown.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow(_))
    }

    /// The reason, when this is a deny.
    pub fn deny_reason(&self) -> Option<&str> {
        match self {
            Self::Deny(reason) => Some(reason),
            Self::Allow(_) => None,
        }
    }

    /// The scopes withheld (none for a deny).
    pub fn dropped_scopes(&self) -> &[String] {
        match self {
            Self::Allow(outcome) => &outcome.drop_scopes,
            Self::Deny(_) => &[],
        }
    }

    /// The notices added (none for a deny).
    pub fn notices(&self) -> &[String] {
        match self {
            Self::Allow(outcome) => &outcome.notices,
            Self::Deny(_) => &[],
        }
    }
}

/// What an allowing policy changes in the tokens about to be minted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenOutcome {
    /// Scopes to withhold from the token.
    pub drop_scopes: Vec<String>,
    /// Claims to add to the access token.
    pub claims: Vec<Claim>,
}

/// A policy's verdict at the token phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenDecision {
    /// Mint the tokens, with these changes.
    Allow(TokenOutcome),
    /// Refuse the grant with this user-facing reason.
    Deny(String),
}

impl TokenDecision {
    /// Allows with nothing changed.
    pub fn allow() -> Self {
        Self::Allow(TokenOutcome::default())
    }

    /// Denies with a reason the user will read.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Deny(reason.into())
    }

    /// Withholds a scope in play. Callers should only name scopes that are in play: the
    /// host treats any other as bad output.
    #[must_use]
    pub fn drop_scope(mut self, scope: impl Into<String>) -> Self {
        if let Self::Allow(outcome) = &mut self {
            push_unique(&mut outcome.drop_scopes, scope.into());
        }
        self
    }

    /// Adds a claim, replacing an earlier one of the same name so the token never carries
    /// two values for one claim.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<ClaimValue>) -> Self {
        if let Self::Allow(outcome) = &mut self {
            let claim = Claim {
                name: name.into(),
                value: value.into(),
            };
            match outcome.claims.iter_mut().find(|c| c.name == claim.name) {
                Some(existing) => *existing = claim,
                None => outcome.claims.push(claim),
            }
        }
        self
    }

    /// Whether tokens will be minted.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow(_))
    }

    /// The reason, when this is a deny.
    pub fn deny_reason(&self) -> Option<&str> {
        match self {
            Self::Deny(reason) => Some(reason),
            Self::Allow(_) => None,
        }
    }

    /// The scopes withheld (none for a deny).
    pub fn dropped_scopes(&self) -> &[String] {
        match self {
            Self::Allow(outcome) => &outcome.drop_scopes,
            Self::Deny(_) => &[],
        }
    }

    /// The claims added (none for a deny).
    pub fn claims(&self) -> &[Claim] {
        match self {
            Self::Allow(outcome) => &outcome.claims,
            Self::Deny(_) => &[],
        }
    }

    /// The value of the claim called `name`, if one was added.
    pub fn claim_value(&self, name: &str) -> Option<&ClaimValue> {
        self.claims()
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.value)
    }
}

/// Denies with the error's user-facing reason; the parser's detail goes to the host log,
/// where the operator who can fix the input will see it.
impl From<InputError> for ConsentDecision {
    fn from(err: InputError) -> Self {
        crate::log::write(crate::log::Level::Warn, &err.to_string());
        Self::deny(err.user_reason())
    }
}

/// Denies with the error's user-facing reason; the parser's detail goes to the host log.
impl From<InputError> for TokenDecision {
    fn from(err: InputError) -> Self {
        crate::log::write(crate::log::Level::Warn, &err.to_string());
        Self::deny(err.user_reason())
    }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Request;

    #[test]
    fn token_allow_chains_claims_and_drops() {
        let d = TokenDecision::allow()
            .claim("tier", "pro")
            .claim("seats", 5)
            .claim("trial", false)
            .claim("features", ["a", "b"])
            .claim("limits", json!({"rpm": 60}))
            .drop_scope("write")
            .drop_scope("write");
        assert!(d.is_allow());
        assert_eq!(d.dropped_scopes(), ["write"]);
        assert_eq!(d.claim_value("tier"), Some(&ClaimValue::Text("pro".into())));
        assert_eq!(d.claim_value("seats"), Some(&ClaimValue::Integer(5)));
        assert_eq!(d.claim_value("trial"), Some(&ClaimValue::Boolean(false)));
        assert_eq!(
            d.claim_value("features").and_then(ClaimValue::as_texts),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert_eq!(
            d.claim_value("limits"),
            Some(&ClaimValue::Json(r#"{"rpm":60}"#.into()))
        );
    }

    #[test]
    fn a_repeated_claim_replaces_the_earlier_value() {
        let d = TokenDecision::allow()
            .claim("tier", "free")
            .claim("tier", "pro");
        assert_eq!(d.claims().len(), 1);
        assert_eq!(
            d.claim_value("tier").and_then(ClaimValue::as_text),
            Some("pro")
        );
    }

    #[test]
    fn a_deny_ignores_later_additions() {
        let d = TokenDecision::deny("no")
            .claim("tier", "pro")
            .drop_scope("write");
        assert_eq!(d, TokenDecision::Deny("no".into()));
        assert!(d.claims().is_empty() && d.dropped_scopes().is_empty());

        let c = ConsentDecision::deny("no").notice("hi").drop_scope("write");
        assert_eq!(c.deny_reason(), Some("no"));
        assert!(c.notices().is_empty() && c.dropped_scopes().is_empty());
    }

    #[test]
    fn consent_allow_collects_notices_and_drops() {
        let c = ConsentDecision::allow()
            .drop_scope("write")
            .notice("Write access needs the Pro plan.");
        assert!(c.is_allow());
        assert_eq!(c.deny_reason(), None);
        assert_eq!(c.dropped_scopes(), ["write"]);
        assert_eq!(c.notices(), ["Write access needs the Pro plan."]);
    }

    #[test]
    fn input_errors_become_denies_without_parser_detail() {
        let req = Request {
            config: "[1,".into(),
            ..Request::default()
        };
        let Err(err) = req.config_value() else {
            panic!("config should not parse");
        };
        let token = TokenDecision::from(err.clone());
        let consent = ConsentDecision::from(err.clone());
        assert_eq!(token.deny_reason(), Some(err.user_reason()));
        assert_eq!(consent.deny_reason(), Some(err.user_reason()));
    }
}
