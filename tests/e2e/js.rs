//! Real clients from outside this repository: the official MCP TypeScript SDK client
//! (`tests/js/sdk-client.mjs`) and a real Chromium driven by playwright-core through the
//! portal (`tests/js/browser.mjs`), the account page (`tests/js/account.mjs`), second
//! factors (`tests/js/totp.mjs`), passkeys with a virtual authenticator
//! (`tests/js/passkeys.mjs`, from `passkeys.rs`), the pages mail leads to
//! (`tests/js/mail.mjs`) and branding (`tests/js/branding.mjs`), each run by node against a
//! fresh server.
//!
//! They need node and npm (and /usr/bin/chromium for the browser). A missing tool fails the
//! test when `CI=true` and skips it, with a notice, on a developer's machine.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::*;

const NODE_TIMEOUT: Duration = Duration::from_secs(120);
const NPM_TIMEOUT: Duration = Duration::from_secs(300);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/js")
}

fn runs(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// `npm ci` in tests/js unless node_modules is at least as new as package-lock.json. Once per
/// test binary, however many tests ask at the same time.
async fn node_modules() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    tokio::task::spawn_blocking(|| INSTALLED.get_or_init(install).clone())
        .await
        .map_err(|e| e.to_string())?
}

fn install() -> Result<(), String> {
    let dir = js_dir();
    let installed = modified(&dir.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= modified(&dir.join("package-lock.json")) {
        return Ok(());
    }
    if !runs("npm") {
        return Err("npm".into());
    }
    let mut child = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("npm ci: {e}"))?;
    let deadline = std::time::Instant::now() + NPM_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => panic!("npm ci in {} failed: {status}", dir.display()),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            _ => {
                let _ = child.kill();
                panic!(
                    "npm ci in {} did not finish in {NPM_TIMEOUT:?}",
                    dir.display()
                );
            }
        }
    }
}

/// Checks node and the npm packages; false when the test should be skipped.
async fn node_ready() -> bool {
    if !runs("node") {
        missing_tool("node");
        return false;
    }
    match node_modules().await {
        Ok(()) => true,
        Err(tool) => {
            missing_tool(&tool);
            false
        }
    }
}

/// Runs `node <script> <args>` in tests/js against `server` as `email`; returns the JSON line it
/// printed. Panics with its output and the server's log if it fails.
pub(crate) async fn run_node(
    server: &TestServer,
    email: &str,
    script: &str,
    args: &[&str],
) -> Value {
    run_node_with(server, email, script, args, &[]).await
}

/// [`run_node`], with more environment variables for the script.
pub(crate) async fn run_node_with(
    server: &TestServer,
    email: &str,
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Value {
    let child = Command::new("node")
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(js_dir())
        .env("MCP_URL", server.resource())
        .env("USER_EMAIL", email)
        .env("USER_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let out = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "node {script} did not finish in {NODE_TIMEOUT:?}\n--- server log ---\n{}",
                server.logs()
            )
        })
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("node {script} {args:?}:\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "node {script} {args:?} failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- server log ---\n{}",
        out.status,
        server.logs()
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("node {script} printed no JSON: {stdout}"));
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("node {script} printed bad JSON ({e}): {line}"))
}

/// What the SDK client must have seen in either mode.
fn assert_sdk_run(server: &TestServer, user: &Value, out: &Value) {
    assert_eq!(out["issuer"], server.base, "{out}");
    assert_eq!(
        out["iss"], server.base,
        "RFC 9207 iss on the callback: {out}"
    );
    assert_eq!(out["authorize_resource"], server.resource(), "{out}");
    assert_eq!(out["portal_pages"], json!(["/login", "/consent"]), "{out}");
    assert_eq!(out["sub"], user["id"], "{out}");
    assert_eq!(out["email"], user["email"], "{out}");
    assert_eq!(out["aud"], server.resource(), "{out}");
    assert_eq!(out["scope"], "read write", "{out}");
    assert_eq!(out["refreshed"], true, "{out}");
    assert_eq!(out["sub_after_refresh"], user["id"], "{out}");
    assert_eq!(
        out["token_requests"],
        json!(["authorization_code:200", "refresh_token:200"]),
        "{out}"
    );
}

