//! Policies at a client-credentials mint: the token phase runs with grant type
//! `client-credentials` and no user, its claims reach the token and its run the decision
//! log (which names no user); a policy built for the 0.1.0 world, which cannot be asked
//! about such a grant, fails that mint closed.

use serde_json::json;

use super::build::modules;
use super::kit::*;
use crate::support::*;

/// A client acting for itself, with `read`; (id, secret).
fn service_client(server: &TestServer) -> (String, String) {
    let out = server.cli_json(&[
        "client",
        "add",
        "--name",
        "cron",
        "--client-credentials",
        "--scope",
        "read",
    ]);
    (
        out["client_id"].as_str().unwrap().to_string(),
        out["client_secret"].as_str().unwrap().to_string(),
    )
}

async fn client_token(server: &TestServer, (id, secret): (&str, &str)) -> (u16, serde_json::Value) {
    let r = server
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("resource", TOOLS)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_token_phase_runs_without_a_user_and_is_logged() {
    let m = modules();
    let bind = Bind {
        name: "require-mfa",
        module: &m.require_mfa,
        resource: TOOLS,
        config: json!({}),
        fail_open: false,
    };
    let server = spawn_with_policies(&[bind], &[]).await;
    let (id, secret) = service_client(&server);
    let (status, body) = client_token(&server, (&id, &secret)).await;
    assert_eq!(status, 200, "{body}");
    let at = access_claims(&body);
    assert_eq!(at["seen_client"], id.as_str(), "{at}");
    assert_eq!(at["sub"], id.as_str());

    let log = decision_log(&server);
    let entry = log.last().expect("a logged mint");
    assert_eq!(entry["grant_type"], "client_credentials", "{entry}");
    assert_eq!(entry["client_id"], id.as_str());
    assert!(entry["sub"].is_null(), "no user: {entry}");
    assert_eq!(entry["jti"], at["jti"]);
}

#[tokio::test]
async fn a_policy_of_the_0_1_world_fails_a_client_credentials_mint_closed() {
    let m = modules();
    let old = Bind {
        name: "old",
        module: &m.world_0_1,
        resource: TOOLS,
        config: json!({}),
        fail_open: false,
    };
    let server = spawn_with_policies(&[old], &[]).await;
    let (id, secret) = service_client(&server);
    let (status, body) = client_token(&server, (&id, &secret)).await;
    assert_eq!((status, body), (500, server_error()));
    // The log line is written as the answer goes out: it may trail the answer a little.
    server
        .wait_for_log("cannot judge a client-credentials grant")
        .await;
}
