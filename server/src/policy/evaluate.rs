//! Running a phase across a resource's bindings. Claims merge in order; any deny wins; a
//! failure fails closed unless the binding opted into fail-open. Output rules are enforced
//! here, for every policy alike: reserved claims cannot be set, and only scopes in play can
//! be dropped (a policy can narrow a grant, never widen it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use super::engine::{
    Budget, CompiledPolicy, GuestInput, INLINE_BUDGET, PolicyEngine, PolicyFailure, RawDecision,
};
use super::input::{Decision, PolicyInput};
use super::registry::PolicyRegistry;
use crate::metrics::Histogram;

/// Claims a policy may never set: they carry the token's own meaning.
pub const RESERVED_CLAIMS: [&str; 10] = [
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
];

/// One policy's part in a decision, for the decision log.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRun {
    #[serde(serialize_with = "shared_str")]
    pub policy: Arc<str>,
    #[serde(serialize_with = "shared_str")]
    pub digest: Arc<str>,
    /// `allow`, `deny`, `failed` or `failed_open`.
    pub outcome: &'static str,
    pub micros: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn shared_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// What a chain of policies decided for one phase. At consent `claims` is empty; at the
/// token phase `notices` is.
#[derive(Debug)]
pub enum Verdict {
    Allow {
        claims: Map<String, Value>,
        drop_scopes: Vec<String>,
        notices: Vec<String>,
        runs: Vec<PolicyRun>,
    },
    Deny {
        reason: String,
        runs: Vec<PolicyRun>,
    },
    /// A fail-closed policy failed: nothing may be granted.
    Failed {
        policy: Arc<str>,
        failure: PolicyFailure,
        runs: Vec<PolicyRun>,
    },
}

impl Verdict {
    /// The verdict as `lanyard policy eval` prints it.
    pub fn to_json(&self) -> Value {
        match self {
            Verdict::Allow {
                claims,
                drop_scopes,
                notices,
                runs,
            } => serde_json::json!({
                "decision": "allow", "claims": claims, "drop_scopes": drop_scopes, "notices": notices, "runs": runs,
            }),
            Verdict::Deny { reason, runs } => {
                serde_json::json!({"decision": "deny", "reason": reason, "runs": runs})
            }
            Verdict::Failed {
                policy,
                failure,
                runs,
            } => serde_json::json!({
                "decision": "failed", "policy": &**policy, "reason": failure.to_string(), "runs": runs,
            }),
        }
    }
}

/// Calls one policy (with its full deadline) and checks its answer against the rules and
/// the request.
pub fn decide(
    engine: &PolicyEngine,
    policy: &CompiledPolicy,
    input: &PolicyInput,
) -> Result<Decision, PolicyFailure> {
    decide_within(
        engine,
        policy,
        &GuestInput::from_fixture(input),
        Budget::Full,
    )
}

fn decide_within(
    engine: &PolicyEngine,
    policy: &CompiledPolicy,
    input: &GuestInput,
    budget: Budget,
) -> Result<Decision, PolicyFailure> {
    let raw = engine.call(policy, input, budget)?;
    validate(raw, input.scopes())
}

/// Checks an answer against the rules; `scopes` are the ones this call was given.
fn validate(raw: RawDecision, scopes: &[String]) -> Result<Decision, PolicyFailure> {
    match raw {
        RawDecision::Deny(reason) => Ok(Decision::Deny {
            reason: reason.chars().take(500).collect(),
        }),
        RawDecision::Allow {
            drop_scopes,
            notices,
            claims,
        } => {
            if let Some(s) = drop_scopes.iter().find(|s| !scopes.contains(s)) {
                return Err(PolicyFailure::BadOutput(format!(
                    "dropped scope {s:?}, which was not in play (a policy cannot add scopes)"
                )));
            }
            if let Some((name, _)) = claims
                .iter()
                .find(|(n, _)| RESERVED_CLAIMS.contains(&n.as_str()))
            {
                return Err(PolicyFailure::BadOutput(format!(
                    "set reserved claim {name:?}"
                )));
            }
            if let Some((name, _)) = claims.iter().find(|(n, _)| n.is_empty() || n.len() > 128) {
                return Err(PolicyFailure::BadOutput(format!(
                    "claim name {name:?} is empty or too long"
                )));
            }
            Ok(Decision::Allow {
                claims: claims.into_iter().collect(),
                drop_scopes,
                notices,
            })
        }
    }
}

/// Calls each policy bound to the resource, in order, threading the scopes through. Under
/// the inline budget a call that runs out of time abandons the whole chain (`None`), to be
/// run again with the full deadline: policies are deterministic, so nothing is lost.
///
/// The budget is wall-clock time, so a call can also overrun it because its thread was
/// preempted. Only the re-run tells the two apart: a version whose call takes longer than
/// the inline budget with the full deadline is marked slow and not tried inline for a
/// while. Marking it at the first overrun sent every later mint through the blocking
/// pool (two thread hops each) whenever a busy machine preempted one policy call.
fn run_chain(registry: &PolicyRegistry, guest: &mut GuestInput, budget: Budget) -> Option<Chain> {
    let chain = call_each(registry, guest, budget)?;
    report_failures(&chain);
    Some(chain)
}

