//! The authorization endpoint (OAuth 2.1 §4.1.1): `response_type=code` with PKCE S256 and
//! an RFC 8707 `resource`.
//!
//! Until the client and redirect URI are known good, errors are shown on a page: redirecting
//! to an unchecked URI is an open redirect (RFC 6749 §4.1.2.1). After that, errors go back
//! to the client, and every response back carries `iss` (RFC 9207).

use http::StatusCode;

use super::cimd::Step;
use super::client::{LookupError, ResolvedClient, find_client, find_client_at};
use super::error::OAuthError;
use super::metadata::scopes_supported;
use super::pkce::Challenge;
use super::policies::{Blocked, consent_gate};
use super::types::{RedirectUri, ResourceUri, ScopeSet};
use crate::app::App;
use crate::config::ResourceConfig;
use crate::domain::{ClientId, GrantType, SignedIn};
use crate::http::Req;
use crate::http::request::Params;
use crate::http::response::{Resp, redirect};
use crate::portal::{self, session};
use crate::secret::SecretHash;
use crate::store::{AuthRequest, PendingGrant};

pub async fn handle(app: &App, req: &Req) -> Resp {
    let params = if req.method == http::Method::POST {
        req.form()
    } else {
        req.query_params()
    };
    let status = if req.method == http::Method::POST {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    match start(app, req, &params, status).await {
        Ok(resp) => resp,
        Err(Rejected::Page(title, message)) => {
            portal::error_page(app, StatusCode::BAD_REQUEST, &title, &message)
        }
        Err(Rejected::Redirect(resp)) => *resp,
        Err(Rejected::Unavailable) => portal::unavailable_page(app),
    }
}

/// How a request that cannot proceed is answered.
pub enum Rejected {
    /// The client or redirect URI is not trusted: tell the user, never redirect.
    Page(String, String),
    /// Back to the client with an error.
    Redirect(Box<Resp>),
    Unavailable,
}

fn page(title: &str, message: impl Into<String>) -> Rejected {
    Rejected::Page(title.to_string(), message.into())
}

/// Where responses to a validated client go.
#[derive(Debug, Clone)]
pub struct ReplyTo<'a> {
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
}

/// `redirect_uri?error=…&state=…&iss=…`.
pub fn error_redirect(app: &App, to: &ReplyTo<'_>, err: &OAuthError, status: StatusCode) -> Resp {
    let Ok(uri) = RedirectUri::parse(to.redirect_uri) else {
        return portal::error_page(
            app,
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The redirect URI is not valid.",
        );
    };
    let mut params = vec![("error", err.code())];
    if let Some(d) = err.description() {
        params.push(("error_description", d));
    }
    if let Some(s) = to.state {
        params.push(("state", s));
    }
    params.push(("iss", app.config.issuer.as_str()));
    redirect(status, &uri.with_params(&params))
}

/// The longest `state` or `nonce` taken, in bytes: both are stored with the request and
/// echoed back, and clients use far less (a random value or a short encoded blob).
const MAX_STATE_BYTES: usize = 512;

/// The checks that come after the client and redirect URI are trusted (their errors go
/// back to the client): the request as it will wait for sign-in and consent.
fn validate(
    app: &App,
    client: &ResolvedClient,
    to: &ReplyTo<'_>,
    p: &Params,
    status: StatusCode,
) -> Result<Validated, Rejected> {
    checked(app, client, to, p)
        .map_err(|e| Rejected::Redirect(Box::new(error_redirect(app, to, &e, status))))
}

