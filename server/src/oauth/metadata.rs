//! Discovery: RFC 8414 authorization-server metadata, OIDC Discovery, and RFC 9728
//! protected-resource metadata. All computed once from the configuration and served as
//! bytes, so discovery costs no serialisation.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::config::{Config, ResourceConfig};
use crate::http::response::{Resp, json_bytes};
use crate::oauth::types::{EMAIL, OFFLINE_ACCESS, OPENID};

pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
pub const OIDC_CONFIG: &str = "/.well-known/openid-configuration";
pub const PRM: &str = "/.well-known/oauth-protected-resource";

/// The documents, ready to send.
#[derive(Debug)]
pub struct Discovery {
    authorization_server: Bytes,
    openid_configuration: Bytes,
    /// (path of the resource, e.g. "/mcp", document).
    resources: Vec<(String, Bytes)>,
    /// Path of the issuer ("" or "/tenant"), for the path-inserted well-known forms.
    issuer_path: String,
}

/// Every scope the server can grant: resource scopes, then the OIDC ones. Each is really
/// grantable (ChatGPT requests every advertised scope).
pub fn scopes_supported(config: &Config) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for r in &config.resources {
        for s in &r.scopes {
            if !all.iter().any(|x| x == s.as_str()) {
                all.push(s.as_str().to_string());
            }
        }
    }
    for s in [OPENID, EMAIL, OFFLINE_ACCESS] {
        if !all.iter().any(|x| x == s) {
            all.push(s.to_string());
        }
    }
    all
}

fn authorization_server(config: &Config) -> Value {
    let auth_methods = json!([
        "none",
        "client_secret_post",
        "client_secret_basic",
        "private_key_jwt"
    ]);
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.url("/oauth/authorize"),
        "token_endpoint": config.url("/oauth/token"),
        "registration_endpoint": config.url("/oauth/register"),
        "jwks_uri": config.url("/oauth/jwks"),
        "revocation_endpoint": config.url("/oauth/revoke"),
        "introspection_endpoint": config.url("/oauth/introspect"),
        "userinfo_endpoint": config.url("/oauth/userinfo"),
        "scopes_supported": scopes_supported(config),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "client_id_metadata_document_supported": config.cimd.enabled,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [config.signing_alg.as_str()],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "amr", "nonce", "email", "email_verified"],
        "service_documentation": config.url("/"),
    })
}

fn protected_resource(config: &Config, r: &ResourceConfig) -> Value {
    json!({
        "resource": r.uri.as_str(),
        "authorization_servers": [config.issuer],
        "scopes_supported": r.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "jwks_uri": config.url("/oauth/jwks"),
        "resource_name": r.name,
    })
}

impl Discovery {
    pub fn new(config: &Config) -> Self {
        let as_doc = authorization_server(config);
        let mut oidc = as_doc.clone();
        if let Value::Object(m) = &mut oidc {
            m.insert("claim_types_supported".into(), json!(["normal"]));
        }
        let issuer_path = url::Url::parse(&config.issuer)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let resources = config
            .resources
            .iter()
            .filter_map(|r| {
                let url = r.uri.url()?;
                // Only resources on our own origin can be described from here.
                let ours = config
                    .issuer
                    .starts_with(&url.origin().ascii_serialization());
                ours.then(|| {
                    (
                        url.path().trim_end_matches('/').to_string(),
                        Bytes::from(protected_resource(config, r).to_string()),
                    )
                })
            })
            .collect();
        Self {
            authorization_server: Bytes::from(as_doc.to_string()),
            openid_configuration: Bytes::from(oidc.to_string()),
            resources,
            issuer_path,
        }
    }

    /// The issuer's path ("" or "/tenant"), without a trailing slash.
    pub fn issuer_path(&self) -> &str {
        &self.issuer_path
    }

    /// Answers a `/.well-known/...` path, or 404 JSON: never an HTML page, which would send
    /// SDK discovery down the wrong branch.
    pub fn serve(&self, path: &str) -> Option<Resp> {
        let ip = &self.issuer_path;
        let doc = if path == format!("{AS_METADATA}{ip}") {
            &self.authorization_server
        } else if path == format!("{OIDC_CONFIG}{ip}") || path == OIDC_CONFIG {
            &self.openid_configuration
        } else if path == AS_METADATA && ip.is_empty() {
            &self.authorization_server
        } else if let Some(rest) = path.strip_prefix(PRM) {
            let rest = rest.trim_end_matches('/');
            // The root form describes the first (default) resource.
            let found = if rest.is_empty() {
                self.resources.first()
            } else {
                self.resources.iter().find(|(p, _)| p == rest)
            };
            &found?.1
        } else {
            return None;
        };
        let mut r = json_bytes(StatusCode::OK, doc.clone());
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=300"),
        );
        Some(r)
    }

    /// The RFC 9728 URL for a resource, as put in `WWW-Authenticate`.
    pub fn resource_metadata_url(config: &Config, r: &ResourceConfig) -> String {
        match r.uri.url() {
            Some(u) => format!(
                "{}{PRM}{}",
                u.origin().ascii_serialization(),
                u.path().trim_end_matches('/')
            ),
            None => config.url(PRM),
        }
    }
}
