//! Change notices: "the signing keys changed", "a policy's active version changed", told
//! to every running instance so that it reloads at once instead of at its next poll. Best effort by design: an instance that
//! misses a notice (it was reconnecting to Redis, say) still catches up when it polls
//! (`LANYARD_KEY_RELOAD_SECS`). With Redis they travel by pub/sub; an embedded server is
//! one process, told by nobody else, so it only polls.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::StoreResult;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Keys,
    /// A policy's active version changed.
    Policies,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Keys => "keys",
            Change::Policies => "policies",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keys" => Some(Change::Keys),
            "policies" => Some(Change::Policies),
            _ => None,
        }
    }
}

#[async_trait]
pub trait Notices: Send + Sync {
    /// Tells every instance, this one included.
    async fn publish(&self, change: Change) -> StoreResult<()>;
    /// The changes told from now on.
    fn subscribe(&self) -> broadcast::Receiver<Change>;
}

/// Notices within one process.
#[derive(Debug)]
pub struct Local(broadcast::Sender<Change>);

impl Default for Local {
    fn default() -> Self {
        Self(broadcast::channel(16).0)
    }
}

#[async_trait]
impl Notices for Local {
    async fn publish(&self, change: Change) -> StoreResult<()> {
        // No receiver is no error: nobody is listening.
        let _ = self.0.send(change);
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }
}

/// The next notice; never, once there can be none (so a loop that waits on it alongside a
/// timer falls back to the timer instead of spinning).
pub async fn next(told: &mut Option<broadcast::Receiver<Change>>) -> Option<Change> {
    loop {
        let Some(rx) = told.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Ok(change) => return Some(change),
            // Missed some: whatever they were, the listener rechecks everything.
            Err(broadcast::error::RecvError::Lagged(_)) => return None,
            Err(broadcast::error::RecvError::Closed) => *told = None,
        }
    }
}