/// Logs and counts a finished chain's failures. Only here, once the chain is final: an
/// inline attempt abandoned part-way runs again from the start, and a failure it met
/// before the abandoning call would otherwise be logged and counted twice.
fn report_failures(chain: &Chain) {
    for run in &chain.runs {
        let failure = run.detail.as_deref().unwrap_or_default();
        match run.outcome {
            "failed_open" => {
                tracing::warn!(policy = %run.policy, digest = %run.digest, %failure, "policy failed; binding is fail-open, continuing without it");
                FAILED_OPEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            "failed" => {
                tracing::error!(policy = %run.policy, digest = %run.digest, %failure, "policy failed; failing closed");
                FAILED_CLOSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// The calls of one chain, in binding order; `None` when an inline attempt is abandoned.
fn call_each(registry: &PolicyRegistry, guest: &mut GuestInput, budget: Budget) -> Option<Chain> {
    let mut chain = Chain::default();
    guest.restart();
    for binding in registry.bound_to(guest.resource()) {
        let Some(policy) = registry.active(&binding.policy) else {
            continue;
        };
        if budget == Budget::Inline && policy.is_slow() {
            return None;
        }
        guest.set_config(&binding.config);
        let started = Instant::now();
        let result = decide_within(&registry.engine, &policy, guest, budget);
        if budget == Budget::Inline && result == Err(PolicyFailure::Timeout) {
            return None;
        }
        let took = started.elapsed();
        if budget == Budget::Full && took > INLINE_BUDGET {
            policy.mark_slow();
        }
        CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CALL_SECONDS.observe(took);
        let micros = took.as_micros() as u64;
        let run = |outcome, detail| PolicyRun {
            policy: policy.name.clone(),
            digest: policy.digest.clone(),
            outcome,
            micros,
            detail,
        };
        match result {
            Ok(Decision::Allow {
                claims,
                drop_scopes,
                notices,
            }) => {
                chain.runs.push(run("allow", None));
                guest.drop_scopes(&drop_scopes);
                for s in drop_scopes {
                    if !chain.drop_scopes.contains(&s) {
                        chain.drop_scopes.push(s);
                    }
                }
                chain.notices.extend(notices);
                chain.claims.extend(claims);
            }
            Ok(Decision::Deny { reason }) => {
                chain.runs.push(run("deny", Some(reason.clone())));
                chain.deny = Some(reason);
                // Any deny wins; nothing after it can change that.
                return Some(chain);
            }
            Err(failure) if binding.fail_open => {
                chain
                    .runs
                    .push(run("failed_open", Some(failure.to_string())));
            }
            Err(failure) => {
                chain.runs.push(run("failed", Some(failure.to_string())));
                chain.failed = Some((policy.name.clone(), failure));
                return Some(chain);
            }
        }
    }
    Some(chain)
}

/// Policy failures that a fail-open binding let through, for `/metrics`.
pub static FAILED_OPEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Policy failures that failed closed, for `/metrics`.
pub static FAILED_CLOSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Policy calls made, for `/metrics`.
pub static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// How long policy calls took, for `/metrics`: from well inside the per-call target (50 µs
/// at p99) to the default deadline (50 ms) and past it.
pub static CALL_SECONDS: Histogram = Histogram::new(&[
    Duration::from_micros(10),
    Duration::from_micros(25),
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(25),
    Duration::from_millis(100),
]);

#[derive(Default)]
struct Chain {
    claims: Map<String, Value>,
    drop_scopes: Vec<String>,
    notices: Vec<String>,
    runs: Vec<PolicyRun>,
    deny: Option<String>,
    failed: Option<(Arc<str>, PolicyFailure)>,
}

/// Runs the chain bound to the input's resource for its phase, with the full deadline.
pub fn evaluate(registry: &PolicyRegistry, input: &mut GuestInput) -> Verdict {
    match run_chain(registry, input, Budget::Full) {
        Some(c) => verdict(c),
        // Only the inline budget abandons a chain.
        None => Verdict::Failed {
            policy: "".into(),
            failure: PolicyFailure::Timeout,
            runs: Vec::new(),
        },
    }
}

/// The chain under the inline budget; `None` when a policy needs longer.
pub fn evaluate_inline(registry: &PolicyRegistry, input: &mut GuestInput) -> Option<Verdict> {
    run_chain(registry, input, Budget::Inline).map(verdict)
}

fn verdict(c: Chain) -> Verdict {
    match (c.failed, c.deny) {
        (Some((policy, failure)), _) => Verdict::Failed {
            policy,
            failure,
            runs: c.runs,
        },
        (None, Some(reason)) => Verdict::Deny {
            reason,
            runs: c.runs,
        },
        (None, None) => Verdict::Allow {
            claims: c.claims,
            drop_scopes: c.drop_scopes,
            notices: c.notices,
            runs: c.runs,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reserved_claims_and_added_scopes_are_bad_output() {
        let reserved = RawDecision::Allow {
            drop_scopes: vec![],
            notices: vec![],
            claims: vec![("sub".into(), Value::from("x"))],
        };
        assert!(matches!(
            validate(reserved, &scopes(&["read"])),
            Err(PolicyFailure::BadOutput(_))
        ));
        let added = RawDecision::Allow {
            drop_scopes: vec!["admin".into()],
            notices: vec![],
            claims: vec![],
        };
        assert!(matches!(
            validate(added, &scopes(&["read"])),
            Err(PolicyFailure::BadOutput(_))
        ));
        let fine = RawDecision::Allow {
            drop_scopes: vec!["read".into()],
            notices: vec![],
            claims: vec![("tier".into(), Value::from("pro"))],
        };
        assert!(matches!(
            validate(fine, &scopes(&["read"])),
            Ok(Decision::Allow { .. })
        ));
    }
}
