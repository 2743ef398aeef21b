//! The client-credentials grant (RFC 6749 §4.4): a confidential client gets a token for
//! itself (`sub` = its id) for a resource and at most its registered scopes, with no
//! refresh or ID token; public clients are refused, at registration and at the token
//! endpoint. On both stores.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// `lanyard client add --client-credentials --scope read`: (client_id, secret).
pub(crate) fn service_client(server: &TestServer) -> (String, String) {
    let out = server.cli_json(&[
        "client",
        "add",
        "--name",
        "billing",
        "--client-credentials",
        "--scope",
        "read",
    ]);
    assert_eq!(out["grant_types"], json!(["client_credentials"]), "{out}");
    assert_eq!(out["token_endpoint_auth_method"], "client_secret_basic");
    let id = out["client_id"].as_str().expect("client_id").to_string();
    let secret = out["client_secret"].as_str().expect("a secret").to_string();
    (id, secret)
}

/// A client-credentials request with Basic authentication.
async fn ask(
    server: &TestServer,
    (id, secret): (&str, &str),
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let r = server
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .expect("token");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

on_both_stores!(a_confidential_client_gets_a_token_for_itself);

async fn a_confidential_client_gets_a_token_for_itself(store: &[(&str, &str)]) {
    let server = TestServer::spawn_with(store).await;
    let (id, secret) = service_client(&server);
    let creds = (id.as_str(), secret.as_str());

    let (status, body) = ask(&server, creds, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read", "the registered scope by default");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    let at = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], id.as_str());
    assert_eq!(at["client_id"], id.as_str());
    assert_eq!(at["aud"], server.resource(), "the default resource");
    for absent in ["email", "email_verified", "amr", "auth_time"] {
        assert!(at.get(absent).is_none(), "{absent} in {at}");
    }
    // The token works at the resource, until the client revokes it.
    let access = body["access_token"].as_str().unwrap().to_string();
    let ping = |token: String| {
        let req = server
            .http
            .get(server.url("/mcp/ping"))
            .bearer_auth(token)
            .send();
        async move { req.await.expect("ping").status() }
    };
    assert_eq!(ping(access.clone()).await, StatusCode::OK);
    let revoked = server
        .http
        .post(server.url("/oauth/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(ping(access).await, StatusCode::UNAUTHORIZED);

    // Named resource and scope; the secret in the body works as well.
    let resource = server.resource();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", "read"),
        ("resource", resource.as_str()),
    ];
    let (status, body, _) = server.token(&form).await;
    assert_eq!(status, 200, "{body}");

    // Nothing beyond what it was registered for; no resource that is not served.
    let (status, body) = ask(&server, creds, &[("scope", "read write")]).await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &json!("invalid_scope"))
    );
    let (status, body) = ask(
        &server,
        creds,
        &[("resource", "https://elsewhere.example/mcp")],
    )
    .await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &json!("invalid_target"))
    );
    let (status, body) = ask(&server, (creds.0, "wrong"), &[]).await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (401, &json!("invalid_client"))
    );
}

#[tokio::test]
async fn public_clients_are_refused_at_registration_and_at_the_token_endpoint() {
    let server = TestServer::spawn().await;
    // A public client registered for codes asks anyway.
    let public = server.register_client("http://127.0.0.1:9/callback").await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", public["client_id"].as_str().unwrap()),
    ];
    let (status, body, _) = server.token(&form).await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &json!("unauthorized_client")),
        "{body}"
    );

    let register = |metadata: Value| {
        let req = server
            .http
            .post(server.url("/oauth/register"))
            .json(&metadata)
            .send();
        async move {
            let r = req.await.expect("register");
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = register(json!({
        "client_name": "cron",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "none",
    }))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");

    // A confidential one needs no redirect URI, and gets its token.
    let (status, body) = register(json!({
        "client_name": "cron",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "read",
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    let (id, secret) = (
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let (status, body) = ask(&server, (id, secret), &[]).await;
    assert_eq!(status, 200, "{body}");
    // Discovery offers the grant.
    let meta = server
        .get_json("/.well-known/oauth-authorization-server")
        .await
        .1;
    let supported = meta["grant_types_supported"].as_array().unwrap();
    assert!(supported.contains(&json!("client_credentials")), "{meta}");
}
