//! [`KeyStore`] on Postgres.

use super::*;

fn key_row(r: &Row) -> StoreResult<StoredKey> {
    let state: &str = col(r, 3)?;
    Ok(StoredKey {
        kid: col(r, 0)?,
        alg: col(r, 1)?,
        private_der: col(r, 2)?,
        state: state.parse().map_err(corrupt)?,
        created_at: col(r, 4)?,
        retired_at: col(r, 5)?,
    })
}

async fn insert_key<C: GenericClient>(c: &C, k: &StoredKey) -> StoreResult<u64> {
    run(
        c,
        "INSERT INTO signing_keys (kid, alg, private_der, state, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &k.kid,
            &k.alg,
            &k.private_der,
            &k.state.as_str(),
            &k.created_at,
            &k.retired_at,
        ],
    )
    .await
}

#[async_trait]
impl KeyStore for Postgres {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            "SELECT kid, alg, private_der, state, created_at, retired_at FROM signing_keys \
             ORDER BY created_at, kid",
            &[],
        )
        .await?;
        rows.iter().map(key_row).collect()
    }

    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        // Two instances starting on an empty database both try; the partial unique index
        // on `state` lets one current and one next key in, and the other gets `Conflict`.
        insert_key(&self.client().await?, key).await?;
        Ok(())
    }

    async fn rotate_keys(&self, new_next: &StoredKey, now: UnixTime) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROTATION_LOCK])
            .await
            .map_err(map_err)?;
        run(
            &tx,
            "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE state = 'current'",
            &[&now],
        )
        .await?;
        run(
            &tx,
            "UPDATE signing_keys SET state = 'current' WHERE state = 'next'",
            &[],
        )
        .await?;
        insert_key(&tx, new_next).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn prune_keys(&self, before: UnixTime) -> StoreResult<u64> {
        run(
            &self.client().await?,
            "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
            &[&before],
        )
        .await
    }
}
