//! Sign-up: one account per email across every app (emails unique after case-folding).
//! Every new account is mailed a link that verifies its address (see `verify`); where
//! mail goes over SMTP, the page is the same whether or not the address had an account,
//! and its holder is told by mail instead.

use http::StatusCode;

use super::landing::Landing;
use super::login::{client_name_for, fold_email, hash_password, signed_in};
use super::pages::{Register, render};
use super::verify::{check_mail_page, hides_accounts, send_link, signs_up_by_mail, tell_holder};
use super::{posted_session, request_id, session, unavailable_page, with_cookie};
use crate::app::App;
use crate::clock::{Random, UnixTime};
use crate::domain::{Email, UserId};
use crate::http::Req;
use crate::http::response::Resp;
use crate::store::{StoreError, User, UserStore};

pub const MIN_PASSWORD: usize = 8;
/// Argon2 cost grows with input; a cap keeps a huge password from being a DoS.
pub const MAX_PASSWORD: usize = 1024;

/// Why an email/password pair cannot make an account.
pub fn check(email: &str, password: &str) -> Result<(), &'static str> {
    let (local, domain) = email
        .rsplit_once('@')
        .ok_or("Enter a valid email address.")?;
    if local.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || email.len() > 254
        || email.chars().any(char::is_whitespace)
    {
        return Err("Enter a valid email address.");
    }
    password_rule(password)
}

/// Why a password cannot be an account's (at sign-up, or as a new password).
pub fn password_rule(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD {
        return Err("Choose a password of at least 8 characters.");
    }
    if password.len() > MAX_PASSWORD {
        return Err("That password is too long.");
    }
    Ok(())
}

/// Creates a user; `Conflict` when the email is taken. `email_verified` is true only when
/// an operator vouches for the address.
pub async fn create_user(
    users: &dyn UserStore,
    random: &dyn Random,
    now: UnixTime,
    email: &Email,
    password: &str,
    email_verified: bool,
) -> Result<User, StoreError> {
    let hash = hash_password(random, password.to_string())
        .await
        .ok_or_else(|| StoreError::Unavailable("password hashing failed".into()))?;
    let user = User {
        sub: UserId::generate(random),
        email: email.clone(),
        password_hash: hash,
        metadata: "{}".into(),
        email_verified,
        disabled_at: None,
        session_epoch: 0,
        created_at: now,
    };
    users.create_user(&user).await?;
    Ok(user)
}

pub async fn show(app: &App, req: &Req) -> Resp {
    let browser = match session::ensure(app, req).await {
        Ok(b) => b,
        Err(_) => return unavailable_page(app),
    };
    let request = request_id(req, Some(&browser));
    let page = Register {
        brand: &app.config.branding,
        csrf_token: browser.data.csrf.clone(),
        client_name: client_name_for(app, request.as_deref()).await,
        request,
        email: String::new(),
        error: None,
    };
    with_cookie(render(StatusCode::OK, &page), &browser)
}

pub async fn submit(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let browser = match posted_session(app, req, &form).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    let request = request_id(req, Some(&browser));
    let email = fold_email(form.get("email").unwrap_or_default());
    let password = form.get("password").unwrap_or_default();
    let refuse = |status: StatusCode, msg: &str| {
        let request = request.clone();
        let email = email.clone();
        let csrf = browser.data.csrf.clone();
        let msg = msg.to_string();
        async move {
            let page = Register {
                brand: &app.config.branding,
                csrf_token: csrf,
                client_name: client_name_for(app, request.as_deref()).await,
                request,
                email,
                error: Some(msg),
            };
            render(status, &page)
        }
    };
    let checked = check(&email, password)
        .and_then(|()| Email::parse(&email).map_err(|_| "Enter a valid email address."));
    let key = match checked {
        Ok(key) => key,
        Err(msg) => return refuse(StatusCode::BAD_REQUEST, msg).await,
    };
    let check_mail = |request| {
        check_mail_page(
            app,
            StatusCode::OK,
            &browser,
            key.as_str(),
            request,
            None,
            None,
        )
    };
    match create_user(
        app.stores.users.as_ref(),
        app.random.as_ref(),
        app.now(),
        &key,
        password,
        false,
    )
    .await
    {
        Ok(user) => {
            tracing::info!(sub = %user.sub, "account created");
            // Past the address's hourly limit the account stands; "Send again" says so.
            if send_link(app, &user, &browser, request.clone())
                .await
                .is_err()
            {
                return unavailable_page(app);
            }
            if signs_up_by_mail(app) {
                return check_mail(request);
            }
            signed_in(app, user.sub, request, Some(&browser), Landing::Home).await
        }
        Err(StoreError::Conflict) if hides_accounts(app) => {
            if tell_holder(app, &key).await.is_err() {
                return unavailable_page(app);
            }
            check_mail(request)
        }
        Err(StoreError::Conflict) => {
            refuse(
                StatusCode::CONFLICT,
                "An account with this email already exists. Sign in instead.",
            )
            .await
        }
        Err(_) => unavailable_page(app),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn account_rules() {
        assert!(check("a@example.com", "longenough").is_ok());
        assert!(check("a@example", "longenough").is_err());
        assert!(check("example.com", "longenough").is_err());
        assert!(check("a@example.com", "short").is_err());
        assert!(check("a b@example.com", "longenough").is_err());
    }
}
