//! The rules of [`ClientMetadata::validate`](super::ClientMetadata::validate), one function
//! per member or group of members.

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;
use url::Url;

use super::{ApplicationType, MetadataError, Profile, RawMetadata, invalid};
use crate::domain::AdminScope;
use crate::oauth::cimd::AddressGuard;
use crate::oauth::types::{AuthMethod, GrantType, ParseError, RedirectKind, RedirectUri, ScopeSet};

/// A client's name is shown on the consent page: long enough for any product's name, short
/// enough that it cannot push the page's real content out of sight.
const MAX_NAME_CHARS: usize = 100;

/// The draft's rules for a document: it names itself by a simple string comparison (no
/// normalisation), and being public it carries no secret.
pub(super) fn check_document(raw: &RawMetadata, client_id: &str) -> Result<(), MetadataError> {
    if raw.client_id.as_ref().and_then(Value::as_str) != Some(client_id) {
        return Err(invalid("client_id does not equal the document URL"));
    }
    if raw.client_secret.is_some() || raw.client_secret_expires_at.is_some() {
        return Err(invalid(
            "a metadata document must not carry a client secret",
        ));
    }
    Ok(())
}

/// The redirect URIs, deduplicated, and whether every one is a native app's. None at all
/// only for a client that serves resources instead.
pub(super) fn redirect_uris(
    raw: Option<Value>,
    may_be_empty: bool,
) -> Result<(Vec<RedirectUri>, bool), MetadataError> {
    let bad = |d: &str| MetadataError::RedirectUri(d.to_string());
    let items = match raw {
        Some(Value::Array(items)) if !items.is_empty() || may_be_empty => items,
        None if may_be_empty => Vec::new(),
        Some(_) => return Err(bad("redirect_uris must be a non-empty array")),
        None => return Err(bad("redirect_uris is required")),
    };
    let mut uris: Vec<RedirectUri> = Vec::new();
    let mut all_native = true;
    for item in &items {
        let s = item
            .as_str()
            .ok_or_else(|| bad("redirect_uris must be strings"))?;
        let with_uri = |e: ParseError| MetadataError::RedirectUri(format!("{s}: {e}"));
        let uri = RedirectUri::parse(s).map_err(with_uri)?;
        all_native &= uri.kind().map_err(with_uri)? != RedirectKind::Https;
        if !uris.iter().any(|u| u.as_str() == s) {
            uris.push(uri);
        }
    }
    Ok((uris, all_native))
}

pub(super) fn listed_methods(raw: Option<&Value>) -> Vec<AuthMethod> {
    raw.and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|m| m.as_str().and_then(|m| AuthMethod::parse(m).ok()))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn auth_method(
    named: Option<&str>,
    supported: &[AuthMethod],
    profile: Profile<'_>,
) -> Result<AuthMethod, MetadataError> {
    let document = matches!(profile, Profile::Document { .. });
    let method = match named {
        Some(m) => AuthMethod::parse(m)
            .map_err(|_| invalid(format!("unsupported token_endpoint_auth_method {m:?}")))?,
        None if document && supported.contains(&AuthMethod::PrivateKeyJwt) => {
            AuthMethod::PrivateKeyJwt
        }
        None if document => AuthMethod::None,
        // RFC 7591 §2: the default is client_secret_basic.
        None => AuthMethod::ClientSecretBasic,
    };
    if document && method.uses_secret() {
        return Err(invalid(
            "shared-secret authentication is not allowed for metadata documents",
        ));
    }
    Ok(method)
}

/// `""` means no limit (the Inspector sends it).
/// The admin API's scopes are the operator's to give: a client that registers itself may
/// not ask for one.
pub(super) fn scope(
    raw: Option<&str>,
    profile: Profile<'_>,
) -> Result<Option<ScopeSet>, MetadataError> {
    match raw.map(ScopeSet::parse) {
        Some(Ok(s))
            if !matches!(profile, Profile::Operator { .. })
                && s.iter().any(|s| AdminScope::is_admin(s.as_str())) =>
        {
            Err(invalid("admin scopes are given by the operator only"))
        }
        Some(Ok(s)) => Ok(Some(s).filter(|s| !s.is_empty())),
        Some(Err(_)) => Err(invalid("scope is malformed")),
        None => Ok(None),
    }
}

