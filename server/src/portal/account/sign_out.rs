//! "Sign out everywhere": every browser session of the account ends at once, on every
//! instance (a new session epoch), this browser's too, which goes to the sign-in page.

use http::StatusCode;

use super::Signed;
use crate::app::App;
use crate::http::response::{Resp, redirect};
use crate::portal::logout::forget_session;
use crate::portal::{session, unavailable_page};

pub(super) async fn everywhere(app: &App, s: &Signed) -> Resp {
    if session::end_everywhere(app, &s.user.sub).await.is_err() {
        return unavailable_page(app);
    }
    // The epoch already ends it; removing the record spares the store a dead one.
    if let Some(id) = &s.browser.id
        && let Err(e) = app.stores.ephemeral.end_session(id).await
    {
        tracing::warn!(error = %e, "could not remove an ended session");
    }
    tracing::info!(sub = %s.user.sub, "signed out everywhere");
    forget_session(
        app,
        redirect(StatusCode::SEE_OTHER, &app.config.url("/login")),
    )
}
