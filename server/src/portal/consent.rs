//! Consent: names the app (its name, and the host that will receive the answer or that
//! published its metadata document), the resource, and each scope in words. A decision is
//! remembered per (user, client, resource, scopes); a new client always asks.

use http::StatusCode;

use super::pages::{Consent, ErrorPage, ScopeLine, render};
use super::session::{self, Browser};
use super::{error_page, request_id, stale_form_page, unavailable_page, with_cookie};
use crate::app::App;
use crate::domain::SignedIn;
use crate::http::Req;
use crate::http::response::{Resp, redirect};
use crate::oauth::OAuthError;
use crate::oauth::authorize::{Rejected, ReplyTo, error_redirect, issue_code};
use crate::oauth::client::{ClientOrigin, ResolvedClient, find_client};
use crate::oauth::policies::{Blocked, consent_gate};
use crate::oauth::types::{RedirectKind, RedirectUri};
use crate::store::AuthRequest;

/// Everything the consent page and its POST need, loaded and checked.
struct Pending {
    id: String,
    auth: AuthRequest,
    client: ResolvedClient,
    browser: Browser,
    user: SignedIn,
}

/// Loads the request and the signed-in user, or answers for them.
async fn load(app: &App, req: &Req) -> Result<Pending, Resp> {
    let browser = session::current(app, req)
        .await
        .map_err(|_| unavailable_page(app))?;
    let Some(id) = request_id(req, browser.as_ref()) else {
        return Err(error_page(
            app,
            StatusCode::BAD_REQUEST,
            "Nothing to approve",
            "There is no pending request from an app. Start again from the app.",
        ));
    };
    let auth = match app.stores.ephemeral.request(&id, app.now()).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return Err(error_page(
                app,
                StatusCode::BAD_REQUEST,
                "This request expired",
                "The app's request timed out or was already answered. Go back to the app and connect again.",
            ));
        }
        Err(_) => return Err(unavailable_page(app)),
    };
    let to_login = || {
        redirect(
            StatusCode::SEE_OTHER,
            &format!("{}?request={id}", app.config.url("/login")),
        )
    };
    let Some(browser) = browser else {
        return Err(to_login());
    };
    let Some(user) = browser
        .signed_in()
        .filter(|u| crate::mfa::satisfies(app, u))
    else {
        return Err(to_login());
    };
    // prompt=login / max_age: the sign-in must be newer than the request.
    if auth.force_login && user.auth_time < auth.created_at {
        return Err(to_login());
    }
    let client = match find_client(app, &auth.client_id).await {
        Ok(c) => c,
        Err(_) => {
            return Err(error_page(
                app,
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "The application that made this request is no longer registered.",
            ));
        }
    };
    Ok(Pending {
        id,
        auth,
        client,
        browser,
        user,
    })
}

