//! What a policy is asked about: the user, the client, the resource, the scopes, and the
//! binding's config, as plain Rust values. The operator-shaped parts (user metadata and
//! config) stay JSON text until a policy reads them into its own types.

use std::fmt;

use serde::Deserialize;

/// The OAuth grant being redeemed at the token phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// A code exchange: the first tokens after consent.
    AuthorizationCode,
    /// A refresh-token rotation: where a changed tier or a lapsed subscription bites.
    RefreshToken,
    /// A confidential client's token for itself (RFC 6749 §4.4): no user is involved
    /// ([`Request::user`] is `None`), and the token's `sub` is the client's id.
    ClientCredentials,
}

/// The signed-in user the tokens are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable user id, the access token's `sub`; never the email.
    pub sub: String,
    /// The user's email address.
    pub email: String,
    /// Whether an operator vouched for the email; self-registered accounts are unverified.
    /// Never trust the domain of an unverified email.
    pub email_verified: bool,
    /// Operator-defined metadata as JSON text; read it with [`Request::metadata`].
    pub metadata: String,
    /// How the user signed in, as RFC 8176 authentication method references (the access
    /// token's `amr`): `pwd` (a password), `otp` (a one-time code: TOTP or a recovery
    /// code), `mfa` (more than one factor). Check with [`User::signed_in_with`].
    pub amr: Vec<String>,
    /// When the user signed in, in Unix seconds (the access token's `auth_time`). At a
    /// refresh it is still the sign-in that made the grant: compare it with [`Request::now`].
    pub auth_time: i64,
}

impl User {
    /// Whether the sign-in used `method`, an RFC 8176 name such as `"mfa"` or `"otp"`.
    pub fn signed_in_with(&self, method: &str) -> bool {
        self.amr.iter().any(|m| m == method)
    }
}

/// The OAuth client (the MCP app) asking for access.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Client {
    /// The `client_id` issued at registration.
    pub id: String,
    /// The `client_name` the client registered.
    pub name: String,
}

/// Everything a policy sees about one call.
///
/// In tests, start from [`Request::default`] and the `with_*` helpers:
///
/// ```
/// use lanyard_policy::{GrantType, Request};
/// let req = Request::default()
///     .with_grant_type(GrantType::RefreshToken)
///     .with_resource("https://api.example.com/mcp")
///     .with_scopes(["read", "write"])
///     .with_metadata(serde_json::json!({"tiers": {"https://api.example.com/mcp": "pro"}}));
/// assert!(req.has_scope("write"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The grant at the token phase; `None` at the consent phase.
    pub grant_type: Option<GrantType>,
    /// The user the tokens are for; `None` for [`GrantType::ClientCredentials`], where the
    /// client acts for itself.
    pub user: Option<User>,
    /// The client asking for them.
    pub client: Client,
    /// The RFC 8707 resource indicator (the MCP server URI) the token is for.
    pub resource: String,
    /// At consent the scopes the client asked for; at the token phase those about to be granted.
    pub scopes: Vec<String>,
    /// This binding's config as JSON text; read it with [`Request::config`].
    pub config: String,
    /// The current time in Unix seconds; a policy has no other clock.
    pub now: i64,
}

impl Default for User {
    fn default() -> Self {
        Self {
            sub: String::new(),
            email: String::new(),
            email_verified: false,
            metadata: EMPTY_OBJECT.to_owned(),
            amr: vec!["pwd".to_owned()],
            auth_time: 0,
        }
    }
}

impl Default for Request {
    fn default() -> Self {
        Self {
            grant_type: None,
            user: Some(User::default()),
            client: Client::default(),
            resource: String::new(),
            scopes: Vec::new(),
            config: EMPTY_OBJECT.to_owned(),
            now: 0,
        }
    }
}

const EMPTY_OBJECT: &str = "{}";

impl Request {
    /// Reads the user's metadata into `T`, any type serde can deserialize from JSON (as with
    /// `serde_json::from_str`).
    ///
    /// Blank metadata reads as `{}`, so a struct whose fields all have defaults accepts a
    /// user the operator never annotated; so does a request with no user (client
    /// credentials).
    pub fn metadata<'a, T: Deserialize<'a>>(&'a self) -> Result<T, InputError> {
        let text = self
            .user
            .as_ref()
            .map_or(EMPTY_OBJECT, |u| u.metadata.as_str());
        parse(text, InputSource::Metadata)
    }

