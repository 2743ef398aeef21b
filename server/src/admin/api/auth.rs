//! Who calls the admin API: the bearer token must be one Lanyard minted by client
//! credentials for `<issuer>/admin` (signature, issuer, audience, expiry, revocation), and
//! its client must still be an operator's client: deleting a client ends its access at
//! once, without waiting for its tokens to expire.

use super::problem::Refusal;
use super::route::Needs;
use crate::app::App;
use crate::domain::{AdminScope, ClientId, ScopeSet};
use crate::http::Req;
use crate::oauth::access::{AccessError, check_access};
use crate::store::ClientSource;
use crate::tokens::VerifyError;

/// An authenticated caller and what its token allows.
#[derive(Debug)]
pub struct Caller {
    pub client_id: ClientId,
    scopes: ScopeSet,
}

impl Caller {
    /// Whether the token's scopes cover a route: its area's scope, or `admin:read` for a
    /// read.
    pub fn may(&self, needs: Needs) -> Result<(), Refusal> {
        let has = |s: AdminScope| self.scopes.contains(s.as_str());
        if has(needs.area) || (!needs.write && has(AdminScope::Read)) {
            Ok(())
        } else {
            Err(Refusal::Forbidden(needs.area.as_str().to_string()))
        }
    }
}

pub async fn caller(app: &App, req: &Req) -> Result<Caller, Refusal> {
    let token = req
        .bearer_token()
        .ok_or(Refusal::Unauthenticated("a bearer token is required"))?;
    let audience = app.config.admin_resource.uri.as_str();
    let claims = match check_access(app, token, &[audience]).await {
        Ok(c) => c,
        Err(AccessError::Store(_)) => return Err(Refusal::Unavailable),
        Err(AccessError::Revoked) => {
            return Err(Refusal::Unauthenticated("the access token was revoked"));
        }
        Err(AccessError::Invalid(VerifyError::Expired)) => {
            return Err(Refusal::Unauthenticated("the access token expired"));
        }
        Err(AccessError::Invalid(VerifyError::WrongAudience)) => {
            return Err(Refusal::Unauthenticated(
                "the access token is not for the admin API",
            ));
        }
        Err(AccessError::Invalid(_)) => {
            return Err(Refusal::Unauthenticated("the access token is invalid"));
        }
    };
    // A client's own token has `sub` = its id; a user's token never reaches this audience.
    let client_id = ClientId::parse(&claims.client_id)
        .ok()
        .filter(|id| id.as_str() == claims.sub)
        .ok_or(Refusal::Unauthenticated(
            "the access token is not a client's own",
        ))?;
    match app.stores.clients.client(&client_id).await {
        Ok(Some(c)) if c.source == ClientSource::Operator => {}
        Ok(_) => {
            return Err(Refusal::Unauthenticated(
                "the client is no longer registered",
            ));
        }
        Err(_) => return Err(Refusal::Unavailable),
    }
    let scopes = ScopeSet::parse(&claims.scope)
        .map_err(|_| Refusal::Unauthenticated("the access token is invalid"))?;
    Ok(Caller { client_id, scopes })
}
