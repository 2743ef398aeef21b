//! The token endpoint's authorization-code grant (RFC 6749 §4.1.3, OAuth 2.1, RFC 7636,
//! RFC 8707), and how it answers requests it cannot honour (RFC 6749 §5.2).

use std::time::Duration;

use serde_json::json;

use crate::fixtures::*;
use crate::support::*;

fn invalid_grant(description: &str) -> serde_json::Value {
    json!({"error": "invalid_grant", "error_description": description})
}

fn invalid_request(description: &str) -> serde_json::Value {
    json!({"error": "invalid_request", "error_description": description})
}

#[tokio::test]
async fn code_exchange_answers_in_the_exact_rfc6749_shape() {
    let server = TestServer::spawn().await;
    let user = server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let (status, body, headers) = grant.exchange(&server).await;
    assert_eq!(status, 200, "{body}");
    // RFC 6749 §5.1: no-store, no-cache; JSON; CORS for browser clients.
    assert_no_store(&headers);
    assert_cors(&headers);
    assert_eq!(headers["content-type"], "application/json");
    let (at, rt) = (
        str_of(&body, "access_token"),
        str_of(&body, "refresh_token"),
    );
    // No nulls, integer expires_in, no id_token without openid.
    assert_eq!(
        body,
        json!({"access_token": at, "token_type": "Bearer", "expires_in": 900, "refresh_token": rt, "scope": "read write"})
    );
    // Refresh tokens are opaque and carry 256 bits.
    assert!(rt.len() >= 43 && !rt.contains('.'), "{rt}");

    // RFC 9068 §2.2, plus azp, email and email_verified, and how and when the user signed
    // in (design.md "Tokens").
    let claims = jwt_claims(at);
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(
        claims,
        json!({
            "iss": server.base, "sub": user["id"], "aud": server.resource(),
            "azp": grant.client_id, "client_id": grant.client_id, "scope": "read write",
            "email": EMAIL, "email_verified": true,
            "auth_time": claims["auth_time"].as_i64().unwrap(), "amr": ["pwd"],
            "iat": iat, "exp": iat + 900, "jti": claims["jti"],
        })
    );
    assert!(claims["auth_time"].as_i64().unwrap() <= iat);
    assert_ne!(claims["sub"], EMAIL, "sub is never the email");
    // A token dated in the future fails in clients right after issuance (checklist §6.18).
    let now = unix_now();
    assert!(iat <= now, "iat {iat} is after {now}");
    assert_eq!(mcp_status(&server, at).await, 200);
}

#[tokio::test]
async fn form_content_type_with_charset_is_accepted() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("code_verifier", &grant.verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &grant.client_id),
        ])
        .finish();
    let r = server
        .http
        .post(server.url("/oauth/token"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn wrong_or_missing_verifier_is_refused() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let (other_verifier, _) = pkce();
    let (status, body, headers) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("code_verifier", &other_verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &grant.client_id),
        ])
        .await;
    // RFC 7636 §4.6.
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            invalid_grant("code_verifier does not match the code challenge")
        )
    );
    assert_no_store(&headers);
    // The right verifier is too late: the code is spent (and what it might have issued with it).
    let (status, body, _) = grant.exchange(&server).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, invalid_grant("authorization code already used"))
    );

    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("redirect_uri", REDIRECT),
            ("client_id", &grant.client_id),
        ])
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (400, invalid_request("code_verifier is required"))
    );
    // The request that lacked the verifier did not spend the code.
    let (status, body, _) = grant.exchange(&server).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn short_or_malformed_verifiers_are_refused() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    // RFC 7636 §4.1: 43 to 128 unreserved characters; anything else cannot match.
    for verifier in [
        "short".to_string(),
        "a".repeat(129),
        format!("{}!", "a".repeat(50)),
    ] {
        let grant = CodeGrant::new(&server, EMAIL, None, None).await;
        let (status, body, _) = server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &grant.code),
                ("code_verifier", &verifier),
                ("redirect_uri", REDIRECT),
                ("client_id", &grant.client_id),
            ])
            .await;
        assert_eq!(
            (status.as_u16(), body),
            (
                400,
                invalid_grant("code_verifier does not match the code challenge")
            ),
            "{verifier}"
        );
    }
}

