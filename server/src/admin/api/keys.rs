//! `/admin/v1/keys`: the signing keys, and rotating them.

use http::StatusCode;

use super::reply;
use crate::admin::Operator;
use crate::admin::keys::{self as ops, KeyView, Rotated};
use crate::http::response::Resp;

#[utoipa::path(get, path = "/keys", tag = "keys",
    responses((status = 200, description = "The published signing keys", body = Vec<KeyView>)),
    security(("oauth2" = ["admin:keys"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>) -> Resp {
    reply(StatusCode::OK, ops::list(op).await)
}

#[utoipa::path(post, path = "/keys/rotate", tag = "keys",
    responses((status = 200, description = "The next key signs now; a new next key is published", body = Rotated)),
    security(("oauth2" = ["admin:keys"])))]
pub(super) async fn rotate(op: &Operator<'_>) -> Resp {
    reply(StatusCode::OK, ops::rotate(op).await)
}
