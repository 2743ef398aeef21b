//! Helpers the endpoint suites share: raw authorization URLs, a code in hand, calls to the
//! example MCP server, and assertions on the headers every endpoint of a kind must send.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::*;

/// The redirect URI the suites register (a loopback listener, as native clients use).
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const EMAIL: &str = "ada@example.com";
pub const STATE: &str = "st-1";

/// Unix seconds by the clock the server processes read too.
pub fn unix_now() -> i64 {
    lanyard::clock::Clock::now(&lanyard::clock::SystemClock)
}

/// An authorization URL with exactly these query parameters, in this order (the kit's
/// `Authorize` always adds S256 PKCE; these tests need to leave it out or get it wrong).
pub fn authorize_url(server: &TestServer, params: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&server.url("/oauth/authorize")).unwrap();
    u.query_pairs_mut().extend_pairs(params);
    u.to_string()
}

/// Asserts a redirect back to the client at `redirect` carrying exactly `expected` as its
/// query, each parameter once (RFC 6749 §4.1.2 / §4.1.2.1; RFC 9207 adds `iss`).
pub fn assert_redirect_back(page: &Page, status: u16, redirect: &str, expected: &[(&str, &str)]) {
    assert_eq!(page.status, status, "{}", page.body);
    let loc = page
        .location
        .as_deref()
        .unwrap_or_else(|| panic!("no Location: {}", page.body));
    let (target, _) = loc.split_once('?').unwrap_or((loc, ""));
    assert_eq!(
        target,
        redirect.split('?').next().unwrap(),
        "redirected to {loc}"
    );
    let pairs: Vec<(String, String)> = url::Url::parse(loc)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let want: HashMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(pairs.len(), want.len(), "{loc}");
    assert_eq!(query(loc), want, "{loc}");
}

/// An authorization error sent back to the client at [`REDIRECT`] with our `state` and `iss`
/// (RFC 6749 §4.1.2.1, RFC 9207), and nothing else in the query.
pub fn assert_error_back(
    page: &Page,
    server: &TestServer,
    status: u16,
    error: &str,
    description: Option<&str>,
) {
    let mut expected = vec![("error", error)];
    if let Some(d) = description {
        expected.push(("error_description", d));
    }
    expected.extend([("state", STATE), ("iss", server.base.as_str())]);
    assert_redirect_back(page, status, REDIRECT, &expected);
}

/// The error page shown instead of a redirect when the client or its redirect URI cannot be
/// trusted (RFC 6749 §4.1.2.1): 400, HTML, no `Location`, not frameable.
pub fn assert_error_page(page: &Page, needle: &str) {
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.location.is_none(),
        "must not redirect, went to {:?}",
        page.location
    );
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_unframeable(&page.headers);
    assert!(
        page.body.contains(needle),
        "page lacks {needle:?}: {}",
        page.body
    );
}

/// RFC 9700 §4.16: pages (consent above all) must not be framed.
pub fn assert_unframeable(h: &HeaderMap) {
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
}

/// RFC 6749 §5.1: responses carrying tokens or credentials are not cached.
pub fn assert_no_store(h: &HeaderMap) {
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["pragma"], "no-cache");
}

/// CORS for browser-based MCP clients: any origin, never with credentials.
pub fn assert_cors(h: &HeaderMap) {
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
        .to_str()
        .unwrap()
}

/// Asserts a JSON response with exactly this status and body.
pub async fn assert_json(r: reqwest::Response, status: u16, body: Value) -> HeaderMap {
    let headers = r.headers().clone();
    let got_status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(got_status, status, "{text}");
    assert_eq!(headers["content-type"], "application/json", "{text}");
    let got: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    assert_eq!(got, body);
    headers
}

/// An OAuth error answer from a `server.token`-style call: exactly this status and JSON body
/// (RFC 6749 §5.2), and not cached (§5.1); returns the headers.
pub fn assert_oauth_error(
    got: (StatusCode, Value, HeaderMap),
    status: u16,
    body: Value,
) -> HeaderMap {
    let (got_status, got_body, headers) = got;
    assert_eq!((got_status.as_u16(), got_body), (status, body));
    assert_no_store(&headers);
    headers
}

