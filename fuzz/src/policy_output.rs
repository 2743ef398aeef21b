//! A policy's answer, as the host takes it: the guest's values turned into a [`Decision`]
//! under the output cap ([`guest::from_token`], [`guest::from_consent`]), checked against
//! the rules ([`chain::check`]: reserved claims, scopes in play), merged across a resource's
//! bindings ([`chain::run`]), and the claims minted into an access token's payload.
//!
//! The input is lines, each policy's answer after the one before: `cap <bytes>`, `scope
//! <scope>` (in play at the start), `consent` (the consent phase; the token phase if not),
//! then per policy `allow` or `deny <reason>`, `open` (its binding is fail-open), `drop
//! <scope>`, `notice <text>` and `claim <name> <text|int|bool|texts|json> <value>`.
//!
//! Each answer is judged here by the rules as README and the WIT world state them, and the
//! chain's result by the merge rules (claims in order, any deny wins, a failure fails
//! closed unless fail-open).

use std::future::{Future, ready};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use lanyard::domain::{GrantType, SignInMethods};
use lanyard::policy::bindings::lanyard::policy::types as wit;
use lanyard::policy::chain::{self, Decide, Link};
use lanyard::policy::guest::{self, GuestInput, UserView};
use lanyard::policy::input::ClientInput;
use lanyard::policy::{ChainFailed, Decision, Phase, PolicyFailure, RunOutcome};
use lanyard::tokens::{AccessClaims, UserClaims};
use serde_json::{Map, Value};

use crate::lines;

/// The reserved claims as README states them.
const RESERVED: &str = "iss sub aud exp iat nbf jti azp client_id scope email \
                        email_verified typ cnf acr amr auth_time act may_act sid nonce at_hash c_hash";
/// The longest claim name a policy may set, in bytes.
const MAX_NAME: usize = 128;
/// The most characters of a deny's reason that reach the user.
const MAX_REASON_CHARS: usize = 500;

/// One binding's policy, answering what the input says.
#[derive(Debug)]
struct Scripted {
    name: Arc<str>,
    digest: Arc<str>,
    answer: Answer,
    fail_open: bool,
    cap: usize,
}

#[derive(Debug, Clone)]
enum Answer {
    Token(wit::TokenDecision),
    Consent(wit::ConsentDecision),
}

impl Scripted {
    /// What the engine makes of the guest's answer.
    fn converted(&self) -> Result<Decision, PolicyFailure> {
        match self.answer.clone() {
            Answer::Token(d) => guest::from_token(d, self.cap),
            Answer::Consent(d) => guest::from_consent(d, self.cap),
        }
    }
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
        _: &GuestInput,
    ) -> impl Future<Output = Result<Decision, PolicyFailure>> + Send {
        ready(self.converted())
    }
}

pub fn run(data: &[u8]) {
    let (phase, scopes, policies) = read(data);
    let mut input = GuestInput::new(
        phase,
        Some(GrantType::AuthorizationCode),
        Some(UserView {
            sub: "u1",
            email: "a@example.com",
            email_verified: true,
            metadata: "{}",
            amr: &["pwd"],
            auth_time: 1_700_000_000,
        }),
        ClientInput {
            id: "c1".into(),
            name: "Client".into(),
        },
        "https://mcp.example/mcp",
        scopes.clone(),
        1_700_000_000,
    );
    let links = policies.iter().map(|policy| Link {
        policy,
        config: "{}",
        fail_open: policy.fail_open,
    });
    let evaluation = now_or_never(chain::run(links, &mut input));
    let (expected, in_play, outcomes) = merged(&policies, scopes);
    assert_eq!(evaluation.decision, expected);
    let ran: Vec<RunOutcome> = evaluation.runs.iter().map(|r| r.outcome).collect();
    assert_eq!(ran, outcomes);
    assert_eq!(input.scopes(), in_play.as_slice());
    if let Ok(Decision::Allow { claims, .. }) = &evaluation.decision {
        minted_once_each(claims);
    }
}

