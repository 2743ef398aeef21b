//! `/admin/v1/users`: accounts and their metadata. Metadata answers carry an `ETag`; a
//! `PUT` or `PATCH` with a stale `If-Match` gets 412.

use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use super::problem::{Problem, from_error, refused};
use super::{body, done, no_store, query_number, reply};
use crate::admin::metadata::{self, Metadata, Precondition};
use crate::admin::users::{self as ops, NewUser, UserPage, UserView};
use crate::admin::{AdminResult, Operator};
use crate::http::Req;
use crate::http::response::{Resp, json};

#[utoipa::path(get, path = "/users", tag = "users",
    params(
        ("email" = Option<String>, Query, description = "Only the user with this email (none or one)"),
        ("cursor" = Option<String>, Query, description = "Where a page starts: the previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "Users per page, 1 to 500 (50)"),
    ),
    responses((status = 200, description = "A page of users, in id order", body = UserPage)),
    security(("oauth2" = ["admin:users"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>, req: &Req) -> Resp {
    let q = req.query_params();
    if let Some(email) = q.get("email") {
        let found = ops::by_email(op, email).await.map(|u| UserPage {
            users: u.iter().map(UserView::from).collect(),
            next_cursor: None,
        });
        return reply(StatusCode::OK, found);
    }
    let limit = match query_number(req, "limit") {
        Ok(l) => l,
        Err(r) => return refused(&r),
    };
    reply(StatusCode::OK, ops::list(op, q.get("cursor"), limit).await)
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses(
        (status = 201, description = "The account", body = UserView),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:users"])))]
pub(super) async fn create(op: &Operator<'_>, req: &Req) -> Resp {
    match body::<NewUser>(req, false) {
        Ok(new) => reply(StatusCode::CREATED, ops::create(op, new).await),
        Err(r) => refused(&r),
    }
}

#[utoipa::path(get, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id (its tokens' sub)")),
    responses((status = 200, description = "The account", body = UserView)),
    security(("oauth2" = ["admin:users"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn get(op: &Operator<'_>, id: &str) -> Resp {
    let user = ops::find(op, id).await;
    reply(StatusCode::OK, user.map(|u| UserView::from(&u)))
}

#[utoipa::path(delete, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted, with its consents and grants; its access tokens are refused")),
    security(("oauth2" = ["admin:users"])))]
pub(super) async fn delete(op: &Operator<'_>, id: &str) -> Resp {
    done(ops::delete(op, id).await)
}

#[utoipa::path(post, path = "/users/{id}/disable", tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Disabled: no sign-in, no refresh, every session ended", body = UserView)),
    security(("oauth2" = ["admin:users"])))]
pub(super) async fn disable(op: &Operator<'_>, id: &str) -> Resp {
    reply(StatusCode::OK, ops::set_disabled(op, id, true).await)
}

#[utoipa::path(post, path = "/users/{id}/enable", tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Enabled again", body = UserView)),
    security(("oauth2" = ["admin:users"])))]
pub(super) async fn enable(op: &Operator<'_>, id: &str) -> Resp {
    reply(StatusCode::OK, ops::set_disabled(op, id, false).await)
}

/// The metadata object, with its tag in `ETag`.
fn tagged(result: AdminResult<Metadata>) -> Resp {
    match result {
        Ok(m) => {
            let mut r = no_store(json(StatusCode::OK, &m.value));
            if let Ok(v) = HeaderValue::from_str(m.etag.as_str()) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Err(e) => from_error(&e),
    }
}

fn precondition(req: &Req) -> Precondition {
    Precondition::parse(req.header("if-match"))
}

#[utoipa::path(get, path = "/users/{id}/metadata", tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The metadata object policies read",
        body = HashMap<String, Value>,
        headers(("ETag" = String, description = "The metadata's version, for If-Match")))),
    security(("oauth2" = ["admin:users"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn get_metadata(op: &Operator<'_>, id: &str) -> Resp {
    tagged(metadata::get(op, id).await)
}

#[utoipa::path(put, path = "/users/{id}/metadata", tag = "users",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Write only if the metadata still has this ETag"),
    ),
    request_body(content = HashMap<String, Value>, description = "The new metadata object"),
    responses(
        (status = 200, description = "The metadata now", body = HashMap<String, Value>,
            headers(("ETag" = String, description = "The new version"))),
        (status = 412, description = "If-Match names an older version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:users"])))]
pub(super) async fn put_metadata(op: &Operator<'_>, req: &Req, id: &str) -> Resp {
    match body::<Value>(req, false) {
        Ok(value) => tagged(metadata::put(op, id, value, &precondition(req)).await),
        Err(r) => refused(&r),
    }
}

#[utoipa::path(patch, path = "/users/{id}/metadata", tag = "users",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the metadata still has this ETag"),
    ),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json",
        description = "An RFC 7396 merge patch: members set to null are removed"),
    responses(
        (status = 200, description = "The metadata now", body = HashMap<String, Value>,
            headers(("ETag" = String, description = "The new version"))),
        (status = 409, description = "The metadata kept changing under this patch", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names an older version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin:users"])))]
pub(super) async fn patch_metadata(op: &Operator<'_>, req: &Req, id: &str) -> Resp {
    match body::<Value>(req, true) {
        Ok(patch) => tagged(metadata::patch(op, id, patch, &precondition(req)).await),
        Err(r) => refused(&r),
    }
}
