//! Errors of the admin API as RFC 9457 problem details (`application/problem+json`), all
//! rendered here: the operations' [`AdminError`]s, refused credentials, and requests the
//! API cannot read.

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::AdminError;
use crate::http::response::{Resp, json};
use crate::store::StoreError;

/// An RFC 9457 problem detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:lanyard:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind of problem, in a few words (the same for every problem of a kind).
    pub title: String,
    pub status: u16,
    /// This occurrence, in a sentence.
    pub detail: Option<String>,
}

/// Why a request was refused before any operation ran.
#[derive(Debug)]
pub enum Refusal {
    /// No bearer token, or one that does not verify for the admin resource.
    Unauthenticated(&'static str),
    /// A valid token without the scope this operation needs.
    Forbidden(String),
    NoSuchPath,
    MethodNotAllowed(&'static str),
    UnsupportedMediaType(&'static str),
    /// A body or query the API cannot read.
    Invalid(String),
    Unavailable,
}

fn problem(status: StatusCode, kind: &str, title: &str, detail: Option<String>) -> Resp {
    let mut r = json(
        status,
        &Problem {
            kind: format!("urn:lanyard:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
        },
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn with_header(mut r: Resp, name: header::HeaderName, value: &str) -> Resp {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
    r
}

fn unavailable() -> Resp {
    with_header(
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Store unavailable",
            Some("a storage backend did not answer; try again shortly".into()),
        ),
        header::RETRY_AFTER,
        "5",
    )
}

/// The response for an operation's failure.
pub fn from_error(e: &AdminError) -> Resp {
    use AdminError as E;
    match e {
        E::NotFound(_) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            Some(e.to_string()),
        ),
        E::Conflict(d) => problem(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            Some(d.clone()),
        ),
        E::Invalid(d) => problem(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            Some(d.clone()),
        ),
        E::PreconditionFailed => problem(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
            Some(e.to_string()),
        ),
        E::PolicyRefused(d) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy-refused",
            "Policy module refused",
            Some(d.clone()),
        ),
        E::Unsupported(d) => problem(
            StatusCode::CONFLICT,
            "unsupported",
            "Not available on this deployment",
            Some(d.clone()),
        ),
        E::Store(StoreError::NotFound) => {
            problem(StatusCode::NOT_FOUND, "not-found", "Not found", None)
        }
        E::Store(StoreError::Conflict) => {
            problem(StatusCode::CONFLICT, "conflict", "Conflict", None)
        }
        E::Store(StoreError::Unavailable(cause)) => {
            tracing::warn!(error = %cause, "admin request: store unavailable");
            unavailable()
        }
        E::Store(StoreError::Corrupt(cause)) => {
            tracing::error!(error = %cause, "admin request: stored data unreadable");
            internal()
        }
        E::Internal(d) => {
            tracing::error!(error = %d, "admin request failed");
            internal()
        }
    }
}

fn internal() -> Resp {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        Some("the server failed; its log says why".into()),
    )
}

/// The response for a request refused before it reached an operation.
pub fn refused(r: &Refusal) -> Resp {
    match r {
        Refusal::Unauthenticated(why) => with_header(
            problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
                Some((*why).into()),
            ),
            header::WWW_AUTHENTICATE,
            &format!("Bearer error=\"invalid_token\", error_description=\"{why}\""),
        ),
        Refusal::Forbidden(scope) => with_header(
            problem(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Insufficient scope",
                Some(format!("this operation needs the {scope} scope")),
            ),
            header::WWW_AUTHENTICATE,
            &format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
        ),
        Refusal::NoSuchPath => problem(StatusCode::NOT_FOUND, "not-found", "Not found", None),
        Refusal::MethodNotAllowed(allow) => with_header(
            problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                Some(format!("allowed: {allow}")),
            ),
            header::ALLOW,
            allow,
        ),
        Refusal::UnsupportedMediaType(expected) => problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            Some(format!("send {expected}")),
        ),
        Refusal::Invalid(d) => problem(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            Some(d.clone()),
        ),
        Refusal::Unavailable => unavailable(),
    }
}
