//! Who may call the admin API: a client-credentials token for `<issuer>/admin`, from an
//! operator's client given admin scopes, with the scope each operation needs. Everything
//! else gets a problem detail: no token, a user's token, a token for another resource, a
//! missing scope, a deleted client. Dynamically registered clients cannot get admin
//! scopes, and the admin resource is not published or offered to users.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::client_credentials::service_client;
use crate::fixtures::*;

#[tokio::test]
async fn only_admin_tokens_with_the_right_scope_get_in() {
    let server = TestServer::spawn().await;
    let reader = Admin::new(&server, "admin:read").await;

    // No token, a malformed one, a user's token for the MCP resource.
    for token in ["", "not-a-jwt"] {
        let a = reader.with_token(token).get("/users").await;
        assert_problem(&a, 401);
        assert!(
            a.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    server.add_user(EMAIL);
    let app = server.connect(EMAIL, Some("read")).await;
    assert_problem(
        &reader.with_token(app.access_token()).get("/users").await,
        401,
    );

    // admin:read reads everything and changes nothing.
    assert_eq!(reader.get("/users").await.status, StatusCode::OK);
    assert_eq!(reader.get("/clients").await.status, StatusCode::OK);
    assert_eq!(reader.get("/audit").await.status, StatusCode::OK);
    let refused = reader
        .post("/users", json!({"email": "eve@example.com"}))
        .await;
    assert_problem(&refused, 403);
    assert!(
        refused.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"admin:users\""),
        "{:?}",
        refused.headers
    );

    // A scope covers its own area only, and not the audit log.
    let users_only = Admin::new(&server, "admin:users").await;
    assert_eq!(users_only.get("/users").await.status, StatusCode::OK);
    assert_problem(&users_only.get("/clients").await, 403);
    assert_problem(&users_only.get("/audit").await, 403);
    assert_problem(&users_only.post("/keys/rotate", json!({})).await, 403);

    // A deleted client's token stops working at once, before it expires.
    let (status, _) = admin_token(&server, &users_only.client_id, &users_only.secret).await;
    assert_eq!(status, StatusCode::OK);
    server.cli_json(&["client", "remove", &users_only.client_id]);
    assert_problem(&users_only.get("/users").await, 401);
}

#[tokio::test]
async fn the_admin_resource_is_for_operator_clients_only() {
    let server = TestServer::spawn().await;
    let admin_resource = format!("{}/admin", server.issuer);

    // A client that registers itself cannot ask for an admin scope.
    let r = server
        .http
        .post(server.url("/oauth/register"))
        .json(
            &json!({"client_name": "sneaky", "grant_types": ["client_credentials"],
                      "token_endpoint_auth_method": "client_secret_basic", "scope": "admin:users"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata", "{body}");

    // An operator's client without admin scopes gets no admin scope.
    let (id, secret) = service_client(&server);
    let (id, secret) = (id.as_str(), secret.as_str());
    let (status, body) = admin_token(&server, id, secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "", "{body}");
    let no_scope = Admin::with_client(&server, id.to_string(), secret.to_string()).await;
    assert_problem(&no_scope.get("/users").await, 403);

    // Users are never asked to consent to it, and it is not published.
    let (status, _) = server
        .get_json("/.well-known/oauth-protected-resource/admin")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, challenge) = pkce();
    let client = server.register_client(REDIRECT).await;
    let url = authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", str_of(&client, "client_id")),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &admin_resource),
            ("state", STATE),
        ],
    );
    let page = Browser::default().get(&url).await;
    let description = format!("{admin_resource} is not a resource this server issues tokens for");
    assert_error_back(&page, &server, 302, "invalid_target", Some(&description));

    // An admin token is no use at the MCP resource either.
    let admin = Admin::new(&server, ALL_SCOPES).await;
    let (status, body) = admin_token(&server, &admin.client_id, &admin.secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["scope"],
        "admin:users admin:clients admin:grants admin:keys admin:policies admin:read"
    );
    let at = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], admin_resource.as_str());
    assert_eq!(at["sub"], admin.client_id.as_str());
    assert_eq!(
        mcp_status(&server, body["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    // Its mints are counted as its own resource's.
    let minted = format!(
        "lanyard_tokens_minted_total{{resource=\"{admin_resource}\",grant_type=\"client_credentials\"}} 4"
    );
    let metrics = server.metrics().await;
    assert!(metrics.contains(&minted), "{metrics}");
}

#[tokio::test]
async fn bad_requests_get_problem_details() {
    let server = TestServer::spawn().await;
    let admin = Admin::new(&server, ALL_SCOPES).await;
    assert_problem(&admin.get("/nothing/here").await, 404);
    assert_problem(&admin.send(Method::PUT, "/users", None, &[]).await, 405);
    assert_problem(&admin.get("/users/no-such-user").await, 404);
    assert_problem(&admin.get("/users?limit=lots").await, 400);
    let not_json = admin
        .send(
            Method::POST,
            "/users",
            Some(("application/json", b"{".to_vec())),
            &[],
        )
        .await;
    assert_problem(&not_json, 400);
    let wrong_media = send_json(
        &admin,
        Method::POST,
        "/users",
        "text/plain",
        &json!({"email": "a@example.com"}),
        &[],
    )
    .await;
    assert_problem(&wrong_media, 415);
    let unknown_member = admin
        .post("/users", json!({"email": "a@example.com", "tier": "pro"}))
        .await;
    assert_problem(&unknown_member, 400);
    assert_problem(
        &admin.post("/users", json!({"email": "not an email"})).await,
        400,
    );
    assert_problem(
        &admin
            .post(
                "/users",
                json!({"email": "a@example.com", "password": "short"}),
            )
            .await,
        400,
    );
    // The server is still fine.
    assert_eq!(admin.get("/users").await.status, StatusCode::OK);
}
