//! The policy decision log from the operator's side: the decision behind one token (by its
//! `jti`), a user's decisions over a time range, and the most recent ones.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{AdminError, AdminResult, Operator, page_limit, users};
use crate::clock::UnixTime;
use crate::store::DecisionEntry;

/// One mint's policy decisions.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// The access token's `jti`.
    pub jti: String,
    pub at: UnixTime,
    pub client_id: String,
    /// The user; absent for a client-credentials token, which is the client's own.
    pub sub: Option<String>,
    pub resource: String,
    pub grant_type: String,
    /// `allow`, `deny` or `failed`.
    pub outcome: String,
    /// The policies that ran: `{policy, digest, outcome, micros, detail}` each.
    #[schema(value_type = Vec<Object>)]
    pub runs: Value,
}

impl From<DecisionEntry> for DecisionView {
    fn from(e: DecisionEntry) -> Self {
        Self {
            runs: serde_json::from_str(&e.runs).unwrap_or(Value::Array(Vec::new())),
            jti: e.jti,
            at: e.at,
            client_id: e.client_id.to_string(),
            sub: e.sub.map(|s| s.to_string()),
            resource: e.resource.to_string(),
            grant_type: e.grant_type.as_str().to_string(),
            outcome: e.outcome.as_str().to_string(),
        }
    }
}

/// The decision behind a token; `iat`, when known, finds it without searching the whole
/// log.
pub async fn by_jti(
    op: &Operator<'_>,
    jti: &str,
    iat: Option<UnixTime>,
) -> AdminResult<DecisionView> {
    op.stores
        .decisions
        .decision(jti, iat)
        .await?
        .map(DecisionView::from)
        .ok_or(AdminError::NotFound("decision"))
}

/// A user's decisions minted at `from..=to` (the last day when not given), newest first.
pub async fn for_user(
    op: &Operator<'_>,
    user_id: &str,
    from: Option<UnixTime>,
    to: Option<UnixTime>,
    limit: Option<u32>,
) -> AdminResult<Vec<DecisionView>> {
    let user = users::find(op, user_id).await?;
    let to = to.unwrap_or_else(|| op.now());
    let from = from.unwrap_or(to.saturating_sub(86_400));
    if from > to {
        return Err(AdminError::Invalid("from is after to".into()));
    }
    let entries = op
        .stores
        .decisions
        .user_decisions(&user.sub, from, to, page_limit(limit))
        .await?;
    Ok(entries.into_iter().map(DecisionView::from).collect())
}

/// The most recent decisions, newest first.
pub async fn recent(op: &Operator<'_>, limit: Option<u32>) -> AdminResult<Vec<DecisionView>> {
    let entries = op
        .stores
        .decisions
        .recent_decisions(page_limit(limit))
        .await?;
    Ok(entries.into_iter().map(DecisionView::from).collect())
}
