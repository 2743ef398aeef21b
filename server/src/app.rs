//! The one `App` every handler shares, built in one place: it picks the backends (the
//! embedded store unless production URLs are set), loads the signing keys, and
//! precomputes the discovery documents.

use std::sync::Arc;

use anyhow::Context;

use crate::clock::{Clock, OsRandom, Random, SystemClock, UnixTime};
use crate::config::Config;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::oauth::cimd::CimdResolver;
use crate::oauth::metadata::Discovery;
use crate::policy::PolicyRegistry;
use crate::policy::decisions::DecisionWriter;
use crate::portal::throttle::{self, Throttle};
use crate::seal::SealKey;
use crate::store::Stores;
use crate::store::embedded::Embedded;
use crate::store::postgres::Postgres;
use crate::store::redis::Redis;
use crate::tokens::KeyRing;

pub struct App {
    pub config: Config,
    pub stores: Stores,
    pub keys: KeyRing,
    pub discovery: Discovery,
    pub cimd: CimdResolver,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub metrics: Arc<Metrics>,
    /// Bound policies, if any.
    pub policies: Option<Arc<PolicyRegistry>>,
    pub decisions: DecisionWriter,
    pub login_throttle: Throttle,
    /// Wrong second-factor codes, counted apart from wrong passwords.
    pub code_throttle: Throttle,
    /// Seals TOTP secrets at rest; `None` (second factors off) on the production store
    /// without `LANYARD_ENCRYPTION_KEY`.
    pub factor_key: Option<SealKey>,
    pub mailer: Mailer,
    /// The WebAuthn relying party (the issuer); `None` (no passkeys) when the issuer's
    /// host is an IP address.
    pub webauthn: Option<webauthn_rs::Webauthn>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens the configured store and builds the app around it.
    pub async fn build(config: Config) -> anyhow::Result<Arc<App>> {
        let stores = open_stores(&config).await?;
        Self::with_stores(
            config,
            stores,
            Arc::new(SystemClock),
            Arc::new(OsRandom::default()),
        )
        .await
    }

    pub async fn with_stores(
        config: Config,
        stores: Stores,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> anyhow::Result<Arc<App>> {
        let stored = match &stores.policies {
            Some(versions) if !config.policies.bindings.is_empty() => {
                let names = config.policies.bindings.iter().map(|b| b.name.as_str());
                crate::policy::distribute::active_modules(names, versions.as_ref()).await?
            }
            _ => Default::default(),
        };
        let policies = crate::policy::from_config(&config, stored)?;
        if let (Some(registry), Some(versions)) = (&policies, &stores.policies) {
            crate::policy::distribute::sync(registry, versions.as_ref(), clock.now()).await?;
        }
        let keys = KeyRing::load(
            stores.keys.as_ref(),
            config.signing_alg,
            config.publish_retired_for(),
            clock.now(),
        )
        .await?;
        // The admin API's tokens are counted as its own resource's.
        let resources: Vec<_> = config
            .resources
            .iter()
            .chain([&config.admin_resource])
            .map(|r| r.uri.clone())
            .collect();
        let metrics = Arc::new(Metrics::new(&resources));
        Ok(Arc::new(App {
            discovery: Discovery::new(&config),
            cimd: CimdResolver::new(config.cimd.clone())?,
            decisions: DecisionWriter::spawn(stores.decisions.clone()),
            login_throttle: Throttle::new(
                stores.counters.clone(),
                throttle::PASSWORDS,
                metrics.clone(),
            ),
            code_throttle: Throttle::new(stores.counters.clone(), throttle::CODES, metrics.clone()),
            factor_key: crate::mfa::key::load(&config, random.as_ref())?,
            mailer: Mailer::new(&config)?,
            webauthn: crate::mfa::passkey::relying_party(&config),
            metrics,
            policies,
            config,
            stores,
            keys,
            clock,
            random,
        }))
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }
}

/// The storage backends for this configuration: Postgres and Redis when their URLs are
/// set, the embedded store otherwise.
pub async fn open_stores(config: &Config) -> anyhow::Result<Stores> {
    let Some(production) = &config.production else {
        return Ok(Embedded::open(&config.data_dir)?.stores());
    };
    let ca = match &production.ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("LANYARD_STORE_CA: {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let durable = Postgres::connect(production.database_url.expose(), ca.as_deref())
        .await
        .context("connecting to Postgres")?;
    let ephemeral = Redis::connect(
        production.redis_url.expose(),
        &production.redis_prefix,
        ca.as_deref(),
    )
    .await
    .context("connecting to Redis")?;
    Ok(durable.stores(ephemeral))
}