fn checked(
    app: &App,
    client: &ResolvedClient,
    to: &ReplyTo<'_>,
    p: &Params,
) -> Result<Validated, OAuthError> {
    if let Some(name) = p.repeated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} was sent more than once"
        )));
    }
    match p.get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(OAuthError::UnsupportedResponseType(format!(
                "response_type {other} is not supported; use code"
            )));
        }
        None => return Err(OAuthError::invalid_request("response_type is required")),
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the authorization code grant".into(),
        ));
    }
    let challenge = Challenge::parse(p.get("code_challenge"), p.get("code_challenge_method"))
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let resource = resource_for(app, p.get("resource"))?;
    let scopes = requested_scopes(app, client, resource, p.get("scope"))?;
    let prompt = Prompt::parse(p.get("prompt"))?;
    let max_age = max_age(p.get("max_age"))?;
    if p.get("nonce").is_some_and(|n| n.len() > MAX_STATE_BYTES) {
        return Err(OAuthError::invalid_request("nonce is too long"));
    }
    if p.get("request").is_some() || p.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request objects are not supported",
        ));
    }
    let now = app.now();
    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: to.redirect_uri.to_string(),
        state: to.state.map(str::to_string),
        scopes,
        resource: resource.uri.clone(),
        code_challenge: challenge.as_str().to_string(),
        nonce: p.get("nonce").map(str::to_string),
        force_login: prompt.login,
        force_consent: prompt.consent,
        created_at: now,
        expires_at: now + app.config.request_ttl,
    };
    Ok(Validated {
        request,
        prompt,
        max_age,
    })
}

/// The resource asked for (RFC 8707), or the default one.
fn resource_for<'a>(app: &'a App, raw: Option<&str>) -> Result<&'a ResourceConfig, OAuthError> {
    let Some(raw) = raw else {
        return Ok(app.config.default_resource());
    };
    let uri = ResourceUri::parse(raw).map_err(|e| OAuthError::InvalidTarget(e.to_string()))?;
    app.config.resource(&uri).ok_or_else(|| {
        OAuthError::InvalidTarget(format!(
            "{raw} is not a resource this server issues tokens for"
        ))
    })
}

/// OIDC `max_age`, in seconds.
fn max_age(raw: Option<&str>) -> Result<Option<i64>, OAuthError> {
    raw.map(|v| {
        v.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| OAuthError::invalid_request("max_age must be a whole number of seconds"))
    })
    .transpose()
}

/// A request that passed validation, with what decides how it proceeds.
struct Validated {
    request: AuthRequest,
    prompt: Prompt,
    max_age: Option<i64>,
}

/// The client the request names; an unknown or unverifiable one gets a page, never a
/// redirect (its redirect URI cannot be trusted).
async fn client_for(app: &App, p: &Params) -> Result<ResolvedClient, Rejected> {
    let client_id = p.get("client_id").ok_or_else(|| {
        page(
            "Invalid request",
            "The request names no client (client_id is missing).",
        )
    })?;
    let client = match ClientId::parse(client_id) {
        Ok(id) => find_client_at(app, &id, Step::Start).await,
        // An id that cannot be one names no client.
        Err(_) => Err(LookupError::Unknown),
    };
    match client {
        Ok(c) => Ok(c),
        Err(LookupError::Unknown) => Err(page(
            "Unknown application",
            "This application is not registered with this server. Ask it to register again.",
        )),
        Err(LookupError::Metadata(e)) => {
            Err(page("Application could not be verified", e.to_string()))
        }
        Err(LookupError::Store(_)) => Err(Rejected::Unavailable),
    }
}

