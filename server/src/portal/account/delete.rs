//! Deleting the account, confirmed with the password: the user, their metadata, consents,
//! grants and refresh tokens go in one step, the access tokens those grants minted are
//! refused from then on, and the email is free to sign up again. The browser is signed out.

use askama::Template;
use http::StatusCode;

use super::password::{Refused, confirm};
use super::{Problem, Signed, page};
use crate::app::App;
use crate::config::Branding;
use crate::http::Req;
use crate::http::response::Resp;
use crate::oauth::token::refuse_access;
use crate::portal::logout::forget_session;
use crate::portal::pages::render;
use crate::portal::unavailable_page;

#[derive(Template)]
#[template(path = "deleted.html")]
struct Deleted<'a> {
    brand: &'a Branding,
}

pub(super) async fn delete(app: &App, req: &Req, s: &Signed, password: String) -> Resp {
    match confirm(app, req, s, password).await {
        Ok(()) => {}
        Err(Refused::Field(status, e)) => {
            let problem = Problem::Deletion(e);
            return page(app, s, status, None, Some(problem)).await;
        }
        Err(Refused::Page(r)) => return r,
    }
    let now = app.now();
    let since = now - app.config.access_token_ttl;
    let grants = match app.stores.users.delete_user(&s.user.sub, since).await {
        Ok(grants) => grants,
        Err(_) => return unavailable_page(app),
    };
    tracing::info!(sub = %s.user.sub, "account deleted");
    // The account is gone either way; an access token that cannot be refused now lives
    // out its few minutes, which the log says.
    for id in &grants {
        if let Err(e) = refuse_access(app, id).await {
            tracing::error!(error = %e, grant = %id, "could not refuse a deleted account's access tokens");
        }
    }
    if let Some(id) = &s.browser.id
        && let Err(e) = app.stores.ephemeral.end_session(id).await
    {
        tracing::warn!(error = %e, "could not end the deleted account's session");
    }
    let page = Deleted {
        brand: &app.config.branding,
    };
    forget_session(app, render(StatusCode::OK, &page))
}
