//! RFC 7591 dynamic client registration, tolerant in the ways real MCP clients need
//! (mcp-auth-requirements §6.7): unknown scopes are narrowed away rather than refused,
//! `scope: ""` means "no limit", loopback redirects imply a native app, and the response
//! echoes what was stored with no JSON nulls and integer times.

use http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::OAuthError;
use super::metadata::scopes_supported;
use super::types::{RedirectKind, RedirectUri, ScopeSet};
use crate::app::App;
use crate::domain::{AuthMethod, ClientId, GrantType};
use crate::http::Req;
use crate::http::response::{Resp, json as json_resp, no_store};
use crate::secret::SecretHash;
use crate::store::{Client, ClientSource, StoreError};

/// The metadata we act on; everything else in the request is ignored.
#[derive(Debug, Deserialize)]
struct Request {
    redirect_uris: Option<Value>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    tos_uri: Option<String>,
    policy_uri: Option<String>,
    contacts: Option<Vec<String>>,
    scope: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
    application_type: Option<String>,
    jwks_uri: Option<String>,
    jwks: Option<Value>,
}

const AUTH_METHODS: [&str; 4] = [
    "none",
    "client_secret_post",
    "client_secret_basic",
    "private_key_jwt",
];
const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

fn meta_err(d: impl Into<String>) -> OAuthError {
    OAuthError::InvalidClientMetadata(d.into())
}

