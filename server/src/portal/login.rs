//! Sign-in. Passwords are checked with argon2id off the async threads; an unknown email
//! costs the same as a wrong password, so timing does not reveal who has an account.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use http::StatusCode;

use super::landing::Landing;
use super::pages::{Login, render};
use super::session::{self, Browser};
use super::{busy_page, request_id, unavailable_page, with_cookie};
use crate::app::App;
use crate::clock::Random;
use crate::domain::{Email, SignInMethods, UserId};
use crate::http::Req;
use crate::http::response::{Resp, redirect, with_own_scripts};
use crate::oauth::authorize::{Rejected, continue_signed_in};
use crate::oauth::client::find_client;
use crate::portal::{error_page, posted_session};
use crate::store::{Halfway, NextStep, User};

/// OWASP's argon2id recommendation: 19 MiB, two passes, one lane.
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Runs argon2 on a few dedicated threads, behind a bounded queue. Each run holds 19 MiB;
/// on the shared blocking pool a burst of sign-ins would land on many threads, and glibc
/// keeps a heap per thread, so the process would keep hundreds of MiB. One thread per core
/// bounds the CPU and the memory a burst can take, and the bounded queue the wait: past it
/// a request is turned away at once (`Busy`) rather than queued for ever.
async fn on_hashing_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Busy> {
    type Job = Box<dyn FnOnce() + Send>;
    static POOL: OnceLock<std::sync::mpsc::SyncSender<Job>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(threads * QUEUED_PER_THREAD);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let next = rx.lock().map(|r| r.recv());
                        match next {
                            Ok(Ok(job)) => job(),
                            _ => break,
                        }
                    }
                });
        }
        tx
    });
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(job());
    });
    pool.try_send(job).map_err(|_| Busy)?;
    result.await.map_err(|_| Busy)
}

/// Runs waiting per hashing thread: with a run at tens of milliseconds, about a second's
/// worth of work.
const QUEUED_PER_THREAD: usize = 16;

/// Too many passwords are being checked at once; the caller answers 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked; try again shortly")]
pub struct Busy;

/// The salt comes from the injected `random`, like every other secret Lanyard draws.
pub async fn hash_password(random: &dyn Random, password: String) -> Option<String> {
    let mut salt = [0u8; 16];
    random.fill(&mut salt);
    on_hashing_thread(move || {
        argon2()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .ok()
            .map(|h| h.to_string())
    })
    .await
    .ok()
    .flatten()
}

/// A real hash of nothing, verified against when the email is unknown.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        argon2()
            .hash_password_with_salt(b"decoy", b"lanyard-decoy-salt")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, Busy> {
    on_hashing_thread(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| decoy_hash().to_string());
        let ok = argon2()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        ok && known
    })
    .await
}

/// Emails are unique after case-folding (and trimming).
pub fn fold_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The client a pending request belongs to, for "to continue to …".
pub async fn client_name_for(app: &App, request: Option<&str>) -> Option<String> {
    let auth = app
        .stores
        .ephemeral
        .request(request?, app.now())
        .await
        .ok()??;
    find_client(app, &auth.client_id)
        .await
        .ok()
        .map(|c| c.display_name())
}

pub async fn show(app: &App, req: &Req) -> Resp {
    let mut browser = match session::ensure(app, req).await {
        Ok(b) => b,
        Err(_) => return unavailable_page(app),
    };
    let request = request_id(req, Some(&browser));
    if let Some(id) = &request
        && browser.data.pending.as_deref() != Some(id.as_str())
    {
        browser.data.pending = Some(id.clone());
        if session::save(app, &mut browser).await.is_err() {
            return unavailable_page(app);
        }
    }
    let page = Login {
        brand: &app.config.branding,
        csrf_token: browser.data.csrf.clone(),
        client_name: client_name_for(app, request.as_deref()).await,
        request,
        next: Landing::of(req).next(),
        email: String::new(),
        error: None,
        passkey: app.webauthn.is_some(),
        passkey_error: None,
    };
    with_cookie(with_own_scripts(render(StatusCode::OK, &page)), &browser)
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let request = request_id(req, Some(&browser));
    let email = fold_email(form.get("email").unwrap_or_default());
    let password = form.get("password").unwrap_or_default().to_string();
    let refuse = |status: StatusCode, error: String| {
        let (request, email, csrf_token) =
            (request.clone(), email.clone(), browser.data.csrf.clone());
        async move {
            let client_name = client_name_for(app, request.as_deref()).await;
            let page = Login {
                brand: &app.config.branding,
                csrf_token,
                client_name,
                request,
                next: Landing::of(req).next(),
                email,
                error: Some(error),
                passkey: app.webauthn.is_some(),
                passkey_error: None,
            };
            with_own_scripts(render(status, &page))
        }
    };
    // Checked before the password, so a locked account costs no argon2 run.
    let locked = match app
        .login_throttle
        .locked_for(&email, req.client, app.now())
        .await
    {
        Ok(locked) => locked,
        Err(_) => return unavailable_page(app),
    };
    if let Some(left) = locked {
        let minutes = (left + 59) / 60;
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed attempts. Try again in {minutes} minute(s)."),
        )
        .await;
    }
    let user = match check_password(app, &email, password).await {
        Ok(user) => user,
        Err(page) => return page,
    };
    let Some(user) = user else {
        if let Err(e) = app
            .login_throttle
            .failed(&email, req.client, app.now())
            .await
        {
            tracing::warn!(error = %e, "could not count a failed sign-in");
        }
        return refuse(
            StatusCode::UNAUTHORIZED,
            "That email and password do not match an account.".into(),
        )
        .await;
    };
    if user.is_disabled() {
        return refuse(
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask the operator of this service.".into(),
        )
        .await;
    }
    if let Err(e) = app
        .login_throttle
        .succeeded(&email, req.client, app.now())
        .await
    {
        tracing::warn!(error = %e, "could not clear failed sign-ins");
    }
    if app.config.mail.require_verified_email && !user.email_verified {
        return super::verify::confirm_first(app, &user, &browser, request).await;
    }
    tracing::info!(sub = %user.sub, "signed in");
    signed_in(app, user.sub, request, Some(&browser), Landing::of(req)).await
}

