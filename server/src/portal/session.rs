//! Browser sessions: an opaque cookie naming a server-side record (stored by hash). Every
//! browser that reaches a form gets one, signed in or not, because the session carries the
//! CSRF token its forms must echo.

use crate::app::App;
use crate::domain::UserId;
use crate::http::Req;
use crate::http::cookies;
use crate::secret::{SecretHash, constant_time_eq};
use crate::store::{Session, StoreError};

/// A session as this request sees it.
#[derive(Debug, Clone)]
pub struct Browser {
    pub id: SecretHash,
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
            id,
            data,
            set_cookie: None,
        }))
}

/// The current session, or a new anonymous one.
pub async fn ensure(app: &App, req: &Req) -> Result<Browser, StoreError> {
    match current(app, req).await? {
        Some(b) => Ok(b),
        None => start(app, None, None, None).await,
    }
}

/// Starts a fresh session. Signing in always does this: a new id defeats session
/// fixation, and a new CSRF token goes with it.
pub async fn start(
    app: &App,
    sub: Option<UserId>,
    pending: Option<String>,
    replacing: Option<&Browser>,
) -> Result<Browser, StoreError> {
    if let Some(old) = replacing {
        app.stores.ephemeral.end_session(&old.id).await?;
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
        id,
        data,
        set_cookie: Some(cookies::session(
            &raw,
            app.config.session_ttl,
            app.config.is_https(),
        )),
    })
}

pub async fn save(app: &App, b: &Browser) -> Result<(), StoreError> {
    app.stores.ephemeral.put_session(&b.id, &b.data).await
}
