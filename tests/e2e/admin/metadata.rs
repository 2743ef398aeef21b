//! A user's metadata through the admin API: every read has an ETag; `PUT` replaces and
//! `PATCH` merges (RFC 7396); a write naming a stale ETag gets 412. Two billing events
//! racing with the same `If-Match`, one through each instance: one wins, the other is told,
//! and neither is lost silently. Without `If-Match`, racing patches both land.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;

on_both_deployments!(metadata_writes_name_the_version_they_read);

async fn metadata_writes_name_the_version_they_read(d: &Deployment) {
    let a = Admin::new(&d.first, "admin:users").await;
    let b = Admin::with_client(d.second(), a.client_id.clone(), a.secret.clone()).await;
    let made = a.post("/users", json!({"email": "bill@example.com"})).await;
    let path = format!("/users/{}/metadata", made.body["id"].as_str().unwrap());

    let empty = a.get(&path).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body, json!({}));
    let v0 = empty.etag();

    // PUT with the current tag replaces; the tag changes with the value.
    let put = send_json(
        &a,
        Method::PUT,
        &path,
        "application/json",
        &json!({"tier": "pro", "org": {"id": "o1", "role": "admin"}}),
        &[("if-match", &v0)],
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let v1 = put.etag();
    assert_ne!(v1, v0);
    assert_eq!(
        b.get(&path).await.etag(),
        v1,
        "the same tag on every instance"
    );

    // A write naming the old tag is refused and changes nothing.
    let stale = send_json(
        &b,
        Method::PUT,
        &path,
        "application/json",
        &json!({}),
        &[("if-match", &v0)],
    )
    .await;
    assert_problem(&stale, 412);
    assert_eq!(a.get(&path).await.body["tier"], "pro");

    // A merge patch: null removes, objects merge, the rest replaces.
    let patched = send_json(
        &b,
        Method::PATCH,
        &path,
        "application/merge-patch+json",
        &json!({"tier": "team", "org": {"role": null, "seats": 5}}),
        &[("if-match", &v1)],
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body,
        json!({"tier": "team", "org": {"id": "o1", "seats": 5}})
    );
    let v2 = patched.etag();

    // Metadata is an object, and a patch is one too.
    let not_object = send_json(&a, Method::PUT, &path, "application/json", &json!([1]), &[]).await;
    assert_problem(&not_object, 400);
    let wrong_media = send_json(&a, Method::PATCH, &path, "text/plain", &json!({}), &[]).await;
    assert_problem(&wrong_media, 415);
    assert_problem(&a.get("/users/nobody/metadata").await, 404);
    // Every mint hands the metadata to the policies: it has a size limit.
    let huge = json!({"notes": "x".repeat(70_000)});
    let too_big = send_json(&a, Method::PUT, &path, "application/json", &huge, &[]).await;
    assert_problem(&too_big, 400);
    assert!(too_big.body["detail"].as_str().unwrap().contains("64 KiB"));

    // Two billing events read v2 and write at once, one through each instance.
    let (pro, free) = (json!({"tier": "pro"}), json!({"tier": "free"}));
    let pinned = [("if-match", v2.as_str())];
    let merge = "application/merge-patch+json";
    let (first, second) = tokio::join!(
        send_json(&a, Method::PATCH, &path, merge, &pro, &pinned),
        send_json(&b, Method::PATCH, &path, merge, &free, &pinned),
    );
    let mut statuses = [first.status.as_u16(), second.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{} / {}", first.body, second.body);
    let winner = if first.status == StatusCode::OK {
        &first
    } else {
        &second
    };
    let now = a.get(&path).await;
    assert_eq!(now.body["tier"], winner.body["tier"]);
    assert_eq!(now.etag(), winner.etag());

    // Without If-Match, patches that race are applied one after the other: both land.
    let mut racing = tokio::task::JoinSet::new();
    for n in 0..6 {
        let admin = if n % 2 == 0 { a.clone() } else { b.clone() };
        let path = path.clone();
        racing.spawn(async move {
            let patch = json!({ format!("k{n}"): n });
            send_json(
                &admin,
                Method::PATCH,
                &path,
                "application/merge-patch+json",
                &patch,
                &[],
            )
            .await
        });
    }
    while let Some(r) = racing.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let all = b.get(&path).await.body;
    for n in 0..6 {
        assert_eq!(all[format!("k{n}")], n, "{all}");
    }
}
