//! Hot reload on one machine: the server watches its policy files; a changed module is
//! compiled off the request path and swapped in atomically. A module that fails to compile
//! or does not match the world is refused and logged, and the running version keeps serving.
//!
//! Watching is a stat of each file every interval: robust to editors that write a temp file
//! and rename it, and to files on network mounts, at the cost of one stat per file per tick.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::registry::PolicyRegistry;

/// What a file looked like when last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    modified: Option<SystemTime>,
    len: u64,
}

fn look(path: &PathBuf) -> Option<Seen> {
    let m = std::fs::metadata(path).ok()?;
    Some(Seen {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

/// Starts the watcher.
pub fn spawn(registry: Arc<PolicyRegistry>, every: Duration) {
    tokio::spawn(async move {
        let mut seen: HashMap<String, Option<Seen>> = registry
            .sources
            .iter()
            .map(|s| (s.name.clone(), look(&s.module)))
            .collect();
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            for source in &registry.sources {
                let now = look(&source.module);
                if seen.get(&source.name) == Some(&now) || now.is_none() {
                    continue;
                }
                seen.insert(source.name.clone(), now);
                let registry = registry.clone();
                let source = source.clone();
                // Compiling takes milliseconds of CPU: keep it off the request threads.
                let outcome = tokio::task::spawn_blocking(move || {
                    reload(&registry, &source.name, &source.module)
                })
                .await;
                if let Err(e) = outcome {
                    tracing::error!(error = %e, "policy reload task failed");
                }
            }
        }
    });
}

/// Reads, compiles and swaps one policy; the running version stays on any failure.
pub fn reload(registry: &PolicyRegistry, name: &str, path: &PathBuf) -> bool {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(policy = name, error = %e, "policy file unreadable; keeping the running version");
            return false;
        }
    };
    install(registry, name, &bytes)
}

/// Compiles and swaps in `bytes` as `name`'s version, unless it is the one running; the
/// running version stays on any failure.
pub fn install(registry: &PolicyRegistry, name: &str, bytes: &[u8]) -> bool {
    let digest = super::engine::digest_hex(bytes);
    if registry.active(name).is_some_and(|p| *p.digest == *digest) {
        return false;
    }
    match registry.engine.compile(name, bytes) {
        Ok(compiled) => {
            let previous = registry
                .active(name)
                .map(|p| p.digest.clone())
                .unwrap_or_default();
            registry.swap(compiled);
            tracing::info!(policy = name, %digest, %previous, "policy reloaded");
            true
        }
        Err(e) => {
            tracing::error!(policy = name, %digest, error = %e, "policy refused; keeping the running version");
            false
        }
    }
}
