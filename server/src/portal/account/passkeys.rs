//! The account's passkeys, `/account/passkeys`: the list (each can be removed, a plain
//! form), and adding one. Adding is the one step that needs JavaScript
//! (`/assets/passkeys.js`): the page's form asks `/account/passkeys/options` for a
//! challenge, has the browser make the credential, and posts it back with the form as
//! `credential`, beside the passkey's `name`.

use askama::Template;
use http::StatusCode;

use super::apps::Moment;
use super::{Signed, signed};
use crate::app::App;
use crate::config::Branding;
use crate::domain::PasskeyId;
use crate::http::Req;
use crate::http::response::{Resp, json, json_error, no_store, redirect, with_own_scripts};
use crate::mfa::passkey::{self, MAX_NAME, PasskeyError};
use crate::portal::pages::render;
use crate::portal::passkey::options_error;
use crate::portal::{stale_form_page, unavailable_page, with_cookie};
use crate::store::StoredPasskey;

/// One passkey, as the page lists it.
pub struct PasskeyLine {
    pub id: String,
    pub name: String,
    pub added: Moment,
    pub last_used: Option<Moment>,
}

impl From<&StoredPasskey> for PasskeyLine {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            added: Moment::at(p.created_at),
            last_used: p.last_used_at.map(Moment::at),
        }
    }
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage<'a> {
    brand: &'a Branding,
    csrf_token: &'a str,
    email: &'a str,
    /// This server has passkeys (its issuer is a domain).
    available: bool,
    passkeys: Vec<PasskeyLine>,
    notice: Option<&'static str>,
    /// Why the last passkey was not added, next to the name field.
    error: Option<String>,
    max_name: usize,
}

/// What the page says after a change went through (`?done=...`).
fn notice(req: &Req) -> Option<&'static str> {
    match req.query_params().get("done")? {
        "added" => Some("Your passkey was added. You can sign in with it now."),
        "removed" => Some("The passkey was removed."),
        _ => None,
    }
}

async fn page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Resp {
    let passkeys = match app.stores.passkeys.passkeys(&s.user.sub).await {
        Ok(p) => p.iter().map(PasskeyLine::from).collect(),
        Err(_) => return unavailable_page(app),
    };
    let body = PasskeysPage {
        brand: &app.config.branding,
        csrf_token: &s.browser.data.csrf,
        email: s.user.email.as_str(),
        available: app.webauthn.is_some(),
        passkeys,
        notice,
        error,
        max_name: MAX_NAME,
    };
    with_cookie(with_own_scripts(render(status, &body)), &s.browser)
}

pub async fn show(app: &App, req: &Req) -> Resp {
    match signed(app, req).await {
        Ok(s) => page(app, &s, StatusCode::OK, notice(req), None).await,
        Err(r) => r,
    }
}

fn done(app: &App, what: &str) -> Resp {
    let url = format!("{}?done={what}", app.config.url("/account/passkeys"));
    redirect(StatusCode::SEE_OTHER, &url)
}

/// `action=add` (with `name` and `credential`) or `action=remove` (with `passkey_id`).
pub async fn submit(app: &App, req: &Req) -> Resp {
    let s = match signed(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = req.form();
    if !s.browser.csrf_ok(form.get("csrf_token")) {
        return stale_form_page(app);
    }
    match form.get("action") {
        Some("add") => {
            let name = form.get("name").unwrap_or_default().trim();
            let refuse =
                |error: &str| page(app, &s, StatusCode::BAD_REQUEST, None, Some(error.into()));
            if name.is_empty() || name.chars().count() > MAX_NAME {
                return refuse(&format!(
                    "Give the passkey a name of at most {MAX_NAME} characters."
                ))
                .await;
            }
            let Some(answer) = form.get("credential") else {
                return refuse("Your browser made no passkey. Adding one needs JavaScript.").await;
            };
            let binding = s.browser.binding();
            match passkey::finish_registration(app, &s.user.sub, &binding, answer, name).await {
                Ok(p) => {
                    tracing::info!(sub = %s.user.sub, passkey = %p.id, "passkey added");
                    done(app, "added")
                }
                Err(PasskeyError::Store(_)) => unavailable_page(app),
                Err(PasskeyError::Taken) => refuse("That passkey is registered already.").await,
                Err(e) => {
                    tracing::info!(sub = %s.user.sub, error = %e, "passkey not added");
                    refuse("The passkey could not be added. Try again.").await
                }
            }
        }
        Some("remove") => {
            let Some(id) = form
                .get("passkey_id")
                .and_then(|id| PasskeyId::parse(id).ok())
            else {
                return page(app, &s, StatusCode::BAD_REQUEST, None, None).await;
            };
            match app.stores.passkeys.remove_passkey(&s.user.sub, &id).await {
                Ok(_) => {
                    tracing::info!(sub = %s.user.sub, passkey = %id, "passkey removed");
                    done(app, "removed")
                }
                Err(_) => unavailable_page(app),
            }
        }
        _ => page(app, &s, StatusCode::BAD_REQUEST, None, None).await,
    }
}

/// `POST /account/passkeys/options`: the challenge for a new passkey, as JSON for
/// `navigator.credentials.create` (the form's `csrf_token` goes with it).
pub async fn options(app: &App, req: &Req) -> Resp {
    let s = match signed(app, req).await {
        Ok(s) => s,
        Err(_) => return json_error(StatusCode::UNAUTHORIZED, "login_required", "sign in first"),
    };
    if !s.browser.csrf_ok(req.form().get("csrf_token")) {
        return json_error(StatusCode::FORBIDDEN, "invalid_request", "stale form");
    }
    let binding = s.browser.binding();
    match passkey::begin_registration(app, &s.user.sub, s.user.email.as_str(), &binding).await {
        Ok(options) => no_store(json(StatusCode::OK, &options)),
        Err(e) => options_error(e),
    }
}
