//! Running a phase across a resource's bindings: the chain rules, in one place.
//!
//! - Policies run in binding order; each sees only the scopes still in play.
//! - Claims merge in order (a later policy's claim replaces an earlier one's).
//! - Any deny wins: the chain stops there.
//! - A failure fails the chain closed, unless its binding opted into fail-open, in which
//!   case the chain goes on without that policy's effects.
//! - The output rules hold for every policy alike: reserved claims cannot be set, and only
//!   scopes in play can be dropped (a policy can narrow a grant, never widen it).
//!
//! The chain reaches policies through [`Decide`], so these rules are tested natively, with
//! scripted policies, and the same code runs the real ones through wasmtime.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use super::engine::{CompiledPolicy, PolicyEngine, PolicyFailure};
use super::guest::GuestInput;
use super::input::Decision;
use super::registry::PolicyRegistry;

/// Claims a policy may never set: those Lanyard sets itself, and those standards give a
/// security meaning (RFC 7519, 7800, 8176, 8693, OIDC Core) that a resource server may act on.
pub const RESERVED_CLAIMS: [&str; 23] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "azp",
    "client_id",
    "scope",
    "email",
    "email_verified",
    "typ",
    "cnf",
    "acr",
    "amr",
    "auth_time",
    "act",
    "may_act",
    "sid",
    "nonce",
    "at_hash",
    "c_hash",
];

/// A policy the chain can ask.
pub trait Decide {
    fn name(&self) -> &Arc<str>;
    fn digest(&self) -> &Arc<str>;
    /// One call, with `input` carrying the scopes in play and this binding's config.
    fn decide(
        &self,
        input: &GuestInput,
    ) -> impl Future<Output = Result<Decision, PolicyFailure>> + Send;
}

/// One binding's place in a chain.
#[derive(Debug)]
pub struct Link<'a, P> {
    pub policy: P,
    /// The binding's config, as JSON text.
    pub config: &'a str,
    pub fail_open: bool,
}

/// How one policy's call ended, as the decision log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Allow,
    Deny,
    Failed,
    FailedOpen,
}

/// One policy's part in a decision, for the decision log and the metrics.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRun {
    #[serde(serialize_with = "shared_str")]
    pub policy: Arc<str>,
    #[serde(serialize_with = "shared_str")]
    pub digest: Arc<str>,
    pub outcome: RunOutcome,
    pub micros: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn shared_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

impl PolicyRun {
    pub fn took(&self) -> Duration {
        Duration::from_micros(self.micros)
    }
}

/// A fail-closed policy failed: nothing may be granted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("policy {policy} failed: {failure}")]
pub struct ChainFailed {
    pub policy: Arc<str>,
    pub failure: PolicyFailure,
}

/// What a chain decided, and each policy's part in it.
#[derive(Debug)]
pub struct Evaluation {
    pub decision: Result<Decision, ChainFailed>,
    pub runs: Vec<PolicyRun>,
}

impl Evaluation {
    /// The evaluation as `lanyard policy eval` prints it.
    pub fn to_json(&self) -> Value {
        let mut out = match &self.decision {
            Ok(decision) => serde_json::to_value(decision).unwrap_or_default(),
            Err(failed) => serde_json::json!({
                "decision": "failed", "policy": &*failed.policy, "reason": failed.failure.to_string(),
            }),
        };
        out["runs"] = serde_json::to_value(&self.runs).unwrap_or_default();
        out
    }
}

/// Checks one answer against the rules; `scopes` are the ones the call was given.
pub fn check(decision: Decision, scopes: &[String]) -> Result<Decision, PolicyFailure> {
    match decision {
        Decision::Deny { reason } => Ok(Decision::Deny {
            reason: reason.chars().take(500).collect(),
        }),
        Decision::Allow {
            claims,
            drop_scopes,
            notices,
        } => {
            if let Some(s) = drop_scopes.iter().find(|s| !scopes.contains(s)) {
                return Err(PolicyFailure::BadOutput(format!(
                    "dropped scope {s:?}, which was not in play (a policy cannot add scopes)"
                )));
            }
            if let Some(name) = claims
                .keys()
                .find(|n| RESERVED_CLAIMS.contains(&n.as_str()))
            {
                return Err(PolicyFailure::BadOutput(format!(
                    "set reserved claim {name:?}"
                )));
            }
            if let Some(name) = claims.keys().find(|n| n.is_empty() || n.len() > 128) {
                return Err(PolicyFailure::BadOutput(format!(
                    "claim name {name:?} is empty or too long"
                )));
            }
            Ok(Decision::Allow {
                claims,
                drop_scopes,
                notices,
            })
        }
    }
}

