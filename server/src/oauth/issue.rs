//! Issuing tokens for a grant: the one path every mint takes, code exchange and refresh
//! alike. Everything that can refuse (the user gone, a policy) runs before anything is
//! written, so a refused refresh leaves the client's refresh token working.

use http::StatusCode;
use serde::Serialize;

use super::client::ResolvedClient;
use super::error::OAuthError;
use super::policies::{Allowed, ForUser, Mint, log_decision, token_gate};
use super::successor;
use super::token::revoke_family;
use super::types::{EMAIL, OPENID, ScopeSet};
use crate::app::App;
use crate::config::ID_TOKEN_TTL;
use crate::domain::{GrantType, SignedIn};
use crate::http::response::{Resp, json, no_store};
use crate::secret::SecretHash;
use crate::store::{Grant, Rotation, User};
use crate::tokens::jwt::{mint_access, mint_id};
use crate::tokens::keyring::Ring;
use crate::tokens::{AccessClaims, IdClaims, UserClaims};

/// What the request asks of this mint.
#[derive(Debug)]
pub struct TokenRequestContext<'a> {
    pub grant_type: GrantType,
    /// The scopes of this access token (the grant's, or a narrowing of them).
    pub scopes: ScopeSet,
    pub nonce: Option<&'a str>,
    /// ID tokens come with the code exchange only (OIDC Core §12.2 makes them optional on
    /// refresh, and clients do not need a second one).
    pub issue_id_token: bool,
}

/// What happens to refresh tokens.
#[derive(Debug)]
pub enum RefreshPlan {
    /// A new grant, with its first refresh token when the client may refresh.
    NewGrant(Option<String>),
    /// Spend `presented`, make `successor` current.
    Rotate {
        presented: String,
        successor: String,
    },
}

/// RFC 6749 §5.1. No member is ever `null`: SDK parsers refuse nulls.
#[derive(Debug, Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
}

pub async fn issue_tokens(
    app: &App,
    client: &ResolvedClient,
    grant: &Grant,
    ctx: &TokenRequestContext<'_>,
    plan: RefreshPlan,
) -> Result<Resp, OAuthError> {
    let now = app.now();
    let user = app
        .stores
        .users
        .user_by_sub(&grant.sub)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    // A disabled account's grants stay, unusable, until an operator enables it again.
    if user.is_disabled() {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    // Policies decide before anything is written: a deny leaves the refresh token usable.
    let sign_in = SignedIn {
        sub: grant.sub.clone(),
        auth_time: grant.auth_time,
        amr: grant.amr.clone(),
    };
    let mint = Mint {
        client,
        user: Some(ForUser {
            user: &user,
            sign_in: &sign_in,
        }),
        resource: &grant.resource,
        grant_type: ctx.grant_type,
    };
    let (scopes, allowed) = token_gate(app, &mint, ctx.scopes.clone()).await?;

    let refresh_token = persist_refresh(app, grant, plan, now).await?;

    let ring = app.keys.current();
    let jti = format!("{}.{}", grant.id, app.random.id());
    let scope = scopes.to_string();
    let access_token = sign_access(app, &ring, &mint, &scope, &jti, now, &allowed).await?;
    let id_token = if ctx.issue_id_token && scopes.contains(OPENID) {
        Some(id_token(
            app, &ring, client, grant, &user, &scopes, ctx.nonce, now,
        )?)
    } else {
        None
    };
    let refresh_token = refresh_token.as_deref();
    Ok(respond(
        app,
        &mint,
        &access_token,
        refresh_token,
        scope,
        id_token.as_deref(),
    ))
}

/// Signs the access token of `mint` (the user's part when there is a user; the client is
/// its own subject otherwise) with the policies' claims, and logs their decisions.
pub(super) async fn sign_access(
    app: &App,
    ring: &Ring,
    mint: &Mint<'_>,
    scope: &str,
    jti: &str,
    now: i64,
    allowed: &Allowed,
) -> Result<String, OAuthError> {
    let sub = mint
        .user
        .map_or(mint.client.id.as_str(), |u| u.user.sub.as_str());
    let access = AccessClaims {
        iss: &app.config.issuer,
        sub,
        aud: mint.resource.as_str(),
        azp: mint.client.id.as_str(),
        client_id: mint.client.id.as_str(),
        scope,
        user: mint.user.map(|ForUser { user, sign_in }| UserClaims {
            email: user.email.as_str(),
            email_verified: user.email_verified,
            auth_time: sign_in.auth_time,
            amr: &sign_in.amr,
        }),
        iat: now,
        exp: now + app.config.access_token_ttl,
        jti,
        extra: &allowed.claims,
    };
    let access_token = mint_access(ring, &access).map_err(OAuthError::server)?;
    log_decision(app, jti, now, mint, &allowed.runs).await;
    Ok(access_token)
}

/// The token response of a mint that went through, counted.
pub(super) fn respond(
    app: &App,
    mint: &Mint<'_>,
    access_token: &str,
    refresh_token: Option<&str>,
    scope: String,
    id_token: Option<&str>,
) -> Resp {
    app.metrics.minted(mint.resource, mint.grant_type);
    let body = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: app.config.access_token_ttl,
        refresh_token,
        scope,
        id_token,
    };
    no_store(json(StatusCode::OK, &body))
}