pub async fn show(app: &App, req: &Req) -> Resp {
    let p = match load(app, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let email = match app.stores.users.user_by_sub(&p.user.sub).await {
        Ok(Some(u)) => u.email.to_string(),
        Ok(None) => {
            return error_page(
                app,
                StatusCode::BAD_REQUEST,
                "Account not found",
                "Your account no longer exists. Sign in again.",
            );
        }
        Err(_) => return unavailable_page(app),
    };
    let resource_cfg = app.config.resource(&p.auth.resource);
    let resource_name = resource_cfg
        .map(|r| r.name.clone())
        .unwrap_or_else(|| p.auth.resource.to_string());
    // Where the code goes is what matters: always shown. A metadata document's host is who
    // vouches for the app; when the code goes elsewhere, the page says so.
    let redirect_host = RedirectUri::parse(&p.auth.redirect_uri)
        .map(|r| r.host())
        .unwrap_or_default();
    let document_host = match &p.client.origin {
        ClientOrigin::MetadataDocument { host } => Some(host.clone()),
        ClientOrigin::Operator | ClientOrigin::Dynamic => None,
    };
    let elsewhere = document_host
        .as_ref()
        .is_some_and(|h| !h.eq_ignore_ascii_case(&redirect_host));
    let localhost_only = !p.client.redirect_uris.is_empty()
        && p.client
            .redirect_uris
            .iter()
            .all(|r| r.kind().is_ok_and(|k| k == RedirectKind::Loopback));
    let (scopes, allowed) = match consent_gate(app, &p.auth, &p.user, &p.client).await {
        Ok(gate) => gate,
        Err(blocked) => return blocked_page(app, &p, blocked),
    };
    let page = Consent {
        brand: &app.config.branding,
        csrf_token: p.browser.data.csrf.clone(),
        request: p.id.clone(),
        client_name: p.client.display_name(),
        name_unverified: p.client.name_unverified(),
        redirect_host,
        document_host,
        elsewhere,
        localhost_only,
        resource_name: resource_name.clone(),
        resource_uri: p.auth.resource.to_string(),
        scopes: scopes
            .iter()
            .map(|s| describe(s.as_str(), &resource_name))
            .collect(),
        notices: allowed.notices,
        email,
    };
    with_cookie(render(StatusCode::OK, &page), &p.browser)
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let p = match load(app, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !p.browser.csrf_ok(form.get("csrf_token")) {
        return stale_form_page(app);
    }
    let to = ReplyTo {
        redirect_uri: &p.auth.redirect_uri,
        state: p.auth.state.as_deref(),
    };
    let resp = match form.get("decision") {
        Some("allow") => {
            // The same gate as the page: what the user saw is what the code carries.
            let scopes = match consent_gate(app, &p.auth, &p.user, &p.client).await {
                Ok((scopes, _)) => scopes,
                Err(blocked) => return blocked_page(app, &p, blocked),
            };
            let auth = AuthRequest {
                scopes,
                ..p.auth.clone()
            };
            if app
                .stores
                .grants
                .record_consent(
                    &p.user.sub,
                    &auth.client_id,
                    &auth.resource,
                    &auth.scopes,
                    app.now(),
                )
                .await
                .is_err()
            {
                return unavailable_page(app);
            }
            match issue_code(app, &auth, &p.user, StatusCode::SEE_OTHER).await {
                Ok(r) => r,
                Err(Rejected::Redirect(r)) => *r,
                Err(Rejected::Page(t, m)) => {
                    return error_page(app, StatusCode::BAD_REQUEST, &t, &m);
                }
                Err(Rejected::Unavailable) => return unavailable_page(app),
            }
        }
        Some("deny") => error_redirect(
            app,
            &to,
            &OAuthError::AccessDenied("the user denied the request".into()),
            StatusCode::SEE_OTHER,
        ),
        _ => {
            return error_page(
                app,
                StatusCode::BAD_REQUEST,
                "Choose allow or deny",
                "The form did not say whether you allow the app.",
            );
        }
    };
    // The request is answered: it cannot be replayed for a second code.
    let _ = app.stores.ephemeral.finish_request(&p.id).await;
    resp
}

/// A policy said no (or failed closed): the page says why, and its one button takes the
/// user back to the app with `access_denied` (or `server_error`).
fn blocked_page(app: &App, p: &Pending, blocked: Blocked) -> Resp {
    let to = ReplyTo {
        redirect_uri: &p.auth.redirect_uri,
        state: p.auth.state.as_deref(),
    };
    let (status, title, message, err) = match blocked {
        Blocked::Denied(reason) => (StatusCode::FORBIDDEN, "Access not allowed", reason.clone(), OAuthError::AccessDenied(reason)),
        Blocked::Failed(cause) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "This app's access rules could not be checked right now. Nothing was shared; please try again later.".to_string(),
            OAuthError::server(cause),
        ),
        Blocked::Unavailable => return unavailable_page(app),
    };
    let back = error_redirect(app, &to, &err, StatusCode::SEE_OTHER);
    let href = back
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The request is answered; it cannot be replayed into a code.
    let id = p.id.clone();
    let ephemeral = app.stores.ephemeral.clone();
    tokio::spawn(async move {
        let _ = ephemeral.finish_request(&id).await;
    });
    render(
        status,
        &ErrorPage {
            brand: &app.config.branding,
            title,
            message: &message,
            back: href,
            back_label: Some(p.client.display_name()),
        },
    )
}

/// A scope in words.
fn describe(scope: &str, resource: &str) -> ScopeLine {
    let description = match scope {
        "openid" => "Confirm who you are".to_string(),
        "email" => "See your email address".to_string(),
        "offline_access" => "Stay connected when you are not using it".to_string(),
        "read" => format!("Read your data on {resource}"),
        "write" => format!("Create, change and delete your data on {resource}"),
        other => format!("Use the \u{201c}{other}\u{201d} permission on {resource}"),
    };
    ScopeLine {
        name: scope.to_string(),
        description,
    }
}
