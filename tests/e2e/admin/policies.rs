//! Policies through the admin API. The story an operator's billing system lives: a purchase
//! clears, its metadata is patched, and the app's next refresh carries the new tier. Then
//! versions on two instances sharing the production store: a module pushed as
//! `application/wasm` through one runs on both, an earlier one is activated, a rollback
//! returns to the one before, and a module that is not a policy is refused with a problem
//! naming why. The decision log is read by token and by user. On the embedded store the
//! files are the versions, which the API says.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::fixtures::unix_now;
use crate::policy::build::{modules, sha256_hex};
use crate::policy::distribute::{hostile_pair, until_both_run};
use crate::policy::kit::*;
use crate::policy::reload::wrong_types_component;

#[tokio::test]
async fn a_tier_set_through_the_api_reaches_the_next_refresh() {
    let m = modules();
    let server = spawn_with_policies(&[tier(m)], &[]).await;
    server.add_user("ada@example.com");
    let c = connect_to(&server, "ada@example.com", Some("read"), TOOLS).await;
    assert_eq!(access_claims(&c.tokens)["tier"], "free");

    let billing = Admin::new(&server, "admin:users").await;
    let id = user_id(&billing, "ada@example.com").await;
    let path = format!("/users/{id}/metadata");
    let etag = billing.get(&path).await.etag();
    let patch = json!({"tiers": {TOOLS: "pro"}});
    let set = send_json(
        &billing,
        Method::PATCH,
        &path,
        "application/merge-patch+json",
        &patch,
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);

    let (status, body) = refresh(&server, &c.client_id, c.refresh_token(), TOOLS).await;
    assert_eq!(status, 200, "{body}");
    let claims = access_claims(&body);
    assert_eq!(claims["tier"], "pro", "{claims}");
    assert_eq!(claims["entitlements"], json!(PRO_ENTITLEMENTS));

    // The decision behind that token, by its jti, and among the user's.
    let reader = Admin::new(&server, "admin:read").await;
    let jti = claims["jti"].as_str().unwrap();
    let iat = claims["iat"].as_i64().unwrap();
    let mut found = reader.get(&format!("/decisions/{jti}?iat={iat}")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    // The log is written off the request path, moments after the mint.
    while found.status == StatusCode::NOT_FOUND && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        found = reader.get(&format!("/decisions/{jti}?iat={iat}")).await;
    }
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["sub"], id.as_str());
    assert_eq!(found.body["grant_type"], "refresh_token");
    assert_eq!(found.body["outcome"], "allow");
    assert_eq!(found.body["runs"][0]["policy"], "tier", "{}", found.body);
    let without_iat = reader.get(&format!("/decisions/{jti}")).await;
    assert_eq!(without_iat.body, found.body);
    assert_problem(&reader.get("/decisions/no-such-jti").await, 404);

    let now = unix_now();
    let mine = reader
        .get(&format!(
            "/decisions?user={id}&from={}&to={}",
            now - 600,
            now + 1
        ))
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    let list = mine.body.as_array().unwrap();
    assert_eq!(list.len(), 2, "the exchange and the refresh: {}", mine.body);
    assert_eq!(list[0]["jti"], jti, "newest first");
    assert_eq!(list[1]["grant_type"], "authorization_code");
    let before = reader
        .get(&format!("/decisions?user={id}&from=1&to={}", now - 600))
        .await;
    assert_eq!(before.body, json!([]));
    assert_problem(&reader.get("/decisions").await, 400);
    assert_problem(
        &reader
            .get(&format!("/decisions?user={id}&from=10&to=5"))
            .await,
        400,
    );
    // The extremes of the range are numbers like any other.
    let extremes = reader
        .get(&format!("/decisions?user={id}&to={}", i64::MIN))
        .await;
    assert_eq!(extremes.body, json!([]));

    // The files are the versions here.
    let ops = Admin::new(&server, "admin:policies").await;
    assert_problem(&ops.get("/policies").await, 409);
    let pushed = ops
        .send(
            Method::POST,
            "/policies/tier/versions",
            Some(("application/wasm", std::fs::read(&m.purchase_tier).unwrap())),
            &[],
        )
        .await;
    assert_problem(&pushed, 409);
}

