//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3): `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523) for
//! metadata-document clients that publish keys, or `none` for public clients.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::assertion::{ASSERTION_TYPE, claimed_client, verify};
use super::client::{ClientCredential, LookupError, ResolvedClient, find_client};
use super::error::OAuthError;
use crate::app::App;
use crate::domain::ClientId;
use crate::http::Req;
use crate::http::request::Params;

/// The credentials a request carried, before they are checked.
#[derive(Debug)]
struct Presented {
    client_id: String,
    secret: Option<String>,
    basic: bool,
    /// A signed client assertion (RFC 7523 §2.2).
    assertion: Option<String>,
}

fn presented(req: &Req, form: &Params) -> Result<Presented, OAuthError> {
    if let Some(h) = req.header("authorization")
        && let Some((scheme, value)) = h.split_once(' ')
        && scheme.eq_ignore_ascii_case("basic")
    {
        let bad = || OAuthError::InvalidClient {
            description: "malformed Basic credentials".into(),
            basic: true,
        };
        let decoded = STANDARD.decode(value.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        // RFC 6749 §2.3.1: both halves are form-urlencoded before encoding.
        let id = urldecode(id).ok_or_else(bad)?;
        let secret = urldecode(secret).ok_or_else(bad)?;
        // Python's SDK also repeats client_id in the body; it must agree.
        if form.get("client_id").is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_request(
                "client_id in body differs from Basic credentials",
            ));
        }
        if form.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request("client credentials sent twice"));
        }
        if form.get("client_assertion").is_some() {
            return Err(OAuthError::invalid_request("client credentials sent twice"));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            basic: true,
            assertion: None,
        });
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_client(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        if form.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request("client credentials sent twice"));
        }
        let claimed = claimed_client(assertion)
            .ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?;
        // RFC 7521 §4.2: a client_id beside the assertion must name the same client.
        if form.get("client_id").is_some_and(|id| id != claimed) {
            return Err(OAuthError::invalid_client(
                "client_id differs from the client assertion's subject",
            ));
        }
        return Ok(Presented {
            client_id: claimed,
            secret: None,
            basic: false,
            assertion: Some(assertion.to_string()),
        });
    }
    let client_id = form
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    Ok(Presented {
        client_id: client_id.to_string(),
        secret: form.get("client_secret").map(str::to_string),
        basic: false,
        assertion: None,
    })
}

/// Percent-decoding only: `+` stays `+`, because clients that skip the form encoding (the
/// TS SDK) send secrets raw, and ours never contain a space.
fn urldecode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The prologue of the form endpoints that authenticate a client (revocation,
/// introspection): a form body, an authenticated client, and the required `token`.
pub async fn client_and_token(
    app: &App,
    req: &Req,
) -> Result<(ResolvedClient, Params), OAuthError> {
    if !req.is_form() {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = req.form();
    let client = authenticate(app, req, &form).await?;
    if form.get("token").is_none() {
        return Err(OAuthError::invalid_request("token is required"));
    }
    Ok((client, form))
}

/// Authenticates the calling client. An unknown client is `invalid_client` with 401,
/// which tells Claude and the TS SDK to register again.
pub async fn authenticate(
    app: &App,
    req: &Req,
    form: &Params,
) -> Result<ResolvedClient, OAuthError> {
    let p = presented(req, form)?;
    let fail = |d: &str| OAuthError::InvalidClient {
        description: d.to_string(),
        basic: p.basic,
    };
    // An id that cannot be one names no client.
    let id = ClientId::parse(&p.client_id).map_err(|_| fail("unknown client"))?;
    let client = match find_client(app, &id).await {
        Ok(c) => c,
        Err(LookupError::Unknown) => return Err(fail("unknown client")),
        Err(LookupError::Metadata(e)) => return Err(fail(&e.to_string())),
        Err(LookupError::Store(e)) => return Err(e),
    };
    match (&client.credential, &p.secret, &p.assertion) {
        (ClientCredential::KeyJwt { keys, .. }, None, Some(assertion)) => {
            verify(app, client.id.as_str(), keys, assertion)
                .await
                .map_err(|why| fail(&why))?;
            Ok(client)
        }
        (_, _, Some(_)) => Err(fail("this client does not sign assertions")),
        (ClientCredential::None, None, None) => Ok(client),
        (ClientCredential::KeyJwt { also_none, .. }, None, None) => {
            if *also_none {
                // Served as the public client it may also be: what follows (a grant only
                // confidential clients get) sees that this request proved nothing.
                Ok(ResolvedClient {
                    credential: ClientCredential::None,
                    ..client
                })
            } else {
                Err(fail("a client assertion is required"))
            }
        }
        // A client without a secret that sends one anyway is confused, not authenticated.
        (ClientCredential::None | ClientCredential::KeyJwt { .. }, Some(_), None) => {
            Err(fail("this client has no secret"))
        }
        (ClientCredential::Secret(_), None, None) => Err(fail("client secret is required")),
        (ClientCredential::Secret(hash), Some(secret), None) => {
            if hash.matches(secret) {
                Ok(client)
            } else {
                Err(fail("client authentication failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::urldecode;

    #[test]
    fn basic_halves_are_form_decoded() {
        assert_eq!(urldecode("a%3Ab").as_deref(), Some("a:b"));
        assert_eq!(urldecode("a+b").as_deref(), Some("a+b"));
    }
}
