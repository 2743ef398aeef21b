//! The mail queue: durable, so that a mail server that is down loses nothing, and shared,
//! so that any instance may send what any other queued.

use async_trait::async_trait;

use super::{QueuedMail, StoreResult};
use crate::clock::UnixTime;

/// Mail waiting to be delivered, kept durably so that a mail server that is down loses
/// nothing. Several instances share one queue: each message is claimed by one of them.
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Queues a message, due at once.
    async fn enqueue_mail(&self, mail: &QueuedMail) -> StoreResult<()>;
    /// Claims up to `limit` messages due at `now`, counting an attempt on each; a claimed
    /// message is no one else's until `lease_until`, when it is due again unless its
    /// claimant reported on it (an instance that dies mid-send loses nothing).
    async fn claim_mail(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>>;
    /// Delivered: the message leaves the queue.
    async fn mail_sent(&self, id: &str) -> StoreResult<()>;
    /// Not delivered: due again at `retry_at`, or given up on (kept, with the error) when
    /// `None`.
    async fn mail_failed(
        &self,
        id: &str,
        retry_at: Option<UnixTime>,
        error: &str,
        now: UnixTime,
    ) -> StoreResult<()>;
    /// Drops the messages given up on before `before`; returns how many.
    async fn purge_failed_mail(&self, before: UnixTime) -> StoreResult<u64>;
}
