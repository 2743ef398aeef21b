//! End-to-end tests: each starts real `lanyard` processes and drives them over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod fixtures;
mod flow;
mod instances;
mod js;
mod mail;

mod abuse;
mod account;
mod admin;
mod authorize;
mod branding;
mod cimd;
mod client_auth;
mod client_credentials;
mod connections;
mod consent;
mod dashboard;
mod discovery;
mod junk;
mod keys;
mod metrics;
mod mfa;
mod passkeys;
mod policy;
mod recover;
mod refresh;
mod registration;
mod resource;
mod revocation;
mod robustness;
mod rolling;
mod token;
mod verify;
