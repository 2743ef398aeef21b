//! The authorization endpoint: PKCE, redirect URI matching, RFC 8707 resources, scopes,
//! `prompt`, consent, and where each error goes (a page, or back to the client with `iss`).

use serde_json::json;

use crate::fixtures::*;
use crate::support::*;

/// A server with a user and a registered public client.
async fn setup() -> (TestServer, String) {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id").to_string();
    (server, id)
}

/// The parameters of a good request from `client_id`.
fn good<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", STATE),
    ]
}

fn with<'a>(mut params: Vec<(&'a str, &'a str)>, key: &'a str, value: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v));
    }
    params
}

/// Walks a fresh browser through sign-in to the consent page; returns the page.
async fn to_consent(server: &TestServer, browser: &mut Browser, url: &str) -> (String, Page) {
    let page = browser.get(url).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let login = page.location.unwrap();
    assert!(login.starts_with(&server.url("/login?request=")), "{login}");
    let page = browser.get(&login).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser.post(&login, &[("email", EMAIL), ("password", PASSWORD), ("csrf_token", &csrf)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let consent = page.location.unwrap();
    assert!(consent.starts_with(&server.url("/consent?request=")), "{consent}");
    let page = browser.get(&consent).await;
    assert_eq!(page.status, 200);
    (consent, page)
}

#[tokio::test]
async fn pkce_other_than_s256_is_refused_back_to_the_client() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let base = good(&id, &challenge);
    let cases = [
        // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: PKCE is required, and plain protects nothing.
        (with(base.clone(), "code_challenge_method", Some("plain")), "code_challenge_method must be S256"),
        // RFC 7636 §4.3: no method means plain.
        (with(base.clone(), "code_challenge_method", None), "code_challenge_method must be S256"),
        (with(base.clone(), "code_challenge_method", Some("S512")), "code_challenge_method must be S256"),
        (with(with(base.clone(), "code_challenge", None), "code_challenge_method", None), "code_challenge is required (PKCE)"),
        (with(base.clone(), "code_challenge", Some("too-short")), "code_challenge is malformed"),
    ];
    for (params, description) in cases {
        let page = Browser::default().get(&authorize_url(&server, &params)).await;
        // RFC 9207: iss on error responses too; state echoed (RFC 6749 §4.1.2.1).
        assert_redirect_back(&page, 302, REDIRECT, &[("error", "invalid_request"), ("error_description", description), ("state", STATE), ("iss", &server.base)]);
    }
}

#[tokio::test]
async fn untrusted_client_or_redirect_gets_an_error_page_never_a_redirect() {
    let (server, id) = setup().await;
    let https = server.register_client("https://app.example/cb").await;
    let https_id = str_of(&https, "client_id");
    let (_, challenge) = pkce();
    let base = good(&id, &challenge);
    let mismatch = "does not match any URI registered";
    let cases = [
        // RFC 6749 §4.1.2.1: never redirect to an unchecked URI (open redirect).
        (with(base.clone(), "redirect_uri", Some("https://evil.example/callback")), mismatch),
        (with(base.clone(), "redirect_uri", Some("http://127.0.0.1:9/callback/extra")), mismatch),
        (with(base.clone(), "redirect_uri", Some("http://127.0.0.1:9/callback?x=1")), mismatch),
        (with(base.clone(), "redirect_uri", Some("http://localhost:9/callback")), mismatch),
        // Any port is for loopback only (RFC 8252 §7.3): not for https.
        (with(with(base.clone(), "client_id", Some(https_id)), "redirect_uri", Some("https://app.example:8443/cb")), mismatch),
        (with(with(base.clone(), "client_id", Some(https_id)), "redirect_uri", Some("https://app.example/cb/")), mismatch),
        (with(base.clone(), "redirect_uri", Some("not a uri")), "absolute URI"),
        (with(base.clone(), "client_id", Some("no-such-client")), "not registered"),
        (with(base.clone(), "client_id", None), "client_id is missing"),
    ];
    for (params, needle) in cases {
        let page = Browser::default().get(&authorize_url(&server, &params)).await;
        assert_error_page(&page, needle);
    }
    // The only registered URI is used when none is sent (RFC 6749 §3.1.2.3).
    let page = Browser::default().get(&authorize_url(&server, &with(base, "redirect_uri", None))).await;
    assert_eq!(page.status, 302);
    assert!(page.location.unwrap().starts_with(&server.url("/login?request=")));
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
    let auth = Authorize { client_id: id, redirect_uri: used, challenge: &challenge, scope: None, resource: None, state: STATE, extra: vec![] };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    assert!(callback.starts_with("http://127.0.0.1:54321/cb?"), "{callback}");
    let code = query(&callback)["code"].clone();
    let (status, body, _) = server
        .token(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier), ("redirect_uri", used), ("client_id", id)])
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn success_redirect_carries_exactly_code_state_and_iss() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    // state comes back byte for byte, whatever it holds (RFC 6749 §4.1.2).
    let state = "a b&c=d/é?#%";
    let mut browser = Browser::default();
    let auth = Authorize { client_id: &id, redirect_uri: REDIRECT, challenge: &challenge, scope: None, resource: None, state, extra: vec![] };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    let q = query(&callback);
    let mut keys: Vec<&str> = q.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "iss", "state"], "{callback}");
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], server.base);
    assert!(q["code"].len() >= 32, "a code carries at least 128 bits: {}", q["code"]);
}

