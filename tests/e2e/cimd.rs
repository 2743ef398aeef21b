//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
//! 2025-11-25 SEP-991): documents served by a tiny HTTP server inside the test, which the
//! authorization server may reach only because `LANYARD_CIMD_ALLOW_LOOPBACK` says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::fixtures::*;
use crate::support::*;

/// One canned answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Without Content-Length the body runs until the connection closes.
    content_length: bool,
    delay: Duration,
}

impl Reply {
    fn json(doc: &Value) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: doc.to_string().into_bytes(),
            content_length: true,
            delay: Duration::ZERO,
        }
    }
    fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: vec![],
            content_length: true,
            delay: Duration::ZERO,
        }
    }
}

type Shared<T> = Arc<Mutex<HashMap<String, T>>>;

/// A loopback HTTP server answering each path with its canned reply, counting requests.
struct DocServer {
    base: String,
    routes: Shared<Reply>,
    hits: Shared<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DocServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut sock: tokio::net::TcpStream, routes: Shared<Reply>, hits: Shared<usize>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let path = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::status(404));
    tokio::time::sleep(reply.delay).await;
    let mut out = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if reply.content_length {
        out.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    out.push_str("\r\n");
    let _ = sock.write_all(out.as_bytes()).await;
    let _ = sock.write_all(&reply.body).await;
    let _ = sock.shutdown().await;
}

impl DocServer {
    async fn start() -> Self {
        Self::start_on(0).await
    }

    async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let routes: Shared<Reply> = Arc::default();
        let hits: Shared<usize> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(answer(sock, r.clone(), h.clone()));
            }
        });
        Self {
            base,
            routes,
            hits,
            task,
        }
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_string(), reply);
    }
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A valid document for `client_id`, shaped like Claude Code's.
fn document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "Doc App",
        "client_uri": "https://docs.example",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

async fn setup(extra: &[(&str, &str)]) -> (TestServer, DocServer) {
    let mut env = vec![("LANYARD_CIMD_ALLOW_LOOPBACK", "true")];
    env.extend_from_slice(extra);
    let server = TestServer::spawn_with(&env).await;
    server.add_user(EMAIL);
    (server, DocServer::start().await)
}

fn authorize(server: &TestServer, client_id: &str, redirect_uri: &str) -> String {
    let (_, challenge) = pkce();
    Authorize {
        client_id,
        redirect_uri,
        challenge: &challenge,
        scope: None,
        resource: None,
        state: STATE,
        extra: vec![],
    }
    .url(server)
}

#[tokio::test]
async fn a_metadata_document_client_signs_in_and_is_named_by_its_host() {
    let (server, docs) = setup(&[]).await;
    let client_id = docs.url("/client.json");
    docs.set("/client.json", Reply::json(&document(&client_id)));

    let (verifier, challenge) = pkce();
    let url = Authorize {
        client_id: &client_id,
        redirect_uri: REDIRECT,
        challenge: &challenge,
        scope: None,
        resource: None,
        state: STATE,
        extra: vec![],
    }
    .url(&server);
    let mut browser = Browser::default();
    let (consent, page) = to_consent(&server, &mut browser, &url).await;
    // MCP 2025-11-25 §CIMD security: the consent page must show the document's host.
    assert!(page.body.contains("Doc App"), "{}", page.body);
    assert!(
        page.body
            .contains("App identity published by <code>127.0.0.1</code>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("The answer goes to <code>127.0.0.1</code>."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Check the address"), "{}", page.body);
    // The URL is the client_id at the token endpoint too; the client is public (PKCE).
    let tokens = allow_and_exchange(
        &server,
        &mut browser,
        &consent,
        &page,
        &client_id,
        &verifier,
    )
    .await;
    let at = str_of(&tokens, "access_token");
    assert_eq!(jwt_claims(at)["client_id"], client_id);
    assert_eq!(mcp_status(&server, at).await, 200);
    let (status, body, _) = refresh(&server, &client_id, str_of(&tokens, "refresh_token")).await;
    assert_eq!(status, 200, "{body}");
}

