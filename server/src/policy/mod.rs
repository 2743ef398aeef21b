//! WebAssembly policies: the wasmtime host for components of `schema/wit/policy.wit`.
//!
//! - `engine`: compiles once (with an on-disk artifact cache keyed by module and engine),
//!   instantiates per call from a pre-instantiated handle in a pooling allocator, and bounds
//!   every call (epoch deadline, memory cap, output cap). A deny and a failure are
//!   different types.
//! - `epoch`: the clock that moves the engine's epoch, so that a call yields to the runtime
//!   at every tick and is stopped at its deadline.
//! - `guest`: the chain's input in the world's types, and the guest's answer in the host's.
//! - `chain`: runs a phase across the bindings of a resource: claims merge in order, any
//!   deny wins, failures fail closed unless the binding opted into fail-open.
//! - `registry`: the active version of each policy, swapped atomically on reload, and the
//!   bindings (resource -> ordered policies with their config).
//! - `watch`: hot reload from the policy files on one machine.
//! - `distribute`: hot reload across instances, from the versions in the production store.
//! - `decisions`: the decision log's batched writer.

pub mod chain;
pub mod decisions;
pub mod distribute;
pub mod engine;
pub mod epoch;
pub mod guest;
pub mod input;
pub mod registry;
pub mod watch;

/// The world's types and exports, generated from `schema/wit` (the guest's answers arrive
/// in these types; `guest` turns them into host ones).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../schema/wit",
        world: "policy",
    });
}

/// The released 0.1.0 world, which components built before 0.2.0 implement.
mod bindings_0_1 {
    wasmtime::component::bindgen!({
        path: "../schema/wit/0.1.0",
        world: "policy",
    });
}

pub use chain::{ChainFailed, Evaluation, PolicyRun, RunOutcome};
pub use engine::{PolicyEngine, PolicyFailure};
pub use guest::{GuestInput, UserView};
pub use input::{Decision, Phase, PolicyInput};
pub use registry::{Binding, PolicyRegistry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;

/// Builds the engine and registry the configuration asks for; `None` when no policy is
/// bound (then no engine is built and mints pay nothing). `stored`: the production store's
/// active modules by policy name (see `distribute::active_modules`), which win over the
/// files.
pub fn from_config(
    config: &Config,
    stored: HashMap<String, Vec<u8>>,
) -> anyhow::Result<Option<Arc<PolicyRegistry>>> {
    let p = &config.policies;
    if p.bindings.is_empty() {
        return Ok(None);
    }
    let limits = engine::Limits {
        deadline: Duration::from_millis(p.timeout_ms.max(1)),
        memory_bytes: (p.memory_mb.max(1) << 20) as usize,
        output_bytes: p.output_bytes as usize,
    };
    // wasmtime wants an absolute cache directory.
    let cache = std::path::absolute(config.data_dir.join("policy-cache"))?;
    std::fs::create_dir_all(&cache)?;
    let engine = PolicyEngine::new(limits, Some(cache))?;
    let mut sources: Vec<registry::PolicySource> = Vec::new();
    let mut bindings = Vec::new();
    for b in &p.bindings {
        match sources.iter().find(|s| s.name == b.name) {
            Some(s) if s.module != b.module => {
                anyhow::bail!(
                    "policy {} is bound with two different modules ({} and {})",
                    b.name,
                    s.module.display(),
                    b.module.display()
                )
            }
            Some(_) => {}
            None => sources.push(registry::PolicySource {
                name: b.name.clone(),
                module: b.module.clone(),
            }),
        }
        bindings.push(Binding {
            resource: registry::ResourcePattern::parse(&b.resource)
                .map_err(|e| anyhow::anyhow!("policies.resource: {e}"))?,
            policy: b.name.clone(),
            config: b.config.to_string(),
            fail_open: b.fail_open,
        });
    }
    Ok(Some(Arc::new(PolicyRegistry::load(
        engine, sources, bindings, stored,
    )?)))
}