#[tokio::test]
async fn resource_is_validated_and_defaults_to_the_configured_one() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let base = good(&id, &challenge);
    let cases = [
        // RFC 8707 §2: a resource we do not serve is invalid_target, back to the client.
        ("https://unknown.example/mcp", "https://unknown.example/mcp is not a resource this server issues tokens for"),
        ("mcp", "resource must be an absolute URI"),
        ("https://x.example/mcp#frag", "resource must not contain a fragment"),
    ];
    for (resource, description) in cases {
        let page = Browser::default().get(&authorize_url(&server, &with(base.clone(), "resource", Some(resource)))).await;
        assert_redirect_back(&page, 302, REDIRECT, &[("error", "invalid_target"), ("error_description", description), ("state", STATE), ("iss", &server.base)]);
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
        .token(&[("grant_type", "authorization_code"), ("code", &grant.code), ("code_verifier", &grant.verifier), ("redirect_uri", REDIRECT), ("client_id", &grant.client_id), ("resource", &slashed)])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(str_of(&tokens, "access_token"))["aud"], server.resource());
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
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let params = with(good(&id, &challenge), "scope", Some("read \"write\""));
    let page = Browser::default().get(&authorize_url(&server, &params)).await;
    assert_redirect_back(&page, 302, REDIRECT, &[("error", "invalid_scope"), ("error_description", "malformed scope"), ("state", STATE), ("iss", &server.base)]);
}

#[tokio::test]
async fn repeated_parameters_are_invalid_request() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    // RFC 6749 §3.1: parameters must not be included more than once.
    let mut params = good(&id, &challenge);
    params.push(("scope", "read"));
    params.push(("scope", "write"));
    let page = Browser::default().get(&authorize_url(&server, &params)).await;
    assert_redirect_back(&page, 302, REDIRECT, &[("error", "invalid_request"), ("error_description", "parameter scope was sent more than once"), ("state", STATE), ("iss", &server.base)]);
}

#[tokio::test]
async fn response_types_other_than_code_are_refused() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let base = good(&id, &challenge);
    // OAuth 2.1 removed the implicit grant.
    for rt in ["token", "code id_token", "id_token"] {
        let page = Browser::default().get(&authorize_url(&server, &with(base.clone(), "response_type", Some(rt)))).await;
        let description = format!("response_type {rt} is not supported; use code");
        assert_redirect_back(&page, 302, REDIRECT, &[("error", "unsupported_response_type"), ("error_description", &description), ("state", STATE), ("iss", &server.base)]);
    }
    let page = Browser::default().get(&authorize_url(&server, &with(base, "response_type", None))).await;
    assert_redirect_back(&page, 302, REDIRECT, &[("error", "invalid_request"), ("error_description", "response_type is required"), ("state", STATE), ("iss", &server.base)]);
}

#[tokio::test]
async fn errors_without_state_carry_iss_alone() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let params = with(with(good(&id, &challenge), "state", None), "response_type", Some("token"));
    let page = Browser::default().get(&authorize_url(&server, &params)).await;
    assert_redirect_back(&page, 302, REDIRECT, &[("error", "unsupported_response_type"), ("error_description", "response_type token is not supported; use code"), ("iss", &server.base)]);
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let params = with(good(&id, &challenge), "prompt", Some("none"));
    let page = Browser::default().get(&authorize_url(&server, &params)).await;
    // OIDC Core §3.1.2.6.
    assert_redirect_back(&page, 302, REDIRECT, &[("error", "login_required"), ("state", STATE), ("iss", &server.base)]);
}

#[tokio::test]
async fn prompt_none_for_a_client_never_allowed_is_consent_required() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let mut browser = c.browser;
    let other = server.register_client(REDIRECT).await;
    let (_, challenge) = pkce();
    let params = with(good(str_of(&other, "client_id"), &challenge), "prompt", Some("none"));
    let page = browser.get(&authorize_url(&server, &params)).await;
    assert_redirect_back(&page, 302, REDIRECT, &[("error", "consent_required"), ("state", STATE), ("iss", &server.base)]);
    // And with the client it was given to, prompt=none is answered silently.
    let params = with(good(&c.client_id, &challenge), "prompt", Some("none"));
    let page = browser.get(&authorize_url(&server, &params)).await;
    assert_eq!(page.status, 302);
    let q = query(page.location.as_deref().unwrap());
    assert!(q.contains_key("code"), "{q:?}");
    assert_eq!(q["iss"], server.base);
}

