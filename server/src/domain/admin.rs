//! The admin API's scopes: what a client made with `--admin-scopes` may do there.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// One scope of the admin resource (`<issuer>/admin`). Each write scope covers its own
/// area, reads included; `admin:read` reads everything and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AdminScope {
    Users,
    Clients,
    Grants,
    Keys,
    Policies,
    Read,
}

impl AdminScope {
    pub const ALL: [AdminScope; 6] = [
        Self::Users,
        Self::Clients,
        Self::Grants,
        Self::Keys,
        Self::Policies,
        Self::Read,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Users => "admin:users",
            Self::Clients => "admin:clients",
            Self::Grants => "admin:grants",
            Self::Keys => "admin:keys",
            Self::Policies => "admin:policies",
            Self::Read => "admin:read",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(ParseError("not an admin scope"))
    }

    /// Whether a scope string belongs to the admin resource: only operator clients may
    /// hold one, so registration refuses them.
    pub fn is_admin(scope: &str) -> bool {
        scope.starts_with("admin:")
    }
}

impl FromStr for AdminScope {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AdminScope {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<AdminScope> for String {
    fn from(s: AdminScope) -> String {
        s.as_str().to_string()
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AdminScope;

    #[test]
    fn scopes_read_back() {
        for s in AdminScope::ALL {
            assert_eq!(AdminScope::parse(s.as_str()), Ok(s));
            assert!(AdminScope::is_admin(s.as_str()));
        }
        assert!(AdminScope::parse("admin:everything").is_err());
        assert!(!AdminScope::is_admin("read"));
    }
}
