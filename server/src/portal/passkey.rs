//! Signing in with a passkey (`POST /login/passkey`), the one sign-in step that needs
//! JavaScript (`/assets/passkeys.js`): the page's form asks `/login/passkey/options` for
//! a challenge, has the browser sign it, and posts the answer as `credential`.
//!
//! - After the password, on the second step's page: one of the account's passkeys, in
//!   place of a code; signed in by `pwd` and `hwk` or `swk`, and `mfa`.
//! - Alone, from the sign-in page: any discoverable passkey names its account; signed in
//!   by `hwk` or `swk` and `mfa` (the passkey checked the user's PIN or biometric).
//!
//! Refused answers are throttled like wrong codes: by account after the password, by
//! address alone. Both challenge endpoints (this one and the account page's) answer their
//! failures as JSON through [`options_error`].

use http::StatusCode;

use super::landing::Landing;
use super::login::{self, finish};
use super::second_factor::{self, waiting_for_code};
use super::session::Browser;
use super::{posted_session, request_id, unavailable_page};
use crate::app::App;
use crate::domain::{SignInMethods, UserId};
use crate::http::Req;
use crate::http::response::{Resp, json, json_error, no_store};
use crate::mfa::passkey::{self, PasskeyError};

/// The throttle's account for sign-ins by passkey alone: the account is not known until
/// the passkey is, so failures count per address.
const PASSWORDLESS: &str = "passkey";

/// `POST /login/passkey/options`: the challenge, as JSON for `navigator.credentials.get`:
/// for the account's passkeys on the second step, for any passkey otherwise.
pub async fn options(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let Ok(browser) = posted_session(app, req, &form).await else {
        return json_error(StatusCode::FORBIDDEN, "invalid_request", "stale form");
    };
    let sub = waiting_for_code(&browser);
    match passkey::begin_sign_in(app, sub.as_ref(), &browser.binding()).await {
        Ok(options) => no_store(json(StatusCode::OK, &options)),
        Err(e) => options_error(e),
    }
}

/// `POST /login/passkey`: the browser's answer, `credential`.
pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let sub = waiting_for_code(&browser);
    let account = sub.as_ref().map_or(PASSWORDLESS, UserId::as_str);
    let throttle = &app.code_throttle;
    let locked = match throttle.locked_for(account, req.client, app.now()).await {
        Ok(locked) => locked,
        Err(_) => return unavailable_page(app),
    };
    if let Some(left) = locked {
        let minutes = (left + 59) / 60;
        let error = format!("Too many failed attempts. Try again in {minutes} minute(s).");
        return refuse(app, req, &browser, StatusCode::TOO_MANY_REQUESTS, error).await;
    }
    let answer = form.get("credential").unwrap_or_default();
    let binding = browser.binding();
    let signed = match passkey::finish_sign_in(app, sub.as_ref(), &binding, answer).await {
        Ok(signed) => signed,
        Err(PasskeyError::Store(_)) => return unavailable_page(app),
        Err(e) => {
            tracing::info!(error = %e, "passkey sign-in refused");
            if let Err(e) = throttle.failed(account, req.client, app.now()).await {
                tracing::warn!(error = %e, "could not count a refused passkey");
            }
            let error = "That passkey did not sign you in. Try again, or use another way.";
            return refuse(app, req, &browser, StatusCode::UNAUTHORIZED, error.into()).await;
        }
    };
    if let Err(e) = throttle.succeeded(account, req.client, app.now()).await {
        tracing::warn!(error = %e, "could not clear refused passkeys");
    }
    tracing::info!(sub = %signed.sub, "signed in with a passkey");
    let (amr, landing) = match sub {
        Some(_) => (
            SignInMethods::password_and_passkey(signed.method),
            Landing::after_second_step(&browser),
        ),
        None => (SignInMethods::passkey(signed.method), Landing::of(req)),
    };
    let pending = request_id(req, Some(&browser));
    finish(app, signed.sub, amr, pending, Some(&browser), landing).await
}

/// The page the passkey was used on again, saying why it did not sign in.
async fn refuse(app: &App, req: &Req, b: &Browser, status: StatusCode, error: String) -> Resp {
    match waiting_for_code(b) {
        Some(sub) => {
            second_factor::page(app, b, &sub, status, second_factor::Problem::Passkey(error)).await
        }
        None => login::passkey_refused(app, req, b, status, error).await,
    }
}

/// A challenge that could not be made, as JSON for the page's script.
pub fn options_error(e: PasskeyError) -> Resp {
    match e {
        PasskeyError::Off => json_error(
            StatusCode::NOT_FOUND,
            "not_available",
            "passkeys are off on this server",
        ),
        PasskeyError::Store(_) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again shortly",
        ),
        e => {
            tracing::warn!(error = %e, "no passkey challenge made");
            json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "no passkey challenge could be made",
            )
        }
    }
}
