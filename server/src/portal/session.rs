//! Browser sessions. A signed-in browser holds an opaque cookie naming a server-side record
//! (stored by hash), made at sign-in. A browser that is not signed in keeps nothing on the
//! server: its form token (double-submitted: cookie and hidden field must match) and the
//! authorization request it is on live in a cookie of its own, so anonymous page views
//! cannot fill the store.
//!
//! Every session records its account's session epoch when it began. [`end_everywhere`]
//! starts a new epoch in the durable store, and [`current`] refuses a session of another
//! epoch (or of a disabled account): so one write ends every session of a user at once, on
//! every instance, without finding the sessions themselves (they are kept by hash).

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
    let Some(data) = app.stores.ephemeral.session(&id, app.now()).await? else {
        return Ok(None);
    };
    if let Some(sub) = &data.sub
        && !still_current(app, sub, data.epoch).await?
    {
        return Ok(None);
    }
    Ok(Some(Browser {
        id: Some(id),
        data,
        set_cookie: None,
    }))
}

/// Whether a session of `sub` begun in `epoch` still counts: the account exists, is
/// enabled, has not ended its sessions since, and (where the operator requires it) has a
/// verified address.
async fn still_current(app: &App, sub: &UserId, epoch: i64) -> Result<bool, StoreError> {
    let user = app.stores.users.user_by_sub(sub).await?;
    Ok(user.is_some_and(|u| {
        !u.is_disabled()
            && u.session_epoch == epoch
            && (u.email_verified || !app.config.mail.require_verified_email)
    }))
}

/// Ends every browser session of `sub`, on every instance: password resets, disabled
/// accounts and "sign out everywhere" call this.
pub async fn end_everywhere(app: &App, sub: &UserId) -> Result<(), StoreError> {
    app.stores.users.end_sessions(sub).await
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

/// The anonymous state the browser's cookie carries, if it carries one: form token, then
/// the pending request after a dot (neither contains one).
pub fn anonymous_from_cookie(app: &App, req: &Req) -> Option<Browser> {
    let raw = req
        .cookie(cookies::anonymous_name(app.config.is_https()))
        .filter(|c| c.len() <= 160)?;
    let (csrf, pending) = match raw.split_once('.') {
        Some((csrf, pending)) => (csrf, Some(pending.to_string())),
        None => (raw, None),
    };
    (csrf.len() >= 32).then(|| anonymous(app, csrf.to_string(), pending))
}

fn anonymous(app: &App, csrf: String, pending: Option<String>) -> Browser {
    Browser {
        id: None,
        data: Session {
            sub: None,
            auth_time: None,
            csrf,
            pending: pending.filter(|p| !p.is_empty()),
            epoch: 0,
            expires_at: app.now() + app.config.session_ttl,
        },
        set_cookie: None,
    }
}

/// Sets the anonymous cookie to what `b` holds now.
fn remember(app: &App, b: &mut Browser) {
    let value = match &b.data.pending {
        Some(p) => format!("{}.{p}", b.data.csrf),
        None => b.data.csrf.clone(),
    };
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
    let epoch = match &sub {
        Some(sub) => app
            .stores
            .users
            .user_by_sub(sub)
            .await?
            .map_or(0, |u| u.session_epoch),
        None => 0,
    };
    let now = app.now();
    let raw = app.random.token();
    let id = SecretHash::of(&raw);
    let data = Session {
        auth_time: sub.as_ref().map(|_| now),
        sub,
        csrf: app.random.token(),
        pending,
        epoch,
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
