//! [`KeyStore`] on SQLite.

use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::*;

fn key_row(r: &Row<'_>) -> rusqlite::Result<StoredKey> {
    Ok(StoredKey {
        kid: r.get(0)?,
        alg: r.get(1)?,
        private_der: r.get(2)?,
        state: parsed(r, 3, str::parse::<KeyState>)?,
        created_at: r.get(4)?,
        retired_at: r.get(5)?,
    })
}

fn insert_key(tx: &Connection, k: &StoredKey) -> rusqlite::Result<usize> {
    tx.run(
        "INSERT INTO signing_keys (kid, alg, private_der, state, created_at, retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![k.kid, k.alg, k.private_der, k.state.as_str(), k.created_at, k.retired_at],
    )
}

#[async_trait]
impl KeyStore for Embedded {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let db = self.db()?;
        let mut stmt = db
            .prepare("SELECT kid, alg, private_der, state, created_at, retired_at FROM signing_keys ORDER BY created_at, kid")
            .map_err(map_err)?;
        let rows = stmt.query_map([], key_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        let db = self.db()?;
        insert_key(&db, key).map_err(map_err)?;
        Ok(())
    }

    async fn rotate_keys(&self, new_next: &StoredKey, now: UnixTime) -> StoreResult<()> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        tx.run(
            "UPDATE signing_keys SET state = 'retired', retired_at = ?1 WHERE state = 'current'",
            [now],
        )
        .map_err(map_err)?;
        tx.run(
            "UPDATE signing_keys SET state = 'current' WHERE state = 'next'",
            [],
        )
        .map_err(map_err)?;
        insert_key(&tx, new_next).map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    async fn prune_keys(&self, before: UnixTime) -> StoreResult<u64> {
        let n = self
            .db()?
            .run(
                "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < ?1",
                [before],
            )
            .map_err(map_err)?;
        Ok(n as u64)
    }
}
