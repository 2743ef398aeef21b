//! Policies end to end: the example policies and a hostile fixture, built from source for
//! `wasm32-wasip2` by this test binary, bound through `lanyard.toml`, and driven through real
//! consents, code exchanges and refreshes (design.md "Policies"; style.md §11–13).
//!
//! Every server here serves two resources: `TOOLS`, where the policies under test are bound,
//! and `PLAIN`, bound to nothing, so a test can show that the rest of the server still works
//! after a policy misbehaved.
//!
//! - `build`: compiles the guests from source, once per test binary.
//! - `kit`: servers with bindings in lanyard.toml, flows against a chosen resource, pages.
//! - `examples`: purchase-tier and org-membership in real consents, exchanges and refreshes.
//! - `cli`: `lanyard policy eval` and `lanyard policy test`.
//! - `hostile`: every misbehaviour contained; fail-open.
//! - `reload`: a module swapped (and a broken one refused) under a stream of mints.
//! - `distribute`: versions pushed and rolled back across instances on the production store.
//! - `sign_in`: a policy sees how and when the user signed in, and can ask for two factors.

pub(crate) mod build;
pub(crate) mod kit;

mod cli;
mod clients;
pub(crate) mod distribute;
mod examples;
mod hostile;
pub(crate) mod reload;
mod sign_in;
