//! Checking an access token we minted, wherever one is presented: the built-in resource,
//! userinfo, revocation and introspection all ask the same questions.

use crate::app::App;
use crate::store::StoreError;
use crate::tokens::jwt::verify_access;
use crate::tokens::{VerifiedAccess, VerifyError};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    #[error("token revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies signature, issuer, audience (one of `audiences`, or any configured resource
/// when empty), expiry, and that neither the token nor its grant was revoked.
pub async fn check_access(
    app: &App,
    token: &str,
    audiences: &[&str],
) -> Result<VerifiedAccess, AccessError> {
    let all: Vec<&str>;
    let audiences = if audiences.is_empty() {
        all = app
            .config
            .resources
            .iter()
            .map(|r| r.uri.as_str())
            .collect();
        &all[..]
    } else {
        audiences
    };
    let ring = app.keys.current();
    let claims = verify_access(&ring, token, &app.config.issuer, audiences)?;
    if app
        .stores
        .ephemeral
        .is_access_revoked(&claims.jti, claims.grant_id(), app.now())
        .await?
    {
        return Err(AccessError::Revoked);
    }
    Ok(claims)
}
