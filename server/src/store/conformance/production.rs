//! The production store: Postgres and Redis as CI runs them (`LANYARD_TEST_DATABASE_URL`
//! and `LANYARD_TEST_REDIS_URL` point elsewhere). Each test gets a schema and a key prefix
//! of its own. Without the services the tests are skipped, except under `CI=true`, where a
//! missing service is a failure.

use std::str::FromStr;

use tokio_postgres::Config;

use super::*;
use crate::store::postgres::Postgres;
use crate::store::redis::Redis;

pub(crate) const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub(crate) const REDIS_URL: &str = "redis://127.0.0.1:6379/";

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A schema name no other run uses (lower case: Postgres folds unquoted names).
fn unique(what: &str) -> String {
    use crate::clock::Random;
    let mut salt = [0u8; 8];
    crate::clock::OsRandom::default().fill(&mut salt);
    let salt = u64::from_le_bytes(salt);
    format!("lanyard_t_{what}_{}_{salt:016x}", std::process::id())
}

/// A test's own schema and key prefix; `finish` drops the schema (the keys expire).
struct Scratch {
    stores: Stores,
    admin: tokio_postgres::Client,
    schema: String,
}

impl Scratch {
    async fn finish(self) {
        drop(self.stores);
        let drop_schema = format!("DROP SCHEMA {} CASCADE", self.schema);
        self.admin.batch_execute(&drop_schema).await.unwrap();
    }
}

/// A new, empty schema (and the admin connection that drops it), with settings that
/// connect to it; `None` when there is no Postgres and it is not required.
async fn empty_schema(what: &str) -> Option<(tokio_postgres::Client, String, Config)> {
    let db = std::env::var("LANYARD_TEST_DATABASE_URL").unwrap_or(DATABASE_URL.into());
    let schema = unique(what);
    let admin = match tokio_postgres::connect(&db, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
        }
        Err(e) if !required() => {
            eprintln!("skipped: no Postgres at {db} ({e})");
            return None;
        }
        Err(e) => panic!("Postgres at {db} is required under CI: {e}"),
    };
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let mut config = Config::from_str(&db).unwrap();
    config.options(format!("-c search_path={schema}"));
    Some((admin, schema, config))
}

async fn scratch(what: &str) -> Option<Scratch> {
    let redis = std::env::var("LANYARD_TEST_REDIS_URL").unwrap_or(REDIS_URL.into());
    let (admin, schema, config) = empty_schema(what).await?;
    let durable = Postgres::connect_config(config, None).await.unwrap();
    let ephemeral = match Redis::connect(&redis, &format!("{schema}:"), None).await {
        Ok(r) => r,
        Err(e) if !required() => {
            eprintln!("skipped: no Redis at {redis} ({e})");
            return None;
        }
        Err(e) => panic!("Redis at {redis} is required under CI: {e}"),
    };
    let stores = durable.stores(ephemeral);
    for backend in &stores.health {
        backend.ping().await.unwrap();
    }
    Some(Scratch {
        stores,
        admin,
        schema,
    })
}

all_stories!();
/// Instances starting together on an empty database take turns: every one starts, and
/// the schema is applied once.
#[tokio::test]
async fn concurrent_start_ups_migrate_once() {
    let Some((admin, schema, config)) = empty_schema("start_ups").await else {
        return;
    };
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        starts.spawn(Postgres::connect_config(config.clone(), None));
    }
    while let Some(started) = starts.join_next().await {
        started.unwrap().unwrap();
    }
    let history = format!("SELECT COUNT(*) FROM {schema}.refinery_schema_history");
    let applied: i64 = admin.query_one(&history, &[]).await.unwrap().get(0);
    // Each of schema/postgres's migrations once, however many instances raced to apply it.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, files as i64);
    let drop_schema = format!("DROP SCHEMA {schema} CASCADE");
    admin.batch_execute(&drop_schema).await.unwrap();
}

/// What the code cannot read is an error, never a guess or a panic: a column of
/// another type, a client of an unknown source or grant type, an audit entry by no actor
/// the code knows, a rotation outcome the database function should not return.
#[tokio::test]
async fn unreadable_rows_are_errors() {
    let Some(s) = scratch("unreadable").await else {
        return;
    };
    let schema = &s.schema;
    s.admin
        .batch_execute(&format!(
            "ALTER TABLE {schema}.users ALTER COLUMN created_at TYPE INTEGER; \
             INSERT INTO {schema}.users (sub, email, password_hash, created_at) \
             VALUES ('u', 'u@example.com', 'x', 1)"
        ))
        .await
        .unwrap();
    let user = s.stores.users.user_by_sub(&super::uid("u")).await;
    assert!(matches!(user, Err(StoreError::Corrupt(_))), "{user:?}");

    s.admin
        .batch_execute(&format!(
            "INSERT INTO {schema}.clients (id, redirect_uris, grant_types, auth_method, \
             metadata, source, created_at) VALUES ('app', '{{}}', '{{}}', 'none', '{{}}', \
             'imported', 1)"
        ))
        .await
        .unwrap();
    let client = s.stores.clients.client(&super::cid("app")).await;
    assert!(matches!(client, Err(StoreError::Corrupt(_))), "{client:?}");

    s.admin
        .batch_execute(&format!(
            "INSERT INTO {schema}.clients (id, redirect_uris, grant_types, auth_method, \
             metadata, source, created_at) VALUES ('magic', '{{}}', '{{password}}', 'none', \
             '{{}}', 'dynamic', 1)"
        ))
        .await
        .unwrap();
    let client = s.stores.clients.client(&super::cid("magic")).await;
    assert!(matches!(client, Err(StoreError::Corrupt(_))), "{client:?}");

    s.admin
        .batch_execute(&format!(
            "INSERT INTO {schema}.admin_audit (at, actor, action, object) \
             VALUES (1, '', 'user.create', 'u')"
        ))
        .await
        .unwrap();
    let audit = s.stores.audit.audit_entries(None, 10).await;
    assert!(matches!(audit, Err(StoreError::Corrupt(_))), "{audit:?}");

    s.admin
        .batch_execute(&format!(
            "CREATE OR REPLACE FUNCTION {schema}.lanyard_rotate_refresh(\
             presented TEXT, successor TEXT, sealed BYTEA, now BIGINT, grace BIGINT) \
             RETURNS TABLE (outcome TEXT, id TEXT, client_id TEXT, sub TEXT, \
             resource TEXT, scopes TEXT[], auth_time BIGINT, created_at BIGINT, \
             expires_at BIGINT, revoked_at BIGINT, kept BYTEA) LANGUAGE sql AS \
             $$ SELECT 'revoked', 'g', 'app', 'u', 'r', ARRAY['read'], \
             1::BIGINT, 1::BIGINT, 9::BIGINT, NULL::BIGINT, NULL::BYTEA $$"
        ))
        .await
        .unwrap();
    let rotated = s
        .stores
        .grants
        .rotate_refresh(&SecretHash::of("t"), &SecretHash::of("u"), b"-", 2, 0)
        .await;
    assert!(
        matches!(rotated, Err(StoreError::Corrupt(_))),
        "{rotated:?}"
    );
    s.finish().await;
}