/// The chain's answer by its rules, from each answer as judged by [`judged`]; with the
/// scopes left in play and how each policy's call ended.
fn merged(
    policies: &[Scripted],
    mut in_play: Vec<String>,
) -> (Result<Decision, ChainFailed>, Vec<String>, Vec<RunOutcome>) {
    let (mut claims, mut dropped, mut notices, mut outcomes) =
        (Map::new(), Vec::new(), Vec::new(), Vec::new());
    for policy in policies {
        match judged(policy, &in_play) {
            Ok(Decision::Allow {
                claims: added,
                drop_scopes,
                notices: said,
            }) => {
                outcomes.push(RunOutcome::Allow);
                in_play.retain(|s| !drop_scopes.contains(s));
                for s in drop_scopes {
                    if !dropped.contains(&s) {
                        dropped.push(s);
                    }
                }
                notices.extend(said);
                claims.extend(added);
            }
            Ok(deny) => {
                outcomes.push(RunOutcome::Deny);
                return (Ok(deny), in_play, outcomes);
            }
            Err(_) if policy.fail_open => outcomes.push(RunOutcome::FailedOpen),
            Err(failure) => {
                outcomes.push(RunOutcome::Failed);
                let policy = policy.name.clone();
                return (Err(ChainFailed { policy, failure }), in_play, outcomes);
            }
        }
    }
    let allow = Decision::Allow {
        claims,
        drop_scopes: dropped,
        notices,
    };
    (Ok(allow), in_play, outcomes)
}

/// One answer, converted and checked by the host, and judged here: what passes keeps the
/// rules and says what the policy said; what breaks none of them within the cap passes; a
/// refusal is bad output.
fn judged(policy: &Scripted, in_play: &[String]) -> Result<Decision, PolicyFailure> {
    let got = policy.converted().and_then(|d| chain::check(d, in_play));
    if let Err(failure) = &got {
        assert!(matches!(failure, PolicyFailure::BadOutput(_)), "{failure}");
    }
    match &policy.answer {
        Answer::Token(wit::TokenDecision::Deny(reason))
        | Answer::Consent(wit::ConsentDecision::Deny(reason)) => {
            judge_deny(reason, &got, policy.cap);
        }
        Answer::Token(wit::TokenDecision::Allow(o)) => {
            judge_allow(&o.drop_scopes, &o.claims, &[], in_play, &got, policy.cap);
        }
        Answer::Consent(wit::ConsentDecision::Allow(o)) => {
            judge_allow(&o.drop_scopes, &[], &o.notices, in_play, &got, policy.cap);
        }
    }
    got
}

/// A deny stands, its reason cut to what the user is shown, unless the reason is over the
/// cap.
fn judge_deny(reason: &str, got: &Result<Decision, PolicyFailure>, cap: usize) {
    match got {
        Ok(Decision::Deny { reason: shown }) => {
            let kept: String = reason.chars().take(MAX_REASON_CHARS).collect();
            assert_eq!(shown, &kept);
        }
        Ok(allow) => panic!("a deny became {allow:?}"),
        Err(_) => assert!(
            reason.len() > cap,
            "a deny of {} bytes was refused",
            reason.len()
        ),
    }
}

fn judge_allow(
    drops: &[String],
    claims: &[wit::Claim],
    notices: &[String],
    in_play: &[String],
    got: &Result<Decision, PolicyFailure>,
    cap: usize,
) {
    let reserved: Vec<&str> = RESERVED.split_whitespace().collect();
    // A policy narrows a grant, never widens it.
    let mut within_rules = drops.iter().all(|s| in_play.contains(s));
    // More than the host counts against the cap, whatever the values.
    let mut size: usize = drops.iter().chain(notices).map(String::len).sum();
    let mut want = Map::new();
    for c in claims {
        within_rules &=
            !reserved.contains(&c.name.as_str()) && !c.name.is_empty() && c.name.len() <= MAX_NAME;
        size += c.name.len() + 24;
        let value = match &c.value {
            wit::ClaimValue::Text(s) => Some(Value::String(s.clone())),
            wit::ClaimValue::Integer(i) => Some(Value::from(*i)),
            wit::ClaimValue::Boolean(b) => Some(Value::Bool(*b)),
            wit::ClaimValue::Texts(list) => Some(Value::from(list.clone())),
            wit::ClaimValue::Json(text) => serde_json::from_str(text).ok(),
        };
        size += match &c.value {
            wit::ClaimValue::Text(s) | wit::ClaimValue::Json(s) => s.len(),
            wit::ClaimValue::Texts(list) => list.iter().map(|s| s.len() + 3).sum(),
            wit::ClaimValue::Integer(_) | wit::ClaimValue::Boolean(_) => 0,
        };
        match value {
            // A later claim of the same name replaces an earlier one.
            Some(v) => {
                want.insert(c.name.clone(), v);
            }
            None => within_rules = false,
        }
    }
    match got {
        Ok(Decision::Allow {
            claims: added,
            drop_scopes,
            notices: said,
        }) => {
            assert!(within_rules, "an answer that breaks the rules passed");
            assert_eq!(added, &want);
            assert_eq!(drop_scopes.as_slice(), drops);
            assert_eq!(said.as_slice(), notices);
        }
        Ok(deny) => panic!("an allow became {deny:?}"),
        Err(failure) => assert!(
            !within_rules || size > cap,
            "an answer within the rules and the cap was refused: {failure}"
        ),
    }
}

