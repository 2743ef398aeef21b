//! The audit log: every admin change, through the API of either instance or through the
//! CLI, with who made it, what, on which object, when, and the API request's id; read by
//! `GET /admin/v1/audit` (newest first, a page at a time) and by `lanyard audit`.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::fixtures::unix_now;

on_both_deployments!(every_change_is_recorded_once_with_who_and_what);

async fn every_change_is_recorded_once_with_who_and_what(d: &Deployment) {
    let start = unix_now();
    let a = Admin::new(&d.first, ALL_SCOPES).await;
    let b = Admin::with_client(d.second(), a.client_id.clone(), a.secret.clone()).await;

    let made = a.post("/users", json!({"email": "eve@example.com"})).await;
    let id = made.body["id"].as_str().unwrap().to_string();
    let request_id = made.headers["x-request-id"].to_str().unwrap().to_string();
    b.post(&format!("/users/{id}/disable"), json!({})).await;
    d.first.cli_json(&["user", "enable", "eve@example.com"]);
    // Reads and refusals change nothing, and are not recorded.
    a.get(&format!("/users/{id}")).await;
    assert_problem(
        &a.post("/users", json!({"email": "eve@example.com"})).await,
        409,
    );

    let log = b.get("/audit?limit=3").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let entries = log.body["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.enable", "user.disable", "user.create"],
        "{}",
        log.body
    );
    for e in entries {
        assert_eq!(e["object"], id.as_str(), "{e}");
        let at = e["at"].as_i64().unwrap();
        assert!(start <= at && at <= unix_now(), "{e}");
    }
    assert_eq!(entries[0]["actor"], "cli");
    assert_eq!(entries[0]["request_id"], serde_json::Value::Null);
    assert_eq!(entries[1]["actor"], a.client_id.as_str());
    assert_eq!(entries[2]["actor"], a.client_id.as_str());
    assert_eq!(entries[2]["request_id"], request_id.as_str());
    assert_eq!(entries[2]["detail"]["email"], "eve@example.com");

    // The next page goes on from the cursor: the admin client's own creation, by the CLI.
    let cursor = log.body["next_cursor"].as_str().expect("a next page");
    let older = a.get(&format!("/audit?limit=3&before={cursor}")).await.body;
    let first = &older["entries"][0];
    assert_eq!(
        (&first["action"], &first["actor"]),
        (&json!("client.create"), &json!("cli"))
    );
    assert_eq!(first["object"], a.client_id.as_str());
    assert_problem(&a.get("/audit?before=yesterday").await, 400);

    // `lanyard audit` reads the same log.
    let lines = d.second().cli_json_lines(&["audit", "--limit", "3"]);
    assert_eq!(lines, *entries);
}
