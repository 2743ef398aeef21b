//! The server under test: a real `lanyard` process on a free loopback port with a fresh
//! data directory, its log, its command line, and the plain HTTP calls every test makes.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::{PASSWORD, client};

/// A running server. Killed on drop.
pub struct TestServer {
    pub base: String,
    /// The issuer it was configured with: its own base, unless it stands behind a shared
    /// one with other instances.
    pub issuer: String,
    pub port: u16,
    /// The admin listener's port (`/metrics`).
    pub admin_port: u16,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub http: reqwest::Client,
    logs: Arc<Mutex<Vec<String>>>,
}

pub fn free_port() -> u16 {
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

    pub async fn spawn_in(dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Self {
        Self::spawn_at("127.0.0.1", dir, extra).await
    }

    /// Starts a server whose issuer is `http://localhost:<port>`: a host name, which
    /// WebAuthn needs (browsers refuse passkeys on an IP-address origin).
    pub async fn spawn_on_localhost(dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Self {
        Self::spawn_at("localhost", dir, extra).await
    }

    async fn spawn_at(host: &str, mut dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Self {
        for _ in 0..5 {
            let (port, admin_port) = (free_port(), free_port());
            let base = format!("http://{host}:{port}");
            let mut env = vec![
                ("LANYARD_ISSUER".to_string(), base.clone()),
                ("LANYARD_LISTEN".to_string(), format!("127.0.0.1:{port}")),
                (
                    "LANYARD_ADMIN_LISTEN".to_string(),
                    format!("127.0.0.1:{admin_port}"),
                ),
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
                admin_port,
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

    /// Changes a setting for the next [`start`](Self::start).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM to the process this server started, without waiting for it.
    pub fn signal_terminate(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
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

    /// Waits until the log says `needle` (the log is read by a thread of its own, so a
    /// line the server wrote may take a moment to appear here).
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.logs().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the log never said {needle:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// A URL on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
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

    /// The admin listener's `/metrics`, as text.
    pub async fn metrics(&self) -> String {
        let r = self.http.get(self.admin_url("/metrics")).send().await;
        r.expect("GET /metrics").text().await.expect("metrics text")
    }

    /// A page on the public listener, as text.
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        (r.status(), r.text().await.unwrap_or_default())
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
