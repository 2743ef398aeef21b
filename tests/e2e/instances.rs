//! Several instances behind one issuer, sharing Postgres and Redis (design.md "Storage
//! split"): any instance can take any step of a flow, because none keeps state of its own.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::fixtures::*;
use crate::support::*;

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let (status, jwks) = server.get_json("/oauth/jwks").await;
    assert_eq!(status, 200);
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| str_of(k, "kid").to_string())
        .collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn any_instance_takes_any_step_of_a_flow() {
    let Some((a, b, store)) = pair(&[("LANYARD_REFRESH_GRACE", "0")]).await else {
        return;
    };
    for server in [&a, &b] {
        let (status, _) = server.get_json("/healthz?deep=1").await;
        assert_eq!(status, 200, "{}", server.logs());
    }
    // An account made through one instance's CLI is everyone's.
    a.add_user(EMAIL);

    // Registered, signed in and allowed on A; the code is redeemed on B.
    let grant = CodeGrant::new(&a, EMAIL, None, Some(&a.resource())).await;
    let first = grant.tokens(&b).await;
    let at = jwt_claims(str_of(&first, "access_token"));
    assert_eq!(at["iss"], a.issuer.as_str());
    assert_eq!(at["aud"], a.resource());

    // The refresh token B issued rotates on A, and A's successor on B.
    let rt1 = str_of(&first, "refresh_token").to_string();
    let (status, second, _) = refresh(&a, &grant.client_id, &rt1).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = str_of(&second, "refresh_token").to_string();
    let (status, third, _) = refresh(&b, &grant.client_id, &rt2).await;
    assert_eq!(status, 200, "{third}");
    let access = str_of(&third, "access_token").to_string();
    let mcp_ping = |server: &TestServer| {
        let req = server
            .http
            .get(server.url("/mcp/ping"))
            .bearer_auth(&access)
            .send();
        async move { req.await.unwrap().status() }
    };
    assert_eq!(mcp_ping(&a).await, StatusCode::OK);
    assert_eq!(mcp_ping(&b).await, StatusCode::OK);

    // Replaying a spent refresh token on B revokes the family, and A knows at once: its
    // refresh token and its access token stop working there too.
    assert_refused(
        refresh(&b, &grant.client_id, &rt1).await,
        400,
        "invalid_grant",
        "a replay on B",
    );
    let rt3 = str_of(&third, "refresh_token");
    assert_refused(
        refresh(&a, &grant.client_id, rt3).await,
        400,
        "invalid_grant",
        "the family on A",
    );
    assert_eq!(mcp_ping(&a).await, StatusCode::UNAUTHORIZED);
    // A code works once, whichever instance sees it again.
    assert_refused(
        grant.exchange(&a).await,
        400,
        "invalid_grant",
        "a second redemption",
    );
    drop((a, b));
    store.finish().await;
}

#[tokio::test]
async fn a_browser_signed_in_on_one_instance_is_signed_in_on_all() {
    let Some((a, b, store)) = pair(&[]).await else {
        return;
    };
    a.add_user(EMAIL);
    let c = a.connect(EMAIL, None).await;
    let mut browser = c.browser;
    // A new authorization on B: the session made on A skips sign-in, and the consent given
    // on A (same client, resource and scopes) skips consent, straight back with a code.
    let (_verifier, challenge) = pkce();
    let auth = Authorize {
        client_id: &c.client_id,
        redirect_uri: &c.redirect,
        challenge: &challenge,
        scope: None,
        resource: Some(&a.resource()),
        state: "s2",
        extra: vec![],
    };
    let page = browser.get(&auth.url(&b)).await;
    let location = page.location.unwrap_or_default();
    assert!(
        location.starts_with(&c.redirect) && query(&location).contains_key("code"),
        "B asked again: {} {location} {}",
        page.status,
        page.body
    );
    drop((a, b));
    store.finish().await;
}

