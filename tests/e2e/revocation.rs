//! Token revocation (RFC 7009), introspection (RFC 7662) and OIDC userinfo (Core §5.3).

use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::*;

/// A revocation request with no client authentication (public clients, RFC 7009 §2.1).
async fn revoke(server: &TestServer, form: &[(&str, &str)]) -> reqwest::Response {
    post_form(server, "/oauth/revoke", form, None).await
}

/// RFC 7009 §2.2: 200 with nothing to say, whether or not the token was found.
async fn assert_revoked_ok(r: reqwest::Response) {
    assert_eq!(r.status(), 200);
    assert_no_store(r.headers());
    assert_cors(r.headers());
    assert_eq!(r.text().await.unwrap(), "");
}

#[tokio::test]
async fn revoking_an_unknown_token_is_200() {
    let server = TestServer::spawn().await;
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id");
    // RFC 7009 §2.2: invalid tokens do not cause an error; the endpoint probes nothing.
    let long = "x".repeat(300);
    for (token, hint) in [
        ("garbage", None),
        ("garbage", Some("access_token")),
        ("garbage", Some("refresh_token")),
        (long.as_str(), Some("access_token")),
        ("a.b.c", None),
    ] {
        let mut form = vec![("token", token), ("client_id", id)];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        assert_revoked_ok(revoke(&server, &form).await).await;
    }
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    assert_eq!(mcp_status(&server, c.access_token()).await, 200);
    let r = revoke(
        &server,
        &[
            ("token", c.refresh_token()),
            ("token_type_hint", "refresh_token"),
            ("client_id", &c.client_id),
        ],
    )
    .await;
    assert_revoked_ok(r).await;
    let (status, body, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "refresh token is invalid, expired or revoked"})
        )
    );
    // RFC 7009 §2.1: revoking a refresh token should revoke its access tokens too.
    assert_eq!(mcp_status(&server, c.access_token()).await, 401);
    // Revoking again is as quiet as the first time.
    let r = revoke(
        &server,
        &[("token", c.refresh_token()), ("client_id", &c.client_id)],
    )
    .await;
    assert_revoked_ok(r).await;
}

