//! What an operator can do to a running deployment, from either side: the admin HTTP API
//! ([`api`]) and the `lanyard` command line call the same function for each operation, so
//! they cannot drift apart. Each write records itself in the audit log ([`audit`]) on its
//! way out, naming who asked (an API client or `cli`) and, for the API, the request id.
//!
//! The operations take an [`Operator`]: the stores, the configuration, a clock and a source
//! of randomness, and who is acting. The server makes one per admin request from its
//! [`App`]; the CLI makes one from the stores it opened.

pub mod api;
pub mod audit;
pub mod clients;
pub mod decisions;
pub mod grants;
pub mod keys;
pub mod metadata;
pub mod policies;
pub mod users;

use std::sync::Arc;

use crate::app::App;
use crate::clock::{Clock, Random, UnixTime};
use crate::config::Config;
use crate::policy::engine::PolicyEngine;
use crate::store::{Actor, StoreError, Stores};
use crate::tokens::keyring::KeyRingError;

/// Who acts, and with what.
pub struct Operator<'a> {
    pub config: &'a Config,
    pub stores: &'a Stores,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub actor: Actor,
    /// The admin request's `x-request-id`; none from the CLI.
    pub request_id: Option<String>,
    /// The running server's policy engine, which checks a pushed module; the CLI has none
    /// and makes one for the check.
    pub policy_engine: Option<Arc<PolicyEngine>>,
}

impl std::fmt::Debug for Operator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("actor", &self.actor)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl<'a> Operator<'a> {
    /// An API client acting through this server.
    pub fn of(app: &'a App, actor: Actor, request_id: Option<String>) -> Self {
        Self {
            config: &app.config,
            stores: &app.stores,
            clock: app.clock.as_ref(),
            random: app.random.as_ref(),
            actor,
            request_id,
            policy_engine: app.policies.as_ref().map(|r| r.engine.clone()),
        }
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }
}

/// Why an operation did not happen. The API renders each as a problem detail
/// (`api::problem`); the CLI prints its sentence.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such object: `what` names its kind ("user", "client").
    #[error("no {0} found")]
    NotFound(&'static str),
    /// The request contradicts what is stored (an email already taken).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong: a bad field, a malformed id, a non-object metadata.
    #[error("{0}")]
    Invalid(String),
    /// `If-Match` named a version that is no longer the stored one.
    #[error("the object changed since it was read (If-Match does not match its ETag)")]
    PreconditionFailed,
    /// A policy module that does not compile or does not match the policy world.
    #[error("refused: {0}")]
    PolicyRefused(String),
    /// This deployment cannot do it (policy versions on the embedded store).
    #[error("{0}")]
    Unsupported(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Lanyard failed at something that should not fail (making a key pair).
    #[error("{0}")]
    Internal(String),
}

impl From<KeyRingError> for AdminError {
    fn from(e: KeyRingError) -> Self {
        match e {
            KeyRingError::Store(e) => Self::Store(e),
            e => Self::Internal(e.to_string()),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// A value an operation was given does not parse: the request's fault.
fn invalid(what: &str, e: impl std::fmt::Display) -> AdminError {
    AdminError::Invalid(format!("{what}: {e}"))
}

/// A list's page size: what was asked, within `1..=MAX_PAGE`.
pub(crate) fn page_limit(asked: Option<u32>) -> u32 {
    asked.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// How many objects a list answers with when not told, and at most.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;
