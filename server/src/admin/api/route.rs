//! The admin API's routes: a path and method to one handler, with the scope it needs.
//! Path segments are percent-decoded (a client id may be a URL).

use http::Method;
use percent_encoding::percent_decode_str;

use super::problem::Refusal;
use super::{audit, clients, decisions, grants, keys, policies, users};
use crate::admin::Operator;
use crate::domain::AdminScope;
use crate::http::Req;
use crate::http::response::Resp;

/// What a route needs: its area's scope, which `admin:read` stands in for on reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub area: AdminScope,
    pub write: bool,
}

#[derive(Debug)]
pub enum Route {
    ListUsers,
    CreateUser,
    GetUser(String),
    DeleteUser(String),
    DisableUser(String),
    EnableUser(String),
    GetMetadata(String),
    PutMetadata(String),
    PatchMetadata(String),
    ListGrants(String),
    RevokeGrant(String, String),
    ListClients,
    CreateClient,
    GetClient(String),
    UpdateClient(String),
    DeleteClient(String),
    RotateSecret(String),
    ListKeys,
    RotateKeys,
    ListPolicies,
    PushPolicy(String),
    ActivatePolicy(String),
    RollbackPolicy(String),
    ListDecisions,
    GetDecision(String),
    ListAudit,
}

impl Route {
    /// The route for `method` and `path` (below `/admin/v1`): 404 for a path the API does
    /// not have, 405 for a method the path does not take.
    pub fn of(method: &Method, path: &str) -> Result<Self, Refusal> {
        let segments: Vec<String> = path
            .strip_prefix('/')
            .ok_or(Refusal::NoSuchPath)?
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8().map(|s| s.into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|_| Refusal::NoSuchPath)?;
        if segments.iter().any(String::is_empty) {
            return Err(Refusal::NoSuchPath);
        }
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let m = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let id = |i: usize| s[i].to_string();
        use Method as M;
        let (allow, route) = match s.as_slice() {
            ["users"] => (
                "GET, POST",
                match *m {
                    M::GET => Some(Self::ListUsers),
                    M::POST => Some(Self::CreateUser),
                    _ => None,
                },
            ),
            ["users", _] => (
                "GET, DELETE",
                match *m {
                    M::GET => Some(Self::GetUser(id(1))),
                    M::DELETE => Some(Self::DeleteUser(id(1))),
                    _ => None,
                },
            ),
            ["users", _, "disable"] => ("POST", (*m == M::POST).then(|| Self::DisableUser(id(1)))),
            ["users", _, "enable"] => ("POST", (*m == M::POST).then(|| Self::EnableUser(id(1)))),
            ["users", _, "metadata"] => (
                "GET, PUT, PATCH",
                match *m {
                    M::GET => Some(Self::GetMetadata(id(1))),
                    M::PUT => Some(Self::PutMetadata(id(1))),
                    M::PATCH => Some(Self::PatchMetadata(id(1))),
                    _ => None,
                },
            ),
            ["users", _, "grants"] => ("GET", (*m == M::GET).then(|| Self::ListGrants(id(1)))),
            ["users", _, "grants", _] => (
                "DELETE",
                (*m == M::DELETE).then(|| Self::RevokeGrant(id(1), id(3))),
            ),
            ["clients"] => (
                "GET, POST",
                match *m {
                    M::GET => Some(Self::ListClients),
                    M::POST => Some(Self::CreateClient),
                    _ => None,
                },
            ),
            ["clients", _] => (
                "GET, PATCH, DELETE",
                match *m {
                    M::GET => Some(Self::GetClient(id(1))),
                    M::PATCH => Some(Self::UpdateClient(id(1))),
                    M::DELETE => Some(Self::DeleteClient(id(1))),
                    _ => None,
                },
            ),
            ["clients", _, "secret"] => {
                ("POST", (*m == M::POST).then(|| Self::RotateSecret(id(1))))
            }
            ["keys"] => ("GET", (*m == M::GET).then_some(Self::ListKeys)),
            ["keys", "rotate"] => ("POST", (*m == M::POST).then_some(Self::RotateKeys)),
            ["policies"] => ("GET", (*m == M::GET).then_some(Self::ListPolicies)),
            ["policies", _, "versions"] => {
                ("POST", (*m == M::POST).then(|| Self::PushPolicy(id(1))))
            }
            ["policies", _, "activate"] => {
                ("POST", (*m == M::POST).then(|| Self::ActivatePolicy(id(1))))
            }
            ["policies", _, "rollback"] => {
                ("POST", (*m == M::POST).then(|| Self::RollbackPolicy(id(1))))
            }
            ["decisions"] => ("GET", (*m == M::GET).then_some(Self::ListDecisions)),
            ["decisions", _] => ("GET", (*m == M::GET).then(|| Self::GetDecision(id(1)))),
            ["audit"] => ("GET", (*m == M::GET).then_some(Self::ListAudit)),
            _ => return Err(Refusal::NoSuchPath),
        };
        route.ok_or(Refusal::MethodNotAllowed(allow))
    }

