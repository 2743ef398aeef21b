//! Signing keys from the operator's side: the published ones with their state, and a
//! rotation (next becomes current, current retires, a new next is published), after which
//! every instance is told to switch (one that misses the notice switches at its next poll).

use serde::Serialize;
use utoipa::ToSchema;

use super::{AdminResult, Operator, audit};
use crate::clock::UnixTime;
use crate::store::notices::Change;
use crate::tokens::keyring::{ensure_keys, rotate as rotate_ring};

/// A signing key (never its private part).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    /// `next` (published, not yet signing), `current` (signing) or `retired` (published
    /// until every token it signed has expired).
    pub state: String,
    pub created_at: UnixTime,
    pub retired_at: Option<UnixTime>,
}

/// What a rotation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The key that signs from now on.
    pub signing_kid: String,
    /// Whether running instances were told at once; otherwise they switch within
    /// `LANYARD_KEY_RELOAD_SECS`.
    pub instances_told: bool,
}

pub async fn list(op: &Operator<'_>) -> AdminResult<Vec<KeyView>> {
    ensure_keys(op.stores.keys.as_ref(), op.config.signing_alg, op.now()).await?;
    let keys = op.stores.keys.signing_keys().await?;
    Ok(keys
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            alg: k.alg,
            state: k.state.as_str().to_string(),
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

pub async fn rotate(op: &Operator<'_>) -> AdminResult<Rotated> {
    let signing_kid = rotate_ring(
        op.stores.keys.as_ref(),
        op.config.signing_alg,
        op.config.publish_retired_for(),
        op.now(),
    )
    .await?;
    audit::record(op, "keys.rotate", &signing_kid, None).await;
    let instances_told = match op.stores.notices.publish(Change::Keys).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not tell the running servers; they switch when they poll");
            false
        }
    };
    Ok(Rotated {
        signing_kid,
        instances_told,
    })
}
