//! Policy versions from the operator's side, on the production store: the bound policies
//! with their versions, pushing a module (checked against the policy world before any
//! instance sees it; a refused one changes nothing), activating an earlier version, and
//! rolling back to the one before. Each change tells every instance, which compiles the
//! version off the request path and swaps it in; one that misses the notice catches up at
//! its next poll.
//!
//! On the embedded store the module files are the versions: the server watches them, so an
//! operator replaces the file instead.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{AdminError, AdminResult, Operator, audit};
use crate::clock::UnixTime;
use crate::policy::engine::{Limits, PolicyEngine};
use crate::store::PolicyVersions;
use crate::store::notices::Change;

/// A bound policy and its versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub name: String,
    /// The resources it is bound to (an exact URI, or `*`).
    pub resources: Vec<String>,
    /// The active version's digest (sha256 of the module, hex).
    pub active: Option<String>,
    /// Every activation, newest (the active one) first.
    pub versions: Vec<VersionView>,
}

/// One activation of a version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub digest: String,
    pub activated_at: UnixTime,
}

/// What a push, an activation or a rollback changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activated {
    pub policy: String,
    /// The version active now.
    pub digest: String,
    /// The version active before, if any.
    pub previous: Option<String>,
}

/// The production store's versions, or why there are none.
fn versions<'a>(op: &'a Operator<'_>) -> AdminResult<&'a Arc<dyn PolicyVersions>> {
    op.stores.policies.as_ref().ok_or_else(|| {
        AdminError::Unsupported(
            "policy versions live in the production store (LANYARD_DATABASE_URL); on the \
             embedded store, replace the module file and the server reloads it"
                .into(),
        )
    })
}

/// The name must be one lanyard.toml binds: a version of anything else would never run.
fn bound(op: &Operator<'_>, name: &str) -> AdminResult<Vec<String>> {
    let resources: Vec<String> = op
        .config
        .policies
        .bindings
        .iter()
        .filter(|b| b.name == name)
        .map(|b| b.resource.clone())
        .collect();
    if resources.is_empty() {
        return Err(AdminError::NotFound("policy"));
    }
    Ok(resources)
}

pub async fn list(op: &Operator<'_>) -> AdminResult<Vec<PolicyView>> {
    let store = versions(op)?;
    // A policy bound to several resources is listed once.
    let mut names: Vec<&str> = Vec::new();
    for b in &op.config.policies.bindings {
        if !names.contains(&b.name.as_str()) {
            names.push(&b.name);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let history = store.policy_history(name).await?;
        out.push(PolicyView {
            name: name.to_string(),
            resources: bound(op, name)?,
            active: history.first().map(|(d, _)| d.clone()),
            versions: history
                .into_iter()
                .map(|(digest, activated_at)| VersionView {
                    digest,
                    activated_at,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Checks a module against the policy world, keeps it, and makes it the active version.
pub async fn push(op: &Operator<'_>, name: &str, module: Vec<u8>) -> AdminResult<Activated> {
    bound(op, name)?;
    let store = versions(op)?;
    let checked_name = name.to_string();
    let running = op.policy_engine.clone();
    // Compiling takes CPU time: keep it off the request threads.
    let (digest, module) = tokio::task::spawn_blocking(move || {
        let engine = match running {
            Some(engine) => engine,
            None => PolicyEngine::new(Limits::default(), None)
                .map_err(|e| AdminError::Internal(format!("policy engine: {e:#}")))?,
        };
        let compiled = engine
            .compile(&checked_name, &module)
            .map_err(|e| AdminError::PolicyRefused(e.to_string()))?;
        Ok::<_, AdminError>((compiled.digest.to_string(), module))
    })
    .await
    .map_err(|e| AdminError::Internal(format!("policy check: {e}")))??;
    activate_module(op, store.as_ref(), name, &digest, &module, "policy.push").await
}

/// Makes an earlier version of the policy active again.
pub async fn activate(op: &Operator<'_>, name: &str, digest: &str) -> AdminResult<Activated> {
    bound(op, name)?;
    let store = versions(op)?;
    let history = store.policy_history(name).await?;
    if !history.iter().any(|(d, _)| d == digest) {
        return Err(AdminError::NotFound("policy version"));
    }
    let module = store
        .policy_module(digest)
        .await?
        .ok_or(AdminError::NotFound("policy version"))?;
    activate_module(op, store.as_ref(), name, digest, &module, "policy.activate").await
}

/// Makes the version before the active one active again.
pub async fn rollback(op: &Operator<'_>, name: &str) -> AdminResult<Activated> {
    bound(op, name)?;
    let store = versions(op)?;
    let history = store.policy_history(name).await?;
    let Some((current, _)) = history.first() else {
        return Err(AdminError::Conflict(format!(
            "policy {name} has no versions"
        )));
    };
    let Some((previous, _)) = history.iter().find(|(d, _)| d != current) else {
        return Err(AdminError::Conflict(format!(
            "policy {name} has no earlier version"
        )));
    };
    let module = store
        .policy_module(previous)
        .await?
        .ok_or(AdminError::NotFound("policy version"))?;
    let previous = previous.clone();
    activate_module(
        op,
        store.as_ref(),
        name,
        &previous,
        &module,
        "policy.rollback",
    )
    .await
}

async fn activate_module(
    op: &Operator<'_>,
    store: &dyn PolicyVersions,
    name: &str,
    digest: &str,
    module: &[u8],
    action: &str,
) -> AdminResult<Activated> {
    let previous = store.active_policy(name).await?;
    store
        .activate_policy(name, digest, module, op.now())
        .await?;
    audit::record(
        op,
        action,
        name,
        Some(json!({"digest": digest, "previous": previous})),
    )
    .await;
    if let Err(e) = op.stores.notices.publish(Change::Policies).await {
        tracing::warn!(error = %e, "could not tell the running servers; they catch up when they poll");
    }
    Ok(Activated {
        policy: name.to_string(),
        digest: digest.to_string(),
        previous,
    })
}