#[tokio::test]
async fn a_reused_code_revokes_what_its_first_use_issued() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let first = grant.tokens(&server).await;
    let (at, rt) = (
        str_of(&first, "access_token"),
        str_of(&first, "refresh_token"),
    );
    assert_eq!(mcp_status(&server, at).await, 200);

    // RFC 6749 §4.1.2: the second use fails, and what the first issued is revoked.
    assert_oauth_error(
        grant.exchange(&server).await,
        400,
        invalid_grant("authorization code already used"),
    );
    let (status, headers, body) = mcp(&server, Some(at), call_ping()).await;
    assert_eq!(status, 401, "{body}");
    assert!(header(&headers, "www-authenticate").contains("error=\"invalid_token\""));
    let (status, body, _) = refresh(&server, &grant.client_id, rt).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            invalid_grant("refresh token is invalid, expired or revoked")
        )
    );
}

#[tokio::test]
async fn redirect_uri_must_match_the_authorization_request() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    // RFC 6749 §4.1.3; on loopback the port counts here, since it was fixed at authorize.
    for wrong in [
        "http://127.0.0.1:9/other",
        "http://127.0.0.1:10/callback",
        "https://evil.example/callback",
    ] {
        let grant = CodeGrant::new(&server, EMAIL, None, None).await;
        let (status, body, _) = server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &grant.code),
                ("code_verifier", &grant.verifier),
                ("redirect_uri", wrong),
                ("client_id", &grant.client_id),
            ])
            .await;
        assert_eq!(
            (status.as_u16(), body),
            (
                400,
                invalid_grant("redirect_uri does not match the authorization request")
            ),
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn resource_must_match_the_one_bound_to_the_code() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    // RFC 8707 §2.2: the code is bound to its resource.
    for wrong in ["https://other.example/mcp", "http://127.0.0.1:1/mcp"] {
        let grant = CodeGrant::new(&server, EMAIL, None, None).await;
        assert_oauth_error(
            server
                .token(&[
                    ("grant_type", "authorization_code"),
                    ("code", &grant.code),
                    ("code_verifier", &grant.verifier),
                    ("redirect_uri", REDIRECT),
                    ("client_id", &grant.client_id),
                    ("resource", wrong),
                ])
                .await,
            400,
            json!({"error": "invalid_target", "error_description": "resource is not the one this grant was made for"}),
        );
    }
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("code_verifier", &grant.verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &grant.client_id),
            ("resource", "not a uri"),
        ])
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"error": "invalid_target", "error_description": "resource must be an absolute URI"})
        )
    );
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let server = TestServer::spawn_with(&[("LANYARD_CODE_TTL", "1")]).await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body, _) = grant.exchange(&server).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            invalid_grant("authorization code is invalid or expired")
        )
    );
}

#[tokio::test]
async fn a_code_issued_to_another_client_is_invalid_grant() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let thief = server.register_client(REDIRECT).await;
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("code_verifier", &grant.verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", str_of(&thief, "client_id")),
        ])
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            invalid_grant("authorization code was issued to another client")
        )
    );
    // The attempt spent the code: it is worth nothing to anyone now.
    let (status, body, _) = grant.exchange(&server).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, invalid_grant("authorization code already used"))
    );
}

