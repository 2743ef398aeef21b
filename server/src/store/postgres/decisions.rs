//! [`DecisionLog`] on Postgres: one row per entry, appended in time order.

use super::*;

macro_rules! decision_cols {
    () => {
        "jti, at, client_id, sub, resource, grant_type, outcome, runs"
    };
}

fn decision_row(r: &Row) -> StoreResult<DecisionEntry> {
    Ok(DecisionEntry {
        jti: col(r, 0)?,
        at: col(r, 1)?,
        client_id: col(r, 2)?,
        sub: col(r, 3)?,
        resource: col(r, 4)?,
        grant_type: col(r, 5)?,
        outcome: col(r, 6)?,
        runs: col(r, 7)?,
    })
}

#[async_trait]
impl DecisionLog for Postgres {
    async fn record_decisions(&self, entries: &[DecisionEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: a column of values per field.
        let col = |f: fn(&DecisionEntry) -> &str| -> Vec<&str> { entries.iter().map(f).collect() };
        let at: Vec<i64> = entries.iter().map(|e| e.at).collect();
        let sub: Vec<Option<&str>> = entries
            .iter()
            .map(|e| e.sub.as_ref().map(UserId::as_str))
            .collect();
        run(
            &self.client().await?,
            concat!(
                "INSERT INTO policy_decisions (",
                decision_cols!(),
                ") SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], \
                 $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[])"
            ),
            &[
                &col(|e| &e.jti),
                &at,
                &col(|e| e.client_id.as_str()),
                &sub,
                &col(|e| e.resource.as_str()),
                &col(|e| e.grant_type.as_str()),
                &col(|e| e.outcome.as_str()),
                &col(|e| &e.runs),
            ],
        )
        .await?;
        Ok(())
    }

    async fn recent_decisions(&self, limit: u32) -> StoreResult<Vec<DecisionEntry>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            select!(
                decision_cols,
                "FROM policy_decisions ORDER BY id DESC LIMIT $1"
            ),
            &[&i64::from(limit)],
        )
        .await?;
        rows.iter().map(decision_row).collect()
    }

    async fn decision(
        &self,
        jti: &str,
        iat: Option<UnixTime>,
    ) -> StoreResult<Option<DecisionEntry>> {
        let c = self.client().await?;
        // A second either side of `iat` forgives a clock step, as the embedded store does.
        let row = opt(
            &c,
            select!(
                decision_cols,
                "FROM policy_decisions WHERE jti = $1 \
                 AND ($2::BIGINT IS NULL OR at BETWEEN $2 - 1 AND $2 + 1) ORDER BY id DESC LIMIT 1"
            ),
            &[&jti, &iat],
        )
        .await?;
        row.as_ref().map(decision_row).transpose()
    }

    async fn user_decisions(
        &self,
        sub: &UserId,
        from: UnixTime,
        to: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<DecisionEntry>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            select!(
                decision_cols,
                "FROM policy_decisions WHERE sub = $1 AND at BETWEEN $2 AND $3 \
                 ORDER BY at DESC, id DESC LIMIT $4"
            ),
            &[&sub, &from, &to, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(decision_row).collect()
    }

    async fn purge_decisions(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        run(
            &self.client().await?,
            "DELETE FROM policy_decisions WHERE id IN \
             (SELECT id FROM policy_decisions WHERE at < $1 ORDER BY id LIMIT $2)",
            &[&before, &i64::from(limit)],
        )
        .await
    }
}