#[tokio::test]
async fn instances_starting_together_agree_on_keys_and_follow_a_rotation() {
    let Some(store) = production_store().await else {
        return;
    };
    // Polling is set aside (an hour): the rotation must travel as a notice.
    let mut settings = store.env();
    settings.push(("LANYARD_KEY_RELOAD_SECS", "3600"));
    // Both start on an empty database at the same moment: each tries to make the first
    // keys, and only one set may win.
    let (a, b) = tokio::join!(
        TestServer::spawn_with(&settings),
        TestServer::spawn_with(&settings)
    );
    let before = jwks_kids(&a).await;
    assert_eq!(before.len(), 2, "a current and a next key: {before:?}");
    assert_eq!(jwks_kids(&b).await, before);

    // A rotation made through A's CLI reaches both servers at once.
    let rotated: Value = a.cli_json(&["keys", "rotate"]);
    let signing = str_of(&rotated, "signing_kid").to_string();
    assert!(
        before.contains(&signing),
        "the next key was published first"
    );
    b.add_user(EMAIL);
    let c = b.connect(EMAIL, None).await;
    let mut rt = c.refresh_token().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body, _) = refresh(&b, &c.client_id, &rt).await;
        assert_eq!(status, 200, "{body}");
        rt = str_of(&body, "refresh_token").to_string();
        let kid = jwt_header(str_of(&body, "access_token"))["kid"].clone();
        if kid == signing.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "B still signs with {kid}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = jwks_kids(&b).await;
    assert_eq!(after.len(), 3, "retired, current and a new next: {after:?}");
    // A publishes the same set once its own reload comes round.
    let deadline = Instant::now() + Duration::from_secs(10);
    while jwks_kids(&a).await != after {
        assert!(Instant::now() < deadline, "A never published {after:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((a, b, settings));
    store.finish().await;
}

#[tokio::test]
async fn wrong_passwords_spread_over_instances_still_lock_the_account() {
    let Some((a, b, store)) = pair(&[]).await else {
        return;
    };
    a.add_user(EMAIL);
    let client = a.register_client(REDIRECT).await;
    let (_, challenge) = pkce();
    let auth = Authorize {
        client_id: str_of(&client, "client_id"),
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: None,
        resource: Some(&a.resource()),
        state: "s",
        extra: vec![],
    };
    let mut browser = Browser::default();
    let page = browser.get(&auth.url(&a)).await;
    let login = page.location.expect("sent to sign in");
    let at = |server: &TestServer| {
        if login.starts_with('/') {
            server.url(&login)
        } else {
            login.replacen(&a.base, &server.base, 1)
        }
    };
    let page = browser.get(&at(&a)).await;
    let csrf = hidden(&page.body, "csrf_token").expect("csrf_token");
    // Ten wrong passwords, half through each instance.
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        let page = browser
            .post_credentials(&at(server), EMAIL, "wrong password", &csrf)
            .await;
        assert_eq!(page.status, 401, "{}", page.body);
    }
    // Either instance now refuses even the right password.
    for server in [&a, &b] {
        let page = browser
            .post_credentials(&at(server), EMAIL, PASSWORD, &csrf)
            .await;
        assert_eq!(page.status, 429, "{}", page.body);
    }
    drop((a, b));
    store.finish().await;
}

// The relay runs on the test's runtime while the test blocks on the CLI: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_unreachable_requests_get_503_and_nothing_is_lost() {
    let Some(store) = production_store().await else {
        return;
    };
    let gate = Gate::to(&address(&store.url("LANYARD_REDIS_URL"), 6379)).await;
    let through_gate = format!("redis://127.0.0.1:{}/", gate.port);
    let settings = store.env_with(&[("LANYARD_REDIS_URL", &through_gate)]);
    let a = TestServer::spawn_with(&settings).await;
    a.add_user(EMAIL);
    let connected = a.connect(EMAIL, None).await;
    // The code is in Redis when Redis goes away.
    let grant = CodeGrant::new(&a, EMAIL, None, Some(&a.resource())).await;
    gate.cut();
    assert_refused(
        grant.exchange(&a).await,
        503,
        "temporarily_unavailable",
        "Redis cut",
    );
    assert_store_down_but_instance_ready(&a, "redis").await;
    // A refresh needs only Postgres: it goes on while Redis is away.
    let refreshed = refresh(&a, &connected.client_id, connected.refresh_token()).await;
    assert_eq!(refreshed.0, 200, "{}", refreshed.1);

    // Back again: the server reconnects, and the code it could not redeem still works.
    gate.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while a.get_json("/healthz?deep=1").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "never reconnected: {}", a.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tokens = grant.tokens(&a).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    drop((a, settings));
    store.finish().await;
}

// As above: the relay needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_unreachable_refreshes_get_503_and_nothing_is_lost() {
    let Some(store) = production_store().await else {
        return;
    };
    let mut through_gate = store.url("LANYARD_DATABASE_URL");
    let gate = Gate::to(&address(&through_gate, 5432)).await;
    through_gate.set_port(Some(gate.port)).unwrap();
    let through_gate = through_gate.to_string();
    let settings = store.env_with(&[("LANYARD_DATABASE_URL", &through_gate)]);
    let a = TestServer::spawn_with(&settings).await;
    a.add_user(EMAIL);
    let c = a.connect(EMAIL, None).await;
    gate.cut();
    assert_refused(
        refresh(&a, &c.client_id, c.refresh_token()).await,
        503,
        "temporarily_unavailable",
        "Postgres cut",
    );
    assert_store_down_but_instance_ready(&a, "postgres").await;

    // Back again: the refresh token the failed request carried was not spent.
    gate.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body, _) = refresh(&a, &c.client_id, c.refresh_token()).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "never reconnected: {}", a.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((a, settings));
    store.finish().await;
}

