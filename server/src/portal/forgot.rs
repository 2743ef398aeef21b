//! `/forgot`: asks for a password-reset link. The answer is the same whether or not the
//! address has an account, so the page cannot be used to find out who does. Requests are
//! limited per address (past that, no more mail, and the same page) and per client address
//! (past that, 429).

use http::StatusCode;

use super::login::fold_email;
use super::pages::{Forgot, notice_page, render};
use super::throttle::{MailLimit, allow_mail};
use super::{links, posted_session, session, unavailable_page, with_cookie};
use crate::app::App;
use crate::domain::Email;
use crate::http::Req;
use crate::http::response::Resp;
use crate::mail;
use crate::mail::messages::{ResetPassword, lifetime};
use crate::store::{LinkPurpose, StoreError};

fn form_page(
    app: &App,
    csrf_token: String,
    email: String,
    error: Option<&str>,
    status: StatusCode,
) -> Resp {
    render(
        status,
        &Forgot {
            brand: &app.config.branding,
            csrf_token,
            email,
            error: error.map(str::to_string),
        },
    )
}

pub async fn show(app: &App, req: &Req) -> Resp {
    match session::ensure(app, req).await {
        Ok(b) => with_cookie(
            form_page(
                app,
                b.data.csrf.clone(),
                String::new(),
                None,
                StatusCode::OK,
            ),
            &b,
        ),
        Err(_) => unavailable_page(app),
    }
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let typed = fold_email(form.get("email").unwrap_or_default());
    let counters = app.stores.counters.as_ref();
    match allow_mail(counters, MailLimit::ResetsFrom(req.client), app.now()).await {
        Ok(true) => {}
        Ok(false) => {
            return form_page(
                app,
                browser.data.csrf.clone(),
                typed,
                Some("Too many reset requests came from your network. Please try again later."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(_) => return unavailable_page(app),
    }
    let Ok(email) = Email::parse(&typed) else {
        return form_page(
            app,
            browser.data.csrf.clone(),
            typed,
            Some("Enter a valid email address."),
            StatusCode::BAD_REQUEST,
        );
    };
    if mail_link(app, &email).await.is_err() {
        return unavailable_page(app);
    }
    notice_page(
        app,
        "Check your mail",
        &format!(
            "If an account uses {email}, we mailed it a link to choose a new password. The link works for {}.",
            lifetime(app.config.mail.reset_link_ttl)
        ),
        Some((app.config.url("/login"), "Back to sign-in")),
    )
}

/// Mails a reset link to the account `email` names, if there is one (enabled), within the
/// address's limit.
async fn mail_link(app: &App, email: &Email) -> Result<(), StoreError> {
    let limit = MailLimit::ResetsTo(email.as_str());
    if !allow_mail(app.stores.counters.as_ref(), limit, app.now()).await? {
        return Ok(());
    }
    let Some(user) = app.stores.users.user_by_email(email).await? else {
        return Ok(());
    };
    if user.is_disabled() {
        return Ok(());
    }
    let link = links::issue(app, LinkPurpose::Reset, &user, None, None).await?;
    let message = ResetPassword {
        brand: &app.config.branding,
        link,
        lifetime: lifetime(app.config.mail.reset_link_ttl),
    };
    mail::send(app, &user.email, &message).await?;
    tracing::info!(sub = %user.sub, "password reset link mailed");
    Ok(())
}
