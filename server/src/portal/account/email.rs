//! Changing the account's address: the new one must be proven before it takes effect.
//! The account page mails a link to the new address (after the password is proven
//! again); following it, `GET /account/email?token=`, moves the account there, marks it
//! verified, and tells the previous address. Addresses stay unique throughout.

use http::StatusCode;

use super::password::{Refused, confirm};
use super::{Done, Problem, Signed, page};
use crate::app::App;
use crate::domain::Email;
use crate::http::Req;
use crate::http::response::Resp;
use crate::mail;
use crate::mail::messages::{AddressChanged, ChangeAddress, lifetime};
use crate::portal::pages::notice_page;
use crate::portal::{error_page, links, unavailable_page};
use crate::secret::SecretHash;
use crate::store::{LinkPurpose, StoreError};

/// The account page's request: mails the link that proves `new`.
pub(super) async fn request(
    app: &App,
    req: &Req,
    s: &Signed,
    new: String,
    password: String,
) -> Resp {
    let refuse = |e: &str| Problem::NewEmail(e.to_string());
    let new = match Email::parse(&new) {
        Ok(e) if e == s.user.email => Err(refuse("That is already your address.")),
        Ok(e) => Ok(e),
        Err(_) => Err(refuse("Enter an email address, like name@example.com.")),
    };
    let new = match new {
        Ok(new) => new,
        Err(problem) => return page(app, s, StatusCode::BAD_REQUEST, None, Some(problem)).await,
    };
    match confirm(app, req, s, password).await {
        Ok(()) => {}
        Err(Refused::Field(status, e)) => {
            return page(app, s, status, None, Some(Problem::EmailPassword(e))).await;
        }
        Err(Refused::Page(r)) => return r,
    }
    // The signed-in owner, who just proved the password, may learn that an address is
    // taken; the link would fail on it anyway.
    match app.stores.users.user_by_email(&new).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            let problem = refuse("That address belongs to another account.");
            return page(app, s, StatusCode::CONFLICT, None, Some(problem)).await;
        }
        Err(_) => return unavailable_page(app),
    }
    let sent = async {
        let link = links::issue_change(app, &s.user, &new).await?;
        let message = ChangeAddress {
            brand: &app.config.branding,
            link,
            lifetime: lifetime(app.config.mail.verify_link_ttl),
        };
        mail::send(app, &new, &message).await
    };
    match sent.await {
        Ok(()) => Done::EmailSent.redirect(app),
        Err(_) => unavailable_page(app),
    }
}

/// `GET /account/email?token=`: the link from the new address's mailbox.
pub async fn confirm_link(app: &App, req: &Req) -> Resp {
    let void = || {
        error_page(
            app,
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "It was used already, has expired, or the account's address changed since. Ask for a new one on your account page.",
        )
    };
    let Some(token) = links::token(req) else {
        return void();
    };
    let hash = SecretHash::of(&token);
    let link = match app
        .stores
        .ephemeral
        .take_link(LinkPurpose::ChangeEmail, &hash, app.now())
        .await
    {
        Ok(Some(link)) => link,
        Ok(None) => return void(),
        Err(_) => return unavailable_page(app),
    };
    let user = match links::holder(app, &link).await {
        Ok(Some(user)) => user,
        Ok(None) => return void(),
        Err(_) => return unavailable_page(app),
    };
    match app.stores.users.change_email(&user.sub, &link.email).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return error_page(
                app,
                StatusCode::CONFLICT,
                "That address is taken",
                "Another account has this address now, so yours keeps its current one.",
            );
        }
        Err(StoreError::NotFound) => return void(),
        Err(_) => return unavailable_page(app),
    }
    tracing::info!(sub = %user.sub, "email address changed");
    let notice = AddressChanged {
        brand: &app.config.branding,
        new_address: link.email.to_string(),
    };
    if let Err(e) = mail::send(app, &user.email, &notice).await {
        tracing::warn!(error = %e, "could not tell the previous address of its change");
    }
    notice_page(
        app,
        "Your address is changed",
        &format!("Your account now uses {}, and it is verified.", link.email),
        Some((app.config.url("/account"), "Your account")),
    )
}
