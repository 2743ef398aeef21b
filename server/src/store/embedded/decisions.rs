//! [`DecisionLog`] on SQLite, in `decisions.db`: entries are kept as batches, one row per
//! batch the writer commits, each a body of JSON lines.

use rusqlite::params;

use super::*;

/// Batches whose span covers a token's iat (a second either side forgives a clock step),
/// newest first.
const BATCHES_AT: &str = "SELECT body FROM policy_decision_batches \
     WHERE last_at >= ?1 - 1 AND first_at <= ?1 + 1 ORDER BY id DESC";
/// Batches whose span overlaps `?1..=?2`, newest first.
const BATCHES_WITHIN: &str = "SELECT body FROM policy_decision_batches \
     WHERE last_at >= ?1 AND first_at <= ?2 ORDER BY id DESC";
const BATCHES_NEWEST_FIRST: &str = "SELECT body FROM policy_decision_batches ORDER BY id DESC";

/// A batch's entries, one JSON line each.
fn batch_body(entries: &[DecisionEntry]) -> StoreResult<String> {
    let mut body = Vec::with_capacity(entries.len() * 320);
    for e in entries {
        serde_json::to_writer(&mut body, e).map_err(unavailable)?;
        body.push(b'\n');
    }
    String::from_utf8(body).map_err(unavailable)
}

/// A batch's entries, newest first. A line that does not parse is skipped and logged: one
/// damaged entry must not hide the rest of the log.
fn batch_entries(body: &str) -> impl Iterator<Item = DecisionEntry> + '_ {
    body.lines().rev().filter_map(|line| {
        serde_json::from_str(line)
            .inspect_err(|e| tracing::warn!(error = %e, "unreadable decision-log entry"))
            .ok()
    })
}

#[async_trait]
impl DecisionLog for Embedded {
    async fn record_decisions(&self, entries: &[DecisionEntry]) -> StoreResult<()> {
        let (Some(first), Some(last)) = (
            entries.iter().map(|e| e.at).min(),
            entries.iter().map(|e| e.at).max(),
        ) else {
            return Ok(());
        };
        let body = batch_body(entries)?;
        self.log_db()?
            .run(
                "INSERT INTO policy_decision_batches (first_at, last_at, entries, body) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![first, last, entries.len() as i64, body],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn recent_decisions(&self, limit: u32) -> StoreResult<Vec<DecisionEntry>> {
        let db = self.log_db()?;
        let mut stmt = db.prepare_cached(BATCHES_NEWEST_FIRST).map_err(map_err)?;
        let mut rows = stmt.query([]).map_err(map_err)?;
        let mut found = Vec::new();
        while found.len() < limit as usize
            && let Some(row) = rows.next().map_err(map_err)?
        {
            let body: String = row.get(0).map_err(map_err)?;
            found.extend(batch_entries(&body).take(limit as usize - found.len()));
        }
        Ok(found)
    }

    async fn decision(
        &self,
        jti: &str,
        iat: Option<UnixTime>,
    ) -> StoreResult<Option<DecisionEntry>> {
        let db = self.log_db()?;
        let sql = if iat.is_some() {
            BATCHES_AT
        } else {
            BATCHES_NEWEST_FIRST
        };
        let mut stmt = db.prepare_cached(sql).map_err(map_err)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(iat))
            .map_err(map_err)?;
        while let Some(row) = rows.next().map_err(map_err)? {
            let body: String = row.get(0).map_err(map_err)?;
            // Most batches do not hold the jti at all; only one that does is parsed.
            if !body.contains(jti) {
                continue;
            }
            if let Some(e) = batch_entries(&body)
                .find(|e| e.jti == jti && iat.is_none_or(|iat| (e.at - iat).abs() <= 1))
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    async fn user_decisions(
        &self,
        sub: &UserId,
        from: UnixTime,
        to: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<DecisionEntry>> {
        // The sub as the batch body spells it (a JSON string): a batch without it is not
        // parsed at all.
        let needle = serde_json::to_string(sub.as_str()).map_err(unavailable)?;
        let db = self.log_db()?;
        let mut stmt = db.prepare_cached(BATCHES_WITHIN).map_err(map_err)?;
        let mut rows = stmt.query(params![from, to]).map_err(map_err)?;
        let mut found = Vec::new();
        while found.len() < limit as usize
            && let Some(row) = rows.next().map_err(map_err)?
        {
            let body: String = row.get(0).map_err(map_err)?;
            if !body.contains(&needle) {
                continue;
            }
            let mut mine: Vec<DecisionEntry> = batch_entries(&body)
                .filter(|e| e.sub.as_ref() == Some(sub) && (from..=to).contains(&e.at))
                .collect();
            // A batch is in arrival order, which a clock step can disorder.
            mine.sort_by_key(|e| std::cmp::Reverse(e.at));
            found.extend(mine.into_iter().take(limit as usize - found.len()));
        }
        Ok(found)
    }

    async fn purge_decisions(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        let db = self.log_db()?;
        // Whole batches, oldest first, until `limit` entries (or the first batch, however
        // large) are gathered.
        let mut stmt = db
            .prepare_cached(
                "SELECT id, entries FROM policy_decision_batches WHERE last_at < ?1 \
                 ORDER BY id LIMIT ?2",
            )
            .map_err(map_err)?;
        let mut rows = stmt.query(params![before, limit]).map_err(map_err)?;
        let (mut upto, mut dropped) = (None, 0u64);
        while let Some(row) = rows.next().map_err(map_err)? {
            let (id, n): (i64, i64) = (row.get(0).map_err(map_err)?, row.get(1).map_err(map_err)?);
            if upto.is_some() && dropped + n as u64 > u64::from(limit) {
                break;
            }
            (upto, dropped) = (Some(id), dropped + n as u64);
        }
        drop(rows);
        drop(stmt);
        if let Some(upto) = upto {
            // The same batches the query walked: those past retention, up to `upto`.
            db.run(
                "DELETE FROM policy_decision_batches WHERE id <= ?2 AND last_at < ?1",
                params![before, upto],
            )
            .map_err(map_err)?;
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::decision_entry;

    /// The log is stored in batches: a batch goes as a whole, once its newest entry is
    /// past retention, and at least one goes however small the limit.
    #[tokio::test]
    async fn the_decision_log_is_purged_a_batch_at_a_time() {
        let store = Embedded::in_memory().unwrap();
        store
            .record_decisions(&[decision_entry("a", 100), decision_entry("b", 200)])
            .await
            .unwrap();
        store
            .record_decisions(&[decision_entry("c", 300)])
            .await
            .unwrap();
        assert_eq!(store.purge_decisions(150, 100).await.unwrap(), 0);
        assert_eq!(store.purge_decisions(350, 1).await.unwrap(), 2);
        assert_eq!(store.purge_decisions(350, 1).await.unwrap(), 1);
        assert_eq!(store.purge_decisions(350, 100).await.unwrap(), 0);
    }
}