pub async fn handle(app: &App, req: &Req) -> Result<Resp, OAuthError> {
    let body: Request = serde_json::from_slice(&req.body)
        .map_err(|_| meta_err("the body must be a JSON object of client metadata"))?;
    let registration = Registration::validate(app, body)?;
    let now = app.now();
    let client_id = ClientId::generate(app.random.as_ref());
    let secret = registration
        .auth_method
        .starts_with("client_secret")
        .then(|| app.random.token());
    let client = Client {
        id: client_id.clone(),
        secret_hash: secret
            .as_deref()
            .map(|s| SecretHash::of(s).as_str().to_string()),
        name: registration
            .metadata
            .get("client_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        redirect_uris: registration.redirect_uris.clone(),
        grant_types: registration
            .grant_types
            .iter()
            .filter_map(|g| GrantType::parse(g).ok())
            .collect(),
        auth_method: AuthMethod::parse(&registration.auth_method)
            .map_err(|e| meta_err(e.to_string()))?,
        scope: registration
            .scope
            .as_deref()
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|e| meta_err(e.to_string()))?,
        metadata: Value::Object(registration.metadata.clone()),
        source: ClientSource::Dynamic,
        created_at: now,
    };
    match app.stores.clients.create_client(&client).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(OAuthError::server("client id collision")),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(client_id = %client_id, name = ?client.name, "client registered");
    let mut out = registration.metadata;
    out.insert("client_id".into(), json!(client_id));
    out.insert("client_id_issued_at".into(), json!(now));
    if let Some(secret) = secret {
        out.insert("client_secret".into(), json!(secret));
        // 0: never expires. Claude and the SDKs keep using a secret they were given.
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    Ok(no_store(json_resp(
        StatusCode::CREATED,
        &Value::Object(out),
    )))
}

/// A registration request that passed validation, with the values we substituted.
#[derive(Debug)]
struct Registration {
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    auth_method: String,
    scope: Option<String>,
    /// What we echo back (and store): only well-formed, known members.
    metadata: Map<String, Value>,
}

impl Registration {
    fn validate(app: &App, r: Request) -> Result<Self, OAuthError> {
        let uris = match r.redirect_uris {
            Some(Value::Array(items)) if !items.is_empty() => items,
            Some(_) => {
                return Err(OAuthError::InvalidRedirectUri(
                    "redirect_uris must be a non-empty array".into(),
                ));
            }
            None => {
                return Err(OAuthError::InvalidRedirectUri(
                    "redirect_uris is required".into(),
                ));
            }
        };
        let mut redirect_uris = Vec::new();
        let mut all_native = true;
        for u in &uris {
            let s = u.as_str().ok_or_else(|| {
                OAuthError::InvalidRedirectUri("redirect_uris must be strings".into())
            })?;
            let parsed = RedirectUri::parse(s)
                .map_err(|e| OAuthError::InvalidRedirectUri(format!("{s}: {e}")))?;
            let kind = parsed
                .kind()
                .map_err(|e| OAuthError::InvalidRedirectUri(format!("{s}: {e}")))?;
            all_native &= kind != RedirectKind::Https;
            if !redirect_uris.contains(&s.to_string()) {
                redirect_uris.push(s.to_string());
            }
        }

        let auth_method = match r.token_endpoint_auth_method.as_deref() {
            // RFC 7591 §2: the default is client_secret_basic.
            None => "client_secret_basic".to_string(),
            Some(m) if AUTH_METHODS.contains(&m) => m.to_string(),
            Some(m) => {
                return Err(meta_err(format!(
                    "unsupported token_endpoint_auth_method {m:?}"
                )));
            }
        };

        let grant_types: Vec<String> = match r.grant_types {
            None => GRANT_TYPES.iter().map(|s| s.to_string()).collect(),
            Some(list) => {
                let kept: Vec<String> = list
                    .into_iter()
                    .filter(|g| GRANT_TYPES.contains(&g.as_str()))
                    .collect();
                if !kept.iter().any(|g| g == "authorization_code") {
                    return Err(meta_err("grant_types must include authorization_code"));
                }
                kept
            }
        };
        if let Some(rt) = &r.response_types
            && !rt.iter().any(|t| t == "code")
        {
            return Err(meta_err("response_types must include code"));
        }

        // Unknown scopes are narrowed away; nothing left (or "") means no limit.
        let supported =
            ScopeSet::parse(&scopes_supported(&app.config).join(" ")).unwrap_or_default();
        let scope = match r.scope.as_deref().map(ScopeSet::parse) {
            Some(Ok(requested)) => Some(requested.intersect(&supported)).filter(|s| !s.is_empty()),
            Some(Err(_)) => return Err(meta_err("scope is malformed")),
            None => None,
        }
        .map(|s| s.to_string());

        let application_type = match r.application_type.as_deref() {
            Some(t @ ("web" | "native")) => t.to_string(),
            Some(t) => return Err(meta_err(format!("unknown application_type {t:?}"))),
            None if all_native => "native".to_string(),
            None => "web".to_string(),
        };

        let mut m = Map::new();
        m.insert("redirect_uris".into(), json!(redirect_uris));
        m.insert("token_endpoint_auth_method".into(), json!(auth_method));
        // A client that signs assertions names its keys, one way (RFC 7591 §2); the URL
        // is fetched later under the same guards as a metadata document.
        match (auth_method == "private_key_jwt", r.jwks_uri, r.jwks) {
            (true, Some(uri), None) => {
                let url = app
                    .cimd
                    .check_url(&uri)
                    .map_err(|e| meta_err(format!("jwks_uri: {e}")))?;
                m.insert("jwks_uri".into(), json!(url.as_str()));
            }
            (true, None, Some(jwks)) => {
                let set: JwkSet = serde_json::from_value(jwks.clone())
                    .map_err(|_| meta_err("jwks is not a JWK set"))?;
                if set.keys.is_empty() {
                    return Err(meta_err("jwks has no keys"));
                }
                m.insert("jwks".into(), jwks);
            }
            (true, None, None) => {
                return Err(meta_err("private_key_jwt needs jwks_uri or jwks"));
            }
            (_, Some(_), Some(_)) => return Err(meta_err("jwks_uri and jwks are exclusive")),
            // Keys of a client that does not sign are not kept.
            (false, _, _) => {}
        }
        m.insert("grant_types".into(), json!(grant_types));
        m.insert("response_types".into(), json!(["code"]));
        m.insert("application_type".into(), json!(application_type));
        if let Some(s) = &scope {
            m.insert("scope".into(), json!(s));
        }
        if let Some(n) = r
            .client_name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
        {
            if n.chars().count() > 200 {
                return Err(meta_err("client_name is too long"));
            }
            m.insert("client_name".into(), json!(n));
        }
        for (key, value) in [
            ("client_uri", r.client_uri),
            ("logo_uri", r.logo_uri),
            ("tos_uri", r.tos_uri),
            ("policy_uri", r.policy_uri),
        ] {
            // SDK parsers reject a non-URL here, so a bad one is refused rather than echoed.
            match value.filter(|v| !v.is_empty()) {
                Some(v)
                    if url::Url::parse(&v)
                        .is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http") =>
                {
                    m.insert(key.into(), json!(v));
                }
                Some(_) => return Err(meta_err(format!("{key} must be an http(s) URL"))),
                None => {}
            }
        }
        if let Some(c) = r.contacts.filter(|c| !c.is_empty()) {
            m.insert("contacts".into(), json!(c));
        }
        for (key, value) in [
            ("software_id", r.software_id),
            ("software_version", r.software_version),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                m.insert(key.into(), json!(v));
            }
        }
        Ok(Self {
            redirect_uris,
            grant_types,
            auth_method,
            scope,
            metadata: m,
        })
    }
}
