//! The boundary with the guest: a chain's input in the WIT world's own types, and a guest's
//! answer turned into a host [`Decision`] once its size has been checked.

use serde_json::{Map, Value};

use super::bindings::lanyard::policy::types as wit;
use super::engine::PolicyFailure;
use super::input::{ClientInput, Decision, Phase, PolicyInput};
use crate::domain::GrantType;

/// A chain's input in the guest's own types, built once per chain straight from the records
/// it comes from; the chain sets the scopes still in play and each binding's config before
/// each call.
#[derive(Debug)]
pub struct GuestInput {
    pub(super) phase: Phase,
    pub(super) request: wit::Request,
}

/// The user as a chain sees them, borrowed from wherever they are stored.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    pub sub: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    /// JSON text as the store holds it; anything but an object reads as `{}`.
    pub metadata: &'a str,
    /// How and when they signed in: RFC 8176 names, and Unix seconds.
    pub amr: &'a [&'a str],
    pub auth_time: i64,
}

fn wit_user(user: UserView<'_>) -> wit::User {
    // The store only writes objects (or `{}`), and JSON text that opens with a brace can be
    // nothing else; text that is not JSON at all reaches the policy, which refuses it as
    // malformed metadata rather than mistaking it for none.
    let metadata = if user.metadata.trim_start().starts_with('{') {
        user.metadata.to_string()
    } else {
        "{}".to_string()
    };
    wit::User {
        sub: user.sub.to_string(),
        email: user.email.to_string(),
        email_verified: user.email_verified,
        metadata,
        amr: user.amr.iter().map(|m| m.to_string()).collect(),
        auth_time: user.auth_time,
    }
}

impl GuestInput {
    pub fn new(
        phase: Phase,
        grant_type: Option<GrantType>,
        user: Option<UserView<'_>>,
        client: ClientInput,
        resource: &str,
        scopes: Vec<String>,
        now: i64,
    ) -> Self {
        let grant_type = match (phase, grant_type) {
            (Phase::Token, Some(GrantType::AuthorizationCode)) => {
                Some(wit::GrantType::AuthorizationCode)
            }
            (Phase::Token, Some(GrantType::RefreshToken)) => Some(wit::GrantType::RefreshToken),
            (Phase::Token, Some(GrantType::ClientCredentials)) => {
                Some(wit::GrantType::ClientCredentials)
            }
            (Phase::Consent, _) | (_, None) => None,
        };
        Self {
            phase,
            request: wit::Request {
                grant_type,
                user: user.map(wit_user),
                client: wit::Client {
                    id: client.id,
                    name: client.name,
                },
                resource: resource.to_string(),
                scopes,
                config: String::new(),
                now,
            },
        }
    }

    /// A `lanyard policy test` fixture, config included.
    pub fn from_fixture(input: &PolicyInput) -> Self {
        let metadata = input.user.as_ref().map(|u| u.metadata.to_string());
        let amr: Vec<&str> = input
            .user
            .iter()
            .flat_map(|u| u.amr.iter().map(String::as_str))
            .collect();
        let user = input
            .user
            .as_ref()
            .zip(metadata.as_deref())
            .map(|(u, metadata)| UserView {
                sub: &u.sub,
                email: &u.email,
                email_verified: u.email_verified,
                metadata,
                amr: &amr,
                auth_time: u.auth_time,
            });
        let mut guest = Self::new(
            input.phase,
            input.grant_type,
            user,
            input.client.clone(),
            &input.resource,
            input.scopes.clone(),
            input.now,
        );
        guest.set_config(&input.config.to_string());
        guest
    }

    pub fn resource(&self) -> &str {
        &self.request.resource
    }

    /// The scopes still in play.
    pub fn scopes(&self) -> &[String] {
        &self.request.scopes
    }

    /// The binding's config, as JSON text.
    pub fn config(&self) -> &str {
        &self.request.config
    }

    /// Takes `dropped` out of play for the calls after this one.
    pub fn drop_scopes(&mut self, dropped: &[String]) {
        self.request.scopes.retain(|s| !dropped.contains(s));
    }

    pub fn set_config(&mut self, json: &str) {
        self.request.config.clear();
        self.request.config.push_str(json);
    }
}

/// The output cap is checked on the guest's own values, before anything is parsed.
fn over_cap(size: usize, cap: usize) -> Result<(), PolicyFailure> {
    if size > cap {
        return Err(PolicyFailure::BadOutput(format!(
            "output of {size} bytes exceeds the {cap}-byte cap"
        )));
    }
    Ok(())
}

fn text_len(list: &[String]) -> usize {
    list.iter().map(String::len).sum()
}

/// A guest's consent answer as a host [`Decision`], once it fits the output cap.
pub fn from_consent(d: wit::ConsentDecision, cap: usize) -> Result<Decision, PolicyFailure> {
    match d {
        wit::ConsentDecision::Allow(o) => {
            over_cap(text_len(&o.drop_scopes) + text_len(&o.notices), cap)?;
            Ok(Decision::Allow {
                claims: Map::new(),
                drop_scopes: o.drop_scopes,
                notices: o.notices,
            })
        }
        wit::ConsentDecision::Deny(reason) => {
            over_cap(reason.len(), cap)?;
            Ok(Decision::Deny { reason })
        }
    }
}

/// A guest's token answer as a host [`Decision`], once it fits the output cap; a JSON
/// claim value that does not parse is bad output.
pub fn from_token(d: wit::TokenDecision, cap: usize) -> Result<Decision, PolicyFailure> {
    match d {
        wit::TokenDecision::Allow(o) => {
            let claims_len: usize = o
                .claims
                .iter()
                .map(|c| c.name.len() + claim_len(&c.value))
                .sum();
            over_cap(text_len(&o.drop_scopes) + claims_len, cap)?;
            let claims = o
                .claims
                .into_iter()
                .map(|c| Ok((c.name, claim_value(c.value)?)))
                .collect::<Result<Map<_, _>, PolicyFailure>>()?;
            Ok(Decision::Allow {
                claims,
                drop_scopes: o.drop_scopes,
                notices: Vec::new(),
            })
        }
        wit::TokenDecision::Deny(reason) => {
            over_cap(reason.len(), cap)?;
            Ok(Decision::Deny { reason })
        }
    }
}

/// About what the value adds to a token, without serialising it.
fn claim_len(v: &wit::ClaimValue) -> usize {
    match v {
        wit::ClaimValue::Text(s) | wit::ClaimValue::Json(s) => s.len(),
        wit::ClaimValue::Integer(_) => 20,
        wit::ClaimValue::Boolean(_) => 5,
        wit::ClaimValue::Texts(list) => text_len(list) + 3 * list.len(),
    }
}

fn claim_value(v: wit::ClaimValue) -> Result<Value, PolicyFailure> {
    Ok(match v {
        wit::ClaimValue::Text(s) => Value::String(s),
        wit::ClaimValue::Integer(i) => Value::from(i),
        wit::ClaimValue::Boolean(b) => Value::Bool(b),
        wit::ClaimValue::Texts(list) => Value::Array(list.into_iter().map(Value::String).collect()),
        wit::ClaimValue::Json(text) => serde_json::from_str(&text)
            .map_err(|_| PolicyFailure::BadOutput("a json claim value does not parse".into()))?,
    })
}
