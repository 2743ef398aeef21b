//! What a user allowed, from the operator's side: one line per client and resource (the
//! scopes, when it was allowed, when it was last used), and revoking a client's access,
//! which is what the user's own account page does: its consents go, its refresh-token
//! families are revoked, and their access tokens are refused on every instance at once.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{AdminError, AdminResult, Operator, audit, users};
use crate::clock::UnixTime;
use crate::domain::ClientId;
use crate::oauth::token::revoke_app;

/// One client's access to one resource on a user's behalf.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub client_id: String,
    /// The client's registered name, when it has one (a metadata-document client is known
    /// by its URL).
    pub client_name: Option<String>,
    pub resource: String,
    pub scopes: Vec<String>,
    /// When the user first allowed it (the first use: a token follows at once). Unix seconds.
    pub granted_at: UnixTime,
    /// The last mint for it: a code exchange or a refresh.
    pub last_used_at: Option<UnixTime>,
}

/// What revoking did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Refresh-token families revoked (each with its access tokens).
    pub grants_revoked: usize,
}

pub async fn list(op: &Operator<'_>, user_id: &str) -> AdminResult<Vec<GrantView>> {
    let user = users::find(op, user_id).await?;
    let mut lines = Vec::new();
    for c in op.stores.grants.consents(&user.sub).await? {
        let client_name = op
            .stores
            .clients
            .client(&c.client_id)
            .await?
            .and_then(|client| client.name);
        lines.push(GrantView {
            client_id: c.client_id.to_string(),
            client_name,
            resource: c.resource.to_string(),
            scopes: c.scopes.to_vec(),
            granted_at: c.granted_at,
            last_used_at: c.last_used,
        });
    }
    Ok(lines)
}

/// Revokes everything `client_id` holds for the user. `NotFound` when it holds nothing.
pub async fn revoke(op: &Operator<'_>, user_id: &str, client_id: &str) -> AdminResult<Revoked> {
    let user = users::find(op, user_id).await?;
    let client_id = ClientId::parse(client_id).map_err(|_| AdminError::NotFound("grant"))?;
    let consents = op.stores.grants.consents(&user.sub).await?;
    if !consents.iter().any(|c| c.client_id == client_id) {
        return Err(AdminError::NotFound("grant"));
    }
    let grants_revoked = revoke_app(op.stores, op.config, op.now(), &user.sub, &client_id).await?;
    let object = format!("{}/{}", user.sub, client_id);
    audit::record(
        op,
        "grant.revoke",
        &object,
        Some(json!({"grants_revoked": grants_revoked})),
    )
    .await;
    Ok(Revoked { grants_revoked })
}
