//! RFC 7591 dynamic client registration, tolerant the way hosted MCP clients need
//! (checklist §6.7).

use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::*;

/// The TS SDK's zod schemas reject `null` for optional members (checklist §0.8).
fn assert_no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in response"),
        Value::Array(a) => a.iter().for_each(assert_no_nulls),
        Value::Object(m) => m.values().for_each(assert_no_nulls),
        _ => {}
    }
}

/// The body without the members the server generates.
fn without_generated(mut v: Value) -> Value {
    let m = v.as_object_mut().unwrap();
    for k in [
        "client_id",
        "client_id_issued_at",
        "client_secret",
        "client_secret_expires_at",
    ] {
        m.remove(k);
    }
    v
}

#[tokio::test]
async fn registration_echoes_what_was_stored_with_no_nulls_and_integer_times() {
    let server = TestServer::spawn().await;
    let before = unix_now();
    // Shaped like Claude's request, plus members we do not know and explicit nulls.
    let r = dcr(
        &server,
        &json!({
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "Claude",
            "client_uri": "https://claude.ai",
            "scope": "read write",
            "logo_uri": null,
            "contacts": null,
            "software_statement_extra": {"x": 1},
        }),
    )
    .await;
    // RFC 7591 §3.2.1: 201 Created, and credentials are not cached.
    assert_eq!(r.status(), 201);
    assert_no_store(r.headers());
    assert_cors(r.headers());
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_no_nulls(&body);
    let id = str_of(&body, "client_id");
    // CIMD draft §3: ids we mint must never look like metadata-document URLs.
    assert!(!id.is_empty() && !id.starts_with("http"), "{id}");
    let issued = body["client_id_issued_at"]
        .as_i64()
        .expect("client_id_issued_at is an integer");
    assert!((before..=unix_now()).contains(&issued), "{issued}");
    // A public client gets no secret, not a null one.
    assert!(
        body.get("client_secret").is_none() && body.get("client_secret_expires_at").is_none(),
        "{body}"
    );
    assert_eq!(
        without_generated(body),
        json!({
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "web",
            "scope": "read write",
            "client_name": "Claude",
            "client_uri": "https://claude.ai",
        })
    );
}

#[tokio::test]
async fn secret_methods_get_a_secret_that_never_expires() {
    let server = TestServer::spawn().await;
    for (asked, stored) in [
        (Some("client_secret_post"), "client_secret_post"),
        (Some("client_secret_basic"), "client_secret_basic"),
        // RFC 7591 §2: client_secret_basic is the default.
        (None, "client_secret_basic"),
    ] {
        let mut req = json!({"redirect_uris": [REDIRECT]});
        if let Some(m) = asked {
            req["token_endpoint_auth_method"] = json!(m);
        }
        let body = dcr_ok(&server, req).await;
        assert_no_nulls(&body);
        assert_eq!(body["token_endpoint_auth_method"], stored);
        assert!(str_of(&body, "client_secret").len() >= 32, "{body}");
        // RFC 7591 §3.2.1: 0 means it never expires, as an integer.
        assert_eq!(body["client_secret_expires_at"], json!(0));
    }
}

