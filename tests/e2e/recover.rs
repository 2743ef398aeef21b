//! Recovery and the operator's hold on accounts (issue 17): `/forgot` answers the same for
//! every address and is throttled; a reset link sets a new password once, ends every
//! browser session, and with `revoke_apps` every app's access too; `lanyard user verify`,
//! `disable` and `enable`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::fixtures::*;
use crate::mail::{assert_readable, mailing_server};
use crate::support::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Posts `/forgot` for `email` from a fresh browser.
async fn forgot(server: &TestServer, email: &str) -> Page {
    let mut browser = Browser::default();
    let form = browser.get(&server.url("/forgot")).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden(&form.body, "csrf_token").expect("csrf_token on /forgot");
    browser
        .post(
            &server.url("/forgot"),
            &[("email", email), ("csrf_token", &csrf)],
        )
        .await
}

/// Asks for a reset link for `email` and returns it (the `seen`+1-th mail to it).
async fn reset_link(server: &TestServer, sink: &MailSink, email: &str, seen: usize) -> String {
    let page = forgot(server, email).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mail = sink.next_for(email, seen).await;
    assert_readable(server, &mail);
    assert!(
        mail["subject"].as_str().unwrap().contains("Reset your"),
        "{mail}"
    );
    link_in(mail["text"].as_str().unwrap(), &server.url("/reset?token="))
}

/// Opens a reset link in `browser` and posts the form.
async fn reset(browser: &mut Browser, link: &str, password: &str, revoke_apps: bool) -> Page {
    let form = browser.get(link).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"revoke_apps\""), "{}", form.body);
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    let mut fields = vec![("password", password), ("csrf_token", csrf.as_str())];
    if revoke_apps {
        fields.push(("revoke_apps", "1"));
    }
    browser.post(link, &fields).await
}

/// Signs in with `password` in a fresh browser; the status of the answer.
async fn sign_in(server: &TestServer, email: &str, password: &str) -> Page {
    let mut browser = Browser::default();
    let form = browser.get(&server.url("/login")).await;
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    browser
        .post_credentials(&server.url("/login"), email, password, &csrf)
        .await
}

async fn is_signed_in(server: &TestServer, browser: &mut Browser) -> bool {
    browser.get(&server.url("/")).await.status == StatusCode::OK
}

/// `/forgot` answers an address with an account as it answers one without; each address
/// gets a few links an hour, and each network a few more requests.
async fn forgot_tells_nothing_and_is_throttled(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[]).await;
    server.add_user(EMAIL);
    let known = forgot(&server, EMAIL).await;
    let unknown = forgot(&server, "ghost@example.com").await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.body);
    assert_eq!(unknown.status, known.status);
    assert_eq!(
        known.body.replace(EMAIL, "EMAIL"),
        unknown.body.replace("ghost@example.com", "EMAIL")
    );
    sink.wait_for(EMAIL, 1).await;

    // Past three an hour, an address gets no more mail; the page does not change.
    for _ in 0..3 {
        let page = forgot(&server, EMAIL).await;
        assert_eq!(page.body, known.body);
    }
    server.wait_for_log("password reset link mailed").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(sink.to(EMAIL).len(), 3, "{:?}", sink.to(EMAIL));
    assert!(sink.to("ghost@example.com").is_empty());

    // Twenty requests an hour from one network (five above), then 429.
    let mut answered = Vec::new();
    for n in 0..15 {
        answered.push(
            forgot(&server, &format!("probe{n}@example.com"))
                .await
                .status,
        );
    }
    assert!(
        answered.iter().all(|s| *s == StatusCode::OK),
        "{answered:?}"
    );
    let over = forgot(&server, "one-more@example.com").await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS, "{}", over.body);
}

/// A reset link sets the password once; every browser is signed out; apps keep their
/// access unless `revoke_apps`, which ends theirs too.
async fn reset_ends_sessions_and_optionally_apps(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[]).await;
    server.add_user(EMAIL);
    let mut app = server.connect(EMAIL, None).await;
    assert!(is_signed_in(&server, &mut app.browser).await);

    let link = reset_link(&server, &sink, EMAIL, 0).await;
    let mut browser = Browser::default();
    let short = reset(&mut browser, &link, "short", false).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.body);
    let done = reset(&mut browser, &link, NEW_PASSWORD, false).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body.contains("Your password is changed"),
        "{}",
        done.body
    );
    let used = browser.get(&link).await;
    assert_eq!(used.status, StatusCode::BAD_REQUEST, "a link works once");

    assert!(
        !is_signed_in(&server, &mut app.browser).await,
        "the session ended"
    );
    assert_eq!(
        sign_in(&server, EMAIL, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&server, EMAIL, NEW_PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // Without revoke_apps the app keeps its access.
    let (status, body, _) = refresh(&server, &app.client_id, app.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();

    let link = reset_link(&server, &sink, EMAIL, 1).await;
    let done = reset(&mut Browser::default(), &link, PASSWORD, true).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body.contains("every app lost its access"),
        "{}",
        done.body
    );
    let rt = body["refresh_token"].as_str().unwrap();
    let (status, body, _) = refresh(&server, &app.client_id, rt).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let ping = server
        .http
        .get(server.url("/mcp/ping"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::UNAUTHORIZED);
}

fn cli_state(server: &TestServer, verb: &str, email: &str) -> Value {
    server.cli_json(&["user", verb, email])
}

/// `lanyard user verify` vouches for an address; `disable` stops sign-in, refresh and
/// every session; `enable` lets the account back in, with its apps.
async fn cli_verify_disable_enable(store: &[(&str, &str)]) {
    let server = TestServer::spawn_with(store).await;
    let mut browser = Browser::default();
    let email = "signed-up@example.com";
    let page = crate::mail::sign_up(&server, &mut browser, email, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let c = server.connect(email, Some("email")).await;
    assert_eq!(jwt_claims(c.access_token())["email_verified"], false);

    let state = cli_state(&server, "verify", email);
    assert_eq!(
        (state["email_verified"].clone(), state["disabled"].clone()),
        (Value::Bool(true), Value::Bool(false))
    );
    let (status, body, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["email_verified"],
        true
    );
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    assert_eq!(cli_state(&server, "disable", email)["disabled"], true);
    assert!(
        !is_signed_in(&server, &mut browser).await,
        "the session ended"
    );
    let refused = sign_in(&server, email, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    let (status, body, _) = refresh(&server, &c.client_id, &rt).await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );

    assert_eq!(cli_state(&server, "enable", email)["disabled"], false);
    assert_eq!(
        sign_in(&server, email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let (status, body, _) = refresh(&server, &c.client_id, &rt).await;
    assert_eq!(status, 200, "the app works again: {body}");
    assert!(
        !is_signed_in(&server, &mut browser).await,
        "ended sessions stay ended"
    );

    let out = server.cli(&["user", "disable", "nobody@example.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user"));
}

on_both_stores!(
    forgot_tells_nothing_and_is_throttled,
    reset_ends_sessions_and_optionally_apps,
    cli_verify_disable_enable,
);