#[tokio::test]
async fn sdk_client_registers_signs_in_calls_and_refreshes() {
    if !node_ready().await {
        return;
    }
    let server = TestServer::spawn().await;
    let email = "sdk@example.com";
    let user = server.add_user(email);
    let out = run_node(&server, email, "sdk-client.mjs", &["--mode", "dcr"]).await;
    assert_sdk_run(&server, &user, &out);
    assert_eq!(out["mode"], "dcr");
    let client_id = out["client_id"].as_str().expect("client_id");
    assert!(
        !client_id.starts_with("http"),
        "DCR mints an opaque id: {client_id}"
    );
}

#[tokio::test]
async fn sdk_client_with_a_client_metadata_document() {
    if !node_ready().await {
        return;
    }
    let server = TestServer::spawn_with(&[("LANYARD_CIMD_ALLOW_LOOPBACK", "true")]).await;
    let email = "cimd@example.com";
    let user = server.add_user(email);
    let out = run_node(&server, email, "sdk-client.mjs", &["--mode", "cimd"]).await;
    assert_sdk_run(&server, &user, &out);
    assert_eq!(out["mode"], "cimd");
    assert!(
        out["client_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("http://127.0.0.1:")),
        "{out}"
    );
    assert!(
        out["cimd_document_fetches"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{out}"
    );
}

/// Chromium and the npm packages; false when the test should be skipped.
pub(crate) async fn chromium_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        missing_tool(&chromium);
        return false;
    }
    node_ready().await
}

#[tokio::test]
async fn browser_enrols_totp_and_passes_the_code_page() {
    if !chromium_ready().await {
        return;
    }
    let server = TestServer::spawn().await;
    let email = "totp-browser@example.com";
    server.add_user(email);
    let out = run_node(&server, email, "totp.mjs", &[]).await;
    assert_eq!(out["recovery_codes"], 10, "{out}");
    assert!(out["qr_size"].as_u64().is_some_and(|s| s >= 150), "{out}");
    // Authenticator apps list the account under the product name (branding).
    assert_eq!(out["otpauth_issuer"], "Lanyard", "{out}");
    assert_eq!(out["otpauth_label"], format!("Lanyard:{email}"), "{out}");
    assert_eq!(out["code_page_heading"], "Two-step verification", "{out}");
    assert!(
        out["wrong_error"]
            .as_str()
            .is_some_and(|e| e.contains("not right")),
        "{out}"
    );
    assert_eq!(out["amr"], json!(["pwd", "otp", "mfa"]), "{out}");
    assert!(out["auth_time"].is_i64(), "{out}");
    eprintln!(
        "screenshots of enrolment and the code page: {}",
        out["screenshots"].as_str().unwrap_or("?")
    );
}

#[tokio::test]
async fn browser_signs_up_consents_and_denies() {
    if !chromium_ready().await {
        return;
    }
    let server = TestServer::spawn().await;
    let email = "browser@example.com";
    let user = server.add_user(email);
    let out = run_node(&server, email, "browser.mjs", &[]).await;
    assert_eq!(out["allow"]["iss"], server.base, "{out}");
    assert_eq!(
        out["token_scope"], "read write openid email offline_access",
        "{out}"
    );
    assert_eq!(out["scopes_listed"], 5, "{out}");
    assert_eq!(out["deny"]["error"], "access_denied", "{out}");
    assert_eq!(out["deny"]["iss"], server.base, "{out}");
    assert!(out["deny"].get("code").is_none(), "{out}");
    // The code bought a token for the account signed up in the browser, not the existing one.
    assert!(
        out["signed_up"].as_str().is_some_and(|e| e != email),
        "{out}"
    );
    assert!(
        out["sub"].as_str().is_some_and(|s| s != user["id"]),
        "{out}"
    );
    eprintln!(
        "screenshots of the portal: {}",
        out["screenshots"].as_str().unwrap_or("?")
    );
}

