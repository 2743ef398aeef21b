//! The production store's durable half: users, clients, consents, grants, signing keys and
//! the decision log in Postgres (tokio-postgres behind a deadpool pool), shared by every
//! instance. Each operation is one statement or one transaction, so an instance that dies
//! half-way leaves nothing half-written; races between instances are settled by row locks
//! and unique indexes, not by timing.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::migrate::{Migration, POSTGRES};
use super::*;

/// Connections per instance. A mint holds one for a few statements, so a handful serve
/// thousands of mints a second; Postgres' own limit (100 by default) is shared by all
/// instances.
const POOL_SIZE: usize = 16;

/// The longest a request waits for a connection.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Keys for `pg_advisory_xact_lock`: two instances migrating (or rotating keys) at once
/// take turns.
const MIGRATION_LOCK: i64 = 0x6c61_6e79_6172_6401;
const ROTATION_LOCK: i64 = MIGRATION_LOCK + 1;

/// Postgres behind the durable traits. Cheap to clone.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    // The one place a driver error is seen: log it here, callers only learn "unavailable".
    tracing::error!(error = %e, "postgres error");
    StoreError::Unavailable(e.to_string())
}

fn map_err(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict
    } else {
        unavailable(e)
    }
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
            .map_err(|e| StoreError::Unavailable(format!("LANYARD_DATABASE_URL: {e}")))?;
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
        store.migrate(POSTGRES).await?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(unavailable)
    }

    /// Applies what is pending in one transaction, under an advisory lock so that
    /// instances starting together apply each migration once.
    async fn migrate(&self, set: &[Migration]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(map_err)?;
        // `IF NOT EXISTS` would otherwise say so in a notice at every start.
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning; \
             CREATE TABLE IF NOT EXISTS schema_migrations \
             (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(map_err)?;
        let applied: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(map_err)?
            .get(0);
        for m in set.iter().filter(|m| m.version > applied) {
            tx.batch_execute(m.sql)
                .await
                .map_err(|e| unavailable(format!("migration {} ({}): {e}", m.version, m.name)))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) \
                 VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT)",
                &[&m.version, &m.name],
            )
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    /// The whole production store: this for durable data, Redis for the rest.
    pub fn stores(&self, redis: super::redis::Redis) -> Stores {
        let me = Arc::new(self.clone());
        let redis = Arc::new(redis);
        Stores {
            users: me.clone(),
            clients: me.clone(),
            grants: me.clone(),
            keys: me.clone(),
            decisions: me.clone(),
            ephemeral: Ephemeral(redis.clone()),
            counters: redis.clone(),
            notices: redis.clone(),
            policies: Some(me.clone()),
            health: Arc::new(AllHealthy(vec![me, redis])),
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

/// A query over one of the column lists below (each the columns its `*_row` reads).
macro_rules! select {
    ($cols:ident, $rest:literal) => {
        concat!("SELECT ", $cols!(), " ", $rest)
    };
}

macro_rules! user_cols {
    () => {
        "sub, email, password_hash, metadata::TEXT, created_at, email_verified"
    };
}

fn user_row(r: &Row) -> User {
    User {
        sub: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
        metadata: r.get(3),
        created_at: r.get(4),
        email_verified: r.get(5),
    }
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

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            select!(user_cols, "FROM users WHERE email = $1"),
            &[&email],
        )
        .await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        let c = self.client().await?;
        let row = opt(&c, select!(user_cols, "FROM users WHERE sub = $1"), &[&sub]).await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn set_metadata(&self, sub: &str, metadata: &serde_json::Value) -> StoreResult<()> {
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

macro_rules! client_cols {
    () => {
        "id, secret_hash, name, redirect_uris, grant_types, auth_method, scope, metadata::TEXT, source, created_at"
    };
}

fn client_row(r: &Row) -> Client {
    let metadata: String = r.get(7);
    let source: String = r.get(8);
    Client {
        id: r.get(0),
        secret_hash: r.get(1),
        name: r.get(2),
        redirect_uris: r.get(3),
        grant_types: r.get(4),
        auth_method: r.get(5),
        scope: r.get(6),
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
        source: ClientSource::parse(&source),
        created_at: r.get(9),
    }
}

#[async_trait]
impl ClientStore for Postgres {
    async fn create_client(&self, c: &Client) -> StoreResult<()> {
        run(
            &self.client().await?,
            "INSERT INTO clients (id, secret_hash, name, redirect_uris, grant_types, auth_method, \
             scope, metadata, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::TEXT::JSONB, $9, $10)",
            &[
                &c.id,
                &c.secret_hash,
                &c.name,
                &c.redirect_uris,
                &c.grant_types,
                &c.auth_method,
                &c.scope,
                &c.metadata.to_string(),
                &c.source.as_str(),
                &c.created_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            select!(client_cols, "FROM clients WHERE id = $1"),
            &[&id],
        )
        .await?;
        Ok(row.as_ref().map(client_row))
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            select!(client_cols, "FROM clients ORDER BY created_at, id"),
            &[],
        )
        .await?;
        Ok(rows.iter().map(client_row).collect())
    }

    async fn remove_client(&self, id: &str) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // Refresh tokens go with their grants (ON DELETE CASCADE).
        run(&tx, "DELETE FROM consents WHERE client_id = $1", &[&id]).await?;
        run(&tx, "DELETE FROM grants WHERE client_id = $1", &[&id]).await?;
        let n = run(&tx, "DELETE FROM clients WHERE id = $1", &[&id]).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(n > 0)
    }

    async fn purge_idle_clients(
        &self,
        before: UnixTime,
        now: UnixTime,
        limit: u32,
    ) -> StoreResult<u64> {
        // One statement: the idle clients are locked as they are chosen (instances
        // sweeping at once skip each other's), and their consents and dead grants go
        // with them (refresh tokens by cascade).
        run(
            &self.client().await?,
            "WITH idle AS (SELECT c.id FROM clients c WHERE c.source = 'dynamic' AND c.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id \
             AND g.revoked_at IS NULL AND g.expires_at > $2) \
             LIMIT $3 FOR UPDATE SKIP LOCKED), \
             consents_gone AS (DELETE FROM consents WHERE client_id IN (SELECT id FROM idle)), \
             grants_gone AS (DELETE FROM grants WHERE client_id IN (SELECT id FROM idle)) \
             DELETE FROM clients WHERE id IN (SELECT id FROM idle)",
            &[&before, &now, &i64::from(limit)],
        )
        .await
    }
}

macro_rules! grant_cols {
    () => {
        "g.id, g.client_id, g.sub, g.resource, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at"
    };
}

fn grant_row(r: &Row) -> Grant {
    Grant {
        id: r.get(0),
        client_id: r.get(1),
        sub: r.get(2),
        resource: r.get(3),
        scopes: r.get(4),
        auth_time: r.get(5),
        created_at: r.get(6),
        expires_at: r.get(7),
        revoked_at: r.get(8),
    }
}

const GRANT_BY_REFRESH: &str = select!(
    grant_cols,
    "FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
     WHERE t.hash = $1 AND ($3 OR t.spent_at IS NULL) AND g.revoked_at IS NULL AND g.expires_at > $2"
);

#[async_trait]
impl GrantStore for Postgres {
    async fn consent(
        &self,
        sub: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT scopes FROM consents WHERE sub = $1 AND client_id = $2 AND resource = $3",
            &[&sub, &client_id, &resource],
        )
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn record_consent(
        &self,
        sub: &str,
        client_id: &str,
        resource: &str,
        scopes: &[String],
        now: UnixTime,
    ) -> StoreResult<()> {
        // The union is taken in the statement, so two consents recorded at once by two
        // instances both survive. Order is kept: earlier scopes first, then new ones.
        let mut fresh: Vec<&String> = Vec::with_capacity(scopes.len());
        for s in scopes {
            if !fresh.contains(&s) {
                fresh.push(s);
            }
        }
        run(
            &self.client().await?,
            "INSERT INTO consents (sub, client_id, resource, scopes, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (sub, client_id, resource) DO UPDATE SET \
             scopes = consents.scopes || ARRAY(SELECT s FROM unnest(excluded.scopes) WITH ORDINALITY AS u(s, i) \
             WHERE s <> ALL (consents.scopes) ORDER BY i), \
             updated_at = excluded.updated_at",
            &[&sub, &client_id, &resource, &fresh, &now],
        )
        .await?;
        Ok(())
    }

    async fn create_grant(&self, g: &Grant, refresh: Option<&SecretHash>) -> StoreResult<()> {
        // The grant and its first refresh token in one statement: atomic, one round trip.
        run(
            &self.client().await?,
            "WITH g AS (INSERT INTO grants (id, client_id, sub, resource, scopes, auth_time, \
             created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) \
             RETURNING id, created_at) \
             INSERT INTO refresh_tokens (hash, grant_id, issued_at) \
             SELECT $9::TEXT, id, created_at FROM g WHERE $9::TEXT IS NOT NULL",
            &[
                &g.id,
                &g.client_id,
                &g.sub,
                &g.resource,
                &g.scopes,
                &g.auth_time,
                &g.created_at,
                &g.expires_at,
                &refresh.map(SecretHash::as_str),
            ],
        )
        .await?;
        Ok(())
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            select!(grant_cols, "FROM grants g WHERE g.id = $1"),
            &[&id],
        )
        .await?;
        Ok(row.as_ref().map(grant_row))
    }

    async fn rotate_refresh(
        &self,
        presented: &SecretHash,
        successor: &SecretHash,
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<Rotation> {
        // One statement (see schema/postgres/0002): atomic, and one round trip.
        let c = self.client().await?;
        let Some(row) = opt(
            &c,
            "SELECT outcome, id, client_id, sub, resource, scopes, auth_time, created_at, \
             expires_at, revoked_at FROM lanyard_rotate_refresh($1, $2, $3, $4)",
            &[&presented.as_str(), &successor.as_str(), &now, &grace],
        )
        .await?
        else {
            return Err(unavailable("lanyard_rotate_refresh returned no row"));
        };
        let outcome: &str = row.get(0);
        if outcome == "invalid" {
            return Ok(Rotation::Invalid);
        }
        let grant = Grant {
            id: row.get(1),
            client_id: row.get(2),
            sub: row.get(3),
            resource: row.get(4),
            scopes: row.get(5),
            auth_time: row.get(6),
            created_at: row.get(7),
            expires_at: row.get(8),
            revoked_at: row.get(9),
        };
        Ok(match outcome {
            "rotated" => Rotation::Rotated(grant),
            "raced" => Rotation::Raced(grant),
            _ => Rotation::Reused(grant),
        })
    }

    async fn grant_by_refresh(
        &self,
        token: &SecretHash,
        now: UnixTime,
        include_spent: bool,
    ) -> StoreResult<Option<Grant>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            GRANT_BY_REFRESH,
            &[&token.as_str(), &now, &include_spent],
        )
        .await?;
        Ok(row.as_ref().map(grant_row))
    }

    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
        )
        .await?;
        Ok(n > 0)
    }
}

