//! Verified addresses (issue 17): sign-up mails a link that verifies the address once,
//! within its lifetime, after which tokens say `email_verified: true`; where verified
//! addresses are required, the link resumes the sign-up's authorization in the browser that
//! signed up; "Send again" is limited; with SMTP, sign-up tells no one who has an account.

use reqwest::StatusCode;
use serde_json::Value;

use crate::fixtures::REDIRECT;
use crate::mail::{assert_readable, mailing_server, sign_up};
use crate::support::*;

/// The verification link in the newest mail to `email` after `seen` earlier ones.
async fn verify_link(server: &TestServer, sink: &MailSink, email: &str, seen: usize) -> String {
    let mail = sink.next_for(email, seen).await;
    assert_readable(server, &mail);
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Confirm your email address")
    );
    link_in(
        mail["text"].as_str().unwrap(),
        &server.url("/verify?token="),
    )
}

fn access_claims(c: &Connected) -> Value {
    jwt_claims(c.access_token())
}

/// Sign-up mails a link; it verifies the address once; tokens minted after say so.
async fn signup_link_verifies_once(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[]).await;
    let email = "verify-me@example.com";
    let page = sign_up(&server, &mut Browser::default(), email, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Check your mail"), "{}", page.body);
    let link = verify_link(&server, &sink, email, 0).await;

    let before = server.connect(email, Some("openid email")).await;
    assert_eq!(access_claims(&before)["email_verified"], false);

    // Followed in another browser: verified, but that browser is not signed in by it.
    let mut elsewhere = Browser::default();
    let page = elsewhere.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Your address is confirmed"),
        "{}",
        page.body
    );
    let home = elsewhere.get(&server.url("/")).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER, "not signed in");

    let again = Browser::default().get(&link).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "a link works once");
    assert!(again.body.contains("no longer works"), "{}", again.body);

    let after = server.connect(email, Some("openid email")).await;
    let claims = access_claims(&after);
    assert_eq!(claims["email_verified"], true, "{claims}");
    assert_eq!(claims["email"], email);
    let id = jwt_claims(after.tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email_verified"], true, "{id}");
}

/// A link past its lifetime does nothing.
async fn verification_links_expire(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[("LANYARD_VERIFY_LINK_TTL", "1")]).await;
    let email = "slow@example.com";
    sign_up(&server, &mut Browser::default(), email, None).await;
    let link = verify_link(&server, &sink, email, 0).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let page = Browser::default().get(&link).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let c = server.connect(email, Some("email")).await;
    assert_eq!(access_claims(&c)["email_verified"], false);
}

/// Verified addresses required: a new account signing up in the middle of an
/// authorization waits on "check your mail"; the link, in the same browser, resumes the
/// authorization: consent, then back to the app with a code.
async fn required_verification_resumes_the_authorization(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let required = [("LANYARD_REQUIRE_VERIFIED_EMAIL", "true")];
    let server = mailing_server(store, &sink.smtp_url(), &required).await;
    let client = server.register_client(REDIRECT).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let auth = Authorize {
        client_id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: Some("openid email"),
        resource: Some(&server.resource()),
        state: "resume-1",
        extra: vec![],
    };
    let mut browser = Browser::default();
    let start = browser.get(&auth.url(&server)).await;
    let login = start.location.expect("to sign-in");
    let request = query(&login)["request"].clone();

    let email = "careful@example.com";
    let page = sign_up(&server, &mut browser, email, Some(&request)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Check your mail"), "{}", page.body);
    // Unconfirmed, the account cannot sign in to go on either: it is sent to its mail.
    let form = browser
        .get(&server.url(&format!("/login?request={request}")))
        .await;
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    let login_url = server.url(&format!("/login?request={request}"));
    let refused = browser
        .post_credentials(&login_url, email, PASSWORD, &csrf)
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    assert!(refused.body.contains("Check your mail"), "{}", refused.body);
    assert!(refused.location.is_none());

    let link = verify_link(&server, &sink, email, 1).await;
    let resumed = browser.get(&link).await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER, "{}", resumed.body);
    let consent = resumed.location.unwrap();
    assert!(
        consent.contains(&format!("/consent?request={request}")),
        "{consent}"
    );
    let page = browser.get(&consent).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let back = browser
        .post(&consent, &[("decision", "allow"), ("csrf_token", &csrf)])
        .await;
    let callback = back.location.expect("back to the app");
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let q = query(&callback);
    assert_eq!(q["state"], "resume-1");
    let (status, tokens, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["email"].as_str(), &claims["email_verified"]),
        (Some(email), &Value::Bool(true))
    );
}

/// Presses "Send again" for `email`.
async fn resend(server: &TestServer, browser: &mut Browser, email: &str, csrf: &str) -> Page {
    let form = [("email", email), ("csrf_token", csrf)];
    browser.post(&server.url("/verify"), &form).await
}

/// "Send again" mails a new link, a few times an hour and no more; it answers an address
/// without an account the same way.
async fn send_again_is_limited(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[]).await;
    let email = "impatient@example.com";
    let mut browser = Browser::default();
    let page = sign_up(&server, &mut browser, email, None).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    for _ in 0..2 {
        let page = resend(&server, &mut browser, email, &csrf).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("We sent another mail"), "{}", page.body);
    }
    let limited = resend(&server, &mut browser, email, &csrf).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    let mails = sink.wait_for(email, 3).await;
    let links: Vec<String> = mails
        .iter()
        .map(|m| link_in(m["text"].as_str().unwrap(), &server.url("/verify?token=")))
        .collect();
    assert_eq!(links.len(), 3);
    assert!(
        links[0] != links[1] && links[1] != links[2],
        "each mail has a new link"
    );

    let stranger = resend(&server, &mut browser, "nobody@example.com", &csrf).await;
    assert_eq!(stranger.status, StatusCode::OK, "{}", stranger.body);
    assert!(
        stranger.body.contains("We sent another mail"),
        "{}",
        stranger.body
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(sink.to("nobody@example.com").is_empty());
    assert_eq!(sink.to(email).len(), 3);
}

/// With SMTP, sign-up says the same whether or not the address has an account; the
/// holder is told by mail that someone tried.
async fn signup_hides_existing_accounts(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[]).await;
    let holder = "holder@example.com";
    server.add_user(holder);
    let fresh = "fresh@example.com";
    let mut a = Browser::default();
    let taken = sign_up(&server, &mut a, holder, None).await;
    let mut b = Browser::default();
    let new = sign_up(&server, &mut b, fresh, None).await;
    assert_eq!(taken.status, new.status);
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);
    let same = |p: &Page, email: &str| {
        let csrf = hidden(&p.body, "csrf_token").unwrap();
        p.body.replace(&csrf, "CSRF").replace(email, "EMAIL")
    };
    assert_eq!(same(&taken, holder), same(&new, fresh));
    let header_names = |p: &Page| {
        let mut names: Vec<String> = p.headers.keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&taken), header_names(&new));

    let told = sink.next_for(holder, 0).await;
    assert_readable(&server, &told);
    assert!(
        told["subject"]
            .as_str()
            .unwrap()
            .contains("Someone tried to sign up"),
        "{told}"
    );
    let text = told["text"].as_str().unwrap();
    assert!(text.contains(&server.url("/forgot")), "{text}");
    verify_link(&server, &sink, fresh, 0).await;
}

on_both_stores!(
    signup_link_verifies_once,
    verification_links_expire,
    required_verification_resumes_the_authorization,
    send_again_is_limited,
    signup_hides_existing_accounts,
);
