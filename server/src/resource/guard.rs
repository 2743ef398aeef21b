//! The bearer-token guard (RFC 6750 + MCP authorization): verifies signature by `kid`,
//! `iss`, `aud`, `exp` and revocation, and answers failures with the challenge MCP clients
//! parse: `Bearer resource_metadata="…"`, plus `error` when a token was sent and `scope`.

use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::app::App;
use crate::config::ResourceConfig;
use crate::http::Req;
use crate::http::response::{Resp, json as json_resp};
use crate::oauth::access::{AccessError, check_access};
use crate::oauth::metadata::Discovery;
use crate::tokens::VerifiedAccess;

/// Why a request is refused.
#[derive(Debug)]
pub enum Denied {
    /// No token: the client has to go and get one.
    NoToken,
    Invalid(&'static str),
    InsufficientScope(&'static str),
    Unavailable,
}

/// Checks the request's bearer token for `resource`, and that it carries `scope`.
pub async fn require(
    app: &App,
    req: &Req,
    resource: &ResourceConfig,
    scope: Option<&'static str>,
) -> Result<VerifiedAccess, Denied> {
    // RFC 6750 §2.3 query tokens are refused: they end up in logs (MCP forbids them).
    let token = req.bearer_token().ok_or(Denied::NoToken)?;
    let claims = match check_access(app, token, &[resource.uri.as_str()]).await {
        Ok(c) => c,
        Err(AccessError::Store(_)) => return Err(Denied::Unavailable),
        Err(AccessError::Revoked) => return Err(Denied::Invalid("the access token was revoked")),
        Err(AccessError::Invalid(e)) => {
            return Err(Denied::Invalid(match e {
                crate::tokens::VerifyError::Expired => "the access token expired",
                crate::tokens::VerifyError::WrongAudience => {
                    "the access token is for another resource"
                }
                _ => "the access token is invalid",
            }));
        }
    };
    if let Some(s) = scope
        && !claims.has_scope(s)
    {
        return Err(Denied::InsufficientScope(s));
    }
    Ok(claims)
}

/// The 401/403/503 for a refusal.
pub fn challenge(app: &App, resource: &ResourceConfig, denied: &Denied) -> Resp {
    let metadata = Discovery::resource_metadata_url(&app.config, resource);
    let all_scopes = resource
        .scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let (status, value, body) = match denied {
        Denied::NoToken => (
            StatusCode::UNAUTHORIZED,
            format!("Bearer resource_metadata=\"{metadata}\", scope=\"{all_scopes}\""),
            json!({"error": "invalid_token", "error_description": "an access token is required"}),
        ),
        Denied::Invalid(d) => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer resource_metadata=\"{metadata}\", scope=\"{all_scopes}\", error=\"invalid_token\", error_description=\"{d}\""
            ),
            json!({"error": "invalid_token", "error_description": d}),
        ),
        Denied::InsufficientScope(s) => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer resource_metadata=\"{metadata}\", scope=\"{s}\", error=\"insufficient_scope\", error_description=\"this operation needs the {s} scope\""
            ),
            json!({"error": "insufficient_scope", "error_description": format!("this operation needs the {s} scope")}),
        ),
        Denied::Unavailable => return crate::oauth::OAuthError::TemporarilyUnavailable.response(),
    };
    let mut r = json_resp(status, &body);
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}
