//! Where a sign-in that no app asked for lands: the home page, or the portal page that
//! sent the browser to sign in (`/login?next=/account`). Only the pages named here can be
//! asked for, so `next` never sends anyone elsewhere (no open redirect).

use super::session::Browser;
use crate::app::App;
use crate::http::Req;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Landing {
    #[default]
    Home,
    Account,
}

impl Landing {
    /// The page this request's `next` names; home for anything else.
    pub fn of(req: &Req) -> Self {
        Self::named(req.query_params().get("next"))
    }

    /// The page a `next` names; home for anything else.
    pub fn named(next: Option<&str>) -> Self {
        match next {
            Some("/account") => Self::Account,
            _ => Self::Home,
        }
    }

    /// Where a sign-in halfway through goes once its second step is done: the page its
    /// password step was asked to come back to.
    pub fn after_second_step(b: &Browser) -> Self {
        Self::named(b.data.halfway.as_ref().and_then(|h| h.landing.as_deref()))
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::Home => "/",
            Self::Account => "/account",
        }
    }

    /// The `next` a sign-in link carries to come back here, if any.
    pub fn next(self) -> Option<&'static str> {
        match self {
            Self::Home => None,
            Self::Account => Some(self.path()),
        }
    }

    /// The sign-in page, coming back here afterwards.
    pub fn login_url(self, app: &App) -> String {
        match self.next() {
            Some(next) => format!("{}?next={next}", app.config.url("/login")),
            None => app.config.url("/login"),
        }
    }

    pub fn url(self, app: &App) -> String {
        app.config.url(self.path())
    }
}
