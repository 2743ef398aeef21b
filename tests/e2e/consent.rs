//! Sign-up, sign-in and consent in the authorization flow: `prompt`, remembered consent, a
//! new client always asking, deny, CSRF, sign-out, and pages that cannot be framed.

use crate::fixtures::*;
use crate::support::*;

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let params = with_param(authorize_params(&id, &challenge), "prompt", Some("none"));
    let page = Browser::default()
        .get(&authorize_url(&server, &params))
        .await;
    // OIDC Core §3.1.2.6.
    assert_error_back(&page, &server, 302, "login_required", None);
}

#[tokio::test]
async fn prompt_none_for_a_client_never_allowed_is_consent_required() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let mut browser = c.browser;
    let other = server.register_client(REDIRECT).await;
    let (_, challenge) = pkce();
    let params = with_param(
        authorize_params(str_of(&other, "client_id"), &challenge),
        "prompt",
        Some("none"),
    );
    let page = browser.get(&authorize_url(&server, &params)).await;
    assert_error_back(&page, &server, 302, "consent_required", None);
    // And with the client it was given to, prompt=none is answered silently.
    let params = with_param(
        authorize_params(&c.client_id, &challenge),
        "prompt",
        Some("none"),
    );
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
    let params = with_param(
        authorize_params(&c.client_id, &challenge),
        "prompt",
        Some("consent"),
    );
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
    let auth = Authorize {
        client_id: str_of(&other, "client_id"),
        redirect_uri: "http://127.0.0.1:7777/other",
        challenge: &challenge,
        scope: None,
        resource: None,
        state: STATE,
        extra: vec![],
    };
    let page = browser.get(&auth.url(&server)).await;
    assert_eq!(page.status, 302);
    let loc = page.location.unwrap();
    assert!(loc.starts_with(&server.url("/consent?request=")), "{loc}");
    let page = browser.get(&loc).await;
    assert_eq!(page.status, 200);
    assert_unframeable(&page.headers);
    // MCP: the consent page names where the answer goes, and warns about loopback apps.
    assert!(
        page.body.contains("<code>127.0.0.1</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("This app runs on your own computer"));
}

#[tokio::test]
async fn deny_sends_access_denied_back_with_iss() {
    let (server, mut browser, consent, page) = signed_in_at_consent().await;
    assert_unframeable(&page.headers);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post(&consent, &[("decision", "deny"), ("csrf_token", &csrf)])
        .await;
    // RFC 9700 §4.12: 303 after a POST, never 307.
    assert_error_back(
        &page,
        &server,
        303,
        "access_denied",
        Some("the user denied the request"),
    );
    // The request is answered: it cannot be replayed for a code.
    let page = browser
        .post(&consent, &[("decision", "allow"), ("csrf_token", &csrf)])
        .await;
    assert_error_page(&page, "This request expired");
}

#[tokio::test]
async fn consent_without_the_csrf_token_is_refused() {
    let (_server, mut browser, consent, _) = signed_in_at_consent().await;
    for form in [
        vec![("decision", "allow")],
        vec![("decision", "allow"), ("csrf_token", "forged")],
    ] {
        let page = browser.post(&consent, &form).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.location.is_none());
        assert_unframeable(&page.headers);
    }
    // Neither allow nor deny.
    let page = browser.get(&consent).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post(&consent, &[("decision", "maybe"), ("csrf_token", &csrf)])
        .await;
    assert_error_page(&page, "Choose allow or deny");
}

#[tokio::test]
async fn portal_pages_deny_framing() {
    let server = TestServer::spawn().await;
    for path in ["/login", "/register", "/logout", "/consent"] {
        let page = Browser::default().get(&server.url(path)).await;
        assert!(
            page.status == 200 || page.status == 400,
            "{path}: {}",
            page.status
        );
        assert_unframeable(&page.headers);
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
    }
}

/// Starts an authorization request in a fresh browser; returns the sign-in URL it lands on.
async fn start(server: &TestServer, browser: &mut Browser, client_id: &str) -> String {
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_url(
            server,
            &authorize_params(client_id, &challenge),
        ))
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    page.location.unwrap()
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again() {
    let (server, id) = server_with_client().await;
    let mut browser = Browser::default();
    let login = start(&server, &mut browser, &id).await;
    let page = browser.get(&login).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    for (email, password) in [
        (EMAIL, "wrong password"),
        ("nobody@example.com", PASSWORD),
        (EMAIL, ""),
    ] {
        let page = browser
            .post_credentials(&login, email, password, &csrf)
            .await;
        // The same answer for an unknown email and a wrong password: no account probing.
        assert_eq!(page.status, 401, "{email}");
        assert!(page.location.is_none());
        assert!(
            page.body
                .contains("That email and password do not match an account.")
        );
        assert_unframeable(&page.headers);
    }
    // Sign-in without the form's CSRF token is refused.
    let page = browser
        .post(&login, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, 403);
    // The right password, in any letter case of the email, goes on to consent.
    let page = browser
        .post_credentials(&login, "ADA@Example.COM", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        page.location
            .unwrap()
            .starts_with(&server.url("/consent?request="))
    );
}

