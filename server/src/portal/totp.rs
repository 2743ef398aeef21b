//! TOTP enrolment (`/account/totp`): GET shows where the account's second factor stands
//! (a QR code and its `otpauth://` URI to scan, or that it is on); POST `action=confirm`
//! turns it on with a first code and shows the ten recovery codes once, `action=disable`
//! turns it off with a current code, `action=continue` goes on with the authorization the
//! browser is in the middle of.
//!
//! A signed-in user comes here from their account. A browser whose account must enrol
//! (`LANYARD_MFA=required`) comes here straight after its password, not yet signed in: its
//! first code signs it in, by password and code.

use http::StatusCode;

use super::landing::Landing;
use super::login::resume;
use super::pages::{Totp, TotpState, render};
use super::session::{self, Browser};
use super::{posted_session, unavailable_page, with_cookie};
use crate::app::App;
use crate::config::MfaMode;
use crate::domain::{Email, SignInMethods, UserId};
use crate::http::Req;
use crate::http::response::{Resp, redirect};
use crate::mfa::{self, FactorError, Status};
use crate::store::NextStep;

/// Whose factor this page is about.
enum Who {
    SignedIn(UserId),
    /// Halfway through signing in; must enrol before going on.
    MustEnrol(UserId),
}

impl Who {
    fn of(b: &Browser) -> Option<Self> {
        if let Some(user) = b.signed_in() {
            return Some(Self::SignedIn(user.sub));
        }
        let halfway = b.data.halfway.as_ref()?;
        (halfway.next == NextStep::Enrol).then(|| Self::MustEnrol(halfway.sub.clone()))
    }

    fn sub(&self) -> &UserId {
        match self {
            Self::SignedIn(sub) | Self::MustEnrol(sub) => sub,
        }
    }
}

fn to_login(app: &App) -> Resp {
    redirect(StatusCode::SEE_OTHER, &app.config.url("/login"))
}

/// The page for the account's current state, with `error` by the code field.
async fn page(
    app: &App,
    b: &Browser,
    who: &Who,
    status: StatusCode,
    error: Option<String>,
) -> Resp {
    let email = match app.stores.users.user_by_sub(who.sub()).await {
        Ok(Some(u)) => u.email,
        Ok(None) => return to_login(app),
        Err(_) => return unavailable_page(app),
    };
    let state = match mfa::status(app, who.sub(), &email).await {
        Ok(Status::On {
            recovery_codes_left,
        }) => TotpState::On {
            recovery_codes_left,
        },
        Ok(Status::Enrolling(e)) => TotpState::Enrolling {
            qr_svg: mfa::totp::qr_svg(&e.uri).unwrap_or_default(),
            uri: e.uri,
            secret: e.secret,
        },
        Err(FactorError::NoKey) => TotpState::Unavailable,
        Err(FactorError::Store(_)) => return unavailable_page(app),
    };
    shown(app, b, &email, state, status, error)
}

fn shown(
    app: &App,
    b: &Browser,
    email: &Email,
    state: TotpState,
    status: StatusCode,
    error: Option<String>,
) -> Resp {
    let page = Totp {
        brand: &app.config.branding,
        csrf_token: b.data.csrf.clone(),
        email: email.to_string(),
        required: app.config.mfa == MfaMode::Required,
        state,
        error,
    };
    with_cookie(render(status, &page), b)
}

pub async fn show(app: &App, req: &Req) -> Resp {
    let browser = match session::current(app, req).await {
        Ok(Some(b)) => b,
        Ok(None) => return to_login(app),
        Err(_) => return unavailable_page(app),
    };
    let Some(who) = Who::of(&browser) else {
        return to_login(app);
    };
    page(app, &browser, &who, StatusCode::OK, None).await
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let Some(who) = Who::of(&browser) else {
        return to_login(app);
    };
    let code = form.get("code").unwrap_or_default();
    match (form.get("action"), &who) {
        (Some("confirm"), _) => confirm(app, &browser, &who, code).await,
        (Some("disable"), Who::SignedIn(sub)) => disable(app, req, &browser, &who, sub, code).await,
        (Some("continue"), Who::SignedIn(_)) => {
            resume(
                app,
                &browser,
                browser.data.pending.clone(),
                Landing::Account,
            )
            .await
        }
        _ => page(app, &browser, &who, StatusCode::BAD_REQUEST, None).await,
    }
}

async fn confirm(app: &App, browser: &Browser, who: &Who, code: &str) -> Resp {
    let codes = match mfa::confirm(app, who.sub(), code).await {
        Ok(Some(codes)) => codes,
        Ok(None) => {
            let error = "That code is not right. Enter the code the app shows now.";
            return page(
                app,
                browser,
                who,
                StatusCode::BAD_REQUEST,
                Some(error.into()),
            )
            .await;
        }
        Err(FactorError::NoKey) => return page(app, browser, who, StatusCode::OK, None).await,
        Err(FactorError::Store(_)) => return unavailable_page(app),
    };
    let email = match app.stores.users.user_by_sub(who.sub()).await {
        Ok(Some(u)) => u.email,
        Ok(None) => return to_login(app),
        Err(_) => return unavailable_page(app),
    };
    tracing::info!(sub = %who.sub(), "second factor turned on");
    let state = TotpState::Confirmed {
        recovery_codes: codes,
    };
    match who {
        Who::SignedIn(_) => shown(app, browser, &email, state, StatusCode::OK, None),
        // Password and now a code: signed in, in a new session.
        Who::MustEnrol(sub) => {
            let amr = SignInMethods::password_and_code();
            let pending = browser.data.pending.clone();
            match session::start(app, sub.clone(), amr, pending, Some(browser)).await {
                Ok(signed_in) => shown(app, &signed_in, &email, state, StatusCode::OK, None),
                Err(_) => unavailable_page(app),
            }
        }
    }
}

/// Turning the factor off takes a current code (throttled like sign-in codes), so that a
/// session left open is not enough to weaken the account; under `LANYARD_MFA=required` it
/// cannot be turned off here.
async fn disable(
    app: &App,
    req: &Req,
    browser: &Browser,
    who: &Who,
    sub: &UserId,
    code: &str,
) -> Resp {
    if app.config.mfa == MfaMode::Required {
        return page(app, browser, who, StatusCode::FORBIDDEN, None).await;
    }
    let throttle = &app.code_throttle;
    match throttle
        .locked_for(sub.as_str(), req.client, app.now())
        .await
    {
        Ok(None) => {}
        Ok(Some(_)) => {
            let error = "Too many wrong codes. Try again later.";
            return page(
                app,
                browser,
                who,
                StatusCode::TOO_MANY_REQUESTS,
                Some(error.into()),
            )
            .await;
        }
        Err(_) => return unavailable_page(app),
    }
    match mfa::check_code(app, sub, code).await {
        Ok(true) => {}
        Ok(false) => {
            if let Err(e) = throttle.failed(sub.as_str(), req.client, app.now()).await {
                tracing::warn!(error = %e, "could not count a wrong code");
            }
            let error = "That code is not right, or was already used.";
            return page(
                app,
                browser,
                who,
                StatusCode::UNAUTHORIZED,
                Some(error.into()),
            )
            .await;
        }
        Err(_) => return unavailable_page(app),
    }
    if app.stores.factors.remove_totp(sub).await.is_err() {
        return unavailable_page(app);
    }
    tracing::info!(%sub, "second factor turned off");
    redirect(StatusCode::SEE_OTHER, &app.config.url("/account/totp"))
}
