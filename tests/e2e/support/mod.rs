//! The test kit: starts real `lanyard` processes on free loopback ports with fresh data
//! directories, and drives them over HTTP the way a client and a browser would.
//!
//! - `server`: [`TestServer`], the process, its log, its CLI and plain HTTP calls.
//! - `admin`: [`Admin`], a caller of the admin API whose every answer is checked against
//!   the OpenAPI document.
//! - `browser`: [`Browser`], a cookie jar for the portal's pages and forms.
//! - `oauth`: PKCE, authorization requests, a whole consent and code exchange, JWTs.
//! - `store`: a test's own share of Postgres and Redis ([`production_store`]).
//! - `second_factor`: an authenticator app, and a connect taken one page at a time.
//! - `mail`: a real SMTP server ([`MailSink`], aiosmtpd) that keeps what it receives.
//! - `relay`: a cuttable relay ([`Gate`]) and a TLS front ([`TlsFront`]) for those services.
//! - `balancer`: HAProxy in front of several instances ([`Haproxy`]).
//! - `deployment`: one server, or two instances on one production store ([`Deployment`]).
//!
//! Everything is re-exported here, so tests name it `support::X` wherever it lives.

mod admin;
mod balancer;
mod browser;
mod deployment;
mod mail;
mod oauth;
mod relay;
mod second_factor;
mod server;
mod store;

pub use admin::{Admin, Answer, admin_token};
pub use balancer::Haproxy;
pub use browser::{Browser, Page, client, hidden};
pub(crate) use deployment::on_both_deployments;
pub use deployment::{Deployment, pair};
pub use mail::{MailSink, link_in, smtp_available};
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

/// Runs each `flow(settings)` as two tests: on the embedded store (no settings) and on
/// Postgres and Redis (their settings; skipped without them, except under `CI=true`).
macro_rules! on_both_stores {
    ($($flow:ident),* $(,)?) => {$(
        mod $flow {
            #[tokio::test]
            async fn embedded() {
                super::$flow(&[]).await;
            }

            #[tokio::test]
            async fn production() {
                let Some(store) = $crate::support::production_store().await else {
                    return;
                };
                super::$flow(&store.env()).await;
                store.finish().await;
            }
        }
    )*};
}
pub(crate) use on_both_stores;
