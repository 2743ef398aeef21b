//! Proving the password again before a change that needs it, and changing it. Wrong
//! passwords count against sign-in's throttle for the account and address, so a browser
//! left signed in guesses no faster here than at `/login`.

use http::StatusCode;

use super::{Done, Problem, Signed, page};
use crate::app::App;
use crate::http::Req;
use crate::http::response::Resp;
use crate::portal::login::{Busy, hash_password, verify_password};
use crate::portal::register::{MAX_PASSWORD, password_rule};
use crate::portal::session;
use crate::portal::{busy_page, unavailable_page, with_cookie};

/// Why a password given to confirm a change was not taken.
pub(super) enum Refused {
    /// The page again, with this said next to the password field.
    Field(StatusCode, String),
    /// An answer of its own (busy, unavailable).
    Page(Resp),
}

/// Checks `password` against the signed-in account's, counted by the sign-in throttle.
pub(super) async fn confirm(
    app: &App,
    req: &Req,
    s: &Signed,
    password: String,
) -> Result<(), Refused> {
    let email = s.user.email.as_str();
    let throttle = &app.login_throttle;
    // Checked before the password, so a locked account costs no argon2 run.
    match throttle.locked_for(email, req.client, app.now()).await {
        Ok(None) => {}
        Ok(Some(left)) => {
            let minutes = (left + 59) / 60;
            return Err(Refused::Field(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed attempts. Try again in {minutes} minute(s)."),
            ));
        }
        Err(_) => return Err(Refused::Page(unavailable_page(app))),
    }
    let right = match password.len() {
        1..=MAX_PASSWORD => verify_password(password, Some(s.user.password_hash.clone())).await,
        _ => Ok(false),
    };
    match right {
        Ok(true) => {
            if let Err(e) = throttle.succeeded(email, req.client, app.now()).await {
                tracing::warn!(error = %e, "could not clear failed sign-ins");
            }
            Ok(())
        }
        Ok(false) => {
            if let Err(e) = throttle.failed(email, req.client, app.now()).await {
                tracing::warn!(error = %e, "could not count a failed password");
            }
            Err(Refused::Field(
                StatusCode::UNAUTHORIZED,
                "That is not your current password.".into(),
            ))
        }
        Err(Busy) => Err(Refused::Page(busy_page(app))),
    }
}

/// A new password, once the current one is proven. The browser gets a new session (a
/// fresh id and form token), as at sign-in.
pub(super) async fn change(app: &App, req: &Req, s: &Signed, current: String, new: String) -> Resp {
    if let Err(rule) = password_rule(&new) {
        let problem = Problem::NewPassword(rule.into());
        return page(app, s, StatusCode::BAD_REQUEST, None, Some(problem)).await;
    }
    match confirm(app, req, s, current).await {
        Ok(()) => {}
        Err(Refused::Field(status, e)) => {
            let problem = Problem::CurrentPassword(e);
            return page(app, s, status, None, Some(problem)).await;
        }
        Err(Refused::Page(r)) => return r,
    }
    let Some(hash) = hash_password(app.random.as_ref(), new).await else {
        return busy_page(app);
    };
    if app
        .stores
        .users
        .set_password(&s.user.sub, &hash)
        .await
        .is_err()
    {
        return unavailable_page(app);
    }
    tracing::info!(sub = %s.user.sub, "password changed");
    // The browser proved the account again; it keeps the methods it signed in with.
    let amr = s.browser.data.amr.clone();
    match session::start(app, s.user.sub.clone(), amr, None, Some(&s.browser)).await {
        Ok(b) => with_cookie(Done::Password.redirect(app), &b),
        Err(_) => unavailable_page(app),
    }
}
