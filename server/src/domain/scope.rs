//! Scopes (RFC 6749 §3.3): one token, and the ordered set a request, a consent or a grant
//! holds.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// One scope token (RFC 6749 §3.3: printable ASCII except space, `"` and `\`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(ParseError("malformed scope"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.0
    }
}

/// A set of scopes, kept in the order first seen so that `scope` strings are stable.
/// Serialised as a list of scopes, which is how records keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-separated `scope` parameter. Malformed tokens are an error; whether
    /// a well-formed token is known is the caller's business.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut set = Self::default();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            set.insert(Scope::parse(tok)?);
        }
        Ok(set)
    }
    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut set = Self::default();
        for s in scopes {
            set.insert(s);
        }
        set
    }
    pub fn insert(&mut self, s: Scope) {
        if !self.0.contains(&s) {
            self.0.push(s);
        }
    }
    pub fn contains(&self, s: &str) -> bool {
        self.0.iter().any(|x| x.as_str() == s)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
    /// The scopes of `self` that `allowed` also has.
    pub fn intersect(&self, allowed: &ScopeSet) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|s| allowed.contains(s.as_str()))
                .cloned()
                .collect(),
        )
    }
    pub fn without(&self, drop: &[String]) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|s| !drop.iter().any(|d| d == s.as_str()))
                .cloned()
                .collect(),
        )
    }
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(s.as_str()))
    }
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().map(|s| s.0.clone()).collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&s.0)?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<String>> for ScopeSet {
    type Error = ParseError;
    fn try_from(list: Vec<String>) -> Result<Self, ParseError> {
        let mut set = Self::default();
        for s in list {
            set.insert(Scope::try_from(s)?);
        }
        Ok(set)
    }
}

impl From<ScopeSet> for Vec<String> {
    fn from(set: ScopeSet) -> Vec<String> {
        set.0.into_iter().map(String::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let s = ScopeSet::parse("read  write read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(ScopeSet::parse("a\"b").is_err());
    }

    #[test]
    fn a_set_is_kept_as_a_list() {
        let s = ScopeSet::parse("read write").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["read","write"]"#);
        let back: ScopeSet = serde_json::from_str(r#"["read","write","read"]"#).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<ScopeSet>(r#"["a b"]"#).is_err());
    }
}
