//! The audit log from the operations' side: every write records who did what to which
//! object, when, and in answer to which request; `GET /admin/v1/audit` and `lanyard audit`
//! read it back, newest first.
//!
//! An entry is written once the change it describes has happened, so the log never names
//! a change that was not made. When the store refuses the entry, the change stands and the
//! entry goes to the error log whole, where it is not lost either.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{AdminResult, Operator, page_limit};
use crate::clock::UnixTime;
use crate::store::AuditEntry;

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// Unix seconds.
    pub at: UnixTime,
    /// `cli`, or the id of the API client that made the change.
    pub actor: String,
    /// What was done: `user.create`, `user.metadata.patch`, `client.secret.rotate`, ...
    pub action: String,
    /// What it was done to: a user id, a client id, a policy name, ...
    pub object: String,
    pub request_id: Option<String>,
    /// More about the change, when there is more (never a secret).
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

/// A page of the log, and where the next one starts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    /// Pass as `before` for the next (older) page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// Records a change that has been made.
pub(super) async fn record(op: &Operator<'_>, action: &str, object: &str, detail: Option<Value>) {
    let entry = AuditEntry {
        id: 0,
        at: op.now(),
        actor: op.actor.clone(),
        action: action.to_string(),
        object: object.to_string(),
        request_id: op.request_id.clone(),
        detail: detail.map(|d| d.to_string()),
    };
    if let Err(e) = op.stores.audit.record_audit(&entry).await {
        tracing::error!(error = %e, actor = %entry.actor.as_str(), action, object,
            request_id = ?entry.request_id, detail = ?entry.detail, at = entry.at,
            "could not record an admin change in the audit log");
    }
}

/// Entries older than the cursor `before` (from the newest without one).
pub async fn list(
    op: &Operator<'_>,
    before: Option<&str>,
    limit: Option<u32>,
) -> AdminResult<AuditPage> {
    let before = match before {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| super::AdminError::Invalid("before: not a cursor".into()))?,
        ),
        None => None,
    };
    let limit = page_limit(limit);
    let entries = op.stores.audit.audit_entries(before, limit).await?;
    let next_cursor = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(AuditPage {
        entries: entries.into_iter().map(view).collect(),
        next_cursor,
    })
}

fn view(e: AuditEntry) -> AuditView {
    AuditView {
        id: e.id,
        at: e.at,
        actor: e.actor.as_str().to_string(),
        action: e.action,
        object: e.object,
        request_id: e.request_id,
        detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
    }
}