/// The added claims in an access token's payload: each name once, the token's own claims
/// as Lanyard set them.
fn minted_once_each(extra: &Map<String, Value>) {
    let claims = AccessClaims {
        iss: "https://auth.example",
        sub: "u1",
        aud: "https://mcp.example/mcp",
        azp: "c1",
        client_id: "c1",
        scope: "read",
        user: Some(UserClaims {
            email: "a@example.com",
            email_verified: true,
            auth_time: 1_700_000_000,
            amr: &SignInMethods::password(),
        }),
        iat: 1_700_000_000,
        exp: 1_700_000_900,
        jti: "g1.r",
        extra,
    };
    let Ok(text) = serde_json::to_string(&claims) else {
        panic!("claims do not serialise: {extra:?}");
    };
    let Ok(payload) = serde_json::from_str::<Map<String, Value>>(&text) else {
        panic!("the payload does not read back: {text}");
    };
    assert_eq!(payload.len(), 13 + extra.len(), "a name twice in {text}");
    assert_eq!(payload["iss"], "https://auth.example");
    assert_eq!(payload["sub"], "u1");
    assert_eq!(payload["aud"], "https://mcp.example/mcp");
    assert_eq!(payload["email"], "a@example.com");
    for name in extra.keys() {
        assert!(payload.contains_key(name), "{name:?} is missing");
    }
}

/// The phase, the scopes in play and the policies, from the input's lines.
fn read(data: &[u8]) -> (Phase, Vec<String>, Vec<Scripted>) {
    let mut cap = 65536;
    let mut phase = Phase::Token;
    let mut scopes = Vec::new();
    let mut policies: Vec<Scripted> = Vec::new();
    for (keyword, rest) in lines::parse(data) {
        let count = policies.len();
        match (keyword, policies.last_mut()) {
            ("cap", _) => cap = rest.parse().unwrap_or(cap),
            ("consent", _) => phase = Phase::Consent,
            ("scope", _) if scopes.len() < 16 => scopes.push(rest.to_string()),
            ("allow" | "deny", _) if count < 8 => {
                let answer = match (phase, keyword) {
                    (Phase::Token, "allow") => {
                        Answer::Token(wit::TokenDecision::Allow(wit::TokenOutcome {
                            drop_scopes: Vec::new(),
                            claims: Vec::new(),
                        }))
                    }
                    (Phase::Token, _) => Answer::Token(wit::TokenDecision::Deny(rest.to_string())),
                    (Phase::Consent, "allow") => {
                        Answer::Consent(wit::ConsentDecision::Allow(wit::ConsentOutcome {
                            drop_scopes: Vec::new(),
                            notices: Vec::new(),
                        }))
                    }
                    (Phase::Consent, _) => {
                        Answer::Consent(wit::ConsentDecision::Deny(rest.to_string()))
                    }
                };
                policies.push(Scripted {
                    name: format!("p{count}").into(),
                    digest: "0".repeat(64).into(),
                    answer,
                    fail_open: false,
                    cap,
                });
            }
            ("open", Some(p)) => p.fail_open = true,
            ("drop", Some(p)) => match &mut p.answer {
                Answer::Token(wit::TokenDecision::Allow(o)) => o.drop_scopes.push(rest.into()),
                Answer::Consent(wit::ConsentDecision::Allow(o)) => o.drop_scopes.push(rest.into()),
                _ => {}
            },
            ("notice", Some(p)) => {
                if let Answer::Consent(wit::ConsentDecision::Allow(o)) = &mut p.answer {
                    o.notices.push(rest.into());
                }
            }
            ("claim", Some(p)) => {
                if let Answer::Token(wit::TokenDecision::Allow(o)) = &mut p.answer
                    && o.claims.len() < 64
                {
                    o.claims.push(claim(rest));
                }
            }
            _ => {}
        }
    }
    (phase, scopes, policies)
}

/// `<name> <kind> <value>`.
fn claim(rest: &str) -> wit::Claim {
    let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (kind, value) = rest.split_once(' ').unwrap_or((rest, ""));
    let value = match kind {
        "int" => wit::ClaimValue::Integer(value.parse().unwrap_or_default()),
        "bool" => wit::ClaimValue::Boolean(value == "true"),
        "texts" => wit::ClaimValue::Texts(value.split(',').map(str::to_string).collect()),
        "json" => wit::ClaimValue::Json(value.to_string()),
        _ => wit::ClaimValue::Text(value.to_string()),
    };
    wit::Claim {
        name: name.to_string(),
        value,
    }
}

/// The chain's future, which scripted policies complete at once.
fn now_or_never<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a chain of scripted policies did not finish at once"),
    }
}
