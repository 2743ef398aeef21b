//! Hot reload across instances: on the production store the active version of each policy
//! lives in Postgres, and `lanyard policy push` / `rollback` change it and tell every
//! instance (a change notice through Redis). Each instance then compiles the new version
//! off the request path and swaps it in atomically, as `watch` does on one machine; a
//! version that does not compile is refused and the running one keeps serving. Polling at
//! the policy poll interval catches a notice that was missed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::registry::PolicyRegistry;
use super::watch::install;
use crate::clock::UnixTime;
use crate::store::notices::Notices;
use crate::store::{PolicyVersions, StoreResult};

/// The modules of the active versions the store has for `names`, so that an instance
/// starts on what the others run rather than on its files (and without compiling both).
pub async fn active_modules(
    names: impl IntoIterator<Item = &str>,
    store: &dyn PolicyVersions,
) -> StoreResult<HashMap<String, Vec<u8>>> {
    let mut modules = HashMap::new();
    // A policy bound to several resources is asked for once.
    let names: BTreeSet<&str> = names.into_iter().collect();
    for name in names {
        if let Some(digest) = store.active_policy(name).await?
            && let Some(bytes) = store.policy_module(&digest).await?
        {
            modules.insert(name.to_string(), bytes);
        }
    }
    Ok(modules)
}

/// Brings every bound policy to its active version. A policy the store has never seen is
/// given the module lanyard.toml names, as its first version (the first instance to start
/// does this; later ones find it there; two starting at once may both record it, and the
/// repeated activation of one digest changes nothing).
pub async fn sync(
    registry: &Arc<PolicyRegistry>,
    store: &dyn PolicyVersions,
    now: UnixTime,
) -> StoreResult<()> {
    for source in &registry.sources {
        match store.active_policy(&source.name).await? {
            Some(digest) => {
                let running = registry.active(&source.name).map(|p| p.digest.clone());
                if running.as_deref() != Some(digest.as_str()) {
                    // The module's bytes only when the version changed.
                    let Some(bytes) = store.policy_module(&digest).await? else {
                        tracing::error!(policy = %source.name, %digest, "the active version's module is missing; keeping the running version");
                        continue;
                    };
                    let (registry, name) = (registry.clone(), source.name.clone());
                    // Compiling takes milliseconds of CPU: keep it off the request threads.
                    let _ = tokio::task::spawn_blocking(move || install(&registry, &name, &bytes))
                        .await;
                }
            }
            None => {
                // The bytes must be the running version's: the file may have changed since.
                if let Some(p) = registry.active(&source.name)
                    && let Ok(bytes) = std::fs::read(&source.module)
                    && super::engine::digest_hex(&bytes) == *p.digest
                {
                    store
                        .activate_policy(&source.name, &p.digest, &bytes, now)
                        .await?;
                    tracing::info!(policy = %source.name, digest = %p.digest, "first version recorded");
                }
            }
        }
    }
    Ok(())
}

/// Keeps the registry on the active versions: at every notice, and every `every`.
pub fn spawn(
    registry: Arc<PolicyRegistry>,
    store: Arc<dyn PolicyVersions>,
    notices: Arc<dyn Notices>,
    every: Duration,
    clock: Arc<dyn crate::clock::Clock>,
) {
    tokio::spawn(async move {
        let mut told = Some(notices.subscribe());
        let mut tick = tokio::time::interval(every);
        loop {
            // Any notice will do: a sync that finds nothing new is one query per policy.
            tokio::select! {
                _ = tick.tick() => {}
                _ = crate::store::notices::next(&mut told) => {}
            }
            if let Err(e) = sync(&registry, store.as_ref(), clock.now()).await {
                tracing::warn!(error = %e, "could not check for new policy versions");
            }
        }
    });
}
