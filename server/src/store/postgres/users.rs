//! [`UserStore`] on Postgres.

use super::*;

macro_rules! user_cols {
    () => {
        "sub, email, password_hash, metadata::TEXT, created_at, email_verified"
    };
}

fn user_row(r: &Row) -> StoreResult<User> {
    Ok(User {
        sub: col(r, 0)?,
        email: col(r, 1)?,
        password_hash: col(r, 2)?,
        metadata: col(r, 3)?,
        created_at: col(r, 4)?,
        email_verified: col(r, 5)?,
    })
}

#[async_trait]
impl UserStore for Postgres {
    async fn create_user(&self, u: &User) -> StoreResult<()> {
        run(
            &self.client().await?,
            "INSERT INTO users (sub, email, password_hash, metadata, created_at, email_verified) \
             VALUES ($1, $2, $3, $4::TEXT::JSONB, $5, $6)",
            &[
                &u.sub,
                &u.email,
                &u.password_hash,
                &u.metadata,
                &u.created_at,
                &u.email_verified,
            ],
        )
        .await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            select!(user_cols, "FROM users WHERE email = $1"),
            &[&email],
        )
        .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_sub(&self, sub: &UserId) -> StoreResult<Option<User>> {
        let c = self.client().await?;
        let row = opt(&c, select!(user_cols, "FROM users WHERE sub = $1"), &[&sub]).await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn set_metadata(&self, sub: &UserId, metadata: &serde_json::Value) -> StoreResult<()> {
        let n = run(
            &self.client().await?,
            "UPDATE users SET metadata = $2::TEXT::JSONB WHERE sub = $1",
            &[&sub, &metadata.to_string()],
        )
        .await?;
        found(n)
    }

    async fn set_password(&self, sub: &UserId, password_hash: &str) -> StoreResult<()> {
        let n = run(
            &self.client().await?,
            "UPDATE users SET password_hash = $2 WHERE sub = $1",
            &[&sub, &password_hash],
        )
        .await?;
        found(n)
    }

    async fn delete_user(&self, sub: &UserId, since: UnixTime) -> StoreResult<Vec<String>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let none: Option<&ClientId> = None;
        let ids = all(&tx, super::grants::LIVE_SINCE, &[&sub, &none, &since]).await?;
        // Consents, grants and their refresh tokens go by the foreign keys' cascade.
        found(run(&tx, "DELETE FROM users WHERE sub = $1", &[&sub]).await?)?;
        tx.commit().await.map_err(map_err)?;
        ids.iter().map(|r| col(r, 0)).collect()
    }
}

/// An update that changed no row named no user.
fn found(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
