//! Throttles an attacker cannot turn against users: per-address limits that follow the
//! client behind a trusted proxy, and sign-in lockouts that hold the guesser's address,
//! not the account.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// One sign-in from `from` (as a trusted proxy forwards it): a fresh page, then the form.
pub async fn sign_in(server: &TestServer, from: &str, email: &str, password: &str) -> StatusCode {
    let http = client();
    let page = http
        .get(server.url("/login"))
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = hidden(&page.text().await.unwrap(), "csrf_token").expect("csrf");
    http.post(server.url("/login"))
        .header("x-forwarded-for", from)
        .header("cookie", cookie)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

async fn register_from(server: &TestServer, from: &str) -> reqwest::Response {
    client()
        .post(server.url("/oauth/register"))
        .header("x-forwarded-for", from)
        .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "Probe"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn per_address_limits_answer_429_and_follow_the_client_behind_a_trusted_proxy() {
    let limited = [("LANYARD_RATE_REGISTER_PER_MIN", "3")];
    let server = TestServer::spawn_with(
        &[&limited[..], &[("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32")]].concat(),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(register_from(&server, "203.0.113.5").await.status(), 201);
    }
    let r = register_from(&server, "203.0.113.5").await;
    assert_eq!(r.status(), 429);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "temporarily_unavailable", "error_description": "too many requests from this address; retry later"})
    );
    // Another client behind the same proxy has its own count.
    assert_eq!(register_from(&server, "203.0.113.6").await.status(), 201);

    // Without a trusted proxy the header is the client's own word, and is ignored: every
    // request counts against the peer.
    let server = TestServer::spawn_with(&limited).await;
    for n in 0..3 {
        let r = register_from(&server, &format!("198.51.100.{n}")).await;
        assert_eq!(r.status(), 201);
    }
    assert_eq!(register_from(&server, "198.51.100.9").await.status(), 429);
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_owner_out() {
    let server = TestServer::spawn_with(&[("LANYARD_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    server.add_user("ada@example.com");
    let (attacker, owner) = ("203.0.113.66", "198.51.100.7");
    for _ in 0..10 {
        let status = sign_in(&server, attacker, "ada@example.com", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's address is locked out of the account, even with the right password.
    let status = sign_in(&server, attacker, "ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The owner, from elsewhere, signs in.
    let status = sign_in(&server, owner, "ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}
