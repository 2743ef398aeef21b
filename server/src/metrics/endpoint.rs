//! The endpoint a request is counted under: a fixed set, so that a scan of random paths
//! cannot grow the metrics.

/// Every endpoint with series of its own; anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Token,
    Register,
    Revoke,
    Introspect,
    Userinfo,
    Jwks,
    Discovery,
    Login,
    SignUp,
    Consent,
    Logout,
    Account,
    Portal,
    Mcp,
    Health,
    Metrics,
    Admin,
    Other,
}

impl Endpoint {
    pub const ALL: [Endpoint; 19] = [
        Self::Authorize,
        Self::Token,
        Self::Register,
        Self::Revoke,
        Self::Introspect,
        Self::Userinfo,
        Self::Jwks,
        Self::Discovery,
        Self::Login,
        Self::SignUp,
        Self::Consent,
        Self::Logout,
        Self::Account,
        Self::Portal,
        Self::Mcp,
        Self::Health,
        Self::Metrics,
        Self::Admin,
        Self::Other,
    ];

    /// The endpoint of a path on the public listener (without the issuer's path).
    pub fn of(path: &str) -> Self {
        match path {
            "/oauth/authorize" => Self::Authorize,
            "/oauth/token" => Self::Token,
            "/oauth/register" => Self::Register,
            "/oauth/revoke" => Self::Revoke,
            "/oauth/introspect" => Self::Introspect,
            "/oauth/userinfo" => Self::Userinfo,
            "/oauth/jwks" => Self::Jwks,
            "/login" => Self::Login,
            "/register" => Self::SignUp,
            "/consent" => Self::Consent,
            "/logout" => Self::Logout,
            "/healthz" | "/readyz" => Self::Health,
            "/metrics" => Self::Metrics,
            p if p.starts_with("/.well-known/") => Self::Discovery,
            p if p == "/account" || p.starts_with("/account/") => Self::Account,
            p if p == "/mcp" || p.starts_with("/mcp/") => Self::Mcp,
            p if p.starts_with("/admin/") => Self::Admin,
            "/" | "/branding/logo" | "/verify" | "/forgot" | "/reset" => Self::Portal,
            _ => Self::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Token => "token",
            Self::Register => "register",
            Self::Revoke => "revoke",
            Self::Introspect => "introspect",
            Self::Userinfo => "userinfo",
            Self::Jwks => "jwks",
            Self::Discovery => "discovery",
            Self::Login => "login",
            Self::SignUp => "signup",
            Self::Consent => "consent",
            Self::Logout => "logout",
            Self::Account => "account",
            Self::Portal => "portal",
            Self::Mcp => "mcp",
            Self::Health => "health",
            Self::Metrics => "metrics",
            Self::Admin => "admin",
            Self::Other => "other",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_listed_at_its_own_index() {
        for (i, e) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(e.index(), i, "{e:?}");
        }
        assert_eq!(Endpoint::of("/oauth/token"), Endpoint::Token);
        assert_eq!(
            Endpoint::of("/.well-known/oauth-authorization-server"),
            Endpoint::Discovery
        );
        assert_eq!(Endpoint::of("/accounts"), Endpoint::Other);
        assert_eq!(Endpoint::of("/wp-login.php"), Endpoint::Other);
    }
}