/// The sign-in page again, after a passkey that did not sign in.
pub async fn passkey_refused(
    app: &App,
    req: &Req,
    browser: &Browser,
    status: StatusCode,
    error: String,
) -> Resp {
    let request = request_id(req, Some(browser));
    let page = Login {
        brand: &app.config.branding,
        csrf_token: browser.data.csrf.clone(),
        client_name: client_name_for(app, request.as_deref()).await,
        request,
        next: Landing::of(req).next(),
        email: String::new(),
        error: None,
        passkey: app.webauthn.is_some(),
        passkey_error: Some(error),
    };
    with_own_scripts(render(status, &page))
}

/// The account `email` names, if `password` is its password. Unknown emails cost an
/// argon2 run all the same, so timing tells nothing.
async fn check_password(app: &App, email: &str, password: String) -> Result<Option<User>, Resp> {
    let user = match Email::parse(email) {
        Ok(email) => app.stores.users.user_by_email(&email).await,
        Err(_) => Ok(None),
    };
    let user = user.map_err(|_| unavailable_page(app))?;
    if password.is_empty() || password.len() > 1024 {
        return Ok(None);
    }
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    match verify_password(password, hash).await {
        Ok(true) => Ok(user),
        Ok(false) => Ok(None),
        Err(Busy) => Err(busy_page(app)),
    }
}

/// After the password (sign-in or sign-up): on to the second step the account needs (its
/// code, or the enrolment `LANYARD_MFA=required` asks for), or signed in. Nothing signs the
/// browser in before that step is done.
pub async fn signed_in(
    app: &App,
    sub: UserId,
    request: Option<String>,
    old: Option<&Browser>,
    landing: Landing,
) -> Resp {
    let next = match crate::mfa::after_password(app, &sub).await {
        Ok(next) => next,
        Err(_) => return unavailable_page(app),
    };
    let Some(next) = next else {
        return finish(app, sub, SignInMethods::password(), request, old, landing).await;
    };
    let page = match next {
        NextStep::Code => "/login/code",
        NextStep::Enrol => "/account/totp",
    };
    let halfway = Halfway {
        sub,
        next,
        landing: landing.next().map(str::to_string),
    };
    match session::start_halfway(app, halfway, request, old).await {
        Ok(b) => with_cookie(redirect(StatusCode::SEE_OTHER, &app.config.url(page)), &b),
        Err(_) => unavailable_page(app),
    }
}

/// Signs the browser in as `sub` by `amr`, in a new session, then goes on.
pub async fn finish(
    app: &App,
    sub: UserId,
    amr: SignInMethods,
    request: Option<String>,
    old: Option<&Browser>,
    landing: Landing,
) -> Resp {
    let browser = match session::start(app, sub, amr, request.clone(), old).await {
        Ok(b) => b,
        Err(_) => return unavailable_page(app),
    };
    with_cookie(resume(app, &browser, request, landing).await, &browser)
}

/// On with the authorization request a signed-in browser is in the middle of, or to
/// `landing`.
pub async fn resume(
    app: &App,
    browser: &Browser,
    request: Option<String>,
    landing: Landing,
) -> Resp {
    let Some(user) = browser.signed_in() else {
        return redirect(StatusCode::SEE_OTHER, &landing.login_url(app));
    };
    let Some(id) = request else {
        return redirect(StatusCode::SEE_OTHER, &landing.url(app));
    };
    match app.stores.ephemeral.request(&id, app.now()).await {
        Ok(Some(auth)) => {
            match continue_signed_in(app, &id, &auth, &user, StatusCode::SEE_OTHER).await {
                Ok(r) => r,
                Err(Rejected::Redirect(r)) => *r,
                Err(Rejected::Page(t, m)) => error_page(app, StatusCode::BAD_REQUEST, &t, &m),
                Err(Rejected::Unavailable) => unavailable_page(app),
            }
        }
        Ok(None) => error_page(
            app,
            StatusCode::BAD_REQUEST,
            "This sign-in link expired",
            "You are signed in, but the app's request timed out. Go back to the app and connect again.",
        ),
        Err(_) => unavailable_page(app),
    }
}
