//! RFC 8707 resource indicators: the `aud` of an access token.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use super::ParseError;

/// An RFC 8707 resource indicator: an absolute URI without a fragment. Kept in the form it
/// was configured in (that form goes into `aud`); compared after normalising case, default
/// ports and a trailing slash, which clients add and strip at will.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceUri {
    raw: String,
    normal: String,
}

impl ResourceUri {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let url = Url::parse(s).map_err(|_| ParseError("resource must be an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(ParseError("resource must not contain a fragment"));
        }
        if url.cannot_be_a_base() || url.host().is_none() {
            return Err(ParseError("resource must be an absolute URI with a host"));
        }
        let mut normal = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            normal.push_str(&format!(":{port}"));
        }
        normal.push_str(url.path().trim_end_matches('/'));
        if let Some(q) = url.query() {
            normal.push('?');
            normal.push_str(q);
        }
        Ok(Self {
            raw: s.to_string(),
            normal,
        })
    }
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn same_as(&self, other: &ResourceUri) -> bool {
        self.normal == other.normal
    }
    /// Origin and path, for routing RFC 9728 documents.
    pub fn url(&self) -> Option<Url> {
        Url::parse(&self.raw).ok()
    }
}

impl FromStr for ResourceUri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ResourceUri {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<ResourceUri> for String {
    fn from(r: ResourceUri) -> String {
        r.raw
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_compare_loosely() {
        let a = ResourceUri::parse("https://MCP.example.com/").unwrap();
        let b = ResourceUri::parse("https://mcp.example.com").unwrap();
        assert!(a.same_as(&b));
        let c = ResourceUri::parse("https://mcp.example.com:443/mcp/").unwrap();
        let d = ResourceUri::parse("https://mcp.example.com/mcp").unwrap();
        assert!(c.same_as(&d));
        assert!(!d.same_as(&b));
        assert!(ResourceUri::parse("https://x.example/#f").is_err());
        assert!(ResourceUri::parse("mcp").is_err());
    }
}
