//! [`SecondFactors`] on SQLite.

use rusqlite::{OptionalExtension, params};

use super::*;

#[async_trait]
impl SecondFactors for Embedded {
    async fn totp(&self, sub: &UserId) -> StoreResult<Option<TotpFactor>> {
        self.db()?
            .one(
                "SELECT sealed_secret, confirmed_at, last_step FROM totp_factors WHERE sub = ?1",
                [sub],
                |r| {
                    Ok(TotpFactor {
                        sealed_secret: r.get(0)?,
                        confirmed_at: r.get(1)?,
                        last_step: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(map_err)
    }

    async fn begin_totp(
        &self,
        sub: &UserId,
        sealed_secret: &[u8],
        now: UnixTime,
    ) -> StoreResult<()> {
        let n = self
            .db()?
            .run(
                "INSERT INTO totp_factors (sub, sealed_secret, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sub) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
                 created_at = excluded.created_at WHERE totp_factors.confirmed_at IS NULL",
                params![sub, sealed_secret, now],
            )
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn confirm_totp(
        &self,
        sub: &UserId,
        step: i64,
        recovery: &[SecretHash],
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        let n = tx
            .run(
                "UPDATE totp_factors SET confirmed_at = ?2, last_step = ?3 \
                 WHERE sub = ?1 AND confirmed_at IS NULL",
                params![sub, now, step],
            )
            .map_err(map_err)?;
        if n == 0 {
            return Ok(false);
        }
        tx.run("DELETE FROM recovery_codes WHERE sub = ?1", [sub])
            .map_err(map_err)?;
        for hash in recovery {
            tx.run(
                "INSERT INTO recovery_codes (sub, hash) VALUES (?1, ?2)",
                params![sub, hash.as_str()],
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)?;
        Ok(true)
    }

    async fn spend_totp_step(&self, sub: &UserId, step: i64) -> StoreResult<bool> {
        let n = self
            .db()?
            .run(
                "UPDATE totp_factors SET last_step = ?2 WHERE sub = ?1 \
                 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?2)",
                params![sub, step],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn spend_recovery_code(&self, sub: &UserId, code: &SecretHash) -> StoreResult<bool> {
        let n = self
            .db()?
            .run(
                "DELETE FROM recovery_codes WHERE sub = ?1 AND hash = ?2",
                params![sub, code.as_str()],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn recovery_codes_left(&self, sub: &UserId) -> StoreResult<u32> {
        self.db()?
            .one(
                "SELECT COUNT(*) FROM recovery_codes WHERE sub = ?1",
                [sub],
                |r| r.get(0),
            )
            .map_err(map_err)
    }

    async fn remove_totp(&self, sub: &UserId) -> StoreResult<bool> {
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        tx.run("DELETE FROM recovery_codes WHERE sub = ?1", [sub])
            .map_err(map_err)?;
        let n = tx
            .run("DELETE FROM totp_factors WHERE sub = ?1", [sub])
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(n > 0)
    }
}
