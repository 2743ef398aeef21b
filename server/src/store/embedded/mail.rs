//! [`MailQueue`] on SQLite. One server owns the data folder, and statements run under the
//! connection's mutex, so a claim is one `UPDATE … RETURNING`.

use rusqlite::{Row, params};

use super::*;

fn mail_row(r: &Row<'_>) -> rusqlite::Result<QueuedMail> {
    Ok(QueuedMail {
        id: r.get(0)?,
        recipient: r.get(1)?,
        message: r.get(2)?,
        created_at: r.get(3)?,
        attempts: r.get(4)?,
    })
}

#[async_trait]
impl MailQueue for Embedded {
    async fn enqueue_mail(&self, m: &QueuedMail) -> StoreResult<()> {
        self.db()?
            .run(
                "INSERT INTO mail_outbox (id, recipient, message, created_at, attempts, next_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
                params![m.id, m.recipient, m.message, m.created_at, m.attempts],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn claim_mail(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>> {
        let conn = self.db()?;
        let mut stmt = conn
            .prepare_cached(
                "UPDATE mail_outbox SET attempts = attempts + 1, next_at = ?2 \
                 WHERE id IN (SELECT id FROM mail_outbox \
                              WHERE failed_at IS NULL AND next_at <= ?1 \
                              ORDER BY next_at LIMIT ?3) \
                 RETURNING id, recipient, message, created_at, attempts",
            )
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![now, lease_until, limit], mail_row)
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
    }

    async fn mail_sent(&self, id: &str) -> StoreResult<()> {
        self.db()?
            .run("DELETE FROM mail_outbox WHERE id = ?1", params![id])
            .map_err(map_err)?;
        Ok(())
    }

    async fn mail_failed(
        &self,
        id: &str,
        retry_at: Option<UnixTime>,
        error: &str,
        now: UnixTime,
    ) -> StoreResult<()> {
        let failed_at = retry_at.is_none().then_some(now);
        self.db()?
            .run(
                "UPDATE mail_outbox SET next_at = COALESCE(?2, next_at), last_error = ?3, \
                 failed_at = ?4 WHERE id = ?1",
                params![id, retry_at, error, failed_at],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn purge_failed_mail(&self, before: UnixTime) -> StoreResult<u64> {
        let n = self
            .db()?
            .run(
                "DELETE FROM mail_outbox WHERE failed_at < ?1",
                params![before],
            )
            .map_err(map_err)?;
        Ok(n as u64)
    }
}
