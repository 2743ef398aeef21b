//! The only place that knows about wit-bindgen: it generates the bindings from
//! `schema/wit/policy.wit` and converts between them and the SDK's plain types, so authors
//! never see generated names and a WIT change shows up here as a compile error.
//!
//! The bindings are generated on every target so these conversions are unit-tested
//! natively; only the exported symbols (see `export_policy!`) are limited to wasm32.

use std::marker::PhantomData;

use crate::Policy;
use crate::decision::{Claim, ClaimValue, ConsentDecision, TokenDecision};
use crate::log::Level;
use crate::request::{Client, GrantType, Request, User};

/// Generated guest bindings. Public only because `export_policy!` expands in the policy's
/// crate and must name them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../schema/wit",
        world: "policy",
        // The export macro is used from policy crates, not from this one.
        pub_export_macro: true,
        export_macro_name: "export_world",
        // Lets the tests below compare generated values directly.
        additional_derives: [PartialEq],
    });
}

use bindings::lanyard::policy::{log as wit_log, types as wit};

/// Implements the generated `Guest` trait for any [`Policy`]; `export_policy!` exports it.
#[doc(hidden)]
pub struct Exporter<P>(PhantomData<P>);

impl<P: Policy> bindings::Guest for Exporter<P> {
    fn consent(input: wit::Request) -> wit::ConsentDecision {
        P::consent(&input.into()).into()
    }

    fn token(input: wit::Request) -> wit::TokenDecision {
        P::token(&input.into()).into()
    }
}

/// Sends a line to the host's `log` import.
#[cfg(target_arch = "wasm32")]
pub(crate) fn log(level: Level, message: &str) {
    wit_log::log(level.into(), message);
}

impl From<Level> for wit_log::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Warn => Self::Warn,
            Level::Error => Self::Error,
        }
    }
}

impl From<wit::GrantType> for GrantType {
    fn from(grant: wit::GrantType) -> Self {
        match grant {
            wit::GrantType::AuthorizationCode => Self::AuthorizationCode,
            wit::GrantType::RefreshToken => Self::RefreshToken,
            wit::GrantType::ClientCredentials => Self::ClientCredentials,
        }
    }
}

impl From<wit::Request> for Request {
    fn from(req: wit::Request) -> Self {
        Self {
            grant_type: req.grant_type.map(Into::into),
            user: req.user.map(|user| User {
                sub: user.sub,
                email: user.email,
                email_verified: user.email_verified,
                metadata: user.metadata,
                amr: user.amr,
                auth_time: user.auth_time,
            }),
            client: Client {
                id: req.client.id,
                name: req.client.name,
            },
            resource: req.resource,
            scopes: req.scopes,
            config: req.config,
            now: req.now,
        }
    }
}

impl From<ClaimValue> for wit::ClaimValue {
    fn from(value: ClaimValue) -> Self {
        match value {
            ClaimValue::Text(s) => Self::Text(s),
            ClaimValue::Integer(i) => Self::Integer(i),
            ClaimValue::Boolean(b) => Self::Boolean(b),
            ClaimValue::Texts(v) => Self::Texts(v),
            ClaimValue::Json(s) => Self::Json(s),
        }
    }
}

impl From<Claim> for wit::Claim {
    fn from(claim: Claim) -> Self {
        Self {
            name: claim.name,
            value: claim.value.into(),
        }
    }
}

impl From<ConsentDecision> for wit::ConsentDecision {
    fn from(decision: ConsentDecision) -> Self {
        match decision {
            ConsentDecision::Allow(o) => Self::Allow(wit::ConsentOutcome {
                drop_scopes: o.drop_scopes,
                notices: o.notices,
            }),
            ConsentDecision::Deny(reason) => Self::Deny(reason),
        }
    }
}

