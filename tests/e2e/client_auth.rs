//! Client authentication at the token endpoint (RFC 6749 §2.3): Basic, post, none, and
//! `401 invalid_client` for clients we do not know (checklist §6.9).

use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::*;

#[tokio::test]
async fn confidential_client_authenticates_with_basic_and_with_post() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = dcr_ok(
        &server,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let (id, secret) = (
        str_of(&client, "client_id"),
        str_of(&client, "client_secret"),
    );
    let mut browser = Browser::default();

    // RFC 6749 §2.3.1, Basic; the Python SDK also repeats client_id in the body.
    let (code, verifier) = code_for(&server, id, &mut browser).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", &verifier),
        ("redirect_uri", REDIRECT),
        ("client_id", id),
    ];
    let r = post_form(&server, "/oauth/token", &form, Some((id, secret))).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(jwt_claims(str_of(&body, "access_token"))["client_id"], id);

    // client_secret_post.
    let (code, verifier) = code_for(&server, id, &mut browser).await;
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(status, 200, "{body}");

    // A wrong secret in Basic: 401 with a Basic challenge (RFC 6749 §5.2).
    let (code, verifier) = code_for(&server, id, &mut browser).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", &verifier),
        ("redirect_uri", REDIRECT),
    ];
    let r = post_form(&server, "/oauth/token", &form, Some((id, "wrong"))).await;
    let h = assert_json(
        r,
        401,
        json!({"error": "invalid_client", "error_description": "client authentication failed"}),
    )
    .await;
    assert_eq!(h["www-authenticate"], "Basic realm=\"lanyard\"");
    assert_no_store(&h);
    // The code was not spent by a request that did not authenticate.
    let r = post_form(&server, "/oauth/token", &form, Some((id, secret))).await;
    assert_eq!(r.status(), 200);

    // No secret at all from a confidential client.
    let (code, verifier) = code_for(&server, id, &mut browser).await;
    assert_oauth_error(
        server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
                ("redirect_uri", REDIRECT),
                ("client_id", id),
            ])
            .await,
        401,
        json!({"error": "invalid_client", "error_description": "client secret is required"}),
    );
}

#[tokio::test]
async fn operator_registered_confidential_client_uses_basic() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = server.cli_json(&[
        "client",
        "add",
        "--name",
        "Back office",
        "--redirect-uri",
        REDIRECT,
        "--confidential",
    ]);
    let (id, secret) = (
        str_of(&client, "client_id"),
        str_of(&client, "client_secret"),
    );
    let mut browser = Browser::default();
    let (code, verifier) = code_for(&server, id, &mut browser).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", &verifier),
        ("redirect_uri", REDIRECT),
    ];
    let r = post_form(&server, "/oauth/token", &form, Some((id, secret))).await;
    assert_eq!(r.status(), 200);
    assert_no_store(r.headers());
}

#[tokio::test]
async fn unknown_or_removed_client_at_token_is_401_invalid_client() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let (verifier, _) = pkce();
    let unknown = json!({"error": "invalid_client", "error_description": "unknown client"});
    // Claude and the TS SDK register again on exactly this (checklist §6.9).
    let headers = assert_oauth_error(
        server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", "abc"),
                ("code_verifier", &verifier),
                ("redirect_uri", REDIRECT),
                ("client_id", "no-such-client"),
            ])
            .await,
        401,
        unknown.clone(),
    );
    assert!(
        headers.get("www-authenticate").is_none(),
        "no Basic attempted, no Basic challenge"
    );

    let form = [
        ("grant_type", "authorization_code"),
        ("code", "abc"),
        ("code_verifier", &verifier),
    ];
    let r = post_form(
        &server,
        "/oauth/token",
        &form,
        Some(("no-such-client", "s")),
    )
    .await;
    let h = assert_json(r, 401, unknown.clone()).await;
    assert_eq!(h["www-authenticate"], "Basic realm=\"lanyard\"");

    // A client the operator removed after it got tokens.
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let tokens = grant.tokens(&server).await;
    let out = server.cli(&["client", "remove", &grant.client_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body, _) =
        refresh(&server, &grant.client_id, str_of(&tokens, "refresh_token")).await;
    assert_eq!((status.as_u16(), body), (401, unknown));
}

#[tokio::test]
async fn client_authentication_is_required_and_unambiguous() {
    let server = TestServer::spawn().await;
    let (verifier, _) = pkce();
    let base = [
        ("grant_type", "authorization_code"),
        ("code", "abc"),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body, _) = server.token(&base).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            401,
            json!({"error": "invalid_client", "error_description": "client authentication is required"})
        )
    );

    let public = dcr_ok(
        &server,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let id = str_of(&public, "client_id");
    // A public client that sends a secret is confused, not authenticated.
    let mut form = base.to_vec();
    form.extend([("client_id", id), ("client_secret", "guess")]);
    let (status, body, _) = server.token(&form).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            401,
            json!({"error": "invalid_client", "error_description": "this client has no secret"})
        )
    );

    // Basic for one client with another in the body.
    let mut form = base.to_vec();
    form.push(("client_id", "someone-else"));
    let r = post_form(&server, "/oauth/token", &form, Some((id, "x"))).await;
    assert_json(r, 400, json!({"error": "invalid_request", "error_description": "client_id in body differs from Basic credentials"})).await;

    // Basic that is not base64 of id:secret.
    for value in ["Basic !!!", "Basic bm9jb2xvbg=="] {
        let r = server
            .http
            .post(server.url("/oauth/token"))
            .header("authorization", value)
            .form(&base)
            .send()
            .await
            .unwrap();
        let h = assert_json(
            r,
            401,
            json!({"error": "invalid_client", "error_description": "malformed Basic credentials"}),
        )
        .await;
        assert_eq!(h["www-authenticate"], "Basic realm=\"lanyard\"");
    }
}

#[tokio::test]
async fn a_registered_client_can_sign_assertions_with_keys_it_registered() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let key = SigningKey::new("dcr-1");
    let client = dcr_ok(
        &server,
        json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk()]},
        }),
    )
    .await;
    assert_eq!(client["token_endpoint_auth_method"], "private_key_jwt");
    assert!(client.get("client_secret").is_none(), "{client}");
    let id = str_of(&client, "client_id");
    let mut browser = Browser::default();
    let (code, verifier) = code_for(&server, id, &mut browser).await;
    let mut form = code_form(&code, &verifier).to_vec();
    form.push(("client_id", id));
    // A client that registered keys may not fall back to being public.
    assert_refused(
        server.token(&form).await,
        401,
        "invalid_client",
        "no assertion",
    );
    let assertion = key.assertion(id, &server.base, "a1", 60);
    let (status, body, _) = token_signed(&server, &form, &assertion).await;
    assert_eq!(status, 200, "{body}");

    // Registration refuses a signing client without keys, or with both kinds.
    for bad in [
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [key.jwk()]}, "jwks_uri": "https://keys.example/jwks.json"}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": []}}),
    ] {
        let r = server
            .http
            .post(server.url("/oauth/register"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{bad}");
    }
}
