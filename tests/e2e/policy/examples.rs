//! The example policies in real flows: tier and org claims at code exchange and refresh,
//! a tier change at the next refresh, the consent notice, denies at consent and at refresh,
//! and the decision log; and what the built components import.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::build::*;
use super::kit::*;
use crate::support::*;

#[tokio::test]
async fn tier_and_org_claims_ride_on_code_exchange_and_refresh() {
    let m = modules();
    let server = spawn_with_policies(&[tier(m), org(m, false)], &[]).await;
    let ada = server.add_user("ada@example.com");
    let grace = server.add_user("grace@acme.test");
    let grace_org = json!({"id": "org_acme", "role": "admin"});
    set_metadata(
        &server,
        "grace@acme.test",
        json!({"tiers": {TOOLS: "pro"}, "org": grace_org}),
    );
    let mut mints: Vec<(Value, &str)> = Vec::new();

    // Ada: free tier by default (write withheld); her org comes from her verified domain.
    let a = connect_to(&server, "ada@example.com", Some("read write"), TOOLS).await;
    assert_eq!(a.tokens["scope"], "read");
    let at = access_claims(&a.tokens);
    assert_eq!(at["sub"], ada["id"]);
    assert_eq!(at["scope"], "read");
    assert_eq!(
        (&at["tier"], &at["org_id"], &at["org_role"]),
        (&json!("free"), &json!("org_example"), &json!("member"))
    );
    assert!(at.get("entitlements").is_none(), "{at}");
    mints.push((at, "authorization_code"));

    // Grace: pro, with an org assigned by the operator; refresh says the same again.
    let g = connect_to(&server, "grace@acme.test", Some("read write"), TOOLS).await;
    assert_eq!(g.tokens["scope"], "read write");
    let gt = access_claims(&g.tokens);
    assert_eq!(gt["sub"], grace["id"]);
    assert_eq!(
        (&gt["tier"], &gt["entitlements"]),
        (&json!("pro"), &json!(PRO_ENTITLEMENTS))
    );
    assert_eq!(
        (&gt["org_id"], &gt["org_role"]),
        (&json!("org_acme"), &json!("admin"))
    );
    mints.push((gt.clone(), "authorization_code"));
    let (status, g2) = refresh(&server, &g.client_id, g.refresh_token(), TOOLS).await;
    assert_eq!(status, 200, "{g2}");
    let g2t = access_claims(&g2);
    assert_ne!(g2t["jti"], gt["jti"]);
    for claim in ["tier", "entitlements", "org_id", "org_role", "sub", "scope"] {
        assert_eq!(g2t[claim], gt[claim], "{claim} on refresh");
    }
    mints.push((g2t, "refresh_token"));

    // The operator changes tiers; the next refresh of each grant carries the change.
    set_metadata(&server, "ada@example.com", json!({"tiers": {TOOLS: "pro"}}));
    set_metadata(&server, "grace@acme.test", json!({"org": grace_org}));
    let (status, a2) = refresh(&server, &a.client_id, a.refresh_token(), TOOLS).await;
    assert_eq!(status, 200, "{a2}");
    let a2t = access_claims(&a2);
    assert_eq!(
        (&a2t["tier"], &a2t["entitlements"]),
        (&json!("pro"), &json!(PRO_ENTITLEMENTS))
    );
    // An upgrade does not widen what the user consented to.
    assert_eq!(
        (&a2["scope"], &a2t["scope"]),
        (&json!("read"), &json!("read"))
    );
    mints.push((a2t, "refresh_token"));
    let (status, g3) = refresh(
        &server,
        &g.client_id,
        g2["refresh_token"].as_str().unwrap(),
        TOOLS,
    )
    .await;
    assert_eq!(status, 200, "{g3}");
    let g3t = access_claims(&g3);
    assert_eq!(g3t["tier"], "free");
    assert!(g3t.get("entitlements").is_none(), "{g3t}");
    // A downgrade withholds write from this token on.
    assert_eq!(
        (&g3["scope"], &g3t["scope"]),
        (&json!("read"), &json!("read"))
    );
    assert_eq!(
        (&g3t["org_id"], &g3t["org_role"]),
        (&json!("org_acme"), &json!("admin"))
    );
    mints.push((g3t.clone(), "refresh_token"));

    // The decision log: one entry per mint, by jti, naming the versions that decided.
    let log = decision_log(&server);
    assert_eq!(log.len(), mints.len(), "{log:#?}");
    let (tier_digest, org_digest) = (sha256_hex(&m.purchase_tier), sha256_hex(&m.org_membership));
    for (claims, grant_type) in &mints {
        let entry = log
            .iter()
            .find(|e| e["jti"] == claims["jti"])
            .unwrap_or_else(|| panic!("no entry for {} in {log:#?}", claims["jti"]));
        assert_eq!(entry["outcome"], "allow");
        assert_eq!(entry["grant_type"], *grant_type);
        assert_eq!(
            (&entry["sub"], &entry["client_id"], &entry["resource"]),
            (&claims["sub"], &claims["client_id"], &json!(TOOLS))
        );
        assert_eq!(entry["at"], claims["iat"], "{entry}");
        assert_eq!(
            runs_of(entry),
            [
                ("tier".into(), tier_digest.clone(), "allow".into()),
                ("org".into(), org_digest.clone(), "allow".into())
            ]
        );
    }

    // An operator holding a token finds the decision behind it, by the token itself (its
    // jti within its iat) or by the bare jti.
    let token = g3["access_token"].as_str().unwrap();
    let jti = g3t["jti"].as_str().unwrap();
    for (flag, value) in [("--token", token), ("--jti", jti)] {
        let found = server.cli_json(&["policy", "log", flag, value]);
        assert_eq!((&found["jti"], &found["at"]), (&g3t["jti"], &g3t["iat"]));
        assert_eq!(runs_of(&found).len(), 2, "{found}");
    }
    let missing = server.cli(&["policy", "log", "--jti", "no-such-jti"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no decision found"));

    // The unbound resource mints without policy claims and without a log entry.
    let p = connect_to(&server, "ada@example.com", Some("read write"), PLAIN).await;
    assert_eq!(p.tokens["scope"], "read write");
    let pt = access_claims(&p.tokens);
    assert!(
        pt.get("tier").is_none() && pt.get("org_id").is_none(),
        "{pt}"
    );
    assert_eq!(decision_log(&server).len(), mints.len());
}

#[tokio::test]
async fn the_free_tier_notice_is_on_the_consent_page_and_write_is_not_granted() {
    let m = modules();
    let server = spawn_with_policies(&[tier(m)], &[]).await;
    server.add_user("ada@example.com");
    server.add_user("grace@example.com");
    set_metadata(
        &server,
        "grace@example.com",
        json!({"tiers": {TOOLS: "pro"}}),
    );
    let client_id = register(&server).await;

    // Free: the notice explains, and write is not on the list the user approves.
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = authorize(&client_id, &challenge, Some("read write"), TOOLS, "s-free");
    let page = consent_step(&server, &mut browser, &auth, "ada@example.com").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("<div class=\"note\">{FREE_NOTICE}</div>")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<div class=\"name\">read</div>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<div class=\"name\">write</div>"),
        "{}",
        page.body
    );
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    let back = browser
        .post(
            &server.url(&format!("/consent?request={request}")),
            &[("decision", "allow"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    let code = query(back.location.as_deref().unwrap())["code"].clone();
    let c = Code {
        client_id: client_id.clone(),
        verifier,
        code,
        browser,
    };
    let (status, tokens) = exchange(&server, &c, TOOLS).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "read");
    let at = access_claims(&tokens);
    assert_eq!(
        (&at["scope"], &at["tier"]),
        (&json!("read"), &json!("free"))
    );

    // Pro: no notice, write offered and granted.
    let (_, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = authorize(&client_id, &challenge, Some("read write"), TOOLS, "s-pro");
    let page = consent_step(&server, &mut browser, &auth, "grace@example.com").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains(FREE_NOTICE), "{}", page.body);
    assert!(
        page.body.contains("<div class=\"name\">write</div>"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn an_organization_is_required_and_outsiders_are_refused_at_consent() {
    let m = modules();
    let server = spawn_with_policies(&[org(m, true)], &[]).await;
    server.add_user("carol@elsewhere.test");
    server.add_user("ada@example.com");
    let client_id = register(&server).await;
    let (_, challenge) = pkce();

    // An outsider sees why, and the only way out tells the app access_denied.
    let mut browser = Browser::default();
    let auth = authorize(&client_id, &challenge, Some("read"), TOOLS, "s-carol");
    let page = consent_step(&server, &mut browser, &auth, "carol@elsewhere.test").await;
    let denied = [
        ("error", "access_denied"),
        ("error_description", NO_ORG_DENY),
        ("state", "s-carol"),
        ("iss", server.base.as_str()),
    ];
    assert_blocked_page(&page, 403, NO_ORG_DENY, &denied);

    // prompt=none has no page to show: the deny goes straight back to the app.
    let mut quiet = authorize(&client_id, &challenge, Some("read"), TOOLS, "s-carol");
    quiet.extra.push(("prompt", "none"));
    let page = browser.get(&quiet.url(&server)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert_back_to_client(page.location.as_deref().unwrap(), &denied);

    // A self-registered address is unverified, so its domain does not make a member.
    let mut browser = Browser::default();
    let auth = authorize(&client_id, &challenge, Some("read"), TOOLS, "s-mallory");
    let first = browser.get(&auth.url(&server)).await;
    let login = absolute(&server, first.location.as_deref().expect("to login"));
    let request = query(&login)["request"].clone();
    let signup_url = server.url(&format!("/register?request={request}"));
    let signup = browser.get(&signup_url).await;
    assert_eq!(signup.status, 200, "{}", signup.body);
    let csrf = hidden(&signup.body, "csrf_token").unwrap();
    let mut page = browser
        .post(
            &signup_url,
            &[
                ("email", "mallory@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("request", &request),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    while let Some(loc) = page
        .location
        .clone()
        .filter(|l| l.starts_with('/') || l.starts_with(&server.base))
    {
        page = browser.get(&absolute(&server, &loc)).await;
    }
    let denied = [
        ("error", "access_denied"),
        ("error_description", NO_ORG_DENY),
        ("state", "s-mallory"),
        ("iss", server.base.as_str()),
    ];
    assert_blocked_page(&page, 403, NO_ORG_DENY, &denied);

    // A verified address in a mapped domain is a member.
    let a = connect_to(&server, "ada@example.com", Some("read"), TOOLS).await;
    let at = access_claims(&a.tokens);
    assert_eq!(
        (&at["org_id"], &at["org_role"]),
        (&json!("org_example"), &json!("member"))
    );
}

#[tokio::test]
async fn a_lapsed_subscription_is_refused_at_refresh_and_the_refresh_token_survives() {
    let m = modules();
    let server = spawn_with_policies(&[tier(m)], &[]).await;
    server.add_user("ada@example.com");
    let pro = json!({"tiers": {TOOLS: "pro"}});
    let lapsed = json!({"tiers": {TOOLS: "pro"}, "lapsed": [TOOLS]});
    set_metadata(&server, "ada@example.com", pro.clone());
    let c = connect_to(&server, "ada@example.com", Some("read write"), TOOLS).await;
    assert_eq!(access_claims(&c.tokens)["tier"], "pro");

    set_metadata(&server, "ada@example.com", lapsed.clone());
    let (status, body) = refresh(&server, &c.client_id, c.refresh_token(), TOOLS).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": LAPSED_DENY})
        )
    );

    // Renewed: the refresh token the deny left unspent works again.
    set_metadata(&server, "ada@example.com", pro.clone());
    let (status, renewed) = refresh(&server, &c.client_id, c.refresh_token(), TOOLS).await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(access_claims(&renewed)["tier"], "pro");

    // Connecting while lapsed: consent only warns, the exchange is refused.
    set_metadata(&server, "ada@example.com", lapsed);
    let client_id = register(&server).await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::default();
    let auth = authorize(
        &client_id,
        &challenge,
        Some("read write"),
        TOOLS,
        "s-lapsed",
    );
    let page = consent_step(&server, &mut browser, &auth, "ada@example.com").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(LAPSED_NOTICE), "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    let back = browser
        .post(
            &server.url(&format!("/consent?request={request}")),
            &[("decision", "allow"), ("csrf_token", &csrf)],
        )
        .await;
    let code = query(back.location.as_deref().unwrap())["code"].clone();
    let (status, body) = exchange(
        &server,
        &Code {
            client_id,
            verifier,
            code,
            browser,
        },
        TOOLS,
    )
    .await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": LAPSED_DENY})
        )
    );

    // Only the two mints are in the decision log; the refusals minted nothing.
    let log = decision_log(&server);
    let jtis: Vec<&Value> = log.iter().map(|e| &e["jti"]).collect();
    assert_eq!(
        jtis,
        [
            &access_claims(&c.tokens)["jti"],
            &access_claims(&renewed)["jti"]
        ]
    );
    assert!(log.iter().all(|e| e["outcome"] == "allow"), "{log:#?}");
}

/// Policies built with the SDK import the host's log and nothing else: the WASI functions
/// std links are traps inside the guest (the SDK's `wasi_stubs`), so no instantiation wires
/// them. Checked on the built components, so a toolchain that renames them shows up here.
#[test]
fn policies_built_with_the_sdk_import_only_from_lanyard() {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let m = modules();
    for path in [&m.purchase_tier, &m.org_membership, &m.hostile] {
        let component =
            wasmtime::component::Component::from_file(&engine, path).expect("component");
        let imports: Vec<String> = component
            .component_type()
            .imports(&engine)
            .map(|(name, _)| name.to_string())
            .collect();
        assert!(
            imports
                .iter()
                .all(|name| name.starts_with("lanyard:policy/")),
            "{} imports {imports:?}",
            path.display()
        );
        assert!(
            imports
                .iter()
                .any(|name| name == "lanyard:policy/log@0.2.0"),
            "{imports:?}"
        );
    }
}
