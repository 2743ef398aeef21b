//! One typed configuration, layered and checked once (style.md §9):
//! defaults -> `lanyard.toml` -> `.env` -> `LANYARD_*` environment variables.
//!
//! Loading never reads the process environment itself: the caller passes a map, so tests
//! configure a server without `set_var`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::oauth::types::{ResourceUri, Scope};
use crate::secret::Secret;

/// Why a configuration was refused; always names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("reading {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Signing algorithm for access and ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SigningAlg {
    RS256,
    ES256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
        }
    }
    fn parse(key: &str, s: &str) -> Result<Self, ConfigError> {
        match s {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            other => Err(invalid(
                key,
                format!("unknown algorithm {other:?}; use RS256 or ES256"),
            )),
        }
    }
}

/// A protected resource Lanyard issues tokens for (RFC 8707 / RFC 9728).
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub uri: ResourceUri,
    /// Shown on the consent page and in RFC 9728 `resource_name`.
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// Client ID Metadata Document fetching.
#[derive(Debug, Clone)]
pub struct CimdConfig {
    pub enabled: bool,
    pub timeout_ms: u64,
    pub max_bytes: usize,
    /// Longest time a document is reused when its headers allow caching.
    pub max_cache_secs: u64,
    /// Lets tests host documents on loopback (over plain http). Never in production: it
    /// opens the SSRF hole that the block list closes.
    pub allow_loopback: bool,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The canonical issuer: no trailing slash, byte-identical everywhere it appears.
    pub issuer: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Postgres and Redis: set together, they replace the embedded store and make every
    /// instance interchangeable behind a load balancer.
    pub production: Option<ProductionStores>,
    pub resources: Vec<ResourceConfig>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// Seconds in which a just-rotated refresh token still works, so that two racing
    /// refreshes from one client do not revoke the family.
    pub refresh_grace: i64,
    pub code_ttl: i64,
    pub session_ttl: i64,
    /// How long a pending authorization request waits for login and consent.
    pub request_ttl: i64,
    pub signing_alg: SigningAlg,
    pub max_body_bytes: usize,
    pub cimd: CimdConfig,
    /// How often a running server re-reads signing keys (rotation by the CLI).
    pub key_reload_secs: u64,
    /// Days after which a dynamically registered client with no live grant is removed
    /// (0: never).
    pub dcr_idle_days: u64,
    pub policies: PolicyConfig,
}

/// Where the production store lives. The URLs may carry passwords, so they redact
/// themselves.
#[derive(Debug, Clone)]
pub struct ProductionStores {
    pub database_url: Secret<String>,
    pub redis_url: Secret<String>,
    /// Every Redis key starts with this, so one Redis can serve several deployments.
    pub redis_prefix: String,
    /// CA certificates (PEM) that TLS to Postgres and Redis trusts instead of the system's.
    pub ca: Option<PathBuf>,
}

/// One `[[policies]]` entry of lanyard.toml: a policy bound to a resource.
#[derive(Debug, Clone)]
pub struct PolicyBindingConfig {
    pub name: String,
    pub module: PathBuf,
    /// An exact resource URI, or `*`.
    pub resource: String,
    pub config: serde_json::Value,
    pub fail_open: bool,
}

/// Policies and the limits every call runs under.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    pub bindings: Vec<PolicyBindingConfig>,
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub output_bytes: u64,
    /// How often the policy files are checked for changes (hot reload).
    pub poll_ms: u64,
    /// Days the decision log keeps an entry.
    pub log_days: u64,
}

/// The file form: every field optional, overridden by the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    issuer: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    access_token_ttl: Option<i64>,
    refresh_token_ttl: Option<i64>,
    refresh_grace: Option<i64>,
    code_ttl: Option<i64>,
    session_ttl: Option<i64>,
    signing_alg: Option<String>,
    #[serde(default)]
    resources: Vec<FileResource>,
    cimd_allow_loopback: Option<bool>,
    #[serde(default)]
    policies: Vec<FilePolicy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePolicy {
    name: String,
    module: PathBuf,
    #[serde(default = "any_resource")]
    resource: String,
    #[serde(default)]
    config: Option<toml::Value>,
    #[serde(default)]
    fail_open: bool,
}

