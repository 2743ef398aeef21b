//! The authorization endpoint: PKCE, redirect URI matching, RFC 8707 resources, scopes, and
//! where each error goes (a page, or back to the client with `iss`).

use crate::fixtures::*;
use crate::support::*;

#[tokio::test]
async fn pkce_other_than_s256_is_refused_back_to_the_client() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let base = authorize_params(&id, &challenge);
    let cases = [
        // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: PKCE is required, and plain protects nothing.
        (
            with_param(base.clone(), "code_challenge_method", Some("plain")),
            "code_challenge_method must be S256",
        ),
        // RFC 7636 §4.3: no method means plain.
        (
            with_param(base.clone(), "code_challenge_method", None),
            "code_challenge_method must be S256",
        ),
        (
            with_param(base.clone(), "code_challenge_method", Some("S512")),
            "code_challenge_method must be S256",
        ),
        (
            with_param(
                with_param(base.clone(), "code_challenge", None),
                "code_challenge_method",
                None,
            ),
            "code_challenge is required (PKCE)",
        ),
        (
            with_param(base.clone(), "code_challenge", Some("too-short")),
            "code_challenge is malformed",
        ),
    ];
    for (params, description) in cases {
        let page = Browser::default()
            .get(&authorize_url(&server, &params))
            .await;
        // RFC 9207: iss on error responses too; state echoed (RFC 6749 §4.1.2.1).
        assert_error_back(&page, &server, 302, "invalid_request", Some(description));
    }
}

#[tokio::test]
async fn untrusted_client_or_redirect_gets_an_error_page_never_a_redirect() {
    let (server, id) = server_with_client().await;
    let https = server.register_client("https://app.example/cb").await;
    let https_id = str_of(&https, "client_id");
    let (_, challenge) = pkce();
    let base = authorize_params(&id, &challenge);
    let mismatch = "does not match any URI registered";
    let cases = [
        // RFC 6749 §4.1.2.1: never redirect to an unchecked URI (open redirect).
        (
            with_param(
                base.clone(),
                "redirect_uri",
                Some("https://evil.example/callback"),
            ),
            mismatch,
        ),
        (
            with_param(
                base.clone(),
                "redirect_uri",
                Some("http://127.0.0.1:9/callback/extra"),
            ),
            mismatch,
        ),
        (
            with_param(
                base.clone(),
                "redirect_uri",
                Some("http://127.0.0.1:9/callback?x=1"),
            ),
            mismatch,
        ),
        (
            with_param(
                base.clone(),
                "redirect_uri",
                Some("http://localhost:9/callback"),
            ),
            mismatch,
        ),
        // Any port is for loopback only (RFC 8252 §7.3): not for https.
        (
            with_param(
                with_param(base.clone(), "client_id", Some(https_id)),
                "redirect_uri",
                Some("https://app.example:8443/cb"),
            ),
            mismatch,
        ),
        (
            with_param(
                with_param(base.clone(), "client_id", Some(https_id)),
                "redirect_uri",
                Some("https://app.example/cb/"),
            ),
            mismatch,
        ),
        (
            with_param(base.clone(), "redirect_uri", Some("not a uri")),
            "absolute URI",
        ),
        (
            with_param(base.clone(), "client_id", Some("no-such-client")),
            "not registered",
        ),
        (
            with_param(base.clone(), "client_id", None),
            "client_id is missing",
        ),
    ];
    for (params, needle) in cases {
        let page = Browser::default()
            .get(&authorize_url(&server, &params))
            .await;
        assert_error_page(&page, needle);
    }
    // The only registered URI is used when none is sent (RFC 6749 §3.1.2.3).
    let page = Browser::default()
        .get(&authorize_url(
            &server,
            &with_param(base, "redirect_uri", None),
        ))
        .await;
    assert_eq!(page.status, 302);
    assert!(
        page.location
            .unwrap()
            .starts_with(&server.url("/login?request="))
    );
}

