//! [`Passkeys`] on SQLite.

use rusqlite::{OptionalExtension, params};

use super::*;

const COLUMNS: &str = "id, sub, name, credential, created_at, last_used_at";

fn passkey_row(r: &Row<'_>) -> rusqlite::Result<StoredPasskey> {
    Ok(StoredPasskey {
        id: r.get(0)?,
        sub: r.get(1)?,
        name: r.get(2)?,
        credential: r.get(3)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
    })
}

#[async_trait]
impl Passkeys for Embedded {
    async fn add_passkey(&self, p: &StoredPasskey) -> StoreResult<()> {
        self.db()?
            .run(
                "INSERT INTO passkeys (id, sub, name, credential, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![p.id, p.sub, p.name, p.credential, p.created_at],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn passkeys(&self, sub: &UserId) -> StoreResult<Vec<StoredPasskey>> {
        let db = self.db()?;
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE sub = ?1 ORDER BY created_at, id");
        let mut stmt = db.prepare_cached(&sql).map_err(map_err)?;
        let rows = stmt.query_map([sub], passkey_row).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    async fn passkey(&self, id: &PasskeyId) -> StoreResult<Option<StoredPasskey>> {
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE id = ?1");
        self.db()?
            .one(&sql, [id], passkey_row)
            .optional()
            .map_err(map_err)
    }

    async fn passkey_used(
        &self,
        id: &PasskeyId,
        credential: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = self
            .db()?
            .run(
                "UPDATE passkeys SET credential = ?2, last_used_at = ?3 WHERE id = ?1",
                params![id, credential, now],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn remove_passkey(&self, sub: &UserId, id: &PasskeyId) -> StoreResult<bool> {
        let n = self
            .db()?
            .run(
                "DELETE FROM passkeys WHERE sub = ?1 AND id = ?2",
                params![sub, id],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }
}
