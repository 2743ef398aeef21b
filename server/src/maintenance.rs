//! What a running server does in the background: picking up rotated keys and new policy
//! versions, sending queued mail, and dropping what has expired (short-lived records, decision-log entries past
//! their retention, dynamically registered clients left idle).

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::store::notices;

/// How long mail given up on stays in the queue, for an operator looking into it.
const FAILED_MAIL_KEPT_SECS: i64 = 7 * 86_400;

/// Drops decision-log entries past their retention, in chunks with a yield between, so
/// that a backlog (the first purge after a long pause) never stalls the worker.
async fn purge_decision_log(app: &App) {
    const CHUNK: u32 = 5_000;
    let before = app.now() - app.config.policies.log_days as i64 * 86_400;
    loop {
        match app.stores.decisions.purge_decisions(before, CHUNK).await {
            Ok(0) => return,
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                tracing::warn!(error = %e, "could not purge the decision log");
                return;
            }
        }
    }
}

/// Removes dynamically registered clients that sat unused past `LANYARD_DCR_IDLE_DAYS`,
/// in chunks with a yield between, as the decision log is purged.
async fn purge_idle_clients(app: &App) {
    const CHUNK: u32 = 1_000;
    if app.config.dcr_idle_days == 0 {
        return;
    }
    let now = app.now();
    let before = now - app.config.dcr_idle_days as i64 * 86_400;
    loop {
        match app
            .stores
            .clients
            .purge_idle_clients(before, now, CHUNK)
            .await
        {
            Ok(0) => return,
            Ok(n) => {
                tracing::info!(clients = n, "removed idle dynamically registered clients");
                tokio::task::yield_now().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not remove idle clients");
                return;
            }
        }
    }
}

/// Work a server does in the background: picking up rotated keys (when told, and at
/// every poll in case a notice was missed), and dropping expired short-lived records,
/// decision-log entries past their retention and idle registered clients.
pub fn spawn(app: &Arc<App>) {
    let keys = app.clone();
    tokio::spawn(async move {
        let app = keys;
        let mut tick =
            tokio::time::interval(Duration::from_secs(app.config.key_reload_secs.max(1)));
        let mut told = Some(app.stores.notices.subscribe());
        loop {
            // Any notice will do: reloading is one query when nothing changed.
            tokio::select! {
                _ = tick.tick() => {}
                _ = notices::next(&mut told) => {}
            }
            match app.keys.reload(app.stores.keys.as_ref(), app.now()).await {
                Ok(true) => {
                    tracing::info!(kid = %app.keys.current().signer.kid, "signing keys reloaded")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not reload signing keys"),
            }
        }
    });
    if let Some(registry) = &app.policies {
        let every = Duration::from_millis(app.config.policies.poll_ms.max(50));
        match &app.stores.policies {
            // Several instances: versions come from the store.
            Some(versions) => crate::policy::distribute::spawn(
                registry.clone(),
                versions.clone(),
                app.stores.notices.clone(),
                every.max(Duration::from_secs(1)),
                app.clock.clone(),
            ),
            None => crate::policy::watch::spawn(registry.clone(), every),
        }
    }
    crate::mail::sender::spawn(app);
    let sweeper = app.clone();
    tokio::spawn(async move {
        let app = sweeper;
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = app.stores.ephemeral.0.purge_expired(app.now()).await {
                tracing::warn!(error = %e, "could not purge expired records");
            }
            let seals_before = app.now() - app.config.refresh_grace;
            if let Err(e) = app.stores.grants.drop_seals(seals_before).await {
                tracing::warn!(error = %e, "could not drop spent refresh-token seals");
            }
            let failed_before = app.now() - FAILED_MAIL_KEPT_SECS;
            if let Err(e) = app.stores.mail.purge_failed_mail(failed_before).await {
                tracing::warn!(error = %e, "could not drop mail given up on");
            }
            purge_decision_log(&app).await;
            purge_idle_clients(&app).await;
        }
    });
}
