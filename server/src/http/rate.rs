//! Per-address limits on the endpoints anyone can call without an account: dynamic client
//! registration, sign-up (and the other forms that send mail), sign-in and the start of an
//! authorization. Each client address
//! (see `client_addr`) gets so many requests a minute per endpoint, counted in the store's
//! rate-limit counters (in Redis across instances); past that, 429 with `Retry-After`.
//! A counter that cannot be read lets the request through: the limit guards capacity, and
//! a store outage is answered where the store is needed.

use http::Method;

use super::Req;
use crate::app::App;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Register,
    Signup,
    Login,
    Authorize,
}

impl Limit {
    /// The limit `path` (already stripped of the issuer's path) counts against, if any.
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        match (method, path) {
            (&Method::POST, "/oauth/register") => Some(Self::Register),
            (&Method::POST, "/register" | "/forgot" | "/verify") => Some(Self::Signup),
            // A second factor's code, and a passkey, count as part of signing in.
            (&Method::POST, "/login" | "/login/code" | "/login/passkey") => Some(Self::Login),
            (&Method::GET, "/oauth/authorize") => Some(Self::Authorize),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Signup => "signup",
            Self::Login => "login",
            Self::Authorize => "authorize",
        }
    }

    fn per_minute(self, app: &App) -> u32 {
        let r = &app.config.rate_limits;
        match self {
            Self::Register => r.register,
            Self::Signup => r.signup,
            Self::Login => r.login,
            Self::Authorize => r.authorize,
        }
    }
}

const WINDOW: i64 = 60;

/// Counts the request; `Some(seconds to wait)` once its address is over the limit.
pub async fn over(app: &App, req: &Req, limit: Limit) -> Option<i64> {
    let allowed = limit.per_minute(app);
    if allowed == 0 {
        return None;
    }
    let key = format!("rate:{}:{}", limit.name(), req.client);
    let now = app.now();
    match app.stores.counters.hit(&key, WINDOW, now).await {
        Ok(tally) if tally.count > allowed => Some((tally.since + WINDOW - now).max(1)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not count a request against its rate limit");
            None
        }
    }
}
