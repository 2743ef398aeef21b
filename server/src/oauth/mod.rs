//! The OAuth 2.1 endpoints, one file each, and the protocol pieces they share.

pub mod access;
pub mod assertion;
pub mod authorize;
pub mod cimd;
pub mod client;
pub mod client_auth;
pub mod client_credentials;
pub mod client_metadata;
pub mod error;
pub mod introspect;
pub mod issue;
pub mod metadata;
pub mod pkce;
pub mod policies;
pub mod register;
pub mod revoke;
pub mod successor;
pub mod token;
pub mod types;
pub mod userinfo;

pub use error::OAuthError;
