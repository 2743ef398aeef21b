//! [`UserStore`] on SQLite.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::*;

macro_rules! user_cols {
    () => {
        "sub, email, password_hash, metadata, created_at, email_verified"
    };
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        sub: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
        metadata: r.get(3)?,
        created_at: r.get(4)?,
        email_verified: r.get(5)?,
    })
}

#[async_trait]
impl UserStore for Embedded {
    async fn create_user(&self, u: &User) -> StoreResult<()> {
        self.db()?
            .run(
                concat!(
                    "INSERT INTO users (",
                    user_cols!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    u.sub,
                    u.email,
                    u.password_hash,
                    u.metadata,
                    u.created_at,
                    u.email_verified
                ],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.db()?
            .one(
                select!(user_cols, "FROM users WHERE email = ?1"),
                [email],
                user_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn user_by_sub(&self, sub: &UserId) -> StoreResult<Option<User>> {
        self.db()?
            .one(
                select!(user_cols, "FROM users WHERE sub = ?1"),
                [sub],
                user_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn set_metadata(&self, sub: &UserId, metadata: &serde_json::Value) -> StoreResult<()> {
        let n = self
            .db()?
            .run(
                "UPDATE users SET metadata = ?2 WHERE sub = ?1",
                params![sub, metadata.to_string()],
            )
            .map_err(map_err)?;
        found(n)
    }

    async fn set_password(&self, sub: &UserId, password_hash: &str) -> StoreResult<()> {
        let n = self
            .db()?
            .run(
                "UPDATE users SET password_hash = ?2 WHERE sub = ?1",
                params![sub, password_hash],
            )
            .map_err(map_err)?;
        found(n)
    }

    async fn delete_user(&self, sub: &UserId, since: UnixTime) -> StoreResult<Vec<String>> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let ids = super::grants::live_since(&tx, sub, None, since)?;
        // Consents, grants and their refresh tokens go by the foreign keys' cascade.
        let n = tx
            .run("DELETE FROM users WHERE sub = ?1", [sub])
            .map_err(map_err)?;
        found(n)?;
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }
}

/// An update that changed no row named no user.
fn found(rows: usize) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
