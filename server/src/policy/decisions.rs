//! The decision log's writer: mints hand their entry to a background task, which writes
//! whatever has queued up in one transaction. A synchronous insert per mint cost as much as
//! the policy call itself; batching makes it a few microseconds, and `flush` at shutdown
//! writes what is still queued. The gathering window trades how many entries a crash could
//! lose (tens of milliseconds' worth) for how many share a commit.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{DecisionEntry, DecisionLog};

const QUEUE: usize = 16_384;
const BATCH: usize = 512;
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

enum Msg {
    Entry(DecisionEntry),
    Flush(oneshot::Sender<()>),
}

/// Queues entries for the writer task.
#[derive(Clone)]
pub struct DecisionWriter {
    tx: mpsc::Sender<Msg>,
    store: Arc<dyn DecisionLog>,
}

impl std::fmt::Debug for DecisionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionWriter").finish_non_exhaustive()
    }
}

impl DecisionWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn DecisionLog>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Msg>(QUEUE);
        let writer = store.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Let a few milliseconds of mints gather, so that one commit serves many.
                if matches!(first, Msg::Entry(_)) {
                    tokio::time::sleep(GATHER).await;
                }
                let mut batch = Vec::new();
                let mut waiting = Vec::new();
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    match msg {
                        Msg::Entry(e) => batch.push(e),
                        Msg::Flush(done) => waiting.push(done),
                    }
                    if batch.len() < BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                if !batch.is_empty()
                    && let Err(e) = writer.record_decisions(&batch).await
                {
                    tracing::warn!(error = %e, entries = batch.len(), "could not write the policy decision log");
                }
                for done in waiting {
                    let _ = done.send(());
                }
            }
        });
        Self { tx, store }
    }

    /// Queues an entry; when the queue is full the entry is written directly, so none is
    /// dropped.
    pub async fn submit(&self, entry: DecisionEntry) {
        if let Err(
            mpsc::error::TrySendError::Full(Msg::Entry(entry))
            | mpsc::error::TrySendError::Closed(Msg::Entry(entry)),
        ) = self.tx.try_send(Msg::Entry(entry))
            && let Err(e) = self
                .store
                .record_decisions(std::slice::from_ref(&entry))
                .await
        {
            tracing::warn!(error = %e, jti = %entry.jti, "could not write the policy decision log");
        }
    }

    /// Returns once everything queued before it is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}
