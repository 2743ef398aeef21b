//! Where the OAuth flows meet the policies: the consent phase before a code (and before the
//! consent page), the token phase before every mint.

use serde_json::{Map, Value};

use super::client::ResolvedClient;
use super::error::OAuthError;
use super::types::{ResourceUri, ScopeSet};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::{GrantType, PolicyOutcome, SignedIn};
use crate::policy::chain::evaluate;
use crate::policy::input::{ClientInput, Phase};
use crate::policy::{ChainFailed, Decision, GuestInput, PolicyRun, UserView};
use crate::store::{AuthRequest, DecisionEntry, User};

/// The user a mint or a consent is for, and how and when they signed in: the session's at
/// consent, the grant's at the token phase. A client-credentials mint has none.
#[derive(Debug, Clone, Copy)]
pub struct ForUser<'a> {
    pub user: &'a User,
    pub sign_in: &'a SignedIn,
}

/// A chain's input, straight from the records (`lanyard policy eval` builds it the same way).
pub fn guest_input(
    app: &App,
    phase: Phase,
    grant_type: Option<GrantType>,
    user: Option<ForUser<'_>>,
    client: &ResolvedClient,
    resource: &str,
    scopes: Vec<String>,
) -> GuestInput {
    let amr = user.map(|u| u.sign_in.amr.names()).unwrap_or_default();
    let view = user.map(|ForUser { user, sign_in }| UserView {
        sub: user.sub.as_str(),
        email: user.email.as_str(),
        email_verified: user.email_verified,
        metadata: &user.metadata,
        amr: &amr,
        auth_time: sign_in.auth_time,
    });
    let client = ClientInput {
        id: client.id.to_string(),
        name: client.display_name(),
    };
    GuestInput::new(phase, grant_type, view, client, resource, scopes, app.now())
}

/// What the policies let through for one phase.
#[derive(Debug, Default)]
pub struct Allowed {
    /// Claims to add to the token (token phase).
    pub claims: Map<String, Value>,
    /// Requested scopes the policies took out.
    pub dropped: Vec<String>,
    /// What the consent page tells the user (consent phase).
    pub notices: Vec<String>,
    pub runs: Vec<PolicyRun>,
}

/// Why a phase cannot go ahead.
#[derive(Debug)]
pub enum Blocked {
    /// A policy said no; the user sees why and the client gets `access_denied` (consent)
    /// or `invalid_grant` (token).
    Denied(String),
    /// A policy failed closed.
    Failed(ChainFailed),
    /// The store could not be read.
    Unavailable,
}

/// Runs the chain bound to `resource` for `phase`, on this worker: the engine yields at
/// every epoch tick, so a slow policy never holds the worker past a tick at a time.
async fn run_phase(app: &App, mut input: GuestInput) -> Result<Allowed, Blocked> {
    let Some(registry) = &app.policies else {
        return Ok(Allowed::default());
    };
    let evaluation = evaluate(registry, &mut input).await;
    app.metrics.observe_policy_runs(&evaluation.runs);
    match evaluation.decision {
        Ok(Decision::Allow {
            claims,
            drop_scopes,
            notices,
        }) => Ok(Allowed {
            claims,
            dropped: drop_scopes,
            notices,
            runs: evaluation.runs,
        }),
        Ok(Decision::Deny { reason }) => Err(Blocked::Denied(reason)),
        Err(failed) => Err(Blocked::Failed(failed)),
    }
}

/// What a mint is: which client, for which user (none for client credentials), for which
/// resource, by which grant.
#[derive(Debug, Clone, Copy)]
pub struct Mint<'a> {
    pub client: &'a ResolvedClient,
    pub user: Option<ForUser<'a>>,
    pub resource: &'a ResourceUri,
    pub grant_type: GrantType,
}

/// The token phase, before every mint: the scopes left and the claims to add.
pub async fn token_gate(
    app: &App,
    mint: &Mint<'_>,
    scopes: ScopeSet,
) -> Result<(ScopeSet, Allowed), OAuthError> {
    if app.policies.is_none() {
        return Ok((scopes, Allowed::default()));
    }
    let input = guest_input(
        app,
        Phase::Token,
        Some(mint.grant_type),
        mint.user,
        mint.client,
        mint.resource.as_str(),
        scopes.to_vec(),
    );
    match run_phase(app, input).await {
        Ok(allowed) => Ok((scopes.without(&allowed.dropped), allowed)),
        // The grant is not honoured now; a later refresh may be (a renewed subscription).
        Err(Blocked::Denied(reason)) => Err(OAuthError::invalid_grant(reason)),
        Err(Blocked::Failed(failed)) => Err(OAuthError::server(failed.to_string())),
        Err(Blocked::Unavailable) => Err(OAuthError::TemporarilyUnavailable),
    }
}

/// Writes the decision log entry for a mint that ran policies; `iat` is the token's.
pub async fn log_decision(
    app: &App,
    jti: &str,
    iat: UnixTime,
    mint: &Mint<'_>,
    runs: &[PolicyRun],
) {
    if runs.is_empty() {
        return;
    }
    let entry = DecisionEntry {
        jti: jti.to_string(),
        at: iat,
        client_id: mint.client.id.clone(),
        sub: mint.user.map(|u| u.user.sub.clone()),
        resource: mint.resource.clone(),
        grant_type: mint.grant_type,
        // A mint that is logged went ahead: denials and failures refuse the mint.
        outcome: PolicyOutcome::Allow,
        runs: serde_json::to_string(runs).unwrap_or_else(|_| "[]".into()),
    };
    app.decisions.submit(entry).await;
}

/// The consent phase, before the consent page and before a code: the scopes the user is
/// asked for (`auth.scopes` less what the policies took out) and the notices to show.
pub async fn consent_gate(
    app: &App,
    auth: &AuthRequest,
    sign_in: &SignedIn,
    client: &ResolvedClient,
) -> Result<(ScopeSet, Allowed), Blocked> {
    if app.policies.is_none() {
        return Ok((auth.scopes.clone(), Allowed::default()));
    }
    let user = match app.stores.users.user_by_sub(&sign_in.sub).await {
        Ok(Some(u)) => u,
        Ok(None) => return Err(Blocked::Denied("Your account no longer exists.".into())),
        Err(_) => return Err(Blocked::Unavailable),
    };
    let input = guest_input(
        app,
        Phase::Consent,
        None,
        Some(ForUser {
            user: &user,
            sign_in,
        }),
        client,
        auth.resource.as_str(),
        auth.scopes.to_vec(),
    );
    let allowed = run_phase(app, input).await?;
    Ok((auth.scopes.without(&allowed.dropped), allowed))
}
