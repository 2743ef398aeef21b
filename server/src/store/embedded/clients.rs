//! [`ClientStore`] on SQLite. List fields are stored as JSON arrays.

use rusqlite::{OptionalExtension, Row, params};

use super::*;

macro_rules! client_cols {
    () => {
        "id, secret_hash, name, redirect_uris, grant_types, auth_method, scope, metadata, source, created_at"
    };
}

fn client_row(r: &Row<'_>) -> rusqlite::Result<Client> {
    Ok(Client {
        id: r.get(0)?,
        secret_hash: r.get(1)?,
        name: r.get(2)?,
        redirect_uris: json_col(r, 3)?,
        grant_types: json_col(r, 4)?,
        auth_method: r.get(5)?,
        scope: match r.get::<_, Option<String>>(6)? {
            Some(_) => Some(parsed(r, 6, ScopeSet::parse)?),
            None => None,
        },
        metadata: json_col(r, 7)?,
        source: parsed(r, 8, str::parse::<ClientSource>)?,
        created_at: r.get(9)?,
    })
}

#[async_trait]
impl ClientStore for Embedded {
    async fn create_client(&self, c: &Client) -> StoreResult<()> {
        let (redirect_uris, grant_types) = (to_json(&c.redirect_uris)?, to_json(&c.grant_types)?);
        self.db()?
            .run(
                concat!(
                    "INSERT INTO clients (",
                    client_cols!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    c.id,
                    c.secret_hash,
                    c.name,
                    redirect_uris,
                    grant_types,
                    c.auth_method,
                    c.scope.as_ref().map(ToString::to_string),
                    c.metadata.to_string(),
                    c.source.as_str(),
                    c.created_at
                ],
            )
            .map_err(map_err)?;
        Ok(())
    }
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        self.db()?
            .one(
                select!(client_cols, "FROM clients WHERE id = ?1"),
                [id],
                client_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let db = self.db()?;
        let mut stmt = db
            .prepare(select!(client_cols, "FROM clients ORDER BY created_at, id"))
            .map_err(map_err)?;
        let rows = stmt.query_map([], client_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    async fn remove_client(&self, id: &ClientId) -> StoreResult<bool> {
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        // Refresh tokens go with their grants (ON DELETE CASCADE).
        tx.run("DELETE FROM consents WHERE client_id = ?1", [id])
            .map_err(map_err)?;
        tx.run("DELETE FROM grants WHERE client_id = ?1", [id])
            .map_err(map_err)?;
        let n = tx
            .run("DELETE FROM clients WHERE id = ?1", [id])
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(n > 0)
    }

    async fn update_client(&self, c: &Client) -> StoreResult<bool> {
        let (redirect_uris, grant_types) = (to_json(&c.redirect_uris)?, to_json(&c.grant_types)?);
        let n = self
            .db()?
            .run(
                "UPDATE clients SET secret_hash = ?2, name = ?3, redirect_uris = ?4, \
                 grant_types = ?5, auth_method = ?6, scope = ?7, metadata = ?8 WHERE id = ?1",
                params![
                    c.id,
                    c.secret_hash,
                    c.name,
                    redirect_uris,
                    grant_types,
                    c.auth_method,
                    c.scope.as_ref().map(ToString::to_string),
                    c.metadata.to_string()
                ],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn purge_idle_clients(
        &self,
        before: UnixTime,
        now: UnixTime,
        limit: u32,
    ) -> StoreResult<u64> {
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS idle_clients (id TEXT PRIMARY KEY); \
             DELETE FROM idle_clients;",
        )
        .map_err(map_err)?;
        tx.run(
            "INSERT INTO idle_clients SELECT c.id FROM clients c \
             WHERE c.source = 'dynamic' AND c.created_at < ?1 AND NOT EXISTS \
             (SELECT 1 FROM grants g WHERE g.client_id = c.id AND g.revoked_at IS NULL AND g.expires_at > ?2) \
             LIMIT ?3",
            params![before, now, limit],
        )
        .map_err(map_err)?;
        tx.run(
            "DELETE FROM consents WHERE client_id IN (SELECT id FROM idle_clients)",
            [],
        )
        .map_err(map_err)?;
        tx.run(
            "DELETE FROM grants WHERE client_id IN (SELECT id FROM idle_clients)",
            [],
        )
        .map_err(map_err)?;
        let n = tx
            .run(
                "DELETE FROM clients WHERE id IN (SELECT id FROM idle_clients)",
                [],
            )
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored value the code does not know is an error, never a default: a client of an
    /// unknown source, redirect URIs that are not a JSON list.
    #[tokio::test]
    async fn unreadable_clients_are_errors() {
        let store = Embedded::in_memory().unwrap();
        for (id, corruption) in [
            ("a", "UPDATE clients SET source = 'imported' WHERE id = 'a'"),
            (
                "b",
                "UPDATE clients SET redirect_uris = 'https://b' WHERE id = 'b'",
            ),
            (
                "c",
                "UPDATE clients SET auth_method = 'magic' WHERE id = 'c'",
            ),
            (
                "d",
                "UPDATE clients SET grant_types = '[\"password\"]' WHERE id = 'd'",
            ),
            (
                "e",
                "UPDATE clients SET scope = 'read \"all' WHERE id = 'e'",
            ),
        ] {
            let id = ClientId::parse(id).unwrap();
            let client = Client {
                id: id.clone(),
                secret_hash: None,
                name: None,
                redirect_uris: vec!["https://app.example/cb".into()],
                grant_types: vec![GrantType::AuthorizationCode],
                auth_method: AuthMethod::None,
                scope: None,
                metadata: serde_json::json!({}),
                source: ClientSource::Dynamic,
                created_at: 1,
            };
            store.create_client(&client).await.unwrap();
            assert!(store.client(&id).await.unwrap().is_some());
            store.db().unwrap().execute_batch(corruption).unwrap();
            let read = store.client(&id).await;
            assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
        }
    }
}
