//! Verified addresses. Sign-up mails a link to `/verify`; following it marks the address
//! verified (tokens then say `email_verified: true`, and policies see it), and in the
//! browser that signed up it also signs in and resumes the authorization that browser was
//! in the middle of. "Send again" (`POST /verify`) mails a new link, a few an hour.
//!
//! Where the operator requires verified addresses, or where mail goes over SMTP (so that
//! sign-up must not tell who has an account), a new account waits on the "check your
//! mail" page instead of being signed in.

use http::StatusCode;

use super::landing::Landing;
use super::login::{fold_email, signed_in};
use super::pages::{CheckMail, notice_page, render};
use super::session::{self, Browser};
use super::throttle::{MailLimit, allow_mail};
use super::{error_page, links, posted_session, request_id, unavailable_page, with_cookie};
use crate::app::App;
use crate::domain::Email;
use crate::http::Req;
use crate::http::response::Resp;
use crate::mail;
use crate::mail::messages::{SignupAttempt, VerifyAddress, lifetime};
use crate::secret::SecretHash;
use crate::store::{LinkPurpose, StoreError, User};

/// Whether sign-up keeps quiet about which addresses have accounts: when mail really
/// reaches people, the mail says it instead of the page.
pub fn hides_accounts(app: &App) -> bool {
    app.config.mail.smtp.is_some()
}

/// Whether a new account waits for its address to be confirmed before it is signed in.
pub fn signs_up_by_mail(app: &App) -> bool {
    hides_accounts(app) || app.config.mail.require_verified_email
}

/// What became of a request for mail.
#[derive(Debug)]
pub enum Mailed {
    /// Queued, or nothing was due (the address is verified, or has no account): the same
    /// to the visitor.
    Done,
    /// Over the address's hourly limit.
    Limited,
}

/// Mails `user` a verification link bound to `browser` (and its pending `request`),
/// within the address's hourly limit.
pub async fn send_link(
    app: &App,
    user: &User,
    browser: &Browser,
    request: Option<String>,
) -> Result<Mailed, StoreError> {
    let to = user.email.as_str();
    if !allow_mail(
        app.stores.counters.as_ref(),
        MailLimit::ToAddress(to),
        app.now(),
    )
    .await?
    {
        return Ok(Mailed::Limited);
    }
    let link = links::issue(app, LinkPurpose::Verify, user, Some(browser), request).await?;
    let message = VerifyAddress {
        brand: &app.config.branding,
        link,
        lifetime: lifetime(app.config.mail.verify_link_ttl),
    };
    mail::send(app, &user.email, &message).await?;
    Ok(Mailed::Done)
}

/// Tells the holder of `email` that someone tried to sign up with it.
pub async fn tell_holder(app: &App, email: &Email) -> Result<Mailed, StoreError> {
    let limit = MailLimit::ToAddress(email.as_str());
    if !allow_mail(app.stores.counters.as_ref(), limit, app.now()).await? {
        return Ok(Mailed::Limited);
    }
    let message = SignupAttempt {
        brand: &app.config.branding,
        login: app.config.url("/login"),
        forgot: app.config.url("/forgot"),
    };
    mail::send(app, email, &message).await?;
    Ok(Mailed::Done)
}

/// The "check your mail" page, with "Send again".
pub fn check_mail_page(
    app: &App,
    status: StatusCode,
    browser: &Browser,
    email: &str,
    request: Option<String>,
    notice: Option<&str>,
    error: Option<&str>,
) -> Resp {
    let page = CheckMail {
        brand: &app.config.branding,
        csrf_token: browser.data.csrf.clone(),
        email: email.to_string(),
        request,
        notice: notice.map(str::to_string),
        error: error.map(str::to_string),
    };
    with_cookie(render(status, &page), browser)
}

