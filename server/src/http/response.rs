//! Response builders: the only place headers common to a kind of response are set.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

pub type Resp = Response<Full<Bytes>>;

fn build(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// JSON from precomputed bytes (metadata, JWKS): no serialisation on the hot path.
pub fn json_bytes(status: StatusCode, body: Bytes) -> Resp {
    build(status, "application/json", body)
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Resp {
    match serde_json::to_vec(value) {
        Ok(v) => json_bytes(status, Bytes::from(v)),
        Err(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "response encoding failed",
        ),
    }
}

/// Responses carrying tokens or credentials must not be cached (RFC 6749 §5.1).
pub fn no_store(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// A bare error for failures that happen before any endpoint runs (body too large).
pub fn json_error(status: StatusCode, error: &str, description: &str) -> Resp {
    no_store(json(
        status,
        &serde_json::json!({"error": error, "error_description": description}),
    ))
}

/// An HTML page. Every page denies framing (RFC 9700 §4.16, clickjacking of consent).
/// There is no `form-action`: browsers apply it to the redirect after a consent POST, and
/// that redirect goes to the client, which may use any https host or a private scheme.
pub fn html(status: StatusCode, body: String) -> Resp {
    let mut r = build(status, "text/html; charset=utf-8", Bytes::from(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A page that runs the portal's own scripts (`/assets/...`, passkeys), and no others.
pub fn with_own_scripts(mut r: Resp) -> Resp {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

/// A script the portal serves from its own origin.
pub fn script(body: &'static str) -> Resp {
    let mut r = build(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    );
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// An image. An SVG opened on its own is a document that could run script, so it gets a
/// policy that allows none and a sandbox; as an `<img>` it runs none anyway.
pub fn image(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = build(status, content_type, body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A redirect. 303 after a POST so the browser does not replay the form (RFC 9700 §4.12).
pub fn redirect(status: StatusCode, location: &str) -> Resp {
    let mut r = build(status, "text/plain; charset=utf-8", Bytes::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    build(status, "text/plain; charset=utf-8", body.into())
}

pub fn not_found() -> Resp {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

pub fn method_not_allowed(allow: &'static str) -> Resp {
    let mut r = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "method not allowed",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}