/// The production store over TLS: Postgres with `sslmode=require`, Redis at `rediss://`,
/// both verified against `LANYARD_STORE_CA`; a server that does not trust the CA refuses to
/// start rather than talk to an unverified store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_can_be_reached_over_verified_tls() {
    let Some(store) = production_store().await else {
        return;
    };
    let (db, redis) = (
        store.url("LANYARD_DATABASE_URL"),
        store.url("LANYARD_REDIS_URL"),
    );
    let pg_front = TlsFront::postgres(&address(&db, 5432)).await;
    let redis_front = TlsFront::redis(&address(&redis, 6379)).await;
    let mut db_tls = db.clone();
    db_tls.set_host(Some("localhost")).unwrap();
    db_tls.set_port(Some(pg_front.port)).unwrap();
    let db_tls = format!("{db_tls}&sslmode=require");
    let redis_tls = format!("rediss://localhost:{}/", redis_front.port);
    // One CA file for both services, as an operator would give it.
    let ca = [&pg_front, &redis_front]
        .iter()
        .map(|f| std::fs::read_to_string(f.ca_file.path()).unwrap())
        .collect::<String>();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca).unwrap();
    let ca_path = ca_file.path().to_str().unwrap().to_string();

    let settings = store.env_with(&[
        ("LANYARD_DATABASE_URL", &db_tls),
        ("LANYARD_REDIS_URL", &redis_tls),
        ("LANYARD_STORE_CA", &ca_path),
    ]);
    let a = TestServer::spawn_with(&settings).await;
    assert_eq!(a.get_json("/healthz?deep=1").await.0, StatusCode::OK);
    // Without the CA, the system's roots do not vouch for the fronts' certificates: each
    // service is refused in turn (Redis with Postgres reached in the clear).
    let plain_db = db.to_string();
    for (changes, refused) in [
        (vec![("LANYARD_STORE_CA", None)], "connecting to Postgres"),
        (
            vec![
                ("LANYARD_STORE_CA", None),
                ("LANYARD_DATABASE_URL", Some(plain_db.as_str())),
            ],
            "connecting to Redis",
        ),
    ] {
        let out = a.cli_with(&changes, &["migrate"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(refused), "{err}");
    }
    a.add_user(EMAIL);
    let c = a.connect(EMAIL, None).await;
    let (status, body, _) = refresh(&a, &c.client_id, c.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
    drop((a, settings));
    store.finish().await;
}

/// A store every instance shares is down: `/healthz?deep=1` says so, but the instance
/// itself stays ready, so that a load balancer does not take the whole fleet out.
/// The backend `down` (`postgres` or `redis`) is reported down, by the deep health check
/// and the metrics, the other one up, and the instance itself ready.
async fn assert_store_down_but_instance_ready(server: &TestServer, down: &str) {
    let up = if down == "redis" { "postgres" } else { "redis" };
    let r = client()
        .get(server.url("/healthz?deep=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report = r.text().await.unwrap();
    assert!(
        report.contains(&format!("{down} unavailable\n")),
        "{report}"
    );
    assert!(report.contains(&format!("{up} ok\n")), "{report}");
    let metrics = server.metrics().await;
    for (backend, value) in [(down, 0), (up, 1)] {
        let line = format!("lanyard_store_up{{backend=\"{backend}\"}} {value}\n");
        assert!(metrics.contains(&line), "{line} not in {metrics}");
    }
    assert_eq!(server.get_json("/readyz").await.0, StatusCode::OK);
}

/// A rolling restart on the production store: the instance told to stop says so at
/// `/readyz` while it keeps serving, so requests never fail; the other instance carries on
/// with everything the first one issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_instance_keeps_serving_while_the_other_takes_over() {
    let Some((mut a, b, store)) = pair(&[("LANYARD_DRAIN_DELAY_SECS", "2")]).await else {
        return;
    };
    a.add_user(EMAIL);
    let c = a.connect(EMAIL, None).await;
    a.signal_terminate();
    let told = Instant::now();
    while a.get_json("/readyz").await.0 != StatusCode::SERVICE_UNAVAILABLE {
        assert!(told.elapsed() < Duration::from_secs(1), "never drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.get_json("/readyz").await.0, StatusCode::OK);
    // Still serving while it drains: a refresh on A works, and its successor works on B.
    let on_a = refresh(&a, &c.client_id, c.refresh_token()).await;
    assert_eq!(on_a.0, 200, "{}", on_a.1);
    assert!(told.elapsed() < Duration::from_secs(2));
    let status = tokio::task::block_in_place(|| a.terminate()).expect("running");
    assert!(status.success(), "{status:?}\n{}", a.logs());
    let on_b = refresh(&b, &c.client_id, str_of(&on_a.1, "refresh_token")).await;
    assert_eq!(on_b.0, 200, "{}", on_b.1);
    drop((a, b));
    store.finish().await;
}
