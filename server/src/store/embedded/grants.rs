//! [`GrantStore`] on SQLite: consents, grants and their refresh-token families. Scope lists
//! are stored as JSON arrays.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::*;

fn grant_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: r.get(0)?,
        client_id: r.get(1)?,
        sub: r.get(2)?,
        resource: r.get(3)?,
        scopes: json_col(r, 4)?,
        auth_time: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        revoked_at: r.get(8)?,
        amr: json_col(r, 9)?,
    })
}

macro_rules! grant_cols {
    () => {
        "g.id, g.client_id, g.sub, g.resource, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.amr"
    };
}

const CONSENT: &str =
    "SELECT scopes FROM consents WHERE sub = ?1 AND client_id = ?2 AND resource = ?3";
/// A user's consents with the last mint of each: the newest grant made (a code exchange)
/// or refresh token issued (a refresh) for the same client and resource.
const CONSENTS: &str = "SELECT c.client_id, c.resource, c.scopes, c.granted_at, \
     (SELECT max(max(g.created_at, coalesce((SELECT max(t.issued_at) FROM refresh_tokens t \
     WHERE t.grant_id = g.id), 0))) FROM grants g \
     WHERE g.sub = c.sub AND g.client_id = c.client_id AND g.resource = c.resource) \
     FROM consents c WHERE c.sub = ?1 ORDER BY c.granted_at, c.client_id, c.resource";
/// The grants of a user (and a client, unless `?2` is null) that were live after `?3`:
/// neither revoked nor expired by then.
pub(super) const LIVE_SINCE: &str = "SELECT id FROM grants \
     WHERE sub = ?1 AND (?2 IS NULL OR client_id = ?2) \
     AND min(coalesce(revoked_at, expires_at), expires_at) > ?3";
const GRANT_BY_ID: &str = select!(grant_cols, "FROM grants g WHERE g.id = ?1");
/// The refresh lookup of a rotation: spent tokens too, with when they were spent.
const ROTATION_LOOKUP: &str = select!(
    grant_cols,
    ", t.spent_at, t.sealed_successor FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
     WHERE t.hash = ?1"
);
const GRANT_BY_REFRESH: &str = select!(
    grant_cols,
    "FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
     WHERE t.hash = ?1 AND (?3 OR t.spent_at IS NULL) AND g.revoked_at IS NULL AND g.expires_at > ?2"
);

