//! The records the stores keep. Plain data: no behaviour that needs a backend.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
pub use crate::domain::{
    AuthMethod, ClientId, Email, GrantType, PasskeyId, PolicyOutcome, ResourceUri, ScopeSet,
    SignInMethods, UserId,
};

/// A stored name that is none of the values the code knows: the store is read strictly,
/// so such a record is an error, never a guess.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl UnknownValue {
    pub fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.to_string(),
        }
    }
}

/// One person, across every app the operator publishes.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: UserId,
    /// The uniqueness key.
    pub email: Email,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Operator-defined JSON object, as the text the store holds. Only policies read it, and
    /// they take it as text, so no mint parses it or serialises it again.
    pub metadata: String,
    /// Whether someone vouched for the email: true for operator-created accounts, and for
    /// self-registered ones once a link mailed to the address was followed.
    pub email_verified: bool,
    /// Set while an operator has the account disabled: it cannot sign in, and its refresh
    /// tokens are refused.
    pub disabled_at: Option<UnixTime>,
    /// The browser sessions made in another epoch are over (see `portal::session`).
    pub session_epoch: i64,
    pub created_at: UnixTime,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// What a link mailed to a user is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    /// `/verify`: proves the address.
    Verify,
    /// `/reset`: sets a new password.
    Reset,
    /// `/account/email`: moves the account to the address the link went to.
    ChangeEmail,
}

/// What a mailed link's token stands for until it is used (kept by its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailedLink {
    pub sub: UserId,
    /// The address the link went to: a link for an address the account no longer has is
    /// void.
    pub email: Email,
    /// The hash of the form token of the browser that asked for the link: following the
    /// link in that browser signs it in (and resumes `request`); anywhere else it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// The authorization request that browser was in the middle of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// For a change of address, the address the account had when the change was asked
    /// for (`email` is the new one): the link is void once the account has another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Email>,
    pub expires_at: UnixTime,
}

/// One message in the mail queue.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: String,
    /// The envelope recipient (the message's `To`).
    pub recipient: Email,
    /// The whole RFC 5322 message, as it goes on the wire.
    pub message: Vec<u8>,
    pub created_at: UnixTime,
    /// Delivery attempts so far, this one included once claimed.
    pub attempts: u32,
}

/// One mint's policy decisions, for `lanyard policy log`. Serialised as one JSON line of a
/// decision-log batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionEntry {
    pub jti: String,
    pub at: UnixTime,
    pub client_id: ClientId,
    /// The user the token was for; `None` for a client-credentials grant, whose token is
    /// the client's own (its `sub` is `client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<UserId>,
    pub resource: ResourceUri,
    pub grant_type: GrantType,
    pub outcome: PolicyOutcome,
    /// The policies that ran, as a JSON array of `{policy, digest, outcome, micros,
    /// detail}`; kept as text, which is how it is written and shown.
    pub runs: String,
}

/// How a client was introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// RFC 7591 dynamic registration.
    Dynamic,
    /// `lanyard client add`.
    Operator,
}

impl ClientSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientSource::Dynamic => "dynamic",
            ClientSource::Operator => "operator",
        }
    }
}

impl FromStr for ClientSource {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "dynamic" => Ok(Self::Dynamic),
            "operator" => Ok(Self::Operator),
            _ => Err(UnknownValue::new("client source", s)),
        }
    }
}

/// A registered client. `metadata` is the full RFC 7591 metadata as registered (what DCR
/// echoes back); the typed fields are the ones Lanyard acts on.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub secret_hash: Option<String>,
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub auth_method: AuthMethod,
    /// Registered scope limit, if the client named one. Kept as the `scope` string.
    pub scope: Option<ScopeSet>,
    pub metadata: serde_json::Value,
    pub source: ClientSource,
    pub created_at: UnixTime,
}

/// A grant: what one authorization produced, and the family of refresh tokens it owns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub client_id: ClientId,
    pub sub: UserId,
    pub resource: ResourceUri,
    pub scopes: ScopeSet,
    pub auth_time: UnixTime,
    /// How the user signed in for this grant: every token of the family says so.
    pub amr: SignInMethods,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

/// What a user allowed one client for one resource, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub client_id: ClientId,
    pub resource: ResourceUri,
    pub scopes: ScopeSet,
    /// When the user first allowed it (a later widening keeps this).
    pub granted_at: UnixTime,
    /// The last mint for this user, client and resource: a code exchange or a refresh.
    pub last_used: Option<UnixTime>,
}

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published in JWKS, not yet signing: verifiers learn it before they meet it.
    Next,
    Current,
    /// No longer signing; published until every token it signed has expired.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }
}