/// Loopback and private-scheme redirects mean a native app (OIDC DCR, SEP-837), unless
/// the client says otherwise.
pub(super) fn application_type(
    raw: Option<&str>,
    all_native: bool,
) -> Result<ApplicationType, MetadataError> {
    match raw {
        Some("web") => Ok(ApplicationType::Web),
        Some("native") => Ok(ApplicationType::Native),
        Some(t) => Err(invalid(format!("unknown application_type {t:?}"))),
        None if all_native => Ok(ApplicationType::Native),
        None => Ok(ApplicationType::Web),
    }
}

/// Unknown grant types are dropped; a client that redirects must be able to use codes,
/// one that does not can use no grant but `client_credentials`, and that one only a
/// confidential client may use (RFC 6749 §4.4).
pub(super) fn grant_types(
    raw: Option<Vec<String>>,
    redirects: bool,
    method: AuthMethod,
) -> Result<Vec<GrantType>, MetadataError> {
    let mut kept: Vec<GrantType> = Vec::new();
    match raw {
        None if redirects => kept = vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        None => {}
        Some(list) => {
            for g in list.iter().filter_map(|g| GrantType::parse(g).ok()) {
                if !kept.contains(&g) {
                    kept.push(g);
                }
            }
        }
    }
    if kept.contains(&GrantType::ClientCredentials) && method == AuthMethod::None {
        return Err(invalid(
            "client_credentials needs a confidential client (a token_endpoint_auth_method other than none)",
        ));
    }
    if !redirects {
        kept.retain(|g| *g == GrantType::ClientCredentials);
    } else if !kept.contains(&GrantType::AuthorizationCode) {
        return Err(invalid("grant_types must include authorization_code"));
    }
    Ok(kept)
}

/// Whether the registration asks for `client_credentials`: such a client needs no
/// redirect URI.
pub(super) fn wants_client_credentials(raw: Option<&Vec<String>>) -> bool {
    raw.is_some_and(|list| {
        list.iter()
            .any(|g| g == GrantType::ClientCredentials.as_str())
    })
}

/// A client that signs assertions names its keys, one way (RFC 7591 §2). The keys of a
/// client that does not sign are none of Lanyard's business and are not read.
pub(super) fn keys(
    method: AuthMethod,
    jwks_uri: Option<String>,
    jwks: Option<Value>,
    guard: &AddressGuard,
) -> Result<(Option<Url>, Option<JwkSet>), MetadataError> {
    if method != AuthMethod::PrivateKeyJwt {
        return Ok((None, None));
    }
    match (jwks_uri, jwks) {
        (Some(uri), None) => {
            let url = guard
                .check_url(&uri)
                .map_err(|e| invalid(format!("jwks_uri: {e}")))?;
            Ok((Some(url), None))
        }
        (None, Some(jwks)) => {
            let set: JwkSet =
                serde_json::from_value(jwks).map_err(|_| invalid("jwks is not a JWK set"))?;
            if set.keys.is_empty() {
                return Err(invalid("jwks has no keys"));
            }
            Ok((None, Some(set)))
        }
        (None, None) => Err(invalid("private_key_jwt needs jwks_uri or jwks")),
        (Some(_), Some(_)) => Err(invalid("jwks_uri and jwks are exclusive")),
    }
}

pub(super) fn client_name(
    raw: Option<String>,
    profile: Profile<'_>,
) -> Result<Option<String>, MetadataError> {
    let name = raw.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NAME_CHARS)
    {
        return Err(invalid("client_name is too long"));
    }
    // The consent page names a document's client; there is no registration to fall back on.
    if name.is_none() && matches!(profile, Profile::Document { .. }) {
        return Err(invalid("client_name is required"));
    }
    Ok(name)
}

/// SDK parsers reject a non-URL in these members, so a bad one is refused, not echoed.
pub(super) fn web_url(key: &str, value: Option<String>) -> Result<Option<String>, MetadataError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if Url::parse(&v).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http") => {
            Ok(Some(v))
        }
        Some(_) => Err(invalid(format!("{key} must be an http(s) URL"))),
        None => Ok(None),
    }
}
