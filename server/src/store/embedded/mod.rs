//! The embedded store: SQLite (rusqlite, bundled) behind every storage trait, so a newcomer
//! runs Lanyard with no services at all. `lanyard.db` holds the records; the policy decision
//! log has `decisions.db` to itself, so that its writes (a batch every few tens of
//! milliseconds) never share a page cache, a WAL or a lock with the mints.
//!
//! Calls run inline under a mutex rather than on a blocking pool: with WAL and
//! `synchronous=NORMAL` a statement takes microseconds and commits do not fsync, so a
//! thread hop would cost more than the work.
//!
//! One file per trait; this one opens the databases and holds what they share.

mod audit;
mod clients;
mod decisions;
mod ephemeral;
mod factors;
mod files;
mod grants;
mod keys;
mod mail;
mod migrate;
mod passkeys;
mod users;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Type, ValueRef};
use rusqlite::{Connection, ErrorCode, Row};

use super::*;

/// SQLite behind every trait. Cheap to clone.
#[derive(Clone)]
pub struct Embedded {
    conn: Arc<Mutex<Connection>>,
    log: Arc<Mutex<Connection>>,
}

/// The one place a driver error is seen: it is logged here, and callers only learn
/// "unavailable".
fn unavailable(e: impl Into<Cause>) -> StoreError {
    let e = e.into();
    tracing::error!(error = %e, "sqlite error");
    StoreError::Unavailable(e)
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
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            tracing::error!(error = %e, "unreadable sqlite row");
            StoreError::Corrupt(Box::new(e))
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

/// A query over one of the column lists of the trait files (each the columns its `*_row`
/// reads), assembled at compile time: no string is built per call, and the statement cache
/// is keyed by one `&'static str`.
macro_rules! select {
    ($cols:ident, $rest:literal) => {
        concat!("SELECT ", $cols!(), " ", $rest)
    };
}
use select;

/// The domain's values are text columns: written as their text, and read by parsing it,
/// so a value the code does not know reads as `Corrupt` (through [`map_err`]), never a
/// guess.
macro_rules! text_column {
    ($($t:ty),+) => {$(
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }

        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.as_str().as_bytes())))
            }
        }
    )+};
}
text_column!(
    UserId,
    PasskeyId,
    ClientId,
    Email,
    GrantType,
    AuthMethod,
    PolicyOutcome,
    ResourceUri
);

/// Column `i`, parsed by `parse`; a value it refuses is an unreadable row, not a default.
fn parsed<T, E: Into<Cause>>(
    r: &Row<'_>,
    i: usize,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into()))
}

/// Column `i`, a JSON document.
fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    parsed(r, i, |s| serde_json::from_str::<T>(s))
}

fn to_json(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(unavailable)
}

impl Embedded {
    /// Opens (creating) `dir/lanyard.db` and `dir/decisions.db` and applies pending
    /// migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        files::prepare(dir, &[migrate::RECORDS.file, migrate::DECISIONS.file])?;
        let open =
            |db: &migrate::Database| Connection::open(dir.join(db.file)).map_err(unavailable);
        Self::from_connections(open(&migrate::RECORDS)?, open(&migrate::DECISIONS)?)
    }

    /// Private in-memory databases (unit tests).
    pub fn in_memory() -> StoreResult<Self> {
        let open = || Connection::open_in_memory().map_err(unavailable);
        Self::from_connections(open()?, open()?)
    }

    fn from_connections(conn: Connection, log: Connection) -> StoreResult<Self> {
        // A 32 MiB page cache and memory-mapped reads keep hot pages out of read()
        // syscalls, which cost more than the queries on a busy token endpoint.
        let conn = Self::configure(
            conn,
            "PRAGMA cache_size = -32768; PRAGMA mmap_size = 268435456;",
            &migrate::RECORDS,
        )?;
        // The log is written in batches and read by an operator now and then, so SQLite's
        // default small cache suits it, and no commit of the records' large cache has to
        // walk the log's pages.
        let log = Self::configure(log, "", &migrate::DECISIONS)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            log: Arc::new(Mutex::new(log)),
        })
    }

    /// Applies the pragmas every connection gets, then `pragmas`, then `db`'s migrations.
    fn configure(
        mut conn: Connection,
        pragmas: &str,
        db: &migrate::Database,
    ) -> StoreResult<Connection> {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;",
        )
        .map_err(unavailable)?;
        conn.execute_batch(pragmas).map_err(unavailable)?;
        // The query planner stability guarantee: without it SQLite may plan around a
        // bound value and expire the statement whenever that parameter is rebound, so the
        // refresh lookups would be re-parsed at every mint despite the statement cache.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(unavailable)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate::apply(&mut conn, db)?;
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
            factors: me.clone(),
            passkeys: me.clone(),
            clients: me.clone(),
            grants: me.clone(),
            keys: me.clone(),
            decisions: me.clone(),
            audit: me.clone(),
            mail: me.clone(),
            ephemeral: Ephemeral(me.clone()),
            // One machine: the counters live in this process.
            counters: Arc::new(super::counters::InProcess::default()),
            notices: Arc::new(super::notices::Local::default()),
            policies: None,
            health: vec![me],
        }
    }
}

fn lock(conn: &Mutex<Connection>) -> StoreResult<MutexGuard<'_, Connection>> {
    conn.lock()
        .map_err(|_| unavailable("sqlite connection poisoned"))
}

#[async_trait]
impl Health for Embedded {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db()?
            .one("SELECT 1", [], |_| Ok(()))
            .map_err(map_err)?;
        self.log_db()?
            .one("SELECT 1", [], |_| Ok(()))
            .map_err(map_err)
    }
}
