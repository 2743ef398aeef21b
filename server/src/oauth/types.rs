//! Protocol values that parse on construction (style.md §3): handlers never hold a raw
//! string for a redirect URI, a scope, a resource or a client id. Scopes and resources are
//! the store's too, so they live in [`crate::domain`] and are re-exported here.

use url::{Host, Url};

pub use crate::domain::{AuthMethod, GrantType, ParseError, ResourceUri, Scope, ScopeSet};

pub const OPENID: &str = "openid";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes the OIDC layer grants on any resource.
pub fn is_oidc_scope(s: &str) -> bool {
    matches!(s, OPENID | EMAIL | OFFLINE_ACCESS)
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
}
