//! Signing keys through the admin API: the published ones with their states, and a
//! rotation through one instance that both instances sign with at once.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::fixtures::*;

on_both_deployments!(keys_are_listed_and_rotated_everywhere);

async fn keys_are_listed_and_rotated_everywhere(d: &Deployment) {
    let a = Admin::new(&d.first, "admin:keys").await;
    let keys = a.get("/keys").await.body;
    let state = |keys: &serde_json::Value, s: &str| -> Vec<String> {
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["state"] == s)
            .map(|k| str_of(k, "kid").to_string())
            .collect()
    };
    let (current, next) = (state(&keys, "current"), state(&keys, "next"));
    assert_eq!((current.len(), next.len()), (1, 1), "{keys}");

    let rotated = a.post("/keys/rotate", json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(rotated.body["signing_kid"], next[0].as_str());
    let after = a.get("/keys").await.body;
    assert_eq!(state(&after, "current"), next);
    assert_eq!(state(&after, "retired"), current);

    // Both instances sign with the new key from now on.
    d.first.add_user(EMAIL);
    for server in [&d.first, d.second()] {
        let mut kid = String::new();
        for _ in 0..50 {
            let app = server.connect(EMAIL, None).await;
            kid = str_of(&jwt_header(app.access_token()), "kid").to_string();
            if kid == next[0] {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(kid, next[0]);
    }
}
