//! RFC 7591 dynamic client registration. The metadata rules live in
//! [`super::client_metadata`]; this endpoint adds the registration's own tolerance: unknown
//! scopes are narrowed away rather than refused, and the response echoes what was stored
//! with no JSON nulls and integer times.

use http::StatusCode;
use serde_json::{Value, json};

use super::client_metadata::{ClientMetadata, Profile, RawMetadata};
use super::error::OAuthError;
use super::metadata::scopes_supported;
use super::types::ScopeSet;
use crate::app::App;
use crate::domain::ClientId;
use crate::http::Req;
use crate::http::response::{Resp, json as json_resp, no_store};
use crate::store::{ClientSource, StoreError};

pub async fn handle(app: &App, req: &Req) -> Result<Resp, OAuthError> {
    let raw = RawMetadata::from_json(&req.body).ok_or_else(|| {
        OAuthError::InvalidClientMetadata(
            "the body must be a JSON object of client metadata".into(),
        )
    })?;
    let mut metadata = ClientMetadata::validate(raw, Profile::Registration, app.cimd.guard())?;
    // Clients send every scope they have seen: keep the ones we grant; nothing left means
    // no limit.
    let supported = ScopeSet::parse(&scopes_supported(&app.config).join(" ")).unwrap_or_default();
    metadata.scope = metadata
        .scope
        .map(|s| s.intersect(&supported))
        .filter(|s| !s.is_empty());
    let now = app.now();
    let client_id = ClientId::generate(app.random.as_ref());
    let secret = metadata
        .token_endpoint_auth_method
        .uses_secret()
        .then(|| app.random.token());
    let mut out = metadata.to_json();
    let client = metadata.into_client(
        client_id.clone(),
        secret.as_deref(),
        ClientSource::Dynamic,
        now,
    );
    match app.stores.clients.create_client(&client).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(OAuthError::server("client id collision")),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(client_id = %client_id, name = ?client.name, "client registered");
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