/// Allows on the consent `page` at `consent`, then exchanges the code (with `iss` checked)
/// as the public client `client_id`; returns the tokens.
async fn allow_and_exchange(
    server: &TestServer,
    browser: &mut Browser,
    consent: &str,
    page: &Page,
    client_id: &str,
    verifier: &str,
) -> Value {
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post(consent, &[("decision", "allow"), ("csrf_token", &csrf)])
        .await;
    assert_eq!(page.status, 303);
    let q = query(page.location.as_deref().unwrap());
    assert_eq!(q["iss"], server.base);
    let (status, tokens, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn bad_documents_get_an_error_page_never_a_redirect() {
    let (server, docs) = setup(&[]).await;
    let with = |path: &str, patch: Value| {
        let mut d = document(&docs.url(path));
        d.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        Reply::json(&d)
    };
    let mut redirect = Reply::status(302);
    redirect
        .headers
        .push(("location".into(), "/real.json".into()));
    let big = |path: &str, framed: bool| Reply {
        content_length: framed,
        ..with(path, json!({"padding": "x".repeat(6 * 1024)}))
    };
    let not_json = Reply {
        body: b"<html>hello</html>".to_vec(),
        ..Reply::json(&json!({}))
    };
    docs.set(
        "/real.json",
        Reply::json(&document(&docs.url("/real.json"))),
    );

    let cases: Vec<(&str, Reply, &str)> = vec![
        // CIMD draft: the document's client_id must equal the URL, by simple comparison.
        (
            "/mismatch.json",
            Reply::json(&document("https://other.example/client.json")),
            "client_id does not equal the document URL",
        ),
        (
            "/slash.json",
            Reply::json(&document(&format!("{}/", docs.url("/slash.json")))),
            "client_id does not equal the document URL",
        ),
        // CIMD draft: redirects are not followed; only 200 is success.
        ("/moved.json", redirect, "status 302"),
        ("/missing.json", Reply::status(404), "status 404"),
        ("/broken.json", Reply::status(500), "status 500"),
        // The draft suggests a ~5 KB cap, whether or not the length is declared.
        ("/big.json", big("/big.json", true), "document too large"),
        (
            "/big-unframed.json",
            big("/big-unframed.json", false),
            "document too large",
        ),
        ("/html.json", not_json, "not a JSON object"),
        (
            "/array.json",
            Reply::json(&metadata_as_array(
                Some(&docs.url("/array.json")),
                "http://127.0.0.1:9/cb",
            )),
            "not a JSON object",
        ),
        (
            "/evil-redirect.json",
            with(
                "/evil-redirect.json",
                json!({"redirect_uris": ["http://evil.example/cb"]}),
            ),
            "http redirect URIs are allowed only for loopback hosts",
        ),
        (
            "/js-redirect.json",
            with(
                "/js-redirect.json",
                json!({"redirect_uris": ["javascript:alert(1)"]}),
            ),
            "redirect_uri scheme is not allowed",
        ),
        (
            "/no-redirects.json",
            with("/no-redirects.json", json!({"redirect_uris": []})),
            "redirect_uris must be a non-empty array",
        ),
        (
            "/no-name.json",
            with("/no-name.json", json!({"client_name": " "})),
            "client_name is required",
        ),
        // CIMD draft: no shared secrets in a public document.
        (
            "/secret.json",
            with("/secret.json", json!({"client_secret": "s3cret"})),
            "must not carry a client secret",
        ),
        (
            "/secret-method.json",
            with(
                "/secret-method.json",
                json!({"token_endpoint_auth_method": "client_secret_post"}),
            ),
            "shared-secret authentication is not allowed",
        ),
    ];
    for (path, reply, needle) in cases {
        docs.set(path, reply);
        let page = Browser::default()
            .get(&authorize(&server, &docs.url(path), REDIRECT))
            .await;
        assert_error_page(&page, "Application could not be verified");
        assert!(
            page.body.contains(needle),
            "{path}: page lacks {needle:?}: {}",
            page.body
        );
        assert_eq!(docs.hits(path), 1, "{path}");
    }
    assert_eq!(
        docs.hits("/real.json"),
        0,
        "a redirect must not be followed"
    );

    // A good document, but a redirect_uri it does not list.
    docs.set(
        "/good.json",
        Reply::json(&document(&docs.url("/good.json"))),
    );
    let page = Browser::default()
        .get(&authorize(
            &server,
            &docs.url("/good.json"),
            "http://127.0.0.1:9/elsewhere",
        ))
        .await;
    assert_error_page(&page, "does not match any URI registered");
}

/// A document may send the code to another host than its own; the consent page says so.
#[tokio::test]
async fn the_consent_page_warns_when_the_code_goes_to_another_host_than_the_documents() {
    let (server, docs) = setup(&[]).await;
    let client_id = docs.url("/elsewhere.json");
    let elsewhere = "http://localhost:9/callback";
    let mut doc = document(&client_id);
    doc["redirect_uris"] = json!([elsewhere]);
    docs.set("/elsewhere.json", Reply::json(&doc));
    let (_, challenge) = pkce();
    let url = code_flow_url(&server, &client_id, elsewhere, &challenge, vec![]);
    let (_, page) = to_consent(&server, &mut Browser::default(), &url).await;
    assert!(
        page.body.contains(
            "This app is published by <code>127.0.0.1</code>, but the answer goes to <code>localhost</code>."
        ),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_slow_host_times_out_into_an_error_page() {
    let (server, docs) = setup(&[("LANYARD_CIMD_TIMEOUT_MS", "300")]).await;
    let client_id = docs.url("/slow.json");
    let mut slow = Reply::json(&document(&client_id));
    slow.delay = Duration::from_secs(3);
    docs.set("/slow.json", slow);
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_error_page(&page, "timed out");
}

#[tokio::test]
async fn a_failed_fetch_is_not_cached_and_a_good_one_is() {
    let (server, docs) = setup(&[]).await;
    let client_id = docs.url("/flaky.json");
    docs.set("/flaky.json", Reply::status(503));
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_error_page(&page, "status 503");
    let mut wrong = document(&client_id);
    wrong["redirect_uris"] = json!(["http://evil.example/cb"]);
    docs.set("/flaky.json", Reply::json(&wrong));
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_error_page(&page, "loopback hosts");

    // CIMD draft: errors and invalid documents are never cached; fixed, it works.
    docs.set("/flaky.json", Reply::json(&document(&client_id)));
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(
        page.location
            .unwrap()
            .starts_with(&server.url("/login?request="))
    );
    assert_eq!(docs.hits("/flaky.json"), 3);
    // A good document is reused within its freshness (no Cache-Control: the default).
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_eq!(page.status, 302);
    assert_eq!(docs.hits("/flaky.json"), 3);
}

/// A client id on a host that does not answer cannot make Lanyard knock again at once:
/// the host is left alone for a while, even once something listens there.
#[tokio::test]
async fn a_host_that_did_not_answer_is_not_probed_again_at_once() {
    let server = TestServer::spawn_with(&[("LANYARD_CIMD_ALLOW_LOOPBACK", "true")]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client_id = format!("http://127.0.0.1:{port}/c.json");
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_error_page(&page, "could not connect");

    let docs = DocServer::start_on(port).await;
    docs.set("/c.json", Reply::json(&document(&client_id)));
    let page = Browser::default()
        .get(&authorize(&server, &client_id, REDIRECT))
        .await;
    assert_error_page(&page, "did not answer a moment ago");
    assert_eq!(docs.hits("/c.json"), 0, "the host was probed again");
}

/// Serves a valid document at `path` with `Cache-Control: no-store`; returns its URL.
fn serve_no_store(docs: &DocServer, path: &str) -> String {
    let client_id = docs.url(path);
    let mut reply = Reply::json(&document(&client_id));
    reply
        .headers
        .push(("cache-control".into(), "no-store".into()));
    docs.set(path, reply);
    client_id
}

/// A `no-store` document is fetched once per authorization: its later steps (sign-in,
/// consent, the token request) use what was fetched when it started.
#[tokio::test]
async fn a_no_store_document_is_fetched_once_per_authorization() {
    let (server, docs) = setup(&[]).await;
    let client_id = serve_no_store(&docs, "/once.json");
    let (verifier, challenge) = pkce();
    let url = code_flow_url(&server, &client_id, REDIRECT, &challenge, vec![]);
    let mut browser = Browser::default();
    let (consent, page) = to_consent(&server, &mut browser, &url).await;
    allow_and_exchange(
        &server,
        &mut browser,
        &consent,
        &page,
        &client_id,
        &verifier,
    )
    .await;
    assert_eq!(docs.hits("/once.json"), 1);
}

#[tokio::test]
async fn no_store_documents_are_fetched_again_for_each_authorization() {
    let (server, docs) = setup(&[]).await;
    let client_id = serve_no_store(&docs, "/fresh.json");
    for n in 1..=2 {
        let page = Browser::default()
            .get(&authorize(&server, &client_id, REDIRECT))
            .await;
        assert_eq!(page.status, 302);
        assert_eq!(docs.hits("/fresh.json"), n);
    }
}

#[tokio::test]
async fn private_and_loopback_hosts_are_refused_without_the_test_flag() {
    let server = TestServer::spawn().await;
    let docs = DocServer::start().await;
    let loopback = docs.url("/client.json");
    docs.set("/client.json", Reply::json(&document(&loopback)));
    // Plain http is not a metadata document URL at all: an unknown client.
    let page = Browser::default()
        .get(&authorize(&server, &loopback, REDIRECT))
        .await;
    assert_error_page(&page, "not registered");
    // RFC 6890 special-use addresses are blocked before any connection (SSRF).
    for id in [
        "https://10.0.0.1/client.json",
        "https://169.254.169.254/latest/client.json",
        "https://[::1]/client.json",
        "https://127.0.0.1/client.json",
        "https://192.168.1.1/client.json",
    ] {
        let page = Browser::default()
            .get(&authorize(&server, id, REDIRECT))
            .await;
        assert_error_page(&page, "host is a special-use address");
    }
    // CIMD draft: https, a path, no credentials, no dot segments.
    for (id, needle) in [
        ("https://app.example/", "must contain a path"),
        ("https://u:p@app.example/c.json", "credentials"),
        ("https://app.example/a/../c.json", "dot segments"),
    ] {
        let page = Browser::default()
            .get(&authorize(&server, id, REDIRECT))
            .await;
        assert_error_page(&page, needle);
    }
    assert_eq!(docs.hits("/client.json"), 0);
    // At the token endpoint the same refusal is invalid_client.
    let (verifier, _) = pkce();
    let (status, body, _) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &verifier),
            ("client_id", "https://10.0.0.1/client.json"),
        ])
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (
            401,
            json!({"error": "invalid_client", "error_description": "client_id URL is not acceptable: host is a special-use address"})
        )
    );
}

#[tokio::test]
async fn private_hosts_stay_blocked_even_with_the_loopback_flag() {
    let (server, _docs) = setup(&[]).await;
    for id in [
        "https://10.0.0.1/client.json",
        "http://10.0.0.1/client.json",
        "https://169.254.169.254/client.json",
    ] {
        let page = Browser::default()
            .get(&authorize(&server, id, REDIRECT))
            .await;
        assert_eq!(page.status, 400, "{id}");
        assert!(page.location.is_none(), "{id}");
    }
}

#[tokio::test]
async fn a_client_that_publishes_keys_authenticates_with_signed_assertions() {
    let (server, docs) = setup(&[]).await;
    let client_id = docs.url("/signing.json");
    let key = SigningKey::new("k1");
    let mut doc = document(&client_id);
    doc["token_endpoint_auth_method"] = json!("private_key_jwt");
    doc["jwks_uri"] = json!(docs.url("/jwks.json"));
    docs.set("/signing.json", Reply::json(&doc));
    docs.set("/jwks.json", Reply::json(&json!({"keys": [key.jwk()]})));

    let (code, verifier) = code_for(&server, &client_id, &mut Browser::default()).await;
    let form = code_form(&code, &verifier);
    let token_url = server.url("/oauth/token");

    // Its document says it signs and does not list `none`: it must.
    let mut public = form.to_vec();
    public.push(("client_id", &client_id));
    assert_refused(
        server.token(&public).await,
        401,
        "invalid_client",
        "no assertion",
    );
    let another_key = SigningKey::new("k1").assertion(&client_id, &server.base, "j0", 60);
    assert_refused(
        token_signed(&server, &form, &another_key).await,
        401,
        "invalid_client",
        "another key",
    );
    let elsewhere = key.assertion(&client_id, "https://elsewhere.example/token", "j1", 60);
    assert_refused(
        token_signed(&server, &form, &elsewhere).await,
        401,
        "invalid_client",
        "another audience",
    );
    let hour_long = key.assertion(&client_id, &server.base, "j2", 3_600);
    assert_refused(
        token_signed(&server, &form, &hour_long).await,
        401,
        "invalid_client",
        "an hour-long assertion",
    );
    let expired = key.assertion(&client_id, &server.base, "j3", -120);
    assert_refused(
        token_signed(&server, &form, &expired).await,
        401,
        "invalid_client",
        "expired",
    );
    // None of those spent the code: authentication comes first.
    // The issuer alone is the audience (RFC 7523bis): not an endpoint, not a list.
    let to_endpoint = key.assertion(&client_id, &token_url, "j6", 60);
    assert_refused(
        token_signed(&server, &form, &to_endpoint).await,
        401,
        "invalid_client",
        "the token endpoint as audience",
    );
    let listed = key.assertion_to(&client_id, json!([&server.base]), "j7", 60);
    assert_refused(
        token_signed(&server, &form, &listed).await,
        401,
        "invalid_client",
        "the issuer in a list",
    );
    let good = key.assertion(&client_id, &server.base, "j4", 60);
    let (status, tokens, _) = token_signed(&server, &form, &good).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        jwt_claims(str_of(&tokens, "access_token"))["client_id"],
        client_id
    );

    // An assertion is good once; the refresh needs a new one.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", str_of(&tokens, "refresh_token")),
    ];
    assert_refused(
        token_signed(&server, &refresh_form, &good).await,
        401,
        "invalid_client",
        "replayed",
    );
    let fresh = key.assertion(&client_id, &server.base, "j5", 60);
    let (status, body, _) = token_signed(&server, &refresh_form, &fresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(docs.hits("/jwks.json"), 1, "the key set is cached");
}

