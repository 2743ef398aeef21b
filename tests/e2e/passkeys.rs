//! Passkeys in a real Chromium with a virtual WebAuthn authenticator, on both stores
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

on_both_stores!(browser_registers_a_passkey_and_signs_in_with_it);

async fn browser_registers_a_passkey_and_signs_in_with_it(store: &[(&str, &str)]) {
    if !chromium_ready().await {
        return;
    }
    let server = TestServer::spawn_on_localhost(require_mfa_everywhere(), store).await;
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
    assert!(logs.contains(user["id"].as_str().unwrap_or("?")), "{logs}");
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

/// The passkey endpoints, driven by hand: stale forms, answers that are not credentials,
/// answers with no challenge waiting, and too many of them get their own errors, never a
/// 500; a server whose issuer is an IP address offers no passkeys.
#[tokio::test]
async fn passkey_endpoints_answer_bad_input_with_their_own_errors() {
    let server = TestServer::spawn_on_localhost(tempfile::tempdir().expect("dir"), &[]).await;
    let mut b = Browser::default();
    let login = b.get(&server.url("/login")).await;
    assert!(
        login.body.contains("Sign in with a passkey"),
        "{}",
        login.body
    );
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let csrf = hidden(&login.body, "csrf_token").expect("csrf_token");

    let stale = b.post(&server.url("/login/passkey/options"), &[]).await;
    assert_eq!(stale.status, 403, "{}", stale.body);
    let body: serde_json::Value = serde_json::from_str(&stale.body).unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");

    // Any passkey (none named): the relying party is the issuer's host, and the
    // authenticator must check the user.
    let options = b
        .post(
            &server.url("/login/passkey/options"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(options.status, 200, "{}", options.body);
    assert_eq!(options.headers["cache-control"], "no-store");
    let options: serde_json::Value = serde_json::from_str(&options.body).unwrap();
    let pk = &options["publicKey"];
    assert_eq!(pk["rpId"], "localhost", "{options}");
    assert_eq!(pk["userVerification"], "required", "{options}");
    assert!(
        pk["challenge"].as_str().is_some_and(|c| c.len() >= 43),
        "{options}"
    );
    assert!(options.get("mediation").is_none(), "{options}");

    // An answer that is no credential spends the challenge and is refused on the page.
    let refused = "That passkey did not sign you in. Try again, or use another way.";
    let form = [
        ("csrf_token", csrf.as_str()),
        ("credential", "not a credential"),
    ];
    for attempt in 1..=10 {
        let page = b.post(&server.url("/login/passkey"), &form).await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.body);
        assert!(page.body.contains(refused), "{}", page.body);
        assert!(page.body.contains(r#"id="passkey-error" role="alert">"#));
    }
    // Throttled like wrong codes.
    let locked = b.post(&server.url("/login/passkey"), &form).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(
        locked.body.contains("Too many failed attempts"),
        "{}",
        locked.body
    );

    // The account's endpoints want a signed-in browser.
    let mut stranger = Browser::default();
    let page = stranger.get(&server.url("/account/passkeys")).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some(server.url("/login?next=/account").as_str())
    );
    let options = stranger
        .post(&server.url("/account/passkeys/options"), &[])
        .await;
    assert_eq!(options.status, 401, "{}", options.body);

    // Signed in: a passkey without a credential, or with a name too long, is refused next
    // to the name field; an id that is no id changes nothing.
    let email = "passkey-forms@example.com";
    server.add_user(email);
    let mut me = Browser::default();
    let login = me.get(&server.url("/login")).await;
    let csrf = hidden(&login.body, "csrf_token").expect("csrf_token");
    let signed = me
        .post_credentials(&server.url("/login"), email, PASSWORD, &csrf)
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let page = me.get(&server.url("/account/passkeys")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("You have no passkeys yet."),
        "{}",
        page.body
    );
    let csrf = hidden(&page.body, "csrf_token").expect("csrf_token");
    let url = server.url("/account/passkeys");
    let no_credential = [
        ("csrf_token", csrf.as_str()),
        ("action", "add"),
        ("name", "Phone"),
    ];
    let page = me.post(&url, &no_credential).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("Adding one needs JavaScript"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"aria-invalid="true""#),
        "{}",
        page.body
    );
    let long = "x".repeat(65);
    let too_long = [
        ("csrf_token", csrf.as_str()),
        ("action", "add"),
        ("name", &long),
        ("credential", "{}"),
    ];
    let page = me.post(&url, &too_long).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("at most 64 characters"), "{}", page.body);
    let no_challenge = [
        ("csrf_token", csrf.as_str()),
        ("action", "add"),
        ("name", "Phone"),
        ("credential", "{}"),
    ];
    let page = me.post(&url, &no_challenge).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("could not be added"), "{}", page.body);
    let bad_id = [
        ("csrf_token", csrf.as_str()),
        ("action", "remove"),
        ("passkey_id", "no/id"),
    ];
    assert_eq!(me.post(&url, &bad_id).await.status, 400);
    let stale = [
        ("csrf_token", "stale"),
        ("action", "remove"),
        ("passkey_id", "abc"),
    ];
    assert_eq!(me.post(&url, &stale).await.status, 403);
    let options = me
        .post(
            &server.url("/account/passkeys/options"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(options.status, 200, "{}", options.body);
    let options: serde_json::Value = serde_json::from_str(&options.body).unwrap();
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(options["publicKey"]["user"]["name"], email, "{options}");

    let script = me.get(&server.url("/assets/passkeys.js")).await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers["x-content-type-options"], "nosniff");

    // An issuer on an IP address: WebAuthn needs a domain, so no passkeys at all.
    let ip = TestServer::spawn().await;
    let mut b = Browser::default();
    let login = b.get(&ip.url("/login")).await;
    assert!(
        !login.body.contains("Sign in with a passkey"),
        "{}",
        login.body
    );
    assert!(
        !login.body.contains("/assets/passkeys.js"),
        "{}",
        login.body
    );
    let csrf = hidden(&login.body, "csrf_token").expect("csrf_token");
    let off = b
        .post(&ip.url("/login/passkey/options"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(off.status, 404, "{}", off.body);
    let body: serde_json::Value = serde_json::from_str(&off.body).unwrap();
    assert_eq!(body["error"], "not_available", "{body}");
}
