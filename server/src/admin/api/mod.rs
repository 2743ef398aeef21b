//! The admin HTTP API, under `/admin/v1` on the admin listener: JSON in and out, errors as
//! problem details ([`problem`]), callers authenticated by a bearer token Lanyard minted by
//! client credentials for `<issuer>/admin` ([`auth`]). Each route reads its request, calls
//! the one operation in [`crate::admin`] that the CLI calls too, and writes the answer;
//! `GET /admin/v1/openapi.json` describes them all ([`openapi`]).

mod audit;
mod auth;
mod clients;
mod decisions;
mod grants;
mod keys;
mod openapi;
mod policies;
pub mod problem;
mod route;
mod users;

use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::problem::{Refusal, from_error, refused};
use self::route::Route;
use super::{AdminResult, Operator};
use crate::app::App;
use crate::http::Req;
use crate::http::response::{Resp, json};
use crate::store::Actor;

/// Where the API lives on the admin listener.
pub const BASE: &str = "/admin/v1";

/// Serves a request whose path starts with [`BASE`].
pub async fn handle(app: &App, req: &Req) -> Resp {
    let path = req.path.strip_prefix(BASE).unwrap_or_default();
    if path == "/openapi.json" {
        return match req.method {
            Method::GET | Method::HEAD => openapi::serve(app),
            _ => refused(&Refusal::MethodNotAllowed("GET")),
        };
    }
    let route = match Route::of(&req.method, path) {
        Ok(r) => r,
        Err(r) => return refused(&r),
    };
    let caller = match auth::caller(app, req).await {
        Ok(c) => c,
        Err(r) => return refused(&r),
    };
    if let Err(r) = caller.may(route.needs()) {
        return refused(&r);
    }
    let op = Operator::of(app, Actor::Client(caller.client_id), Some(req.id.clone()));
    route.run(&op, req).await
}

/// A JSON answer, or the problem the operation ran into.
fn reply<T: Serialize>(status: StatusCode, result: AdminResult<T>) -> Resp {
    match result {
        Ok(body) => no_store(json(status, &body)),
        Err(e) => from_error(&e),
    }
}

/// `204 No Content`, or the problem.
fn done(result: AdminResult<()>) -> Resp {
    match result {
        Ok(()) => {
            let mut r = Resp::new(Default::default());
            *r.status_mut() = StatusCode::NO_CONTENT;
            no_store(r)
        }
        Err(e) => from_error(&e),
    }
}

/// Admin answers name users and hold secrets: no cache keeps them.
fn no_store(mut r: Resp) -> Resp {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The request's JSON body as `T`. The media type must be JSON (`application/json`, or
/// `merge` for a merge patch, which may also come as plain JSON).
fn body<T: DeserializeOwned>(req: &Req, merge: bool) -> Result<T, Refusal> {
    let media = req
        .header("content-type")
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let ok = match media.as_deref() {
        Some("application/json") => true,
        Some("application/merge-patch+json") => merge,
        _ => false,
    };
    if !ok {
        return Err(Refusal::UnsupportedMediaType(if merge {
            "application/merge-patch+json"
        } else {
            "application/json"
        }));
    }
    serde_json::from_slice(&req.body).map_err(|e| Refusal::Invalid(format!("request body: {e}")))
}

/// A numeric query parameter, if given.
fn query_number<T: std::str::FromStr>(req: &Req, name: &str) -> Result<Option<T>, Refusal> {
    match req.query_params().get(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Refusal::Invalid(format!("{name}: not a number"))),
    }
}
