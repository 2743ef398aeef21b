//! What a policy sees of the sign-in: the methods (RFC 8176 `amr`) and the time, at the
//! consent phase from the session and at the token phase from the grant, so that an app
//! can be closed to users who signed in without a second factor
//! (`policies/testing/require-mfa`).

use reqwest::StatusCode;
use serde_json::json;

use super::build::modules;
use super::kit::*;
use crate::support::*;

/// Refuses anything but a two-factor sign-in (the fixture's text).
const DENY: &str = "This app needs a sign-in with a second factor. Turn on an authenticator app for your account, then sign in again.";

#[tokio::test]
async fn a_policy_refuses_a_password_alone_and_sees_a_second_factor() {
    let m = modules();
    let bind = Bind {
        name: "require-mfa",
        module: &m.require_mfa,
        resource: TOOLS,
        config: json!({}),
        fail_open: false,
    };
    let server = spawn_with_policies(&[bind], &[]).await;
    let email = "mfa-policy@example.com";
    server.add_user(email);

    // A password alone: the consent phase refuses, and the page says why.
    let mut password_only = server.journey(TOOLS).await;
    password_only.password(&server, email).await;
    assert!(
        password_only.at.contains("/consent"),
        "{}",
        password_only.at
    );
    let page = password_only.browser.get(&password_only.at).await;
    let denied = [
        ("error", "access_denied"),
        ("error_description", DENY),
        ("state", "s-mfa"),
        ("iss", server.base.as_str()),
    ];
    assert_blocked_page(&page, 403, DENY, &denied);

    // With a second factor the same app is allowed, and the policy saw how and when.
    let (app, _) = server.enrol(&mut password_only.browser).await;
    let mut two_factors = server.journey(TOOLS).await;
    two_factors.password(&server, email).await;
    assert!(
        two_factors.at.ends_with("/login/code"),
        "{}",
        two_factors.at
    );
    let code = app.code(Authenticator::step_now() + 1);
    let signed_in = two_factors.submit(&server, &[("code", &code)]).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let tokens = two_factors.finish(&server).await;
    let at = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["amr"], json!(["pwd", "otp", "mfa"]), "{at}");
    assert_eq!(at["seen_amr"], at["amr"], "{at}");
    assert_eq!(at["seen_auth_time"], at["auth_time"], "{at}");

    // At a refresh the policy still sees the grant's sign-in.
    let (status, refreshed, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &two_factors.client_id),
        ])
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let again = jwt_claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(again["seen_amr"], json!(["pwd", "otp", "mfa"]), "{again}");
    assert_eq!(again["auth_time"], at["auth_time"], "{again}");
}

/// A policy built for the released 0.1.0 world, before the sign-in facts, still loads and
/// runs beside one built for the current world.
#[tokio::test]
async fn a_policy_built_for_the_0_1_world_still_runs() {
    use lanyard::policy::engine::{Limits, PolicyEngine};

    let m = modules();
    let engine = PolicyEngine::new(Limits::default(), None).expect("engine");
    let bytes = std::fs::read(&m.world_0_1).expect("module");
    engine.compile("old", &bytes).expect("a 0.1.0 policy loads");

    let old = Bind {
        name: "old",
        module: &m.world_0_1,
        resource: TOOLS,
        config: json!({}),
        fail_open: false,
    };
    let server = spawn_with_policies(&[old], &[]).await;
    let email = "old-world@example.com";
    server.add_user(email);
    let mut journey = server.journey(TOOLS).await;
    journey.password(&server, email).await;
    let at = jwt_claims(
        journey.finish(&server).await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(at["world_0_1"], email, "{at}");
    assert_eq!(at["amr"], json!(["pwd"]), "{at}");
    server.wait_for_log("a 0.1.0 policy ran").await;
}
