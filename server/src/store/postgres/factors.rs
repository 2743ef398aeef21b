//! [`SecondFactors`] on Postgres.

use super::*;

#[async_trait]
impl SecondFactors for Postgres {
    async fn totp(&self, sub: &UserId) -> StoreResult<Option<TotpFactor>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT sealed_secret, confirmed_at, last_step FROM totp_factors WHERE sub = $1",
            &[&sub],
        )
        .await?;
        row.map(|r| {
            Ok(TotpFactor {
                sealed_secret: col(&r, 0)?,
                confirmed_at: col(&r, 1)?,
                last_step: col(&r, 2)?,
            })
        })
        .transpose()
    }

    async fn begin_totp(
        &self,
        sub: &UserId,
        sealed_secret: &[u8],
        now: UnixTime,
    ) -> StoreResult<()> {
        let n = run(
            &self.client().await?,
            "INSERT INTO totp_factors (sub, sealed_secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sub) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
             created_at = excluded.created_at WHERE totp_factors.confirmed_at IS NULL",
            &[&sub, &sealed_secret, &now],
        )
        .await?;
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
        let hashes: Vec<&str> = recovery.iter().map(SecretHash::as_str).collect();
        // One statement: the factor is confirmed and the codes replaced together, or
        // nothing happens (no waiting secret).
        let n = run(
            &self.client().await?,
            "WITH confirmed AS (UPDATE totp_factors SET confirmed_at = $2, last_step = $3 \
             WHERE sub = $1 AND confirmed_at IS NULL RETURNING sub), \
             cleared AS (DELETE FROM recovery_codes WHERE sub IN (SELECT sub FROM confirmed)) \
             INSERT INTO recovery_codes (sub, hash) \
             SELECT c.sub, h FROM confirmed c, unnest($4::TEXT[]) AS h",
            &[&sub, &now, &step, &hashes],
        )
        .await?;
        // Confirming always stores at least one code; none inserted means none confirmed.
        Ok(n > 0)
    }

    async fn spend_totp_step(&self, sub: &UserId, step: i64) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "UPDATE totp_factors SET last_step = $2 WHERE sub = $1 \
             AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
            &[&sub, &step],
        )
        .await?;
        Ok(n > 0)
    }

    async fn spend_recovery_code(&self, sub: &UserId, code: &SecretHash) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "DELETE FROM recovery_codes WHERE sub = $1 AND hash = $2",
            &[&sub, &code.as_str()],
        )
        .await?;
        Ok(n > 0)
    }

    async fn recovery_codes_left(&self, sub: &UserId) -> StoreResult<u32> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT COUNT(*) FROM recovery_codes WHERE sub = $1",
            &[&sub],
        )
        .await?;
        let n: i64 = match row {
            Some(r) => col(&r, 0)?,
            None => 0,
        };
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn remove_totp(&self, sub: &UserId) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "WITH codes AS (DELETE FROM recovery_codes WHERE sub = $1) \
             DELETE FROM totp_factors WHERE sub = $1",
            &[&sub],
        )
        .await?;
        Ok(n > 0)
    }
}
