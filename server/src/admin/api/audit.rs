//! `/admin/v1/audit`: every admin change, newest first.

use http::StatusCode;

use super::problem::refused;
use super::{query_number, reply};
use crate::admin::Operator;
use crate::admin::audit::{self as ops, AuditPage};
use crate::http::Req;
use crate::http::response::Resp;

#[utoipa::path(get, path = "/audit", tag = "audit",
    params(
        ("before" = Option<String>, Query, description = "Where a page starts: the previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "Entries per page, 1 to 500 (50)"),
    ),
    responses((status = 200, description = "A page of the audit log, newest first", body = AuditPage)),
    security(("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>, req: &Req) -> Resp {
    match query_number(req, "limit") {
        Ok(limit) => reply(
            StatusCode::OK,
            ops::list(op, req.query_params().get("before"), limit).await,
        ),
        Err(r) => refused(&r),
    }
}
