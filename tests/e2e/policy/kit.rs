//! The policy tests' kit: servers with policies bound in lanyard.toml, flows against a
//! chosen resource, and the pages a policy puts in place of the consent page.

use std::collections::HashMap;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::build::Modules;
use crate::support::*;

pub const TOOLS: &str = "https://tools.example/mcp";
pub const PLAIN: &str = "https://plain.example/mcp";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const CLIENT_NAME: &str = "Test App";

// The example policies' user-facing texts: part of their contract (see their lib.rs).
pub const FREE_NOTICE: &str = "Write access needs the Pro plan.";
pub const LAPSED_NOTICE: &str =
    "Your subscription for this service has lapsed. Renew it, or this app will be refused access.";
pub const LAPSED_DENY: &str =
    "Your subscription for this service has lapsed. Renew it to continue.";
pub const NO_ORG_DENY: &str = "Your account does not belong to an organization that can use this \
     service. Ask your administrator to add you to one.";
pub const PRO_ENTITLEMENTS: [&str; 2] = ["export", "priority"];

pub fn server_error() -> Value {
    json!({"error": "server_error", "error_description": "the server could not complete the request"})
}

pub fn tier_config() -> Value {
    json!({
        "default": "free",
        "tiers": {
            "free": {"drop_scopes": ["write"], "notice": FREE_NOTICE},
            "pro": {"entitlements": PRO_ENTITLEMENTS},
        }
    })
}

pub fn org_config(require_org: bool) -> Value {
    json!({"domains": {"example.com": "org_example"}, "require_org": require_org})
}

// ---------------------------------------------------------------------------------------
// Servers with policies bound through lanyard.toml.

/// One `[[policies]]` entry.
pub struct Bind<'a> {
    pub name: &'a str,
    pub module: &'a Path,
    pub resource: &'a str,
    pub config: Value,
    pub fail_open: bool,
}

pub fn tier(m: &Modules) -> Bind<'_> {
    Bind {
        name: "tier",
        module: &m.purchase_tier,
        resource: TOOLS,
        config: tier_config(),
        fail_open: false,
    }
}

pub fn org(m: &Modules, require_org: bool) -> Bind<'_> {
    Bind {
        name: "org",
        module: &m.org_membership,
        resource: TOOLS,
        config: org_config(require_org),
        fail_open: false,
    }
}

pub fn hostile(m: &Modules, config: Value) -> Bind<'_> {
    Bind {
        name: "hostile",
        module: &m.hostile,
        resource: TOOLS,
        config,
        fail_open: false,
    }
}

/// Writes lanyard.toml (the two resources and `bindings`) and the modules into a fresh
/// folder, and starts a server there.
pub async fn spawn_with_policies(bindings: &[Bind<'_>], env: &[(&str, &str)]) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("policies")).expect("policies dir");
    let mut policies = Vec::new();
    for b in bindings {
        let file = format!(
            "policies/{}",
            b.module
                .file_name()
                .and_then(|f| f.to_str())
                .expect("module file name")
        );
        let copy = dir.path().join(&file);
        if !copy.exists() {
            std::fs::copy(b.module, &copy).expect("copy module");
        }
        policies.push(json!({
            "name": b.name, "module": file, "resource": b.resource, "config": b.config, "fail_open": b.fail_open,
        }));
    }
    let doc = json!({
        "resources": [{"uri": TOOLS, "name": "Tools"}, {"uri": PLAIN, "name": "Plain"}],
        "policies": policies,
    });
    let toml = toml::to_string(&doc).expect("toml");
    std::fs::write(dir.path().join("lanyard.toml"), toml).expect("write lanyard.toml");
    TestServer::spawn_in(dir, env).await
}

pub fn set_metadata(server: &TestServer, email: &str, metadata: Value) {
    let out = server.cli_json(&["user", "metadata", "set", email, &metadata.to_string()]);
    assert_eq!(out["metadata"], metadata);
}

/// `lanyard policy log`, oldest first, once the server's writer has caught up: entries are
/// written off the request path some milliseconds after each mint, so read until two reads
/// agree.
pub fn decision_log(server: &TestServer) -> Vec<Value> {
    let mut last = read_decision_log(server);
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = read_decision_log(server);
        if now.len() == last.len() {
            return now;
        }
        last = now;
    }
    last
}

fn read_decision_log(server: &TestServer) -> Vec<Value> {
    let mut entries = server.cli_json_lines(&["policy", "log", "--limit", "10000"]);
    entries.reverse();
    entries
}

