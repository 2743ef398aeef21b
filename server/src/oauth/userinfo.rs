//! OIDC userinfo (Core §5.3): the subject, and the email when the `email` scope was granted.
//! How and when the user signed in (`amr`, `auth_time`) are facts of the authentication,
//! which OIDC puts in the ID token (Core §2) and Lanyard in the access token too, not
//! claims about the user: userinfo leaves them out.

use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::access::{AccessError, check_access};
use super::error::OAuthError;
use super::types::EMAIL;
use crate::app::App;
use crate::domain::UserId;
use crate::http::Req;
use crate::http::response::{Resp, json as json_resp, no_store};

pub async fn handle(app: &App, req: &Req) -> Resp {
    let Some(token) = req.bearer_token() else {
        return challenge(None);
    };
    let claims = match check_access(app, token, &[]).await {
        Ok(c) => c,
        Err(AccessError::Store(_)) => {
            return OAuthError::TemporarilyUnavailable.response();
        }
        Err(_) => return challenge(Some("invalid_token")),
    };
    let mut body = json!({"sub": claims.sub});
    if claims.has_scope(EMAIL) {
        // The account, not the token: an email changed or verified since is what counts.
        // A `sub` that is no user id names no account.
        let user = match UserId::parse(&claims.sub) {
            Ok(sub) => app.stores.users.user_by_sub(&sub).await,
            Err(_) => Ok(None),
        };
        match user {
            Ok(Some(user)) => {
                body["email"] = json!(user.email);
                body["email_verified"] = json!(user.email_verified);
            }
            Ok(None) => return challenge(Some("invalid_token")),
            Err(_) => return OAuthError::TemporarilyUnavailable.response(),
        }
    }
    no_store(json_resp(StatusCode::OK, &body))
}

fn challenge(error: Option<&str>) -> Resp {
    let mut r = no_store(json_resp(
        StatusCode::UNAUTHORIZED,
        &json!({"error": error.unwrap_or("invalid_request")}),
    ));
    let value = match error {
        Some(e) => format!("Bearer error=\"{e}\""),
        None => "Bearer".to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}
