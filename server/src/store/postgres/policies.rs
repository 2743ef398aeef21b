//! [`PolicyVersions`] on Postgres: immutable modules by digest, and appended activations.

use super::*;

#[async_trait]
impl PolicyVersions for Postgres {
    async fn activate_policy(
        &self,
        name: &str,
        digest: &str,
        bytes: &[u8],
        now: UnixTime,
    ) -> StoreResult<()> {
        run(
            &self.client().await?,
            "WITH m AS (INSERT INTO policy_modules (digest, bytes, created_at) VALUES ($2, $3, $4) \
             ON CONFLICT (digest) DO NOTHING) \
             INSERT INTO policy_activations (name, digest, activated_at) VALUES ($1, $2, $4)",
            &[&name, &digest, &bytes, &now],
        )
        .await?;
        Ok(())
    }

    async fn active_policy(&self, name: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT digest FROM policy_activations WHERE name = $1 ORDER BY id DESC LIMIT 1",
            &[&name],
        )
        .await?;
        row.as_ref().map(|r| col(r, 0)).transpose()
    }

    async fn policy_history(&self, name: &str) -> StoreResult<Vec<(String, UnixTime)>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            "SELECT digest, activated_at FROM policy_activations WHERE name = $1 ORDER BY id DESC",
            &[&name],
        )
        .await?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }

    async fn policy_module(&self, digest: &str) -> StoreResult<Option<Vec<u8>>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT bytes FROM policy_modules WHERE digest = $1",
            &[&digest],
        )
        .await?;
        row.as_ref().map(|r| col(r, 0)).transpose()
    }
}
