//! `/admin/v1/policies`: the bound policies and their versions; pushing a module
//! (`application/wasm`), activating a version, rolling back.

use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::problem::{Problem, Refusal, refused};
use super::{body, reply};
use crate::admin::Operator;
use crate::admin::policies::{self as ops, Activated, PolicyView};
use crate::http::Req;
use crate::http::response::Resp;

/// Which version to make active.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    /// A digest from the policy's versions.
    pub digest: String,
}

#[utoipa::path(get, path = "/policies", tag = "policies",
    responses(
        (status = 200, description = "Each bound policy with its versions", body = Vec<PolicyView>),
        (status = 409, description = "The embedded store keeps no versions", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:policies"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>) -> Resp {
    reply(StatusCode::OK, ops::list(op).await)
}

#[utoipa::path(post, path = "/policies/{name}/versions", tag = "policies",
    params(("name" = String, Path, description = "A policy name lanyard.toml binds")),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The compiled policy component"),
    responses(
        (status = 201, description = "Kept, and active on every instance", body = Activated),
        (status = 409, description = "The embedded store keeps no versions", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as application/wasm", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Does not compile, or does not match the policy world", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:policies"])))]
pub(super) async fn push(op: &Operator<'_>, req: &Req, name: &str) -> Resp {
    let media = req
        .header("content-type")
        .map(|v| v.split(';').next().unwrap_or("").trim());
    if !media.is_some_and(|m| m.eq_ignore_ascii_case("application/wasm")) {
        return refused(&Refusal::UnsupportedMediaType("application/wasm"));
    }
    reply(
        StatusCode::CREATED,
        ops::push(op, name, req.body.to_vec()).await,
    )
}

#[utoipa::path(post, path = "/policies/{name}/activate", tag = "policies", request_body = Activate,
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "Active on every instance", body = Activated),
        (status = 409, description = "The embedded store keeps no versions", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:policies"])))]
pub(super) async fn activate(op: &Operator<'_>, req: &Req, name: &str) -> Resp {
    match body::<Activate>(req, false) {
        Ok(a) => reply(StatusCode::OK, ops::activate(op, name, &a.digest).await),
        Err(r) => refused(&r),
    }
}

#[utoipa::path(post, path = "/policies/{name}/rollback", tag = "policies",
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "The version before the active one is active again", body = Activated),
        (status = 409, description = "No earlier version, or the embedded store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:policies"])))]
pub(super) async fn rollback(op: &Operator<'_>, name: &str) -> Resp {
    reply(StatusCode::OK, ops::rollback(op, name).await)
}
