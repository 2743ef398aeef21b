//! The refresh-token grant: rotation for public clients with reuse detection and a short
//! grace window for racing clients (OAuth 2.1 §4.3.1, RFC 9700 §4.14, checklist §6.10),
//! scope narrowing (RFC 6749 §6) and resource binding (RFC 8707).

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::*;

fn invalid_grant(description: &str) -> Value {
    json!({"error": "invalid_grant", "error_description": description})
}

const REVOKED: &str = "refresh token is invalid, expired or revoked";

/// A refresh that must succeed; returns the new token response.
async fn refreshed(server: &TestServer, client_id: &str, rt: &str) -> Value {
    let (status, body, _) = refresh(server, client_id, rt).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn refresh_rotates_and_answers_in_the_exact_shape() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, Some("openid read write")).await;
    let (status, body, headers) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
    assert_no_store(&headers);
    let (at, rt) = (
        str_of(&body, "access_token"),
        str_of(&body, "refresh_token"),
    );
    // A new refresh token every time; no second ID token.
    assert_eq!(
        body,
        json!({"access_token": at, "token_type": "Bearer", "expires_in": 900, "refresh_token": rt, "scope": "openid read write"})
    );
    assert_ne!(rt, c.refresh_token());
    assert_ne!(at, c.access_token());
    let claims = jwt_claims(at);
    assert_eq!(claims["scope"], "openid read write");
    assert_eq!(claims["aud"], server.resource());
    assert_eq!(claims["sub"], jwt_claims(c.access_token())["sub"]);
    assert_ne!(claims["jti"], jwt_claims(c.access_token())["jti"]);
    assert_eq!(mcp_status(&server, at).await, 200);
    // The successor rotates in turn.
    let next = refreshed(&server, &c.client_id, rt).await;
    assert_ne!(next["refresh_token"], body["refresh_token"]);
}

#[tokio::test]
async fn with_no_grace_an_immediate_reuse_revokes_the_whole_family() {
    let server = TestServer::spawn_with(&[("LANYARD_REFRESH_GRACE", "0")]).await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let next = refreshed(&server, &c.client_id, c.refresh_token()).await;
    let (new_at, new_rt) = (
        str_of(&next, "access_token"),
        str_of(&next, "refresh_token"),
    );

    // RFC 9700 §4.14.2: a replayed refresh token means one copy is stolen.
    assert_oauth_error(
        refresh(&server, &c.client_id, c.refresh_token()).await,
        400,
        invalid_grant("refresh token was already used; the grant is revoked"),
    );
    // Both the old and the new refresh token are dead, and so are the access tokens.
    let (status, body, _) = refresh(&server, &c.client_id, new_rt).await;
    assert_eq!((status.as_u16(), body), (400, invalid_grant(REVOKED)));
    let (status, body, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!((status.as_u16(), body), (400, invalid_grant(REVOKED)));
    assert_eq!(mcp_status(&server, new_at).await, 401);
    assert_eq!(mcp_status(&server, c.access_token()).await, 401);
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_family() {
    let server = TestServer::spawn_with(&[("LANYARD_REFRESH_GRACE", "1")]).await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let next = refreshed(&server, &c.client_id, c.refresh_token()).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            invalid_grant("refresh token was already used; the grant is revoked")
        )
    );
    let (status, body, _) = refresh(&server, &c.client_id, str_of(&next, "refresh_token")).await;
    assert_eq!((status.as_u16(), body), (400, invalid_grant(REVOKED)));
    assert_eq!(
        mcp_status(&server, str_of(&next, "access_token")).await,
        401
    );
}

