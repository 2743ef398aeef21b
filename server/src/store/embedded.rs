//! The embedded store: SQLite (rusqlite, bundled) behind every storage trait, so a newcomer
//! runs Lanyard with no services at all. `lanyard.db` holds the records; the policy decision
//! log has `decisions.db` to itself, so that its writes (a batch every few tens of
//! milliseconds) never share a page cache, a WAL or a lock with the mints.
//!
//! Calls run inline under a mutex rather than on a blocking pool: with WAL and
//! `synchronous=NORMAL` a statement takes microseconds and commits do not fsync, so a
//! thread hop would cost more than the work.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::migrate::{Migration, SQLITE, SQLITE_DECISIONS};
use super::*;

/// SQLite behind every trait. Cheap to clone.
#[derive(Clone)]
pub struct Embedded {
    conn: Arc<Mutex<Connection>>,
    log: Arc<Mutex<Connection>>,
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
    /// Opens (creating) `dir/lanyard.db` and `dir/decisions.db` and applies pending
    /// migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        let open = |file: &str| Connection::open(dir.join(file)).map_err(unavailable);
        Self::from_connections(open("lanyard.db")?, open("decisions.db")?)
    }

    /// Private in-memory databases (unit tests).
    pub fn in_memory() -> StoreResult<Self> {
        let open = || Connection::open_in_memory().map_err(unavailable);
        Self::from_connections(open()?, open()?)
    }

    fn from_connections(conn: Connection, log: Connection) -> StoreResult<Self> {
        // A 32 MiB page cache and memory-mapped reads keep hot pages out of read()
        // syscalls, which cost more than the queries on a busy token endpoint.
        let mut conn = Self::configure(
            conn,
            "PRAGMA cache_size = -32768; PRAGMA mmap_size = 268435456;",
            SQLITE,
        )?;
        // The log is written in batches and read by an operator now and then, so SQLite's
        // default small cache suits it. In `lanyard.db` it shared the records' 32 MiB
        // cache, which some commits scan whole for pages to drop (`pcache1TruncateUnsafe`:
        // 2 µs per mint over HTTP, in a profile of the server).
        let mut log = Self::configure(log, "", SQLITE_DECISIONS)?;
        adopt_old_decisions(&mut conn, &mut log)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            log: Arc::new(Mutex::new(log)),
        })
    }

    /// Applies the pragmas every connection gets, then `pragmas`, then the migrations.
    fn configure(
        mut conn: Connection,
        pragmas: &str,
        migrations: &[Migration],
    ) -> StoreResult<Connection> {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;",
        )
        .map_err(unavailable)?;
        conn.execute_batch(pragmas).map_err(unavailable)?;
        // Without the query planner stability guarantee SQLite may plan around a bound
        // value and then expire the statement whenever that parameter is rebound: the
        // refresh lookups were re-parsed and re-planned at every mint, defeating the
        // statement cache.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(unavailable)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn, migrations)?;
        Ok(conn)
    }

    fn db(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        lock(&self.conn)
    }

    fn log_db(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        lock(&self.log)
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
            // One machine: the counters live in this process.
            counters: Arc::new(super::counters::InProcess::default()),
            notices: Arc::new(super::notices::Local::default()),
            policies: None,
            health: me,
        }
    }
}

fn lock(conn: &Mutex<Connection>) -> StoreResult<MutexGuard<'_, Connection>> {
    conn.lock()
        .map_err(|_| unavailable("sqlite connection poisoned"))
}