impl From<TokenDecision> for wit::TokenDecision {
    fn from(decision: TokenDecision) -> Self {
        match decision {
            TokenDecision::Allow(o) => Self::Allow(wit::TokenOutcome {
                drop_scopes: o.drop_scopes,
                claims: o.claims.into_iter().map(Into::into).collect(),
            }),
            TokenDecision::Deny(reason) => Self::Deny(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bindings::Guest;
    use super::*;

    /// Exercises every field and case through the generated types, as the host would.
    struct Echo;

    impl Policy for Echo {
        fn consent(req: &Request) -> ConsentDecision {
            if req.grant_type.is_some() {
                return ConsentDecision::deny("consent must carry no grant type");
            }
            let email = req.user.as_ref().map_or("nobody", |u| u.email.as_str());
            ConsentDecision::allow()
                .drop_scope(req.scopes.join(" "))
                .notice(format!("{email} via {}", req.client.name))
        }

        fn token(req: &Request) -> TokenDecision {
            let Some(user) = &req.user else {
                return TokenDecision::allow().claim("acting_for", "itself");
            };
            TokenDecision::allow()
                .claim("sub_seen", user.sub.as_str())
                .claim("now", req.now)
                .claim("refresh", req.grant_type == Some(GrantType::RefreshToken))
                .claim("scopes", req.scopes.clone())
                .claim("meta", ClaimValue::Json(user.metadata.clone()))
                .claim("signed_in_with", user.amr.clone())
                .claim("signed_in_at", user.auth_time)
                .claim(
                    "where",
                    format!("{} {} {}", req.resource, req.client.id, req.config),
                )
                .drop_scope("write")
        }
    }

    fn wit_request(grant_type: Option<wit::GrantType>) -> wit::Request {
        wit::Request {
            grant_type,
            user: Some(wit::User {
                sub: "u1".into(),
                email: "ada@example.com".into(),
                email_verified: true,
                metadata: r#"{"a":1}"#.into(),
                amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                auth_time: 1_699_999_000,
            }),
            client: wit::Client {
                id: "c1".into(),
                name: "Claude".into(),
            },
            resource: "https://api.example.com/mcp".into(),
            scopes: vec!["read".into(), "write".into()],
            config: "{}".into(),
            now: 1_700_000_000,
        }
    }

    #[test]
    fn consent_round_trips_through_the_generated_types() {
        assert_eq!(
            <Exporter<Echo> as Guest>::consent(wit_request(None)),
            wit::ConsentDecision::Allow(wit::ConsentOutcome {
                drop_scopes: vec!["read write".into()],
                notices: vec!["ada@example.com via Claude".into()],
            })
        );
    }

    #[test]
    fn token_round_trips_through_the_generated_types() {
        let decision =
            <Exporter<Echo> as Guest>::token(wit_request(Some(wit::GrantType::RefreshToken)));
        let claim = |name: &str, value: wit::ClaimValue| wit::Claim {
            name: name.into(),
            value,
        };
        assert_eq!(
            decision,
            wit::TokenDecision::Allow(wit::TokenOutcome {
                drop_scopes: vec!["write".into()],
                claims: vec![
                    claim("sub_seen", wit::ClaimValue::Text("u1".into())),
                    claim("now", wit::ClaimValue::Integer(1_700_000_000)),
                    claim("refresh", wit::ClaimValue::Boolean(true)),
                    claim(
                        "scopes",
                        wit::ClaimValue::Texts(vec!["read".into(), "write".into()])
                    ),
                    claim("meta", wit::ClaimValue::Json(r#"{"a":1}"#.into())),
                    claim(
                        "signed_in_with",
                        wit::ClaimValue::Texts(vec!["pwd".into(), "otp".into(), "mfa".into()])
                    ),
                    claim("signed_in_at", wit::ClaimValue::Integer(1_699_999_000)),
                    claim(
                        "where",
                        wit::ClaimValue::Text("https://api.example.com/mcp c1 {}".into())
                    ),
                ],
            })
        );
    }

    #[test]
    fn a_client_acting_for_itself_arrives_without_a_user() {
        let mut request = wit_request(Some(wit::GrantType::ClientCredentials));
        request.user = None;
        assert_eq!(
            <Exporter<Echo> as Guest>::token(request),
            wit::TokenDecision::Allow(wit::TokenOutcome {
                drop_scopes: vec![],
                claims: vec![wit::Claim {
                    name: "acting_for".into(),
                    value: wit::ClaimValue::Text("itself".into()),
                }],
            })
        );
    }

    #[test]
    fn denies_cross_the_boundary_with_their_reason() {
        let decision = <Exporter<Echo> as Guest>::consent(wit_request(Some(
            wit::GrantType::AuthorizationCode,
        )));
        assert_eq!(
            decision,
            wit::ConsentDecision::Deny("consent must carry no grant type".into())
        );
    }
}
