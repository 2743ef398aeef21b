//! The second step of signing in (`/login/code`): a browser whose password was right and
//! whose account has a second factor enters a code from its authenticator app, or one of
//! its recovery codes, in the field `code`, or uses one of its passkeys
//! (`portal::passkey`). Only then is it signed in, by password and code (`amr` `pwd otp
//! mfa`) or password and passkey. Wrong codes are throttled like wrong passwords, on
//! counters of their own.

use http::StatusCode;

use super::landing::Landing;
use super::login::{client_name_for, finish};
use super::pages::{SecondFactor, render};
use super::session::{self, Browser};
use super::{posted_session, unavailable_page, with_cookie};
use crate::app::App;
use crate::domain::{SignInMethods, UserId};
use crate::http::Req;
use crate::http::response::{Resp, redirect, with_own_scripts};
use crate::store::NextStep;

/// The account this browser is halfway into, when its next step is its second factor.
pub fn waiting_for_code(b: &Browser) -> Option<UserId> {
    b.data
        .halfway
        .as_ref()
        .filter(|h| h.next == NextStep::Code)
        .map(|h| h.sub.clone())
}

fn to_login(app: &App) -> Resp {
    redirect(StatusCode::SEE_OTHER, &app.config.url("/login"))
}

/// Why the last attempt did not sign in, said next to the way it was made.
#[derive(Debug)]
pub enum Problem {
    None,
    Code(String),
    Passkey(String),
}

/// The page, offering the account's factors: a code field, a passkey button, or both.
pub async fn page(
    app: &App,
    b: &Browser,
    sub: &UserId,
    status: StatusCode,
    problem: Problem,
) -> Resp {
    let factors = match crate::mfa::enrolled(app, sub).await {
        Ok(f) => f,
        Err(_) => return unavailable_page(app),
    };
    let (error, passkey_error) = match problem {
        Problem::None => (None, None),
        Problem::Code(e) => (Some(e), None),
        Problem::Passkey(e) => (None, Some(e)),
    };
    let page = SecondFactor {
        brand: &app.config.branding,
        csrf_token: b.data.csrf.clone(),
        client_name: client_name_for(app, b.data.pending.as_deref()).await,
        // With neither (removed meanwhile), the code field, which will say the code is wrong.
        code: factors.code || !factors.passkey,
        passkey: factors.passkey,
        error,
        passkey_error,
    };
    with_own_scripts(render(status, &page))
}

pub async fn show(app: &App, req: &Req) -> Resp {
    match session::current(app, req).await {
        Ok(Some(b)) => match waiting_for_code(&b) {
            Some(sub) => with_cookie(page(app, &b, &sub, StatusCode::OK, Problem::None).await, &b),
            None => to_login(app),
        },
        Ok(_) => to_login(app),
        Err(_) => unavailable_page(app),
    }
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let Some(sub) = waiting_for_code(&browser) else {
        return to_login(app);
    };
    let throttle = &app.code_throttle;
    let locked = match throttle
        .locked_for(sub.as_str(), req.client, app.now())
        .await
    {
        Ok(locked) => locked,
        Err(_) => return unavailable_page(app),
    };
    if let Some(left) = locked {
        let minutes = (left + 59) / 60;
        let error = format!("Too many wrong codes. Try again in {minutes} minute(s).");
        return page(
            app,
            &browser,
            &sub,
            StatusCode::TOO_MANY_REQUESTS,
            Problem::Code(error),
        )
        .await;
    }
    let code = form.get("code").unwrap_or_default();
    let good = match crate::mfa::check_code(app, &sub, code).await {
        Ok(good) => good,
        Err(_) => return unavailable_page(app),
    };
    if !good {
        if let Err(e) = throttle.failed(sub.as_str(), req.client, app.now()).await {
            tracing::warn!(error = %e, "could not count a wrong code");
        }
        let error = "That code is not right, or was already used. Enter the current code.";
        let problem = Problem::Code(error.into());
        return page(app, &browser, &sub, StatusCode::UNAUTHORIZED, problem).await;
    }
    if let Err(e) = throttle
        .succeeded(sub.as_str(), req.client, app.now())
        .await
    {
        tracing::warn!(error = %e, "could not clear wrong codes");
    }
    tracing::info!(%sub, "signed in with a second factor");
    let pending = browser.data.pending.clone();
    finish(
        app,
        sub,
        SignInMethods::password_and_code(),
        pending,
        Some(&browser),
        Landing::after_second_step(&browser),
    )
    .await
}