/// The "check your mail" page after a request for a link: `sent` when one went (or, for
/// an address with nothing to confirm, would have), the limit's message past it.
fn answer(
    app: &App,
    mailed: Result<Mailed, StoreError>,
    browser: &Browser,
    email: &str,
    request: Option<String>,
    sent: &str,
) -> Resp {
    match mailed {
        Ok(Mailed::Done) => check_mail_page(
            app,
            StatusCode::OK,
            browser,
            email,
            request,
            Some(sent),
            None,
        ),
        Ok(Mailed::Limited) => check_mail_page(
            app,
            StatusCode::TOO_MANY_REQUESTS,
            browser,
            email,
            request,
            None,
            Some(
                "We sent several mails to this address in the last hour. Please wait a while before asking again.",
            ),
        ),
        Err(_) => unavailable_page(app),
    }
}

/// A sign-in by an account that must confirm its address first: a new link for this
/// browser, and the page that says so.
pub async fn confirm_first(
    app: &App,
    user: &User,
    browser: &Browser,
    request: Option<String>,
) -> Resp {
    let mailed = send_link(app, user, browser, request.clone()).await;
    let sent = "Confirm your address to go on: we mailed you a new link.";
    answer(app, mailed, browser, user.email.as_str(), request, sent)
}

/// `POST /verify`: "Send again". The same answer whether or not the address has an
/// account waiting for its link.
pub async fn resend(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let request = request_id(req, Some(&browser));
    let typed = fold_email(form.get("email").unwrap_or_default());
    let Ok(email) = Email::parse(&typed) else {
        return error_page(
            app,
            StatusCode::BAD_REQUEST,
            "No address",
            "The form did not say where to send the mail. Start again from the sign-up page.",
        );
    };
    let counters = app.stores.counters.as_ref();
    let mailed = match app.stores.users.user_by_email(&email).await {
        Ok(Some(user)) if !user.email_verified && !user.is_disabled() => {
            send_link(app, &user, &browser, request.clone()).await
        }
        // Nothing to send, counted all the same: the limit says nothing about accounts.
        Ok(_) => allow_mail(counters, MailLimit::ToAddress(email.as_str()), app.now())
            .await
            .map(|ok| if ok { Mailed::Done } else { Mailed::Limited }),
        Err(e) => Err(e),
    };
    let sent = "We sent another mail.";
    answer(app, mailed, &browser, email.as_str(), request, sent)
}

fn link_void(app: &App) -> Resp {
    error_page(
        app,
        StatusCode::BAD_REQUEST,
        "This link no longer works",
        "It was used already, or it expired. Sign in and ask for a new one.",
    )
}

/// `GET /verify?token=…`: marks the address verified; in the browser that asked for the
/// link, signs in and goes on to the app.
pub async fn show(app: &App, req: &Req) -> Resp {
    let Some(token) = links::token(req) else {
        return link_void(app);
    };
    let taken = app
        .stores
        .ephemeral
        .take_link(LinkPurpose::Verify, &SecretHash::of(&token), app.now())
        .await;
    let link = match taken {
        Ok(Some(link)) => link,
        Ok(None) => return link_void(app),
        Err(_) => return unavailable_page(app),
    };
    let user = match links::holder(app, &link).await {
        Ok(Some(user)) => user,
        Ok(None) => return link_void(app),
        Err(_) => return unavailable_page(app),
    };
    if app
        .stores
        .users
        .set_email_verified(&user.sub)
        .await
        .is_err()
    {
        return unavailable_page(app);
    }
    tracing::info!(sub = %user.sub, "email verified");
    let browser = match session::current(app, req).await {
        Ok(b) => b.or_else(|| session::anonymous_from_cookie(app, req)),
        Err(_) => return unavailable_page(app),
    };
    let signed_in_here = browser
        .as_ref()
        .and_then(|b| b.signed_in())
        .is_some_and(|signed| signed.sub == user.sub);
    match browser {
        Some(b) if links::asked_by(&link, &b) && !user.is_disabled() && !signed_in_here => {
            signed_in(app, user.sub, link.request, Some(&b), Landing::Home).await
        }
        _ if signed_in_here => notice_page(
            app,
            "Your address is confirmed",
            "Thank you. Apps you connect from now on see a verified address.",
            Some((app.config.url("/"), "Continue")),
        ),
        _ => notice_page(
            app,
            "Your address is confirmed",
            "Thank you. Sign in to go on.",
            Some((app.config.url("/login"), "Sign in")),
        ),
    }
}