fn key_row(r: &Row) -> StoredKey {
    let state: String = r.get(3);
    StoredKey {
        kid: r.get(0),
        alg: r.get(1),
        private_der: r.get(2),
        state: KeyState::parse(&state).unwrap_or(KeyState::Retired),
        created_at: r.get(4),
        retired_at: r.get(5),
    }
}

async fn insert_key<C: GenericClient>(c: &C, k: &StoredKey) -> StoreResult<u64> {
    run(
        c,
        "INSERT INTO signing_keys (kid, alg, private_der, state, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &k.kid,
            &k.alg,
            &k.private_der,
            &k.state.as_str(),
            &k.created_at,
            &k.retired_at,
        ],
    )
    .await
}

#[async_trait]
impl KeyStore for Postgres {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            "SELECT kid, alg, private_der, state, created_at, retired_at FROM signing_keys \
             ORDER BY created_at, kid",
            &[],
        )
        .await?;
        Ok(rows.iter().map(key_row).collect())
    }

    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        // Two instances starting on an empty database both try; the partial unique index
        // on `state` lets one current and one next key in, and the other gets `Conflict`.
        insert_key(&self.client().await?, key).await?;
        Ok(())
    }

    async fn rotate_keys(&self, new_next: &StoredKey, now: UnixTime) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROTATION_LOCK])
            .await
            .map_err(map_err)?;
        run(
            &tx,
            "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE state = 'current'",
            &[&now],
        )
        .await?;
        run(
            &tx,
            "UPDATE signing_keys SET state = 'current' WHERE state = 'next'",
            &[],
        )
        .await?;
        insert_key(&tx, new_next).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn prune_keys(&self, before: UnixTime) -> StoreResult<u64> {
        run(
            &self.client().await?,
            "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
            &[&before],
        )
        .await
    }
}

