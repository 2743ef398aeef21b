//! Finding a client by id: a registered one from the store, or a metadata document
//! fetched from its URL. Either way the handlers see one [`ResolvedClient`].

use jsonwebtoken::jwk::JwkSet;

use super::cimd::{CimdAuth, CimdError, KeySource, Step};
use super::error::OAuthError;
use super::types::{RedirectUri, ScopeSet};
use crate::app::App;
use crate::domain::{AuthMethod, ClientId, GrantType};
use crate::secret::SecretHash;
use crate::store::{Client, ClientSource};

/// How a client proves who it is at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientCredential {
    /// A public client: PKCE is its proof.
    None,
    /// A confidential client with a shared secret (we keep its hash).
    Secret(SecretHash),
    /// Signed assertions (RFC 7523 `private_key_jwt`), checked against these keys; with
    /// `also_none`, a request without one is served as a public client's.
    KeyJwt { keys: KeySource, also_none: bool },
}

/// Where the client's registration came from, which the consent page tells the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOrigin {
    /// Registered by an operator (`lanyard client add`): its name is vouched for.
    Operator,
    /// Registered by anyone (RFC 7591): its name is the registrant's claim.
    Dynamic,
    /// A Client ID Metadata Document, hosted at this host.
    MetadataDocument { host: String },
}

#[derive(Debug, Clone)]
pub struct ResolvedClient {
    pub id: ClientId,
    pub name: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub credential: ClientCredential,
    /// A registered scope limit, if any.
    pub scope: Option<ScopeSet>,
    pub origin: ClientOrigin,
    /// Resources this client serves (set by `lanyard client add --resource-server`): it
    /// may introspect their tokens.
    pub resource_server: Vec<String>,
}

/// Why no client could be had.
#[derive(Debug)]
pub enum LookupError {
    Unknown,
    Metadata(CimdError),
    Store(OAuthError),
}

impl ResolvedClient {
    fn from_stored(c: Client) -> Self {
        Self {
            redirect_uris: c
                .redirect_uris
                .iter()
                .filter_map(|u| RedirectUri::parse(u).ok())
                .collect(),
            grant_types: c.grant_types,
            credential: match c.secret_hash {
                Some(h) => ClientCredential::Secret(SecretHash::from_stored(h)),
                None if c.auth_method == AuthMethod::PrivateKeyJwt => ClientCredential::KeyJwt {
                    keys: registered_keys(&c.metadata),
                    also_none: false,
                },
                None => ClientCredential::None,
            },
            scope: c.scope,
            name: c.name,
            id: c.id,
            origin: match c.source {
                ClientSource::Operator => ClientOrigin::Operator,
                ClientSource::Dynamic => ClientOrigin::Dynamic,
            },
            resource_server: c.metadata["lanyard_resource_server"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub fn allows_grant(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }

    /// The registered redirect URI `requested` matches, if any.
    pub fn redirect_matches(&self, requested: &RedirectUri) -> bool {
        self.redirect_uris
            .iter()
            .any(|r| requested.matches_registered(r))
    }

    /// What to call the client on the pages: its name, else where it redirects; stripped of
    /// the characters that could make it read as something else.
    pub fn display_name(&self) -> String {
        let name = match (&self.name, &self.origin) {
            (Some(n), _) => n.clone(),
            (None, ClientOrigin::MetadataDocument { host }) => host.clone(),
            (None, _) => self
                .redirect_uris
                .first()
                .map(RedirectUri::host)
                .unwrap_or_else(|| self.id.to_string()),
        };
        displayable(&name)
    }

    /// Whether anyone could have chosen this client's name (dynamic registration).
    pub fn name_unverified(&self) -> bool {
        self.origin == ClientOrigin::Dynamic
    }
}

/// The keys a registered client named. Registration checked them; should the stored
/// metadata no longer parse, the set is empty and no assertion verifies.
fn registered_keys(metadata: &serde_json::Value) -> KeySource {
    if let Some(url) = metadata["jwks_uri"]
        .as_str()
        .and_then(|u| url::Url::parse(u).ok())
    {
        return KeySource::Url(url);
    }
    let set = serde_json::from_value::<JwkSet>(metadata["jwks"].clone())
        .unwrap_or(JwkSet { keys: Vec::new() });
    KeySource::Inline(std::sync::Arc::new(set))
}

/// The client `id` names, at a later step of an authorization (or outside one).
pub async fn find_client(app: &App, id: &ClientId) -> Result<ResolvedClient, LookupError> {
    find_client_at(app, id, Step::Later).await
}

/// The client `id` names, at `step` of an authorization.
pub async fn find_client_at(
    app: &App,
    id: &ClientId,
    step: Step,
) -> Result<ResolvedClient, LookupError> {
    if app.cimd.is_candidate(id.as_str()) {
        let doc = app
            .cimd
            .resolve(id.as_str(), app.now(), step)
            .await
            .map_err(LookupError::Metadata)?;
        return Ok(ResolvedClient {
            // The document names this very URL (the resolver checks it).
            id: id.clone(),
            name: Some(doc.client_name.clone()),
            redirect_uris: doc.redirect_uris.clone(),
            // Grants Lanyard does not serve are no use to the client here.
            grant_types: doc
                .grant_types
                .iter()
                .filter_map(|g| GrantType::parse(g).ok())
                .collect(),
            // Metadata-document clients hold no shared secret: they are public (PKCE binds
            // the code) or sign assertions with the keys their document names.
            credential: match &doc.auth {
                CimdAuth::None => ClientCredential::None,
                CimdAuth::PrivateKeyJwt { keys, also_none } => ClientCredential::KeyJwt {
                    keys: keys.clone(),
                    also_none: *also_none,
                },
            },
            scope: doc.scope.as_deref().and_then(|s| ScopeSet::parse(s).ok()),
            origin: ClientOrigin::MetadataDocument {
                host: doc.host.clone(),
            },
            resource_server: Vec::new(),
        });
    }
    match app.stores.clients.client(id).await {
        Ok(Some(c)) => Ok(ResolvedClient::from_stored(c)),
        Ok(None) => Err(LookupError::Unknown),
        Err(e) => Err(LookupError::Store(e.into())),
    }
}

/// `text` without the characters a client could use to disguise what a page shows:
/// controls, bidirectional overrides and isolates (which reorder what follows them: a name
/// "Notes\u{202E}moc.evil" reads as another), and invisible formatting characters.
pub fn displayable(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !(c.is_control()
                || matches!(c,
                    '\u{00AD}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{180E}'
                    | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                    | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
                    | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
                    | '\u{E0000}'..='\u{E007F}'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::displayable;

    #[test]
    fn disguising_characters_are_stripped() {
        assert_eq!(displayable("Notes\u{202E}moc.live"), "Notesmoc.live");
        assert_eq!(displayable("Pay\u{200B}Pal\u{2066}x\u{2069}"), "PayPalx");
        assert_eq!(displayable("tab\there\u{0007}"), "tabhere");
        assert_eq!(displayable("Café 東京 🎉"), "Café 東京 🎉");
    }
}
