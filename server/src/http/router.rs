//! Routing: (method, path) to handler. OAuth errors are rendered here, once.

use http::{HeaderValue, Method, StatusCode};

use super::response::{Resp, json_bytes, method_not_allowed, not_found, text};
use super::{Lifecycle, Req};
use super::{cors, rate};
use crate::admin::api;
use crate::app::App;
use crate::oauth::{self, OAuthError};
use crate::portal;
use crate::resource::mcp;
use crate::store::health;

pub async fn route(app: &App, lifecycle: &Lifecycle, req: &Req) -> Resp {
    let path = local_path(app, &req.path);
    if req.method == Method::OPTIONS {
        return if cors::applies(path) {
            cors::preflight(req)
        } else {
            method_not_allowed("GET, POST")
        };
    }
    if let Some(limit) = rate::Limit::of(&req.method, path)
        && let Some(wait) = rate::over(app, req, limit).await
    {
        return too_many(app, path, wait);
    }
    let mut resp = dispatch(app, lifecycle, req, path).await;
    if cors::applies(path) {
        cors::add_headers(&mut resp);
    }
    resp
}

/// 429 for an address over its limit: the OAuth endpoints' JSON, or a page in the portal.
fn too_many(app: &App, path: &str, wait: i64) -> Resp {
    let mut resp = if path.starts_with("/oauth/") {
        OAuthError::TooManyRequests.response()
    } else {
        portal::error_page(
            app,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many requests came from your network just now. Please wait a minute and try again.",
        )
    };
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

/// An issuer with a path (`https://auth.example/tenant`) may be reached with or without the
/// prefix, depending on the proxy in front: accept both.
pub(super) fn local_path<'a>(app: &App, path: &'a str) -> &'a str {
    let prefix = app.discovery.issuer_path();
    match path.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && rest.starts_with('/') => rest,
        _ => path,
    }
}

fn oauth_result(r: Result<Resp, OAuthError>) -> Resp {
    r.unwrap_or_else(|e| e.response())
}