macro_rules! decision_cols {
    () => {
        "jti, at, client_id, sub, resource, grant_type, outcome, runs"
    };
}

fn decision_row(r: &Row) -> DecisionEntry {
    DecisionEntry {
        jti: r.get(0),
        at: r.get(1),
        client_id: r.get(2),
        sub: r.get(3),
        resource: r.get(4),
        grant_type: r.get(5),
        outcome: r.get(6),
        runs: r.get(7),
    }
}

#[async_trait]
impl DecisionLog for Postgres {
    async fn record_decisions(&self, entries: &[DecisionEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: a column of values per field.
        let col = |f: fn(&DecisionEntry) -> &str| -> Vec<&str> { entries.iter().map(f).collect() };
        let at: Vec<i64> = entries.iter().map(|e| e.at).collect();
        run(
            &self.client().await?,
            concat!(
                "INSERT INTO policy_decisions (",
                decision_cols!(),
                ") SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], \
                 $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[])"
            ),
            &[
                &col(|e| &e.jti),
                &at,
                &col(|e| &e.client_id),
                &col(|e| &e.sub),
                &col(|e| &e.resource),
                &col(|e| &e.grant_type),
                &col(|e| &e.outcome),
                &col(|e| &e.runs),
            ],
        )
        .await?;
        Ok(())
    }

    async fn recent_decisions(&self, limit: u32) -> StoreResult<Vec<DecisionEntry>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            select!(
                decision_cols,
                "FROM policy_decisions ORDER BY id DESC LIMIT $1"
            ),
            &[&i64::from(limit)],
        )
        .await?;
        Ok(rows.iter().map(decision_row).collect())
    }

    async fn decision(
        &self,
        jti: &str,
        iat: Option<UnixTime>,
    ) -> StoreResult<Option<DecisionEntry>> {
        let c = self.client().await?;
        // A second either side of `iat` forgives a clock step, as the embedded store does.
        let row = opt(
            &c,
            select!(
                decision_cols,
                "FROM policy_decisions WHERE jti = $1 \
                 AND ($2::BIGINT IS NULL OR at BETWEEN $2 - 1 AND $2 + 1) ORDER BY id DESC LIMIT 1"
            ),
            &[&jti, &iat],
        )
        .await?;
        Ok(row.as_ref().map(decision_row))
    }

    async fn purge_decisions(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        run(
            &self.client().await?,
            "DELETE FROM policy_decisions WHERE id IN \
             (SELECT id FROM policy_decisions WHERE at < $1 ORDER BY id LIMIT $2)",
            &[&before, &i64::from(limit)],
        )
        .await
    }
}

