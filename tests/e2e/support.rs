//! The test kit: starts a real `lanyard` process on a free loopback port with a fresh data
//! directory, and drives it over HTTP the way a client and a browser would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";

/// A running server. Killed on drop.
pub struct TestServer {
    pub base: String,
    /// The issuer it was configured with: its own base, unless it stands behind a shared
    /// one with other instances.
    pub issuer: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub http: reqwest::Client,
    logs: Arc<Mutex<Vec<String>>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lanyard")
}

impl TestServer {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a server with extra `LANYARD_*` settings.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::spawn_in(dir, extra).await
    }

    pub async fn spawn_in(mut dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let base = format!("http://127.0.0.1:{port}");
            let mut env = vec![
                ("LANYARD_ISSUER".to_string(), base.clone()),
                ("LANYARD_LISTEN".to_string(), format!("127.0.0.1:{port}")),
                (
                    "LANYARD_DATA_DIR".to_string(),
                    dir.path().join("data").display().to_string(),
                ),
                ("LANYARD_LOG".to_string(), "lanyard=debug,info".to_string()),
            ];
            for (k, v) in extra {
                env.retain(|(ek, _)| ek != k);
                env.push((k.to_string(), v.to_string()));
            }
            let issuer = env
                .iter()
                .find(|(k, _)| k == "LANYARD_ISSUER")
                .map_or(base.clone(), |(_, v)| v.clone());
            let mut s = TestServer {
                base,
                issuer,
                port,
                dir,
                env,
                child: None,
                http: client(),
                logs: Arc::new(Mutex::new(Vec::new())),
            };
            if s.start().await {
                return s;
            }
            dir = s.dir_take();
        }
        panic!("could not start lanyard");
    }

    fn dir_take(mut self) -> tempfile::TempDir {
        self.stop();
        let placeholder = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, placeholder)
    }

    /// Starts (or restarts) the process; true once it listens.
    pub async fn start(&mut self) -> bool {
        let mut child = Command::new(bin())
            .arg("serve")
            .current_dir(self.dir.path())
            .envs(self.env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lanyard");
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if line.contains("listening") {
                        let _ = tx.send(());
                    }
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let logs = self.logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Ok(mut l) = logs.lock() {
                        l.push(line);
                    }
                }
            });
        }
        self.child = Some(child);
        let started =
            tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)).is_ok())
                .await
                .unwrap_or(false);
        if !started {
            self.stop();
        }
        started
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    pub fn logs(&self) -> String {
        self.logs.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The example MCP server's resource URI (under the issuer, wherever it is served).
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.issuer)
    }

    /// Runs `lanyard <args>` against this server's data directory.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with(&[], args)
    }

    /// Runs `lanyard <args>` as `cli` does, with some settings changed (`Some`) or taken
    /// away (`None`).
    pub fn cli_with(
        &self,
        changes: &[(&str, Option<&str>)],
        args: &[&str],
    ) -> std::process::Output {
        let mut env = self.env.clone();
        for (key, value) in changes {
            env.retain(|(k, _)| k != key);
            if let Some(v) = value {
                env.push((key.to_string(), v.to_string()));
            }
        }
        Command::new(bin())
            .args(args)
            .current_dir(self.dir.path())
            .envs(env)
            .output()
            .expect("run lanyard cli")
    }

    /// What `lanyard <args>` printed, which must succeed.
    fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "lanyard {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli_ok(args);
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("not JSON: {out}"))
    }

    /// `lanyard <args>` that prints one JSON object per line, which must succeed.
    pub fn cli_json_lines(&self, args: &[&str]) -> Vec<Value> {
        self.cli_ok(args)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect()
    }

    pub fn add_user(&self, email: &str) -> Value {
        self.cli_json(&["user", "add", email, "--password", PASSWORD])
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a public client by DCR.
    pub async fn register_client(&self, redirect: &str) -> Value {
        let r = self
            .http
            .post(self.url("/oauth/register"))
            .json(&serde_json::json!({
                "redirect_uris": [redirect],
                "token_endpoint_auth_method": "none",
                "client_name": "Test App",
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201);
        r.json().await.expect("json")
    }

    /// POSTs a form to the token endpoint.
    pub async fn token(
        &self,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .expect("token");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client that does not follow redirects, so tests see every hop.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let mut buf = [0u8; 32];
    aws_lc_rs::rand::fill(&mut buf).expect("rng");
    let verifier = URL_SAFE_NO_PAD.encode(buf);
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

/// Decodes a JWT's payload without verifying it (the server's own tests verify).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

pub fn jwt_header(token: &str) -> Value {
    let h = token.split('.').next().expect("jwt header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("b64")).expect("json")
}

/// Query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    let u = url::Url::parse(url).expect("url");
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// A browser: a cookie jar and a client that does not follow redirects.
pub struct Browser {
    pub http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self {
            http: client(),
            cookies: HashMap::new(),
        }
    }
}

/// One response as a browser saw it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn absorb(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            if let Some((k, rest)) = c.to_str().unwrap_or_default().split_once('=') {
                let v = rest.split(';').next().unwrap_or_default();
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        Page {
            status: r.status(),
            location: r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            headers: r.headers().clone(),
            body: r.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let r = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.absorb(r).await
    }

    /// Posts an email-and-password form (sign-in or sign-up) with its CSRF token.
    pub async fn post_credentials(
        &mut self,
        form: &str,
        email: &str,
        password: &str,
        csrf: &str,
    ) -> Page {
        self.post(
            form,
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", csrf),
            ],
        )
        .await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.absorb(r).await
    }
}

/// An authorization request a test is making.
pub struct Authorize<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub challenge: &'a str,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub state: &'a str,
    pub extra: Vec<(&'a str, &'a str)>,
}

impl Authorize<'_> {
    pub fn url(&self, server: &TestServer) -> String {
        let mut u = url::Url::parse(&server.url("/oauth/authorize")).expect("url");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", self.client_id);
            q.append_pair("redirect_uri", self.redirect_uri);
            q.append_pair("code_challenge", self.challenge);
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("state", self.state);
            if let Some(s) = self.scope {
                q.append_pair("scope", s);
            }
            if let Some(r) = self.resource {
                q.append_pair("resource", r);
            }
            for (k, v) in &self.extra {
                q.append_pair(k, v);
            }
        }
        u.to_string()
    }
}

