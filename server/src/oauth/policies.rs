//! Where the OAuth flows meet the policies: the consent phase before a code (and before the
//! consent page), the token phase before every mint.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::client::ResolvedClient;
use super::error::OAuthError;
use super::types::ScopeSet;
use crate::app::App;
use crate::clock::UnixTime;
use crate::policy::PolicyRegistry;
use crate::policy::engine::{GuestInput, UserView};
use crate::policy::evaluate::{evaluate, evaluate_inline};
use crate::policy::input::{ClientInput, Phase};
use crate::policy::{PolicyRun, Verdict};
use crate::store::{AuthRequest, DecisionEntry, Grant, User};

/// A chain's input, straight from the records (`lanyard policy eval` builds it the same way).
pub fn guest_input(
    app: &App,
    phase: Phase,
    grant_type: Option<&str>,
    user: &User,
    client: &ResolvedClient,
    resource: &str,
    scopes: Vec<String>,
) -> GuestInput {
    let view = UserView {
        sub: &user.sub,
        email: &user.email,
        email_verified: user.email_verified,
        metadata: &user.metadata,
    };
    let client = ClientInput {
        id: client.id.clone(),
        name: client.display_name(),
    };
    GuestInput::new(phase, grant_type, view, client, resource, scopes, app.now())
}

/// Runs the chain where it is cheapest: on this async worker under the inline budget (the
/// thread hop to the blocking pool costs more than a well-behaved policy), and only when a
/// policy needs longer, again on the blocking pool with its full deadline, so a spinning
/// policy holds a blocking thread and stalls a worker for at most the budget plus one
/// watchdog tick (and, once the re-run shows it is slow, not again for a while; see
/// `CompiledPolicy::is_slow`).
async fn run(
    registry: Arc<PolicyRegistry>,
    mut input: GuestInput,
) -> Result<Verdict, tokio::task::JoinError> {
    if let Some(v) = evaluate_inline(&registry, &mut input) {
        return Ok(v);
    }
    tokio::task::spawn_blocking(move || evaluate(&registry, &mut input)).await
}

/// What the token phase allows for this mint.
#[derive(Debug, Default)]
pub struct TokenGate {
    pub claims: Map<String, Value>,
    pub scopes: ScopeSet,
    pub runs: Vec<PolicyRun>,
}

pub async fn token_gate(
    app: &App,
    client: &ResolvedClient,
    grant: &Grant,
    user: &User,
    grant_type: &str,
    scopes: ScopeSet,
) -> Result<TokenGate, OAuthError> {
    let Some(registry) = app.policies.clone() else {
        return Ok(TokenGate {
            scopes,
            ..TokenGate::default()
        });
    };
    let input = guest_input(
        app,
        Phase::Token,
        Some(grant_type),
        user,
        client,
        &grant.resource,
        scopes.to_vec(),
    );
    let verdict = run(registry, input)
        .await
        .map_err(|e| OAuthError::server(format!("policy task failed: {e}")))?;
    match verdict {
        Verdict::Allow {
            claims,
            drop_scopes,
            runs,
            ..
        } => Ok(TokenGate {
            claims,
            scopes: scopes.without(&drop_scopes),
            runs,
        }),
        // The grant is not honoured now; a later refresh may be (a renewed subscription).
        Verdict::Deny { reason, .. } => Err(OAuthError::invalid_grant(reason)),
        Verdict::Failed {
            policy, failure, ..
        } => Err(OAuthError::server(format!(
            "policy {policy} failed: {failure}"
        ))),
    }
}

/// Writes the decision log entry for a mint that ran policies; `iat` is the token's.
pub async fn log_decision(
    app: &App,
    jti: &str,
    iat: UnixTime,
    grant: &Grant,
    grant_type: &str,
    runs: &[PolicyRun],
) {
    if runs.is_empty() {
        return;
    }
    let entry = DecisionEntry {
        jti: jti.to_string(),
        at: iat,
        client_id: grant.client_id.clone(),
        sub: grant.sub.clone(),
        resource: grant.resource.clone(),
        grant_type: grant_type.to_string(),
        outcome: "allow".into(),
        runs: serde_json::to_string(runs).unwrap_or_else(|_| "[]".into()),
    };
    app.decisions.submit(entry).await;
}

/// What the consent phase allows.
#[derive(Debug, Default)]
pub struct ConsentGate {
    pub scopes: Vec<String>,
    pub notices: Vec<String>,
}

/// Why consent cannot go ahead.
#[derive(Debug)]
pub enum ConsentBlocked {
    /// A policy said no; the user sees why and the client gets `access_denied`.
    Denied(String),
    /// A policy failed closed.
    Failed(String),
    Unavailable,
}

pub async fn consent_gate(
    app: &App,
    auth: &AuthRequest,
    sub: &str,
    client: &ResolvedClient,
) -> Result<ConsentGate, ConsentBlocked> {
    let Some(registry) = app.policies.clone() else {
        return Ok(ConsentGate {
            scopes: auth.scopes.clone(),
            notices: Vec::new(),
        });
    };
    let user = match app.stores.users.user_by_sub(sub).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return Err(ConsentBlocked::Denied(
                "Your account no longer exists.".into(),
            ));
        }
        Err(_) => return Err(ConsentBlocked::Unavailable),
    };
    let input = guest_input(
        app,
        Phase::Consent,
        None,
        &user,
        client,
        &auth.resource,
        auth.scopes.clone(),
    );
    let verdict = run(registry, input)
        .await
        .map_err(|e| ConsentBlocked::Failed(format!("policy task failed: {e}")))?;
    match verdict {
        Verdict::Allow {
            drop_scopes,
            notices,
            ..
        } => Ok(ConsentGate {
            scopes: auth
                .scopes
                .iter()
                .filter(|s| !drop_scopes.contains(s))
                .cloned()
                .collect(),
            notices,
        }),
        Verdict::Deny { reason, .. } => Err(ConsentBlocked::Denied(reason)),
        Verdict::Failed {
            policy, failure, ..
        } => Err(ConsentBlocked::Failed(format!(
            "policy {policy} failed: {failure}"
        ))),
    }
}