#[tokio::test]
async fn a_revoked_access_token_is_refused_by_the_resource() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let r = revoke(
        &server,
        &[
            ("token", c.access_token()),
            ("token_type_hint", "access_token"),
            ("client_id", &c.client_id),
        ],
    )
    .await;
    assert_revoked_ok(r).await;
    let (status, headers, body) = mcp(&server, Some(c.access_token()), call_ping()).await;
    assert_eq!(status, 401);
    assert_eq!(
        header(&headers, "www-authenticate"),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"read write\", error=\"invalid_token\", error_description=\"the access token was revoked\"",
            server.url("/.well-known/oauth-protected-resource/mcp")
        )
    );
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "the access token was revoked"})
    );

    // Only that access token: the grant lives on.
    let (status, next, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(status, 200, "{next}");
    let at = str_of(&next, "access_token");
    assert_eq!(mcp_status(&server, at).await, 200);
    // The hint is only a hint (RFC 7009 §2.1): no hint, or the wrong one, still finds it.
    let r = revoke(
        &server,
        &[
            ("token", at),
            ("token_type_hint", "refresh_token"),
            ("client_id", &c.client_id),
        ],
    )
    .await;
    assert_revoked_ok(r).await;
    assert_eq!(mcp_status(&server, at).await, 401);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let other = server.register_client(REDIRECT).await;
    let other_id = str_of(&other, "client_id");
    // RFC 7009 §2.1: the server checks the token was issued to the requesting client.
    for token in [c.access_token(), c.refresh_token()] {
        let r = revoke(&server, &[("token", token), ("client_id", other_id)]).await;
        assert_revoked_ok(r).await;
    }
    assert_eq!(mcp_status(&server, c.access_token()).await, 200);
    let (status, body, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_a_token() {
    let server = TestServer::spawn().await;
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id");
    let r = revoke(&server, &[("token", "x")]).await;
    let h = assert_json(r, 401, json!({"error": "invalid_client", "error_description": "client authentication is required"})).await;
    assert_no_store(&h);
    let r = revoke(&server, &[("token", "x"), ("client_id", "nobody")]).await;
    assert_json(
        r,
        401,
        json!({"error": "invalid_client", "error_description": "unknown client"}),
    )
    .await;
    let r = revoke(&server, &[("client_id", id)]).await;
    assert_json(
        r,
        400,
        json!({"error": "invalid_request", "error_description": "token is required"}),
    )
    .await;
    let r = server
        .http
        .post(server.url("/oauth/revoke"))
        .json(&json!({"token": "x", "client_id": id}))
        .send()
        .await
        .unwrap();
    assert_json(r, 400, json!({"error": "invalid_request", "error_description": "the body must be application/x-www-form-urlencoded"})).await;
}

/// A resource server registered by the operator; it may introspect its resource's tokens.
fn resource_server(server: &TestServer, resource: &str) -> (String, String) {
    let rs = server.cli_json(&[
        "client",
        "add",
        "--name",
        "MCP backend",
        "--resource-server",
        resource,
    ]);
    (
        str_of(&rs, "client_id").to_string(),
        str_of(&rs, "client_secret").to_string(),
    )
}

#[tokio::test]
async fn a_resource_server_introspects_any_token_of_its_resource() {
    let server = TestServer::spawn().await;
    let user = server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let (rs_id, rs_secret) = resource_server(&server, &server.resource());
    let claims = jwt_claims(c.access_token());

    let r = introspect_as(
        &server,
        &[("token", c.access_token())],
        (&rs_id, &rs_secret),
    )
    .await;
    assert_no_store(r.headers());
    // RFC 7662 §2.2.
    assert_json(
        r,
        200,
        json!({
            "active": true, "token_type": "Bearer", "scope": "read write",
            "client_id": c.client_id, "azp": c.client_id, "sub": user["id"], "aud": server.resource(), "iss": server.base,
            "exp": claims["exp"], "iat": claims["iat"], "jti": claims["jti"], "username": EMAIL,
            "email_verified": true, "auth_time": claims["auth_time"], "amr": ["pwd"],
        }),
    )
    .await;

    // client_secret_post works as well, and a refresh token introspects too.
    let r = post_form(
        &server,
        "/oauth/introspect",
        &[
            ("token", c.refresh_token()),
            ("token_type_hint", "refresh_token"),
            ("client_id", &rs_id),
            ("client_secret", &rs_secret),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let iat = body["iat"].as_i64().unwrap();
    assert_eq!(
        body,
        json!({
            "active": true, "token_type": "refresh_token", "scope": "read write",
            "client_id": c.client_id, "sub": user["id"], "aud": server.resource(), "iss": server.base,
            "exp": iat + 30 * 86_400, "iat": iat,
        })
    );
}

#[tokio::test]
async fn introspection_reveals_nothing_to_others_or_about_dead_tokens() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let (rs_id, rs_secret) = resource_server(&server, &server.resource());
    let (elsewhere_id, elsewhere_secret) =
        resource_server(&server, "https://elsewhere.example/mcp");
    let public = server.register_client(REDIRECT).await;
    let public_id = str_of(&public, "client_id");
    let inactive = json!({"active": false});

    // RFC 7662 §2.2: only {"active": false} for what the caller may not see.
    for token in [c.access_token(), c.refresh_token()] {
        let r = post_form(
            &server,
            "/oauth/introspect",
            &[("token", token)],
            Some((&elsewhere_id, &elsewhere_secret)),
        )
        .await;
        assert_json(r, 200, inactive.clone()).await;
        let r = post_form(
            &server,
            "/oauth/introspect",
            &[("token", token), ("client_id", public_id)],
            None,
        )
        .await;
        assert_json(r, 200, inactive.clone()).await;
    }
    for token in ["garbage", "a.b.c"] {
        let r = introspect_as(&server, &[("token", token)], (&rs_id, &rs_secret)).await;
        assert_json(r, 200, inactive.clone()).await;
    }
    let r = introspect_as(
        &server,
        &[("token_type_hint", "access_token")],
        (&rs_id, &rs_secret),
    )
    .await;
    assert_json(
        r,
        400,
        json!({"error": "invalid_request", "error_description": "token is required"}),
    )
    .await;

    // A rotated refresh token and a revoked access token are inactive.
    let next = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.refresh_token()),
            ("client_id", &c.client_id),
        ])
        .await
        .1;
    let r = introspect_as(
        &server,
        &[("token", c.refresh_token())],
        (&rs_id, &rs_secret),
    )
    .await;
    assert_json(r, 200, inactive.clone()).await;
    let at = str_of(&next, "access_token");
    let r = revoke(&server, &[("token", at), ("client_id", &c.client_id)]).await;
    assert_eq!(r.status(), 200);
    let r = introspect_as(&server, &[("token", at)], (&rs_id, &rs_secret)).await;
    assert_json(r, 200, inactive.clone()).await;

    // RFC 7662 §2.1: the caller must authenticate.
    let r = post_form(
        &server,
        "/oauth/introspect",
        &[("token", c.access_token())],
        None,
    )
    .await;
    assert_json(r, 401, json!({"error": "invalid_client", "error_description": "client authentication is required"})).await;
    let r = post_form(
        &server,
        "/oauth/introspect",
        &[("token", c.access_token())],
        Some((&rs_id, "wrong")),
    )
    .await;
    let h = assert_json(
        r,
        401,
        json!({"error": "invalid_client", "error_description": "client authentication failed"}),
    )
    .await;
    assert_eq!(h["www-authenticate"], "Basic realm=\"lanyard\"");
}

