//! Whether the backends answer: `/healthz?deep=1` and the `lanyard_store_up` metric.
//! Readiness (`/readyz`) deliberately ignores this, since every instance shares the same
//! backends and a load balancer that drops all of them helps no one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::StoreResult;

/// How long a ping may take before its backend counts as down: well under a scrape
/// interval, so a hung backend cannot stall `/metrics`.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// One backend that can be asked whether it answers.
#[async_trait]
pub trait Health: Send + Sync {
    /// The backend's label in metrics: `sqlite`, `postgres` or `redis`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
}

/// One backend's answer to a ping.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub backend: &'static str,
    pub up: bool,
    pub took: Duration,
}

/// Pings every backend in turn (there are at most two).
pub async fn probe(backends: &[Arc<dyn Health>]) -> Vec<Probe> {
    let mut probes = Vec::with_capacity(backends.len());
    for backend in backends {
        let started = Instant::now();
        let up = matches!(
            tokio::time::timeout(PING_TIMEOUT, backend.ping()).await,
            Ok(Ok(()))
        );
        probes.push(Probe {
            backend: backend.backend(),
            up,
            took: started.elapsed(),
        });
    }
    probes
}
