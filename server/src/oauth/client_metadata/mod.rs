//! Client metadata (RFC 7591 §2), checked by one validator for every way a client arrives:
//! dynamic registration, a Client ID Metadata Document, and `lanyard client add`.
//! [`RawMetadata`] is what was sent; [`ClientMetadata`] is what passed, and its JSON is what
//! Lanyard stores and echoes (no nulls, nothing it did not check).
//!
//! The rules are the tolerant ones real MCP clients need (mcp-auth-requirements §6.7):
//! unknown members and grant types are dropped rather than refused, `scope: ""` means no
//! limit, and loopback or private-scheme redirects imply a native app.

use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use url::Url;

mod rules;

use self::rules::{
    application_type, auth_method, check_document, client_name, grant_types, keys, listed_methods,
    redirect_uris, scope, wants_client_credentials, web_url,
};
use super::cimd::AddressGuard;
use super::error::OAuthError;
use super::types::{AuthMethod, GrantType, RedirectUri, ScopeSet};
use crate::clock::UnixTime;
use crate::domain::ClientId;
use crate::secret::SecretHash;
use crate::store::{Client, ClientSource};

/// Why metadata was refused, in RFC 7591 §3.2.2's two codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// `invalid_redirect_uri`.
    #[error("{0}")]
    RedirectUri(String),
    /// `invalid_client_metadata`.
    #[error("{0}")]
    Invalid(String),
}

impl From<MetadataError> for OAuthError {
    fn from(e: MetadataError) -> Self {
        match e {
            MetadataError::RedirectUri(d) => OAuthError::InvalidRedirectUri(d),
            MetadataError::Invalid(d) => OAuthError::InvalidClientMetadata(d),
        }
    }
}

fn invalid(d: impl Into<String>) -> MetadataError {
    MetadataError::Invalid(d.into())
}

/// Where the metadata came from, which decides the few rules that differ.
#[derive(Debug, Clone, Copy)]
pub enum Profile<'a> {
    /// RFC 7591 dynamic registration.
    Registration,
    /// A metadata document fetched from `client_id` (draft-ietf-oauth-client-id-metadata-
    /// document): public, so it holds no secret, and it must name itself and its client.
    Document { client_id: &'a str },
    /// `lanyard client add`: an operator's client, which may serve resources instead of
    /// redirecting users (it then introspects their tokens and has no redirect URIs).
    Operator { resource_server: &'a [String] },
}

/// The members Lanyard reads; everything else is ignored. Loose types where a client may
/// send something odd that is refused with a precise message rather than a parse error.
#[derive(Debug, Default, Deserialize)]
pub struct RawMetadata {
    pub client_id: Option<Value>,
    pub redirect_uris: Option<Value>,
    pub token_endpoint_auth_method: Option<String>,
    /// ChatGPT's documents list the methods they can use instead of naming one.
    pub token_endpoint_auth_methods_supported: Option<Value>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub application_type: Option<String>,
    pub scope: Option<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub jwks_uri: Option<String>,
    pub jwks: Option<Value>,
    pub client_secret: Option<Value>,
    pub client_secret_expires_at: Option<Value>,
}

impl RawMetadata {
    /// Metadata from a JSON body, which must be an object: serde's derived `Deserialize`
    /// would also take an array of the members in order, which no client sends and only a
    /// probe would.
    pub fn from_json(body: &[u8]) -> Option<Self> {
        let object: serde_json::Map<String, Value> = serde_json::from_slice(body).ok()?;
        serde_json::from_value(Value::Object(object)).ok()
    }
}

/// OIDC DCR `application_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationType {
    Web,
    Native,
}

/// `response_types`: Lanyard serves the code flow only (OAuth 2.1 has no other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeOnly;

impl Serialize for CodeOnly {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(["code"])
    }
}

/// Metadata that passed validation.
#[derive(Debug, Clone, Serialize)]
pub struct ClientMetadata {
    #[serde(serialize_with = "redirect_strings")]
    pub redirect_uris: Vec<RedirectUri>,
    pub token_endpoint_auth_method: AuthMethod,
    /// Where a signing client's keys are; fetched under the metadata-document guards.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "url_string")]
    pub jwks_uri: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    pub grant_types: Vec<GrantType>,
    pub response_types: CodeOnly,
    pub application_type: ApplicationType,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "scope_string"
    )]
    pub scope: Option<ScopeSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The informational URLs, kept as sent (an http(s) URL each).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// Resources this client serves: it may introspect their tokens. Only an operator
    /// sets it; it is never read from a request.
    #[serde(
        rename = "lanyard_resource_server",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_server: Vec<String>,
    /// A signing client that also lists `none` in `token_endpoint_auth_methods_supported`
    /// (ChatGPT's documents list both and use what the server offers first): a metadata
    /// document's client is then served as a public one when it sends no assertion. Not
    /// stored: a registered client that signs always signs.
    #[serde(skip)]
    pub also_public: bool,
}

