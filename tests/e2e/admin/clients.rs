//! Clients through the admin API: registered (an app's public client, a service acting for
//! itself), listed, read, changed (a change the validator refuses is refused), given a new
//! secret (the old one stops working at once), and deleted with what was granted to them.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::fixtures::*;

on_both_deployments!(clients_are_registered_changed_rotated_and_deleted);

async fn clients_are_registered_changed_rotated_and_deleted(d: &Deployment) {
    let a = Admin::new(&d.first, "admin:clients").await;
    let b = Admin::with_client(d.second(), a.client_id.clone(), a.secret.clone()).await;

    let app = a
        .post(
            "/clients",
            json!({"client_name": "Notes", "redirect_uris": [REDIRECT], "scope": "read"}),
        )
        .await;
    assert_eq!(app.status, StatusCode::CREATED, "{}", app.body);
    assert_eq!(app.body["token_endpoint_auth_method"], "none");
    assert_eq!(app.body["client_secret"], serde_json::Value::Null);
    assert_eq!(
        app.body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(app.body["source"], "operator");
    let app_id = str_of(&app.body, "client_id").to_string();

    let service = b
        .post(
            "/clients",
            json!({"client_name": "Billing", "client_credentials": true, "scope": "read"}),
        )
        .await;
    assert_eq!(service.status, StatusCode::CREATED, "{}", service.body);
    let service_id = str_of(&service.body, "client_id").to_string();
    let secret = str_of(&service.body, "client_secret").to_string();

    // Nothing to do for a client with no way in.
    assert_problem(
        &a.post("/clients", json!({"client_name": "Nothing"})).await,
        400,
    );
    assert_problem(
        &a.post(
            "/clients",
            json!({"client_name": "Bad", "redirect_uris": ["ftp://x.example/cb"]}),
        )
        .await,
        400,
    );

    // Both instances list and read them; the secret is never shown again.
    let listed = b.get("/clients").await.body;
    for id in [&app_id, &service_id, &a.client_id] {
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["client_id"] == id.as_str()),
            "{listed}"
        );
    }
    let read = b.get(&format!("/clients/{service_id}")).await;
    assert_eq!(read.body["client_name"], "Billing");
    assert!(read.body.get("client_secret").is_none(), "{}", read.body);
    assert_problem(&b.get("/clients/no-such-client").await, 404);

    // A change: the name and the redirect URIs; a redirect the validator refuses is refused.
    let path = format!("/clients/{app_id}");
    let changed = send_json(&a, Method::PATCH, &path, "application/json",
        &json!({"client_name": "Notes Pro", "redirect_uris": [REDIRECT, "http://127.0.0.1:9/other"]}), &[]).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["client_name"], "Notes Pro");
    assert_eq!(changed.body["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(changed.body["scope"], "read", "untouched");
    let refused = send_json(
        &a,
        Method::PATCH,
        &path,
        "application/json",
        &json!({"redirect_uris": ["https://x.example/cb#frag"]}),
        &[],
    )
    .await;
    assert_problem(&refused, 400);
    assert_eq!(b.get(&path).await.body["client_name"], "Notes Pro");

    // A new secret: the old one is refused everywhere at once, the new one works.
    let token = |id: String, secret: String| async move {
        d.second()
            .http
            .post(d.second().url("/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        token(service_id.clone(), secret.clone()).await,
        StatusCode::OK
    );
    let rotated = a
        .post(&format!("/clients/{service_id}/secret"), json!({}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = str_of(&rotated.body, "client_secret").to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(
        token(service_id.clone(), secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(token(service_id.clone(), new_secret).await, StatusCode::OK);
    // A public client has no secret to rotate.
    assert_problem(
        &a.post(&format!("/clients/{app_id}/secret"), json!({}))
            .await,
        400,
    );

    // Deleted: gone on both instances.
    assert_eq!(a.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_problem(&b.get(&path).await, 404);
    assert_problem(&b.delete(&path).await, 404);
}
