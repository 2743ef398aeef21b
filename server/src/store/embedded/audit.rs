//! [`AuditLog`] on SQLite, in `lanyard.db`: one row per admin change, never updated or
//! deleted, so the row id orders the log.

use rusqlite::{Row, params};

use super::*;

macro_rules! audit_cols {
    () => {
        "id, at, actor, action, object, request_id, detail"
    };
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: parsed(r, 2, str::parse::<Actor>)?,
        action: r.get(3)?,
        object: r.get(4)?,
        request_id: r.get(5)?,
        detail: r.get(6)?,
    })
}

#[async_trait]
impl AuditLog for Embedded {
    async fn record_audit(&self, e: &AuditEntry) -> StoreResult<i64> {
        self.db()?
            .one(
                "INSERT INTO admin_audit (at, actor, action, object, request_id, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![
                    e.at,
                    e.actor.as_str(),
                    e.action,
                    e.object,
                    e.request_id,
                    e.detail
                ],
                |r| r.get(0),
            )
            .map_err(map_err)
    }

    async fn audit_entries(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let db = self.db()?;
        let mut stmt = db
            .prepare_cached(select!(
                audit_cols,
                "FROM admin_audit WHERE id < COALESCE(?1, 9223372036854775807) \
                 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![before, limit], audit_row)
            .map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An actor the code cannot read is an error, never a guess.
    #[tokio::test]
    async fn an_unknown_actor_is_corrupt() {
        let store = Embedded::in_memory().unwrap();
        let entry = AuditEntry {
            id: 0,
            at: 1,
            actor: Actor::Cli,
            action: "user.create".into(),
            object: "u".into(),
            request_id: None,
            detail: None,
        };
        store.record_audit(&entry).await.unwrap();
        store
            .db()
            .unwrap()
            .execute_batch("UPDATE admin_audit SET actor = ''")
            .unwrap();
        let read = store.audit_entries(None, 10).await;
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    }
}
