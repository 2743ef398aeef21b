//! [`ClientStore`] on Postgres.

use super::*;

macro_rules! client_cols {
    () => {
        "id, secret_hash, name, redirect_uris, grant_types, auth_method, scope, metadata::TEXT, source, created_at"
    };
}

fn client_row(r: &Row) -> StoreResult<Client> {
    let metadata: String = col(r, 7)?;
    let source: &str = col(r, 8)?;
    let scope: Option<&str> = col(r, 6)?;
    Ok(Client {
        id: col(r, 0)?,
        secret_hash: col(r, 1)?,
        name: col(r, 2)?,
        redirect_uris: col(r, 3)?,
        grant_types: col(r, 4)?,
        auth_method: col(r, 5)?,
        scope: scope.map(ScopeSet::parse).transpose().map_err(corrupt)?,
        metadata: serde_json::from_str(&metadata).map_err(corrupt)?,
        source: source.parse().map_err(corrupt)?,
        created_at: col(r, 9)?,
    })
}

#[async_trait]
impl ClientStore for Postgres {
    async fn create_client(&self, c: &Client) -> StoreResult<()> {
        run(
            &self.client().await?,
            "INSERT INTO clients (id, secret_hash, name, redirect_uris, grant_types, auth_method, \
             scope, metadata, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::TEXT::JSONB, $9, $10)",
            &[
                &c.id,
                &c.secret_hash,
                &c.name,
                &c.redirect_uris,
                &c.grant_types,
                &c.auth_method,
                &c.scope.as_ref().map(ToString::to_string),
                &c.metadata.to_string(),
                &c.source.as_str(),
                &c.created_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            select!(client_cols, "FROM clients WHERE id = $1"),
            &[&id],
        )
        .await?;
        row.as_ref().map(client_row).transpose()
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            select!(client_cols, "FROM clients ORDER BY created_at, id"),
            &[],
        )
        .await?;
        rows.iter().map(client_row).collect()
    }

    async fn remove_client(&self, id: &ClientId) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // Refresh tokens go with their grants (ON DELETE CASCADE).
        run(&tx, "DELETE FROM consents WHERE client_id = $1", &[&id]).await?;
        run(&tx, "DELETE FROM grants WHERE client_id = $1", &[&id]).await?;
        let n = run(&tx, "DELETE FROM clients WHERE id = $1", &[&id]).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(n > 0)
    }

    async fn update_client(&self, c: &Client) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4, \
             grant_types = $5, auth_method = $6, scope = $7, metadata = $8::TEXT::JSONB \
             WHERE id = $1",
            &[
                &c.id,
                &c.secret_hash,
                &c.name,
                &c.redirect_uris,
                &c.grant_types,
                &c.auth_method,
                &c.scope.as_ref().map(ToString::to_string),
                &c.metadata.to_string(),
            ],
        )
        .await?;
        Ok(n > 0)
    }

    async fn purge_idle_clients(
        &self,
        before: UnixTime,
        now: UnixTime,
        limit: u32,
    ) -> StoreResult<u64> {
        // One statement: the idle clients are locked as they are chosen (instances
        // sweeping at once skip each other's), and their consents and dead grants go
        // with them (refresh tokens by cascade).
        run(
            &self.client().await?,
            "WITH idle AS (SELECT c.id FROM clients c WHERE c.source = 'dynamic' AND c.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id \
             AND g.revoked_at IS NULL AND g.expires_at > $2) \
             LIMIT $3 FOR UPDATE SKIP LOCKED), \
             consents_gone AS (DELETE FROM consents WHERE client_id IN (SELECT id FROM idle)), \
             grants_gone AS (DELETE FROM grants WHERE client_id IN (SELECT id FROM idle)) \
             DELETE FROM clients WHERE id IN (SELECT id FROM idle)",
            &[&before, &now, &i64::from(limit)],
        )
        .await
    }
}