#[tokio::test]
async fn signing_up_during_a_request_continues_to_consent() {
    let server = TestServer::spawn().await;
    let client = server.register_client(REDIRECT).await;
    let mut browser = Browser::default();
    let login = start(&server, &mut browser, str_of(&client, "client_id")).await;
    let request = query(&login)["request"].clone();
    let signup = server.url(&format!("/register?request={request}"));
    let page = browser.get(&signup).await;
    assert_eq!(page.status, 200);
    assert_unframeable(&page.headers);
    // The page says which app the account is for.
    assert!(page.body.contains("Test App"), "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post_credentials(&signup, "new@example.com", "short", &csrf)
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("at least 8 characters"));
    let page = browser
        .post_credentials(&signup, "new@example.com", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let consent = page.location.unwrap();
    assert!(
        consent.starts_with(&server.url("/consent?request=")),
        "{consent}"
    );
    let page = browser.get(&consent).await;
    assert!(page.body.contains("new@example.com"));

    // One account per email, whatever the case (design.md "users").
    let mut other = Browser::default();
    let login = start(&server, &mut other, str_of(&client, "client_id")).await;
    let signup = server.url(&format!("/register?request={}", query(&login)["request"]));
    let page = other.get(&signup).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = other
        .post(
            &signup,
            &[
                ("email", "NEW@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains("already exists"));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let mut browser = c.browser;
    let page = browser.get(&server.url("/logout")).await;
    assert_eq!(page.status, 200);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    // A cross-site POST without the token cannot sign the user out.
    let page = browser.post(&server.url("/logout"), &[]).await;
    assert_eq!(page.status, 403);
    let page = browser
        .post(&server.url("/logout"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some(server.url("/login").as_str())
    );
    // Signed out: a silent request now needs a login.
    let (_, challenge) = pkce();
    let params = with_param(
        authorize_params(&c.client_id, &challenge),
        "prompt",
        Some("none"),
    );
    let page = browser.get(&authorize_url(&server, &params)).await;
    assert_error_back(&page, &server, 302, "login_required", None);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_for_a_while() {
    let (server, id) = server_with_client().await;
    let mut browser = Browser::default();
    let login = start(&server, &mut browser, &id).await;
    let page = browser.get(&login).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    for _ in 0..10 {
        let page = browser
            .post_credentials(&login, EMAIL, "wrong password", &csrf)
            .await;
        assert_eq!(page.status, 401);
    }
    // The eleventh try is refused before the password is even checked, right or wrong.
    let page = browser
        .post_credentials(&login, EMAIL, PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(
        page.body.contains("Too many failed attempts"),
        "{}",
        page.body
    );
    assert!(page.location.is_none());
    // Another account is not affected.
    server.add_user("other@example.com");
    let page = browser
        .post_credentials(&login, "other@example.com", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
}

/// What a dynamically registered client calls itself is its own claim: labelled so, and
/// stripped of characters that could disguise it. Allow takes no click for a moment.
#[tokio::test]
async fn a_registered_name_is_labelled_unverified_and_cannot_disguise_itself() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let registered = server
        .http
        .post(server.url("/oauth/register"))
        .json(&serde_json::json!({"redirect_uris": [REDIRECT], "client_name": "Notes\u{202E}moc.live\u{200B}"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let id = str_of(&registered, "client_id").to_string();
    let (_, challenge) = pkce();
    let url = code_flow_url(&server, &id, REDIRECT, &challenge, vec![]);
    let (_, page) = to_consent(&server, &mut Browser::default(), &url).await;
    assert!(
        page.body.contains(
            "<strong>Notesmoc.live</strong> <span class=\"unverified\">(name not verified)</span>"
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains('\u{202E}') && !page.body.contains('\u{200B}'));
    assert!(
        page.body
            .contains("The answer goes to <code>127.0.0.1</code>.")
    );
    assert!(
        page.body.contains(
            r#"<button class="primary arming" type="submit" name="decision" value="allow">"#
        ),
        "{}",
        page.body
    );
}
