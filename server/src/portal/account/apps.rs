//! The apps that hold access to an account, as the page lists them (one line per client:
//! its resources and scopes, when first allowed, when last used), and revoking one: its
//! consents go and its refresh-token families are revoked in one store step, which every
//! instance sees at the next refresh, and the access tokens those families minted are
//! refused everywhere at once.

use super::{Done, Signed};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::{ClientId, UserId};
use crate::http::response::Resp;
use crate::oauth::client::{LookupError, displayable, find_client};
use crate::oauth::token::revoke_app;
use crate::portal::unavailable_page;
use crate::store::{Consent, StoreError};

/// One app on the page.
pub struct AppLine {
    pub client_id: String,
    pub name: String,
    /// The name is whatever its dynamic registrant chose.
    pub unverified: bool,
    pub resources: Vec<ResourceLine>,
    pub granted: Moment,
    pub last_used: Option<Moment>,
}

/// What an app may do on one resource.
pub struct ResourceLine {
    pub name: String,
    pub uri: String,
    pub scopes: Vec<String>,
}

/// A time, for people (`text`) and for machines (`iso`, a `<time datetime>`).
#[derive(Debug, PartialEq, Eq)]
pub struct Moment {
    pub text: String,
    pub iso: String,
}

impl Moment {
    pub(in crate::portal) fn at(t: UnixTime) -> Self {
        match time::OffsetDateTime::from_unix_timestamp(t) {
            Ok(d) => Self {
                text: format!(
                    "{} {} {}, {:02}:{:02} UTC",
                    d.day(),
                    d.month(),
                    d.year(),
                    d.hour(),
                    d.minute()
                ),
                iso: format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    d.year(),
                    u8::from(d.month()),
                    d.day(),
                    d.hour(),
                    d.minute(),
                    d.second()
                ),
            },
            Err(_) => Self {
                text: t.to_string(),
                iso: String::new(),
            },
        }
    }
}

/// The apps `sub` allowed, in the order they were first allowed.
pub(super) async fn list(app: &App, sub: &UserId) -> Result<Vec<AppLine>, StoreError> {
    let mut by_client: Vec<(ClientId, Vec<Consent>)> = Vec::new();
    for c in app.stores.grants.consents(sub).await? {
        match by_client.iter_mut().find(|(id, _)| *id == c.client_id) {
            Some((_, all)) => all.push(c),
            None => by_client.push((c.client_id.clone(), vec![c])),
        }
    }
    let mut lines = Vec::with_capacity(by_client.len());
    for (client_id, consents) in by_client {
        let (name, unverified) = name_of(app, &client_id).await?;
        let granted = consents.iter().map(|c| c.granted_at).min().unwrap_or(0);
        let last_used = consents.iter().filter_map(|c| c.last_used).max();
        lines.push(AppLine {
            client_id: client_id.to_string(),
            name,
            unverified,
            resources: consents.iter().map(|c| resource_line(app, c)).collect(),
            granted: Moment::at(granted),
            last_used: last_used.map(Moment::at),
        });
    }
    Ok(lines)
}

fn resource_line(app: &App, c: &Consent) -> ResourceLine {
    ResourceLine {
        name: app
            .config
            .resource(&c.resource)
            .map_or_else(|| c.resource.to_string(), |r| r.name.clone()),
        uri: c.resource.to_string(),
        scopes: c.scopes.to_vec(),
    }
}

/// What to call a client, as consent did, and whether anyone could have chosen that name.
/// A metadata-document client is called by its host: the page fetches nothing.
async fn name_of(app: &App, id: &ClientId) -> Result<(String, bool), StoreError> {
    if app.cimd.is_candidate(id.as_str()) {
        let host = url::Url::parse(id.as_str())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| id.to_string());
        return Ok((displayable(&host), false));
    }
    match find_client(app, id).await {
        Ok(c) => Ok((c.display_name(), c.name_unverified())),
        Err(LookupError::Store(e)) => Err(StoreError::Unavailable(e.into())),
        // Gone since (an operator removed it): its id is all there is to show.
        Err(_) => Ok((displayable(id.as_str()), true)),
    }
}

/// Withdraws the app's consents and revokes its families and their access tokens.
pub(super) async fn revoke(app: &App, s: &Signed, client_id: &ClientId) -> Resp {
    match revoke_app(&app.stores, &app.config, app.now(), &s.user.sub, client_id).await {
        Ok(grants) => {
            tracing::info!(sub = %s.user.sub, client = %client_id, grants, "app revoked");
            Done::Revoked.redirect(app)
        }
        Err(_) => unavailable_page(app),
    }
}

#[cfg(test)]
mod tests {
    use super::Moment;

    #[test]
    fn times_read_in_utc() {
        let m = Moment::at(1_796_283_000);
        assert_eq!(m.text, "3 December 2026, 07:30 UTC");
        assert_eq!(m.iso, "2026-12-03T07:30:00Z");
    }
}