async fn dispatch(app: &App, lifecycle: &Lifecycle, req: &Req, path: &str) -> Resp {
    use Method as M;
    // HEAD is GET without a body; hyper drops the body on the way out.
    let m = if req.method == M::HEAD {
        &M::GET
    } else {
        &req.method
    };
    match (m, path) {
        (_, p) if p.starts_with("/.well-known/") => match *m {
            M::GET => app.discovery.serve(p).unwrap_or_else(not_found),
            _ => method_not_allowed("GET"),
        },
        (&M::GET, "/oauth/jwks") => {
            let mut r = json_bytes(StatusCode::OK, app.keys.current().jwks.clone());
            r.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            r
        }
        (&M::POST, "/oauth/register") => oauth_result(oauth::register::handle(app, req).await),
        (&M::GET | &M::POST, "/oauth/authorize") => oauth::authorize::handle(app, req).await,
        (&M::POST, "/oauth/token") => oauth_result(oauth::token::handle(app, req).await),
        (&M::POST, "/oauth/revoke") => oauth_result(oauth::revoke::handle(app, req).await),
        (&M::POST, "/oauth/introspect") => oauth_result(oauth::introspect::handle(app, req).await),
        (&M::GET | &M::POST, "/oauth/userinfo") => oauth::userinfo::handle(app, req).await,
        (
            _,
            "/oauth/jwks" | "/oauth/register" | "/oauth/token" | "/oauth/revoke"
            | "/oauth/introspect",
        ) => method_not_allowed(if path == "/oauth/jwks" { "GET" } else { "POST" }),
        (&M::GET, "/login") => portal::login::show(app, req).await,
        (&M::POST, "/login") => portal::login::submit(app, req).await,
        (&M::GET, "/login/code") => portal::second_factor::show(app, req).await,
        (&M::POST, "/login/code") => portal::second_factor::submit(app, req).await,
        (&M::GET, "/account/email") => portal::account::email::confirm_link(app, req).await,
        (&M::POST, "/login/passkey") => portal::passkey::submit(app, req).await,
        (&M::POST, "/login/passkey/options") => portal::passkey::options(app, req).await,
        (&M::GET, "/account/passkeys") => portal::account::passkeys::show(app, req).await,
        (&M::POST, "/account/passkeys") => portal::account::passkeys::submit(app, req).await,
        (&M::POST, "/account/passkeys/options") => {
            portal::account::passkeys::options(app, req).await
        }
        (&M::GET, "/assets/passkeys.js") => portal::passkeys_script(),
        (&M::GET, "/account/totp") => portal::totp::show(app, req).await,
        (&M::POST, "/account/totp") => portal::totp::submit(app, req).await,
        (&M::GET, "/register") => portal::register::show(app, req).await,
        (&M::POST, "/register") => portal::register::submit(app, req).await,
        (&M::GET, "/consent") => portal::consent::show(app, req).await,
        (&M::POST, "/consent") => portal::consent::submit(app, req).await,
        (&M::GET, "/verify") => portal::verify::show(app, req).await,
        (&M::POST, "/verify") => portal::verify::resend(app, req).await,
        (&M::GET, "/forgot") => portal::forgot::show(app, req).await,
        (&M::POST, "/forgot") => portal::forgot::submit(app, req).await,
        (&M::GET, "/reset") => portal::reset::show(app, req).await,
        (&M::POST, "/reset") => portal::reset::submit(app, req).await,
        (&M::GET, "/logout") => portal::logout::show(app, req).await,
        (&M::POST, "/logout") => portal::logout::submit(app, req).await,
        (&M::GET, "/account") => portal::account::show(app, req).await,
        (&M::POST, "/account") => portal::account::submit(app, req).await,
        (&M::GET, "/") => portal::home(app, req).await,
        (&M::GET, "/branding/logo") => portal::logo::show(app),
        (_, "/mcp") => mcp::handle(app, req).await,
        (&M::GET, "/mcp/ping") => mcp::ping(app, req).await,
        (&M::GET, "/healthz" | "/readyz") => health(app, lifecycle, req, path).await,
        _ => not_found(),
    }
}

/// The admin listener: metrics, the health checks and the admin API, for operators' tools
/// only.
pub async fn admin(app: &App, lifecycle: &Lifecycle, req: &Req) -> Resp {
    let path = req.path.as_str();
    match (&req.method, path) {
        (_, p) if p.starts_with(api::BASE) && p[api::BASE.len()..].starts_with('/') => {
            api::handle(app, req).await
        }
        (&Method::GET, "/healthz" | "/readyz") => health(app, lifecycle, req, path).await,
        (&Method::GET, "/metrics") => {
            let probes = health::probe(&app.stores.health).await;
            let mut r = text(StatusCode::OK, app.metrics.render(&probes));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        _ => not_found(),
    }
}

/// `/healthz` (alive; with `?deep=1`, whether every backend answers, one line each) and
/// `/readyz`.
async fn health(app: &App, lifecycle: &Lifecycle, req: &Req, path: &str) -> Resp {
    match path {
        "/healthz" if req.query_params().get("deep").is_some() => {
            let probes = health::probe(&app.stores.health).await;
            let report: String = probes
                .iter()
                .map(|p| {
                    format!(
                        "{} {}\n",
                        p.backend,
                        if p.up { "ok" } else { "unavailable" }
                    )
                })
                .collect();
            let status = if probes.iter().all(|p| p.up) {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, report)
        }
        "/healthz" => text(StatusCode::OK, "ok"),
        // This instance's own state: a store every instance shares being down is no reason
        // for a load balancer to take them all out (`/healthz?deep=1` tells that instead).
        _ if lifecycle.is_draining() => text(StatusCode::SERVICE_UNAVAILABLE, "draining"),
        _ => text(StatusCode::OK, "ready"),
    }
}