impl ClientMetadata {
    /// The one validator. `guard` checks a `jwks_uri` as strictly as a metadata document
    /// URL, since Lanyard fetches it later.
    pub fn validate(
        raw: RawMetadata,
        profile: Profile<'_>,
        guard: &AddressGuard,
    ) -> Result<Self, MetadataError> {
        if let Profile::Document { client_id } = profile {
            check_document(&raw, client_id)?;
        }
        let resource_server = match profile {
            Profile::Operator { resource_server } => resource_server.to_vec(),
            _ => Vec::new(),
        };
        let redirects_optional =
            !resource_server.is_empty() || wants_client_credentials(raw.grant_types.as_ref());
        let (redirect_uris, all_native) = redirect_uris(raw.redirect_uris, redirects_optional)?;
        let supported = listed_methods(raw.token_endpoint_auth_methods_supported.as_ref());
        let method = auth_method(
            raw.token_endpoint_auth_method.as_deref(),
            &supported,
            profile,
        )?;
        let grant_types = grant_types(raw.grant_types, !redirect_uris.is_empty(), method)?;
        if let Some(rt) = &raw.response_types
            && !rt.iter().any(|t| t == "code")
        {
            return Err(invalid("response_types must include code"));
        }
        let scope = scope(raw.scope.as_deref(), profile)?;
        let application_type = application_type(raw.application_type.as_deref(), all_native)?;
        let (jwks_uri, jwks) = keys(method, raw.jwks_uri, raw.jwks, guard)?;
        let client_name = client_name(raw.client_name, profile)?;
        Ok(Self {
            redirect_uris,
            token_endpoint_auth_method: method,
            jwks_uri,
            jwks,
            grant_types,
            response_types: CodeOnly,
            application_type,
            scope,
            client_name,
            client_uri: web_url("client_uri", raw.client_uri)?,
            logo_uri: web_url("logo_uri", raw.logo_uri)?,
            tos_uri: web_url("tos_uri", raw.tos_uri)?,
            policy_uri: web_url("policy_uri", raw.policy_uri)?,
            contacts: raw.contacts.unwrap_or_default(),
            software_id: raw.software_id.filter(|v| !v.is_empty()),
            software_version: raw.software_version.filter(|v| !v.is_empty()),
            resource_server,
            also_public: method == AuthMethod::PrivateKeyJwt
                && supported.contains(&AuthMethod::None),
        })
    }

    /// The JSON Lanyard stores and a registration response echoes.
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            // Every member serialises to JSON; a struct is always an object.
            _ => serde_json::Map::new(),
        }
    }

    /// The store's record of a client registered with this metadata.
    pub fn into_client(
        self,
        id: ClientId,
        secret: Option<&str>,
        source: ClientSource,
        created_at: UnixTime,
    ) -> Client {
        Client {
            id,
            secret_hash: secret.map(|s| SecretHash::of(s).as_str().to_string()),
            name: self.client_name.clone(),
            redirect_uris: self
                .redirect_uris
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            grant_types: self.grant_types.clone(),
            auth_method: self.token_endpoint_auth_method,
            scope: self.scope.clone(),
            metadata: Value::Object(self.to_json()),
            source,
            created_at,
        }
    }
}

fn redirect_strings<S: Serializer>(uris: &[RedirectUri], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(uris.iter().map(RedirectUri::as_str))
}

fn url_string<S: Serializer>(url: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_str(u.as_str()),
        None => s.serialize_none(),
    }
}

