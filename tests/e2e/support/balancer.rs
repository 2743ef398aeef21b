//! A real load balancer in front of several instances: HAProxy (Debian's package) in the
//! foreground with a generated configuration, health-checking each instance's `/readyz` as
//! an operator's would.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::free_port;
use super::{client, missing_tool};

/// A running HAProxy. Killed (by the PID it was started with) on drop.
pub struct Haproxy {
    pub port: u16,
    stats_port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Balances `127.0.0.1:<port>` over the instances listening on `backends`. `None`
    /// when HAProxy is not installed outside CI.
    pub async fn start(port: u16, backends: &[u16]) -> Option<Self> {
        let installed = Command::new("haproxy")
            .arg("-v")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            missing_tool("haproxy");
            return None;
        }
        let stats_port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(&config, config_text(port, stats_port, backends)).expect("config");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn haproxy");
        let lb = Haproxy {
            port,
            stats_port,
            child,
            _dir: dir,
        };
        lb.wait_until_up(backends.len()).await;
        Some(lb)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many backends HAProxy's own health checks count as up.
    pub async fn backends_up(&self) -> usize {
        let stats = format!("http://127.0.0.1:{}/stats;csv", self.stats_port);
        let Ok(r) = client().get(stats).send().await else {
            return 0;
        };
        let csv = r.text().await.unwrap_or_default();
        csv.lines()
            .filter(|l| l.starts_with("lanyard,") && !l.starts_with("lanyard,BACKEND"))
            .filter(|l| l.split(',').nth(17) == Some("UP"))
            .count()
    }

    /// Waits until `n` backends are up, as HAProxy sees them.
    pub async fn wait_until_up(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.backends_up().await != n {
            assert!(
                Instant::now() < deadline,
                "HAProxy never saw {n} backends up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Health checks every 200 ms, out after two failures and in after one success; retries
/// only where HAProxy knows the request never reached an instance. Connections to the
/// instances are kept alive and reused, which is what makes a careless shutdown visible.
fn config_text(port: u16, stats_port: u16, backends: &[u16]) -> String {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server i{i} 127.0.0.1:{p} check inter 200ms fall 2 rise 1\n"))
        .collect();
    format!(
        "global\n    maxconn 1000\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    \
         option http-keep-alive\n    http-reuse always\n    retries 3\n    retry-on conn-failure\n    option redispatch 1\n\
         frontend front\n    bind 127.0.0.1:{port}\n    default_backend lanyard\n\
         frontend stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n\
         backend lanyard\n    option httpchk GET /readyz\n{servers}"
    )
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
