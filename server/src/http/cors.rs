//! CORS for the endpoints browser-based MCP clients call directly (the Inspector fetches
//! metadata, registers and exchanges codes from the page). No credentials: these endpoints
//! never read cookies, so `*` is safe.

use http::{HeaderValue, StatusCode, header};

use super::Req;
use super::response::{Resp, text};

/// Paths that answer cross-origin requests.
pub fn applies(path: &str) -> bool {
    path.starts_with("/.well-known/")
        || matches!(
            path,
            "/oauth/jwks"
                | "/oauth/register"
                | "/oauth/token"
                | "/oauth/revoke"
                | "/oauth/introspect"
                | "/oauth/userinfo"
        )
        || path == "/mcp"
        || path.starts_with("/mcp/")
}

pub fn add_headers(resp: &mut Resp) {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    // Clients read the challenge to find the resource metadata (RFC 9728 §5.1).
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version"),
    );
}

/// Answers an OPTIONS preflight.
pub fn preflight(req: &Req) -> Resp {
    let mut r = text(StatusCode::NO_CONTENT, "");
    add_headers(&mut r);
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    let requested = req
        .header("access-control-request-headers")
        .and_then(|v| HeaderValue::from_str(v).ok())
        .unwrap_or(HeaderValue::from_static(
            "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID",
        ));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}
