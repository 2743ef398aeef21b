//! `/admin/v1/decisions`: what the policies decided at a mint, by token or by user.

use http::StatusCode;

use super::problem::{Refusal, refused};
use super::{query_number, reply};
use crate::admin::Operator;
use crate::admin::decisions::{self as ops, DecisionView};
use crate::http::Req;
use crate::http::response::Resp;

#[utoipa::path(get, path = "/decisions", tag = "decisions",
    params(
        ("user" = String, Query, description = "The user's id"),
        ("from" = Option<i64>, Query, description = "Unix seconds (a day before `to` when absent)"),
        ("to" = Option<i64>, Query, description = "Unix seconds (now when absent)"),
        ("limit" = Option<u32>, Query, description = "At most this many, 1 to 500 (50)"),
    ),
    responses((status = 200, description = "The user's decisions in the range, newest first", body = Vec<DecisionView>)),
    security(("oauth2" = ["admin:policies"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>, req: &Req) -> Resp {
    let Some(user) = req.query_params().get("user").map(str::to_string) else {
        return refused(&Refusal::Invalid("user: required".into()));
    };
    let (from, to, limit) = match (
        query_number(req, "from"),
        query_number(req, "to"),
        query_number(req, "limit"),
    ) {
        (Ok(f), Ok(t), Ok(l)) => (f, t, l),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return refused(&r),
    };
    reply(
        StatusCode::OK,
        ops::for_user(op, &user, from, to, limit).await,
    )
}

#[utoipa::path(get, path = "/decisions/{jti}", tag = "decisions",
    params(
        ("jti" = String, Path, description = "The access token's jti"),
        ("iat" = Option<i64>, Query, description = "The token's iat: finds the entry without searching the whole log"),
    ),
    responses((status = 200, description = "The mint's decisions", body = DecisionView)),
    security(("oauth2" = ["admin:policies"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn get(op: &Operator<'_>, req: &Req, jti: &str) -> Resp {
    match query_number(req, "iat") {
        Ok(iat) => reply(StatusCode::OK, ops::by_jti(op, jti, iat).await),
        Err(r) => refused(&r),
    }
}
