//! SDK for Lanyard policies: WebAssembly components that decide, per bound resource, whether
//! a user may consent and what their access tokens carry.
//!
//! A policy is a type implementing [`Policy`] plus one [`export_policy!`] line. It sees a
//! [`Request`] (user, client, resource, scopes, its binding's config, `now`) and answers a
//! [`ConsentDecision`] before the consent page and a [`TokenDecision`] at every mint.
//!
//! ```
//! use lanyard_policy::{Policy, Request, TokenDecision};
//!
//! pub struct Beta;
//!
//! impl Policy for Beta {
//!     fn token(req: &Request) -> TokenDecision {
//!         // No user for a client-credentials grant: the client acts for itself.
//!         let beta = req.user.as_ref().is_some_and(|u| u.email.ends_with("@example.com"));
//!         TokenDecision::allow().claim("beta", beta)
//!     }
//! }
//!
//! lanyard_policy::export_policy!(Beta);
//! ```
//!
//! Build a policy with `cargo build --profile policy --target wasm32-wasip2`, after copying
//! this crate's `cargo-config.toml` to the policy crate's `.cargo/config.toml`.
//!
//! Layout: `request` and `decision` are the plain types authors use; `log` reaches the host's
//! log; `guest` is the only module that sees the wit-bindgen output generated from
//! `schema/wit/policy.wit`, and converts at the boundary. Private to the component: `arena`
//! is its allocator and `wasi_stubs` keeps std's unused WASI imports out of it.

#[cfg(target_arch = "wasm32")]
mod arena;
mod decision;
mod guest;
pub mod log;
mod request;
#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p2"))]
mod wasi_stubs;

/// Every call gets a fresh instance, so the guest allocates from a bump arena and never
/// pays for reuse; see `arena`.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: arena::Arena = arena::Arena::new();

pub use decision::{
    Claim, ClaimValue, ConsentDecision, ConsentOutcome, TokenDecision, TokenOutcome,
};
pub use request::{Client, GrantType, InputError, InputSource, Request, User};

/// A policy: one decision per phase. Each default allows and changes nothing, so a policy
/// implements only the phases it cares about.
///
/// The host makes a fresh instance for every call, so there is no `self` and no state that
/// outlives a call; everything a decision may depend on is in the [`Request`].
pub trait Policy {
    /// Called before the consent page is shown: may deny, drop requested scopes, add notices.
    fn consent(req: &Request) -> ConsentDecision {
        let _ = req;
        ConsentDecision::allow()
    }

    /// Called at every mint, code exchange and refresh alike: may deny, drop scopes, add
    /// claims. Check [`Request::grant_type`] to tell the two apart.
    fn token(req: &Request) -> TokenDecision {
        let _ = req;
        TokenDecision::allow()
    }
}

/// Exports a [`Policy`] as the component's `consent` and `token` functions.
///
/// Use it once, in the policy crate's `lib.rs`: `lanyard_policy::export_policy!(MyPolicy);`.
/// On wasm32 it emits the component exports; on other targets it only checks that the type
/// implements [`Policy`], so the same crate builds and tests natively.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        const _: () = {
            fn assert_is_policy<P: $crate::Policy>() {}
            let _ = assert_is_policy::<$policy>;
        };

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type LanyardPolicyExport = $crate::__private::Exporter<$policy>;
            $crate::__private::bindings::export_world!(
                LanyardPolicyExport with_types_in $crate::__private::bindings
            );
        };
    };
}

/// Compiles the README's examples as doctests, so the guide cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Not public API: what `export_policy!` needs to name from the policy's crate.
#[doc(hidden)]
pub mod __private {
    pub use crate::guest::{Exporter, bindings};
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Defaults;
    impl Policy for Defaults {}

    // The macro must expand, and do nothing, on a native target. On wasm32 its glue is
    // `unsafe` code, which `forbid(unsafe_code)` rejects inside this crate but not when it
    // comes from another crate's macro, as in every policy.
    #[cfg(not(target_arch = "wasm32"))]
    export_policy!(Defaults);

    /// The workspace builds its policies with exactly the settings authors are told to copy.
    #[test]
    fn the_workspace_uses_the_shipped_cargo_config() {
        let template = include_str!("../cargo-config.toml");
        let workspace = include_str!("../../.cargo/config.toml");
        assert!(
            workspace.ends_with(template),
            "copy cargo-config.toml into .cargo/"
        );
        assert!(template.contains("[profile.policy]"));
    }

    #[test]
    fn default_phases_allow_and_change_nothing() {
        let req = Request::default().with_scopes(["read", "write"]);
        assert_eq!(Defaults::consent(&req), ConsentDecision::allow());
        assert_eq!(Defaults::token(&req), TokenDecision::allow());
    }
}