    /// Who the token speaks for: the user's `sub`, or the client's id when it acts for
    /// itself (client credentials). For log lines.
    pub fn subject(&self) -> &str {
        self.user
            .as_ref()
            .map_or(self.client.id.as_str(), |u| u.sub.as_str())
    }

    /// Whether the user signed in with `method`, an RFC 8176 name such as `"mfa"`; false
    /// when there is no user (client credentials).
    pub fn signed_in_with(&self, method: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.signed_in_with(method))
    }

    /// The user, made (with defaults) if the request has none: for building test requests.
    pub fn user_mut(&mut self) -> &mut User {
        self.user.get_or_insert_with(User::default)
    }

    /// Reads the user's metadata as an untyped JSON value.
    pub fn metadata_value(&self) -> Result<serde_json::Value, InputError> {
        self.metadata()
    }

    /// Reads this binding's config into `T`, as [`Request::metadata`] reads the metadata.
    /// Blank config reads as `{}`.
    pub fn config<'a, T: Deserialize<'a>>(&'a self) -> Result<T, InputError> {
        parse(&self.config, InputSource::Config)
    }

    /// Reads this binding's config as an untyped JSON value.
    pub fn config_value(&self) -> Result<serde_json::Value, InputError> {
        self.config()
    }

    /// Whether `scope` is among the scopes in play.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether this is the consent phase (no grant is being redeemed yet).
    pub fn is_consent(&self) -> bool {
        self.grant_type.is_none()
    }

    /// Sets the grant type, which makes this a token-phase request.
    #[must_use]
    pub fn with_grant_type(mut self, grant_type: GrantType) -> Self {
        self.grant_type = Some(grant_type);
        self
    }

    /// Sets the user's `sub`.
    #[must_use]
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.user_mut().sub = sub.into();
        self
    }

    /// Sets the user's email.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.user_mut().email = email.into();
        self
    }

    /// Marks the user's email as verified (or not).
    #[must_use]
    pub fn with_email_verified(mut self, verified: bool) -> Self {
        self.user_mut().email_verified = verified;
        self
    }

    /// Sets the user's metadata from a JSON value.
    #[must_use]
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.user_mut().metadata = metadata.to_string();
        self
    }

    /// Sets how and when the user signed in: RFC 8176 names, and Unix seconds.
    #[must_use]
    pub fn with_sign_in<S: Into<String>>(
        mut self,
        amr: impl IntoIterator<Item = S>,
        auth_time: i64,
    ) -> Self {
        let user = self.user_mut();
        user.amr = amr.into_iter().map(Into::into).collect();
        user.auth_time = auth_time;
        self
    }

    /// Takes the user away and makes this a client-credentials request, where the client
    /// acts for itself.
    #[must_use]
    pub fn without_user(mut self) -> Self {
        self.user = None;
        self.grant_type = Some(GrantType::ClientCredentials);
        self
    }

    /// Sets the client's id and name.
    #[must_use]
    pub fn with_client(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.client = Client {
            id: id.into(),
            name: name.into(),
        };
        self
    }

    /// Sets the resource indicator.
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    /// Sets the scopes in play.
    #[must_use]
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the binding's config from a JSON value.
    #[must_use]
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.config = config.to_string();
        self
    }

    /// Sets the current time in Unix seconds.
    #[must_use]
    pub fn with_now(mut self, now: i64) -> Self {
        self.now = now;
        self
    }
}

fn parse<'a, T: Deserialize<'a>>(text: &'a str, input: InputSource) -> Result<T, InputError> {
    let text = if text.trim().is_empty() {
        EMPTY_OBJECT
    } else {
        text
    };
    serde_json::from_str(text).map_err(|e| InputError {
        input,
        detail: e.to_string(),
    })
}

/// Which operator-shaped input could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource {
    /// The user's metadata: a per-user problem, fixed through the admin API or CLI.
    Metadata,
    /// The binding's config: a deployment problem, fixed in `lanyard.toml`.
    Config,
}

/// User metadata or binding config that does not have the shape a policy expects.
///
/// Turn it into a decision with `.into()`: that denies with a user-facing reason that names
/// no internals, and logs the parser's detail for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    input: InputSource,
    detail: String,
}

