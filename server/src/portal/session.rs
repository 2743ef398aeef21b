//! Browser sessions. A signed-in browser holds an opaque cookie naming a server-side record
//! (stored by hash), made at sign-in. A browser that is not signed in keeps nothing on the
//! server: its form token (double-submitted: cookie and hidden field must match) and the
//! authorization request it is on live in a cookie of its own, so anonymous page views
//! cannot fill the store.
//!
//! Between a password and a second factor a browser holds a short-lived record of its own
//! ([`Halfway`]): it names the account, but the browser is not signed in until the second
//! step is done, when a new signed-in session replaces it.
//!
//! Every session records its account's session epoch when it began. [`end_everywhere`]
//! starts a new epoch in the durable store, and [`current`] refuses a session of another
//! epoch (or of a disabled account): so one write ends every session of a user at once, on
//! every instance, without finding the sessions themselves (they are kept by hash).

use crate::app::App;
use crate::domain::{SignInMethods, SignedIn, UserId};
use crate::http::Req;
use crate::http::cookies;
use crate::secret::{SecretHash, constant_time_eq};
use crate::store::{Halfway, Session, StoreError};

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
    pub fn signed_in(&self) -> Option<SignedIn> {
        Some(SignedIn {
            sub: self.data.sub.clone()?,
            auth_time: self.data.auth_time?,
            amr: self.data.amr.clone(),
        })
    }

    /// What a passkey ceremony's state is kept under: this session's record, or, for a
    /// browser that is not signed in, its form token (which only its cookie holds).
    pub fn binding(&self) -> SecretHash {
        self.id
            .clone()
            .unwrap_or_else(|| SecretHash::of(&self.data.csrf))
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
    // A half-done sign-in ends with its account's sessions too.
    let account = data.sub.as_ref().or(data.halfway.as_ref().map(|h| &h.sub));
    if let Some(sub) = account
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
            amr: SignInMethods::default(),
            halfway: None,
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
    let value = anonymous_value(&b.data.csrf, b.data.pending.as_deref());
    b.set_cookie = Some(cookies::anonymous(
        &value,
        app.config.session_ttl,
        app.config.is_https(),
    ));
}

/// How long a browser may take between its password and its second step (enrolment
/// included: scanning a QR code takes a minute or two).
pub const HALFWAY_TTL: i64 = 600;

/// Starts a fresh signed-in session for `sub`, signed in now by `amr`. Signing in always
/// does this: a new id defeats session fixation, and a new CSRF token goes with it.
pub async fn start(
    app: &App,
    sub: UserId,
    amr: SignInMethods,
    pending: Option<String>,
    replacing: Option<&Browser>,
) -> Result<Browser, StoreError> {
    let epoch = epoch_of(app, &sub).await?;
    let data = Session {
        sub: Some(sub),
        auth_time: Some(app.now()),
        amr,
        halfway: None,
        csrf: app.random.token(),
        pending,
        epoch,
        expires_at: app.now() + app.config.session_ttl,
    };
    begin(app, data, app.config.session_ttl, replacing).await
}

/// Starts the short record of a browser whose password was right and whose account needs
/// a second step; it is not signed in.
pub async fn start_halfway(
    app: &App,
    halfway: Halfway,
    pending: Option<String>,
    replacing: Option<&Browser>,
) -> Result<Browser, StoreError> {
    let epoch = epoch_of(app, &halfway.sub).await?;
    let data = Session {
        sub: None,
        auth_time: None,
        amr: SignInMethods::default(),
        halfway: Some(halfway),
        csrf: app.random.token(),
        pending,
        epoch,
        expires_at: app.now() + HALFWAY_TTL,
    };
    begin(app, data, HALFWAY_TTL, replacing).await
}

/// The account's session epoch now: a session records it, and ends with it.
async fn epoch_of(app: &App, sub: &UserId) -> Result<i64, StoreError> {
    let user = app.stores.users.user_by_sub(sub).await?;
    Ok(user.map_or(0, |u| u.session_epoch))
}

/// Keeps `data` under a new id, ending the session it replaces.
async fn begin(
    app: &App,
    data: Session,
    ttl: i64,
    replacing: Option<&Browser>,
) -> Result<Browser, StoreError> {
    if let Some(id) = replacing.and_then(|old| old.id.as_ref()) {
        app.stores.ephemeral.end_session(id).await?;
    }
    let raw = app.random.token();
    let id = SecretHash::of(&raw);
    app.stores.ephemeral.put_session(&id, &data).await?;
    Ok(Browser {
        id: Some(id),
        data,
        set_cookie: Some(cookies::session(&raw, ttl, app.config.is_https())),
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
