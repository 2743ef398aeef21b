//! A real SMTP server for the mail tests: aiosmtpd (from PyPI) on a loopback port, run by
//! `smtp_sink.py`, which writes each message it accepts to a folder as JSON. Missing
//! python3 or aiosmtpd skips the test, except under `CI=true`, where it is a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::free_port;

/// How long a test waits for a message to arrive.
const PATIENCE: Duration = Duration::from_secs(30);

/// The SMTP server. Killed (by its PID) on drop.
pub struct MailSink {
    pub port: u16,
    dir: tempfile::TempDir,
    /// For a sink that offers STARTTLS: its CA, certificate and key.
    tls: Option<tempfile::TempDir>,
    child: Option<Child>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/support/smtp_sink.py")
}

/// Whether aiosmtpd can run here; a failure under CI when it cannot.
pub fn smtp_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "python3 with aiosmtpd is required when CI=true (pip install aiosmtpd)"
        );
        eprintln!("SKIPPED: python3 with aiosmtpd not found (pip install aiosmtpd)");
    }
    ok
}

impl MailSink {
    /// A sink on a free port; `None` (skip) when aiosmtpd is missing outside CI.
    pub fn start() -> Option<Self> {
        Self::start_on(free_port())
    }

    /// A sink on `port`, which a server may already be trying to reach.
    pub fn start_on(port: u16) -> Option<Self> {
        if !smtp_available() {
            return None;
        }
        let mut sink = Self {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            tls: None,
            child: None,
        };
        sink.listen(&[]);
        Some(sink)
    }

    /// A sink that offers STARTTLS, with a certificate for `localhost` from a CA made on the
    /// spot (see [`MailSink::ca_file`]), and that takes mail only after AUTH with `login`.
    pub fn start_with_starttls(login: (&str, &str)) -> Option<Self> {
        if !smtp_available() {
            return None;
        }
        let tls = tempfile::tempdir().expect("temp dir");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let write = |name: &str, pem: String| {
            let path = tls.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path.display().to_string()
        };
        write("ca.pem", ca.pem());
        let cert = write("cert.pem", leaf.pem());
        let key = write("key.pem", key.serialize_pem());
        let mut sink = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            tls: Some(tls),
            child: None,
        };
        sink.listen(&["--starttls", &cert, &key, "--auth", login.0, login.1]);
        Some(sink)
    }

    /// The CA a STARTTLS sink's certificate comes from.
    pub fn ca_file(&self) -> PathBuf {
        self.tls
            .as_ref()
            .expect("a STARTTLS sink")
            .path()
            .join("ca.pem")
    }

    fn listen(&mut self, options: &[&str]) {
        let mut child = Command::new("python3")
            .arg(script())
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the SMTP sink");
        let out = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("sink output");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        self.child = Some(child);
    }

    /// The folder the messages are written to (one JSON each).
    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("sink folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).expect("mail")).expect("JSON"))
            .collect()
    }

    /// The messages to `to`.
    pub fn to(&self, to: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m["rcpt_to"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|a| a == to))
            })
            .collect()
    }

    /// Waits until `count` messages to `to` have arrived; returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.to(to);
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{count} mail(s) to {to} did not arrive; got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the next message to `to` after the `seen` it had; returns it.
    pub async fn next_for(&self, to: &str, seen: usize) -> Value {
        let all = self.wait_for(to, seen + 1).await;
        all[seen].clone()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The first URL in `text` that starts with `prefix`.
pub fn link_in(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link to {prefix} in {text}"));
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_string()
}
