//! `lanyard policy eval` (a real user, client and resource, both phases, nothing minted) and
//! `lanyard policy test` (one fixture, no server).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use super::build::*;
use super::kit::*;
use crate::support::*;

/// `lanyard policy eval` output without the timings.
fn eval(server: &TestServer, email: &str, client_id: &str) -> Value {
    let mut v = server.cli_json(&[
        "policy",
        "eval",
        "--user",
        email,
        "--client",
        client_id,
        "--resource",
        TOOLS,
    ]);
    let text = v.to_string();
    for phase in ["consent", "token"] {
        for run in v[phase]["runs"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("no runs in {text}"))
        {
            assert!(run["micros"].is_u64(), "{run}");
            run.as_object_mut().unwrap().remove("micros");
        }
    }
    v
}

#[tokio::test]
async fn policy_eval_previews_both_phases_for_a_real_user() {
    let m = modules();
    let server = spawn_with_policies(&[tier(m), org(m, false)], &[]).await;
    server.add_user("ada@example.com");
    server.add_user("grace@example.com");
    server.add_user("lee@example.com");
    set_metadata(
        &server,
        "grace@example.com",
        json!({"tiers": {TOOLS: "pro"}, "org": {"id": "org_acme", "role": "admin"}}),
    );
    set_metadata(&server, "lee@example.com", json!({"lapsed": [TOOLS]}));
    let client_id = register(&server).await;
    let (td, od) = (sha256_hex(&m.purchase_tier), sha256_hex(&m.org_membership));
    let runs = |tier: &str| json!([{"policy": "tier", "digest": td, "outcome": tier}, {"policy": "org", "digest": od, "outcome": "allow"}]);

    assert_eq!(
        eval(&server, "grace@example.com", &client_id),
        json!({
            "consent": {"decision": "allow", "claims": {}, "drop_scopes": [], "notices": [], "runs": runs("allow")},
            "token": {"decision": "allow", "notices": [], "drop_scopes": [], "runs": runs("allow"), "claims":
                {"tier": "pro", "entitlements": PRO_ENTITLEMENTS, "org_id": "org_acme", "org_role": "admin"}},
        })
    );
    assert_eq!(
        eval(&server, "ada@example.com", &client_id),
        json!({
            "consent": {"decision": "allow", "claims": {}, "drop_scopes": ["write"], "notices": [FREE_NOTICE], "runs": runs("allow")},
            "token": {"decision": "allow", "notices": [], "drop_scopes": ["write"], "runs": runs("allow"), "claims":
                {"tier": "free", "org_id": "org_example", "org_role": "member"}},
        })
    );
    // Any deny wins and stops the chain, so only the tier policy ran at the token phase.
    let lee = eval(&server, "lee@example.com", &client_id);
    assert_eq!(
        lee["consent"]["notices"],
        json!([LAPSED_NOTICE, FREE_NOTICE])
    );
    assert_eq!(
        lee["token"],
        json!({"decision": "deny", "reason": LAPSED_DENY, "runs": [{"policy": "tier", "digest": td, "outcome": "deny", "detail": LAPSED_DENY}]})
    );
    // A preview mints nothing.
    assert!(decision_log(&server).is_empty());
}

/// `lanyard policy test <module> <input>`, run with no server and no configuration.
fn policy_test(dir: &Path, module: &Path, input: &Value) -> Output {
    let fixture = dir.join(format!("fixture-{}.json", rand_suffix()));
    std::fs::write(&fixture, input.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(["policy", "test"])
        .arg(module)
        .arg(&fixture)
        .current_dir(dir)
        .env("LANYARD_LOG", "warn")
        .output()
        .expect("run lanyard policy test")
}

fn rand_suffix() -> String {
    let (_, challenge) = pkce();
    challenge[..12].to_string()
}

fn decided(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "policy test failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

fn fixture(phase: &str, email: &str, verified: bool, metadata: Value, config: Value) -> Value {
    let mut f = json!({
        "phase": phase,
        "user": {"sub": "u-1", "email": email, "email_verified": verified, "metadata": metadata},
        "client": {"id": "c-1", "name": "Fixture App"},
        "resource": TOOLS,
        "scopes": ["read", "write"],
        "config": config,
        "now": 1_767_225_600,
    });
    if phase == "token" {
        f["grant_type"] = json!("refresh_token");
    }
    f
}

#[test]
fn policy_test_prints_the_decision_for_a_fixture() {
    let m = modules();
    let dir = tempfile::tempdir().unwrap();
    let pro = json!({"tiers": {TOOLS: "pro"}});
    let tier_fixture = |phase: &str, metadata: Value| {
        fixture(phase, "ada@example.com", true, metadata, tier_config())
    };

    let ada = |phase: &str, verified: bool, config: Value| {
        fixture(phase, "ada@example.com", verified, json!({}), config)
    };
    let cases = [
        (
            &m.purchase_tier,
            tier_fixture("token", pro),
            json!({"decision": "allow", "claims": {"tier": "pro", "entitlements": PRO_ENTITLEMENTS}, "drop_scopes": [], "notices": []}),
        ),
        (
            &m.purchase_tier,
            tier_fixture("token", json!({})),
            json!({"decision": "allow", "claims": {"tier": "free"}, "drop_scopes": ["write"], "notices": []}),
        ),
        (
            &m.purchase_tier,
            tier_fixture("consent", json!({})),
            json!({"decision": "allow", "claims": {}, "drop_scopes": ["write"], "notices": [FREE_NOTICE]}),
        ),
        // A deny is a decision, not a failure: it prints and exits 0.
        (
            &m.purchase_tier,
            tier_fixture("token", json!({"tiers": {TOOLS: "pro"}, "lapsed": [TOOLS]})),
            json!({"decision": "deny", "reason": LAPSED_DENY}),
        ),
        (
            &m.org_membership,
            ada("token", true, org_config(true)),
            json!({"decision": "allow", "claims": {"org_id": "org_example", "org_role": "member"}, "drop_scopes": [], "notices": []}),
        ),
        (
            &m.org_membership,
            ada("consent", false, org_config(true)),
            json!({"decision": "deny", "reason": NO_ORG_DENY}),
        ),
        (
            &m.hostile,
            ada("token", true, json!({"mode": "ok"})),
            json!({"decision": "allow", "claims": {"hostile_mode": "ok", "build": "1"}, "drop_scopes": [], "notices": []}),
        ),
    ];
    for (module, input, expected) in cases {
        assert_eq!(
            decided(&policy_test(dir.path(), module, &input)),
            expected,
            "{input}"
        );
    }
    let v2 = policy_test(
        dir.path(),
        &m.hostile_v2,
        &ada("token", true, json!({"mode": "ok"})),
    );
    assert_eq!(decided(&v2)["claims"]["build"], "2");

    // A failure is not a decision: nothing on stdout, the reason on stderr, a non-zero exit.
    // (Touching 16 MiB can outlast the 50 ms deadline on a busy machine: either stops it.)
    let failures: [(&str, &[&str]); 4] = [
        ("trap", &["policy trapped"]),
        ("loop", &["deadline"]),
        ("memory", &["memory limit", "deadline"]),
        ("reserved-claim", &["reserved claim"]),
    ];
    for (mode, reasons) in failures {
        let out = policy_test(
            dir.path(),
            &m.hostile,
            &ada("token", true, json!({"mode": mode})),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{mode}: exited 0 with {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            out.stdout.is_empty(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            reasons.iter().any(|r| stderr.contains(r)),
            "{mode}: stderr names none of {reasons:?}: {stderr}"
        );
    }
}
