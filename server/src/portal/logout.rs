//! Sign-out: POST with the CSRF token ends the session; GET only asks.

use http::{HeaderValue, StatusCode, header};

use super::pages::{Logout, render};
use super::{posted_session, session, unavailable_page, with_cookie};
use crate::app::App;
use crate::http::Req;
use crate::http::cookies;
use crate::http::response::{Resp, redirect};

pub async fn show(app: &App, req: &Req) -> Resp {
    match session::ensure(app, req).await {
        Ok(b) => with_cookie(
            render(
                StatusCode::OK,
                &Logout {
                    brand: &app.config.branding,
                    csrf_token: b.data.csrf.clone(),
                },
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
    if let Some(id) = &browser.id
        && app.stores.ephemeral.end_session(id).await.is_err()
    {
        return unavailable_page(app);
    }
    forget_session(
        app,
        redirect(StatusCode::SEE_OTHER, &app.config.url("/login")),
    )
}

/// `resp`, telling the browser to drop its session cookie.
pub fn forget_session(app: &App, mut resp: Resp) -> Resp {
    if let Ok(v) = HeaderValue::from_str(&cookies::clear_session(app.config.is_https())) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
