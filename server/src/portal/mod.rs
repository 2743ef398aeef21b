//! The portal: the pages a person sees (sign-up, sign-in and its second step, consent,
//! sign-out, address verification, password recovery, their account, second-factor
//! enrolment and passkeys), rendered with askama from `server/templates/`. Forms keep the
//! contract of design.md: `email`, `password`, hidden `csrf_token`, `decision=allow|deny` on
//! consent, and `client_id` to revoke an app on the account page.

pub mod account;
pub mod consent;
pub mod forgot;
pub mod landing;
pub mod links;
pub mod login;
pub mod logo;
pub mod logout;
pub mod pages;
pub mod passkey;
pub mod register;
pub mod reset;
pub mod second_factor;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod verify;

use http::{HeaderValue, StatusCode, header};

use crate::app::App;
use crate::http::Req;
use crate::http::request::Params;
use crate::http::response::{Resp, html, redirect};
pub use pages::{busy_page, error_page, unavailable_page};
use session::Browser;

/// Attaches the session cookie, when the session is new.
pub fn with_cookie(mut r: Resp, b: &Browser) -> Resp {
    if let Some(c) = b
        .set_cookie
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The id of the authorization request this page serves: from the query, the form, or
/// the session (for tools that post only the documented fields). Only an id of the shape
/// Lanyard gives them (base64url) is taken: a signed-out browser's form cookie carries it,
/// where a `;` would add attributes to the cookie (`Domain=`, `Path=`) and a space or a
/// comma would not read back the same.
pub fn request_id(req: &Req, b: Option<&Browser>) -> Option<String> {
    let from_query = req.query_params().get("request").map(str::to_string);
    let from_form = (req.method == http::Method::POST && req.is_form())
        .then(|| req.form().get("request").map(str::to_string))
        .flatten();
    from_query
        .or(from_form)
        .or_else(|| b.and_then(|b| b.data.pending.clone()))
        .filter(|id| {
            id.len() <= 64
                && id
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// The session a form POST belongs to, when its `csrf_token` matches (constant time);
/// otherwise the page that says the form was stale.
pub async fn posted_session(app: &App, req: &Req, form: &Params) -> Result<Browser, Resp> {
    let browser = session::current(app, req)
        .await
        .map_err(|_| unavailable_page(app))?
        .or_else(|| session::anonymous_from_cookie(app, req));
    browser
        .filter(|b| b.csrf_ok(form.get("csrf_token")))
        .ok_or_else(|| stale_form_page(app))
}

pub fn stale_form_page(app: &App) -> Resp {
    error_page(
        app,
        StatusCode::FORBIDDEN,
        "Your session expired",
        "The form was stale or did not come from this site. Go back to the app and start again.",
    )
}

/// The landing page: who is signed in.
pub async fn home(app: &App, req: &Req) -> Resp {
    match session::current(app, req).await {
        Ok(Some(b)) if b.signed_in().is_some() => {
            let email = match b.data.sub.as_ref() {
                Some(sub) => app
                    .stores
                    .users
                    .user_by_sub(sub)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.email.to_string()),
                None => None,
            };
            pages::render(
                StatusCode::OK,
                &pages::Home {
                    brand: &app.config.branding,
                    email,
                    csrf_token: b.data.csrf.clone(),
                },
            )
        }
        Ok(_) => redirect(StatusCode::SEE_OTHER, &app.config.url("/login")),
        Err(_) => unavailable_page(app),
    }
}

/// `/assets/passkeys.js`: the script of the passkey buttons, the portal's only script.
pub fn passkeys_script() -> Resp {
    crate::http::response::script(include_str!("../../assets/passkeys.js"))
}

pub(crate) fn render_or_500(body: Result<String, askama::Error>, status: StatusCode) -> Resp {
    match body {
        Ok(b) => html(status, b),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<h1>Something went wrong</h1>".to_string(),
            )
        }
    }
}
