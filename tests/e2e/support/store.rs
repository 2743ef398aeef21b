//! The production store for a test: its own Postgres schema and Redis key prefix, so that
//! servers given the same settings share one store and nothing else does.

/// Settings that put a server on the production store: Postgres and Redis, with a schema and
/// a key prefix no other test uses, so that the servers given the same settings share one
/// store and nothing else does. `None` (the test is skipped) when the services are absent,
/// except under `CI=true`, where that is a failure.
pub async fn production_store() -> Option<ProductionStore> {
    let db = std::env::var("LANYARD_TEST_DATABASE_URL")
        .unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
    let redis = std::env::var("LANYARD_TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379/".into());
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let mut salt = [0u8; 8];
    lanyard::clock::Random::fill(&lanyard::clock::OsRandom::default(), &mut salt);
    let schema = format!(
        "lanyard_e2e_{}_{:016x}",
        std::process::id(),
        u64::from_le_bytes(salt)
    );
    match tokio_postgres::connect(&db, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
        }
        Err(e) if !required => {
            eprintln!("skipped: no Postgres at {db} ({e})");
            return None;
        }
        Err(e) => panic!("Postgres at {db} is required under CI: {e}"),
    }
    let reachable = std::net::TcpStream::connect("127.0.0.1:6379").is_ok()
        || std::env::var("LANYARD_TEST_REDIS_URL").is_ok();
    if !reachable {
        assert!(!required, "Redis at {redis} is required under CI");
        eprintln!("skipped: no Redis at {redis}");
        return None;
    }
    let sep = if db.contains('?') { '&' } else { '?' };
    Some(ProductionStore {
        settings: vec![
            (
                "LANYARD_DATABASE_URL",
                format!("{db}{sep}options=-c%20search_path%3D{schema}"),
            ),
            ("LANYARD_REDIS_URL", redis),
            ("LANYARD_REDIS_PREFIX", format!("{schema}:")),
        ],
        db,
        schema,
    })
}

/// A test's share of Postgres and Redis; see [`production_store`].
pub struct ProductionStore {
    pub settings: Vec<(&'static str, String)>,
    db: String,
    schema: String,
}

impl ProductionStore {
    /// The settings, as `spawn_with` takes them.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.settings
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect()
    }

    /// The settings with some of them (or more) given other values.
    pub fn env_with<'a>(&'a self, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = self.env();
        for (key, value) in changes {
            env.retain(|(k, _)| k != key);
            env.push((key, value));
        }
        env
    }

    /// One of the URL settings.
    pub fn url(&self, key: &str) -> reqwest::Url {
        let (_, v) = self
            .settings
            .iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("no {key}"));
        reqwest::Url::parse(v).expect("a URL")
    }

    /// Drops the test's schema once its servers are gone (its Redis keys expire).
    pub async fn finish(self) {
        let (client, conn) = tokio_postgres::connect(&self.db, tokio_postgres::NoTls)
            .await
            .expect("Postgres");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .expect("drop schema");
    }
}

/// `host:port` of the service at `url`.
pub fn address(url: &reqwest::Url, default_port: u16) -> String {
    format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().unwrap_or(default_port)
    )
}