/// Moves the entries that migration 4 left in `lanyard.db` into `decisions.db`, one batch
/// each, and drops the table that held them. The log commits first: a crash in between
/// leaves the entries in both, and the next open moves them again (they then show twice),
/// so none is lost.
fn adopt_old_decisions(conn: &mut Connection, log: &mut Connection) -> StoreResult<()> {
    let waiting: bool = conn
        .one(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'policy_decisions_to_move')",
            [],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    if !waiting {
        return Ok(());
    }
    let mut stmt = conn
        .prepare("SELECT at, body FROM policy_decisions_to_move ORDER BY id")
        .map_err(unavailable)?;
    let mut rows = stmt.query([]).map_err(unavailable)?;
    let tx = log.transaction().map_err(unavailable)?;
    while let Some(row) = rows.next().map_err(unavailable)? {
        let (at, body): (i64, String) = (
            row.get(0).map_err(unavailable)?,
            row.get(1).map_err(unavailable)?,
        );
        tx.run(
            "INSERT INTO policy_decision_batches (first_at, last_at, entries, body) \
             VALUES (?1, ?1, 1, ?2 || char(10))",
            params![at, body],
        )
        .map_err(unavailable)?;
    }
    tx.commit().map_err(unavailable)?;
    drop(rows);
    drop(stmt);
    conn.execute_batch("DROP TABLE policy_decisions_to_move")
        .map_err(unavailable)
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

/// Batches whose span covers a token's iat (a second either side forgives a clock step),
/// newest first.
const BATCHES_AT: &str = "SELECT body FROM policy_decision_batches \
     WHERE last_at >= ?1 - 1 AND first_at <= ?1 + 1 ORDER BY id DESC";
const BATCHES_NEWEST_FIRST: &str = "SELECT body FROM policy_decision_batches ORDER BY id DESC";

/// A batch's entries, one JSON line each.
fn batch_body(entries: &[DecisionEntry]) -> StoreResult<String> {
    let mut body = Vec::with_capacity(entries.len() * 320);
    for e in entries {
        serde_json::to_writer(&mut body, e).map_err(unavailable)?;
        body.push(b'\n');
    }
    String::from_utf8(body).map_err(unavailable)
}

/// A batch's entries, newest first. A line that does not parse is skipped and logged: one
/// damaged entry must not hide the rest of the log.
fn batch_entries(body: &str) -> impl Iterator<Item = DecisionEntry> + '_ {
    body.lines().rev().filter_map(|line| {
        serde_json::from_str(line)
            .inspect_err(|e| tracing::warn!(error = %e, "unreadable decision-log entry"))
            .ok()
    })
}

#[async_trait]
impl DecisionLog for Embedded {
    async fn record_decisions(&self, entries: &[DecisionEntry]) -> StoreResult<()> {
        let (Some(first), Some(last)) = (
            entries.iter().map(|e| e.at).min(),
            entries.iter().map(|e| e.at).max(),
        ) else {
            return Ok(());
        };
        let body = batch_body(entries)?;
        self.log_db()?
            .run(
                "INSERT INTO policy_decision_batches (first_at, last_at, entries, body) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![first, last, entries.len() as i64, body],
            )
            .map_err(map_err)?;
        Ok(())
    }

    async fn recent_decisions(&self, limit: u32) -> StoreResult<Vec<DecisionEntry>> {
        let db = self.log_db()?;
        let mut stmt = db.prepare_cached(BATCHES_NEWEST_FIRST).map_err(map_err)?;
        let mut rows = stmt.query([]).map_err(map_err)?;
        let mut found = Vec::new();
        while found.len() < limit as usize
            && let Some(row) = rows.next().map_err(map_err)?
        {
            let body: String = row.get(0).map_err(map_err)?;
            found.extend(batch_entries(&body).take(limit as usize - found.len()));
        }
        Ok(found)
    }

