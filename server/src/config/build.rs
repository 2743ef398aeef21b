//! From the settings as read to the [`Config`] the server uses: values parsed into
//! protocol types, and the rules that span settings or that types cannot state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::branding::Branding;
use super::settings::{Resources, Settings};
use super::{
    CimdConfig, Config, ConfigError, ConnectionLimits, MfaMode, PolicyBindingConfig, PolicyConfig,
    ProductionStores, RateLimits, ResourceConfig, canonical_issuer, invalid,
};
use crate::domain::AdminScope;
use crate::http::client_addr::Cidr;
use crate::oauth::types::{ResourceUri, Scope};
use crate::secret::Secret;

impl Config {
    /// Turns the settings into the configuration; `vars` only for `PORT`, which platforms
    /// set and which counts when `LANYARD_LISTEN` does not. It is long because it names
    /// every field; each piece with rules of its own is a function below.
    pub(super) fn build(
        s: Settings,
        vars: &HashMap<String, String>,
        base: &Path,
    ) -> Result<Self, ConfigError> {
        let set = |key: &str| vars.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let listen = match set("PORT") {
            Some(port) if set("LANYARD_LISTEN").is_none() => {
                parse_listen("PORT", &format!("0.0.0.0:{port}"))?
            }
            _ => parse_listen("LANYARD_LISTEN", &s.listen)?,
        };
        let issuer = canonical_issuer(&s.issuer)?;
        let connections = connections(&s)?;
        let resources = resources(s.resources, &s.scopes, &issuer)?;
        let branding = Branding::build(s.branding, base)?;
        let mail = super::mail::build(
            s.smtp_url.as_deref(),
            s.smtp_ca,
            s.mail_from.as_deref(),
            &issuer,
            &branding.product_name,
            s.require_verified_email,
            (s.verify_link_ttl, s.reset_link_ttl),
        )?;
        let production = production(s.database_url, s.redis_url, s.redis_prefix, s.store_ca)?;
        // A module path in the file is relative to the file.
        let bindings = s
            .policies
            .into_iter()
            .map(|p| PolicyBindingConfig {
                name: p.name,
                module: base.join(p.module),
                resource: p.resource,
                config: p.config.unwrap_or_else(|| serde_json::json!({})),
                fail_open: p.fail_open,
            })
            .collect();
        let admin_resource = admin_resource(&issuer, &resources)?;
        let config = Config {
            issuer,
            listen,
            admin_listen: parse_listen("LANYARD_ADMIN_LISTEN", &s.admin_listen)?,
            production,
            data_dir: s.data_dir,
            admin_resource,
            resources,
            access_token_ttl: seconds("LANYARD_ACCESS_TOKEN_TTL", s.access_token_ttl)?,
            refresh_token_ttl: seconds("LANYARD_REFRESH_TOKEN_TTL", s.refresh_token_ttl)?,
            refresh_grace: seconds("LANYARD_REFRESH_GRACE", s.refresh_grace)?,
            code_ttl: seconds("LANYARD_CODE_TTL", s.code_ttl)?,
            session_ttl: seconds("LANYARD_SESSION_TTL", s.session_ttl)?,
            request_ttl: seconds("LANYARD_REQUEST_TTL", s.request_ttl)?,
            signing_alg: s.signing_alg,
            max_body_bytes: s.max_body_bytes as usize,
            connections,
            trusted_proxies: trusted_proxies(&s.trusted_proxies)?,
            rate_limits: RateLimits {
                register: s.rate_register_per_min,
                signup: s.rate_signup_per_min,
                login: s.rate_login_per_min,
                authorize: s.rate_authorize_per_min,
            },
            cimd: CimdConfig {
                enabled: s.cimd,
                timeout_ms: s.cimd_timeout_ms,
                max_bytes: s.cimd_max_bytes as usize,
                max_cache_secs: 86_400,
                flow_secs: s.request_ttl,
                allow_loopback: s.cimd_allow_loopback,
            },
            key_reload_secs: s.key_reload_secs,
            dcr_idle_days: s.dcr_idle_days,
            policies: PolicyConfig {
                bindings,
                timeout_ms: s.policy_timeout_ms,
                memory_mb: s.policy_memory_mb,
                output_bytes: s.policy_output_bytes,
                poll_ms: s.policy_poll_ms,
                log_days: s.policy_log_days,
            },
            branding,
            mfa: s.mfa,
            encryption_key: s.encryption_key.map(Secret::new),
            mail,
        };
        config.check()
    }

    /// The rules that span settings or that types cannot state.
    fn check(self) -> Result<Self, ConfigError> {
        if self.access_token_ttl == 0 || self.code_ttl == 0 {
            return Err(invalid(
                "LANYARD_ACCESS_TOKEN_TTL",
                "lifetimes must be positive",
            ));
        }
        if self.code_ttl > 600 {
            // OAuth 2.1 §4.1.2: codes live at most ten minutes.
            return Err(invalid("LANYARD_CODE_TTL", "at most 600 seconds"));
        }
        if let Some(key) = &self.encryption_key
            && key.expose().len() < 32
        {
            return Err(invalid(
                "LANYARD_ENCRYPTION_KEY",
                "at least 32 characters of random text (e.g. `openssl rand -base64 32`)",
            ));
        }
        // Second factors on shared stores need the one key every instance holds.
        if self.mfa == MfaMode::Required
            && self.production.is_some()
            && self.encryption_key.is_none()
        {
            return Err(invalid(
                "LANYARD_ENCRYPTION_KEY",
                "LANYARD_MFA=required on Postgres needs an encryption key for the second factors",
            ));
        }
        Ok(self)
    }
}

