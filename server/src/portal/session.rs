//! Browser sessions. A signed-in browser holds an opaque cookie naming a server-side record
//! (stored by hash), made at sign-in. A browser that is not signed in keeps nothing on the
//! server: its form token (double-submitted: cookie and hidden field must match) and the
//! authorization request it is on live in a cookie of its own, so anonymous page views
//! cannot fill the store.

use crate::app::App;
use crate::domain::UserId;
use crate::http::Req;
use crate::http::cookies;
use crate::secret::{SecretHash, constant_time_eq};
use crate::store::{Session, StoreError};

/// A session as this request sees it.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The server-side record's id; `None` for a browser that is not signed in.
    pub id: Option<SecretHash>,
    pub data: Session,
    /// A `Set-Cookie` value, when the session is new to this browser.
    pub set_cookie: Option<String>,
}

impl Browser {
    pub fn signed_in(&self) -> Option<(&UserId, i64)> {
        Some((self.data.sub.as_ref()?, self.data.auth_time?))
    }

    /// Whether the posted `csrf_token` is this session's (constant time).
    pub fn csrf_ok(&self, posted: Option<&str>) -> bool {
        posted.is_some_and(|p| constant_time_eq(p.as_bytes(), self.data.csrf.as_bytes()))
    }
}

/// The signed-in session, if the browser has a live one.
pub async fn current(app: &App, req: &Req) -> Result<Option<Browser>, StoreError> {
    let Some(raw) = req
        .cookie(cookies::session_name(app.config.is_https()))
        .filter(|c| !c.is_empty() && c.len() < 100)
    else {
        return Ok(None);
    };
    let id = SecretHash::of(raw);
    Ok(app
        .stores
        .ephemeral
        .session(&id, app.now())
        .await?
        .map(|data| Browser {
            id: Some(id),
            data,
            set_cookie: None,
        }))
}

/// The current session, or this browser's anonymous state (a new one when it has none).
pub async fn ensure(app: &App, req: &Req) -> Result<Browser, StoreError> {
    match current(app, req).await? {
        Some(b) => Ok(b),
        None => Ok(anonymous_from_cookie(app, req).unwrap_or_else(|| {
            let mut b = anonymous(app, app.random.token(), None);
            remember(app, &mut b);
            b
        })),
    }
}

/// The anonymous state the browser's cookie carries, if it carries one.
pub fn anonymous_from_cookie(app: &App, req: &Req) -> Option<Browser> {
    let raw = req.cookie(cookies::anonymous_name(app.config.is_https()))?;
    let (csrf, pending) = read_anonymous(raw)?;
    Some(anonymous(
        app,
        csrf.to_string(),
        pending.map(str::to_string),
    ))
}

/// The anonymous cookie's value: the form token, then the pending request after a dot
/// (neither contains one).
pub fn anonymous_value(csrf: &str, pending: Option<&str>) -> String {
    match pending {
        Some(p) => format!("{csrf}.{p}"),
        None => csrf.to_string(),
    }
}

/// The form token and pending request in an anonymous cookie's value, when it is one
/// [`anonymous_value`] could have made: bounded, with a token of full length.
pub fn read_anonymous(raw: &str) -> Option<(&str, Option<&str>)> {
    if raw.len() > 160 {
        return None;
    }
    let (csrf, pending) = match raw.split_once('.') {
        Some((csrf, pending)) => (csrf, Some(pending)),
        None => (raw, None),
    };
    (csrf.len() >= 32).then_some((csrf, pending))
}

fn anonymous(app: &App, csrf: String, pending: Option<String>) -> Browser {
    Browser {
        id: None,
        data: Session {
            sub: None,
            auth_time: None,
            csrf,
            pending: pending.filter(|p| !p.is_empty()),
            expires_at: app.now() + app.config.session_ttl,
        },
        set_cookie: None,
    }
}

/// Sets the anonymous cookie to what `b` holds now.
fn remember(app: &App, b: &mut Browser) {
    let value = anonymous_value(&b.data.csrf, b.data.pending.as_deref());
    b.set_cookie = Some(cookies::anonymous(
        &value,
        app.config.session_ttl,
        app.config.is_https(),
    ));
}

/// Starts a fresh session. Signing in always does this: a new id defeats session
/// fixation, and a new CSRF token goes with it.
pub async fn start(
    app: &App,
    sub: Option<UserId>,
    pending: Option<String>,
    replacing: Option<&Browser>,
) -> Result<Browser, StoreError> {
    if let Some(id) = replacing.and_then(|old| old.id.as_ref()) {
        app.stores.ephemeral.end_session(id).await?;
    }
    let now = app.now();
    let raw = app.random.token();
    let id = SecretHash::of(&raw);
    let data = Session {
        auth_time: sub.as_ref().map(|_| now),
        sub,
        csrf: app.random.token(),
        pending,
        expires_at: now + app.config.session_ttl,
    };
    app.stores.ephemeral.put_session(&id, &data).await?;
    Ok(Browser {
        id: Some(id),
        data,
        set_cookie: Some(cookies::session(
            &raw,
            app.config.session_ttl,
            app.config.is_https(),
        )),
    })
}

/// Keeps what `b` holds now: in its record, or, for an anonymous browser, in its cookie.
pub async fn save(app: &App, b: &mut Browser) -> Result<(), StoreError> {
    match &b.id {
        Some(id) => app.stores.ephemeral.put_session(id, &b.data).await,
        None => {
            remember(app, b);
            Ok(())
        }
    }
}