/// Writes the refresh side of a mint: a new grant with its first token, or a rotation.
/// Returns the refresh token to hand out.
async fn persist_refresh(
    app: &App,
    grant: &Grant,
    plan: RefreshPlan,
    now: i64,
) -> Result<Option<String>, OAuthError> {
    match plan {
        RefreshPlan::NewGrant(token) => {
            let hash = token.as_deref().map(SecretHash::of);
            app.stores.grants.create_grant(grant, hash.as_ref()).await?;
            Ok(token)
        }
        RefreshPlan::Rotate {
            presented,
            successor,
        } => {
            let sealed = successor::seal(&presented, &successor, app.random.as_ref())
                .ok_or_else(|| OAuthError::server("could not seal a refresh token"))?;
            let outcome = app
                .stores
                .grants
                .rotate_refresh(
                    &SecretHash::of(&presented),
                    &SecretHash::of(&successor),
                    &sealed,
                    now,
                    app.config.refresh_grace,
                )
                .await?;
            match outcome {
                Rotation::Rotated(_) => Ok(Some(successor)),
                // A race within the grace window: the first presentation's successor again,
                // so the family keeps one current token.
                Rotation::Raced(_, kept) => kept
                    .and_then(|sealed| successor::open(&presented, &sealed))
                    .map(Some)
                    .ok_or_else(|| {
                        OAuthError::invalid_grant("refresh token was just used; use its successor")
                    }),
                Rotation::Reused(g) => {
                    // RFC 9700 §4.14: a replayed refresh token means one copy is stolen;
                    // the whole family goes, access tokens included.
                    revoke_family(app, &g.id).await?;
                    app.metrics
                        .refresh_reuse_detected
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(grant = %g.id, client = %g.client_id, "refresh token reused; grant revoked");
                    Err(OAuthError::invalid_grant(
                        "refresh token was already used; the grant is revoked",
                    ))
                }
                Rotation::Invalid => Err(OAuthError::invalid_grant(
                    "refresh token is invalid, expired or revoked",
                )),
            }
        }
    }
}

/// The OIDC ID token of a code exchange.
#[allow(clippy::too_many_arguments)]
fn id_token(
    app: &App,
    ring: &Ring,
    client: &ResolvedClient,
    grant: &Grant,
    user: &User,
    scopes: &ScopeSet,
    nonce: Option<&str>,
    now: i64,
) -> Result<String, OAuthError> {
    let with_email = scopes.contains(EMAIL);
    let claims = IdClaims {
        iss: &app.config.issuer,
        sub: user.sub.as_str(),
        aud: client.id.as_str(),
        azp: client.id.as_str(),
        iat: now,
        exp: now + ID_TOKEN_TTL,
        auth_time: grant.auth_time,
        amr: grant.amr.names(),
        nonce,
        email: with_email.then_some(user.email.as_str()),
        email_verified: with_email.then_some(user.email_verified),
    };
    mint_id(ring, &claims).map_err(OAuthError::server)
}
