//! OAuth clients from the operator's side: registering one (an app's client, a resource
//! server that introspects, a service acting for itself, or an admin API client), listing,
//! reading, changing its name, redirect URIs or scope, deleting it with everything granted
//! to it, and replacing its secret. Every change passes the one metadata validator that
//! dynamic registration uses.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{AdminError, AdminResult, Operator, audit};
use crate::clock::UnixTime;
use crate::domain::{AdminScope, ClientId};
use crate::oauth::cimd::AddressGuard;
use crate::oauth::client_metadata::{ClientMetadata, Profile, RawMetadata};
use crate::secret::SecretHash;
use crate::store::{Client, ClientSource};

/// A client to register.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub client_name: String,
    /// Where the authorization code flow may send users back.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Give it a secret (`client_secret_basic`) even though it redirects users.
    #[serde(default)]
    pub confidential: bool,
    /// The scopes it may be granted (space-separated); no limit when absent.
    pub scope: Option<String>,
    /// Resources this client serves: it gets a secret and may introspect their tokens.
    #[serde(default)]
    pub resource_server: Vec<String>,
    /// It gets tokens for itself (the client_credentials grant), for its `scope`.
    #[serde(default)]
    pub client_credentials: bool,
    /// It may call the admin API with these scopes (a client_credentials token for the
    /// resource `<issuer>/admin`).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub admin_scopes: Vec<AdminScope>,
}

/// What may change on a registered client; absent members stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdate {
    pub client_name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    /// Space-separated; `""` removes the limit.
    pub scope: Option<String>,
}

/// A registered client (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_name: Option<String>,
    /// `operator` (registered here or with the CLI) or `dynamic` (RFC 7591).
    pub source: String,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scope: Option<String>,
    /// Resources whose tokens it may introspect.
    pub resource_server: Vec<String>,
    pub created_at: UnixTime,
}

/// A client and, once, its secret: it is kept only as a hash, so this is the one time it
/// can be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: ClientView,
    pub client_secret: Option<String>,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.id.to_string(),
            client_name: c.name.clone(),
            source: c.source.as_str().to_string(),
            token_endpoint_auth_method: c.auth_method.as_str().to_string(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
            redirect_uris: c.redirect_uris.clone(),
            scope: c.scope.as_ref().map(ToString::to_string),
            resource_server: resource_server(&c.metadata),
            created_at: c.created_at,
        }
    }
}