/// POSTs a form to `path`, with HTTP Basic client credentials when given (RFC 6749 §2.3.1).
pub async fn post_form(
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut r = server.http.post(server.url(path)).form(form);
    if let Some((id, secret)) = basic {
        r = r.header("authorization", basic_auth(id, secret));
    }
    r.send().await.unwrap()
}

/// An `Authorization: Basic` value for these client credentials.
pub fn basic_auth(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

/// What a client holds right after the redirect back: a code, and what it needs to redeem it.
pub struct CodeGrant {
    pub client_id: String,
    pub verifier: String,
    pub code: String,
    pub callback: String,
}

impl CodeGrant {
    /// Registers a public client, signs `email` in and allows: the code of a first connect.
    pub async fn new(
        server: &TestServer,
        email: &str,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Self {
        let client = server.register_client(REDIRECT).await;
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let (verifier, challenge) = pkce();
        let mut browser = Browser::default();
        let auth = Authorize {
            client_id: &client_id,
            redirect_uri: REDIRECT,
            challenge: &challenge,
            scope,
            resource,
            state: STATE,
            extra: vec![],
        };
        let callback = server.consent_flow(&mut browser, &auth, email).await;
        let code = query(&callback)
            .get("code")
            .unwrap_or_else(|| panic!("no code in {callback}"))
            .clone();
        Self {
            client_id,
            verifier,
            code,
            callback,
        }
    }

    /// The token request a well-behaved public client sends.
    pub async fn exchange(&self, server: &TestServer) -> (StatusCode, Value, HeaderMap) {
        server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &self.code),
                ("code_verifier", &self.verifier),
                ("redirect_uri", REDIRECT),
                ("client_id", &self.client_id),
                ("resource", &server.resource()),
            ])
            .await
    }

    /// Exchanges the code and returns the token response, which must succeed.
    pub async fn tokens(&self, server: &TestServer) -> Value {
        let (status, body, _) = self.exchange(server).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A refresh as the MCP SDKs send it: token, client, resource; no scope.
pub async fn refresh(
    server: &TestServer,
    client_id: &str,
    refresh_token: &str,
) -> (StatusCode, Value, HeaderMap) {
    server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("resource", &server.resource()),
        ])
        .await
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
}

/// A JSON-RPC call to the example MCP server.
pub async fn mcp(
    server: &TestServer,
    token: Option<&str>,
    msg: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut r = server
        .http
        .post(server.resource())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&msg);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

pub fn call_ping() -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "ping", "arguments": {}}})
}

/// Whether the example MCP server accepts `token` for the ping tool.
pub async fn mcp_status(server: &TestServer, token: &str) -> StatusCode {
    mcp(server, Some(token), call_ping()).await.0
}

/// Walks a fresh browser through sign-in to the consent page; returns the page.
pub async fn to_consent(server: &TestServer, browser: &mut Browser, url: &str) -> (String, Page) {
    let page = browser.get(url).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let login = page.location.unwrap();
    assert!(login.starts_with(&server.url("/login?request=")), "{login}");
    let page = browser.get(&login).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post_credentials(&login, EMAIL, PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let consent = page.location.unwrap();
    assert!(
        consent.starts_with(&server.url("/consent?request=")),
        "{consent}"
    );
    let page = browser.get(&consent).await;
    assert_eq!(page.status, 200);
    (consent, page)
}

/// A server with a user and a registered public client.
pub async fn server_with_client() -> (TestServer, String) {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let client = server.register_client(REDIRECT).await;
    let id = str_of(&client, "client_id").to_string();
    (server, id)
}

/// A registered client with a signed-in browser on its consent page: the server, the
/// browser, the consent URL and the page.
pub async fn signed_in_at_consent() -> (TestServer, Browser, String, Page) {
    let (server, id) = server_with_client().await;
    let (_, challenge) = pkce();
    let mut browser = Browser::default();
    let url = authorize_url(&server, &authorize_params(&id, &challenge));
    let (consent, page) = to_consent(&server, &mut browser, &url).await;
    (server, browser, consent, page)
}

/// The parameters of a good request from `client_id`.
pub fn authorize_params<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", STATE),
    ]
}

/// `params` with `key` set to `value` (or removed).
pub fn with_param<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    key: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v));
    }
    params
}

