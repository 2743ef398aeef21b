//! `OAuthError`: the RFC 6749 / 7591 / 7009 / 8707 error vocabulary, rendered in one place.
//! The description is sent; the cause of a `server_error` is logged, never sent.

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::http::response::{Resp, json, no_store};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed. `basic` means the client tried HTTP Basic, which
    /// obliges a `WWW-Authenticate` challenge (RFC 6749 §5.2).
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic: bool },
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 8707 §2.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// OIDC Core §3.1.2.6, for `prompt=none`.
    #[error("login_required")]
    LoginRequired,
    #[error("consent_required")]
    ConsentRequired,
    /// RFC 7591 §3.2.2.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// RFC 7009 §2.2.1.
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    /// A backend is down: nothing was written.
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
    /// The client's address is over a rate limit (429; `Retry-After` says when to return).
    #[error("temporarily_unavailable: too many requests")]
    TooManyRequests,
    /// Something Lanyard got wrong, or a policy failed closed. `cause` is logged only.
    #[error("server_error: {cause}")]
    ServerError { cause: String },
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl OAuthError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::InvalidRequest(d.into())
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::InvalidGrant(d.into())
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::InvalidClient {
            description: d.into(),
            basic: false,
        }
    }
    pub fn server(cause: impl std::fmt::Display) -> Self {
        Self::ServerError {
            cause: cause.to_string(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::AccessDenied(_) => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::TemporarilyUnavailable | Self::TooManyRequests => "temporarily_unavailable",
            Self::ServerError { .. } => "server_error",
        }
    }

    pub fn description(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::UnsupportedResponseType(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::AccessDenied(d)
            | Self::InvalidRedirectUri(d)
            | Self::InvalidClientMetadata(d)
            | Self::UnsupportedTokenType(d)
            | Self::InvalidClient { description: d, .. } => {
                Some(d.as_str()).filter(|d| !d.is_empty())
            }
            Self::LoginRequired | Self::ConsentRequired | Self::TemporarilyUnavailable => None,
            Self::TooManyRequests => Some("too many requests from this address; retry later"),
            Self::ServerError { .. } => Some("the server could not complete the request"),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::ServerError { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body, exactly as RFC 6749 §5.2 lays it out.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(Body {
            error: self.code(),
            error_description: self.description(),
        })
        .unwrap_or(serde_json::Value::Null)
    }

    /// The one rendering of an OAuth error as an HTTP response.
    pub fn response(&self) -> Resp {
        match self {
            Self::ServerError { cause } => tracing::error!(%cause, "server_error"),
            Self::TemporarilyUnavailable => tracing::warn!("store unavailable"),
            other => tracing::debug!(error = %other, "oauth error"),
        }
        let mut r = no_store(json(self.status(), &self.body()));
        if let Self::InvalidClient { basic: true, .. } = self {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"lanyard\""),
            );
        }
        r
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "store unavailable");
                Self::TemporarilyUnavailable
            }
            other => Self::server(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_json_of_each_error() {
        let cases = [
            (
                OAuthError::invalid_request("missing code"),
                400,
                json!({"error":"invalid_request","error_description":"missing code"}),
            ),
            (
                OAuthError::invalid_client("unknown client"),
                401,
                json!({"error":"invalid_client","error_description":"unknown client"}),
            ),
            (
                OAuthError::invalid_grant("code already used"),
                400,
                json!({"error":"invalid_grant","error_description":"code already used"}),
            ),
            (
                OAuthError::UnsupportedGrantType("password".into()),
                400,
                json!({"error":"unsupported_grant_type","error_description":"password"}),
            ),
            (
                OAuthError::InvalidTarget("unknown resource".into()),
                400,
                json!({"error":"invalid_target","error_description":"unknown resource"}),
            ),
            (
                OAuthError::InvalidRedirectUri("x".into()),
                400,
                json!({"error":"invalid_redirect_uri","error_description":"x"}),
            ),
            (
                OAuthError::InvalidClientMetadata("y".into()),
                400,
                json!({"error":"invalid_client_metadata","error_description":"y"}),
            ),
            (
                OAuthError::UnsupportedTokenType("z".into()),
                400,
                json!({"error":"unsupported_token_type","error_description":"z"}),
            ),
            (
                OAuthError::LoginRequired,
                400,
                json!({"error":"login_required"}),
            ),
            (
                OAuthError::TemporarilyUnavailable,
                503,
                json!({"error":"temporarily_unavailable"}),
            ),
            (
                OAuthError::TooManyRequests,
                429,
                json!({"error":"temporarily_unavailable","error_description":"too many requests from this address; retry later"}),
            ),
            (
                OAuthError::server("db exploded"),
                500,
                json!({"error":"server_error","error_description":"the server could not complete the request"}),
            ),
        ];
        for (err, status, body) in cases {
            assert_eq!(err.status().as_u16(), status, "{err}");
            assert_eq!(err.body(), body);
        }
    }

    #[test]
    fn basic_auth_failure_challenges_and_never_caches() {
        let r = OAuthError::InvalidClient {
            description: "bad secret".into(),
            basic: true,
        }
        .response();
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"lanyard\"");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["pragma"], "no-cache");
    }
}
