//! The account page, `/account`: the apps that hold access to the account (each can be
//! revoked), a new address (proven by mail), a new password, signing out everywhere, and
//! deleting the account; its passkeys have a page of their own (`passkeys`). Every change
//! is a form POST to `/account` with the session's `csrf_token` and an `action` naming it;
//! the page works
//! without JavaScript, and a refused change shows the page again with the error next to
//! its field. A browser that is not signed in is sent to sign in, and back.

mod apps;
mod delete;
pub mod email;
pub mod passkeys;
mod password;
mod sign_out;

use askama::Template;
use http::StatusCode;

use super::landing::Landing;
use super::pages::render;
use super::session::{self, Browser};
use super::{stale_form_page, unavailable_page, with_cookie};
use crate::app::App;
use crate::config::Branding;
use crate::domain::ClientId;
use crate::http::Req;
use crate::http::request::Params;
use crate::http::response::{Resp, redirect};
use crate::store::User;
use apps::AppLine;

/// A signed-in browser and its account.
struct Signed {
    browser: Browser,
    user: User,
}

/// The signed-in browser and its account; otherwise the answer: to sign in (and back), or
/// the store's trouble.
async fn signed(app: &App, req: &Req) -> Result<Signed, Resp> {
    let browser = session::current(app, req)
        .await
        .map_err(|_| unavailable_page(app))?;
    let to_login = || redirect(StatusCode::SEE_OTHER, &Landing::Account.login_url(app));
    let Some((browser, sub)) = browser.and_then(|b| {
        let sub = b.signed_in()?.sub.clone();
        Some((b, sub))
    }) else {
        return Err(to_login());
    };
    match app.stores.users.user_by_sub(&sub).await {
        Ok(Some(user)) => Ok(Signed { browser, user }),
        // A session that outlived its account is no sign-in.
        Ok(None) => Err(to_login()),
        Err(_) => Err(unavailable_page(app)),
    }
}

/// What a POST to `/account` asks for, read from `action` first.
enum Action {
    Revoke(ClientId),
    Email { new: String, password: String },
    Password { current: String, new: String },
    SignOutEverywhere,
    Delete { password: String },
}

impl Action {
    fn parse(form: &Params) -> Option<Self> {
        let field = |name| form.get(name).unwrap_or_default().to_string();
        match form.get("action")? {
            "revoke" => ClientId::parse(form.get("client_id")?)
                .ok()
                .map(Self::Revoke),
            "email" => Some(Self::Email {
                new: field("email"),
                password: field("current_password"),
            }),
            "sign_out_everywhere" => Some(Self::SignOutEverywhere),
            "password" => Some(Self::Password {
                current: field("current_password"),
                new: field("password"),
            }),
            "delete" => Some(Self::Delete {
                password: field("password"),
            }),
            _ => None,
        }
    }
}

/// A change that was refused, said next to the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    NewEmail(String),
    EmailPassword(String),
    CurrentPassword(String),
    NewPassword(String),
    Deletion(String),
}

/// What the page says after a change went through (`/account?done=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Revoked,
    EmailSent,
    Password,
}

impl Done {
    fn of(req: &Req) -> Option<Self> {
        match req.query_params().get("done")? {
            "revoked" => Some(Self::Revoked),
            "email" => Some(Self::EmailSent),
            "password" => Some(Self::Password),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::EmailSent => "email",
            Self::Password => "password",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Revoked => "The app no longer has access to your account.",
            Self::EmailSent => {
                "We sent a link to your new address. Your address changes when you open it."
            }
            Self::Password => "Your password was changed.",
        }
    }

    /// The page again, saying this (after a POST, so a reload does not post again).
    fn redirect(self, app: &App) -> Resp {
        let url = format!("{}?done={}", app.config.url("/account"), self.name());
        redirect(StatusCode::SEE_OTHER, &url)
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    brand: &'a Branding,
    csrf_token: &'a str,
    email: &'a str,
    apps: Vec<AppLine>,
    notice: Option<&'static str>,
    new_email_error: Option<String>,
    email_password_error: Option<String>,
    current_password_error: Option<String>,
    new_password_error: Option<String>,
    delete_error: Option<String>,
}

pub async fn show(app: &App, req: &Req) -> Resp {
    match signed(app, req).await {
        Ok(s) => page(app, &s, StatusCode::OK, Done::of(req), None).await,
        Err(r) => r,
    }
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let s = match signed(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = req.form();
    if !s.browser.csrf_ok(form.get("csrf_token")) {
        return stale_form_page(app);
    }
    let Some(action) = Action::parse(&form) else {
        return super::error_page(
            app,
            StatusCode::BAD_REQUEST,
            "Nothing was changed",
            "The form did not say what to change. Go back to your account page and try again.",
        );
    };
    match action {
        Action::Revoke(client_id) => apps::revoke(app, &s, &client_id).await,
        Action::Email { new, password } => email::request(app, req, &s, new, password).await,
        Action::Password { current, new } => password::change(app, req, &s, current, new).await,
        Action::SignOutEverywhere => sign_out::everywhere(app, &s).await,
        Action::Delete { password } => delete::delete(app, req, &s, password).await,
    }
}

/// The page, with a notice or a refused change's error.
async fn page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    done: Option<Done>,
    problem: Option<Problem>,
) -> Resp {
    let apps = match apps::list(app, &s.user.sub).await {
        Ok(apps) => apps,
        Err(_) => return unavailable_page(app),
    };
    let (mut current, mut new, mut delete) = (None, None, None);
    let (mut new_email, mut email_password) = (None, None);
    match problem {
        Some(Problem::NewEmail(e)) => new_email = Some(e),
        Some(Problem::EmailPassword(e)) => email_password = Some(e),
        Some(Problem::CurrentPassword(e)) => current = Some(e),
        Some(Problem::NewPassword(e)) => new = Some(e),
        Some(Problem::Deletion(e)) => delete = Some(e),
        None => {}
    }
    let body = AccountPage {
        brand: &app.config.branding,
        csrf_token: &s.browser.data.csrf,
        email: s.user.email.as_str(),
        apps,
        notice: done.map(Done::message),
        new_email_error: new_email,
        email_password_error: email_password,
        current_password_error: current,
        new_password_error: new,
        delete_error: delete,
    };
    with_cookie(render(status, &body), &s.browser)
}
