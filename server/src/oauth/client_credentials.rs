//! The client-credentials grant (RFC 6749 §4.4, and MCP's client-credentials extension): a
//! confidential client gets an access token for itself, `sub` = its client id, for one
//! resource and at most the scopes it was registered with. No user is involved, so there
//! is no refresh token and no ID token; the bound policies' token phase runs all the same
//! (grant type `client-credentials`, user absent), and may deny or add claims.
//!
//! The admin API (`<issuer>/admin`) is a resource of this grant only, for operator clients
//! given admin scopes; the operator's policies do not run for it.

use super::client::{ClientCredential, ClientOrigin, ResolvedClient};
use super::error::OAuthError;
use super::issue::{respond, sign_access};
use super::policies::{Allowed, Mint, token_gate};
use super::types::{ResourceUri, ScopeSet};
use crate::app::App;
use crate::domain::GrantType;
use crate::http::response::Resp;

pub async fn grant(
    app: &App,
    client: &ResolvedClient,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<Resp, OAuthError> {
    // Registration keeps this grant from public clients; a request that authenticated
    // nothing (a client that may also act as a public one) is refused here too, as RFC
    // 6749 §4.4 requires.
    if matches!(client.credential, ClientCredential::None) {
        return Err(OAuthError::UnauthorizedClient(
            "a public client cannot use client_credentials".into(),
        ));
    }
    let admin = &app.config.admin_resource;
    let (resource, for_admin) = match resource {
        Some(raw) => {
            let uri =
                ResourceUri::parse(raw).map_err(|e| OAuthError::InvalidTarget(e.to_string()))?;
            if admin.uri.same_as(&uri) {
                // Only the operator hands out the admin API (`--admin-scopes`).
                if client.origin != ClientOrigin::Operator {
                    return Err(OAuthError::InvalidTarget("unknown resource".into()));
                }
                (admin, true)
            } else {
                let configured = app.config.resource(&uri);
                let found = configured
                    .ok_or_else(|| OAuthError::InvalidTarget("unknown resource".into()))?;
                (found, false)
            }
        }
        None => (app.config.default_resource(), false),
    };
    let offered = ScopeSet::from_scopes(resource.scopes.iter().cloned());
    // What the client was registered for, within what the resource offers.
    let registered = match &client.scope {
        Some(registered) => registered.intersect(&offered),
        None => ScopeSet::default(),
    };
    let scopes = match scope {
        None => registered,
        Some(s) => {
            let asked = ScopeSet::parse(s).map_err(|e| OAuthError::InvalidScope(e.to_string()))?;
            if !asked.is_subset_of(&registered) {
                return Err(OAuthError::InvalidScope(
                    "scope exceeds what this client was registered for".into(),
                ));
            }
            asked
        }
    };
    let mint = Mint {
        client,
        user: None,
        resource: &resource.uri,
        grant_type: GrantType::ClientCredentials,
    };
    // The admin API is Lanyard's own: the operator's policies decide about their apps.
    let (scopes, allowed) = if for_admin {
        (scopes, Allowed::default())
    } else {
        token_gate(app, &mint, scopes).await?
    };

    let now = app.now();
    let ring = app.keys.current();
    // No grant stands behind the token: the first part of its `jti` is its own.
    let jti = format!("{}.{}", app.random.id(), app.random.id());
    let scope = scopes.to_string();
    let access_token = sign_access(app, &ring, &mint, &scope, &jti, now, &allowed).await?;
    Ok(respond(app, &mint, &access_token, None, scope, None))
}