/// POSTs client metadata to the registration endpoint.
pub async fn dcr(server: &TestServer, body: &Value) -> reqwest::Response {
    server
        .http
        .post(server.url("/oauth/register"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Registers and returns the 201 body.
pub async fn dcr_ok(server: &TestServer, body: Value) -> Value {
    let r = dcr(server, &body).await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Every endpoint that takes a POST body.
pub const POST_ENDPOINTS: [&str; 14] = [
    "/oauth/register",
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/authorize",
    "/oauth/userinfo",
    "/mcp",
    "/login",
    "/register",
    "/consent",
    "/logout",
    "/verify",
    "/forgot",
    "/reset",
];

/// `/healthz` and `/readyz` both answer.
pub async fn assert_healthy(server: &TestServer) {
    let r = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready");
}

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A code for a client registered elsewhere (by DCR, the CLI or a metadata document):
/// `EMAIL` signs in and allows in `browser`. Returns the code and its PKCE verifier.
pub async fn code_for(
    server: &TestServer,
    client_id: &str,
    browser: &mut Browser,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let auth = Authorize {
        client_id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: None,
        resource: None,
        state: STATE,
        extra: vec![],
    };
    let callback = server.consent_flow(browser, &auth, EMAIL).await;
    (query(&callback)["code"].clone(), verifier)
}

/// The exchange of a `code_for` code, without client authentication.
pub fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", REDIRECT),
    ]
}

/// A token request of `form`, authenticated by a client assertion (RFC 7523 §2.2).
pub async fn token_signed(
    server: &TestServer,
    form: &[(&str, &str)],
    assertion: &str,
) -> (StatusCode, Value, HeaderMap) {
    let mut form = form.to_vec();
    form.push(("client_assertion_type", ASSERTION_TYPE));
    form.push(("client_assertion", assertion));
    server.token(&form).await
}

/// A `server.token`-style answer that refused: this status and OAuth `error` code.
pub fn assert_refused(got: (StatusCode, Value, HeaderMap), status: u16, error: &str, why: &str) {
    let (got_status, body, _) = got;
    assert_eq!(
        (got_status.as_u16(), body["error"].as_str()),
        (status, Some(error)),
        "{why}: {body}"
    );
}

/// A client's signing key (ES256) for `private_key_jwt`, and the JWK that publishes it.
pub struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl SigningKey {
    pub fn new(kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Self {
            kid: kid.to_string(),
            pkcs8: pair.to_pkcs8v1().unwrap().as_ref().to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        }
    }

    pub fn jwk(&self) -> Value {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        // An uncompressed P-256 point: 0x04, then x and y.
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": b64(&self.public[1..33]), "y": b64(&self.public[33..65]),
        })
    }

    /// An assertion for `client_id` to `aud`, expiring in `ttl` seconds.
    pub fn assertion(&self, client_id: &str, aud: &str, jti: &str, ttl: i64) -> String {
        self.assertion_to(client_id, json!(aud), jti, ttl)
    }

    /// The same with any JSON as its audience.
    pub fn assertion_to(&self, client_id: &str, aud: Value, jti: &str, ttl: i64) -> String {
        let now = unix_now();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": aud, "jti": jti,
            "iat": now, "exp": now + ttl,
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .unwrap()
    }
}

/// The authorization URL for a code flow with PKCE, [`STATE`], no scope or resource, and
/// any `extra` parameters.
pub fn code_flow_url(
    server: &TestServer,
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
    extra: Vec<(&str, &str)>,
) -> String {
    Authorize {
        client_id,
        redirect_uri,
        challenge,
        scope: None,
        resource: None,
        state: STATE,
        extra,
    }
    .url(server)
}

/// Client metadata as a JSON array of its members in the order Lanyard declares them
/// (`client_id`, `redirect_uris`, then 18 more, null): serde's derived `Deserialize` would
/// take it for the struct, so a server must refuse it by shape.
pub fn metadata_as_array(client_id: Option<&str>, redirect_uri: &str) -> Value {
    let mut members = vec![Value::Null; 20];
    members[0] = json!(client_id);
    members[1] = json!([redirect_uri]);
    Value::Array(members)
}
