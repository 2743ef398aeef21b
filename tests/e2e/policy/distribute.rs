//! Policy versions across instances (design.md "Policies": versions, rollback, hot reload on
//! push): two servers on the production store, a version pushed through one server's CLI,
//! rolled back, and a broken one refused, with both servers' mints showing which version
//! ran. Polling is set aside (an hour), so the change must travel as a notice. A server
//! started later runs the active version, whatever its own module file holds.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::build::*;
use super::kit::*;
use crate::support::*;

/// The `build` claim of a fresh refresh on `server`, and the refresh token to use next.
async fn build_after_refresh(server: &TestServer, client_id: &str, rt: &str) -> (String, String) {
    let (status, body) = refresh(server, client_id, rt, TOOLS).await;
    assert_eq!(status, 200, "{body}");
    let build = access_claims(&body)["build"].as_str().unwrap().to_string();
    (build, body["refresh_token"].as_str().unwrap().to_string())
}

/// Refreshes through both servers, alternately, until both mint with `build`.
pub(crate) async fn until_both_run(
    servers: [&TestServer; 2],
    client_id: &str,
    rt: &mut String,
    build: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = [false; 2];
    while seen != [true; 2] {
        for (i, server) in servers.iter().enumerate() {
            let (minted, next) = build_after_refresh(server, client_id, rt).await;
            *rt = next;
            seen[i] |= minted == build;
        }
        assert!(
            Instant::now() < deadline,
            "still not build {build} everywhere: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn versions(server: &TestServer) -> Vec<Value> {
    server.cli_json_lines(&["policy", "versions", "hostile"])
}

/// Two servers on `store` under one issuer, the hostile fixture bound (build 1), and
/// polling set aside (an hour), so that a change must travel as a notice.
pub(crate) async fn hostile_pair(store: &ProductionStore) -> (TestServer, TestServer) {
    let bind = [hostile(modules(), json!({"mode": "ok"}))];
    let mut env = store.env();
    env.push(("LANYARD_POLICY_POLL_MS", "3600000"));
    let a = spawn_with_policies(&bind, &env).await;
    let issuer = a.issuer.clone();
    env.push(("LANYARD_ISSUER", &issuer));
    let b = spawn_with_policies(&bind, &env).await;
    (a, b)
}

#[tokio::test]
async fn a_version_pushed_anywhere_runs_everywhere_and_rolls_back() {
    let Some(store) = production_store().await else {
        return;
    };
    let m = modules();
    let (v1, v2) = (sha256_hex(&m.hostile), sha256_hex(&m.hostile_v2));
    let (a, b) = hostile_pair(&store).await;

    // The first server to start recorded the bound module as the first version.
    let history = versions(&a);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(
        (&history[0]["digest"], &history[0]["active"]),
        (&json!(v1), &json!(true))
    );

    a.add_user("ada@example.com");
    let c = connect_to(&a, "ada@example.com", Some("read"), TOOLS).await;
    assert_eq!(access_claims(&c.tokens)["build"], "1");
    let mut rt = c.refresh_token().to_string();

    // Pushed through B's CLI: both servers switch.
    let pushed = b.cli_json(&["policy", "push", "hostile", m.hostile_v2.to_str().unwrap()]);
    assert_eq!(
        pushed,
        json!({"policy": "hostile", "digest": v2, "previous": v1})
    );
    until_both_run([&a, &b], &c.client_id, &mut rt, "2").await;

    // A module that is not a policy is refused before any server sees it.
    let junk = a.dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let out = a.cli(&["policy", "push", "hostile", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{out:?}"
    );
    assert_eq!(versions(&b).len(), 2);
    for server in [&a, &b] {
        let (build, next) = build_after_refresh(server, &c.client_id, &rt).await;
        assert_eq!(build, "2");
        rt = next;
    }

    // Rolled back through A: both servers are back on the first version.
    let rolled = a.cli_json(&["policy", "rollback", "hostile"]);
    assert_eq!(
        rolled,
        json!({"policy": "hostile", "digest": v1, "previous": v2})
    );
    until_both_run([&a, &b], &c.client_id, &mut rt, "1").await;
    let history: Vec<Value> = versions(&a).iter().map(|v| v["digest"].clone()).collect();
    assert_eq!(history, [json!(v1), json!(v2), json!(v1)]);

    drop((a, b));
    store.finish().await;
}

#[tokio::test]
async fn on_the_embedded_store_versions_are_the_files() {
    let m = modules();
    let server = spawn_with_policies(&[hostile(m, json!({"mode": "ok"}))], &[]).await;
    let out = server.cli(&["policy", "rollback", "hostile"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replace the module file"), "{err}");
}

#[tokio::test]
async fn an_instance_starts_on_the_stored_version_whatever_its_file_holds() {
    let Some(store) = production_store().await else {
        return;
    };
    let m = modules();
    let mut env = store.env();
    env.push(("LANYARD_POLICY_POLL_MS", "3600000"));
    let a = spawn_with_policies(&[hostile(m, json!({"mode": "ok"}))], &env).await;
    a.cli_json(&["policy", "push", "hostile", m.hostile_v2.to_str().unwrap()]);

    // A new instance whose own file is not even a component: the store's active version
    // is what it runs (before, it refused to start).
    let elsewhere = tempfile::tempdir().unwrap();
    let junk = elsewhere.path().join("hostile_policy.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let bind = Bind {
        module: &junk,
        ..hostile(m, json!({"mode": "ok"}))
    };
    let b = spawn_with_policies(&[bind], &env).await;
    b.add_user("ada@example.com");
    let c = connect_to(&b, "ada@example.com", Some("read"), TOOLS).await;
    assert_eq!(access_claims(&c.tokens)["build"], "2");
    // It recorded nothing of its own.
    let history: Vec<Value> = versions(&b).iter().map(|v| v["digest"].clone()).collect();
    assert_eq!(
        history,
        [
            json!(sha256_hex(&m.hostile_v2)),
            json!(sha256_hex(&m.hostile))
        ]
    );

    drop((a, b, env));
    store.finish().await;
}