/// The resources an operator's client serves, from its stored metadata.
fn resource_server(metadata: &Value) -> Vec<String> {
    metadata
        .get("lanyard_resource_server")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn create(op: &Operator<'_>, new: NewClient) -> AdminResult<ClientWithSecret> {
    let wants_admin = !new.admin_scopes.is_empty();
    let for_itself = new.client_credentials || wants_admin;
    if new.redirect_uris.is_empty() && new.resource_server.is_empty() && !for_itself {
        return Err(AdminError::Invalid(
            "give at least one redirect URI (or a resource it serves, or let it act for itself)"
                .into(),
        ));
    }
    let confidential = new.confidential || !new.resource_server.is_empty() || for_itself;
    let mut grant_types = Vec::new();
    if !new.redirect_uris.is_empty() {
        grant_types.extend(["authorization_code", "refresh_token"]);
    }
    if for_itself {
        grant_types.push("client_credentials");
    }
    let mut scope: Vec<String> = new.scope.iter().map(String::to_string).collect();
    scope.extend(new.admin_scopes.iter().map(|s| s.as_str().to_string()));
    let raw = RawMetadata {
        client_name: Some(new.client_name),
        redirect_uris: Some(json!(new.redirect_uris)),
        grant_types: Some(grant_types.into_iter().map(str::to_string).collect()),
        token_endpoint_auth_method: Some(
            if confidential {
                "client_secret_basic"
            } else {
                "none"
            }
            .into(),
        ),
        scope: (!scope.is_empty()).then(|| scope.join(" ")),
        ..RawMetadata::default()
    };
    let metadata = validate(op, raw, &new.resource_server)?;
    let id = ClientId::generate(op.random);
    let secret = confidential.then(|| op.random.token());
    let client = metadata.into_client(id, secret.as_deref(), ClientSource::Operator, op.now());
    op.stores.clients.create_client(&client).await?;
    let view = ClientView::from(&client);
    audit::record(
        op,
        "client.create",
        client.id.as_str(),
        Some(json!({"client_name": view.client_name, "scope": view.scope})),
    )
    .await;
    Ok(ClientWithSecret {
        client: view,
        client_secret: secret,
    })
}

fn validate(
    op: &Operator<'_>,
    raw: RawMetadata,
    resource_server: &[String],
) -> AdminResult<ClientMetadata> {
    let guard = AddressGuard::new(op.config.cimd.allow_loopback);
    ClientMetadata::validate(raw, Profile::Operator { resource_server }, &guard)
        .map_err(|e| AdminError::Invalid(e.to_string()))
}

pub async fn find(op: &Operator<'_>, id: &str) -> AdminResult<Client> {
    let id = ClientId::parse(id).map_err(|_| AdminError::NotFound("client"))?;
    op.stores
        .clients
        .client(&id)
        .await?
        .ok_or(AdminError::NotFound("client"))
}

pub async fn get(op: &Operator<'_>, id: &str) -> AdminResult<ClientView> {
    Ok(ClientView::from(&find(op, id).await?))
}

pub async fn list(op: &Operator<'_>) -> AdminResult<Vec<ClientView>> {
    let clients = op.stores.clients.clients().await?;
    Ok(clients.iter().map(ClientView::from).collect())
}

/// Changes a client's name, redirect URIs or scope: the stored metadata with the changes
/// applied passes the validator again, so an update cannot make a client registration
/// would refuse.
pub async fn update(op: &Operator<'_>, id: &str, change: ClientUpdate) -> AdminResult<ClientView> {
    let client = find(op, id).await?;
    let mut raw: RawMetadata = serde_json::from_value(client.metadata.clone())
        .map_err(|e| AdminError::Internal(format!("stored client metadata: {e}")))?;
    if let Some(name) = change.client_name.clone() {
        raw.client_name = Some(name);
    }
    if let Some(uris) = &change.redirect_uris {
        raw.redirect_uris = Some(json!(uris));
    }
    if let Some(scope) = &change.scope {
        raw.scope = Some(scope.clone());
    }
    let metadata = validate(op, raw, &resource_server(&client.metadata))?;
    let mut updated =
        metadata.into_client(client.id.clone(), None, client.source, client.created_at);
    updated.secret_hash = client.secret_hash.clone();
    if !op.stores.clients.update_client(&updated).await? {
        return Err(AdminError::NotFound("client"));
    }
    audit::record(op, "client.update", client.id.as_str(), Some(json!({
        "client_name": change.client_name, "redirect_uris": change.redirect_uris, "scope": change.scope,
    })))
    .await;
    Ok(ClientView::from(&updated))
}

/// Removes the client and everything granted to it.
pub async fn delete(op: &Operator<'_>, id: &str) -> AdminResult<()> {
    let client = find(op, id).await?;
    if !op.stores.clients.remove_client(&client.id).await? {
        return Err(AdminError::NotFound("client"));
    }
    audit::record(op, "client.delete", client.id.as_str(), None).await;
    Ok(())
}

/// Replaces the client's secret; the old one stops working at once.
pub async fn rotate_secret(op: &Operator<'_>, id: &str) -> AdminResult<ClientWithSecret> {
    let mut client = find(op, id).await?;
    if client.secret_hash.is_none() {
        return Err(AdminError::Invalid(
            "this client has no secret: it is public, or it signs with its keys".into(),
        ));
    }
    let secret = op.random.token();
    client.secret_hash = Some(SecretHash::of(&secret).as_str().to_string());
    if !op.stores.clients.update_client(&client).await? {
        return Err(AdminError::NotFound("client"));
    }
    audit::record(op, "client.secret.rotate", client.id.as_str(), None).await;
    Ok(ClientWithSecret {
        client: ClientView::from(&client),
        client_secret: Some(secret),
    })
}
