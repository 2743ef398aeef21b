//! Client metadata as JSON: a dynamic registration's body and a fetched metadata document
//! go through [`RawMetadata::from_json`] and the one validator. The input is the body.
//!
//! What passes must keep every documented rule (checked here on the JSON as sent, not on
//! the validator's own reading of it), and what Lanyard stores must pass again unchanged.

use lanyard::oauth::OAuthError;
use lanyard::oauth::cimd::AddressGuard;
use lanyard::oauth::client_metadata::{ClientMetadata, Profile, RawMetadata};
use lanyard::oauth::types::{AuthMethod, GrantType, RedirectUri, Scope};
use serde_json::{Map, Value};

/// A document URL the address guard accepts, for documents that name another one.
const DOCUMENT: &str = "https://app.example/oauth/client.json";
/// What a client's name may hold, in characters, once trimmed.
const MAX_NAME_CHARS: usize = 100;

pub fn run(data: &[u8]) {
    if RawMetadata::from_json(data).is_none() {
        return;
    }
    let Ok(Value::Object(sent)) = serde_json::from_slice::<Value>(data) else {
        panic!("from_json took a body that is not a JSON object");
    };
    let guard = AddressGuard::new(false);
    let named = sent
        .get("client_id")
        .and_then(Value::as_str)
        .filter(|id| guard.check_url(id).is_ok());
    let servers = ["https://api.example/mcp".to_string()];
    let mut profiles = vec![
        Profile::Registration,
        Profile::Document {
            client_id: DOCUMENT,
        },
        Profile::Operator {
            resource_server: &servers,
        },
    ];
    if let Some(id) = named {
        profiles.push(Profile::Document { client_id: id });
    }
    for profile in profiles {
        // The validator takes the metadata by value: each profile reads the body afresh.
        let Some(raw) = RawMetadata::from_json(data) else {
            panic!("from_json is not deterministic");
        };
        match ClientMetadata::validate(raw, profile, &guard) {
            Ok(m) => {
                keeps_the_rules(&m, &sent, profile, &guard);
                stored_form_passes_again(&m, profile, &guard);
            }
            Err(e) => {
                let e = OAuthError::from(e);
                assert_eq!(e.response().status(), http::StatusCode::BAD_REQUEST, "{e}");
            }
        }
    }
}

/// The rules of RFC 7591, the metadata-document draft and Lanyard's own limits, on the
/// members as sent.
fn keeps_the_rules(
    m: &ClientMetadata,
    sent: &Map<String, Value>,
    profile: Profile<'_>,
    guard: &AddressGuard,
) {
    let document = match profile {
        Profile::Document { client_id } => Some(client_id),
        _ => None,
    };
    let serves = matches!(profile, Profile::Operator { .. });
    // Redirect URIs: as sent, each once, none that no client may register. Only a
    // resource server or a client acting for itself (client credentials, and nothing else,
    // with a credential) has none.
    if m.redirect_uris.is_empty() && !serves {
        assert_eq!(
            m.grant_types,
            [GrantType::ClientCredentials],
            "no redirect URI"
        );
        assert_ne!(m.token_endpoint_auth_method, AuthMethod::None);
    }
    let listed: Vec<&str> = sent
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (i, uri) in m.redirect_uris.iter().enumerate() {
        assert!(
            listed.contains(&uri.as_str()),
            "{:?} was not sent",
            uri.as_str()
        );
        let Ok(again) = RedirectUri::parse(uri.as_str()) else {
            panic!("{:?} does not parse", uri.as_str());
        };
        assert!(
            again.kind().is_ok(),
            "{:?} cannot be registered",
            uri.as_str()
        );
        assert!(
            !uri.as_str().contains('#'),
            "{:?} has a fragment",
            uri.as_str()
        );
        assert!(
            !m.redirect_uris[..i]
                .iter()
                .any(|u| u.as_str() == uri.as_str()),
            "{:?} twice",
            uri.as_str()
        );
    }
    // A document names itself and holds no secret.
    if let Some(id) = document {
        assert_eq!(sent.get("client_id").and_then(Value::as_str), Some(id));
        for secret in ["client_secret", "client_secret_expires_at"] {
            assert!(
                sent.get(secret).is_none_or(Value::is_null),
                "a document with {secret}"
            );
        }
        assert!(!m.token_endpoint_auth_method.uses_secret());
        assert!(m.client_name.is_some(), "a document without a name");
    }
    // The name the consent page shows.
    if let Some(name) = &m.client_name {
        assert!(!name.is_empty() && name.trim() == name, "{name:?}");
        assert!(name.chars().count() <= MAX_NAME_CHARS, "{name:?}");
    }
    // Scopes, grants and response types.
    if let Some(scope) = &m.scope {
        assert!(!scope.is_empty());
        for s in scope.iter() {
            assert!(Scope::parse(s.as_str()).is_ok(), "{s:?}");
            // The admin API's scopes are the operator's to give.
            assert!(serves || !s.as_str().starts_with("admin:"), "{s:?}");
        }
    }
    if !m.redirect_uris.is_empty() {
        assert!(m.grant_types.contains(&GrantType::AuthorizationCode));
    }
    for (i, g) in m.grant_types.iter().enumerate() {
        assert!(!m.grant_types[..i].contains(g), "{g:?} twice");
    }
    if let Some(Value::Array(types)) = sent.get("response_types") {
        assert!(
            types.iter().any(|t| t == "code"),
            "response_types {types:?}"
        );
    }
    // A signing client names its keys one way; a fetched key URL passes the guard.
    if m.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt {
        assert!(
            m.jwks_uri.is_some() != m.jwks.is_some(),
            "keys named both or neither ways"
        );
        if let Some(url) = &m.jwks_uri {
            assert!(guard.check_url(url.as_str()).is_ok(), "jwks_uri {url}");
        }
        if let Some(set) = &m.jwks {
            assert!(!set.keys.is_empty());
        }
    } else {
        assert!(m.jwks_uri.is_none() && m.jwks.is_none());
    }
    // Informational URLs are http(s) URLs.
    for url in [&m.client_uri, &m.logo_uri, &m.tos_uri, &m.policy_uri]
        .into_iter()
        .flatten()
    {
        let scheme = url::Url::parse(url).map(|u| u.scheme().to_string());
        assert!(
            matches!(scheme.as_deref(), Ok("http" | "https")),
            "{url:?} is not an http(s) URL"
        );
    }
}

/// The JSON Lanyard stores (and echoes) is metadata that passes again, to the same JSON.
fn stored_form_passes_again(m: &ClientMetadata, profile: Profile<'_>, guard: &AddressGuard) {
    let mut stored = m.to_json();
    if let Profile::Document { client_id } = profile {
        stored.insert("client_id".into(), Value::String(client_id.to_string()));
    }
    let Ok(body) = serde_json::to_vec(&stored) else {
        panic!("stored metadata does not serialise");
    };
    let Some(raw) = RawMetadata::from_json(&body) else {
        panic!("stored metadata does not read back: {stored:?}");
    };
    match ClientMetadata::validate(raw, profile, guard) {
        Ok(again) => {
            let (first, second) = (Value::Object(m.to_json()), Value::Object(again.to_json()));
            assert_eq!(first, second, "stored metadata changed");
        }
        Err(e) => panic!("stored metadata {stored:?} is refused: {e}"),
    }
}