#[tokio::test]
async fn loopback_redirect_matches_on_any_port() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    // Claude Code's CIMD registers a port-less loopback URI (claude-code#81643).
    let client = server.register_client("http://127.0.0.1/cb").await;
    let id = str_of(&client, "client_id");
    let used = "http://127.0.0.1:54321/cb";
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = Authorize {
        client_id: id,
        redirect_uri: used,
        challenge: &challenge,
        scope: None,
        resource: None,
        state: STATE,
        extra: vec![],
    };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    assert!(
        callback.starts_with("http://127.0.0.1:54321/cb?"),
        "{callback}"
    );
    let code = query(&callback)["code"].clone();
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", used),
            ("client_id", id),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn success_redirect_carries_exactly_code_state_and_iss() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    // state comes back byte for byte, whatever it holds (RFC 6749 §4.1.2).
    let state = "a b&c=d/é?#%";
    let mut browser = Browser::default();
    let auth = Authorize {
        client_id: &id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: None,
        resource: None,
        state,
        extra: vec![],
    };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    let q = query(&callback);
    let mut keys: Vec<&str> = q.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "iss", "state"], "{callback}");
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], server.base);
    assert!(
        q["code"].len() >= 32,
        "a code carries at least 128 bits: {}",
        q["code"]
    );
}

#[tokio::test]
async fn resource_is_validated_and_defaults_to_the_configured_one() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let base = authorize_params(&id, &challenge);
    let cases = [
        // RFC 8707 §2: a resource we do not serve is invalid_target, back to the client.
        (
            "https://unknown.example/mcp",
            "https://unknown.example/mcp is not a resource this server issues tokens for",
        ),
        ("mcp", "resource must be an absolute URI"),
        (
            "https://x.example/mcp#frag",
            "resource must not contain a fragment",
        ),
    ];
    for (resource, description) in cases {
        let page = Browser::default()
            .get(&authorize_url(
                &server,
                &with_param(base.clone(), "resource", Some(resource)),
            ))
            .await;
        assert_error_back(&page, &server, 302, "invalid_target", Some(description));
    }

    // No resource, no scope (the conformance suite sends neither): the default resource
    // and all of its scopes.
    let grant = CodeGrant::new(&server, EMAIL, None, None).await;
    let tokens = grant.tokens(&server).await;
    assert_eq!(tokens["scope"], "read write");
    let at = jwt_claims(str_of(&tokens, "access_token"));
    assert_eq!(at["aud"], server.resource());
    assert_eq!(at["scope"], "read write");

    // A trailing slash names the same resource; aud is the canonical form (checklist §6.2).
    let slashed = format!("{}/", server.resource());
    let grant = CodeGrant::new(&server, EMAIL, Some("read"), Some(&slashed)).await;
    let (status, tokens, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &grant.code),
            ("code_verifier", &grant.verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &grant.client_id),
            ("resource", &slashed),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        jwt_claims(str_of(&tokens, "access_token"))["aud"],
        server.resource()
    );
}

#[tokio::test]
async fn unknown_scopes_are_dropped_and_the_grant_says_what_was_granted() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, Some("read bogus admin"), None).await;
    let tokens = grant.tokens(&server).await;
    // RFC 6749 §3.3: the response names the granted scope when it differs.
    assert_eq!(tokens["scope"], "read");
    assert_eq!(jwt_claims(str_of(&tokens, "access_token"))["scope"], "read");
}

#[tokio::test]
async fn malformed_scope_is_invalid_scope() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let params = with_param(
        authorize_params(&id, &challenge),
        "scope",
        Some("read \"write\""),
    );
    let page = Browser::default()
        .get(&authorize_url(&server, &params))
        .await;
    assert_error_back(
        &page,
        &server,
        302,
        "invalid_scope",
        Some("malformed scope"),
    );
}

#[tokio::test]
async fn repeated_parameters_are_invalid_request() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    // RFC 6749 §3.1: parameters must not be included more than once.
    let mut params = authorize_params(&id, &challenge);
    params.push(("scope", "read"));
    params.push(("scope", "write"));
    let page = Browser::default()
        .get(&authorize_url(&server, &params))
        .await;
    assert_error_back(
        &page,
        &server,
        302,
        "invalid_request",
        Some("parameter scope was sent more than once"),
    );
}

