//! `/reset?token=…`: the form a reset link opens. Setting the new password uses the link
//! (once), ends every browser session of the account, and with `revoke_apps` also revokes
//! every app's refresh-token family. The link went to the address, so following it also
//! proves the address.

use http::StatusCode;

use super::login::hash_password;
use super::pages::{Reset, notice_page, render};
use super::register::check;
use super::session;
use super::{error_page, links, posted_session, unavailable_page, with_cookie};
use crate::app::App;
use crate::http::Req;
use crate::http::response::Resp;
use crate::oauth::token::revoke_user_grants;
use crate::secret::SecretHash;
use crate::store::{LinkPurpose, MailedLink, User};

fn link_void(app: &App) -> Resp {
    error_page(
        app,
        StatusCode::BAD_REQUEST,
        "This link no longer works",
        "It was used already, or it expired. Ask for a new one on the “Forgot your password?” page.",
    )
}

/// The link the request's token stands for, and its account; or the page to answer with.
async fn open(app: &App, req: &Req, take: bool) -> Result<(String, MailedLink, User), Resp> {
    let token = links::token(req).ok_or_else(|| link_void(app))?;
    let hash = SecretHash::of(&token);
    let e = &app.stores.ephemeral;
    let link = if take {
        e.take_link(LinkPurpose::Reset, &hash, app.now()).await
    } else {
        e.link(LinkPurpose::Reset, &hash, app.now()).await
    };
    let link = link
        .map_err(|_| unavailable_page(app))?
        .ok_or_else(|| link_void(app))?;
    let user = links::holder(app, &link)
        .await
        .map_err(|_| unavailable_page(app))?
        .filter(|u| !u.is_disabled())
        .ok_or_else(|| link_void(app))?;
    Ok((token, link, user))
}

fn form_page(
    app: &App,
    csrf_token: String,
    token: String,
    user: &User,
    error: Option<&str>,
) -> Resp {
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    render(
        status,
        &Reset {
            brand: &app.config.branding,
            csrf_token,
            token,
            email: user.email.to_string(),
            error: error.map(str::to_string),
        },
    )
}

pub async fn show(app: &App, req: &Req) -> Resp {
    let (token, _, user) = match open(app, req, false).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match session::ensure(app, req).await {
        Ok(b) => with_cookie(form_page(app, b.data.csrf.clone(), token, &user, None), &b),
        Err(_) => unavailable_page(app),
    }
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let (token, _, user) = match open(app, req, false).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let password = form.get("password").unwrap_or_default().to_string();
    if let Err(msg) = check(user.email.as_str(), &password) {
        return form_page(app, browser.data.csrf.clone(), token, &user, Some(msg));
    }
    let Some(hash) = hash_password(app.random.as_ref(), password).await else {
        return unavailable_page(app);
    };
    // Taken only now, so that a refused password or a failed hash leaves the link working;
    // taken atomically, so that it works once.
    let (_, _, user) = match open(app, req, true).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    // One write: the password, the address proved, and every browser session ended.
    if app
        .stores
        .users
        .reset_password(&user.sub, &hash)
        .await
        .is_err()
    {
        return unavailable_page(app);
    }
    let revoke_apps = form.get("revoke_apps").is_some_and(|v| !v.is_empty());
    let apps = if revoke_apps {
        match revoke_user_grants(app, &user.sub).await {
            Ok(n) => n,
            Err(_) => return unavailable_page(app),
        }
    } else {
        0
    };
    // The owner proved the address: failed sign-ins from here no longer count.
    if let Err(e) = app
        .login_throttle
        .succeeded(user.email.as_str(), req.client, app.now())
        .await
    {
        tracing::warn!(error = %e, "could not clear failed sign-ins");
    }
    tracing::info!(sub = %user.sub, revoke_apps, apps, "password reset");
    let message = if revoke_apps {
        "Every browser was signed out, and every app lost its access. Sign in with your new password."
    } else {
        "Every browser was signed out. Sign in with your new password."
    };
    notice_page(
        app,
        "Your password is changed",
        message,
        Some((app.config.url("/login"), "Sign in")),
    )
}