#[tokio::test]
async fn unknown_codes_and_missing_parameters() {
    let server = TestServer::spawn().await;
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id");
    let (verifier, _) = pkce();
    let cases: Vec<(Vec<(&str, &str)>, serde_json::Value)> = vec![
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("code_verifier", &verifier),
                ("client_id", id),
            ],
            invalid_grant("authorization code is invalid or expired"),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code_verifier", &verifier),
                ("client_id", id),
            ],
            invalid_request("code is required"),
        ),
        // RFC 6749 §3.1: an empty value counts as absent.
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", ""),
                ("code_verifier", &verifier),
                ("client_id", id),
            ],
            invalid_request("code is required"),
        ),
        (
            vec![("grant_type", "refresh_token"), ("client_id", id)],
            invalid_request("refresh_token is required"),
        ),
        // RFC 6749 §3.2: parameters must not repeat.
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
                ("code_verifier", &verifier),
                ("client_id", id),
            ],
            invalid_request("parameter code was sent more than once"),
        ),
        (
            vec![
                ("code", "a"),
                ("code_verifier", &verifier),
                ("client_id", id),
            ],
            invalid_request("grant_type is required"),
        ),
        (vec![], invalid_request("grant_type is required")),
    ];
    for (form, expected) in cases {
        let (status, body, headers) = server.token(&form).await;
        assert_eq!((status.as_u16(), &body), (400, &expected), "{form:?}");
        assert_no_store(&headers);
    }
}

#[tokio::test]
async fn unsupported_grant_types_are_named_as_such() {
    let server = TestServer::spawn().await;
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id");
    // OAuth 2.1 drops the password and implicit grants; grant_type is read first (style §2).
    for gt in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "AUTHORIZATION_CODE",
    ] {
        let (status, body, headers) = server
            .token(&[
                ("grant_type", gt),
                ("username", EMAIL),
                ("password", PASSWORD),
                ("client_id", id),
            ])
            .await;
        let description = format!("grant_type {gt} is not supported");
        assert_eq!(
            (status.as_u16(), body),
            (
                400,
                json!({"error": "unsupported_grant_type", "error_description": description})
            )
        );
        assert_no_store(&headers);
    }
}

#[tokio::test]
async fn only_a_form_post_is_a_token_request() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    // RFC 6749 §3.2: POST only.
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let url = format!(
            "{}?grant_type=authorization_code&code={}&code_verifier={}&client_id={}",
            server.url("/oauth/token"),
            grant.code,
            grant.verifier,
            grant.client_id
        );
        let r = server
            .http
            .request(method.clone(), url)
            .send()
            .await
            .unwrap();
        let h = assert_json(r, 405, invalid_request("method not allowed")).await;
        assert_eq!(h["allow"], "POST", "{method}");
    }
    // RFC 6749 §4.1.3: application/x-www-form-urlencoded, not JSON.
    let r = server
        .http
        .post(server.url("/oauth/token"))
        .json(&json!({"grant_type": "authorization_code", "code": grant.code, "code_verifier": grant.verifier, "redirect_uri": REDIRECT, "client_id": grant.client_id}))
        .send()
        .await
        .unwrap();
    let h = assert_json(
        r,
        400,
        invalid_request("the body must be application/x-www-form-urlencoded"),
    )
    .await;
    assert_no_store(&h);
    // None of that spent the code.
    let (status, body, _) = grant.exchange(&server).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn openid_requests_get_an_id_token_with_the_nonce() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id");
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = Authorize {
        client_id: id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: Some("openid email read"),
        resource: None,
        state: STATE,
        extra: vec![("nonce", "n-0S6_WzA2Mj")],
    };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    let code = query(&callback)["code"].clone();
    let (status, tokens, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", id),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = str_of(&tokens, "id_token");
    assert_eq!(jwt_header(id_token)["typ"], "JWT");
    let claims = jwt_claims(id_token);
    let at = jwt_claims(str_of(&tokens, "access_token"));
    // OIDC Core §2 and §3.1.3.7.
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(
        claims,
        json!({
            "iss": server.base, "sub": at["sub"], "aud": id, "azp": id,
            "iat": iat, "exp": iat + 3600, "auth_time": claims["auth_time"].as_i64().unwrap(),
            "amr": ["pwd"], "nonce": "n-0S6_WzA2Mj", "email": EMAIL, "email_verified": true,
        })
    );
    assert!(claims["auth_time"].as_i64().unwrap() <= iat);
    // RFC 9068 §4: an ID token is not an access token.
    assert_eq!(mcp_status(&server, id_token).await, 401);
}