    pub fn needs(&self) -> Needs {
        use AdminScope as A;
        let (area, write) = match self {
            Self::ListUsers | Self::GetUser(_) | Self::GetMetadata(_) => (A::Users, false),
            Self::CreateUser
            | Self::DeleteUser(_)
            | Self::DisableUser(_)
            | Self::EnableUser(_)
            | Self::PutMetadata(_)
            | Self::PatchMetadata(_) => (A::Users, true),
            Self::ListGrants(_) => (A::Grants, false),
            Self::RevokeGrant(..) => (A::Grants, true),
            Self::ListClients | Self::GetClient(_) => (A::Clients, false),
            Self::CreateClient
            | Self::UpdateClient(_)
            | Self::DeleteClient(_)
            | Self::RotateSecret(_) => (A::Clients, true),
            Self::ListKeys => (A::Keys, false),
            Self::RotateKeys => (A::Keys, true),
            Self::ListPolicies | Self::ListDecisions | Self::GetDecision(_) => (A::Policies, false),
            Self::PushPolicy(_) | Self::ActivatePolicy(_) | Self::RollbackPolicy(_) => {
                (A::Policies, true)
            }
            Self::ListAudit => (A::Read, false),
        };
        Needs { area, write }
    }

    pub async fn run(self, op: &Operator<'_>, req: &Req) -> Resp {
        match self {
            Self::ListUsers => users::list(op, req).await,
            Self::CreateUser => users::create(op, req).await,
            Self::GetUser(id) => users::get(op, &id).await,
            Self::DeleteUser(id) => users::delete(op, &id).await,
            Self::DisableUser(id) => users::disable(op, &id).await,
            Self::EnableUser(id) => users::enable(op, &id).await,
            Self::GetMetadata(id) => users::get_metadata(op, &id).await,
            Self::PutMetadata(id) => users::put_metadata(op, req, &id).await,
            Self::PatchMetadata(id) => users::patch_metadata(op, req, &id).await,
            Self::ListGrants(id) => grants::list(op, &id).await,
            Self::RevokeGrant(id, client) => grants::revoke(op, &id, &client).await,
            Self::ListClients => clients::list(op).await,
            Self::CreateClient => clients::create(op, req).await,
            Self::GetClient(id) => clients::get(op, &id).await,
            Self::UpdateClient(id) => clients::update(op, req, &id).await,
            Self::DeleteClient(id) => clients::delete(op, &id).await,
            Self::RotateSecret(id) => clients::rotate_secret(op, &id).await,
            Self::ListKeys => keys::list(op).await,
            Self::RotateKeys => keys::rotate(op).await,
            Self::ListPolicies => policies::list(op).await,
            Self::PushPolicy(name) => policies::push(op, req, &name).await,
            Self::ActivatePolicy(name) => policies::activate(op, req, &name).await,
            Self::RollbackPolicy(name) => policies::rollback(op, &name).await,
            Self::ListDecisions => decisions::list(op, req).await,
            Self::GetDecision(jti) => decisions::get(op, req, &jti).await,
            Self::ListAudit => audit::list(op, req).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods_resolve() {
        let route = |m: Method, p: &str| Route::of(&m, p);
        assert!(matches!(route(Method::GET, "/users"), Ok(Route::ListUsers)));
        assert!(matches!(
            route(Method::PATCH, "/users/u1/metadata"),
            Ok(Route::PatchMetadata(id)) if id == "u1"
        ));
        assert!(matches!(
            route(Method::DELETE, "/users/u1/grants/https%3A%2F%2Fapp.example%2Fc"),
            Ok(Route::RevokeGrant(u, c)) if u == "u1" && c == "https://app.example/c"
        ));
        assert!(matches!(
            route(Method::PUT, "/users"),
            Err(Refusal::MethodNotAllowed("GET, POST"))
        ));
        assert!(matches!(
            route(Method::GET, "/users/"),
            Err(Refusal::NoSuchPath)
        ));
        assert!(matches!(
            route(Method::GET, "/nothing"),
            Err(Refusal::NoSuchPath)
        ));
        assert!(matches!(
            route(Method::GET, "users"),
            Err(Refusal::NoSuchPath)
        ));
        assert!(matches!(
            route(Method::GET, "/users/%FF"),
            Err(Refusal::NoSuchPath)
        ));
        assert_eq!(
            Route::ListAudit.needs(),
            Needs {
                area: AdminScope::Read,
                write: false
            }
        );
    }
}
