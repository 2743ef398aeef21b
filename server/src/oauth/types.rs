//! Protocol values that parse on construction (style.md §3): handlers never hold a raw
//! string for a redirect URI, a scope, a resource or a client id.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// Why a protocol value did not parse; the text goes into `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub &'static str);

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

pub const OPENID: &str = "openid";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes the OIDC layer grants on any resource.
pub fn is_oidc_scope(s: &str) -> bool {
    matches!(s, OPENID | EMAIL | OFFLINE_ACCESS)
}

/// A set of scopes, kept in the order first seen so that `scope` strings are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// An RFC 8707 resource indicator: an absolute URI without a fragment. Kept in the form it
/// was configured in (that form goes into `aud`); compared after normalising case, default
/// ports and a trailing slash, which clients add and strip at will.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// A redirect URI a client registered, or one sent in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    url: Url,
}

/// What kind of redirect target a URI is, which decides where it may be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    Https,
    /// `http` to localhost, 127.0.0.1 or [::1]: a native app's loopback listener.
    Loopback,
    /// A private-use scheme such as `com.example.app:/cb` (RFC 8252 §7.1).
    PrivateScheme,
}

impl RedirectUri {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let url = Url::parse(s).map_err(|_| ParseError("redirect_uri must be an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(ParseError("redirect_uri must not contain a fragment"));
        }
        Ok(Self {
            raw: s.to_string(),
            url,
        })
    }
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// Classifies the URI, refusing targets no client may register: plain http to a
    /// remote host, and schemes that run code or read files.
    pub fn kind(&self) -> Result<RedirectKind, ParseError> {
        match self.url.scheme() {
            "https" if self.url.host().is_some() => Ok(RedirectKind::Https),
            "http" if self.is_loopback() => Ok(RedirectKind::Loopback),
            "http" => Err(ParseError(
                "http redirect URIs are allowed only for loopback hosts",
            )),
            "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ftp" | "ws"
            | "wss" | "https" => Err(ParseError("redirect_uri scheme is not allowed")),
            scheme if scheme.contains('.') => Ok(RedirectKind::PrivateScheme),
            _ => Err(ParseError(
                "custom redirect schemes must be reverse-domain names",
            )),
        }
    }
    fn is_loopback(&self) -> bool {
        match self.url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }
    /// Exact string comparison, except that a loopback redirect matches on any port
    /// (RFC 8252 §7.3): native apps bind an ephemeral port, and Claude Code registers
    /// `http://localhost/callback` with none.
    pub fn matches_registered(&self, registered: &RedirectUri) -> bool {
        if self.raw == registered.raw {
            return true;
        }
        if !(self.url.scheme() == "http" && self.is_loopback() && registered.is_loopback()) {
            return false;
        }
        registered.url.scheme() == "http"
            && self.url.host_str() == registered.url.host_str()
            && self.url.path() == registered.url.path()
            && self.url.query() == registered.url.query()
            && self.url.username().is_empty()
            && self.url.password().is_none()
    }
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or(self.url.scheme()).to_string()
    }
    /// The URI with the response parameters appended, keeping its own query.
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        url.to_string()
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2
/// `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: PKCE is its proof.
    None,
    ClientSecretPost,
    ClientSecretBasic,
    /// Signed assertions (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
    /// Whether the client holds a shared secret that Lanyard issues.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretPost | Self::ClientSecretBasic)
    }
}

/// A grant type a client may register (RFC 7591 §2 `grant_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RedirectUri {
        RedirectUri::parse(s).unwrap()
    }

    #[test]
    fn loopback_matches_any_port_only() {
        let reg = r("http://localhost/callback");
        assert!(r("http://localhost:53682/callback").matches_registered(&reg));
        assert!(!r("http://127.0.0.1:53682/callback").matches_registered(&reg));
        assert!(!r("http://localhost:53682/callback/x").matches_registered(&reg));
        assert!(!r("http://localhost:53682/callback?x=1").matches_registered(&reg));
        let https = r("https://app.example/cb");
        assert!(!r("https://app.example:444/cb").matches_registered(&https));
        assert!(!r("https://app.example/cb/").matches_registered(&https));
        assert!(r("https://app.example/cb").matches_registered(&https));
    }

    #[test]
    fn redirect_kinds() {
        assert_eq!(r("https://a.example/cb").kind(), Ok(RedirectKind::Https));
        assert_eq!(r("http://[::1]:9/cb").kind(), Ok(RedirectKind::Loopback));
        assert_eq!(
            r("com.example.app:/cb").kind(),
            Ok(RedirectKind::PrivateScheme)
        );
        assert!(r("http://a.example/cb").kind().is_err());
        assert!(r("javascript:alert(1)").kind().is_err());
        assert!(RedirectUri::parse("https://a.example/cb#x").is_err());
    }

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

    #[test]
    fn scopes() {
        let s = ScopeSet::parse("read  write read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(ScopeSet::parse("a\"b").is_err());
    }
}
