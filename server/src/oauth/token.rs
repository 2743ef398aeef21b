//! The token endpoint (RFC 6749 §3.2): parsing picks the grant, one function per grant.

use super::client::ResolvedClient;
use super::client_auth::authenticate;
use super::client_credentials;
use super::error::OAuthError;
use super::issue::{RefreshPlan, TokenRequestContext, issue_tokens};
use super::pkce::Challenge;
use super::types::{ResourceUri, ScopeSet};
use crate::app::App;
use crate::clock::UnixTime;
use crate::config::Config;
use crate::domain::GrantType;
use crate::domain::{ClientId, UserId};
use crate::http::Req;
use crate::http::request::Params;
use crate::http::response::Resp;
use crate::secret::SecretHash;
use crate::store::{Grant, PendingGrant, RevocationKey, StoreError, Stores};

/// A token request, by grant: what the endpoint reads from the form before it
/// authenticates the client.
#[derive(Debug)]
pub enum TokenRequest<'a> {
    AuthorizationCode {
        code: &'a str,
        verifier: &'a str,
        redirect_uri: Option<&'a str>,
        resource: Option<&'a str>,
    },
    RefreshToken {
        token: &'a str,
        scope: Option<&'a str>,
        resource: Option<&'a str>,
    },
    ClientCredentials {
        scope: Option<&'a str>,
        resource: Option<&'a str>,
    },
}

impl<'a> TokenRequest<'a> {
    /// `grant_type` is read first, so an unknown one is `unsupported_grant_type`.
    pub fn parse(form: &'a Params) -> Result<Self, OAuthError> {
        let required = |k: &str| {
            form.get(k)
                .ok_or_else(|| OAuthError::invalid_request(format!("{k} is required")))
        };
        let grant_type = match form.get("grant_type") {
            Some(g) => GrantType::parse(g).map_err(|_| {
                OAuthError::UnsupportedGrantType(format!("grant_type {g} is not supported"))
            })?,
            None => return Err(OAuthError::invalid_request("grant_type is required")),
        };
        match grant_type {
            GrantType::AuthorizationCode => Ok(Self::AuthorizationCode {
                code: required("code")?,
                verifier: required("code_verifier")?,
                redirect_uri: form.get("redirect_uri"),
                resource: form.get("resource"),
            }),
            GrantType::RefreshToken => Ok(Self::RefreshToken {
                token: required("refresh_token")?,
                scope: form.get("scope"),
                resource: form.get("resource"),
            }),
            GrantType::ClientCredentials => Ok(Self::ClientCredentials {
                scope: form.get("scope"),
                resource: form.get("resource"),
            }),
        }
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

pub async fn handle(app: &App, req: &Req) -> Result<Resp, OAuthError> {
    if req.method != http::Method::POST {
        return Err(OAuthError::invalid_request("the token endpoint takes POST"));
    }
    if !req.is_form() {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = req.form();
    if let Some(name) = form.repeated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} was sent more than once"
        )));
    }
    let request = TokenRequest::parse(&form)?;
    let client = authenticate(app, req, &form).await?;
    if !client.allows_grant(request.grant_type()) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use {}",
            request.grant_type()
        )));
    }
    match request {
        TokenRequest::AuthorizationCode {
            code,
            verifier,
            redirect_uri,
            resource,
        } => exchange_code(app, &client, code, verifier, redirect_uri, resource).await,
        TokenRequest::RefreshToken {
            token,
            scope,
            resource,
        } => rotate_refresh(app, &client, token, scope, resource).await,
        TokenRequest::ClientCredentials { scope, resource } => {
            client_credentials::grant(app, &client, scope, resource).await
        }
    }
}

/// The code's pending grant, taken so that it works once. A code seen before revokes what
/// its first use issued (RFC 6749 §4.1.2).
async fn take_code(
    app: &App,
    hash: &SecretHash,
    now: UnixTime,
) -> Result<PendingGrant, OAuthError> {
    if let Some(pending) = app.stores.ephemeral.take_code(hash, now).await? {
        return Ok(pending);
    }
    if let Some(grant_id) = app.stores.ephemeral.code_used_by(hash, now).await? {
        revoke_family(app, &grant_id).await?;
        app.metrics
            .code_reuse_detected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(grant = %grant_id, "authorization code reused; grant revoked");
        return Err(OAuthError::invalid_grant("authorization code already used"));
    }
    Err(OAuthError::invalid_grant(
        "authorization code is invalid or expired",
    ))
}