#[tokio::test]
async fn prompt_consent_asks_again() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let mut browser = c.browser;
    let (_, challenge) = pkce();
    // Remembered consent: straight back (flow.rs); prompt=consent: the page again.
    let params = with(good(&c.client_id, &challenge), "prompt", Some("consent"));
    let page = browser.get(&authorize_url(&server, &params)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let loc = page.location.unwrap();
    assert!(loc.starts_with(&server.url("/consent?request=")), "{loc}");
    let page = browser.get(&loc).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Test App"));
}

#[tokio::test]
async fn a_new_client_always_asks_for_consent_even_with_a_session() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let mut browser = c.browser;
    // Silent code issuance for any registered client is the kuntu-tech hole (checklist §7).
    let other = server.register_client("http://127.0.0.1:7777/other").await;
    let (_, challenge) = pkce();
    let auth = Authorize { client_id: str_of(&other, "client_id"), redirect_uri: "http://127.0.0.1:7777/other", challenge: &challenge, scope: None, resource: None, state: STATE, extra: vec![] };
    let page = browser.get(&auth.url(&server)).await;
    assert_eq!(page.status, 302);
    let loc = page.location.unwrap();
    assert!(loc.starts_with(&server.url("/consent?request=")), "{loc}");
    let page = browser.get(&loc).await;
    assert_eq!(page.status, 200);
    assert_unframeable(&page.headers);
    // MCP: the consent page names where the answer goes, and warns about loopback apps.
    assert!(page.body.contains("<code>127.0.0.1</code>"), "{}", page.body);
    assert!(page.body.contains("This app runs on your own computer"));
}

#[tokio::test]
async fn deny_sends_access_denied_back_with_iss() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let mut browser = Browser::default();
    let (consent, page) = to_consent(&server, &mut browser, &authorize_url(&server, &good(&id, &challenge))).await;
    assert_unframeable(&page.headers);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser.post(&consent, &[("decision", "deny"), ("csrf_token", &csrf)]).await;
    // RFC 9700 §4.12: 303 after a POST, never 307.
    assert_redirect_back(&page, 303, REDIRECT, &[("error", "access_denied"), ("error_description", "the user denied the request"), ("state", STATE), ("iss", &server.base)]);
    // The request is answered: it cannot be replayed for a code.
    let page = browser.post(&consent, &[("decision", "allow"), ("csrf_token", &csrf)]).await;
    assert_error_page(&page, "This request expired");
}

#[tokio::test]
async fn consent_without_the_csrf_token_is_refused() {
    let (server, id) = setup().await;
    let (_, challenge) = pkce();
    let mut browser = Browser::default();
    let (consent, _) = to_consent(&server, &mut browser, &authorize_url(&server, &good(&id, &challenge))).await;
    for form in [vec![("decision", "allow")], vec![("decision", "allow"), ("csrf_token", "forged")]] {
        let page = browser.post(&consent, &form).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.location.is_none());
        assert_unframeable(&page.headers);
    }
    // Neither allow nor deny.
    let page = browser.get(&consent).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser.post(&consent, &[("decision", "maybe"), ("csrf_token", &csrf)]).await;
    assert_error_page(&page, "Choose allow or deny");
}

#[tokio::test]
async fn portal_pages_deny_framing() {
    let server = TestServer::spawn().await;
    for path in ["/login", "/register", "/logout", "/consent"] {
        let page = Browser::default().get(&server.url(path)).await;
        assert!(page.status == 200 || page.status == 400, "{path}: {}", page.status);
        assert_unframeable(&page.headers);
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
    }
}

#[tokio::test]
async fn openid_requests_get_an_id_token_with_the_nonce() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id");
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = Authorize { client_id: id, redirect_uri: REDIRECT, challenge: &challenge, scope: Some("openid email read"), resource: None, state: STATE, extra: vec![("nonce", "n-0S6_WzA2Mj")] };
    let callback = server.consent_flow(&mut browser, &auth, EMAIL).await;
    let code = query(&callback)["code"].clone();
    let (status, tokens, _) = server.token(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier), ("redirect_uri", REDIRECT), ("client_id", id)]).await;
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
            "nonce": "n-0S6_WzA2Mj", "email": EMAIL, "email_verified": false,
        })
    );
    assert!(claims["auth_time"].as_i64().unwrap() <= iat);
    // RFC 9068 §4: an ID token is not an access token.
    assert_eq!(mcp_status(&server, id_token).await, 401);
}