async fn start(app: &App, req: &Req, p: &Params, status: StatusCode) -> Result<Resp, Rejected> {
    let client = client_for(app, p).await?;
    let redirect_uri = redirect_for(&client, p.get("redirect_uri"))?;
    let state = p.get("state");
    // Echoed into the redirect: an oversized one is not sent back, so it gets a page.
    if state.is_some_and(|s| s.len() > MAX_STATE_BYTES) {
        return Err(page(
            "Invalid request",
            "The application sent a state parameter that is too long.",
        ));
    }
    let to = ReplyTo {
        redirect_uri: &redirect_uri,
        state,
    };
    let fail = |e: OAuthError| Rejected::Redirect(Box::new(error_redirect(app, &to, &e, status)));

    let Validated {
        request: auth,
        prompt,
        max_age,
    } = validate(app, &client, &to, p, status)?;
    let now = auth.created_at;
    let browser = session::current(app, req)
        .await
        .map_err(|_| Rejected::Unavailable)?;
    let session_user = browser.as_ref().and_then(|b| b.signed_in());
    // OIDC `max_age`: a sign-in older than that counts as none, and the next must be newer
    // than this request.
    let too_old = session_user
        .as_ref()
        .is_some_and(|u| max_age.is_some_and(|m| now - u.auth_time > m));
    let signed_in =
        session_user.filter(|u| !prompt.login && !too_old && crate::mfa::satisfies(app, u));
    if prompt.none {
        let Some(user) = signed_in else {
            return Err(fail(OAuthError::LoginRequired));
        };
        let auth = gated(app, auth, &user, &client, &to, status).await?;
        if !consent_remembered(app, &auth, &user)
            .await
            .map_err(|_| Rejected::Unavailable)?
        {
            return Err(fail(OAuthError::ConsentRequired));
        }
        return issue_code(app, &auth, &user, status).await;
    }
    let auth = AuthRequest {
        force_login: auth.force_login || too_old,
        ..auth
    };
    let id = app.random.id();
    app.stores
        .ephemeral
        .put_request(&id, &auth)
        .await
        .map_err(|_| Rejected::Unavailable)?;
    match signed_in {
        Some(user) => continue_signed_in(app, &id, &auth, &user, status).await,
        None => Ok(redirect(
            status,
            &format!("{}?request={id}", app.config.url("/login")),
        )),
    }
}

/// After the user is known: straight back to the client when consent is remembered, else
/// to the consent page.
pub async fn continue_signed_in(
    app: &App,
    id: &str,
    auth: &AuthRequest,
    user: &SignedIn,
    status: StatusCode,
) -> Result<Resp, Rejected> {
    let to_consent = || {
        redirect(
            status,
            &format!("{}?request={id}", app.config.url("/consent")),
        )
    };
    if auth.force_consent {
        return Ok(to_consent());
    }
    let client = match find_client(app, &auth.client_id).await {
        Ok(c) => c,
        Err(LookupError::Store(_)) => return Err(Rejected::Unavailable),
        Err(_) => {
            return Err(page(
                "Unknown application",
                "The application that made this request is no longer registered.",
            ));
        }
    };
    // A policy that denies or fails is explained on the consent page.
    let Ok((scopes, _)) = consent_gate(app, auth, user, &client).await else {
        return Ok(to_consent());
    };
    let auth = AuthRequest {
        scopes,
        ..auth.clone()
    };
    if consent_remembered(app, &auth, user)
        .await
        .map_err(|_| Rejected::Unavailable)?
    {
        let resp = issue_code(app, &auth, user, status).await?;
        let _ = app.stores.ephemeral.finish_request(id).await;
        return Ok(resp);
    }
    Ok(to_consent())
}

/// The request as the consent-phase policies leave it; a deny or failure goes back to the
/// client (used where no page is shown: `prompt=none`).
async fn gated(
    app: &App,
    auth: AuthRequest,
    user: &SignedIn,
    client: &ResolvedClient,
    to: &ReplyTo<'_>,
    status: StatusCode,
) -> Result<AuthRequest, Rejected> {
    match consent_gate(app, &auth, user, client).await {
        Ok((scopes, _)) => Ok(AuthRequest { scopes, ..auth }),
        Err(Blocked::Denied(reason)) => Err(Rejected::Redirect(Box::new(error_redirect(
            app,
            to,
            &OAuthError::AccessDenied(reason),
            status,
        )))),
        Err(Blocked::Failed(failed)) => Err(Rejected::Redirect(Box::new(error_redirect(
            app,
            to,
            &OAuthError::server(failed),
            status,
        )))),
        Err(Blocked::Unavailable) => Err(Rejected::Unavailable),
    }
}