#[async_trait]
impl PolicyVersions for Postgres {
    async fn activate_policy(
        &self,
        name: &str,
        digest: &str,
        bytes: &[u8],
        now: UnixTime,
    ) -> StoreResult<()> {
        run(
            &self.client().await?,
            "WITH m AS (INSERT INTO policy_modules (digest, bytes, created_at) VALUES ($2, $3, $4) \
             ON CONFLICT (digest) DO NOTHING) \
             INSERT INTO policy_activations (name, digest, activated_at) VALUES ($1, $2, $4)",
            &[&name, &digest, &bytes, &now],
        )
        .await?;
        Ok(())
    }

    async fn active_policy(&self, name: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT digest FROM policy_activations WHERE name = $1 ORDER BY id DESC LIMIT 1",
            &[&name],
        )
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn policy_history(&self, name: &str) -> StoreResult<Vec<(String, UnixTime)>> {
        let c = self.client().await?;
        let rows = all(
            &c,
            "SELECT digest, activated_at FROM policy_activations WHERE name = $1 ORDER BY id DESC",
            &[&name],
        )
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn policy_module(&self, digest: &str) -> StoreResult<Option<Vec<u8>>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT bytes FROM policy_modules WHERE digest = $1",
            &[&digest],
        )
        .await?;
        Ok(row.map(|r| r.get(0)))
    }
}

#[async_trait]
impl Health for Postgres {
    async fn ping(&self) -> StoreResult<()> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
