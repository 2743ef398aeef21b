//! The embedded store: one SQLite file (rusqlite, bundled) behind every storage trait, so
//! a newcomer runs Lanyard with no services at all.
//!
//! Calls run inline under a mutex rather than on a blocking pool: with WAL and
//! `synchronous=NORMAL` a statement takes microseconds and commits do not fsync, so a
//! thread hop would cost more than the work.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::migrate::{Migration, SQLITE};
use super::*;

/// SQLite behind every trait. Cheap to clone.
#[derive(Clone)]
pub struct Embedded {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    // The one place a driver error is seen: log it here, callers only learn "unavailable".
    tracing::error!(error = %e, "sqlite error");
    StoreError::Unavailable(e.to_string())
}

/// SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE: a uniqueness rule, which
/// callers may act on. Any other constraint failing is a bug, not a conflict.
const UNIQUENESS: [i32; 2] = [1555, 2067];

fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == ErrorCode::ConstraintViolation
                && UNIQUENESS.contains(&f.extended_code) =>
        {
            StoreError::Conflict
        }
        _ => unavailable(e),
    }
}

/// Statements through the connection's prepared-statement cache: parsing SQL costs more
/// than running these statements does.
trait Cached {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn one<T, P: rusqlite::Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
    fn one<T, P: rusqlite::Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// A query over one of the column lists below (each the columns its `*_row` reads),
/// assembled at compile time: no string is built per call, and the statement cache is keyed
/// by one `&'static str`.
macro_rules! select {
    ($cols:ident, $rest:literal) => {
        concat!("SELECT ", $cols!(), " ", $rest)
    };
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

impl Embedded {
    /// Opens (creating) `dir/lanyard.db` and applies pending migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        Self::from_connection(Connection::open(dir.join("lanyard.db")).map_err(unavailable)?)
    }

    /// A private in-memory database (unit tests).
    pub fn in_memory() -> StoreResult<Self> {
        Self::from_connection(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn from_connection(mut conn: Connection) -> StoreResult<Self> {
        conn.execute_batch(
            // A 32 MiB page cache and memory-mapped reads keep hot pages out of read()
            // syscalls, which cost more than the queries on a busy token endpoint.
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
             PRAGMA cache_size = -32768; PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;",
        )
        .map_err(unavailable)?;
        // Without the query planner stability guarantee SQLite may plan around a bound
        // value and then expire the statement whenever that parameter is rebound: the
        // refresh lookups were re-parsed and re-planned at every mint, defeating the
        // statement cache.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(unavailable)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn, SQLITE)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn db(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| unavailable("sqlite connection poisoned"))
    }

    /// Every trait object this backend provides.
    pub fn stores(&self) -> Stores {
        let me = Arc::new(self.clone());
        Stores {
            users: me.clone(),
            clients: me.clone(),
            grants: me.clone(),
            keys: me.clone(),
            decisions: me.clone(),
            ephemeral: Ephemeral(me.clone()),
            health: me,
        }
    }
}

/// Applies what is pending, inside one immediate transaction so that two processes starting
/// on the same file do not race.
fn migrate(conn: &mut Connection, set: &[Migration]) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .map_err(unavailable)?;
    let applied: i64 = tx
        .one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    for m in set.iter().filter(|m| m.version > applied) {
        tx.execute_batch(m.sql)
            .map_err(|e| unavailable(format!("migration {} ({}): {e}", m.version, m.name)))?;
        tx.run(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%s','now'))",
            params![m.version, m.name],
        )
        .map_err(unavailable)?;
    }
    tx.commit().map_err(unavailable)
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

macro_rules! user_cols {
    () => {
        "sub, email, password_hash, metadata, created_at, email_verified"
    };
}

#[async_trait]
impl UserStore for Embedded {
    async fn create_user(&self, u: &User) -> StoreResult<()> {
        self.db()?
            .run(
                "INSERT INTO users (sub, email, password_hash, metadata, created_at, email_verified) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![u.sub, u.email, u.password_hash, u.metadata, u.created_at, u.email_verified],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.db()?
            .one(
                select!(user_cols, "FROM users WHERE email = ?1"),
                [email],
                user_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        self.db()?
            .one(
                select!(user_cols, "FROM users WHERE sub = ?1"),
                [sub],
                user_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn set_metadata(&self, sub: &str, metadata: &serde_json::Value) -> StoreResult<()> {
        let n = self
            .db()?
            .run(
                "UPDATE users SET metadata = ?2 WHERE sub = ?1",
                params![sub, metadata.to_string()],
            )
            .map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

fn client_row(r: &Row<'_>) -> rusqlite::Result<Client> {
    let redirect_uris: String = r.get(3)?;
    let grant_types: String = r.get(4)?;
    let metadata: String = r.get(7)?;
    let source: String = r.get(8)?;
    Ok(Client {
        id: r.get(0)?,
        secret_hash: r.get(1)?,
        name: r.get(2)?,
        redirect_uris: json_list(&redirect_uris),
        grant_types: json_list(&grant_types),
        auth_method: r.get(5)?,
        scope: r.get(6)?,
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
        source: ClientSource::parse(&source),
        created_at: r.get(9)?,
    })
}

macro_rules! client_cols {
    () => {
        "id, secret_hash, name, redirect_uris, grant_types, auth_method, scope, metadata, source, created_at"
    };
}

#[async_trait]
impl ClientStore for Embedded {
    async fn create_client(&self, c: &Client) -> StoreResult<()> {
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
                    to_json(&c.redirect_uris),
                    to_json(&c.grant_types),
                    c.auth_method,
                    c.scope,
                    c.metadata.to_string(),
                    c.source.as_str(),
                    c.created_at
                ],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
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

    async fn remove_client(&self, id: &str) -> StoreResult<bool> {
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
}

fn grant_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
    let scopes: String = r.get(4)?;
    Ok(Grant {
        id: r.get(0)?,
        client_id: r.get(1)?,
        sub: r.get(2)?,
        resource: r.get(3)?,
        scopes: json_list(&scopes),
        auth_time: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

macro_rules! grant_cols {
    () => {
        "g.id, g.client_id, g.sub, g.resource, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at"
    };
}

const GRANT_BY_ID: &str = select!(grant_cols, "FROM grants g WHERE g.id = ?1");
/// The refresh lookup of a rotation: spent tokens too, with when they were spent.
const ROTATION_LOOKUP: &str = select!(
    grant_cols,
    ", t.spent_at FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = ?1"
);
const GRANT_BY_REFRESH: &str = select!(
    grant_cols,
    "FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
     WHERE t.hash = ?1 AND (?3 OR t.spent_at IS NULL) AND g.revoked_at IS NULL AND g.expires_at > ?2"
);

#[async_trait]
impl GrantStore for Embedded {
    async fn consent(
        &self,
        sub: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        let scopes: Option<String> = self
            .db()?
            .one(
                "SELECT scopes FROM consents WHERE sub = ?1 AND client_id = ?2 AND resource = ?3",
                params![sub, client_id, resource],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)?;
        Ok(scopes.map(|s| json_list(&s)))
    }

    async fn record_consent(
        &self,
        sub: &str,
        client_id: &str,
        resource: &str,
        scopes: &[String],
        now: UnixTime,
    ) -> StoreResult<()> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let prior: Option<String> = tx
            .one(
                "SELECT scopes FROM consents WHERE sub = ?1 AND client_id = ?2 AND resource = ?3",
                params![sub, client_id, resource],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)?;
        let mut all = prior.map(|p| json_list(&p)).unwrap_or_default();
        for s in scopes {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        tx.run(
            "INSERT INTO consents (sub, client_id, resource, scopes, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (sub, client_id, resource) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
            params![sub, client_id, resource, to_json(&all), now],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    async fn create_grant(&self, g: &Grant, refresh: Option<&SecretHash>) -> StoreResult<()> {
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        tx.run(
            "INSERT INTO grants (id, client_id, sub, resource, scopes, auth_time, created_at, expires_at, revoked_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
            params![g.id, g.client_id, g.sub, g.resource, to_json(&g.scopes), g.auth_time, g.created_at, g.expires_at],
        )
        .map_err(map_err)?;
        if let Some(hash) = refresh {
            tx.run(
                "INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (?1, ?2, ?3)",
                params![hash.as_str(), g.id, g.created_at],
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        self.db()?
            .one(GRANT_BY_ID, [id], grant_row)
            .optional()
            .map_err(map_err)
    }

    async fn rotate_refresh(
        &self,
        presented: &SecretHash,
        successor: &SecretHash,
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<Rotation> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let found = tx
            .one(ROTATION_LOOKUP, [presented.as_str()], |r| {
                Ok((grant_row(r)?, r.get::<_, Option<i64>>(9)?))
            })
            .optional()
            .map_err(map_err)?;
        let Some((grant, spent_at)) = found else {
            return Ok(Rotation::Invalid);
        };
        if grant.revoked_at.is_some() || grant.expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        let outcome = match spent_at {
            None => {
                tx.run(
                    "UPDATE refresh_tokens SET spent_at = ?2 WHERE hash = ?1",
                    params![presented.as_str(), now],
                )
                .map_err(map_err)?;
                Rotation::Rotated(grant)
            }
            Some(t) if now - t < grace => Rotation::Raced(grant),
            Some(_) => {
                tx.run(
                    "UPDATE grants SET revoked_at = ?2 WHERE id = ?1",
                    params![grant.id, now],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                return Ok(Rotation::Reused(grant));
            }
        };
        let (Rotation::Rotated(g) | Rotation::Raced(g)) = &outcome else {
            return Ok(outcome);
        };
        tx.run(
            "INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (?1, ?2, ?3)",
            params![successor.as_str(), g.id, now],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(outcome)
    }

    async fn grant_by_refresh(
        &self,
        token: &SecretHash,
        now: UnixTime,
        include_spent: bool,
    ) -> StoreResult<Option<Grant>> {
        self.db()?
            .one(
                GRANT_BY_REFRESH,
                params![token.as_str(), now, include_spent],
                grant_row,
            )
            .optional()
            .map_err(map_err)
    }

    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        let n = self
            .db()?
            .run(
                "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }
}

fn key_row(r: &Row<'_>) -> rusqlite::Result<StoredKey> {
    let state: String = r.get(3)?;
    Ok(StoredKey {
        kid: r.get(0)?,
        alg: r.get(1)?,
        private_der: r.get(2)?,
        state: KeyState::parse(&state).unwrap_or(KeyState::Retired),
        created_at: r.get(4)?,
        retired_at: r.get(5)?,
    })
}

fn insert_key(tx: &Connection, k: &StoredKey) -> rusqlite::Result<usize> {
    tx.run(
        "INSERT INTO signing_keys (kid, alg, private_der, state, created_at, retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![k.kid, k.alg, k.private_der, k.state.as_str(), k.created_at, k.retired_at],
    )
}

#[async_trait]
impl KeyStore for Embedded {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let db = self.db()?;
        let mut stmt = db
            .prepare("SELECT kid, alg, private_der, state, created_at, retired_at FROM signing_keys ORDER BY created_at, kid")
            .map_err(map_err)?;
        let rows = stmt.query_map([], key_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        let db = self.db()?;
        insert_key(&db, key).map_err(map_err)?;
        Ok(())
    }

    async fn rotate_keys(&self, new_next: &StoredKey, now: UnixTime) -> StoreResult<()> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        tx.run(
            "UPDATE signing_keys SET state = 'retired', retired_at = ?1 WHERE state = 'current'",
            [now],
        )
        .map_err(map_err)?;
        tx.run(
            "UPDATE signing_keys SET state = 'current' WHERE state = 'next'",
            [],
        )
        .map_err(map_err)?;
        insert_key(&tx, new_next).map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    async fn prune_keys(&self, before: UnixTime) -> StoreResult<u64> {
        let n = self
            .db()?
            .run(
                "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < ?1",
                [before],
            )
            .map_err(map_err)?;
        Ok(n as u64)
    }
}

#[async_trait]
impl EphemeralStore for Embedded {
    async fn put(&self, key: &str, value: &[u8], expires_at: UnixTime) -> StoreResult<()> {
        self.db()?
            .run(
                "INSERT INTO ephemeral (key, value, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                params![key, value, expires_at],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn get(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        self.db()?
            .one(
                "SELECT value FROM ephemeral WHERE key = ?1 AND expires_at > ?2",
                params![key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)
    }

    async fn take(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        // DELETE … RETURNING is a single statement: two concurrent takes cannot both win.
        self.db()?
            .one(
                "DELETE FROM ephemeral WHERE key = ?1 AND expires_at > ?2 RETURNING value",
                params![key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.db()?
            .run("DELETE FROM ephemeral WHERE key = ?1", [key])
            .map_err(map_err)?;
        Ok(())
    }

    async fn any_present(&self, keys: &[String], now: UnixTime) -> StoreResult<bool> {
        let db = self.db()?;
        let mut stmt = db
            .prepare_cached("SELECT 1 FROM ephemeral WHERE key = ?1 AND expires_at > ?2")
            .map_err(map_err)?;
        for k in keys {
            if stmt.exists(params![k, now]).map_err(map_err)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let n = self
            .db()?
            .run("DELETE FROM ephemeral WHERE expires_at <= ?1", [now])
            .map_err(map_err)?;
        Ok(n as u64)
    }
}

macro_rules! decision_cols {
    () => {
        "jti, at, client_id, sub, resource, grant_type, outcome, runs"
    };
}

const RECENT_DECISIONS: &str = select!(
    decision_cols,
    "FROM policy_decisions ORDER BY id DESC LIMIT ?1"
);
/// Entries carry their token's iat; a second either side forgives a clock step.
const DECISION_AT: &str = select!(
    decision_cols,
    "FROM policy_decisions WHERE at BETWEEN ?2 - 1 AND ?2 + 1 AND jti = ?1"
);
const DECISION_ANY_TIME: &str = select!(decision_cols, "FROM policy_decisions WHERE jti = ?1");

fn decision_row(r: &Row<'_>) -> rusqlite::Result<DecisionEntry> {
    Ok(DecisionEntry {
        jti: r.get(0)?,
        at: r.get(1)?,
        client_id: r.get(2)?,
        sub: r.get(3)?,
        resource: r.get(4)?,
        grant_type: r.get(5)?,
        outcome: r.get(6)?,
        runs: r.get(7)?,
    })
}

#[async_trait]
impl DecisionLog for Embedded {
    async fn record_decisions(&self, entries: &[DecisionEntry]) -> StoreResult<()> {
        let mut db = self.db()?;
        let tx = db.transaction().map_err(map_err)?;
        for e in entries {
            tx.run(
                "INSERT INTO policy_decisions (jti, at, client_id, sub, resource, grant_type, outcome, runs) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![e.jti, e.at, e.client_id, e.sub, e.resource, e.grant_type, e.outcome, e.runs],
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)
    }

    async fn recent_decisions(&self, limit: u32) -> StoreResult<Vec<DecisionEntry>> {
        let db = self.db()?;
        let mut stmt = db.prepare(RECENT_DECISIONS).map_err(map_err)?;
        let rows = stmt.query_map([limit], decision_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    async fn decision(
        &self,
        jti: &str,
        iat: Option<UnixTime>,
    ) -> StoreResult<Option<DecisionEntry>> {
        let db = self.db()?;
        let found = match iat {
            Some(iat) => db.one(DECISION_AT, params![jti, iat], decision_row),
            None => db.one(DECISION_ANY_TIME, [jti], decision_row),
        };
        found.optional().map_err(map_err)
    }

    async fn purge_decisions(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        let n = self
            .db()?
            .run(
                "DELETE FROM policy_decisions WHERE id IN \
                 (SELECT id FROM policy_decisions WHERE at < ?1 ORDER BY at LIMIT ?2)",
                params![before, limit],
            )
            .map_err(map_err)?;
        Ok(n as u64)
    }
}

#[async_trait]
impl Health for Embedded {
    async fn ping(&self) -> StoreResult<()> {
        self.db()?.one("SELECT 1", [], |_| Ok(())).map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::secret::SecretHash;
    use crate::store::conformance;

    /// Without the planner stability guarantee SQLite re-prepared these lookups whenever a
    /// parameter was rebound, i.e. at every mint; the statement cache must actually hold.
    #[tokio::test]
    async fn refresh_lookups_are_not_reprepared_when_rebound() {
        let store = Embedded::in_memory().unwrap();
        conformance::user(&store.stores(), "u", "u@example.com").await;
        let grant = conformance::grant("g", "c", "u");
        let mut current = SecretHash::of("t0");
        store.create_grant(&grant, Some(&current)).await.unwrap();
        for i in 1..5 {
            let include_spent = i % 2 == 0;
            let found = store
                .grant_by_refresh(&current, 100 + i, include_spent)
                .await
                .unwrap();
            assert_eq!(found.map(|g| g.id), Some("g".to_string()));
            let next = SecretHash::of(&format!("t{i}"));
            let rotated = store.rotate_refresh(&current, &next, 100 + i, 0).await;
            assert!(matches!(rotated, Ok(Rotation::Rotated(_))));
            current = next;
        }
        let db = store.db().unwrap();
        for sql in [GRANT_BY_REFRESH, ROTATION_LOOKUP] {
            let stmt = db.prepare_cached(sql).unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}
