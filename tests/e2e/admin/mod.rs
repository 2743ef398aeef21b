//! The admin API (`/admin/v1` on the admin listener), end to end over HTTP. Every answer
//! goes through [`crate::support::Admin`], which checks it against the server's OpenAPI
//! document. Stories that change state run on the embedded store and on two instances
//! sharing Postgres and Redis, where a change made through one is read through the other.
//!
//! - `access`: who may call it (tokens, scopes, clients), and the document itself.
//! - `users`: accounts: create, find, page through, disable, delete.
//! - `metadata`: ETags, `If-Match`, merge patches, and two billing events racing.
//! - `grants`: a user's apps, and revoking one everywhere at once.
//! - `clients`: registering, changing, rotating a secret, deleting.
//! - `keys`: listing and rotating signing keys.
//! - `policies`: versions pushed, activated and rolled back; the decision log.
//! - `audit`: every change, from the API and the CLI, in one log.

mod access;
mod audit;
mod clients;
mod grants;
mod keys;
mod metadata;
mod policies;
mod users;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

/// Every admin scope.
pub const ALL_SCOPES: &str =
    "admin:users,admin:clients,admin:grants,admin:keys,admin:policies,admin:read";

/// Asserts a problem detail of this status (the document check has seen its shape).
pub fn assert_problem(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["status"], status, "{}", answer.body);
    assert!(
        answer.body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:lanyard:problem:")),
        "{}",
        answer.body
    );
}

/// A JSON body with an explicit media type (merge patches, and wrong ones).
pub async fn send_json(
    admin: &Admin,
    method: Method,
    path: &str,
    media: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap();
    admin
        .send(method, path, Some((media, bytes)), headers)
        .await
}

/// The id of the user with this email, through the API.
pub async fn user_id(admin: &Admin, email: &str) -> String {
    let found = admin.get(&format!("/users?email={email}")).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    found.body["users"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no user {email}: {}", found.body))
        .to_string()
}
