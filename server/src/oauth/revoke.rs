//! RFC 7009 token revocation. A refresh token revokes its whole grant (and the grant's
//! access tokens); an access token is refused by our resources from then on. Unknown
//! tokens get 200, so the endpoint cannot be used to probe tokens.

use http::StatusCode;

use super::access::check_access;
use super::client_auth::client_and_token;
use super::error::OAuthError;
use super::token::revoke_family;
use crate::app::App;
use crate::http::Req;
use crate::http::response::{Resp, no_store, text};
use crate::secret::SecretHash;
use crate::store::RevocationKey;

pub async fn handle(app: &App, req: &Req) -> Result<Resp, OAuthError> {
    let (client, form) = client_and_token(app, req).await?;
    let token = form.get("token").unwrap_or_default();
    let hint = form.get("token_type_hint");
    if let Some(h) = hint.filter(|h| *h != "access_token" && *h != "refresh_token") {
        return Err(OAuthError::UnsupportedTokenType(format!(
            "token_type_hint {h} is not supported"
        )));
    }
    let now = app.now();
    // Refresh tokens are opaque and access tokens are JWTs, so the shape of the token says
    // which store to ask; the hint (RFC 7009 §2.1) is only a hint.
    if !token.contains('.')
        && let Some(grant) = app
            .stores
            .grants
            .grant_by_refresh(&SecretHash::of(token), now, true)
            .await?
    {
        if grant.client_id == client.id {
            revoke_family(app, &grant.id).await?;
            tracing::info!(grant = %grant.id, "refresh token revoked");
        }
        return Ok(ok());
    }
    if let Ok(claims) = check_access(app, token, &[]).await
        && client.id == *claims.client_id
    {
        app.stores
            .ephemeral
            .revoke_access(&RevocationKey::Token(claims.jti.clone()), claims.exp + 60)
            .await?;
        tracing::info!(jti = %claims.jti, "access token revoked");
    }
    Ok(ok())
}

fn ok() -> Resp {
    no_store(text(StatusCode::OK, ""))
}