/// A decision-log entry's runs without their timings: `[(policy, digest, outcome)]`.
pub fn runs_of(entry: &Value) -> Vec<(String, String, String)> {
    entry["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("no runs in {entry}"))
        .iter()
        .map(|r| {
            assert!(r["micros"].is_u64(), "{r}");
            (
                r["policy"].as_str().unwrap().to_string(),
                r["digest"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub async fn healthy(server: &TestServer) {
    let r = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(r.status(), 200);
}

// ---------------------------------------------------------------------------------------
// Flows against a chosen resource.

/// An authorization code in hand, not yet exchanged.
pub struct Code {
    pub client_id: String,
    pub verifier: String,
    pub code: String,
    pub browser: Browser,
}

pub fn authorize<'a>(
    client_id: &'a str,
    challenge: &'a str,
    scope: Option<&'a str>,
    resource: &'a str,
    state: &'a str,
) -> Authorize<'a> {
    Authorize {
        client_id,
        redirect_uri: REDIRECT,
        challenge,
        scope,
        resource: Some(resource),
        state,
        extra: vec![],
    }
}

pub async fn register(server: &TestServer) -> String {
    let client = server.register_client(REDIRECT).await;
    client["client_id"].as_str().expect("client_id").to_string()
}

/// Registers a client, signs `email` in and allows: a code for `resource`.
pub async fn code_for(
    server: &TestServer,
    email: &str,
    scope: Option<&str>,
    resource: &str,
) -> Code {
    let client_id = register(server).await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = authorize(&client_id, &challenge, scope, resource, "s1");
    let callback = server.consent_flow(&mut browser, &auth, email).await;
    let code = query(&callback)
        .remove("code")
        .unwrap_or_else(|| panic!("no code in {callback}"));
    Code {
        client_id,
        verifier,
        code,
        browser,
    }
}

pub async fn exchange(server: &TestServer, c: &Code, resource: &str) -> (StatusCode, Value) {
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &c.code),
            ("code_verifier", &c.verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", &c.client_id),
            ("resource", resource),
        ])
        .await;
    (status, body)
}

pub async fn refresh(
    server: &TestServer,
    client_id: &str,
    refresh_token: &str,
    resource: &str,
) -> (StatusCode, Value) {
    let (status, body, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("resource", resource),
        ])
        .await;
    (status, body)
}

/// The whole first connect to `resource`; the exchange must succeed.
pub async fn connect_to(
    server: &TestServer,
    email: &str,
    scope: Option<&str>,
    resource: &str,
) -> Connected {
    let c = code_for(server, email, scope, resource).await;
    let (status, tokens) = exchange(server, &c, resource).await;
    assert_eq!(
        status, 200,
        "code exchange for {email} at {resource}: {tokens}"
    );
    Connected {
        client_id: c.client_id,
        redirect: REDIRECT.to_string(),
        tokens,
        browser: c.browser,
    }
}

pub fn access_claims(tokens: &Value) -> Value {
    jwt_claims(
        tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {tokens}")),
    )
}

/// Follows authorize and sign-in up to what the consent step shows: the consent page, or
/// the page a policy put in its place. Returns that page.
pub async fn consent_step(
    server: &TestServer,
    browser: &mut Browser,
    auth: &Authorize<'_>,
    email: &str,
) -> Page {
    let mut page = browser.get(&auth.url(server)).await;
    for _ in 0..6 {
        let Some(loc) = page.location.clone() else {
            return page;
        };
        let url = absolute(server, &loc);
        if !url.starts_with(&server.base) {
            return page;
        }
        if url.contains("/login") {
            let login = browser.get(&url).await;
            assert_eq!(login.status, 200, "{}", login.body);
            let csrf = hidden(&login.body, "csrf_token").expect("csrf_token on the login page");
            page = browser.post_credentials(&url, email, PASSWORD, &csrf).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "login: {}", page.body);
        } else {
            page = browser.get(&url).await;
        }
    }
    panic!("too many hops");
}

/// A `Location` as a full URL.
pub fn absolute(server: &TestServer, location: &str) -> String {
    if location.starts_with('/') {
        server.url(location)
    } else {
        location.to_string()
    }
}

/// The "Return to <app>" button of an error page: (label, href).
pub fn return_link(html: &str) -> (String, String) {
    let start = html
        .find("<a class=\"button\" href=\"")
        .unwrap_or_else(|| panic!("no return link in {html}"))
        + 24;
    let end = start + html[start..].find('"').expect("end of href");
    let href = unescape_html(&html[start..end]);
    let label_start = end + 2;
    let label_end = label_start + html[label_start..].find("</a>").expect("end of link");
    (html[label_start..label_end].trim().to_string(), href)
}

/// Undoes HTML escaping in an attribute value: `&amp;`, `&#38;`, `&#x26;` and the like.
pub fn unescape_html(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .map(|e| at + e)
            .unwrap_or_else(|| panic!("bad entity in {text}"));
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            "lt" => '<',
            "gt" => '>',
            _ => {
                let code = match entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => entity
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("entity &{entity}; in {text}"))
                        .parse(),
                };
                char::from_u32(code.unwrap_or_else(|_| panic!("entity &{entity}; in {text}")))
                    .expect("a character")
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Asserts a URL is `REDIRECT` with exactly these query parameters.
pub fn assert_back_to_client(url: &str, expected: &[(&str, &str)]) {
    assert!(url.starts_with(&format!("{REDIRECT}?")), "goes to {url}");
    let want: HashMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(query(url), want, "{url}");
    assert_eq!(
        url::Url::parse(url).unwrap().query_pairs().count(),
        expected.len(),
        "{url}"
    );
}

/// A policy deny or failure shown in place of the consent page.
pub fn assert_blocked_page(page: &Page, status: u16, message: &str, back: &[(&str, &str)]) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.location.is_none());
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.body.contains(message),
        "page lacks {message:?}: {}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"decision\""),
        "a blocked request must not offer Allow: {}",
        page.body
    );
    let (label, href) = return_link(&page.body);
    assert_eq!(label, format!("Return to {CLIENT_NAME}"));
    assert_back_to_client(&href, back);
}
