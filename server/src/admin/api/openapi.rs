//! `GET /admin/v1/openapi.json`: the OpenAPI 3.1 document of the admin API, generated from
//! the handlers' annotations and the operations' types, so it cannot describe an API other
//! than the one served. The answers every route may give (400, 401, 403, 500, 503; 404
//! where a path names an object, 415 where it takes a body) are added here once rather
//! than on each route.

use std::sync::OnceLock;

use bytes::Bytes;
use http::StatusCode;
use utoipa::openapi::security::{ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{audit, clients, decisions, grants, keys, policies, problem, users};
use crate::admin;
use crate::app::App;
use crate::domain::AdminScope;
use crate::http::response::{Resp, json_bytes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard admin API",
        description = "Users and their metadata, grants, clients, signing keys, policy versions, the decision log and the audit log. Callers present a bearer token minted by the client_credentials grant for the resource `<issuer>/admin`."
    ),
    servers((url = "/admin/v1")),
    paths(
        users::list, users::create, users::get, users::delete, users::disable, users::enable,
        users::get_metadata, users::put_metadata, users::patch_metadata,
        grants::list, grants::revoke,
        clients::list, clients::create, clients::get, clients::update, clients::delete,
        clients::rotate_secret,
        keys::list, keys::rotate,
        policies::list, policies::push, policies::activate, policies::rollback,
        decisions::list, decisions::get,
        audit::list,
    ),
    components(schemas(
        problem::Problem,
        admin::users::UserView, admin::users::NewUser, admin::users::UserPage,
        admin::grants::GrantView, admin::grants::Revoked,
        admin::clients::NewClient, admin::clients::ClientUpdate, admin::clients::ClientView,
        admin::clients::ClientWithSecret,
        admin::keys::KeyView, admin::keys::Rotated,
        admin::policies::PolicyView, admin::policies::VersionView, admin::policies::Activated,
        policies::Activate,
        admin::decisions::DecisionView,
        admin::audit::AuditView, admin::audit::AuditPage,
    )),
    modifiers(&CommonAnswers),
)]
struct AdminApi;

/// The problem answers every route shares.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let shared = [
            ("400", "The request cannot be read"),
            ("401", "No valid bearer token for the admin API"),
            ("403", "The token lacks the scope this operation needs"),
            ("500", "The server failed; its log says why"),
            ("503", "A storage backend did not answer; try again"),
        ];
        for (path, item) in doc.paths.paths.iter_mut() {
            let names_object = path.contains('{');
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let answers = &mut operation.responses.responses;
                let object = names_object.then_some(("404", "No such object"));
                let media = operation.request_body.is_some().then_some((
                    "415",
                    "The body is not of a media type this operation takes",
                ));
                for (status, description) in shared.into_iter().chain(object).chain(media) {
                    answers
                        .entry(status.to_string())
                        .or_insert_with(|| problem_answer(description).into());
                }
            }
        }
    }
}

fn problem_answer(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// The document for this server: the token URL in its security scheme is the issuer's.
fn document(issuer: &str) -> Bytes {
    let mut doc = AdminApi::openapi();
    let scopes = Scopes::from_iter(AdminScope::ALL.map(|s| {
        let what = match s {
            AdminScope::Users => "users and their metadata",
            AdminScope::Clients => "clients",
            AdminScope::Grants => "users' grants",
            AdminScope::Keys => "signing keys",
            AdminScope::Policies => "policy versions and the decision log",
            AdminScope::Read => "read everything, change nothing",
        };
        (s.as_str().to_string(), what.to_string())
    }));
    let flow = ClientCredentials::new(format!("{issuer}/oauth/token"), scopes);
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(flow)])),
        );
    match doc.to_json() {
        Ok(text) => Bytes::from(text),
        Err(e) => {
            tracing::error!(error = %e, "the admin API's OpenAPI document does not serialise");
            Bytes::new()
        }
    }
}

/// The document, made at its first request (one issuer per process).
pub fn serve(app: &App) -> Resp {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    let doc = DOC.get_or_init(|| document(&app.config.issuer));
    json_bytes(StatusCode::OK, doc.clone())
}