impl TestServer {
    /// The whole browser dance: authorize, sign in, allow. Returns the callback URL.
    pub async fn consent_flow(
        &self,
        browser: &mut Browser,
        auth: &Authorize<'_>,
        email: &str,
    ) -> String {
        let mut page = browser.get(&auth.url(self)).await;
        // Hop through sign-in and consent until the browser is sent back to the client.
        for _ in 0..6 {
            let Some(loc) = page.location.clone() else {
                panic!("flow stopped at {} with {}", page.status, page.body);
            };
            if loc.starts_with(auth.redirect_uri.split('?').next().unwrap_or_default())
                && !loc.starts_with(&self.base)
            {
                return loc;
            }
            let url = if loc.starts_with('/') {
                self.url(&loc)
            } else {
                loc.clone()
            };
            page = browser.get(&url).await;
            if page.status != StatusCode::OK {
                continue;
            }
            let csrf = hidden(&page.body, "csrf_token").expect("csrf_token on page");
            page = if url.contains("/login") {
                browser.post_credentials(&url, email, PASSWORD, &csrf).await
            } else if url.contains("/consent") {
                browser
                    .post(&url, &[("decision", "allow"), ("csrf_token", &csrf)])
                    .await
            } else {
                panic!("unexpected page {url}");
            };
            assert_eq!(
                page.status,
                StatusCode::SEE_OTHER,
                "POST {url}: {}",
                page.body
            );
        }
        panic!("too many hops");
    }

    /// Registers a client, signs a user in and exchanges the code: a full first connect.
    pub async fn connect(&self, email: &str, scope: Option<&str>) -> Connected {
        let redirect = "http://127.0.0.1:9/callback";
        let client = self.register_client(redirect).await;
        let client_id = client["client_id"].as_str().expect("client_id").to_string();
        let (verifier, challenge) = pkce();
        let mut browser = Browser::default();
        let auth = Authorize {
            client_id: &client_id,
            redirect_uri: redirect,
            challenge: &challenge,
            scope,
            resource: Some(&self.resource()),
            state: "s1",
            extra: vec![],
        };
        let callback = self.consent_flow(&mut browser, &auth, email).await;
        let code = query(&callback)["code"].clone();
        let (status, body, _) = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
                ("redirect_uri", redirect),
                ("client_id", &client_id),
                ("resource", &self.resource()),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        Connected {
            client_id,
            redirect: redirect.to_string(),
            tokens: body,
            browser,
        }
    }
}

/// What a first connect leaves a client with.
pub struct Connected {
    pub client_id: String,
    pub redirect: String,
    pub tokens: Value,
    pub browser: Browser,
}

impl Connected {
    pub fn access_token(&self) -> &str {
        self.tokens["access_token"].as_str().expect("access_token")
    }
    pub fn refresh_token(&self) -> &str {
        self.tokens["refresh_token"]
            .as_str()
            .expect("refresh_token")
    }
}