async fn exchange_code(
    app: &App,
    client: &ResolvedClient,
    code: &str,
    verifier: &str,
    redirect_uri: Option<&str>,
    resource: Option<&str>,
) -> Result<Resp, OAuthError> {
    let now = app.now();
    let hash = SecretHash::of(code);
    let pending = take_code(app, &hash, now).await?;
    // Whatever happens next, this code is spent; remember what it becomes.
    let grant_id = app.random.id();
    app.stores
        .ephemeral
        .mark_code_used(
            &hash,
            &grant_id,
            now + app
                .config
                .refresh_token_ttl
                .max(app.config.access_token_ttl),
        )
        .await?;
    if pending.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if redirect_uri.is_some_and(|r| r != pending.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if !Challenge::from_stored(pending.code_challenge.clone()).verify(verifier) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code challenge",
        ));
    }
    check_resource(resource, &pending.resource)?;
    // A consent withdrawn since the code was issued (the app revoked on the account page,
    // or the account deleted) takes the code with it.
    let allowed = app
        .stores
        .grants
        .consent(&pending.sub, &client.id, &pending.resource)
        .await?;
    if !allowed.is_some_and(|allowed| pending.scopes.is_subset_of(&allowed)) {
        return Err(OAuthError::invalid_grant(
            "the consent behind this code was withdrawn",
        ));
    }
    let grant = Grant {
        id: grant_id,
        client_id: client.id.clone(),
        sub: pending.sub.clone(),
        resource: pending.resource.clone(),
        scopes: pending.scopes.clone(),
        auth_time: pending.auth_time,
        amr: pending.amr.clone(),
        created_at: now,
        expires_at: now + app.config.refresh_token_ttl,
        revoked_at: None,
    };
    let ctx = TokenRequestContext {
        grant_type: GrantType::AuthorizationCode,
        scopes: pending.scopes.clone(),
        nonce: pending.nonce.as_deref(),
        issue_id_token: true,
    };
    let plan = match client.allows_grant(GrantType::RefreshToken) {
        true => RefreshPlan::NewGrant(Some(app.random.token())),
        false => RefreshPlan::NewGrant(None),
    };
    issue_tokens(app, client, &grant, &ctx, plan).await
}

async fn rotate_refresh(
    app: &App,
    client: &ResolvedClient,
    token: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<Resp, OAuthError> {
    let now = app.now();
    let presented = SecretHash::of(token);
    // Read first, so that a narrowing error or a policy deny leaves the token unspent.
    let grant = app
        .stores
        .grants
        .grant_by_refresh(&presented, now, true)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("refresh token is invalid, expired or revoked"))?;
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    check_resource(resource, &grant.resource)?;
    let granted = grant.scopes.clone();
    // RFC 6749 §6: a refresh may narrow the scope, never widen it.
    let scopes = match scope {
        None => granted,
        Some(s) => {
            let asked = ScopeSet::parse(s).map_err(|e| OAuthError::InvalidScope(e.to_string()))?;
            if !asked.is_subset_of(&granted) {
                return Err(OAuthError::InvalidScope(
                    "scope exceeds what was granted".into(),
                ));
            }
            asked
        }
    };
    let ctx = TokenRequestContext {
        grant_type: GrantType::RefreshToken,
        scopes,
        nonce: None,
        issue_id_token: false,
    };
    let plan = RefreshPlan::Rotate {
        presented: token.to_string(),
        successor: app.random.token(),
    };
    issue_tokens(app, client, &grant, &ctx, plan).await
}

/// RFC 8707 §2.2: a `resource` at the token endpoint must be one the grant covers.
fn check_resource(asked: Option<&str>, bound: &ResourceUri) -> Result<(), OAuthError> {
    let Some(raw) = asked else {
        return Ok(());
    };
    let asked = ResourceUri::parse(raw).map_err(|e| OAuthError::InvalidTarget(e.to_string()))?;
    if asked.same_as(bound) {
        Ok(())
    } else {
        Err(OAuthError::InvalidTarget(
            "resource is not the one this grant was made for".into(),
        ))
    }
}

/// Revokes a grant and, until they would have expired anyway, its access tokens.
pub async fn revoke_family(app: &App, grant_id: &str) -> Result<(), OAuthError> {
    app.stores.grants.revoke_grant(grant_id, app.now()).await?;
    refuse_access(app, grant_id).await?;
    Ok(())
}

/// Refuses every access token a grant minted, on every instance, until they would have
/// expired anyway.
pub async fn refuse_access(app: &App, grant_id: &str) -> Result<(), StoreError> {
    refuse_grant_access(&app.stores, &app.config, app.now(), grant_id).await
}

/// [`refuse_access`] for callers without an [`App`] (the CLI's operations).
pub async fn refuse_grant_access(
    stores: &Stores,
    config: &Config,
    now: UnixTime,
    grant_id: &str,
) -> Result<(), StoreError> {
    let until = now + config.access_token_ttl + 60;
    let key = RevocationKey::Grant(grant_id.to_string());
    stores.ephemeral.revoke_access(&key, until).await
}

/// Withdraws every consent `sub` gave `client_id`, revokes the grants between them, and
/// refuses their access tokens on every instance; returns how many grants that touched.
/// A failure part-way is worth a retry: the grants revoked are found again.
pub async fn revoke_app(
    stores: &Stores,
    config: &Config,
    now: UnixTime,
    sub: &UserId,
    client_id: &ClientId,
) -> Result<usize, StoreError> {
    let since = now - config.access_token_ttl;
    let grants = stores.grants.revoke_app(sub, client_id, now, since).await?;
    for id in &grants {
        refuse_grant_access(stores, config, now, id).await?;
    }
    Ok(grants.len())
}

/// Revokes every grant of a user and, until they would have expired anyway, their access
/// tokens; returns how many grants were live.
pub async fn revoke_user_grants(app: &App, sub: &UserId) -> Result<usize, StoreError> {
    let ids = app.stores.grants.revoke_user_grants(sub, app.now()).await?;
    for id in &ids {
        refuse_access(app, id).await?;
    }
    Ok(ids.len())
}