#[tokio::test]
async fn two_racing_refreshes_within_the_grace_window_both_succeed() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    // Claude Code refreshes from several processes at once (claude-code#59460): two
    // refreshes with one token must not log the user out.
    let (a, b) = tokio::join!(
        refresh(&server, &c.client_id, c.refresh_token()),
        refresh(&server, &c.client_id, c.refresh_token())
    );
    assert_eq!(a.0, 200, "{}", a.1);
    assert_eq!(b.0, 200, "{}", b.1);
    // The family never forks: both get the same successor.
    assert_eq!(str_of(&a.1, "refresh_token"), str_of(&b.1, "refresh_token"));
    for successor in [&a.1, &b.1] {
        assert_eq!(
            mcp_status(&server, str_of(successor, "access_token")).await,
            200
        );
        let next = refreshed(&server, &c.client_id, str_of(successor, "refresh_token")).await;
        assert_eq!(
            mcp_status(&server, str_of(&next, "access_token")).await,
            200
        );
    }
    // A sequential retry inside the window works too (a client that lost the response).
    let again = refreshed(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!(
        mcp_status(&server, str_of(&again, "access_token")).await,
        200
    );
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_but_never_widen_it() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, Some("read write")).await;
    // RFC 6749 §6: widening is invalid_scope, and the token stays usable.
    for wider in ["read write email", "admin", "read write offline_access"] {
        let (status, body, headers) = server
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", c.refresh_token()),
                ("client_id", &c.client_id),
                ("scope", wider),
            ])
            .await;
        assert_eq!(
            (status.as_u16(), body),
            (
                400,
                json!({"error": "invalid_scope", "error_description": "scope exceeds what was granted"})
            ),
            "{wider}"
        );
        assert_no_store(&headers);
    }
    let (status, narrowed, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.refresh_token()),
            ("client_id", &c.client_id),
            ("scope", "read"),
        ])
        .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "read");
    assert_eq!(
        jwt_claims(str_of(&narrowed, "access_token"))["scope"],
        "read"
    );
    // Narrowing one access token does not shrink the grant (RFC 6749 §6).
    let full = refreshed(&server, &c.client_id, str_of(&narrowed, "refresh_token")).await;
    assert_eq!(full["scope"], "read write");
}

#[tokio::test]
async fn a_refresh_token_works_only_for_its_own_client_and_resource() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let thief = server.register_client(REDIRECT).await;
    let (status, body, _) = refresh(&server, str_of(&thief, "client_id"), c.refresh_token()).await;
    // RFC 6749 §6: the refresh token is bound to the client it was issued to.
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            invalid_grant("refresh token was issued to another client")
        )
    );

    // RFC 8707 §2.2: a refresh may not move the grant to another resource.
    let (status, body, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.refresh_token()),
            ("client_id", &c.client_id),
            ("resource", "https://other.example/mcp"),
        ])
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"error": "invalid_target", "error_description": "resource is not the one this grant was made for"})
        )
    );

    // Without resource the grant's own is used, trailing slash or not with it.
    let (status, body, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.refresh_token()),
            ("client_id", &c.client_id),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(str_of(&body, "access_token"))["aud"],
        server.resource()
    );
    let slashed = format!("{}/", server.resource());
    let (status, body, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&body, "refresh_token")),
            ("client_id", &c.client_id),
            ("resource", &slashed),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_invalid_grant() {
    let server = TestServer::spawn_with(&[("LANYARD_REFRESH_TOKEN_TTL", "1")]).await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let (status, body, _) = refresh(&server, &c.client_id, "not-a-refresh-token").await;
    assert_eq!((status.as_u16(), body), (400, invalid_grant(REVOKED)));
    // An access token is not a refresh token.
    let (status, body, _) = refresh(&server, &c.client_id, c.access_token()).await;
    assert_eq!((status.as_u16(), body), (400, invalid_grant(REVOKED)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body, _) = refresh(&server, &c.client_id, c.refresh_token()).await;
    assert_eq!((status.as_u16(), body), (400, invalid_grant(REVOKED)));
}

/// A thief racing the client within the grace window gets only what the client got, and
/// once the window is over, using that token a second time is a replay: the family goes.
#[tokio::test]
async fn a_raced_token_gives_nothing_new_and_a_late_divergent_use_revokes_the_family() {
    let server = TestServer::spawn_with(&[("LANYARD_REFRESH_GRACE", "1")]).await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let client = refreshed(&server, &c.client_id, c.refresh_token()).await;
    let thief = refreshed(&server, &c.client_id, c.refresh_token()).await;
    let successor = str_of(&client, "refresh_token");
    assert_eq!(str_of(&thief, "refresh_token"), successor);

    let next = refreshed(&server, &c.client_id, successor).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, body, _) = refresh(&server, &c.client_id, successor).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "refresh token was already used; the grant is revoked"})
    );
    let (status, _, _) = refresh(&server, &c.client_id, str_of(&next, "refresh_token")).await;
    assert_eq!(status, 400, "the family is revoked");
}
