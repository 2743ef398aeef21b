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
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}
