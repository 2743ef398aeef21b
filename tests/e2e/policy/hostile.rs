//! Hostile policies bound through lanyard.toml: each misbehaviour fails the mint closed
//! (`server_error`) and the server goes on serving; a fail-open binding mints without it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::build::*;
use super::kit::*;
use crate::support::*;

/// A hostile binding that lets consent through and misbehaves at the mint: the token
/// endpoint answers `server_error`, the server logs why (one of `causes`), and it goes on
/// serving.
async fn contained_at_the_mint(mode: &str, causes: &[&str]) {
    let m = modules();
    let server =
        spawn_with_policies(&[hostile(m, json!({"mode": mode, "phase": "token"}))], &[]).await;
    server.add_user("ada@example.com");
    let c = code_for(&server, "ada@example.com", Some("read write"), TOOLS).await;
    let started = Instant::now();
    let (status, body) = exchange(&server, &c, TOOLS).await;
    let took = started.elapsed();
    assert_eq!(
        (status.as_u16(), body),
        (500, server_error()),
        "mode {mode}"
    );
    assert!(
        took < Duration::from_secs(2),
        "mode {mode}: the failed mint took {took:?}"
    );

    // The process lives on: health, a normal flow elsewhere, and the same failure again.
    healthy(&server).await;
    let p = connect_to(&server, "ada@example.com", Some("read write"), PLAIN).await;
    assert_eq!(p.tokens["scope"], "read write");
    let (status, refreshed) = refresh(&server, &p.client_id, p.refresh_token(), PLAIN).await;
    assert_eq!(status, 200, "{refreshed}");
    let again = code_for(&server, "ada@example.com", Some("read write"), TOOLS).await;
    assert_eq!(
        exchange(&server, &again, TOOLS).await,
        (StatusCode::INTERNAL_SERVER_ERROR, server_error()),
        "mode {mode}"
    );
    healthy(&server).await;
    // Failing closed is logged with its cause, and no failed mint is logged as allowed.
    // (The kit reads the server's stderr on a thread of its own: give it a moment.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.logs().matches("failing closed").count() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = server.logs();
    let failures: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("failing closed"))
        .collect();
    assert_eq!(failures.len(), 2, "mode {mode}: {logs}");
    for line in failures {
        assert!(
            causes.iter().any(|c| line.contains(c)),
            "mode {mode}: the cause is none of {causes:?}: {line}"
        );
    }
    assert!(
        decision_log(&server)
            .iter()
            .all(|e| e["resource"] != TOOLS || e["outcome"] != "allow")
    );
}

#[tokio::test]
async fn a_trapping_policy_fails_the_mint_closed() {
    contained_at_the_mint("trap", &["policy trapped"]).await;
}

#[tokio::test]
async fn a_panicking_policy_fails_the_mint_closed() {
    contained_at_the_mint("panic", &["policy trapped"]).await;
}

#[tokio::test]
async fn a_memory_bomb_fails_the_mint_closed() {
    contained_at_the_mint("memory", &["memory limit", "deadline"]).await;
}

#[tokio::test]
async fn a_looping_policy_fails_the_mint_closed_within_the_deadline() {
    contained_at_the_mint("loop", &["deadline"]).await;
}

#[tokio::test]
async fn setting_a_reserved_claim_fails_the_mint_closed() {
    contained_at_the_mint("reserved-claim", &["reserved claim \"sub\""]).await;
}

#[tokio::test]
async fn dropping_a_scope_not_in_play_fails_the_mint_closed() {
    contained_at_the_mint(
        "add-scope",
        &["dropped scope \"admin\", which was not in play"],
    )
    .await;
}

#[tokio::test]
async fn oversized_output_fails_the_mint_closed() {
    contained_at_the_mint(
        "huge-output",
        &["exceeds the 65536-byte cap", "memory limit", "deadline"],
    )
    .await;
}