fn any_resource() -> String {
    "*".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileResource {
    uri: String,
    name: Option<String>,
    scopes: Option<Vec<String>>,
}

/// Every `LANYARD_*` key this build understands; others are warned about.
const KNOWN_KEYS: &[&str] = &[
    "LANYARD_CONFIG",
    "LANYARD_ISSUER",
    "LANYARD_LISTEN",
    "LANYARD_DATA_DIR",
    "LANYARD_DATABASE_URL",
    "LANYARD_REDIS_URL",
    "LANYARD_REDIS_PREFIX",
    "LANYARD_STORE_CA",
    "LANYARD_RESOURCES",
    "LANYARD_SCOPES",
    "LANYARD_ACCESS_TOKEN_TTL",
    "LANYARD_REFRESH_TOKEN_TTL",
    "LANYARD_REFRESH_GRACE",
    "LANYARD_CODE_TTL",
    "LANYARD_SESSION_TTL",
    "LANYARD_REQUEST_TTL",
    "LANYARD_SIGNING_ALG",
    "LANYARD_MAX_BODY_BYTES",
    "LANYARD_CIMD",
    "LANYARD_CIMD_TIMEOUT_MS",
    "LANYARD_CIMD_MAX_BYTES",
    "LANYARD_CIMD_ALLOW_LOOPBACK",
    "LANYARD_KEY_RELOAD_SECS",
    "LANYARD_DCR_IDLE_DAYS",
    "LANYARD_LOG",
    "LANYARD_POLICY_TIMEOUT_MS",
    "LANYARD_POLICY_MEMORY_MB",
    "LANYARD_POLICY_OUTPUT_BYTES",
    "LANYARD_POLICY_POLL_MS",
    "LANYARD_POLICY_LOG_DAYS",
    "LANYARD_LOG_FORMAT",
];

const DEFAULT_SCOPES: &str = "read write";

/// ID tokens live an hour (they are read once, at sign-in).
pub const ID_TOKEN_TTL: i64 = 3_600;

impl Config {
    /// Reads `lanyard.toml` (or `LANYARD_CONFIG`) and `.env` from `dir`, then applies `env`.
    /// Returns the configuration and the warnings worth logging.
    pub fn load(
        dir: &Path,
        env: &HashMap<String, String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut merged: HashMap<String, String> = HashMap::new();
        let dotenv = dir.join(".env");
        if dotenv.is_file()
            && let Ok(iter) = dotenvy::from_path_iter(&dotenv)
        {
            merged.extend(iter.flatten());
        }
        merged.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let file_path = merged
            .get("LANYARD_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("lanyard.toml"));
        let file = if file_path.is_file() {
            let text = std::fs::read_to_string(&file_path).map_err(|source| ConfigError::File {
                path: file_path.clone(),
                source,
            })?;
            toml::from_str(&text).map_err(|source| ConfigError::Toml {
                path: file_path.clone(),
                source: Box::new(source),
            })?
        } else if merged.contains_key("LANYARD_CONFIG") {
            return Err(invalid(
                "LANYARD_CONFIG",
                format!("{} does not exist", file_path.display()),
            ));
        } else {
            FileConfig::default()
        };
        let warnings = merged
            .keys()
            .filter(|k| k.starts_with("LANYARD_") && !KNOWN_KEYS.contains(&k.as_str()))
            .map(|k| format!("unknown setting {k} ignored"))
            .collect();
        let base = file_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.to_path_buf());
        Ok((Self::build(file, &merged, &base)?, warnings))
    }

    /// Defaults plus `env` only: what tests use.
    pub fn from_env_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::build(FileConfig::default(), env, Path::new("."))
    }

    fn build(
        file: FileConfig,
        env: &HashMap<String, String>,
        base: &Path,
    ) -> Result<Self, ConfigError> {
        let get = |key: &str| env.get(key).map(|s| s.trim()).filter(|s| !s.is_empty());
        let num = |key: &str, file: Option<i64>, default: i64| -> Result<i64, ConfigError> {
            match get(key) {
                Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    invalid(
                        key,
                        format!("expected a whole number of seconds, got {v:?}"),
                    )
                }),
                None => Ok(file.unwrap_or(default)),
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some("0" | "false" | "no" | "off") => Ok(false),
                Some(v) => Err(invalid(key, format!("expected true or false, got {v:?}"))),
            }
        };

        let listen = match (get("LANYARD_LISTEN"), get("PORT"), file.listen.as_deref()) {
            (Some(addr), _, _) => parse_listen("LANYARD_LISTEN", addr)?,
            (None, Some(port), _) => parse_listen("PORT", &format!("0.0.0.0:{port}"))?,
            (None, None, Some(addr)) => parse_listen("listen", addr)?,
            (None, None, None) => parse_listen("LANYARD_LISTEN", "0.0.0.0:4000")?,
        };
        let issuer_raw = get("LANYARD_ISSUER")
            .map(str::to_string)
            .or(file.issuer)
            .unwrap_or_else(|| "http://localhost:4000".to_string());
        let issuer = canonical_issuer(&issuer_raw)?;

        let default_scopes = get("LANYARD_SCOPES").unwrap_or(DEFAULT_SCOPES);
        let default_scopes = parse_scopes("LANYARD_SCOPES", default_scopes)?;
        let resources = if let Some(list) = get("LANYARD_RESOURCES") {
            list.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(|uri| {
                    let uri = ResourceUri::parse(uri)
                        .map_err(|e| invalid("LANYARD_RESOURCES", format!("{uri:?}: {e}")))?;
                    Ok(ResourceConfig {
                        name: default_resource_name(&uri),
                        uri,
                        scopes: default_scopes.clone(),
                    })
                })
                .collect::<Result<Vec<_>, ConfigError>>()?
        } else if !file.resources.is_empty() {
            file.resources
                .into_iter()
                .map(|r| {
                    let uri = ResourceUri::parse(&r.uri)
                        .map_err(|e| invalid("resources.uri", format!("{:?}: {e}", r.uri)))?;
                    let scopes = match r.scopes {
                        Some(list) => parse_scopes("resources.scopes", &list.join(" "))?,
                        None => default_scopes.clone(),
                    };
                    Ok(ResourceConfig {
                        name: r.name.unwrap_or_else(|| default_resource_name(&uri)),
                        uri,
                        scopes,
                    })
                })
                .collect::<Result<Vec<_>, ConfigError>>()?
        } else {
            let uri = ResourceUri::parse(&format!("{issuer}/mcp"))
                .map_err(|e| invalid("LANYARD_ISSUER", e.to_string()))?;
            vec![ResourceConfig {
                name: "Lanyard example MCP server".to_string(),
                uri,
                scopes: default_scopes,
            }]
        };
        if resources.is_empty() {
            return Err(invalid(
                "LANYARD_RESOURCES",
                "at least one resource is needed",
            ));
        }

        let signing_alg = match get("LANYARD_SIGNING_ALG").or(file.signing_alg.as_deref()) {
            Some(s) => SigningAlg::parse("LANYARD_SIGNING_ALG", s)?,
            None => SigningAlg::RS256,
        };

        let bindings = file
            .policies
            .into_iter()
            .map(|p| {
                let config = match p.config {
                    Some(v) => serde_json::to_value(v)
                        .map_err(|e| invalid("policies.config", e.to_string()))?,
                    None => serde_json::json!({}),
                };
                let module = if p.module.is_absolute() {
                    p.module
                } else {
                    base.join(p.module)
                };
                Ok(PolicyBindingConfig {
                    name: p.name,
                    module,
                    resource: p.resource,
                    config,
                    fail_open: p.fail_open,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let production = match (get("LANYARD_DATABASE_URL"), get("LANYARD_REDIS_URL")) {
            (None, None) => None,
            (Some(db), Some(redis)) => Some(ProductionStores {
                database_url: Secret::new(db.to_string()),
                redis_url: Secret::new(redis.to_string()),
                redis_prefix: get("LANYARD_REDIS_PREFIX")
                    .unwrap_or("lanyard:")
                    .to_string(),
                ca: get("LANYARD_STORE_CA").map(PathBuf::from),
            }),
            (Some(_), None) => {
                return Err(invalid(
                    "LANYARD_REDIS_URL",
                    "must be set with LANYARD_DATABASE_URL: the production store is Postgres and Redis together",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "LANYARD_DATABASE_URL",
                    "must be set with LANYARD_REDIS_URL: the production store is Postgres and Redis together",
                ));
            }
        };
        let config = Config {
            issuer,
            listen,
            production,
            data_dir: get("LANYARD_DATA_DIR")
                .map(PathBuf::from)
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./data")),
            resources,
            access_token_ttl: num("LANYARD_ACCESS_TOKEN_TTL", file.access_token_ttl, 900)?,
            refresh_token_ttl: num(
                "LANYARD_REFRESH_TOKEN_TTL",
                file.refresh_token_ttl,
                30 * 86_400,
            )?,
            refresh_grace: num("LANYARD_REFRESH_GRACE", file.refresh_grace, 10)?,
            code_ttl: num("LANYARD_CODE_TTL", file.code_ttl, 60)?,
            session_ttl: num("LANYARD_SESSION_TTL", file.session_ttl, 7 * 86_400)?,
            request_ttl: num("LANYARD_REQUEST_TTL", None, 1_800)?,
            signing_alg,
            max_body_bytes: num("LANYARD_MAX_BODY_BYTES", None, 64 * 1024)? as usize,
            cimd: CimdConfig {
                enabled: flag("LANYARD_CIMD", true)?,
                timeout_ms: num("LANYARD_CIMD_TIMEOUT_MS", None, 3_000)? as u64,
                max_bytes: num("LANYARD_CIMD_MAX_BYTES", None, 5 * 1024)? as usize,
                max_cache_secs: 86_400,
                allow_loopback: flag(
                    "LANYARD_CIMD_ALLOW_LOOPBACK",
                    file.cimd_allow_loopback.unwrap_or(false),
                )?,
            },
            key_reload_secs: num("LANYARD_KEY_RELOAD_SECS", None, 10)? as u64,
            dcr_idle_days: num("LANYARD_DCR_IDLE_DAYS", None, 30)? as u64,
            policies: PolicyConfig {
                bindings,
                timeout_ms: num("LANYARD_POLICY_TIMEOUT_MS", None, 50)? as u64,
                memory_mb: num("LANYARD_POLICY_MEMORY_MB", None, 16)? as u64,
                output_bytes: num("LANYARD_POLICY_OUTPUT_BYTES", None, 64 * 1024)? as u64,
                poll_ms: num("LANYARD_POLICY_POLL_MS", None, 500)? as u64,
                log_days: num("LANYARD_POLICY_LOG_DAYS", None, 30)? as u64,
            },
        };
        if config.access_token_ttl == 0 || config.code_ttl == 0 {
            return Err(invalid(
                "LANYARD_ACCESS_TOKEN_TTL",
                "lifetimes must be positive",
            ));
        }
        if config.code_ttl > 600 {
            // OAuth 2.1 §4.1.2: codes live at most ten minutes.
            return Err(invalid("LANYARD_CODE_TTL", "at most 600 seconds"));
        }
        Ok(config)
    }

    /// `issuer` + `path`, the one way endpoint URLs are built.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// How long a retired signing key stays in JWKS: the longest life of a token it signed.
    pub fn publish_retired_for(&self) -> i64 {
        self.access_token_ttl.max(ID_TOKEN_TTL)
    }

    /// Whether browsers reach us over TLS, which decides the `Secure` cookie flag.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The resource used when a request names none (RFC 8707 leaves this to the AS).
    pub fn default_resource(&self) -> &ResourceConfig {
        &self.resources[0]
    }

    pub fn resource(&self, uri: &ResourceUri) -> Option<&ResourceConfig> {
        self.resources.iter().find(|r| r.uri.same_as(uri))
    }
}

fn parse_listen(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(key, format!("expected host:port, got {s:?}")))
}

fn parse_scopes(key: &str, s: &str) -> Result<Vec<Scope>, ConfigError> {
    s.split_whitespace()
        .map(|v| Scope::parse(v).map_err(|e| invalid(key, format!("{v:?}: {e}"))))
        .collect()
}

fn default_resource_name(uri: &ResourceUri) -> String {
    uri.as_str().to_string()
}

/// RFC 8414 §2: an https URL (http allowed for local development) with no query or
/// fragment. The trailing slash is dropped so that the one string we publish is the one
/// every client compares against (the mismatch that breaks clients most often).
pub fn canonical_issuer(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid("LANYARD_ISSUER", format!("{raw:?}: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(
            "LANYARD_ISSUER",
            "must be an https (or local http) URL",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "LANYARD_ISSUER",
            "must not carry a query, fragment or user",
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(invalid("LANYARD_ISSUER", "needs a host"));
    };
    let mut out = format!("{}://{}", url.scheme(), host);
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path().trim_end_matches('/'));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_issue() {
        let c = Config::from_env_map(&env(&[])).unwrap();
        assert_eq!(c.issuer, "http://localhost:4000");
        assert_eq!(c.listen.port(), 4000);
        assert_eq!(c.access_token_ttl, 900);
        assert_eq!(c.resources[0].uri.as_str(), "http://localhost:4000/mcp");
    }

    #[test]
    fn issuer_is_canonical() {
        assert_eq!(
            canonical_issuer("https://Auth.Example.com/").unwrap(),
            "https://auth.example.com"
        );
        assert_eq!(
            canonical_issuer("https://a.example/t1/").unwrap(),
            "https://a.example/t1"
        );
        assert!(canonical_issuer("https://a.example/?x=1").is_err());
        assert!(canonical_issuer("ftp://a.example").is_err());
    }

    #[test]
    fn errors_name_the_key() {
        let err = Config::from_env_map(&env(&[("LANYARD_ACCESS_TOKEN_TTL", "soon")])).unwrap_err();
        assert!(
            err.to_string().starts_with("LANYARD_ACCESS_TOKEN_TTL:"),
            "{err}"
        );
        let err = Config::from_env_map(&env(&[("LANYARD_CODE_TTL", "3600")])).unwrap_err();
        assert!(err.to_string().starts_with("LANYARD_CODE_TTL:"), "{err}");
    }

    #[test]
    fn port_sets_the_listener() {
        let c = Config::from_env_map(&env(&[("PORT", "8080")])).unwrap();
        assert_eq!(c.listen.port(), 8080);
    }

    #[test]
    fn the_production_store_takes_both_urls_and_hides_them() {
        let db = ("LANYARD_DATABASE_URL", "postgres://u:hunter2@db/lanyard");
        let redis = ("LANYARD_REDIS_URL", "redis://cache:6379/");
        let c = Config::from_env_map(&env(&[db, redis])).unwrap();
        let p = c.production.as_ref().expect("production store");
        assert_eq!(p.database_url.expose(), db.1);
        assert_eq!(p.redis_prefix, "lanyard:");
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the URL redacts itself"
        );
        for alone in [db, redis] {
            let err = Config::from_env_map(&env(&[alone]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("must be set with"), "{err}");
        }
        assert!(
            Config::from_env_map(&env(&[]))
                .unwrap()
                .production
                .is_none()
        );
    }

    #[test]
    fn resources_from_env() {
        let c = Config::from_env_map(&env(&[
            (
                "LANYARD_RESOURCES",
                "https://a.example/mcp, https://b.example/mcp",
            ),
            ("LANYARD_SCOPES", "tools"),
        ]))
        .unwrap();
        assert_eq!(c.resources.len(), 2);
        assert_eq!(c.resources[1].scopes[0].as_str(), "tools");
    }
}
