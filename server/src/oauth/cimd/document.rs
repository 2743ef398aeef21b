//! A fetched metadata document, checked by the one client-metadata validator and turned
//! into the client it describes.

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use url::Url;

use super::{AddressGuard, CimdError};
use crate::oauth::client_metadata::{ClientMetadata, Profile, RawMetadata};
use crate::oauth::types::{AuthMethod, GrantType, RedirectUri};

/// A fetched, validated document.
#[derive(Debug, Clone)]
pub struct CimdClient {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<String>,
    pub scope: Option<String>,
    /// The host of the client_id URL: what the consent page shows (MCP: MUST display).
    pub host: String,
    /// How it authenticates at the token endpoint.
    pub auth: CimdAuth,
}

/// How a metadata-document client authenticates. Such a client holds no shared secret, so
/// it is public or proves itself with signed assertions (RFC 7523, `private_key_jwt`).
#[derive(Debug, Clone, PartialEq)]
pub enum CimdAuth {
    None,
    PrivateKeyJwt {
        keys: KeySource,
        /// The document also lists `none` (ChatGPT's lists both and uses what the server
        /// offers first): a request without an assertion is then served as a public one.
        also_none: bool,
    },
}

/// Where a client's public keys are.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    Inline(Arc<JwkSet>),
    Url(Url),
}

/// The client that the document at `client_id` (on `host`) describes.
pub fn parse(
    client_id: &str,
    host: String,
    body: &[u8],
    guard: &AddressGuard,
) -> Result<CimdClient, CimdError> {
    let raw = RawMetadata::from_json(body)
        .ok_or_else(|| CimdError::Invalid("not a JSON object".into()))?;
    let m = ClientMetadata::validate(raw, Profile::Document { client_id }, guard)?;
    let auth = match (m.token_endpoint_auth_method, m.jwks_uri, m.jwks) {
        (AuthMethod::PrivateKeyJwt, Some(url), _) => CimdAuth::PrivateKeyJwt {
            keys: KeySource::Url(url),
            also_none: m.also_public,
        },
        (AuthMethod::PrivateKeyJwt, None, Some(set)) => CimdAuth::PrivateKeyJwt {
            keys: KeySource::Inline(Arc::new(set)),
            also_none: m.also_public,
        },
        _ => CimdAuth::None,
    };
    Ok(CimdClient {
        client_id: client_id.to_string(),
        // The validator requires a name in a document.
        client_name: m.client_name.unwrap_or_else(|| host.clone()),
        redirect_uris: m.redirect_uris,
        grant_types: m
            .grant_types
            .iter()
            .map(|g| GrantType::as_str(*g).to_string())
            .collect(),
        scope: m.scope.map(|s| s.to_string()),
        host,
        auth,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const ID: &str = "https://app.example/c.json";

    fn doc(extra: Value) -> Result<CimdClient, CimdError> {
        let mut d = json!({
            "client_id": ID, "client_name": "App", "redirect_uris": ["https://app.example/cb"]
        });
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let body = serde_json::to_vec(&d).unwrap();
        parse(ID, "app.example".into(), &body, &AddressGuard::new(false))
    }

    #[test]
    fn documents_are_validated() {
        let ok = doc(json!({})).unwrap();
        assert_eq!(
            (ok.client_name.as_str(), &ok.auth),
            ("App", &CimdAuth::None)
        );
        assert_eq!(ok.grant_types, ["authorization_code", "refresh_token"]);
        // A signing client must say where its keys are; ChatGPT's lists `none` too.
        let signing = |extra: Value| {
            let mut d = json!({
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"]
            });
            d.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            doc(d)
        };
        let keys = "https://app.example/jwks.json";
        assert_eq!(
            signing(json!({"jwks_uri": keys})).unwrap().auth,
            CimdAuth::PrivateKeyJwt {
                keys: KeySource::Url(Url::parse(keys).unwrap()),
                also_none: true
            }
        );
        assert!(matches!(signing(json!({})), Err(CimdError::Invalid(_))));
        assert_eq!(
            signing(json!({"jwks": {"keys": "no"}})).unwrap_err(),
            CimdError::Invalid("jwks is not a JWK set".into())
        );
        // A public client's key set is not read at all.
        let public = doc(json!({"jwks": {"keys": "no"}, "jwks_uri": "ftp://odd"}));
        assert_eq!(public.unwrap().auth, CimdAuth::None);
        let not_json = parse(ID, "h".into(), b"<html>", &AddressGuard::new(false));
        assert_eq!(
            not_json.unwrap_err(),
            CimdError::Invalid("not a JSON object".into())
        );
        assert!(doc(json!({"client_secret": "s"})).is_err());
        assert!(doc(json!({"redirect_uris": ["http://evil.example/cb"]})).is_err());
    }
}
