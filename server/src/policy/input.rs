//! What a policy is asked and what it answers, in host types (plain Rust, serde-able): the
//! same shapes `lanyard policy test` reads and prints.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::GrantType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Consent,
    Token,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserInput {
    pub sub: String,
    pub email: String,
    /// Whether an operator vouched for the email (domain-based policies must check it).
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default = "empty_object")]
    pub metadata: Value,
    /// How they signed in (RFC 8176 names); a password sign-in when the fixture says nothing.
    #[serde(default = "password")]
    pub amr: Vec<String>,
    /// When they signed in, in Unix seconds.
    #[serde(default)]
    pub auth_time: i64,
}

fn password() -> Vec<String> {
    vec!["pwd".to_string()]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInput {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// One policy call's input (the `lanyard policy test` fixture format).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInput {
    pub phase: Phase,
    /// The grant being minted for, at the token phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<GrantType>,
    /// Absent for a client-credentials grant, where the client acts for itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInput>,
    pub client: ClientInput,
    pub resource: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "empty_object")]
    pub config: Value,
    pub now: i64,
}

/// What one policy (or a whole chain) decided, in the `policy test` output format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Allow {
        claims: Map<String, Value>,
        drop_scopes: Vec<String>,
        notices: Vec<String>,
    },
    Deny {
        reason: String,
    },
}
