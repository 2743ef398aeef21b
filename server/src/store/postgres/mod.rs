//! The production store's durable half: users, clients, consents, grants, signing keys and
//! the decision log in Postgres (tokio-postgres behind a deadpool pool), shared by every
//! instance. Each operation is one statement or one transaction, so an instance that dies
//! half-way leaves nothing half-written; races between instances are settled by row locks
//! and unique indexes, not by timing.
//!
//! One file per trait; this one connects, migrates, and holds what they share.

mod audit;
mod clients;
mod decisions;
mod factors;
mod grants;
mod keys;
mod mail;
mod passkeys;
mod policies;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{NoTls, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::*;

mod schema {
    refinery::embed_migrations!("../schema/postgres");
}

/// Connections per instance. A mint holds one for a few statements, so a handful serve
/// thousands of mints a second; Postgres' own limit (100 by default) is shared by all
/// instances.
const POOL_SIZE: usize = 16;

/// The longest a request waits for a connection.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Keys for Postgres' advisory locks: two instances migrating (or rotating keys) at once
/// take turns.
const MIGRATION_LOCK: i64 = 0x6c61_6e79_6172_6401;
const ROTATION_LOCK: i64 = MIGRATION_LOCK + 1;

/// Postgres behind the durable traits. Cheap to clone.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
}

/// The one place a driver error is seen: it is logged here, and callers only learn
/// "unavailable".
fn unavailable(e: impl Into<Cause>) -> StoreError {
    let e = e.into();
    tracing::error!(error = %e, "postgres error");
    StoreError::Unavailable(e)
}

/// A stored value the code cannot read; logged here, as driver errors are.
fn corrupt(e: impl Into<Cause>) -> StoreError {
    let e = e.into();
    tracing::error!(error = %e, "unreadable postgres row");
    StoreError::Corrupt(e)
}

fn map_err(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict
    } else {
        unavailable(e)
    }
}

/// Column `i` of `r`. `Row::get` panics when the column is not of type `T`; this says
/// `Corrupt` instead, so a schema that disagrees with the code fails one request, loudly.
fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(corrupt)
}

/// The domain's values are text columns: written as their text, and read by parsing it,
/// so a value the code does not know reads as `Corrupt` (through [`col`]), never a guess.
macro_rules! text_column {
    ($($t:ty),+) => {$(
        impl<'a> FromSql<'a> for $t {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Cause> {
                Ok(<&str as FromSql>::from_sql(ty, raw)?.parse::<$t>()?)
            }
            fn accepts(ty: &Type) -> bool {
                <&str as FromSql>::accepts(ty)
            }
        }

        impl ToSql for $t {
            fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Cause> {
                self.as_str().to_sql(ty, out)
            }
            fn accepts(ty: &Type) -> bool {
                <&str as ToSql>::accepts(ty)
            }
            to_sql_checked!();
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

/// A scope set is a `TEXT[]` column, in its order.
impl<'a> FromSql<'a> for ScopeSet {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Cause> {
        Ok(ScopeSet::try_from(<Vec<String> as FromSql>::from_sql(
            ty, raw,
        )?)?)
    }
    fn accepts(ty: &Type) -> bool {
        <Vec<String> as FromSql>::accepts(ty)
    }
}

impl ToSql for ScopeSet {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Cause> {
        let list: Vec<&str> = self.iter().map(|s| s.as_str()).collect();
        list.to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <Vec<&str> as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

/// Sign-in methods are a `TEXT[]` column of RFC 8176 names, in their order.
impl<'a> FromSql<'a> for SignInMethods {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Cause> {
        Ok(SignInMethods::try_from(
            <Vec<String> as FromSql>::from_sql(ty, raw)?,
        )?)
    }
    fn accepts(ty: &Type) -> bool {
        <Vec<String> as FromSql>::accepts(ty)
    }
}

impl ToSql for SignInMethods {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Cause> {
        self.names().to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <Vec<&str> as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

impl Postgres {
    /// Connects to `url` (`postgres://user@host/db`, libpq's URL or key=value form) and
    /// applies pending migrations. Fails if the database cannot be reached.
    ///
    /// With `sslmode=require` the connection is TLS, and the server's certificate is
    /// verified (against `ca`, PEM, if given; else the system's roots). Any other mode
    /// connects in the clear: `prefer` does not try TLS first.
    pub async fn connect(url: &str, ca: Option<&[u8]>) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| BadSetting::error("LANYARD_DATABASE_URL", e))?;
        Self::connect_config(config, ca).await
    }

    /// As [`Postgres::connect`], with the connection settings already parsed.
    pub async fn connect_config(
        mut config: tokio_postgres::Config,
        ca: Option<&[u8]>,
    ) -> StoreResult<Self> {
        // An unreachable database fails requests within seconds (a 503), never hangs them.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(TIMEOUT);
        }
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == SslMode::Require {
            let tls = super::tls::client_config(super::tls::roots(ca)?)?;
            Manager::from_config(config, MakeRustlsConnect::new(tls), recycling)
        } else {
            Manager::from_config(config, NoTls, recycling)
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .recycle_timeout(Some(TIMEOUT))
            .build()
            .map_err(unavailable)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(unavailable)
    }

    /// Applies the pending migrations of `schema/postgres` (refinery, in one
    /// transaction), holding an advisory lock so that instances starting together take
    /// turns and each migration is applied once.
    ///
    /// The lock is a session's, taken on a connection of its own that is closed
    /// afterwards: closing releases the lock whatever happened, and no pooled connection
    /// keeps it.
    async fn migrate(&self) -> StoreResult<()> {
        let mut session = deadpool_postgres::Object::take(self.client().await?);
        // refinery's `CREATE TABLE IF NOT EXISTS` would otherwise say so in a notice at
        // every start.
        session
            .batch_execute("SET client_min_messages = warning")
            .await
            .map_err(map_err)?;
        session
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(map_err)?;
        let client: &mut tokio_postgres::Client = &mut session;
        let report = schema::migrations::runner()
            .set_grouped(true)
            .run_async(client)
            .await
            .map_err(unavailable)?;
        log_applied(&report, "postgres");
        Ok(())
    }

    /// The whole production store: this for durable data, Redis for the rest.
    pub fn stores(&self, redis: super::redis::Redis) -> Stores {
        let me = Arc::new(self.clone());
        let redis = Arc::new(redis);
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
            ephemeral: Ephemeral(redis.clone()),
            counters: redis.clone(),
            notices: redis.clone(),
            policies: Some(me.clone()),
            health: vec![me, redis],
        }
    }
}

/// One row, or none.
async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query_opt(&stmt, params).await.map_err(map_err)
}

async fn all<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query(&stmt, params).await.map_err(map_err)
}

/// Rows changed.
async fn run<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.execute(&stmt, params).await.map_err(map_err)
}

/// A query over one of the column lists of the trait files (each the columns its `*_row`
/// reads), assembled at compile time.
macro_rules! select {
    ($cols:ident, $rest:literal) => {
        concat!("SELECT ", $cols!(), " ", $rest)
    };
}
use select;

#[async_trait]
impl Health for Postgres {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
