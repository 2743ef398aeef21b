//! Lanyard: OAuth 2.1 authorization server for MCP apps.
//!
//! Requests flow `http` -> `oauth` | `portal` | `resource` -> `tokens`, `mail`, `store`;
//! `mail` queues messages in the store, and its sender delivers them in the background.
//! `store` never sees HTTP types; `oauth` never names a backend. `domain` holds the values
//! (user and client ids, emails, grant types) every layer passes and none re-parses. `app` builds the one
//! [`app::App`] every handler shares, picking the backends from [`config::Config`]. `admin`
//! holds what an operator can do, once for the admin HTTP API and the command line alike.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod mfa;
pub mod oauth;
pub mod policy;
pub mod portal;
pub mod resource;
pub mod seal;
pub mod secret;
pub mod store;
pub mod tokens;