#[async_trait]
impl GrantStore for Embedded {
    async fn consent(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> StoreResult<Option<ScopeSet>> {
        self.db()?
            .one(CONSENT, params![sub, client_id, resource], |r| {
                json_col(r, 0)
            })
            .optional()
            .map_err(map_err)
    }

    async fn record_consent(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        resource: &ResourceUri,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let prior: Option<ScopeSet> = tx
            .one(CONSENT, params![sub, client_id, resource], |r| {
                json_col(r, 0)
            })
            .optional()
            .map_err(map_err)?;
        // A set keeps the first place of each scope: earlier ones first, then new ones.
        let mut all = prior.unwrap_or_default();
        for s in scopes.iter() {
            all.insert(s.clone());
        }
        tx.run(
            "INSERT INTO consents (sub, client_id, resource, scopes, updated_at, granted_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (sub, client_id, resource) \
             DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
            params![sub, client_id, resource, to_json(&all)?, now],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    async fn consents(&self, sub: &UserId) -> StoreResult<Vec<Consent>> {
        let db = self.db()?;
        let mut stmt = db.prepare_cached(CONSENTS).map_err(map_err)?;
        let rows = stmt
            .query_map([sub], |r| {
                Ok(Consent {
                    client_id: r.get(0)?,
                    resource: r.get(1)?,
                    scopes: json_col(r, 2)?,
                    granted_at: r.get(3)?,
                    last_used: r.get(4)?,
                })
            })
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    async fn revoke_app(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        now: UnixTime,
        since: UnixTime,
    ) -> StoreResult<Vec<String>> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let ids = live_since(&tx, sub, Some(client_id), since)?;
        tx.run(
            "DELETE FROM consents WHERE sub = ?1 AND client_id = ?2",
            params![sub, client_id],
        )
        .map_err(map_err)?;
        tx.run(
            "UPDATE grants SET revoked_at = ?3 \
             WHERE sub = ?1 AND client_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
            params![sub, client_id, now],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }

    async fn create_grant(&self, g: &Grant, refresh: Option<&SecretHash>) -> StoreResult<()> {
        let scopes = to_json(&g.scopes)?;
        let amr = to_json(&g.amr)?;
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        tx.run(
            "INSERT INTO grants (id, client_id, sub, resource, scopes, auth_time, created_at, expires_at, revoked_at, amr) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
            params![g.id, g.client_id, g.sub, g.resource, scopes, g.auth_time, g.created_at, g.expires_at, amr],
        )
        .map_err(map_err)?;
        if let Some(hash) = refresh {
            tx.run(
                "INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (?1, ?2, ?3)",
                params![hash.as_str(), g.id, g.created_at],
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        self.db()?
            .one(GRANT_BY_ID, [id], grant_row)
            .optional()
            .map_err(map_err)
    }

    async fn rotate_refresh(
        &self,
        presented: &SecretHash,
        successor: &SecretHash,
        sealed: &[u8],
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<Rotation> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let found = tx
            .one(ROTATION_LOOKUP, [presented.as_str()], |r| {
                Ok((
                    grant_row(r)?,
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, Option<Vec<u8>>>(11)?,
                ))
            })
            .optional()
            .map_err(map_err)?;
        let Some((grant, spent_at, kept)) = found else {
            return Ok(Rotation::Invalid);
        };
        if grant.revoked_at.is_some() || grant.expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        match spent_at {
            None => {
                // The sealed successor is kept until the maintenance sweep drops it, once
                // the grace window is over (`drop_seals`).
                tx.run(
                    "UPDATE refresh_tokens SET spent_at = ?2, sealed_successor = ?3 WHERE hash = ?1",
                    params![presented.as_str(), now, sealed],
                )
                .map_err(map_err)?;
                tx.run(
                    "INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (?1, ?2, ?3)",
                    params![successor.as_str(), grant.id, now],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(Rotation::Rotated(grant))
            }
            Some(t) if now - t < grace => Ok(Rotation::Raced(grant, kept)),
            Some(_) => {
                tx.run(
                    "UPDATE grants SET revoked_at = ?2 WHERE id = ?1",
                    params![grant.id, now],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(Rotation::Reused(grant))
            }
        }
    }

    async fn grant_by_refresh(
        &self,
        token: &SecretHash,
        now: UnixTime,
        include_spent: bool,
    ) -> StoreResult<Option<Grant>> {
        self.db()?
            .one(
                GRANT_BY_REFRESH,
                params![token.as_str(), now, include_spent],
                grant_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        let n = self
            .db()?
            .run(
                "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn revoke_user_grants(&self, sub: &UserId, now: UnixTime) -> StoreResult<Vec<String>> {
        let conn = self.db()?;
        let mut stmt = conn
            .prepare_cached(
                "UPDATE grants SET revoked_at = ?2 WHERE sub = ?1 AND revoked_at IS NULL \
                 RETURNING id",
            )
            .map_err(map_err)?;
        let ids = stmt
            .query_map(params![sub, now], |r| r.get(0))
            .map_err(map_err)?;
        ids.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(map_err)
    }

    async fn drop_seals(&self, before: UnixTime) -> StoreResult<u64> {
        let n = self
            .db()?
            .run(
                "UPDATE refresh_tokens SET sealed_successor = NULL \
                 WHERE sealed_successor IS NOT NULL AND spent_at <= ?1",
                params![before],
            )
            .map_err(map_err)?;
        Ok(n as u64)
    }
}

/// The ids [`LIVE_SINCE`] finds, for one client or (`None`) all of them.
pub(super) fn live_since(
    db: &rusqlite::Connection,
    sub: &UserId,
    client_id: Option<&ClientId>,
    since: UnixTime,
) -> StoreResult<Vec<String>> {
    let mut stmt = db.prepare_cached(LIVE_SINCE).map_err(map_err)?;
    let rows = stmt
        .query_map(params![sub, client_id, since], |r| r.get(0))
        .map_err(map_err)?;
    rows.collect::<Result<_, _>>().map_err(map_err)
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::secret::SecretHash;
    use crate::store::conformance;

    /// Without the planner stability guarantee SQLite re-prepares these lookups whenever a
    /// parameter is rebound, i.e. at every mint; the statement cache must actually hold.
    #[tokio::test]
    async fn refresh_lookups_are_not_reprepared_when_rebound() {
        let store = Embedded::in_memory().unwrap();
        conformance::user(&store.stores(), "u", "u@example.com").await;
        let grant = conformance::grant("g", "c", "u");
        let mut current = SecretHash::of("t0");
        store.create_grant(&grant, Some(&current)).await.unwrap();
        for i in 1..5 {
            let include_spent = i % 2 == 0;
            let found = store
                .grant_by_refresh(&current, 100 + i, include_spent)
                .await
                .unwrap();
            assert_eq!(found.map(|g| g.id), Some("g".to_string()));
            let next = SecretHash::of(&format!("t{i}"));
            let rotated = store
                .rotate_refresh(&current, &next, b"-", 100 + i, 0)
                .await;
            assert!(matches!(rotated, Ok(Rotation::Rotated(_))));
            current = next;
        }
        let db = store.db().unwrap();
        for sql in [GRANT_BY_REFRESH, ROTATION_LOOKUP] {
            let stmt = db.prepare_cached(sql).unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}
