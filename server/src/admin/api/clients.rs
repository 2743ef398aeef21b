//! `/admin/v1/clients`: registering, reading, changing and deleting clients, and replacing
//! a client's secret.

use http::StatusCode;

use super::problem::refused;
use super::{body, done, reply};
use crate::admin::Operator;
use crate::admin::clients::{self as ops, ClientUpdate, ClientView, ClientWithSecret, NewClient};
use crate::http::Req;
use crate::http::response::Resp;

#[utoipa::path(get, path = "/clients", tag = "clients",
    responses((status = 200, description = "Every registered client", body = Vec<ClientView>)),
    security(("oauth2" = ["admin:clients"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn list(op: &Operator<'_>) -> Resp {
    reply(StatusCode::OK, ops::list(op).await)
}

#[utoipa::path(post, path = "/clients", tag = "clients", request_body = NewClient,
    responses((status = 201, description = "The client, and its secret (shown this once)", body = ClientWithSecret)),
    security(("oauth2" = ["admin:clients"])))]
pub(super) async fn create(op: &Operator<'_>, req: &Req) -> Resp {
    match body::<NewClient>(req, false) {
        Ok(new) => reply(StatusCode::CREATED, ops::create(op, new).await),
        Err(r) => refused(&r),
    }
}

#[utoipa::path(get, path = "/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The client", body = ClientView)),
    security(("oauth2" = ["admin:clients"]), ("oauth2" = ["admin:read"])))]
pub(super) async fn get(op: &Operator<'_>, id: &str) -> Resp {
    reply(StatusCode::OK, ops::get(op, id).await)
}

#[utoipa::path(patch, path = "/clients/{id}", tag = "clients", request_body = ClientUpdate,
    params(("id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The client now", body = ClientView)),
    security(("oauth2" = ["admin:clients"])))]
pub(super) async fn update(op: &Operator<'_>, req: &Req, id: &str) -> Resp {
    match body::<ClientUpdate>(req, false) {
        Ok(change) => reply(StatusCode::OK, ops::update(op, id, change).await),
        Err(r) => refused(&r),
    }
}

#[utoipa::path(delete, path = "/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "The client's id")),
    responses((status = 204, description = "Deleted, with everything granted to it")),
    security(("oauth2" = ["admin:clients"])))]
pub(super) async fn delete(op: &Operator<'_>, id: &str) -> Resp {
    done(ops::delete(op, id).await)
}

#[utoipa::path(post, path = "/clients/{id}/secret", tag = "clients",
    params(("id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The new secret (shown this once); the old one no longer works", body = ClientWithSecret)),
    security(("oauth2" = ["admin:clients"])))]
pub(super) async fn rotate_secret(op: &Operator<'_>, id: &str) -> Resp {
    reply(StatusCode::OK, ops::rotate_secret(op, id).await)
}