async fn consent_remembered(
    app: &App,
    auth: &AuthRequest,
    user: &SignedIn,
) -> Result<bool, crate::store::StoreError> {
    let prior = app
        .stores
        .grants
        .consent(&user.sub, &auth.client_id, &auth.resource)
        .await?;
    Ok(prior.is_some_and(|granted| auth.scopes.is_subset_of(&granted)))
}

/// Mints the code and sends the browser back to the client.
pub async fn issue_code(
    app: &App,
    auth: &AuthRequest,
    user: &SignedIn,
    status: StatusCode,
) -> Result<Resp, Rejected> {
    let code = app.random.token();
    let grant = PendingGrant {
        client_id: auth.client_id.clone(),
        redirect_uri: auth.redirect_uri.clone(),
        code_challenge: auth.code_challenge.clone(),
        resource: auth.resource.clone(),
        scopes: auth.scopes.clone(),
        sub: user.sub.clone(),
        auth_time: user.auth_time,
        amr: user.amr.clone(),
        nonce: auth.nonce.clone(),
        expires_at: app.now() + app.config.code_ttl,
    };
    app.stores
        .ephemeral
        .put_code(&SecretHash::of(&code), &grant)
        .await
        .map_err(|_| Rejected::Unavailable)?;
    let uri = RedirectUri::parse(&auth.redirect_uri)
        .map_err(|_| page("Invalid request", "The redirect URI is not valid."))?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &auth.state {
        params.push(("state", s));
    }
    params.push(("iss", app.config.issuer.as_str()));
    Ok(redirect(status, &uri.with_params(&params)))
}

/// The redirect URI to use: the one sent, if it matches a registered one; or the only
/// registered one when none was sent.
fn redirect_for(client: &ResolvedClient, sent: Option<&str>) -> Result<String, Rejected> {
    match sent {
        Some(raw) => {
            let uri =
                RedirectUri::parse(raw).map_err(|e| page("Invalid redirect URI", e.to_string()))?;
            if client.redirect_matches(&uri) {
                Ok(raw.to_string())
            } else {
                Err(page(
                    "Invalid redirect URI",
                    "The redirect URI does not match any URI registered for this application.",
                ))
            }
        }
        None if client.redirect_uris.len() == 1 => Ok(client.redirect_uris[0].as_str().to_string()),
        None => Err(page(
            "Invalid request",
            "redirect_uri is required for this application.",
        )),
    }
}

/// The scopes to ask for: what was requested, narrowed to what the resource and the OIDC
/// layer offer and what the client registered; all of the resource's when none was asked.
/// Unknown scopes are dropped, not refused: clients send every scope they have seen.
fn requested_scopes(
    app: &App,
    client: &ResolvedClient,
    resource: &ResourceConfig,
    raw: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    let offered = ScopeSet::parse(&scopes_supported(&app.config).join(" ")).unwrap_or_default();
    let resource_scopes = ScopeSet::from_scopes(resource.scopes.iter().cloned());
    let requested = match raw {
        Some(s) => ScopeSet::parse(s).map_err(|e| OAuthError::InvalidScope(e.to_string()))?,
        None => resource_scopes.clone(),
    };
    let mut scopes = requested.intersect(&offered);
    // A scope of another resource is not this resource's to grant.
    let foreign: Vec<String> = scopes
        .iter()
        .filter(|s| {
            !resource_scopes.contains(s.as_str()) && !super::types::is_oidc_scope(s.as_str())
        })
        .map(|s| s.as_str().to_string())
        .collect();
    scopes = scopes.without(&foreign);
    if let Some(limit) = &client.scope {
        scopes = scopes.intersect(limit);
    }
    Ok(scopes)
}

/// OIDC `prompt`.
#[derive(Debug, Default, Clone, Copy)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

impl Prompt {
    fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        let mut p = Prompt::default();
        for v in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => p.none = true,
                "login" | "select_account" => p.login = true,
                "consent" => p.consent = true,
                // Unknown values are ignored, as OIDC asks of extensions.
                _ => {}
            }
        }
        if p.none && (p.login || p.consent) {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }
}
