//! Signing-key rotation while the server runs (RFC 9068 / RFC 7517: kid-based rotation): the
//! next key was published before it signs, and the old one keeps verifying what it signed.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixtures::*;
use crate::support::*;

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let (status, jwks) = server.get_json("/oauth/jwks").await;
    assert_eq!(status, 200);
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| str_of(k, "kid").to_string())
        .collect()
}

fn kid_of(token: &str) -> String {
    str_of(&jwt_header(token), "kid").to_string()
}

/// `lanyard keys list`: one JSON object per line.
fn key_states(server: &TestServer) -> Vec<(String, String)> {
    server
        .cli_json_lines(&["keys", "list"])
        .iter()
        .map(|v| (str_of(v, "kid").to_string(), str_of(v, "state").to_string()))
        .collect()
}

#[tokio::test]
async fn rotation_while_running_switches_signers_and_keeps_old_tokens_valid() {
    let server = TestServer::spawn_with(&[("LANYARD_KEY_RELOAD_SECS", "1")]).await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let old_kid = kid_of(c.access_token());
    let before = jwks_kids(&server).await;
    assert_eq!(before.len(), 2);
    assert!(before.contains(&old_kid));
    let next_kid = before.iter().find(|k| **k != old_kid).unwrap().clone();

    let rotated = server.cli_json(&["keys", "rotate"]);
    // The key that now signs is the one clients have already cached from JWKS.
    assert_eq!(rotated["signing_kid"], next_kid.as_str());
    let states = key_states(&server);
    assert!(
        states.contains(&(old_kid.clone(), "retired".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(next_kid.clone(), "current".into())),
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|(_, s)| s == "next").count(),
        1,
        "{states:?}"
    );

    // Within LANYARD_KEY_RELOAD_SECS the running server signs with the new key.
    let mut rt = c.refresh_token().to_string();
    let deadline = Instant::now() + Duration::from_secs(8);
    let new_token = loop {
        let (status, body, _) = refresh(&server, &c.client_id, &rt).await;
        assert_eq!(status, 200, "{body}");
        rt = str_of(&body, "refresh_token").to_string();
        let at = str_of(&body, "access_token").to_string();
        if kid_of(&at) == next_kid {
            break at;
        }
        assert!(
            Instant::now() < deadline,
            "still signing with {old_kid} after rotation"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // JWKS: the retired key stays while tokens it signed live; the new next key is there.
    let after = jwks_kids(&server).await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        after.contains(&old_kid) && after.contains(&next_kid),
        "{after:?}"
    );
    // Tokens from before the rotation, and after, both pass.
    assert_eq!(mcp_status(&server, c.access_token()).await, 200);
    assert_eq!(mcp_status(&server, &new_token).await, 200);
}

#[tokio::test]
async fn es256_keys_are_published_and_verify() {
    let server = TestServer::spawn_with(&[("LANYARD_SIGNING_ALG", "ES256")]).await;
    server.add_user(EMAIL);
    let (_, meta) = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    let c = server.connect(EMAIL, None).await;
    let header = jwt_header(c.access_token());
    assert_eq!(header["alg"], "ES256");
    let (_, jwks) = server.get_json("/oauth/jwks").await;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    let mut names: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["alg", "crv", "kid", "kty", "use", "x", "y"],
        "{key}"
    );
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["use"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("sig"))
    );
    let decoding =
        jsonwebtoken::DecodingKey::from_ec_components(str_of(key, "x"), str_of(key, "y")).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_issuer(&[&server.base]);
    v.set_audience(&[server.resource()]);
    jsonwebtoken::decode::<Value>(c.access_token(), &decoding, &v)
        .expect("ES256 signature verifies with the JWKS key");
    assert_eq!(mcp_status(&server, c.access_token()).await, 200);
}