fn scope_string<S: Serializer>(scope: &Option<ScopeSet>, s: S) -> Result<S::Ok, S::Error> {
    match scope {
        Some(set) => s.collect_str(set),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(v: Value, profile: Profile<'_>) -> Result<ClientMetadata, MetadataError> {
        let raw: RawMetadata = serde_json::from_value(v).unwrap();
        ClientMetadata::validate(raw, profile, &AddressGuard::new(false))
    }

    const DOC: &str = "https://app.example/c.json";

    fn doc(extra: Value) -> Value {
        let mut d = json!({"client_id": DOC, "client_name": "App", "redirect_uris": ["https://app.example/cb"]});
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        d
    }

    #[test]
    fn registration_defaults_and_echo() {
        let m = check(
            json!({"redirect_uris": ["http://127.0.0.1/cb", "http://127.0.0.1/cb"], "scope": "",
                   "client_name": "  Tool  ", "jwks_uri": "ftp://ignored"}),
            Profile::Registration,
        )
        .unwrap();
        assert_eq!(
            Value::Object(m.to_json()),
            json!({
                "redirect_uris": ["http://127.0.0.1/cb"],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "application_type": "native",
                "client_name": "Tool",
            })
        );
    }

    #[test]
    fn the_same_rules_refuse_the_same_faults_everywhere() {
        let faults = [
            (
                json!({"redirect_uris": ["http://evil.example/cb"]}),
                MetadataError::RedirectUri(
                    "http://evil.example/cb: http redirect URIs are allowed only for loopback hosts"
                        .into(),
                ),
            ),
            (
                json!({"redirect_uris": []}),
                MetadataError::RedirectUri("redirect_uris must be a non-empty array".into()),
            ),
            (
                json!({"grant_types": ["implicit"]}),
                invalid("grant_types must include authorization_code"),
            ),
            (
                json!({"logo_uri": "javascript:x"}),
                invalid("logo_uri must be an http(s) URL"),
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}),
                invalid("jwks has no keys"),
            ),
            (
                json!({"client_name": "x".repeat(201)}),
                invalid("client_name is too long"),
            ),
        ];
        for (patch, want) in faults {
            let mut reg = json!({"redirect_uris": ["https://app.example/cb"]});
            reg.as_object_mut()
                .unwrap()
                .extend(patch.as_object().unwrap().clone());
            assert_eq!(
                check(reg, Profile::Registration).unwrap_err(),
                want,
                "{patch}"
            );
            assert_eq!(
                check(doc(patch.clone()), Profile::Document { client_id: DOC }).unwrap_err(),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn documents_name_themselves_and_hold_no_secret() {
        let as_doc = |v| check(v, Profile::Document { client_id: DOC });
        let m = as_doc(doc(json!({}))).unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::None);
        for (patch, want) in [
            (
                json!({"client_id": "https://evil.example/c.json"}),
                "client_id does not equal the document URL",
            ),
            (
                json!({"client_secret": "s"}),
                "a metadata document must not carry a client secret",
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_post"}),
                "shared-secret authentication is not allowed for metadata documents",
            ),
            (json!({"client_name": " "}), "client_name is required"),
        ] {
            assert_eq!(as_doc(doc(patch)).unwrap_err(), invalid(want));
        }
        // ChatGPT's document lists both methods and names none.
        let m = as_doc(doc(json!({
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "jwks_uri": "https://app.example/jwks.json"
        })))
        .unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::PrivateKeyJwt);
        assert!(m.also_public);
        assert_eq!(
            m.jwks_uri.unwrap().as_str(),
            "https://app.example/jwks.json"
        );
        let blocked = as_doc(doc(json!({
            "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://10.0.0.1/k.json"
        })));
        assert_eq!(
            blocked.unwrap_err(),
            invalid("jwks_uri: client_id URL is not acceptable: host is a special-use address")
        );
    }

    #[test]
    fn an_operator_client_may_only_serve_resources() {
        let servers = ["https://api.example/mcp".to_string()];
        let m = check(
            json!({"client_name": "API", "token_endpoint_auth_method": "client_secret_basic"}),
            Profile::Operator {
                resource_server: &servers,
            },
        )
        .unwrap();
        assert!(m.redirect_uris.is_empty() && m.grant_types.is_empty());
        assert_eq!(
            m.to_json()["lanyard_resource_server"],
            json!(["https://api.example/mcp"])
        );
        // A request cannot make itself a resource server.
        let reg = check(
            json!({"redirect_uris": ["https://app.example/cb"], "lanyard_resource_server": ["x"]}),
            Profile::Registration,
        )
        .unwrap();
        assert!(reg.to_json().get("lanyard_resource_server").is_none());
        assert_eq!(
            check(
                json!({}),
                Profile::Operator {
                    resource_server: &[]
                }
            )
            .unwrap_err(),
            MetadataError::RedirectUri("redirect_uris is required".into())
        );
    }
}