impl InputError {
    /// Reports user metadata that parsed but makes no sense, e.g. an empty id.
    pub fn metadata(detail: impl Into<String>) -> Self {
        Self {
            input: InputSource::Metadata,
            detail: detail.into(),
        }
    }

    /// Reports binding config that parsed but makes no sense, e.g. a default naming no tier.
    pub fn config(detail: impl Into<String>) -> Self {
        Self {
            input: InputSource::Config,
            detail: detail.into(),
        }
    }

    /// Which input was malformed.
    pub fn input(&self) -> InputSource {
        self.input
    }

    /// The reason shown to the user. It stays vague on purpose: the user cannot fix either
    /// input, and parser messages would leak the operator's data layout.
    pub fn user_reason(&self) -> &'static str {
        match self.input {
            InputSource::Metadata => {
                "Your account settings could not be read. Please contact the administrator."
            }
            InputSource::Config => {
                "This service's access policy is misconfigured. Please contact the administrator."
            }
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.input {
            InputSource::Metadata => write!(f, "user metadata is malformed: {}", self.detail),
            InputSource::Config => write!(f, "binding config is malformed: {}", self.detail),
        }
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Meta {
        tier: Option<String>,
    }

    #[test]
    fn metadata_reads_into_a_struct() {
        let req = Request::default().with_metadata(json!({"tier": "pro"}));
        assert_eq!(
            req.metadata::<Meta>(),
            Ok(Meta {
                tier: Some("pro".into())
            })
        );
    }

    #[test]
    fn blank_metadata_reads_as_an_empty_object() {
        let mut req = Request::default();
        req.user_mut().metadata = "  ".into();
        assert_eq!(req.metadata::<Meta>(), Ok(Meta::default()));
        assert_eq!(req.metadata_value(), Ok(json!({})));
    }

    #[test]
    fn malformed_metadata_is_an_error_naming_its_source() {
        let mut req = Request::default();
        req.user_mut().metadata = "{not json".into();
        let Err(err) = req.metadata::<Meta>() else {
            panic!("should not parse");
        };
        assert_eq!(err.input(), InputSource::Metadata);
        assert!(err.to_string().starts_with("user metadata is malformed: "));
        assert!(
            !err.user_reason().contains("line"),
            "no parser detail for users"
        );
    }

    #[test]
    fn strings_with_json_escapes_read_as_their_text() {
        #[derive(Debug, Deserialize)]
        struct Names {
            names: Vec<String>,
        }
        let req = Request {
            config: r#"{"names": ["pro", "a\"b", "caf\u00e9"]}"#.into(),
            ..Request::default()
        };
        let config = req.config::<Names>().expect("config parses");
        assert_eq!(config.names, ["pro", "a\"b", "caf\u{e9}"]);
    }

    #[test]
    fn config_of_the_wrong_shape_is_an_error() {
        let req = Request::default().with_config(json!({"tier": 3}));
        let Err(err) = req.config::<Meta>() else {
            panic!("should not parse");
        };
        assert_eq!(err.input(), InputSource::Config);
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn policies_can_report_semantic_errors_the_same_way() {
        let err = InputError::config("default tier \"gold\" is not in tiers");
        assert_eq!(err.input(), InputSource::Config);
        assert_eq!(
            err.to_string(),
            "binding config is malformed: default tier \"gold\" is not in tiers"
        );
        assert_eq!(InputError::metadata("x").input(), InputSource::Metadata);
    }

    #[test]
    fn builders_fill_the_fields_a_policy_reads() {
        let req = Request::default()
            .with_grant_type(GrantType::AuthorizationCode)
            .with_sub("u1")
            .with_email("ada@example.com")
            .with_client("c1", "Claude")
            .with_resource("https://api.example.com/mcp")
            .with_scopes(["read"])
            .with_now(1_700_000_000);
        assert!(!req.is_consent());
        assert!(req.has_scope("read") && !req.has_scope("write"));
        assert_eq!(req.user.as_ref().map(|u| u.sub.as_str()), Some("u1"));
        assert_eq!(req.client.name, "Claude");
        assert_eq!(req.now, 1_700_000_000);
        assert_eq!(req.config_value(), Ok(json!({})));
    }
}
