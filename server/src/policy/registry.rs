//! The policies a server runs: the active version of each (swapped whole, atomically, so a
//! call in flight finishes on the version it started with) and the bindings that say which
//! resources they apply to, in which order, with which config.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::engine::{CompiledPolicy, PolicyEngine};
use crate::oauth::types::ResourceUri;

/// Which resources a binding covers.
#[derive(Debug, Clone)]
pub enum ResourcePattern {
    Any,
    Exact(ResourceUri),
}

impl ResourcePattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "*" {
            Ok(Self::Any)
        } else {
            ResourceUri::parse(s)
                .map(Self::Exact)
                .map_err(|e| format!("{s:?}: {e}"))
        }
    }
    /// `resource` is `None` when it does not parse: only `*` covers it.
    pub fn matches(&self, resource: Option<&ResourceUri>) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(uri) => resource.is_some_and(|r| r.same_as(uri)),
        }
    }
}

/// One (resource, policy, config) binding, from `[[policies]]` in lanyard.toml.
#[derive(Debug, Clone)]
pub struct Binding {
    pub resource: ResourcePattern,
    pub policy: String,
    /// The binding's config as JSON text, serialised once here rather than at every call.
    pub config: String,
    /// On failure, mint without this policy's effects (counted and logged) instead of
    /// refusing. Off by default: a broken policy must not silently grant.
    pub fail_open: bool,
}

/// A policy's source: where its module lives.
#[derive(Debug, Clone)]
pub struct PolicySource {
    pub name: String,
    pub module: PathBuf,
}

/// The live set.
pub struct PolicyRegistry {
    pub engine: Arc<PolicyEngine>,
    active: HashMap<String, ArcSwap<CompiledPolicy>>,
    pub sources: Vec<PolicySource>,
    pub bindings: Vec<Binding>,
}

impl std::fmt::Debug for PolicyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyRegistry")
            .field("bindings", &self.bindings)
            .finish_non_exhaustive()
    }
}

impl PolicyRegistry {
    /// Loads every source; a policy that does not load is a start-up error (a server must
    /// not come up without a policy its bindings demand). `stored` holds the active
    /// versions the production store already has: those are what every other instance
    /// runs, so they win over the files, which such an instance may not even have.
    pub fn load(
        engine: Arc<PolicyEngine>,
        sources: Vec<PolicySource>,
        bindings: Vec<Binding>,
        mut stored: HashMap<String, Vec<u8>>,
    ) -> anyhow::Result<Self> {
        let mut active = HashMap::new();
        for s in &sources {
            let from_store = stored.remove(&s.name).and_then(|bytes| {
                engine
                    .compile(&s.name, &bytes)
                    .inspect_err(|e| tracing::warn!(policy = %s.name, error = %e, "the store's active version does not load here; starting with the module file"))
                    .ok()
            });
            let compiled = match from_store {
                Some(compiled) => compiled,
                None => {
                    let bytes = std::fs::read(&s.module).map_err(|e| {
                        anyhow::anyhow!("policy {}: reading {}: {e}", s.name, s.module.display())
                    })?;
                    engine
                        .compile(&s.name, &bytes)
                        .map_err(|e| anyhow::anyhow!("policy {}: {e}", s.name))?
                }
            };
            tracing::info!(policy = %s.name, digest = %compiled.digest, "policy loaded");
            active.insert(s.name.clone(), ArcSwap::from_pointee(compiled));
        }
        for b in &bindings {
            if !active.contains_key(&b.policy) {
                anyhow::bail!("binding names policy {} which has no module", b.policy);
            }
        }
        Ok(Self {
            engine,
            active,
            sources,
            bindings,
        })
    }

    pub fn active(&self, name: &str) -> Option<Arc<CompiledPolicy>> {
        self.active.get(name).map(|a| a.load_full())
    }

    /// Swaps in a new version. Only versions that compiled and type-checked get here.
    pub fn swap(&self, compiled: CompiledPolicy) -> bool {
        match self.active.get(&*compiled.name) {
            Some(slot) => {
                slot.store(Arc::new(compiled));
                true
            }
            None => false,
        }
    }

    /// The bindings that apply to `resource`, in order.
    pub fn bound_to<'a>(&'a self, resource: &str) -> impl Iterator<Item = &'a Binding> + 'a {
        // Only exact bindings need the URI parsed; `*` alone is the common case.
        let exact = self
            .bindings
            .iter()
            .any(|b| matches!(b.resource, ResourcePattern::Exact(_)));
        let resource = exact.then(|| ResourceUri::parse(resource).ok()).flatten();
        self.bindings
            .iter()
            .filter(move |b| b.resource.matches(resource.as_ref()))
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}
