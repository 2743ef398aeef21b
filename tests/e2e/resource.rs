//! The bearer-token guard of the example MCP server (RFC 6750, RFC 9728 §5.1, MCP
//! authorization §Token Handling) and the shapes of its JSON-RPC answers.

use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::*;

fn prm_url(server: &TestServer) -> String {
    server.url("/.well-known/oauth-protected-resource/mcp")
}

/// The challenge for a request with no usable token (checklist §6.15).
fn no_token_challenge(server: &TestServer) -> String {
    format!(
        "Bearer resource_metadata=\"{}\", scope=\"read write\"",
        prm_url(server)
    )
}

fn invalid_token_challenge(server: &TestServer, description: &str) -> String {
    format!(
        "Bearer resource_metadata=\"{}\", scope=\"read write\", error=\"invalid_token\", error_description=\"{description}\"",
        prm_url(server)
    )
}

async fn get_ping(server: &TestServer, auth: Option<&str>) -> reqwest::Response {
    let mut r = server.http.get(server.url("/mcp/ping"));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn no_token_gets_a_challenge_naming_the_resource_metadata() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let (status, headers, body) = mcp(&server, None, call_ping()).await;
    assert_eq!(status, 401);
    // MCP 2025-06-18 §Authorization: the 401 names the RFC 9728 document; SDK parsers need
    // Bearer first and quoted values; scope tells the client what to ask for.
    assert_eq!(
        header(&headers, "www-authenticate"),
        no_token_challenge(&server)
    );
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "an access token is required"})
    );
    let r = get_ping(&server, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        no_token_challenge(&server)
    );

    // A scheme other than Bearer, or Bearer with nothing after it, is no token at all.
    for auth in ["Basic YTpi", "Bearer ", "Bearer"] {
        let r = get_ping(&server, Some(auth)).await;
        assert_eq!(r.status(), 401, "{auth}");
        assert_eq!(
            header(r.headers(), "www-authenticate"),
            no_token_challenge(&server),
            "{auth}"
        );
    }
    // RFC 6750 §2.3 query tokens end up in logs; MCP forbids them.
    let c = server.connect(EMAIL, None).await;
    let r = server
        .http
        .get(format!(
            "{}?access_token={}",
            server.url("/mcp/ping"),
            c.access_token()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        no_token_challenge(&server)
    );
}

#[tokio::test]
async fn a_bad_token_is_invalid_token() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let mut tampered = c.access_token().to_string();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    let parts: Vec<&str> = c.access_token().split('.').collect();
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    for token in ["garbage", "a.b.c", tampered.as_str(), unsigned.as_str()] {
        let (status, headers, body) = mcp(&server, Some(token), call_ping()).await;
        assert_eq!(status, 401, "{token}");
        assert_eq!(
            header(&headers, "www-authenticate"),
            invalid_token_challenge(&server, "the access token is invalid")
        );
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": "the access token is invalid"})
        );
        let r = get_ping(&server, Some(&format!("Bearer {token}"))).await;
        assert_eq!(r.status(), 401);
    }
    // The scheme is case-insensitive (RFC 7235 §2.1).
    let r = get_ping(&server, Some(&format!("bearer {}", c.access_token()))).await;
    assert_eq!(r.status(), 200);
}