fn parse_listen(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(key, format!("expected host:port, got {s:?}")))
}

fn connections(s: &Settings) -> Result<ConnectionLimits, ConfigError> {
    Ok(ConnectionLimits {
        header_timeout: timeout("LANYARD_HEADER_TIMEOUT_SECS", s.header_timeout_secs)?,
        body_timeout: timeout("LANYARD_BODY_TIMEOUT_SECS", s.body_timeout_secs)?,
        idle_timeout: timeout("LANYARD_IDLE_TIMEOUT_SECS", s.idle_timeout_secs)?,
        drain_delay: Duration::from_secs(s.drain_delay_secs),
    })
}

/// `LANYARD_TRUSTED_PROXIES`: CIDR blocks or addresses, separated by commas.
fn trusted_proxies(list: &str) -> Result<Vec<Cidr>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|e: String| invalid("LANYARD_TRUSTED_PROXIES", e))
        })
        .collect()
}

fn seconds(key: &str, value: u64) -> Result<i64, ConfigError> {
    i64::try_from(value).map_err(|_| invalid(key, "too large"))
}

/// A connection timeout: at least a second, since none at all would let a slow client hold
/// a connection forever.
fn timeout(key: &str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(Duration::from_secs(value))
}

/// The resources from `LANYARD_RESOURCES` or the file, each with `default_scopes` unless
/// it names its own; with neither, the example MCP server under the issuer.
fn resources(
    listed: Resources,
    default_scopes: &str,
    issuer: &str,
) -> Result<Vec<ResourceConfig>, ConfigError> {
    let default_scopes = parse_scopes("LANYARD_SCOPES", default_scopes)?;
    let resources = match listed {
        Resources::Uris(list) => list
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|uri| {
                let uri = ResourceUri::parse(uri)
                    .map_err(|e| invalid("LANYARD_RESOURCES", format!("{uri:?}: {e}")))?;
                Ok(ResourceConfig {
                    name: uri.as_str().to_string(),
                    uri,
                    scopes: default_scopes.clone(),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?,
        Resources::Listed(list) if !list.is_empty() => list
            .into_iter()
            .map(|r| {
                let uri = ResourceUri::parse(&r.uri)
                    .map_err(|e| invalid("resources.uri", format!("{:?}: {e}", r.uri)))?;
                let scopes = match r.scopes {
                    Some(list) => parse_scopes("resources.scopes", &list.join(" "))?,
                    None => default_scopes.clone(),
                };
                Ok(ResourceConfig {
                    name: r.name.unwrap_or_else(|| uri.as_str().to_string()),
                    uri,
                    scopes,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?,
        Resources::Listed(_) => {
            let uri = ResourceUri::parse(&format!("{issuer}/mcp"))
                .map_err(|e| invalid("LANYARD_ISSUER", e.to_string()))?;
            vec![ResourceConfig {
                name: "Lanyard example MCP server".to_string(),
                uri,
                scopes: default_scopes,
            }]
        }
    };
    if resources.is_empty() {
        return Err(invalid(
            "LANYARD_RESOURCES",
            "at least one resource is needed",
        ));
    }
    Ok(resources)
}

/// The admin API as a resource: `<issuer>/admin`, with the admin scopes. No resource the
/// operator configures may be it, or users could be asked to consent to it.
fn admin_resource(
    issuer: &str,
    resources: &[ResourceConfig],
) -> Result<ResourceConfig, ConfigError> {
    let uri = ResourceUri::parse(&format!("{issuer}/admin"))
        .map_err(|e| invalid("LANYARD_ISSUER", e.to_string()))?;
    if resources.iter().any(|r| r.uri.same_as(&uri)) {
        return Err(invalid(
            "LANYARD_RESOURCES",
            format!("{uri} is the admin API's own resource"),
        ));
    }
    let scopes = AdminScope::ALL
        .iter()
        .map(|s| Scope::parse(s.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("LANYARD_ISSUER", e.to_string()))?;
    Ok(ResourceConfig {
        uri,
        name: "Lanyard admin API".into(),
        scopes,
    })
}

/// Postgres and Redis together, or neither.
fn production(
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: String,
    ca: Option<PathBuf>,
) -> Result<Option<ProductionStores>, ConfigError> {
    const BOTH: &str = "the production store is Postgres and Redis together";
    match (database_url, redis_url) {
        (None, None) => Ok(None),
        (Some(db), Some(redis)) => Ok(Some(ProductionStores {
            database_url: Secret::new(db),
            redis_url: Secret::new(redis),
            redis_prefix,
            ca,
        })),
        (Some(_), None) => Err(invalid(
            "LANYARD_REDIS_URL",
            format!("must be set with LANYARD_DATABASE_URL: {BOTH}"),
        )),
        (None, Some(_)) => Err(invalid(
            "LANYARD_DATABASE_URL",
            format!("must be set with LANYARD_REDIS_URL: {BOTH}"),
        )),
    }
}

fn parse_scopes(key: &str, s: &str) -> Result<Vec<Scope>, ConfigError> {
    s.split_whitespace()
        .map(|v| Scope::parse(v).map_err(|e| invalid(key, format!("{v:?}: {e}"))))
        .collect()
}