/// Runs `links` in order over `input` (whose scopes are narrowed as policies drop them).
pub async fn run<P: Decide>(
    links: impl IntoIterator<Item = Link<'_, P>>,
    input: &mut GuestInput,
) -> Evaluation {
    let mut claims = Map::new();
    let mut dropped: Vec<String> = Vec::new();
    let mut notices = Vec::new();
    let mut runs = Vec::new();
    for link in links {
        let (answer, micros) = call(&link, input).await;
        let run = |outcome, detail| PolicyRun {
            policy: link.policy.name().clone(),
            digest: link.policy.digest().clone(),
            outcome,
            micros,
            detail,
        };
        let failure = match answer {
            Ok(Decision::Allow {
                claims: added,
                drop_scopes,
                notices: said,
            }) => {
                runs.push(run(RunOutcome::Allow, None));
                input.drop_scopes(&drop_scopes);
                for s in drop_scopes {
                    if !dropped.contains(&s) {
                        dropped.push(s);
                    }
                }
                notices.extend(said);
                claims.extend(added);
                continue;
            }
            Ok(Decision::Deny { reason }) => {
                runs.push(run(RunOutcome::Deny, Some(reason.clone())));
                let decision = Ok(Decision::Deny { reason });
                return Evaluation { decision, runs };
            }
            Err(failure) => failure,
        };
        let (name, digest) = (link.policy.name(), link.policy.digest());
        if link.fail_open {
            tracing::warn!(policy = %name, %digest, %failure, "policy failed; binding is fail-open, continuing without it");
            runs.push(run(RunOutcome::FailedOpen, Some(failure.to_string())));
            continue;
        }
        tracing::error!(policy = %name, %digest, %failure, "policy failed; failing closed");
        runs.push(run(RunOutcome::Failed, Some(failure.to_string())));
        let policy = name.clone();
        let decision = Err(ChainFailed { policy, failure });
        return Evaluation { decision, runs };
    }
    let decision = Ok(Decision::Allow {
        claims,
        drop_scopes: dropped,
        notices,
    });
    Evaluation { decision, runs }
}

/// One link's call with its binding's config, checked against the rules, and how many
/// microseconds it took.
async fn call<P: Decide>(
    link: &Link<'_, P>,
    input: &mut GuestInput,
) -> (Result<Decision, PolicyFailure>, u64) {
    input.set_config(link.config);
    let started = Instant::now();
    let answer = match link.policy.decide(input).await {
        Ok(decision) => check(decision, input.scopes()),
        Err(failure) => Err(failure),
    };
    (answer, started.elapsed().as_micros() as u64)
}

/// A compiled policy version, called through the engine.
#[derive(Debug)]
pub struct Compiled<'a> {
    pub engine: &'a PolicyEngine,
    pub policy: Arc<CompiledPolicy>,
}

impl Decide for Compiled<'_> {
    fn name(&self) -> &Arc<str> {
        &self.policy.name
    }
    fn digest(&self) -> &Arc<str> {
        &self.policy.digest
    }
    fn decide(
        &self,
        input: &GuestInput,
    ) -> impl Future<Output = Result<Decision, PolicyFailure>> + Send {
        self.engine.call(&self.policy, input)
    }
}

/// Runs the chain bound to the input's resource for its phase.
pub async fn evaluate(registry: &PolicyRegistry, input: &mut GuestInput) -> Evaluation {
    let links: Vec<_> = registry
        .bound_to(input.resource())
        .filter_map(|binding| {
            Some(Link {
                policy: Compiled {
                    engine: &registry.engine,
                    policy: registry.active(&binding.policy)?,
                },
                config: &binding.config,
                fail_open: binding.fail_open,
            })
        })
        .collect();
    run(links, input).await
}

/// One policy on its own, with its rules checked: `lanyard policy test`.
pub async fn decide(
    engine: &PolicyEngine,
    policy: &CompiledPolicy,
    input: &GuestInput,
) -> Result<Decision, PolicyFailure> {
    check(engine.call(policy, input).await?, input.scopes())
}

#[cfg(test)]
mod tests;