#[tokio::test]
async fn unknown_scopes_are_narrowed_away_and_empty_scope_means_no_limit() {
    let server = TestServer::spawn().await;
    let cases = [
        // Clients send every scope they have seen (gbrain#5055): keep the ones we grant.
        ("read bogus offline_access", Some("read offline_access")),
        // The Inspector sends scope "" (checklist §6.7).
        ("", None),
        ("bogus other", None),
    ];
    for (asked, kept) in cases {
        let body = dcr_ok(&server, json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": asked})).await;
        assert_no_nulls(&body);
        assert_eq!(
            body.get("scope").and_then(Value::as_str),
            kept,
            "scope {asked:?}: {body}"
        );
    }
}

#[tokio::test]
async fn application_type_is_derived_from_redirects_and_honoured_when_sent() {
    let server = TestServer::spawn().await;
    let cases = [
        // OIDC DCR / SEP-837: loopback (and private schemes) are native apps.
        (json!(["http://127.0.0.1:33418/callback"]), None, "native"),
        (
            json!(["http://localhost/callback", "com.example.app:/oauth"]),
            None,
            "native",
        ),
        (
            json!(["https://chatgpt.com/connector_platform_oauth_redirect"]),
            None,
            "web",
        ),
        (
            json!(["https://app.example/cb", "http://127.0.0.1/cb"]),
            None,
            "web",
        ),
        (json!(["http://127.0.0.1/cb"]), Some("web"), "web"),
        (json!(["https://app.example/cb"]), Some("native"), "native"),
    ];
    for (uris, sent, want) in cases {
        let mut req = json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"});
        if let Some(t) = sent {
            req["application_type"] = json!(t);
        }
        let body = dcr_ok(&server, req).await;
        assert_eq!(body["application_type"], want, "{uris} {sent:?}");
        assert_eq!(body["redirect_uris"], uris);
    }
}

#[tokio::test]
async fn untrustworthy_redirect_uris_are_invalid_redirect_uri() {
    let server = TestServer::spawn().await;
    let cases = [
        (
            json!(["javascript:alert(1)"]),
            "javascript:alert(1): redirect_uri scheme is not allowed",
        ),
        // https or loopback only (MCP 2026-07-28 §Communication Security).
        (
            json!(["http://evil.example/cb"]),
            "http://evil.example/cb: http redirect URIs are allowed only for loopback hosts",
        ),
        (
            json!(["https://app.example/cb", "data:text/html,hi"]),
            "data:text/html,hi: redirect_uri scheme is not allowed",
        ),
        (
            json!(["https://app.example/cb#frag"]),
            "https://app.example/cb#frag: redirect_uri must not contain a fragment",
        ),
        (
            json!(["/relative/cb"]),
            "/relative/cb: redirect_uri must be an absolute URI",
        ),
        (json!([]), "redirect_uris must be a non-empty array"),
        (
            json!("https://app.example/cb"),
            "redirect_uris must be a non-empty array",
        ),
        (json!([42]), "redirect_uris must be strings"),
    ];
    for (uris, description) in cases {
        let r = dcr(
            &server,
            &json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"}),
        )
        .await;
        // RFC 7591 §3.2.2.
        let h = assert_json(
            r,
            400,
            json!({"error": "invalid_redirect_uri", "error_description": description}),
        )
        .await;
        assert_no_store(&h);
    }
    let r = dcr(&server, &json!({"client_name": "No redirects"})).await;
    assert_json(
        r,
        400,
        json!({"error": "invalid_redirect_uri", "error_description": "redirect_uris is required"}),
    )
    .await;
}

#[tokio::test]
async fn malformed_metadata_is_invalid_client_metadata() {
    let server = TestServer::spawn().await;
    let not_json = json!({"error": "invalid_client_metadata", "error_description": "the body must be a JSON object of client metadata"});
    let bodies: [(&str, &[u8]); 5] = [
        ("application/json", b"redirect_uris=https://a.example/cb"),
        ("application/json", b"[]"),
        (
            "application/json",
            b"{\"redirect_uris\": [\"https://a.example/cb\"",
        ),
        (
            "application/x-www-form-urlencoded",
            b"redirect_uris=https%3A%2F%2Fa.example%2Fcb",
        ),
        ("application/json", b"\xff\xfe{}"),
    ];
    // Every member of the metadata in order, as an array: serde would take it for the
    // struct, and a client it is not.
    let in_order = serde_json::to_vec(&metadata_as_array(None, "https://a.example/cb")).unwrap();
    let bodies = bodies
        .into_iter()
        .chain([("application/json", in_order.as_slice())]);
    for (ct, body) in bodies {
        let r = server
            .http
            .post(server.url("/oauth/register"))
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_json(r, 400, not_json.clone()).await;
    }
    let cases = [
        (
            json!({"token_endpoint_auth_method": "tls_client_auth"}),
            "unsupported token_endpoint_auth_method \"tls_client_auth\"",
        ),
        (
            json!({"grant_types": ["implicit"]}),
            "grant_types must include authorization_code",
        ),
        (
            json!({"response_types": ["token"]}),
            "response_types must include code",
        ),
        (
            json!({"application_type": "desktop"}),
            "unknown application_type \"desktop\"",
        ),
        (
            json!({"client_uri": "javascript:alert(1)"}),
            "client_uri must be an http(s) URL",
        ),
        (json!({"scope": "read \"quoted\""}), "scope is malformed"),
    ];
    for (extra, description) in cases {
        let mut req = json!({"redirect_uris": [REDIRECT]});
        req.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = dcr(&server, &req).await;
        assert_json(
            r,
            400,
            json!({"error": "invalid_client_metadata", "error_description": description}),
        )
        .await;
    }
}

#[tokio::test]
async fn bursts_of_registrations_from_one_address_succeed() {
    let server = TestServer::spawn().await;
    // Claude registers twice per attempt from a few shared egress IPs (checklist §6.8).
    for i in 0..50 {
        let body = dcr_ok(&server, json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": format!("burst {i}")})).await;
        assert_eq!(body["client_name"], format!("burst {i}"));
    }
}

#[tokio::test]
async fn a_registered_scope_limits_what_the_client_is_granted() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = dcr_ok(
        &server,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "read"}),
    )
    .await;
    let id = str_of(&client, "client_id");
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = Authorize {
        client_id: id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: Some("read write"),
        resource: None,
        state: STATE,
        extra: vec![],
    };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    let (status, tokens, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &query(&callback)["code"]),
            ("code_verifier", &verifier),
            ("client_id", id),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "read");
}

/// A client's name is shown on the consent page: at most 100 characters.
#[tokio::test]
async fn a_client_name_over_100_characters_is_refused() {
    let server = TestServer::spawn().await;
    let register = |name: String| {
        let server = &server;
        async move {
            server
                .http
                .post(server.url("/oauth/register"))
                .json(&json!({"redirect_uris": [REDIRECT], "client_name": name}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(register("é".repeat(100)).await.status(), 201);
    assert_json(
        register("n".repeat(101)).await,
        400,
        json!({"error": "invalid_client_metadata", "error_description": "client_name is too long"}),
    )
    .await;
}