/// Settings that put a server on the production store: Postgres and Redis, with a schema and
/// a key prefix no other test uses, so that the servers given the same settings share one
/// store and nothing else does. `None` (the test is skipped) when the services are absent,
/// except under `CI=true`, where that is a failure.
pub async fn production_store() -> Option<ProductionStore> {
    let db = std::env::var("LANYARD_TEST_DATABASE_URL")
        .unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
    let redis = std::env::var("LANYARD_TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379/".into());
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let mut salt = [0u8; 8];
    lanyard::clock::Random::fill(&lanyard::clock::OsRandom::default(), &mut salt);
    let schema = format!(
        "lanyard_e2e_{}_{:016x}",
        std::process::id(),
        u64::from_le_bytes(salt)
    );
    match tokio_postgres::connect(&db, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
        }
        Err(e) if !required => {
            eprintln!("skipped: no Postgres at {db} ({e})");
            return None;
        }
        Err(e) => panic!("Postgres at {db} is required under CI: {e}"),
    }
    let reachable = std::net::TcpStream::connect("127.0.0.1:6379").is_ok()
        || std::env::var("LANYARD_TEST_REDIS_URL").is_ok();
    if !reachable {
        assert!(!required, "Redis at {redis} is required under CI");
        eprintln!("skipped: no Redis at {redis}");
        return None;
    }
    let sep = if db.contains('?') { '&' } else { '?' };
    Some(ProductionStore {
        settings: vec![
            (
                "LANYARD_DATABASE_URL",
                format!("{db}{sep}options=-c%20search_path%3D{schema}"),
            ),
            ("LANYARD_REDIS_URL", redis),
            ("LANYARD_REDIS_PREFIX", format!("{schema}:")),
        ],
        db,
        schema,
    })
}

/// A test's share of Postgres and Redis; see [`production_store`].
pub struct ProductionStore {
    pub settings: Vec<(&'static str, String)>,
    db: String,
    schema: String,
}

impl ProductionStore {
    /// The settings, as `spawn_with` takes them.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.settings
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect()
    }

    /// The settings with some of them (or more) given other values.
    pub fn env_with<'a>(&'a self, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = self.env();
        for (key, value) in changes {
            env.retain(|(k, _)| k != key);
            env.push((key, value));
        }
        env
    }

    /// One of the URL settings.
    pub fn url(&self, key: &str) -> reqwest::Url {
        let (_, v) = self
            .settings
            .iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("no {key}"));
        reqwest::Url::parse(v).expect("a URL")
    }

    /// Drops the test's schema once its servers are gone (its Redis keys expire).
    pub async fn finish(self) {
        let (client, conn) = tokio_postgres::connect(&self.db, tokio_postgres::NoTls)
            .await
            .expect("Postgres");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .expect("drop schema");
    }
}

/// `host:port` of the service at `url`.
pub fn address(url: &reqwest::Url, default_port: u16) -> String {
    format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().unwrap_or(default_port)
    )
}

/// A TCP relay to a backing service that a test can cut and restore, to see what the
/// server does while the service is unreachable.
pub struct Gate {
    pub port: u16,
    target: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    pub async fn to(target: &str) -> Self {
        let (cut, _) = tokio::sync::watch::channel(false);
        let gate = Gate {
            port: free_port(),
            target: target.to_string(),
            cut,
        };
        gate.restore().await;
        gate
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Listens again (on the same port).
    pub async fn restore(&self) {
        self.cut.send_replace(false);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("gate port");
        let (target, mut cut) = (self.target.clone(), self.cut.subscribe());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = cut.wait_for(|c| *c) => return,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                let (target, mut cut) = (target.clone(), cut.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|c| *c) => {}
                    }
                });
            }
        });
    }
}

/// A TLS front for a backing service, with a certificate for `localhost` from a CA made
/// on the spot (written to `ca_file`): Postgres' own TLS upgrade (`SSLRequest`, then the
/// handshake) or plain TLS (Redis), relayed in the clear to the real service.
pub struct TlsFront {
    pub port: u16,
    pub ca_file: tempfile::NamedTempFile,
}

impl TlsFront {
    pub async fn postgres(target: &str) -> Self {
        Self::start(target, true).await
    }

    pub async fn redis(target: &str) -> Self {
        Self::start(target, false).await
    }

    async fn start(target: &str, postgres: bool) -> Self {
        use std::io::Write;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca.pem().as_bytes()).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = target.to_string();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (acceptor, target) = (acceptor.clone(), target.clone());
                tokio::spawn(async move {
                    if postgres {
                        // SSLRequest: length 8, code 80877103; anything else is refused.
                        let mut request = [0u8; 8];
                        inbound.read_exact(&mut request).await.ok()?;
                        if request != [0, 0, 0, 8, 4, 210, 22, 47] {
                            return None;
                        }
                        inbound.write_all(b"S").await.ok()?;
                    }
                    let mut tls = acceptor.accept(inbound).await.ok()?;
                    let mut outbound = tokio::net::TcpStream::connect(&target).await.ok()?;
                    tokio::io::copy_bidirectional(&mut tls, &mut outbound)
                        .await
                        .ok()
                });
            }
        });
        TlsFront { port, ca_file }
    }
}
