//! The embedded store's migrations (style.md §8): `schema/sqlite/lanyard` for `lanyard.db`
//! and `schema/sqlite/decisions` for `decisions.db`, embedded at compile time and applied
//! by refinery, forward only.
//!
//! refinery drives the connection through its driver traits, implemented here for a
//! transaction the caller holds: the whole run (reading the history, applying what is
//! pending, recording it) is one `BEGIN IMMEDIATE` transaction, so two processes opening
//! one data folder at once take turns, and a failed migration leaves nothing behind.

use refinery::{Migrate, Migration, Runner};
use refinery_core::traits::sync::{Query, Transaction};
use rusqlite::types::Type;
use rusqlite::{Connection, TransactionBehavior};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{StoreResult, log_applied, unavailable};

mod lanyard {
    refinery::embed_migrations!("../schema/sqlite/lanyard");
}

mod decision_log {
    refinery::embed_migrations!("../schema/sqlite/decisions");
}

/// A database file of the data folder and its migrations.
pub(super) struct Database {
    pub file: &'static str,
    migrations: fn() -> Runner,
}

/// The records.
pub(super) const RECORDS: Database = Database {
    file: "lanyard.db",
    migrations: lanyard::migrations::runner,
};

/// The policy decision log.
pub(super) const DECISIONS: Database = Database {
    file: "decisions.db",
    migrations: decision_log::migrations::runner,
};

/// Applies what `db` has pending, in one immediate transaction.
pub(super) fn apply(conn: &mut Connection, db: &Database) -> StoreResult<()> {
    run(conn, &(db.migrations)(), db.file)
}

fn run(conn: &mut Connection, runner: &Runner, file: &str) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let report = runner.run(&mut InTransaction(&tx)).map_err(unavailable)?;
    tx.commit().map_err(unavailable)?;
    log_applied(&report, file);
    Ok(())
}

/// A transaction as refinery's driver: statements run inside it, and nothing commits
/// until the caller does.
struct InTransaction<'a>(&'a rusqlite::Transaction<'a>);

impl Transaction for InTransaction<'_> {
    type Error = rusqlite::Error;

    fn execute<'a, T: Iterator<Item = &'a str>>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        let mut count = 0;
        for query in queries {
            self.0.execute_batch(query)?;
            count += 1;
        }
        Ok(count)
    }
}

impl Query<Vec<Migration>> for InTransaction<'_> {
    /// The history refinery keeps: version, name, when (RFC 3339) and checksum (decimal).
    fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        let unreadable = |i, e: Box<dyn std::error::Error + Send + Sync>| {
            rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e)
        };
        let mut stmt = self.0.prepare(query)?;
        let rows = stmt.query_map([], |r| {
            let applied_on: String = r.get(2)?;
            let applied_on = OffsetDateTime::parse(&applied_on, &Rfc3339)
                .map_err(|e| unreadable(2, e.into()))?;
            let checksum: String = r.get(3)?;
            let checksum = checksum.parse().map_err(|e| unreadable(3, Box::new(e)))?;
            Ok(Migration::applied(
                r.get(0)?,
                r.get(1)?,
                applied_on,
                checksum,
            ))
        })?;
        rows.collect()
    }
}

impl Migrate for InTransaction<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opening a database again applies nothing twice, and the history names each
    /// migration once.
    #[test]
    fn migrations_apply_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, &RECORDS).unwrap();
        apply(&mut conn, &RECORDS).unwrap();
        let applied: i64 = conn
            .query_row("SELECT COUNT(*) FROM refinery_schema_history", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            applied,
            (RECORDS.migrations)().get_migrations().len() as i64
        );
    }

    /// A migration that fails leaves no trace: neither its tables nor its history row.
    #[test]
    fn a_failed_migration_leaves_nothing_behind() {
        let broken = [
            Migration::unapplied("V1__good", "CREATE TABLE t (x INTEGER);").unwrap(),
            Migration::unapplied("V2__bad", "CREATE TABLE t (x INTEGER);").unwrap(),
        ];
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(run(&mut conn, &Runner::new(&broken), "broken.db").is_err());
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
    }
}