/// A server with two resources on its own origin: `/mcp` and `/other`.
async fn two_resources() -> TestServer {
    let mut server = TestServer::spawn().await;
    // The resources live on the server's origin, known only once it runs.
    server.stop();
    let toml = format!(
        "[[resources]]\nuri = \"{0}/mcp\"\nname = \"Example\"\n\n[[resources]]\nuri = \"{0}/other\"\nname = \"Other app\"\nscopes = [\"read\", \"files\"]\n",
        server.base
    );
    std::fs::write(server.dir.path().join("lanyard.toml"), toml).unwrap();
    assert!(server.start().await, "restart with two resources");
    server
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused() {
    let server = two_resources().await;
    server.add_user(EMAIL);
    let other = server.url("/other");
    let (_, prm) = server
        .get_json("/.well-known/oauth-protected-resource/other")
        .await;
    assert_eq!(
        prm,
        json!({
            "resource": other, "authorization_servers": [server.base], "scopes_supported": ["read", "files"],
            "bearer_methods_supported": ["header"], "jwks_uri": server.url("/oauth/jwks"), "resource_name": "Other app",
        })
    );

    let grant = CodeGrant::new(&server, EMAIL, Some("read files"), Some(&other)).await;
    let (status, tokens, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("code_verifier", &grant.verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &grant.client_id),
            ("resource", &other),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let at = str_of(&tokens, "access_token");
    assert_eq!(jwt_claims(at)["aud"], other);
    assert_eq!(tokens["scope"], "read files");
    // MCP §Token Handling: a server accepts only tokens issued for itself (no passthrough).
    let (status, headers, body) = mcp(&server, Some(at), call_ping()).await;
    assert_eq!(status, 401);
    assert_eq!(
        header(&headers, "www-authenticate"),
        invalid_token_challenge(&server, "the access token is for another resource")
    );
    assert_eq!(body["error"], "invalid_token");
    let r = get_ping(&server, Some(&format!("Bearer {at}"))).await;
    assert_eq!(r.status(), 401);

    // A scope of one resource is not granted on another (files belongs to /other).
    let grant = CodeGrant::new(&server, EMAIL, Some("read files"), None).await;
    let tokens = grant.tokens(&server).await;
    assert_eq!(tokens["scope"], "read");
    assert_eq!(
        mcp_status(&server, str_of(&tokens, "access_token")).await,
        200
    );
}

#[tokio::test]
async fn a_token_without_read_is_403_insufficient_scope() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, Some("write")).await;
    let expected_header = format!(
        "Bearer resource_metadata=\"{}\", scope=\"read\", error=\"insufficient_scope\", error_description=\"this operation needs the read scope\"",
        prm_url(&server)
    );
    let expected_body = json!({"error": "insufficient_scope", "error_description": "this operation needs the read scope"});
    // RFC 6750 §3.1 / MCP §Scope Challenge: 403 naming the scope needed, for step-up.
    let (status, headers, body) = mcp(&server, Some(c.access_token()), call_ping()).await;
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "www-authenticate"), expected_header);
    assert_eq!(body, expected_body);
    let r = get_ping(&server, Some(&format!("Bearer {}", c.access_token()))).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(r.headers(), "www-authenticate"), expected_header);
    assert_eq!(r.json::<Value>().await.unwrap(), expected_body);
    // Listing tools needs no particular scope.
    let (status, _, body) = mcp(
        &server,
        Some(c.access_token()),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_example_server_speaks_mcp() {
    let server = TestServer::spawn().await;
    let user = server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let t = Some(c.access_token());

    let (status, headers, body) = mcp(&server, t, json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}})).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let server_info = json!({"name": "lanyard-example", "title": "Lanyard example MCP server", "version": env!("CARGO_PKG_VERSION")});
    let instructions =
        "Call the ping tool to see who you are signed in as and what your token grants.";
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": server_info, "instructions": instructions,
        }})
    );
    // A revision it does not know: it offers its newest.
    let (_, _, body) = mcp(&server, t, json!({"jsonrpc": "2.0", "id": "x", "method": "initialize", "params": {"protocolVersion": "1999-01-01"}})).await;
    assert_eq!(body["id"], "x");
    assert_eq!(body["result"]["protocolVersion"], "2026-07-28");

    let (status, _, body) = mcp(
        &server,
        t,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 200);
    // The Apps SDK reads securitySchemes to offer sign-in per tool.
    let schemes = json!([{"type": "oauth2", "scopes": ["read"]}]);
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [{
            "name": "ping", "title": "Who am I",
            "description": "Returns the caller's subject, email, scopes, audience and any policy claims.",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": false},
            "annotations": {"readOnlyHint": true},
            "securitySchemes": schemes, "_meta": {"securitySchemes": schemes},
        }]}})
    );

    let at = jwt_claims(c.access_token());
    let whoami = json!({"sub": user["id"], "email": EMAIL, "email_verified": true, "scope": "read write", "aud": server.resource(), "client_id": c.client_id, "azp": c.client_id, "auth_time": at["auth_time"], "amr": ["pwd"]});
    let (status, _, body) = mcp(&server, t, call_ping()).await;
    assert_eq!(status, 200);
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), whoami);
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}], "structuredContent": whoami, "isError": false}})
    );
    let r = get_ping(&server, Some(&format!("Bearer {}", c.access_token()))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), whoami);

    let (_, _, body) = mcp(
        &server,
        t,
        json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
    )
    .await;
    assert_eq!(body, json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
    let (status, _, body) = mcp(
        &server,
        t,
        json!({"jsonrpc": "2.0", "id": 4, "method": "resources/list"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 4, "error": {"code": -32601, "message": "method resources/list not found"}})
    );
    let (_, _, body) = mcp(
        &server,
        t,
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "rm"}}),
    )
    .await;
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 5, "error": {"code": -32602, "message": "unknown tool rm"}})
    );
}

#[tokio::test]
async fn the_example_server_refuses_what_is_not_one_json_rpc_message() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let post = |body: &'static [u8], version: &'static str| {
        server
            .http
            .post(server.resource())
            .bearer_auth(c.access_token())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .body(body)
            .send()
    };
    // Streamable HTTP: a notification is accepted with 202 and no body.
    let r = post(
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "2025-06-18",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.unwrap(), "");
    let r = post(b"{not json", "2025-06-18").await.unwrap();
    assert_json(
        r,
        400,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}),
    )
    .await;
    let r = post(b"[]", "2025-06-18").await.unwrap();
    assert_json(r, 400, json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "expected one JSON-RPC message"}})).await;
    // MCP 2025-06-18 §Protocol Version Header: an unsupported version is 400.
    let r = post(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, "1999-01-01")
        .await
        .unwrap();
    assert_json(r, 400, json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "unsupported MCP-Protocol-Version 1999-01-01"}})).await;
    // No server-initiated stream: GET may not open one.
    let r = server
        .http
        .get(server.resource())
        .bearer_auth(c.access_token())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST, OPTIONS");
}