fn wasm(path: &std::path::Path) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/wasm", std::fs::read(path).unwrap()))
}

#[tokio::test]
async fn versions_are_pushed_activated_and_rolled_back_through_the_api() {
    let Some(store) = production_store().await else {
        return;
    };
    let m = modules();
    let (v1, v2) = (sha256_hex(&m.hostile), sha256_hex(&m.hostile_v2));
    let (a, b) = hostile_pair(&store).await;
    let through_a = Admin::new(&a, "admin:policies").await;
    let through_b =
        Admin::with_client(&b, through_a.client_id.clone(), through_a.secret.clone()).await;

    let listed = through_a.get("/policies").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body[0]["name"], "hostile");
    assert_eq!(listed.body[0]["resources"], json!([TOOLS]));
    assert_eq!(listed.body[0]["active"], v1.as_str());

    a.add_user("ada@example.com");
    let c = connect_to(&a, "ada@example.com", Some("read"), TOOLS).await;
    let mut rt = c.refresh_token().to_string();

    // Pushed through B: both servers run it.
    let pushed = through_b
        .send(
            Method::POST,
            "/policies/hostile/versions",
            wasm(&m.hostile_v2),
            &[],
        )
        .await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);
    assert_eq!(
        pushed.body,
        json!({"policy": "hostile", "digest": v2, "previous": v1})
    );
    until_both_run([&a, &b], &c.client_id, &mut rt, "2").await;

    // Refused, naming why, and nothing changes: not a component, a component of another
    // world, the wrong media type, a policy name no binding has.
    let junk = through_a
        .send(
            Method::POST,
            "/policies/hostile/versions",
            Some(("application/wasm", b"not a component".to_vec())),
            &[],
        )
        .await;
    assert_problem(&junk, 422);
    assert!(
        junk.body["detail"]
            .as_str()
            .unwrap()
            .contains("not a valid policy component"),
        "{}",
        junk.body
    );
    let other_world = through_a
        .send(
            Method::POST,
            "/policies/hostile/versions",
            Some(("application/wasm", wrong_types_component())),
            &[],
        )
        .await;
    assert_problem(&other_world, 422);
    assert!(
        other_world.body["detail"]
            .as_str()
            .unwrap()
            .contains("does not implement the lanyard:policy world"),
        "{}",
        other_world.body
    );
    let as_json = send_json(
        &through_a,
        Method::POST,
        "/policies/hostile/versions",
        "application/json",
        &json!({}),
        &[],
    )
    .await;
    assert_problem(&as_json, 415);
    assert_problem(
        &through_a
            .send(
                Method::POST,
                "/policies/nope/versions",
                wasm(&m.hostile),
                &[],
            )
            .await,
        404,
    );
    assert_eq!(
        through_a.get("/policies").await.body[0]["active"],
        v2.as_str()
    );

    // Activate v1 by its digest, through A; then roll back to v2.
    let activated = through_a
        .post("/policies/hostile/activate", json!({"digest": v1}))
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
    assert_eq!(activated.body["previous"], v2.as_str());
    until_both_run([&a, &b], &c.client_id, &mut rt, "1").await;
    assert_problem(
        &through_a
            .post("/policies/hostile/activate", json!({"digest": "00ff"}))
            .await,
        404,
    );

    let rolled = through_b
        .post("/policies/hostile/rollback", json!({}))
        .await;
    assert_eq!(
        rolled.body,
        json!({"policy": "hostile", "digest": v2, "previous": v1})
    );
    until_both_run([&a, &b], &c.client_id, &mut rt, "2").await;

    let versions: Vec<Value> = through_b.get("/policies").await.body[0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["digest"].clone())
        .collect();
    assert_eq!(versions, [json!(v2), json!(v1), json!(v2), json!(v1)]);

    drop((a, b));
    store.finish().await;
}