    async fn decision(
        &self,
        jti: &str,
        iat: Option<UnixTime>,
    ) -> StoreResult<Option<DecisionEntry>> {
        let db = self.log_db()?;
        let sql = if iat.is_some() {
            BATCHES_AT
        } else {
            BATCHES_NEWEST_FIRST
        };
        let mut stmt = db.prepare_cached(sql).map_err(map_err)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(iat))
            .map_err(map_err)?;
        while let Some(row) = rows.next().map_err(map_err)? {
            let body: String = row.get(0).map_err(map_err)?;
            // Most batches do not hold the jti at all; only one that does is parsed.
            if !body.contains(jti) {
                continue;
            }
            if let Some(e) = batch_entries(&body)
                .find(|e| e.jti == jti && iat.is_none_or(|iat| (e.at - iat).abs() <= 1))
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    async fn purge_decisions(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        let db = self.log_db()?;
        // Whole batches, oldest first, until `limit` entries (or the first batch, however
        // large) are gathered.
        let mut stmt = db
            .prepare_cached(
                "SELECT id, entries FROM policy_decision_batches WHERE last_at < ?1 \
                 ORDER BY id LIMIT ?2",
            )
            .map_err(map_err)?;
        let mut rows = stmt.query(params![before, limit]).map_err(map_err)?;
        let (mut upto, mut dropped) = (None, 0u64);
        while let Some(row) = rows.next().map_err(map_err)? {
            let (id, n): (i64, i64) = (row.get(0).map_err(map_err)?, row.get(1).map_err(map_err)?);
            if upto.is_some() && dropped + n as u64 > u64::from(limit) {
                break;
            }
            (upto, dropped) = (Some(id), dropped + n as u64);
        }
        drop(rows);
        drop(stmt);
        if let Some(upto) = upto {
            // The same batches the query walked: those past retention, up to `upto`.
            db.run(
                "DELETE FROM policy_decision_batches WHERE id <= ?2 AND last_at < ?1",
                params![before, upto],
            )
            .map_err(map_err)?;
        }
        Ok(dropped)
    }
}

#[async_trait]
impl Health for Embedded {
    async fn ping(&self) -> StoreResult<()> {
        self.db()?
            .one("SELECT 1", [], |_| Ok(()))
            .map_err(map_err)?;
        self.log_db()?
            .one("SELECT 1", [], |_| Ok(()))
            .map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::secret::SecretHash;
    use crate::store::conformance;
    use crate::store::conformance::decision_entry;

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

    /// The log is stored in batches: a batch goes as a whole, once its newest entry is
    /// past retention, and at least one goes however small the limit.
    #[tokio::test]
    async fn the_decision_log_is_purged_a_batch_at_a_time() {
        let store = Embedded::in_memory().unwrap();
        store
            .record_decisions(&[decision_entry("a", 100), decision_entry("b", 200)])
            .await
            .unwrap();
        store
            .record_decisions(&[decision_entry("c", 300)])
            .await
            .unwrap();
        assert_eq!(store.purge_decisions(150, 100).await.unwrap(), 0);
        assert_eq!(store.purge_decisions(350, 1).await.unwrap(), 2);
        assert_eq!(store.purge_decisions(350, 1).await.unwrap(), 1);
        assert_eq!(store.purge_decisions(350, 100).await.unwrap(), 0);
    }

    /// Expired records are swept, and counted.
    #[tokio::test]
    async fn expired_records_are_swept() {
        let store = Embedded::in_memory().unwrap();
        store.put("k", b"v", 100).await.unwrap();
        store.put("l", b"v", 300).await.unwrap();
        assert_eq!(store.purge_expired(200).await.unwrap(), 1);
        assert_eq!(store.get("l", 200).await.unwrap(), Some(b"v".to_vec()));
    }
}

#[cfg(test)]
mod upgrade {
    use super::*;

    /// A data folder written before the log had a database of its own: its entries move to
    /// `decisions.db` at the next open, and can be found there by jti and time.
    #[tokio::test]
    async fn entries_from_before_the_log_moved_out_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = Connection::open(dir.path().join("lanyard.db")).unwrap();
            migrate(&mut conn, &SQLITE[..3]).unwrap();
            conn.execute(
                "INSERT INTO policy_decisions (jti, at, client_id, sub, resource, grant_type, outcome, runs) \
                 VALUES ('old-1', 100, 'c', 'u', 'https://r.example/mcp', 'refresh_token', 'allow', ?1)",
                [r#"[{"policy":"tier","outcome":"allow"}]"#],
            )
            .unwrap();
        }
        let store = Embedded::open(dir.path()).unwrap();
        let found = store.decision("old-1", Some(100)).await.unwrap().unwrap();
        assert_eq!(
            (found.sub.as_str(), found.runs.as_str()),
            ("u", r#"[{"policy":"tier","outcome":"allow"}]"#)
        );
        store
            .record_decisions(&[DecisionEntry {
                jti: "new-1".into(),
                at: 200,
                ..found
            }])
            .await
            .unwrap();
        drop(store);

        // Opening again moves nothing twice, and the old table is gone.
        let store = Embedded::open(dir.path()).unwrap();
        let jtis: Vec<String> = store
            .recent_decisions(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.jti)
            .collect();
        assert_eq!(jtis, ["new-1", "old-1"]);
        let left: i64 = store
            .db()
            .unwrap()
            .one(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE 'policy_decisions%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }
}