async fn userinfo(server: &TestServer, token: Option<&str>, post: bool) -> reqwest::Response {
    let url = server.url("/oauth/userinfo");
    let mut r = if post {
        server.http.post(url)
    } else {
        server.http.get(url)
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn userinfo_returns_the_email_only_with_the_email_scope() {
    let server = TestServer::spawn().await;
    let user = server.add_user(EMAIL);
    let with_email = server.connect(EMAIL, Some("openid email read")).await;
    // OIDC Core §5.3.1: GET and POST.
    for post in [false, true] {
        let r = userinfo(&server, Some(with_email.access_token()), post).await;
        assert_no_store(r.headers());
        assert_cors(r.headers());
        assert_json(
            r,
            200,
            // Created by the operator (`lanyard user add`): the email counts as verified.
            json!({"sub": user["id"], "email": EMAIL, "email_verified": true}),
        )
        .await;
    }
    let without = server.connect(EMAIL, Some("openid read")).await;
    let r = userinfo(&server, Some(without.access_token()), false).await;
    assert_json(r, 200, json!({"sub": user["id"]})).await;
}

#[tokio::test]
async fn userinfo_without_a_good_token_is_401_with_a_challenge() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    // RFC 6750 §3.1: no credentials, a bare challenge.
    let r = userinfo(&server, None, false).await;
    assert_eq!(r.status(), 401);
    assert_eq!(header(r.headers(), "www-authenticate"), "Bearer");
    assert_no_store(r.headers());

    let c = server.connect(EMAIL, Some("openid email")).await;
    let id_token = str_of(&c.tokens, "id_token").to_string();
    let r = revoke(
        &server,
        &[("token", c.access_token()), ("client_id", &c.client_id)],
    )
    .await;
    assert_eq!(r.status(), 200);
    // Garbage, an ID token, a revoked token: invalid_token.
    for token in ["garbage", id_token.as_str(), c.access_token()] {
        let r = userinfo(&server, Some(token), false).await;
        assert_eq!(
            header(r.headers(), "www-authenticate"),
            "Bearer error=\"invalid_token\""
        );
        assert_json(r, 401, json!({"error": "invalid_token"})).await;
    }
}

/// POST /oauth/introspect authenticated as a client with HTTP Basic.
async fn introspect_as(
    server: &TestServer,
    form: &[(&str, &str)],
    client: (&str, &str),
) -> reqwest::Response {
    post_form(server, "/oauth/introspect", form, Some(client)).await
}