impl FromStr for KeyState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "next" => Ok(Self::Next),
            "current" => Ok(Self::Current),
            "retired" => Ok(Self::Retired),
            _ => Err(UnknownValue::new("key state", s)),
        }
    }
}

#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// PKCS#8 DER of the private key.
    pub private_der: Vec<u8>,
    pub state: KeyState,
    pub created_at: UnixTime,
    pub retired_at: Option<UnixTime>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What an authorization code stands for until it is exchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingGrant {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: ResourceUri,
    pub scopes: ScopeSet,
    pub sub: UserId,
    pub auth_time: UnixTime,
    #[serde(default)]
    pub amr: SignInMethods,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub expires_at: UnixTime,
}

/// A validated authorization request waiting for login and consent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: ClientId,
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub scopes: ScopeSet,
    pub resource: ResourceUri,
    pub code_challenge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `prompt=login` or an exceeded `max_age`: a login newer than `created_at` is needed.
    pub force_login: bool,
    /// `prompt=consent`: ask even if consent is remembered.
    pub force_consent: bool,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// A browser session. Anonymous sessions exist too: they carry the CSRF token of the login
/// and registration forms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// How the signed-in user signed in.
    #[serde(default)]
    pub amr: SignInMethods,
    /// A browser between its password and its second factor (or the enrolment that
    /// `LANYARD_MFA=required` asks for): not signed in until that step is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halfway: Option<Halfway>,
    pub csrf: String,
    /// The authorization request this browser is in the middle of, for forms that post
    /// without carrying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// The account's session epoch when this session began; a later one ends it.
    #[serde(default)]
    pub epoch: i64,
    pub expires_at: UnixTime,
}

/// A sign-in that passed its password and waits for a second step. It lives only in a
/// short session record of its own, bound to the browser by that record's cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Halfway {
    pub sub: UserId,
    pub next: NextStep,
    /// The portal page the sign-in goes on to when no app asked for it, as `/login` was
    /// told (`?next=/account`); home when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing: Option<String>,
}

/// What a half-done sign-in still has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    /// Enter a code of the account's second factor.
    Code,
    /// Enrol a second factor, which every account must have (`LANYARD_MFA=required`).
    Enrol,
}

/// A user's TOTP factor. The secret is sealed under the operator's encryption key and bound
/// to the user, so a copied row opens for no one else.
#[derive(Clone)]
pub struct TotpFactor {
    pub sealed_secret: Vec<u8>,
    /// `None` while enrolment waits for the first code.
    pub confirmed_at: Option<UnixTime>,
    /// The last time step a code was accepted for: a code works once, even within its
    /// window.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A passkey registered to a user. `credential` is the WebAuthn verifier's own record of it
/// (public key, signature counter, backup flags) as JSON: the store keeps it as given and
/// never reads inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: PasskeyId,
    pub sub: UserId,
    /// What the user calls it ("Laptop", "Phone").
    pub name: String,
    pub credential: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

/// Who made an admin change: the operator's shell (`cli`) or an API client (its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Cli,
    Client(ClientId),
}

impl Actor {
    /// `cli`, or the client's id: the text the audit log keeps.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Cli => "cli",
            Actor::Client(id) => id.as_str(),
        }
    }
}

impl FromStr for Actor {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "cli" => Ok(Self::Cli),
            _ => ClientId::parse(s)
                .map(Self::Client)
                .map_err(|_| UnknownValue::new("actor", s)),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One admin change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Assigned by the store when it is recorded (increasing); 0 in a record to be written.
    pub id: i64,
    pub at: UnixTime,
    pub actor: Actor,
    /// What was done, e.g. `user.create`, `user.metadata.patch`, `client.secret.rotate`.
    pub action: String,
    /// What it was done to, e.g. a user id, a client id, a key id, a policy name.
    pub object: String,
    /// The admin request's id (`x-request-id`), none from the CLI.
    pub request_id: Option<String>,
    /// Anything else worth keeping, as a JSON object's text (never secrets).
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An actor is kept as `cli` or the client's id, and read back the same; text that is
    /// neither is refused.
    #[test]
    fn actors_read_back_as_written() {
        let app = Actor::Client(ClientId::parse("app-1").unwrap());
        for actor in [Actor::Cli, app] {
            assert_eq!(actor.as_str().parse::<Actor>().unwrap(), actor);
            let json = serde_json::to_value(&actor).unwrap();
            assert_eq!(json, serde_json::Value::String(actor.as_str().into()));
        }
        assert!("".parse::<Actor>().is_err());
        assert!("a\nb".parse::<Actor>().is_err());
    }
}
