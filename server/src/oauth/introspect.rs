//! RFC 7662 token introspection. A client may introspect tokens issued to it; a
//! resource-server client (registered with `lanyard client add --resource-server`) may
//! introspect any token for its resources. Anything else is `{"active": false}`, which
//! reveals nothing.

use http::StatusCode;
use serde_json::{Value, json};

use super::access::check_access;
use super::client_auth::client_and_token;
use super::error::OAuthError;
use crate::app::App;
use crate::http::Req;
use crate::http::response::{Resp, json as json_resp, no_store};
use crate::secret::SecretHash;

pub async fn handle(app: &App, req: &Req) -> Result<Resp, OAuthError> {
    let (client, form) = client_and_token(app, req).await?;
    let token = form.get("token").unwrap_or_default();
    let may_see = |client_id: &str, aud: &str| {
        client.id == *client_id || client.resource_server.iter().any(|r| r == aud)
    };

    let now = app.now();
    if let Ok(c) = check_access(app, token, &[]).await {
        if may_see(&c.client_id, &c.aud) {
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "scope": c.scope,
                "client_id": c.client_id,
                "sub": c.sub,
                "aud": c.aud,
                "iss": c.iss,
                "exp": c.exp,
                "iat": c.iat,
                "jti": c.jti,
            });
            if let (Some(email), Value::Object(m)) = (&c.email, &mut body) {
                m.insert("username".into(), json!(email));
            }
            if let Value::Object(m) = &mut body {
                for (k, v) in &c.extra {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            return Ok(respond(body));
        }
    } else if let Some(g) = app
        .stores
        .grants
        .grant_by_refresh(&SecretHash::of(token), now, false)
        .await?
        && may_see(g.client_id.as_str(), g.resource.as_str())
    {
        return Ok(respond(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": g.scopes.to_string(),
            "client_id": g.client_id,
            "sub": g.sub,
            "aud": g.resource,
            "iss": app.config.issuer,
            "exp": g.expires_at,
            "iat": g.created_at,
        })));
    }
    Ok(respond(json!({"active": false})))
}

fn respond(body: Value) -> Resp {
    no_store(json_resp(StatusCode::OK, &body))
}
