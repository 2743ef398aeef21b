//! [`UserStore`] on Postgres.

use super::*;

macro_rules! user_cols {
    () => {
        "sub, email, password_hash, metadata::TEXT, created_at, email_verified, disabled_at, session_epoch"
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
        disabled_at: col(r, 6)?,
        session_epoch: col(r, 7)?,
    })
}

#[async_trait]
impl UserStore for Postgres {
    async fn create_user(&self, u: &User) -> StoreResult<()> {
        run(
            &self.client().await?,
            "INSERT INTO users (sub, email, password_hash, metadata, created_at, email_verified, \
             disabled_at, session_epoch) VALUES ($1, $2, $3, $4::TEXT::JSONB, $5, $6, $7, $8)",
            &[
                &u.sub,
                &u.email,
                &u.password_hash,
                &u.metadata,
                &u.created_at,
                &u.email_verified,
                &u.disabled_at,
                &u.session_epoch,
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

    async fn users(&self, after: Option<&UserId>, limit: u32) -> StoreResult<Vec<User>> {
        let c = self.client().await?;
        // Bytes' order (as SQLite's), whatever the database's collation; an index of its
        // own serves it (V8). No id is empty, so '' is before the first.
        let rows = all(
            &c,
            select!(
                user_cols,
                "FROM users WHERE sub COLLATE \"C\" > COALESCE($1::TEXT, '') \
                 ORDER BY sub COLLATE \"C\" LIMIT $2"
            ),
            &[&after, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(user_row).collect()
    }

    async fn set_metadata(
        &self,
        sub: &UserId,
        metadata: &serde_json::Value,
        expected: Option<&str>,
    ) -> StoreResult<bool> {
        // Text that is not JSON is no metadata this store returned: it cannot match, and
        // casting it would fail the statement.
        let expected = match expected {
            Some(text) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() => {
                return self.user_exists(sub).await.map(|()| false);
            }
            expected => expected,
        };
        let c = self.client().await?;
        let n = run(
            &c,
            "UPDATE users SET metadata = $2::TEXT::JSONB \
             WHERE sub = $1 AND ($3::TEXT IS NULL OR metadata = $3::TEXT::JSONB)",
            &[&sub, &metadata.to_string(), &expected],
        )
        .await?;
        if n > 0 {
            return Ok(true);
        }
        self.user_exists(sub).await.map(|()| false)
    }

    async fn set_email_verified(&self, sub: &UserId) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET email_verified = TRUE WHERE sub = $1",
            &[&sub],
        )
        .await
    }

    async fn set_disabled(&self, sub: &UserId, since: Option<UnixTime>) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET disabled_at = $2::BIGINT, \
             session_epoch = session_epoch + (CASE WHEN $2::BIGINT IS NULL THEN 0 ELSE 1 END) \
             WHERE sub = $1",
            &[&sub, &since],
        )
        .await
    }

    async fn reset_password(&self, sub: &UserId, hash: &str) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET password_hash = $2, email_verified = TRUE, \
             session_epoch = session_epoch + 1 WHERE sub = $1",
            &[&sub, &hash],
        )
        .await
    }

    async fn set_password(&self, sub: &UserId, password_hash: &str) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET password_hash = $2 WHERE sub = $1",
            &[&sub, &password_hash],
        )
        .await
    }

    async fn delete_user(&self, sub: &UserId, since: UnixTime) -> StoreResult<Vec<String>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let none: Option<&ClientId> = None;
        let ids = all(&tx, super::grants::LIVE_SINCE, &[&sub, &none, &since]).await?;
        // Consents, grants and their refresh tokens go by the foreign keys' cascade.
        if run(&tx, "DELETE FROM users WHERE sub = $1", &[&sub]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err)?;
        ids.iter().map(|r| col(r, 0)).collect()
    }

    async fn end_sessions(&self, sub: &UserId) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE sub = $1",
            &[&sub],
        )
        .await
    }

    async fn change_email(&self, sub: &UserId, email: &Email) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET email = $2, email_verified = TRUE WHERE sub = $1",
            &[&sub, &email],
        )
        .await
    }
}

impl Postgres {
    /// `Ok` when the user exists, `NotFound` when not.
    async fn user_exists(&self, sub: &UserId) -> StoreResult<()> {
        let c = self.client().await?;
        match opt(&c, "SELECT 1 FROM users WHERE sub = $1", &[&sub]).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    /// Runs an update of one user's row; `NotFound` when there is no such user.
    async fn update_user(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<()> {
        match run(&self.client().await?, sql, params).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}
