//! `/admin/v1/users/{id}/grants`: what a user allowed, and revoking a client's access.

use http::StatusCode;

use super::reply;
use crate::admin::Operator;
use crate::admin::grants::{self as ops, GrantView, Revoked};
use crate::http::response::Resp;

#[utoipa::path(get, path = "/users/{id}/grants", tag = "grants",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "One line per client and resource", body = Vec<GrantView>)),
    security(("oauth2" = ["admin:grants"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>, id: &str) -> Resp {
    reply(StatusCode::OK, ops::list(op, id).await)
}

#[utoipa::path(delete, path = "/users/{id}/grants/{client_id}", tag = "grants",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("client_id" = String, Path, description = "The client's id (percent-encoded when it is a URL)"),
    ),
    responses((status = 200, description = "Revoked on every instance: consents, refresh-token families, their access tokens", body = Revoked)),
    security(("oauth2" = ["admin:grants"])))]
pub(super) async fn revoke(op: &Operator<'_>, id: &str, client_id: &str) -> Resp {
    reply(StatusCode::OK, ops::revoke(op, id, client_id).await)
}
