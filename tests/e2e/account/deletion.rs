//! Deleting an account: refused without the password; with it, everything of the account
//! goes (its tokens stop working on every instance) and the email can sign up again. The
//! decision log keeps only what the README says.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;
use crate::policy::kit;

on_both_deployments!(deleting_the_account_removes_it_and_frees_the_email);

async fn deleting_the_account_removes_it_and_frees_the_email(d: &Deployment) {
    let (a, b) = (&d.first, d.second());
    let user = a.add_user(EMAIL);
    let mut app = a.connect(EMAIL, None).await;
    let mut browser = std::mem::take(&mut app.browser);
    let page = account_page(a, &mut browser).await;

    let wrong = post_account(
        b,
        &mut browser,
        &page,
        &[("action", "delete"), ("password", "not my password")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_field_error(
        &wrong,
        "delete-password",
        "That is not your current password.",
    );
    let (status, refreshed, _) = refresh(b, &app.client_id, app.refresh_token()).await;
    assert_eq!(status, 200, "still there: {refreshed}");

    let deleted = post_account(
        b,
        &mut browser,
        &page,
        &[("action", "delete"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(
        deleted.body.contains("Your account was deleted"),
        "{}",
        deleted.body
    );
    let cleared = header(&deleted.headers, "set-cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // Every instance refuses what the account had: refresh and access tokens, the session.
    let rt = str_of(&refreshed, "refresh_token");
    let at = str_of(&refreshed, "access_token");
    for server in [a, b] {
        assert_eq!(
            refresh_outcome(server, &app.client_id, rt).await,
            (400, "invalid_grant".to_string())
        );
        assert_eq!(mcp_status(server, at).await, StatusCode::UNAUTHORIZED);
        assert_eq!(userinfo_status(server, at).await, StatusCode::UNAUTHORIZED);
        let page = browser.get(&server.url("/account")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
    // The password opens nothing.
    let mut other = Browser::default();
    let form = other.get(&a.url("/login")).await;
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    let signin = other
        .post_credentials(&a.url("/login"), EMAIL, PASSWORD, &csrf)
        .await;
    assert_eq!(signin.status, StatusCode::UNAUTHORIZED);

    // The email is free: it signs up again, as a new account (a new sub) with no apps.
    let mut again = Browser::default();
    let form = again.get(&b.url("/register")).await;
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    let signup = again
        .post_credentials(&b.url("/register"), EMAIL, PASSWORD, &csrf)
        .await;
    assert_eq!(signup.status, StatusCode::SEE_OTHER, "{}", signup.body);
    let page = account_page(a, &mut again).await;
    assert!(
        page.body.contains("No app has access to your account."),
        "{}",
        page.body
    );
    let connected = a.connect(EMAIL, None).await;
    let claims = jwt_claims(connected.access_token());
    assert_ne!(claims["sub"], user["id"]);
}

/// What the decision log holds of a deleted account: for each mint, its jti, time,
/// client, resource, grant type, the account's `sub` (an opaque id that, once the account
/// is gone, names nobody) and the policies' outcomes; never the email or the metadata.
#[tokio::test]
async fn the_decision_log_keeps_no_personal_data_of_a_deleted_account() {
    let modules = crate::policy::build::modules();
    let server = kit::spawn_with_policies(&[kit::tier(modules)], &[]).await;
    let user = server.add_user(EMAIL);
    kit::set_metadata(
        &server,
        EMAIL,
        serde_json::json!({"name": "Ada Lovelace", "tiers": {kit::TOOLS: "pro"}}),
    );
    let code = kit::code_for(&server, EMAIL, None, kit::TOOLS).await;
    let (status, tokens) = kit::exchange(&server, &code, kit::TOOLS).await;
    assert_eq!(status, 200, "{tokens}");
    let mut browser = code.browser;
    let page = account_page(&server, &mut browser).await;
    let deleted = post_account(
        &server,
        &mut browser,
        &page,
        &[("action", "delete"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);

    let log = kit::decision_log(&server);
    assert!(!log.is_empty());
    for entry in &log {
        let Value::Object(fields) = entry else {
            panic!("{entry}");
        };
        let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "at",
                "client_id",
                "grant_type",
                "jti",
                "outcome",
                "resource",
                "runs",
                "sub"
            ]
        );
        assert_eq!(entry["sub"], user["id"]);
        let text = entry.to_string();
        for personal in [EMAIL, "Ada Lovelace"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
    }
    // And nothing else names the account any more.
    let eval = server.cli(&[
        "policy",
        "eval",
        "--user",
        EMAIL,
        "--client",
        &code.client_id,
        "--resource",
        kit::TOOLS,
    ]);
    assert!(!eval.status.success());
}
