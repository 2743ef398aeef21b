//! [`UserStore`] on SQLite.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::*;

macro_rules! user_cols {
    () => {
        "sub, email, password_hash, metadata, created_at, email_verified, disabled_at, session_epoch"
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
        disabled_at: r.get(6)?,
        session_epoch: r.get(7)?,
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
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    u.sub,
                    u.email,
                    u.password_hash,
                    u.metadata,
                    u.created_at,
                    u.email_verified,
                    u.disabled_at,
                    u.session_epoch
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

    async fn users(&self, after: Option<&UserId>, limit: u32) -> StoreResult<Vec<User>> {
        let db = self.db()?;
        // TEXT compares as bytes (SQLite's BINARY collation), the order the trait promises.
        // No id is empty, so '' is before the first.
        let mut stmt = db
            .prepare_cached(select!(
                user_cols,
                "FROM users WHERE sub > COALESCE(?1, '') ORDER BY sub LIMIT ?2"
            ))
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![after, limit], user_row)
            .map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    async fn set_metadata(
        &self,
        sub: &UserId,
        metadata: &serde_json::Value,
        expected: Option<&str>,
    ) -> StoreResult<bool> {
        // One guard for both statements: no write of this store comes between the
        // compare-and-set and the look-up that tells a stale `expected` from a missing user.
        let db = self.db()?;
        let n = db
            .run(
                "UPDATE users SET metadata = ?2 WHERE sub = ?1 AND (?3 IS NULL OR metadata = ?3)",
                params![sub, metadata.to_string(), expected],
            )
            .map_err(map_err)?;
        if n > 0 {
            return Ok(true);
        }
        db.one("SELECT 1 FROM users WHERE sub = ?1", [sub], |_| Ok(()))
            .optional()
            .map_err(map_err)?
            .map_or(Err(StoreError::NotFound), |()| Ok(false))
    }

    async fn set_email_verified(&self, sub: &UserId) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET email_verified = 1 WHERE sub = ?1",
            params![sub],
        )
    }

    async fn set_disabled(&self, sub: &UserId, since: Option<UnixTime>) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET disabled_at = ?2, \
             session_epoch = session_epoch + (CASE WHEN ?2 IS NULL THEN 0 ELSE 1 END) \
             WHERE sub = ?1",
            params![sub, since],
        )
    }

    async fn reset_password(&self, sub: &UserId, hash: &str) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET password_hash = ?2, email_verified = 1, \
             session_epoch = session_epoch + 1 WHERE sub = ?1",
            params![sub, hash],
        )
    }

    async fn set_password(&self, sub: &UserId, password_hash: &str) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET password_hash = ?2 WHERE sub = ?1",
            params![sub, password_hash],
        )
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
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().map_err(map_err)?;
        Ok(ids)
    }

    async fn end_sessions(&self, sub: &UserId) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE sub = ?1",
            params![sub],
        )
    }

    async fn change_email(&self, sub: &UserId, email: &Email) -> StoreResult<()> {
        self.update_user(
            "UPDATE users SET email = ?2, email_verified = 1 WHERE sub = ?1",
            params![sub, email],
        )
    }
}

impl Embedded {
    /// Runs an update of one user's row; `NotFound` when there is no such user.
    fn update_user(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<()> {
        match self.db()?.run(sql, params).map_err(map_err)? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}
