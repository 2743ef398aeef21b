//! `world-0-1-policy`: a test fixture built for the released `lanyard:policy@0.1.0` world
//! (`schema/wit/0.1.0`), standing for every policy published before 0.2.0 added the
//! sign-in facts. It allows, and adds claim `world_0_1` with the email it was given, so a
//! test can show the host still loads and runs such a component.

/// The bindings and their export glue, generated here as a policy built then generated
/// them (the SDK now targets the current world).
#[allow(unsafe_code)]
mod guest {
    wit_bindgen::generate!({
        path: "../../../schema/wit/0.1.0",
        world: "policy",
    });

    use lanyard::policy::log::{Level, log};
    use lanyard::policy::types::{Claim, ClaimValue, ConsentOutcome, TokenOutcome};

    /// The fixture; see the crate docs.
    pub struct World01;

    impl Guest for World01 {
        fn consent(_input: Request) -> ConsentDecision {
            ConsentDecision::Allow(ConsentOutcome {
                drop_scopes: Vec::new(),
                notices: Vec::new(),
            })
        }

        fn token(input: Request) -> TokenDecision {
            log(Level::Info, "a 0.1.0 policy ran");
            TokenDecision::Allow(TokenOutcome {
                drop_scopes: Vec::new(),
                claims: vec![Claim {
                    name: "world_0_1".into(),
                    value: ClaimValue::Text(input.user.email),
                }],
            })
        }
    }

    #[cfg(target_arch = "wasm32")]
    export!(World01);
}

pub use guest::World01;
