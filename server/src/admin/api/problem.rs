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

/// The kinds of problem the API answers with: each has one status, one `type` and one
/// title, whichever failure it renders.
#[derive(Debug, Clone, Copy)]
enum Kind {
    NotFound,
    Conflict,
    Invalid,
    PreconditionFailed,
    PolicyRefused,
    Unsupported,
    Unauthenticated,
    InsufficientScope,
    MethodNotAllowed,
    UnsupportedMediaType,
    Unavailable,
    Internal,
}

impl Kind {
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::NotFound => (S::NOT_FOUND, "not-found", "Not found"),
            Self::Conflict => (S::CONFLICT, "conflict", "Conflict"),
            Self::Invalid => (S::BAD_REQUEST, "invalid-request", "Invalid request"),
            Self::PreconditionFailed => (
                S::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Self::PolicyRefused => (
                S::UNPROCESSABLE_ENTITY,
                "policy-refused",
                "Policy module refused",
            ),
            Self::Unsupported => (
                S::CONFLICT,
                "unsupported",
                "Not available on this deployment",
            ),
            Self::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated", "Unauthenticated"),
            Self::InsufficientScope => (S::FORBIDDEN, "insufficient-scope", "Insufficient scope"),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Unavailable => (S::SERVICE_UNAVAILABLE, "unavailable", "Store unavailable"),
            Self::Internal => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

fn problem(kind: Kind, detail: Option<String>) -> Resp {
    let (status, slug, title) = kind.parts();
    let mut r = json(
        status,
        &Problem {
            kind: format!("urn:lanyard:problem:{slug}"),
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
    let detail = "a storage backend did not answer; try again shortly";
    with_header(
        problem(Kind::Unavailable, Some(detail.into())),
        header::RETRY_AFTER,
        "5",
    )
}

fn internal() -> Resp {
    let detail = "the server failed; its log says why";
    problem(Kind::Internal, Some(detail.into()))
}

/// The response for an operation's failure.
pub fn from_error(e: &AdminError) -> Resp {
    use AdminError as E;
    let kind = match e {
        E::NotFound(_) | E::Store(StoreError::NotFound) => Kind::NotFound,
        E::Conflict(_) | E::Store(StoreError::Conflict) => Kind::Conflict,
        E::Invalid(_) => Kind::Invalid,
        E::PreconditionFailed => Kind::PreconditionFailed,
        E::PolicyRefused(_) => Kind::PolicyRefused,
        E::Unsupported(_) => Kind::Unsupported,
        E::Store(StoreError::Unavailable(cause)) => {
            tracing::warn!(error = %cause, "admin request: store unavailable");
            return unavailable();
        }
        E::Store(StoreError::Corrupt(cause)) => {
            tracing::error!(error = %cause, "admin request: stored data unreadable");
            return internal();
        }
        E::Internal(d) => {
            tracing::error!(error = %d, "admin request failed");
            return internal();
        }
    };
    // A store's bare refusal has no sentence of its own to add.
    let detail = (!matches!(e, E::Store(_))).then(|| e.to_string());
    problem(kind, detail)
}

/// The response for a request refused before it reached an operation.
pub fn refused(r: &Refusal) -> Resp {
    match r {
        Refusal::Unauthenticated(why) => with_header(
            problem(Kind::Unauthenticated, Some((*why).into())),
            header::WWW_AUTHENTICATE,
            &format!("Bearer error=\"invalid_token\", error_description=\"{why}\""),
        ),
        Refusal::Forbidden(scope) => with_header(
            problem(
                Kind::InsufficientScope,
                Some(format!("this operation needs the {scope} scope")),
            ),
            header::WWW_AUTHENTICATE,
            &format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
        ),
        Refusal::NoSuchPath => problem(Kind::NotFound, None),
        Refusal::MethodNotAllowed(allow) => with_header(
            problem(Kind::MethodNotAllowed, Some(format!("allowed: {allow}"))),
            header::ALLOW,
            allow,
        ),
        Refusal::UnsupportedMediaType(expected) => {
            problem(Kind::UnsupportedMediaType, Some(format!("send {expected}")))
        }
        Refusal::Invalid(d) => problem(Kind::Invalid, Some(d.clone())),
        Refusal::Unavailable => unavailable(),
    }
}
