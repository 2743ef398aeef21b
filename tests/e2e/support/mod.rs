//! The test kit: starts real `lanyard` processes on free loopback ports with fresh data
//! directories, and drives them over HTTP the way a client and a browser would.
//!
//! - `server`: [`TestServer`], the process, its log, its CLI and plain HTTP calls.
//! - `browser`: [`Browser`], a cookie jar for the portal's pages and forms.
//! - `oauth`: PKCE, authorization requests, a whole consent and code exchange, JWTs.
//! - `store`: a test's own share of Postgres and Redis ([`production_store`]).
//! - `second_factor`: an authenticator app, and a connect taken one page at a time.
//! - `relay`: a cuttable relay ([`Gate`]) and a TLS front ([`TlsFront`]) for those services.
//! - `balancer`: HAProxy in front of several instances ([`Haproxy`]).
//!
//! Everything is re-exported here, so tests name it `support::X` wherever it lives.

mod balancer;
mod browser;
mod oauth;
mod relay;
mod second_factor;
mod server;
mod store;

pub use balancer::Haproxy;
pub use browser::{Browser, Page, client, hidden};
pub use oauth::{Authorize, Connected, jwt_claims, jwt_header, pkce, query};
pub use relay::{Gate, TlsFront};
pub use second_factor::{Authenticator, recovery_codes};
pub use server::{TestServer, free_port};
pub use store::{ProductionStore, address, production_store};

/// The password every test user gets (`TestServer::add_user`) and signs in with.
pub const PASSWORD: &str = "correct horse battery staple";

/// A missing tool: fatal under `CI=true`, a skip with a notice elsewhere. Returns so the
/// caller can `return`.
pub fn missing_tool(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required when CI=true");
    }
    eprintln!(
        "SKIPPED: {what} not found; install it to run this test (CI=true makes this a failure)"
    );
}