#[tokio::test]
async fn browser_without_javascript_manages_an_account() {
    if !chromium_ready().await {
        return;
    }
    let server = TestServer::spawn().await;
    let email = "account@example.com";
    server.add_user(email);
    let app = server.connect(email, Some("read write")).await;
    let out = run_node(&server, email, "account.mjs", &[]).await;
    assert_eq!(out["sent_to"], "/login?next=/account", "{out}");
    assert_eq!(out["heading"], "Your account", "{out}");
    assert_eq!(
        out["headings"],
        json!([
            "Apps with access",
            "Email address",
            "Change password",
            "Two-step verification",
            "Signed-in browsers",
            "Delete your account"
        ]),
        "{out}"
    );
    assert_eq!(out["apps"], 1, "{out}");
    let lines = out["app_lines"].to_string();
    for needle in ["Test App", "read", "write", "First allowed", "Last used"] {
        assert!(lines.contains(needle), "{needle} not in {lines}");
    }
    assert_eq!(out["times"], 2, "{out}");
    assert_eq!(out["unlabelled"], json!([]), "{out}");
    assert_eq!(
        out["focus_order"],
        json!([
            "Revoke access for Test App",
            "new-email",
            "email-password",
            "Change address",
            "current-password",
            "new-password",
            "Change password",
            "Set up or manage two-step verification",
            "Manage passkeys",
            "Sign out everywhere",
            "delete-password",
            "Delete my account",
            "Home",
            "Sign out"
        ]),
        "{out}"
    );
    assert_eq!(out["password_error"], "That is not your current password.");
    assert_eq!(out["focused_after_error"], "current-password", "{out}");
    assert_eq!(out["password_notice"], "Your password was changed.");
    assert_eq!(
        out["revoked_notice"],
        "The app no longer has access to your account."
    );
    assert_eq!(out["apps_after_revoke"], 0, "{out}");
    assert_eq!(out["empty_list"], true, "{out}");
    assert_eq!(out["delete_error"], "That is not your current password.");
    assert_eq!(
        out["focused_after_delete_error"], "delete-password",
        "{out}"
    );
    assert_eq!(out["deleted_heading"], "Your account was deleted", "{out}");
    assert_eq!(out["after_delete"], "/login", "{out}");
    // The revoked app's refresh token died with its consent.
    let (status, _, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", app.refresh_token()),
            ("client_id", &app.client_id),
        ])
        .await;
    assert_eq!(status, 400);
    eprintln!(
        "screenshots of the account page: {}",
        out["screenshots"].as_str().unwrap_or("?")
    );
}

/// The operator's branding as a browser shows it, in light and dark mode.
#[tokio::test]
async fn browser_shows_the_operators_branding() {
    if !chromium_ready().await {
        return;
    }
    let server = crate::branding::branded().await;
    let out = run_node(&server, "nobody@example.com", "branding.mjs", &[]).await;
    for scheme in ["light", "dark"] {
        let seen = &out[scheme];
        assert_eq!(seen["title"], "Sign in · Acme Notes", "{out}");
        assert_eq!(seen["logo_width"], 32, "the logo did not load: {out}");
        assert_eq!(seen["button"], "rgb(15, 118, 110)", "{out}");
        assert_eq!(
            seen["footer_links"],
            serde_json::json!(["Help", "Terms", "Privacy"]),
            "{out}"
        );
    }
    eprintln!(
        "screenshots of the branded portal: {}",
        out["screenshots"].as_str().unwrap_or("?")
    );
}

#[tokio::test]
async fn browser_confirms_an_address_and_resets_a_password() {
    if !chromium_ready().await {
        return;
    }
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = TestServer::spawn_with(&[("LANYARD_SMTP_URL", &sink.smtp_url())]).await;
    let email = "forgetful@example.com";
    server.add_user(email);
    let folder = sink.folder().display().to_string();
    let out = run_node(&server, email, "mail.mjs", &["--mail-dir", &folder]).await;
    assert_eq!(out["after_sign_up"], "Check your mail", "{out}");
    assert_eq!(out["resent"], "We sent another mail.", "{out}");
    assert_eq!(out["signed_in_as"], true, "{out}");
    assert_eq!(out["after_forgot"], "Check your mail", "{out}");
    assert_eq!(out["reset_form"], "Choose a new password", "{out}");
    assert_eq!(out["after_reset"], "Your password is changed", "{out}");
    assert_eq!(out["signed_in_with_new_password"], true, "{out}");
    eprintln!(
        "screenshots of the mail pages: {}",
        out["screenshots"].as_str().unwrap_or("?")
    );
}

#[tokio::test]
async fn the_admin_api_document_is_valid_openapi() {
    if !node_ready().await {
        return;
    }
    let server = TestServer::spawn().await;
    let url = server.admin_url("/admin/v1/openapi.json");
    let out = run_node_with(&server, "", "openapi.mjs", &[], &[("OPENAPI_URL", &url)]).await;
    assert_eq!(out["openapi"], "3.1.0", "{out}");
    assert_eq!(out["title"], "Lanyard admin API");
    assert_eq!(out["paths"], 19, "{out}");
    assert_eq!(out["operations"], 26, "{out}");
    assert_eq!(out["token_url"], format!("{}/oauth/token", server.issuer));
}
