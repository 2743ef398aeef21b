//! The chain rules, with scripted policies standing in for compiled ones.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;

use super::*;
use crate::domain::GrantType;
use crate::policy::guest::UserView;
use crate::policy::input::{ClientInput, Phase};

type Answer = Box<dyn Fn(&GuestInput) -> Result<Decision, PolicyFailure> + Send + Sync>;

/// A policy that answers with a closure and counts its calls.
struct Scripted {
    name: Arc<str>,
    digest: Arc<str>,
    answer: Answer,
    calls: AtomicU32,
}

impl Decide for &Scripted {
    fn name(&self) -> &Arc<str> {
        &self.name
    }
    fn digest(&self) -> &Arc<str> {
        &self.digest
    }
    fn decide(
        &self,
        input: &GuestInput,
    ) -> impl Future<Output = Result<Decision, PolicyFailure>> + Send {
        self.calls.fetch_add(1, Ordering::Relaxed);
        std::future::ready((self.answer)(input))
    }
}

fn policy(
    name: &str,
    answer: impl Fn(&GuestInput) -> Result<Decision, PolicyFailure> + Send + Sync + 'static,
) -> Scripted {
    Scripted {
        name: name.into(),
        digest: format!("{name}-digest").into(),
        answer: Box::new(answer),
        calls: AtomicU32::new(0),
    }
}

fn allow(claims: Value, drop: &[&str], notices: &[&str]) -> Decision {
    let Value::Object(claims) = claims else {
        panic!("claims must be an object")
    };
    Decision::Allow {
        claims,
        drop_scopes: drop.iter().map(|s| s.to_string()).collect(),
        notices: notices.iter().map(|s| s.to_string()).collect(),
    }
}

fn deny(reason: &str) -> Decision {
    Decision::Deny {
        reason: reason.into(),
    }
}

fn input(scopes: &[&str]) -> GuestInput {
    let user = UserView {
        sub: "u-1",
        email: "ada@example.com",
        email_verified: true,
        metadata: "{}",
        amr: &["pwd"],
        auth_time: 1,
    };
    let client = ClientInput {
        id: "client-1".into(),
        name: "Notes".into(),
    };
    GuestInput::new(
        Phase::Token,
        Some(GrantType::RefreshToken),
        Some(user),
        client,
        "https://notes.example.com/mcp",
        scopes.iter().map(|s| s.to_string()).collect(),
        1_800_000_000,
    )
}

fn link(policy: &Scripted) -> Link<'static, &Scripted> {
    Link {
        policy,
        config: "{}",
        fail_open: false,
    }
}

fn outcomes(e: &Evaluation) -> Vec<(&str, RunOutcome)> {
    e.runs.iter().map(|r| (&*r.policy, r.outcome)).collect()
}

async fn run_all(links: Vec<Link<'_, &Scripted>>, scopes: &[&str]) -> Evaluation {
    run(links, &mut input(scopes)).await
}

#[tokio::test]
async fn claims_merge_in_binding_order_and_a_later_claim_wins() {
    let a = policy("a", |_| {
        Ok(allow(json!({"tier": "free", "org": "x"}), &[], &["n1"]))
    });
    let b = policy("b", |_| Ok(allow(json!({"tier": "pro"}), &[], &["n2"])));
    let e = run_all(vec![link(&a), link(&b)], &["read"]).await;
    assert_eq!(
        e.decision,
        Ok(allow(
            json!({"tier": "pro", "org": "x"}),
            &[],
            &["n1", "n2"]
        ))
    );
    assert_eq!(
        outcomes(&e),
        [("a", RunOutcome::Allow), ("b", RunOutcome::Allow)]
    );
}

#[tokio::test]
async fn any_deny_wins_and_stops_the_chain() {
    let a = policy("a", |_| Ok(allow(json!({"tier": "pro"}), &[], &[])));
    let b = policy("b", |_| Ok(deny("subscription lapsed")));
    let c = policy("c", |_| Ok(allow(json!({}), &[], &[])));
    let e = run_all(vec![link(&a), link(&b), link(&c)], &["read"]).await;
    assert_eq!(e.decision, Ok(deny("subscription lapsed")));
    assert_eq!(
        c.calls.load(Ordering::Relaxed),
        0,
        "nothing runs after a deny"
    );
    assert_eq!(e.runs[1].detail.as_deref(), Some("subscription lapsed"));
}

#[tokio::test]
async fn a_long_deny_reason_is_cut_to_500_characters() {
    let a = policy("a", |_| Ok(deny(&"x".repeat(2_000))));
    let e = run_all(vec![link(&a)], &["read"]).await;
    let Ok(Decision::Deny { reason }) = e.decision else {
        panic!("{e:?}")
    };
    assert_eq!(reason.len(), 500);
}