#[tokio::test]
async fn requests_keep_flowing_while_policies_spin() {
    let m = modules();
    // A long deadline, so there is time to watch other requests go by while they spin; as
    // many looping mints as the machine has cores, and one more, as a hostile policy hit by
    // several users at once would see.
    let server = spawn_with_policies(
        &[hostile(m, json!({"mode": "loop", "phase": "token"}))],
        &[("LANYARD_POLICY_TIMEOUT_MS", "2000")],
    )
    .await;
    server.add_user("ada@example.com");
    let spinning = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    let mut codes = Vec::new();
    for _ in 0..spinning {
        codes.push(code_for(&server, "ada@example.com", Some("read"), TOOLS).await);
    }
    let mut mints = Vec::new();
    for c in codes {
        let form = [
            ("grant_type", "authorization_code".to_string()),
            ("code", c.code),
            ("code_verifier", c.verifier),
            ("redirect_uri", REDIRECT.to_string()),
            ("client_id", c.client_id),
            ("resource", TOOLS.to_string()),
        ];
        // A client of its own: a fresh connection per mint, as separate users would have.
        let (http, url) = (client(), server.url("/oauth/token"));
        mints.push(tokio::spawn(async move {
            let started = Instant::now();
            let r = http.post(url).form(&form).send().await.expect("token");
            (
                r.status(),
                r.json::<Value>().await.unwrap_or(Value::Null),
                started.elapsed(),
            )
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        mints.iter().all(|m| !m.is_finished()),
        "a looping policy cannot answer before its deadline"
    );

    // Discovery, concurrently and one after another, while the policies are still looping.
    let discovery = server.url("/.well-known/oauth-authorization-server");
    let asked = Instant::now();
    let burst: Vec<_> = (0..8).map(|_| client().get(&discovery).send()).collect();
    for r in futures_join(burst).await {
        assert_eq!(r.expect("discovery").status(), 200);
    }
    for _ in 0..5 {
        let (status, meta) = server
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert_eq!(
            (status.as_u16(), &meta["issuer"]),
            (200, &json!(server.base))
        );
    }
    healthy(&server).await;
    let pending = mints.iter().filter(|m| !m.is_finished()).count();
    assert_eq!(
        pending,
        spinning,
        "discovery was not answered until the looping policies hit their deadline (it took {:?})",
        asked.elapsed()
    );

    // The deadline ends every spinner with a server error. It counts the time a call runs,
    // not the time it waits for a core, so on a loaded machine the wall time stretches;
    // the bound only tells a deadline from the client giving up (30 s).
    for mint in mints {
        let (status, body, took) = mint.await.unwrap();
        assert_eq!((status.as_u16(), body), (500, server_error()));
        assert!(
            took < Duration::from_secs(25),
            "deadline 2 s, the mint took {took:?}"
        );
    }
    healthy(&server).await;
}

/// Awaits every future, concurrently.
async fn futures_join<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn a_failure_at_consent_shows_an_error_page_that_returns_server_error() {
    let m = modules();
    let server = spawn_with_policies(
        &[hostile(m, json!({"mode": "trap", "phase": "consent"}))],
        &[],
    )
    .await;
    server.add_user("ada@example.com");
    let client_id = register(&server).await;
    let (_, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = authorize(&client_id, &challenge, Some("read"), TOOLS, "s-trap");
    let page = consent_step(&server, &mut browser, &auth, "ada@example.com").await;
    let failed = [
        ("error", "server_error"),
        (
            "error_description",
            "the server could not complete the request",
        ),
        ("state", "s-trap"),
        ("iss", server.base.as_str()),
    ];
    assert_blocked_page(&page, 500, "could not be checked", &failed);
    let mut quiet = authorize(&client_id, &challenge, Some("read"), TOOLS, "s-trap");
    quiet.extra.push(("prompt", "none"));
    let page = browser.get(&quiet.url(&server)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert_back_to_client(page.location.as_deref().unwrap(), &failed);
    healthy(&server).await;
    connect_to(&server, "ada@example.com", Some("read"), PLAIN).await;
}

#[tokio::test]
async fn a_fail_open_binding_mints_without_that_policys_claims() {
    let m = modules();
    let open = |mode: &str| Bind {
        fail_open: true,
        ..hostile(m, json!({"mode": mode, "phase": "token"}))
    };
    let server = spawn_with_policies(
        &[
            tier(m),
            open("reserved-claim"),
            open("huge-output"),
            open("trap"),
        ],
        &[],
    )
    .await;
    let ada = server.add_user("ada@example.com");
    let c = connect_to(&server, "ada@example.com", Some("read write"), TOOLS).await;
    let (status, refreshed) = refresh(&server, &c.client_id, c.refresh_token(), TOOLS).await;
    assert_eq!(status, 200, "{refreshed}");
    for tokens in [&c.tokens, &refreshed] {
        let at = access_claims(tokens);
        // The failed policies' output is discarded whole; the working one still counts.
        assert_eq!(at["sub"], ada["id"]);
        assert!(
            at.get("huge").is_none() && at.get("hostile_mode").is_none(),
            "{at}"
        );
        assert_eq!(
            (&at["tier"], &at["scope"]),
            (&json!("free"), &json!("read"))
        );
    }
    let log = decision_log(&server);
    assert_eq!(log.len(), 2, "{log:#?}");
    let (td, hd) = (sha256_hex(&m.purchase_tier), sha256_hex(&m.hostile));
    for (entry, tokens) in log.iter().zip([&c.tokens, &refreshed]) {
        assert_eq!(entry["jti"], access_claims(tokens)["jti"]);
        assert_eq!(entry["outcome"], "allow");
        let failed_open = (
            String::from("hostile"),
            hd.clone(),
            String::from("failed_open"),
        );
        assert_eq!(
            runs_of(entry),
            [
                ("tier".into(), td.clone(), "allow".into()),
                failed_open.clone(),
                failed_open.clone(),
                failed_open
            ]
        );
        let details: Vec<&str> = entry["runs"].as_array().unwrap()[1..]
            .iter()
            .map(|r| r["detail"].as_str().unwrap_or(""))
            .collect();
        assert!(details[0].contains("reserved claim"), "{details:?}");
        assert!(details[2].contains("trap"), "{details:?}");
    }
    assert!(server.logs().contains("fail-open"), "{}", server.logs());
    // Counted too: three failures at each of the two mints, and every call timed.
    let metrics = server.metrics().await;
    // Each family is labelled per policy and version; these sum over them.
    let sum = |name: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!(sum("lanyard_policy_failures_open_total"), 6, "{metrics}");
    assert_eq!(sum("lanyard_policy_failures_closed_total"), 0, "{metrics}");
    // Four bindings at each mint, and the consent phase before the first.
    let calls = sum("lanyard_policy_calls_total");
    assert!(calls >= 12, "{metrics}");
    assert_eq!(sum("lanyard_policy_call_seconds_count"), calls);
    let infinite: u64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("lanyard_policy_call_seconds_bucket{") && l.contains("le=\"+Inf\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(infinite, calls, "{metrics}");
    // Every series' buckets are cumulative: ten per series, never falling.
    let mut series: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("lanyard_policy_call_seconds_bucket{"))
    {
        let (labels, count) = line.rsplit_once(' ').unwrap();
        let key = &labels[..labels.find(",le=").unwrap()];
        series.entry(key).or_default().push(count.parse().unwrap());
    }
    assert!(series.len() >= 2, "{metrics}");
    for (key, buckets) in series {
        assert_eq!(buckets.len(), 10, "{key}: {metrics}");
        assert!(buckets.is_sorted(), "{key}: {metrics}");
    }
}

/// A token-phase fixture for the hostile module, driven in process (no server).
fn hostile_input(config: Value) -> lanyard::policy::PolicyInput {
    use lanyard::policy::input::{ClientInput, UserInput};
    lanyard::policy::PolicyInput {
        phase: lanyard::policy::Phase::Token,
        grant_type: Some(lanyard::domain::GrantType::RefreshToken),
        user: Some(UserInput {
            sub: "u1".into(),
            email: "ada@example.com".into(),
            email_verified: true,
            metadata: json!({}),
            amr: vec!["pwd".into()],
            auth_time: 1,
        }),
        client: ClientInput {
            id: "c1".into(),
            name: "Claude".into(),
        },
        resource: TOOLS.into(),
        scopes: vec!["read".into()],
        config,
        now: 1_700_000_000,
    }
}

/// The hostile module as the only policy, bound everywhere with `config`.
fn hostile_registry(config: &Value, deadline: Duration) -> lanyard::policy::PolicyRegistry {
    hostile_chain(&[(config.clone(), false)], deadline)
}

/// The hostile module bound everywhere once per `(config, fail_open)`, in order.
fn hostile_chain(
    bindings: &[(Value, bool)],
    deadline: Duration,
) -> lanyard::policy::PolicyRegistry {
    use lanyard::policy::engine::Limits;
    use lanyard::policy::registry::{PolicySource, ResourcePattern};
    use lanyard::policy::{Binding, PolicyEngine, PolicyRegistry};

    let limits = Limits {
        deadline,
        ..Limits::default()
    };
    PolicyRegistry::load(
        PolicyEngine::new(limits, None).expect("engine"),
        vec![PolicySource {
            name: "hostile".into(),
            module: modules().hostile.clone(),
        }],
        bindings
            .iter()
            .map(|(config, fail_open)| Binding {
                resource: ResourcePattern::Any,
                policy: "hostile".into(),
                config: config.to_string(),
                fail_open: *fail_open,
            })
            .collect(),
        Default::default(),
    )
    .expect("registry")
}

/// A policy that computes for many epoch ticks runs on the worker that asked for it and
/// yields at every tick: on a single-threaded runtime another task keeps making progress
/// while the call runs, and the call still completes within its deadline. A fail-open
/// failure earlier in the chain is recorded once.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_policy_yields_its_worker_and_completes() {
    use lanyard::policy::chain::evaluate;
    use lanyard::policy::epoch::TICK;
    use lanyard::policy::{GuestInput, RunOutcome};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let registry = hostile_chain(
        &[
            (json!({"mode": "trap"}), true),
            (
                json!({"mode": "slow-ok", "iterations": 50_000_000u64}),
                false,
            ),
        ],
        Duration::from_secs(30),
    );
    let turns = Arc::new(AtomicU32::new(0));
    let counter = turns.clone();
    let other = tokio::spawn(async move {
        loop {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    });
    let mut input = GuestInput::from_fixture(&hostile_input(json!({})));
    let started = Instant::now();
    let evaluation = evaluate(&registry, &mut input).await;
    let took = started.elapsed();
    other.abort();
    assert!(
        evaluation.decision.is_ok(),
        "the chain allows without the failed policy: {}",
        evaluation.to_json()
    );
    let outcomes: Vec<RunOutcome> = evaluation.runs.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [RunOutcome::FailedOpen, RunOutcome::Allow]);
    assert!(
        took > TICK * 4,
        "the call should outlast several ticks to show anything: {took:?}"
    );
    assert!(
        turns.load(Ordering::Relaxed) >= 2,
        "the other task ran {} times during a {took:?} call",
        turns.load(Ordering::Relaxed)
    );
}

/// The guest allocates from a bump arena whose first buffer is 64 KiB; a call that needs
/// far more (a 1 MiB log line, then ten thousand small ones) grows memory and still answers.
#[tokio::test]
async fn a_call_that_allocates_past_the_first_arena_buffer_answers() {
    use lanyard::policy::chain::decide;
    use lanyard::policy::{Decision, GuestInput};

    let config = json!({"mode": "log-flood"});
    let registry = hostile_registry(&config, Duration::from_secs(5));
    let policy = registry.active("hostile").expect("loaded");
    let input = GuestInput::from_fixture(&hostile_input(config));
    let decision = decide(&registry.engine, &policy, &input)
        .await
        .expect("answers");
    let Decision::Allow { claims, .. } = decision else {
        panic!("log-flood allows: {decision:?}");
    };
    assert_eq!(claims["hostile_mode"], "log-flood");
}

/// A grow past the memory cap is its own failure, not a generic trap or a timeout.
#[tokio::test]
async fn a_memory_bomb_is_told_apart_from_other_traps() {
    use lanyard::policy::chain::decide;
    use lanyard::policy::{GuestInput, PolicyFailure};

    let config = json!({"mode": "memory"});
    let registry = hostile_registry(&config, Duration::from_secs(5));
    let policy = registry.active("hostile").expect("loaded");
    let input = GuestInput::from_fixture(&hostile_input(config));
    assert_eq!(
        decide(&registry.engine, &policy, &input).await,
        Err(PolicyFailure::OutOfMemory)
    );
}