#[tokio::test]
async fn other_malformed_parameters_are_invalid_request() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let base = authorize_params(&id, &challenge);
    let cases = [
        ("max_age", "-1", "max_age must be a whole number of seconds"),
        (
            "max_age",
            "soon",
            "max_age must be a whole number of seconds",
        ),
        // OIDC Core §3.1.2.1: none with anything else is an error.
        (
            "prompt",
            "none consent",
            "prompt=none cannot be combined with other values",
        ),
        // RFC 9101 request objects are not offered.
        (
            "request",
            "eyJhbGciOiJub25lIn0.e30.",
            "request objects are not supported",
        ),
        (
            "request_uri",
            "urn:ietf:params:oauth:request_uri:x",
            "request objects are not supported",
        ),
    ];
    for (key, value, description) in cases {
        let params = with_param(base.clone(), key, Some(value));
        let page = Browser::default()
            .get(&authorize_url(&server, &params))
            .await;
        assert_error_back(&page, &server, 302, "invalid_request", Some(description));
    }
}

#[tokio::test]
async fn post_to_the_authorization_endpoint_answers_with_303() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    // OAuth 2.1 §4.1.1 allows POST; RFC 9700 §4.12: the answer to a POST is a 303.
    let params = with_param(
        authorize_params(&id, &challenge),
        "response_type",
        Some("token"),
    );
    let page = Browser::default()
        .post(&server.url("/oauth/authorize"), &params)
        .await;
    assert_error_back(
        &page,
        &server,
        303,
        "unsupported_response_type",
        Some("response_type token is not supported; use code"),
    );
    let page = Browser::default()
        .post(
            &server.url("/oauth/authorize"),
            &authorize_params(&id, &challenge),
        )
        .await;
    assert_eq!(page.status, 303);
    assert!(
        page.location
            .unwrap()
            .starts_with(&server.url("/login?request="))
    );
}

#[tokio::test]
async fn response_types_other_than_code_are_refused() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let base = authorize_params(&id, &challenge);
    // OAuth 2.1 removed the implicit grant.
    for rt in ["token", "code id_token", "id_token"] {
        let page = Browser::default()
            .get(&authorize_url(
                &server,
                &with_param(base.clone(), "response_type", Some(rt)),
            ))
            .await;
        let description = format!("response_type {rt} is not supported; use code");
        assert_error_back(
            &page,
            &server,
            302,
            "unsupported_response_type",
            Some(&description),
        );
    }
    let page = Browser::default()
        .get(&authorize_url(
            &server,
            &with_param(base, "response_type", None),
        ))
        .await;
    assert_error_back(
        &page,
        &server,
        302,
        "invalid_request",
        Some("response_type is required"),
    );
}

#[tokio::test]
async fn errors_without_state_carry_iss_alone() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let params = with_param(
        with_param(authorize_params(&id, &challenge), "state", None),
        "response_type",
        Some("token"),
    );
    let page = Browser::default()
        .get(&authorize_url(&server, &params))
        .await;
    assert_redirect_back(
        &page,
        302,
        REDIRECT,
        &[
            ("error", "unsupported_response_type"),
            (
                "error_description",
                "response_type token is not supported; use code",
            ),
            ("iss", &server.base),
        ],
    );
}

/// `state` and `nonce` are capped at 512 bytes before anything is stored: an oversized
/// `state` gets a page (it would be echoed back), an oversized `nonce` the client's error.
#[tokio::test]
async fn oversized_state_and_nonce_are_refused() {
    let server = TestServer::spawn().await;
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id").to_string();
    let (_, challenge) = pkce();
    let long = "s".repeat(513);
    let request = |state: &str, extra: Vec<(&'static str, &str)>| {
        let auth = Authorize {
            client_id: &id,
            redirect_uri: REDIRECT,
            challenge: &challenge,
            scope: None,
            resource: None,
            state,
            extra,
        };
        auth.url(&server)
    };
    let page = Browser::default().get(&request(&long, vec![])).await;
    assert_error_page(&page, "state parameter that is too long");

    let page = Browser::default()
        .get(&request(STATE, vec![("nonce", &long)]))
        .await;
    assert_error_back(
        &page,
        &server,
        302,
        "invalid_request",
        Some("nonce is too long"),
    );
    // 512 bytes is still fine.
    let page = Browser::default()
        .get(&request(
            &"s".repeat(512),
            vec![("nonce", &"n".repeat(512))],
        ))
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
}
