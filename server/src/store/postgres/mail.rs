//! [`MailQueue`] on Postgres. Instances claim due messages with `FOR UPDATE SKIP LOCKED`:
//! two claiming at once take different rows, and neither waits for the other.

use super::*;

fn mail_row(r: &Row) -> StoreResult<QueuedMail> {
    let attempts: i32 = col(r, 4)?;
    Ok(QueuedMail {
        id: col(r, 0)?,
        recipient: col(r, 1)?,
        message: col(r, 2)?,
        created_at: col(r, 3)?,
        attempts: u32::try_from(attempts).map_err(corrupt)?,
    })
}

#[async_trait]
impl MailQueue for Postgres {
    async fn enqueue_mail(&self, m: &QueuedMail) -> StoreResult<()> {
        let attempts = i32::try_from(m.attempts).unwrap_or(i32::MAX);
        run(
            &self.client().await?,
            "INSERT INTO mail_outbox (id, recipient, message, created_at, attempts, next_at) \
             VALUES ($1, $2, $3, $4, $5, $4)",
            &[&m.id, &m.recipient, &m.message, &m.created_at, &attempts],
        )
        .await?;
        Ok(())
    }

    async fn claim_mail(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>> {
        let limit = i64::from(limit);
        let rows = all(
            &self.client().await?,
            "UPDATE mail_outbox SET attempts = attempts + 1, next_at = $2 \
             WHERE id IN (SELECT id FROM mail_outbox \
                          WHERE failed_at IS NULL AND next_at <= $1 \
                          ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, recipient, message, created_at, attempts",
            &[&now, &lease_until, &limit],
        )
        .await?;
        rows.iter().map(mail_row).collect()
    }

    async fn mail_sent(&self, id: &str) -> StoreResult<()> {
        run(
            &self.client().await?,
            "DELETE FROM mail_outbox WHERE id = $1",
            &[&id],
        )
        .await?;
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
        run(
            &self.client().await?,
            "UPDATE mail_outbox SET next_at = COALESCE($2, next_at), last_error = $3, \
             failed_at = $4 WHERE id = $1",
            &[&id, &retry_at, &error, &failed_at],
        )
        .await?;
        Ok(())
    }

    async fn purge_failed_mail(&self, before: UnixTime) -> StoreResult<u64> {
        run(
            &self.client().await?,
            "DELETE FROM mail_outbox WHERE failed_at < $1",
            &[&before],
        )
        .await
    }
}
