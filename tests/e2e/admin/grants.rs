//! A user's grants through the admin API: one line per app and resource with its scopes
//! and times; revoking an app through one instance ends its refresh tokens and its access
//! tokens on the other at once, and the user is asked to consent again.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::fixtures::*;

on_both_deployments!(an_apps_access_is_listed_and_revoked_everywhere);

async fn an_apps_access_is_listed_and_revoked_everywhere(d: &Deployment) {
    let a = Admin::new(&d.first, "admin:grants,admin:users").await;
    let b = Admin::with_client(d.second(), a.client_id.clone(), a.secret.clone()).await;
    d.first.add_user(EMAIL);
    let id = user_id(&a, EMAIL).await;
    assert_eq!(a.get(&format!("/users/{id}/grants")).await.body, json!([]));

    let before = unix_now();
    let app = d.first.connect(EMAIL, Some("read write")).await;
    let other = d.first.connect(EMAIL, Some("read")).await;
    let (status, refreshed, _) = refresh(d.second(), &app.client_id, app.refresh_token()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");

    let listed = b.get(&format!("/users/{id}/grants")).await;
    assert_eq!(listed.status, StatusCode::OK);
    let lines = listed.body.as_array().unwrap();
    assert_eq!(lines.len(), 2, "{}", listed.body);
    let line = lines
        .iter()
        .find(|l| l["client_id"] == app.client_id.as_str())
        .expect("the app's line");
    assert_eq!(line["resource"], d.first.resource());
    assert_eq!(line["scopes"], json!(["read", "write"]));
    assert_eq!(line["client_name"], "Test App");
    let granted = line["granted_at"].as_i64().unwrap();
    let used = line["last_used_at"].as_i64().unwrap();
    assert!(
        before <= granted && granted <= used && used <= unix_now(),
        "{line}"
    );

    // Revoked through B: A refuses its refresh token and its access tokens at once.
    let access = str_of(&refreshed, "access_token").to_string();
    assert_eq!(mcp_status(&d.first, &access).await, StatusCode::OK);
    let revoked = b
        .delete(&format!("/users/{id}/grants/{}", app.client_id))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["grants_revoked"].as_u64().unwrap() >= 1);
    assert_eq!(
        mcp_status(&d.first, &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        mcp_status(&d.first, app.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body, _) = refresh(
        &d.first,
        &app.client_id,
        str_of(&refreshed, "refresh_token"),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );

    // The other app is untouched; the revoked one is gone from the list.
    assert_eq!(
        mcp_status(&d.first, other.access_token()).await,
        StatusCode::OK
    );
    let after = a.get(&format!("/users/{id}/grants")).await.body;
    assert_eq!(after.as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after[0]["client_id"], other.client_id.as_str());

    // Nothing left to revoke, or no such user: 404.
    assert_problem(
        &a.delete(&format!("/users/{id}/grants/{}", app.client_id))
            .await,
        404,
    );
    assert_problem(&a.get("/users/nobody/grants").await, 404);

    // The user is asked again before the app gets access again.
    let mut browser = Browser::default();
    let (_, challenge) = pkce();
    let auth = Authorize {
        client_id: &app.client_id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: Some("read"),
        resource: Some(&d.first.resource()),
        state: STATE,
        extra: vec![],
    };
    // Signing in leads to the consent page, not straight back to the app.
    let (_, page) = to_consent(&d.first, &mut browser, &auth.url(&d.first)).await;
    assert!(page.body.contains("decision"), "{}", page.body);
}
