//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
//! 2025-11-25 SEP-991): a `client_id` that is an https URL names a JSON document we fetch.
//!
//! [`CimdResolver`] fetches (`resolver`) under the [`AddressGuard`] (`guard`: URL shape,
//! special-use addresses, no DNS rebinding), checks the document (`document`, through the
//! one client-metadata validator), and keeps good ones as their headers allow (`cache`,
//! bounded in bytes); failures are never kept.

mod cache;
mod document;
mod guard;
mod resolver;

pub use document::{CimdAuth, CimdClient, KeySource};
pub use guard::AddressGuard;
pub use resolver::{CimdResolver, Step};

use crate::oauth::client_metadata::MetadataError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdError {
    #[error("client_id URL is not acceptable: {0}")]
    BadUrl(&'static str),
    #[error("client metadata document could not be fetched: {0}")]
    Fetch(String),
    #[error("client metadata document is invalid: {0}")]
    Invalid(String),
}

impl From<MetadataError> for CimdError {
    fn from(e: MetadataError) -> Self {
        CimdError::Invalid(e.to_string())
    }
}
