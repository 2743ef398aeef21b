//! The whole journey of an MCP client: discover, register, sign up, consent, exchange,
//! call, refresh, call again, and reconnect without being asked twice.

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn first_connect_then_refresh_then_reconnect() {
    let server = TestServer::spawn().await;
    let email = "ada@example.com";
    server.add_user(email);

    // Discovery: the resource names us, and our metadata names itself byte for byte.
    let (status, prm) = server
        .get_json("/.well-known/oauth-protected-resource/mcp")
        .await;
    assert_eq!(status, 200);
    assert_eq!(prm["resource"], server.resource());
    assert_eq!(prm["authorization_servers"], json!([server.base]));
    let (_, meta) = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["issuer"], server.base);

    let c = server
        .connect(email, Some("read write openid email offline_access"))
        .await;
    assert_eq!(c.tokens["token_type"], "Bearer");
    assert_eq!(c.tokens["expires_in"], 900);
    assert_eq!(c.tokens["scope"], "read write openid email offline_access");
    let at = jwt_claims(c.access_token());
    assert_eq!(jwt_header(c.access_token())["typ"], "at+jwt");
    assert_eq!(at["iss"], server.base);
    assert_eq!(at["aud"], server.resource());
    assert_eq!(at["client_id"], c.client_id);
    assert_eq!(at["azp"], c.client_id);
    assert_eq!(at["email"], email);
    // Made by the operator's CLI, so vouched for.
    assert_eq!(at["email_verified"], true);
    assert_ne!(at["sub"], email, "sub is never the email");
    let id = jwt_claims(c.tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], c.client_id);
    assert_eq!(id["sub"], at["sub"]);

    // The example MCP server answers ping with what the token says.
    let rpc = |token: String| {
        let http = server.http.clone();
        let url = server.resource();
        async move {
            http.post(url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ping", "arguments": {}}}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let first = rpc(c.access_token().to_string()).await;
    assert_eq!(first["result"]["structuredContent"]["sub"], at["sub"]);
    assert_eq!(
        first["result"]["structuredContent"]["aud"],
        server.resource()
    );

    // Refresh rotates, and the new access token works too.
    let (status, refreshed, headers) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.refresh_token()),
            ("client_id", &c.client_id),
            ("resource", &server.resource()),
        ])
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_ne!(refreshed["refresh_token"], c.tokens["refresh_token"]);
    assert!(refreshed.get("id_token").is_none());
    let second = rpc(refreshed["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!(second["result"]["structuredContent"]["sub"], at["sub"]);

    // Reconnect: a session and remembered consent go straight back to the client.
    let mut browser = c.browser;
    let (_, challenge) = pkce();
    let auth = Authorize {
        client_id: &c.client_id,
        redirect_uri: &c.redirect,
        challenge: &challenge,
        scope: Some("read write openid email offline_access"),
        resource: Some(&server.resource()),
        state: "again",
        extra: vec![],
    };
    let page = browser.get(&auth.url(&server)).await;
    assert_eq!(page.status, 302);
    let back = query(page.location.as_deref().unwrap());
    assert!(back.contains_key("code"));
    assert_eq!(back["state"], "again");
    assert_eq!(back["iss"], server.base);
}
