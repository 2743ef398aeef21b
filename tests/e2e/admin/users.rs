//! Accounts through the admin API: created through one instance and found through the
//! other, by id and by email, paged through with a cursor, disabled (no sign-in) and
//! enabled, and deleted.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::fixtures::*;

on_both_deployments!(accounts_are_made_found_paged_disabled_and_deleted);

async fn accounts_are_made_found_paged_disabled_and_deleted(d: &Deployment) {
    let a = Admin::new(&d.first, "admin:users").await;
    let b = Admin::with_client(d.second(), a.client_id.clone(), a.secret.clone()).await;

    let made = a
        .post(
            "/users",
            json!({"email": "Grace@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["email"], "grace@example.com", "case-folded");
    assert_eq!(made.body["email_verified"], true, "the operator vouches");
    assert_eq!(made.body["disabled"], false);
    let id = str_of(&made.body, "id").to_string();

    let again = a
        .post("/users", json!({"email": "grace@example.com"}))
        .await;
    assert_problem(&again, 409);

    // The other instance finds it, by id and by email; an unknown email finds none.
    let by_id = b.get(&format!("/users/{id}")).await;
    assert_eq!(by_id.status, StatusCode::OK);
    assert_eq!(by_id.body, made.body);
    assert_eq!(user_id(&b, "GRACE@example.com").await, id);
    let none = b.get("/users?email=nobody@example.com").await;
    assert_eq!(none.body["users"], json!([]));

    // The account works: its owner signs in and connects an app.
    let app = d.first.connect("grace@example.com", Some("read")).await;
    assert_eq!(
        mcp_status(&d.first, app.access_token()).await,
        StatusCode::OK
    );

    // Pages: five more accounts, two per page, each user once, in id order.
    for n in 0..5 {
        let r = b
            .post("/users", json!({"email": format!("u{n}@example.com")}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["email_verified"], true);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?limit=2&cursor={c}"),
            None => "/users?limit=2".to_string(),
        };
        let page = a.get(&path).await;
        let users = page.body["users"].as_array().unwrap().clone();
        assert!(users.len() <= 2);
        seen.extend(users.iter().map(|u| str_of(u, "id").to_string()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in id order, each once");

    // Disabled through B: no refresh through A, no sign-in; enabled again, it works.
    let off = b.post(&format!("/users/{id}/disable"), json!({})).await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.body["disabled"], true);
    assert!(off.body["disabled_at"].is_i64());
    let (status, _, _) = refresh(&d.first, &app.client_id, app.refresh_token()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let on = a.post(&format!("/users/{id}/enable"), json!({})).await;
    assert_eq!(on.body["disabled"], false);
    assert_eq!(on.body["disabled_at"], serde_json::Value::Null);

    // Deleted through A: gone through B, its access refused, its email free again.
    let gone = a.delete(&format!("/users/{id}")).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_problem(&b.get(&format!("/users/{id}")).await, 404);
    assert_problem(&b.delete(&format!("/users/{id}")).await, 404);
    assert_eq!(
        mcp_status(d.second(), app.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    let reused = b
        .post("/users", json!({"email": "grace@example.com"}))
        .await;
    assert_eq!(reused.status, StatusCode::CREATED);
    assert_ne!(reused.body["id"], id.as_str());

    // The CLI lists the same accounts.
    let listed = d.first.cli_json_lines(&["user", "list"]);
    assert_eq!(listed.len(), 6, "{listed:?}");
}
