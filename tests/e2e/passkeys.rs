//! Passkeys in a real Chromium with a virtual WebAuthn authenticator
//! (`tests/js/passkeys.mjs`): registered on the account page, then used after the password
//! and alone, in the middle of authorizations; a cloned authenticator is refused; the
//! tokens' `amr` and what a policy sees say how the user signed in. The server's issuer is
//! `http://localhost:<port>`: browsers refuse WebAuthn on an IP-address origin.

use serde_json::json;

use crate::js::{chromium_ready, run_node, run_node_with};
use crate::policy::build::modules;
use crate::support::*;

/// A data folder whose `lanyard.toml` binds `policies/testing/require-mfa` to every
/// resource: it refuses a sign-in without a second factor, and adds the `amr` it saw to
/// the token as `seen_amr`.
fn require_mfa_everywhere() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("policies")).expect("policies dir");
    let module = "policies/require_mfa.wasm";
    std::fs::copy(&modules().require_mfa, dir.path().join(module)).expect("copy module");
    let doc = json!({"policies": [
        {"name": "require-mfa", "module": module, "resource": "*", "config": {}},
    ]});
    let toml = toml::to_string(&doc).expect("toml");
    std::fs::write(dir.path().join("lanyard.toml"), toml).expect("write lanyard.toml");
    dir
}

#[tokio::test]
async fn browser_registers_a_passkey_and_signs_in_with_it() {
    if !chromium_ready().await {
        return;
    }
    let server = TestServer::spawn_on_localhost(require_mfa_everywhere(), &[]).await;
    let email = "passkey-browser@example.com";
    let user = server.add_user(email);
    let out = run_node(&server, email, "passkeys.mjs", &[]).await;
    assert_eq!(out["heading"], "Passkeys", "{out}");
    assert_eq!(out["empty"], true, "{out}");
    let csp = out["csp"].as_str().unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{out}");
    assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'unsafe-inline'"));
    assert_eq!(out["unlabelled"], json!([]), "{out}");
    assert_eq!(
        out["focus_order"],
        json!(["passkey-name", "Add a passkey", "Back to your account"]),
        "{out}"
    );
    assert_eq!(
        out["added_notice"],
        "Your passkey was added. You can sign in with it now."
    );
    assert_eq!(out["listed"], json!(["Laptop"]), "{out}");
    assert_eq!(out["not_used_yet"], true, "{out}");
    // Discoverable, so that it signs in with no email typed.
    assert_eq!(out["resident"], json!([true]), "{out}");

    // After the password, the second step offers the passkey alone (no TOTP here), and
    // the token says how: password, a device-bound key, two factors.
    assert_eq!(out["second_step_heading"], "Two-step verification");
    assert_eq!(out["second_step_code_field"], 0, "{out}");
    assert_eq!(out["second_step_focused"], "Use a passkey", "{out}");
    assert_eq!(
        out["second_factor_amr"],
        json!(["pwd", "hwk", "mfa"]),
        "{out}"
    );
    assert!(out["second_factor_auth_time"].is_i64(), "{out}");
    // The policy that refuses a single factor let it through, and saw how.
    assert_eq!(
        out["second_factor_seen_amr"], out["second_factor_amr"],
        "{out}"
    );

    // Alone, in the middle of an authorization: the passkey names the account.
    assert_eq!(out["passwordless_amr"], json!(["hwk", "mfa"]), "{out}");
    assert_eq!(out["passwordless_email"], email, "{out}");
    assert_eq!(
        out["passwordless_seen_amr"], out["passwordless_amr"],
        "{out}"
    );
    assert!(
        out["passwordless_auth_time"].as_i64() >= out["second_factor_auth_time"].as_i64(),
        "{out}"
    );
    // Two sign-ins, two signatures: the counter the server checks moved on.
    let registered = out["sign_count_registered"][0].as_i64().unwrap_or(-1);
    assert_eq!(out["sign_count"], json!([registered + 2]), "{out}");
    assert_eq!(out["last_used"], true, "{out}");

    assert_eq!(
        out["clone_error"],
        "That passkey did not sign you in. Try again, or use another way."
    );
    assert_eq!(out["removed_notice"], "The passkey was removed.");
    assert_eq!(out["listed_after_remove"], 0, "{out}");
    assert_eq!(out["refused_status_page"], "/login/passkey", "{out}");
    assert_eq!(
        out["refused_error"],
        "That passkey did not sign you in. Try again, or use another way."
    );
    let logs = server.logs();
    assert!(logs.contains("passkey sign-in refused"), "{logs}");
    assert!(logs.contains(user["sub"].as_str().unwrap_or("?")), "{logs}");
    eprintln!(
        "screenshots of passkeys: {}",
        out["screenshots"].as_str().unwrap_or("?")
    );
}

/// Under `LANYARD_MFA=required` a passkey is an enrolled second factor: the password leads
/// to the second step, not to enrolment, and a passkey alone signs in.
#[tokio::test]
async fn a_passkey_counts_as_the_second_factor_lanyard_mfa_required_asks_for() {
    if !chromium_ready().await {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = TestServer::spawn_on_localhost(dir, &[]).await;
    let email = "passkey-required@example.com";
    server.add_user(email);
    let registered = run_node(&server, email, "passkeys.mjs", &["--mode", "register"]).await;
    assert_eq!(registered["listed"], json!(["Laptop"]), "{registered}");
    let credential = registered["credential"].to_string();

    server.stop();
    server.set_env("LANYARD_MFA", "required");
    assert!(server.start().await, "{}", server.logs());
    let mode = ["--mode", "required"];
    let env = [("CREDENTIAL", credential.as_str())];
    let out = run_node_with(&server, email, "passkeys.mjs", &mode, &env).await;
    assert_eq!(out["after_password"], "/login/code", "{out}");
    assert_eq!(out["required_amr"], json!(["pwd", "hwk", "mfa"]), "{out}");
    assert_eq!(out["passwordless_lands_on"], "/account", "{out}");

    // A lost device: the operator removes the account's second factors, passkeys too.
    let reset = server.cli_json(&["user", "reset-mfa", email]);
    assert_eq!(reset["passkeys_removed"], 1, "{reset}");
    assert_eq!(reset["second_factor_removed"], true, "{reset}");
    let again = server.cli_json(&["user", "reset-mfa", email]);
    assert_eq!(again["passkeys_removed"], 0, "{again}");
    // With no factor left, the password leads to enrolment, as for any account.
    let mut journey = server.journey(&server.resource()).await;
    journey.password(&server, email).await;
    assert!(journey.at.ends_with("/account/totp"), "{}", journey.at);
}
