//! Links mailed to a user (`/verify`, `/reset`, `/account/email`): a 256-bit token in an absolute URL under
//! the issuer, kept only as its hash, working once and for a while. A link remembers the
//! browser that asked for it, so that following it there (and only there) can sign that
//! browser in and resume what it was doing.

use super::session::Browser;
use crate::app::App;
use crate::domain::Email;
use crate::http::Req;
use crate::secret::SecretHash;
use crate::store::{LinkPurpose, MailedLink, StoreError, User};

/// Makes a link for `user` of `purpose`, remembering `browser` and its pending `request`;
/// returns its URL.
pub async fn issue(
    app: &App,
    purpose: LinkPurpose,
    user: &User,
    browser: Option<&Browser>,
    request: Option<String>,
) -> Result<String, StoreError> {
    let link = MailedLink {
        sub: user.sub.clone(),
        email: user.email.clone(),
        browser: browser.map(|b| SecretHash::of(&b.data.csrf).as_str().to_string()),
        request,
        previous: None,
        expires_at: 0,
    };
    keep(app, purpose, link).await
}

/// Makes the link that moves `user` to `new`, to be mailed there; returns its URL.
pub async fn issue_change(app: &App, user: &User, new: &Email) -> Result<String, StoreError> {
    let link = MailedLink {
        sub: user.sub.clone(),
        email: new.clone(),
        browser: None,
        request: None,
        previous: Some(user.email.clone()),
        expires_at: 0,
    };
    keep(app, LinkPurpose::ChangeEmail, link).await
}

/// Keeps `link` under a new token for its purpose's lifetime; returns its URL.
async fn keep(app: &App, purpose: LinkPurpose, mut link: MailedLink) -> Result<String, StoreError> {
    let (path, ttl) = match purpose {
        LinkPurpose::Verify => ("/verify", app.config.mail.verify_link_ttl),
        LinkPurpose::Reset => ("/reset", app.config.mail.reset_link_ttl),
        LinkPurpose::ChangeEmail => ("/account/email", app.config.mail.verify_link_ttl),
    };
    link.expires_at = app.now() + ttl;
    let token = app.random.token();
    app.stores
        .ephemeral
        .put_link(purpose, &SecretHash::of(&token), &link)
        .await?;
    Ok(app.config.url(&format!("{path}?token={token}")))
}

/// The token a request carries (query or form), if it has the shape of one.
pub fn token(req: &Req) -> Option<String> {
    let from_form = (req.method == http::Method::POST && req.is_form())
        .then(|| req.form().get("token").map(str::to_string))
        .flatten();
    from_form
        .or_else(|| req.query_params().get("token").map(str::to_string))
        .filter(|t| !t.is_empty() && t.len() <= 64)
}

/// The user a link stands for, if the account still has the address it went to (for a
/// change of address, the one it had when the change was asked for).
pub async fn holder(app: &App, link: &MailedLink) -> Result<Option<User>, StoreError> {
    let user = app.stores.users.user_by_sub(&link.sub).await?;
    let address = link.previous.as_ref().unwrap_or(&link.email);
    Ok(user.filter(|u| u.email == *address))
}

/// Whether `browser` is the one that asked for `link` (constant time).
pub fn asked_by(link: &MailedLink, browser: &Browser) -> bool {
    link.browser
        .as_ref()
        .is_some_and(|h| SecretHash::from_stored(h.clone()).matches(&browser.data.csrf))
}
