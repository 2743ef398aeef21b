//! [`EphemeralStore`] on SQLite: one table of values with their expiry, which reads
//! compare with the caller's clock and a sweep clears.

use rusqlite::{OptionalExtension, params};

use super::*;

#[async_trait]
impl EphemeralStore for Embedded {
    async fn put(&self, key: &str, value: &[u8], expires_at: UnixTime) -> StoreResult<()> {
        self.db()?
            .run(
                "INSERT INTO ephemeral (key, value, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                params![key, value, expires_at],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn get(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        self.db()?
            .one(
                "SELECT value FROM ephemeral WHERE key = ?1 AND expires_at > ?2",
                params![key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)
    }

    async fn take(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        // DELETE … RETURNING is a single statement: two concurrent takes cannot both win.
        self.db()?
            .one(
                "DELETE FROM ephemeral WHERE key = ?1 AND expires_at > ?2 RETURNING value",
                params![key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.db()?
            .run("DELETE FROM ephemeral WHERE key = ?1", [key])
            .map_err(map_err)?;
        Ok(())
    }

    async fn any_present(&self, keys: &[String], now: UnixTime) -> StoreResult<bool> {
        let db = self.db()?;
        let mut stmt = db
            .prepare_cached("SELECT 1 FROM ephemeral WHERE key = ?1 AND expires_at > ?2")
            .map_err(map_err)?;
        for k in keys {
            if stmt.exists(params![k, now]).map_err(map_err)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let n = self
            .db()?
            .run("DELETE FROM ephemeral WHERE expires_at <= ?1", [now])
            .map_err(map_err)?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expired records are swept, and counted.
    #[tokio::test]
    async fn expired_records_are_swept() {
        let store = Embedded::in_memory().unwrap();
        store.put("k", b"v", 100).await.unwrap();
        store.put("l", b"v", 300).await.unwrap();
        assert_eq!(store.purge_expired(200).await.unwrap(), 1);
        assert_eq!(store.get("l", 200).await.unwrap(), Some(b"v".to_vec()));
    }
}