/// ChatGPT's document: `private_key_jwt` declared and `none` listed too. It may come as a
/// public client (PKCE) or sign; either works, and a bad signature is still refused.
#[tokio::test]
async fn a_document_listing_none_too_may_be_served_as_a_public_client() {
    let (server, docs) = setup(&[]).await;
    let client_id = docs.url("/chatgpt.json");
    let key = SigningKey::new("k1");
    let mut doc = document(&client_id);
    doc["token_endpoint_auth_method"] = json!("private_key_jwt");
    doc["token_endpoint_auth_methods_supported"] = json!(["none", "private_key_jwt"]);
    doc["jwks"] = json!({"keys": [key.jwk()]});
    docs.set("/chatgpt.json", Reply::json(&doc));

    let (code, verifier) = code_for(&server, &client_id, &mut Browser::default()).await;
    let mut form = code_form(&code, &verifier).to_vec();
    form.push(("client_id", &client_id));
    let (status, tokens, _) = server.token(&form).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", str_of(&tokens, "refresh_token")),
    ];
    let forged = SigningKey::new("k1").assertion(&client_id, &server.base, "f1", 60);
    assert_refused(
        token_signed(&server, &refresh_form, &forged).await,
        401,
        "invalid_client",
        "forged",
    );
    let signed = key.assertion(&client_id, &server.base, "s1", 60);
    let (status, body, _) = token_signed(&server, &refresh_form, &signed).await;
    assert_eq!(status, 200, "{body}");
}
