//! [`AuditLog`] on Postgres: one row per admin change, never updated or deleted; the
//! sequence orders the log.

use super::*;

macro_rules! audit_cols {
    () => {
        "id, at, actor, action, object, request_id, detail"
    };
}

fn audit_row(r: &Row) -> StoreResult<AuditEntry> {
    let actor: &str = col(r, 2)?;
    Ok(AuditEntry {
        id: col(r, 0)?,
        at: col(r, 1)?,
        actor: actor.parse().map_err(corrupt)?,
        action: col(r, 3)?,
        object: col(r, 4)?,
        request_id: col(r, 5)?,
        detail: col(r, 6)?,
    })
}

#[async_trait]
impl AuditLog for Postgres {
    async fn record_audit(&self, e: &AuditEntry) -> StoreResult<i64> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "INSERT INTO admin_audit (at, actor, action, object, request_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &e.at,
                &e.actor.as_str(),
                &e.action,
                &e.object,
                &e.request_id,
                &e.detail,
            ],
        )
        .await?;
        match row {
            Some(row) => col(&row, 0),
            None => Err(corrupt("an insert returned no id")),
        }
    }

    async fn audit_entries(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            select!(
                audit_cols,
                "FROM admin_audit WHERE id < COALESCE($1::BIGINT, 9223372036854775807) \
                 ORDER BY id DESC LIMIT $2"
            ),
            &[&before, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(audit_row).collect()
    }
}