#[tokio::test]
async fn a_failure_fails_the_chain_closed_and_names_the_policy() {
    let a = policy("a", |_| Err(PolicyFailure::Timeout));
    let b = policy("b", |_| Ok(allow(json!({}), &[], &[])));
    let e = run_all(vec![link(&a), link(&b)], &["read"]).await;
    assert_eq!(
        e.decision,
        Err(ChainFailed {
            policy: "a".into(),
            failure: PolicyFailure::Timeout
        })
    );
    assert_eq!(b.calls.load(Ordering::Relaxed), 0);
    assert_eq!(outcomes(&e), [("a", RunOutcome::Failed)]);
}

#[tokio::test]
async fn a_fail_open_binding_is_skipped_without_its_effects() {
    let a = policy("a", |_| Err(PolicyFailure::Trap("unreachable".into())));
    let b = policy("b", |_| Ok(allow(json!({"org": "x"}), &[], &[])));
    let open = Link {
        fail_open: true,
        ..link(&a)
    };
    let e = run_all(vec![open, link(&b)], &["read"]).await;
    assert_eq!(e.decision, Ok(allow(json!({"org": "x"}), &[], &[])));
    assert_eq!(
        outcomes(&e),
        [("a", RunOutcome::FailedOpen), ("b", RunOutcome::Allow)]
    );
    assert_eq!(
        e.runs[0].detail.as_deref(),
        Some("policy trapped: unreachable")
    );
}

#[tokio::test]
async fn a_reserved_claim_is_bad_output_even_behind_fail_open() {
    for name in RESERVED_CLAIMS {
        let a = policy("a", move |_| Ok(allow(json!({ name: "x" }), &[], &[])));
        let e = run_all(vec![link(&a)], &["read"]).await;
        assert!(
            matches!(&e.decision, Err(ChainFailed { failure: PolicyFailure::BadOutput(m), .. }) if m.contains(name)),
            "{name}: {e:?}"
        );
        let open = Link {
            fail_open: true,
            ..link(&a)
        };
        let e = run_all(vec![open], &["read"]).await;
        assert_eq!(e.decision, Ok(allow(json!({}), &[], &[])), "{name}");
    }
}

#[tokio::test]
async fn later_policies_see_only_the_scopes_still_in_play() {
    let a = policy("a", |_| Ok(allow(json!({}), &["write"], &[])));
    let seen = policy("b", |input| {
        assert_eq!(input.scopes(), ["read"]);
        Ok(allow(json!({}), &[], &[]))
    });
    let e = run_all(vec![link(&a), link(&seen)], &["read", "write"]).await;
    assert_eq!(e.decision, Ok(allow(json!({}), &["write"], &[])));
    assert_eq!(seen.calls.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn dropping_a_scope_not_in_play_is_bad_output() {
    let a = policy("a", |_| Ok(allow(json!({}), &["write"], &[])));
    let again = policy("b", |_| Ok(allow(json!({}), &["write"], &[])));
    let e = run_all(vec![link(&a), link(&again)], &["read", "write"]).await;
    assert!(
        matches!(&e.decision, Err(ChainFailed { policy, failure: PolicyFailure::BadOutput(_) }) if &**policy == "b"),
        "{e:?}"
    );
    let widen = policy("c", |_| Ok(allow(json!({}), &["admin"], &[])));
    let e = run_all(vec![link(&widen)], &["read"]).await;
    assert!(e.decision.is_err(), "{e:?}");
}

#[tokio::test]
async fn each_policy_gets_its_own_bindings_config() {
    let echo = |input: &GuestInput| {
        let config: Value = serde_json::from_str(input.config()).expect("config is JSON");
        Ok(allow(
            json!({ config["claim"].as_str().unwrap_or("none"): true }),
            &[],
            &[],
        ))
    };
    let (a, b) = (policy("a", echo), policy("b", echo));
    let links = vec![
        Link {
            config: r#"{"claim":"first"}"#,
            ..link(&a)
        },
        Link {
            config: r#"{"claim":"second"}"#,
            ..link(&b)
        },
    ];
    let e = run_all(links, &["read"]).await;
    assert_eq!(
        e.decision,
        Ok(allow(json!({"first": true, "second": true}), &[], &[]))
    );
}

#[tokio::test]
async fn an_empty_chain_allows_everything_as_asked() {
    let e = run_all(Vec::new(), &["read", "write"]).await;
    assert_eq!(e.decision, Ok(allow(json!({}), &[], &[])));
    assert!(e.runs.is_empty());
}
