//! [`Passkeys`] on Postgres.

use super::*;

macro_rules! passkey_columns {
    () => {
        "id, sub, name, credential, created_at, last_used_at"
    };
}

fn passkey_row(r: &Row) -> StoreResult<StoredPasskey> {
    Ok(StoredPasskey {
        id: col(r, 0)?,
        sub: col(r, 1)?,
        name: col(r, 2)?,
        credential: col(r, 3)?,
        created_at: col(r, 4)?,
        last_used_at: col(r, 5)?,
    })
}

#[async_trait]
impl Passkeys for Postgres {
    async fn add_passkey(&self, p: &StoredPasskey) -> StoreResult<()> {
        run(
            &self.client().await?,
            "INSERT INTO passkeys (id, sub, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&p.id, &p.sub, &p.name, &p.credential, &p.created_at],
        )
        .await?;
        Ok(())
    }

    async fn passkeys(&self, sub: &UserId) -> StoreResult<Vec<StoredPasskey>> {
        let c = self.client().await?;
        let sql = select!(
            passkey_columns,
            "FROM passkeys WHERE sub = $1 ORDER BY created_at, id"
        );
        all(&c, sql, &[&sub])
            .await?
            .iter()
            .map(passkey_row)
            .collect()
    }

    async fn passkey(&self, id: &PasskeyId) -> StoreResult<Option<StoredPasskey>> {
        let c = self.client().await?;
        let sql = select!(passkey_columns, "FROM passkeys WHERE id = $1");
        opt(&c, sql, &[&id])
            .await?
            .as_ref()
            .map(passkey_row)
            .transpose()
    }

    async fn passkey_used(
        &self,
        id: &PasskeyId,
        credential: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "UPDATE passkeys SET credential = $2, last_used_at = $3 WHERE id = $1",
            &[&id, &credential, &now],
        )
        .await?;
        Ok(n > 0)
    }

    async fn remove_passkey(&self, sub: &UserId, id: &PasskeyId) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "DELETE FROM passkeys WHERE sub = $1 AND id = $2",
            &[&sub, &id],
        )
        .await?;
        Ok(n > 0)
    }
}
