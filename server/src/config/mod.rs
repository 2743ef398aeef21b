//! One typed configuration, layered and checked once (style.md §9):
//! defaults -> `lanyard.toml` -> `.env` -> `LANYARD_*` environment variables.
//! [`settings`] reads the layers (every key is a field there); this module turns what was
//! read into the [`Config`] the server uses, checking what types alone cannot.
//!
//! Loading never reads the process environment itself: the caller passes a map, so tests
//! configure a server without `set_var`.

mod branding;
mod build;
mod mail;
mod settings;

pub use branding::{Branding, Logo};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

pub use self::mail::{MailConfig, SmtpSecurity, SmtpServer};
use self::settings::{Settings, read_toml};

use crate::http::client_addr::Cidr;
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
}

/// Whether accounts must have a second factor (`LANYARD_MFA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaMode {
    /// Each user chooses; a sign-in asks for a second factor when the account has one.
    Optional,
    /// Every account must enrol one, at its next sign-in if not before.
    Required,
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
    /// How long a document fetched when an authorization starts serves that
    /// authorization's later steps, whatever its headers (the pending request's lifetime).
    pub flow_secs: u64,
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
    /// Where `/metrics` (and, again, the health checks) are served: never the public port.
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Postgres and Redis: set together, they replace the embedded store and make every
    /// instance interchangeable behind a load balancer.
    pub production: Option<ProductionStores>,
    pub resources: Vec<ResourceConfig>,
    /// The admin API as a resource (`<issuer>/admin`): tokens for it come from the
    /// client-credentials grant alone, so it is never published or offered to users.
    pub admin_resource: ResourceConfig,
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
    pub connections: ConnectionLimits,
    /// Proxies whose `X-Forwarded-For` names the client (see `http::client_addr`).
    pub trusted_proxies: Vec<Cidr>,
    pub rate_limits: RateLimits,
    pub cimd: CimdConfig,
    /// How often a running server re-reads signing keys (rotation by the CLI).
    pub key_reload_secs: u64,
    /// Days after which a dynamically registered client with no live grant is removed
    /// (0: never).
    pub dcr_idle_days: u64,
    pub policies: PolicyConfig,
    /// The operator's name, logo and links on pages and mails.
    pub branding: Branding,
    pub mfa: MfaMode,
    /// The key that seals second-factor secrets at rest. On the embedded store it is
    /// made on first start (`encryption.key` in the data directory) when not set; the
    /// production store needs it set, the same on every instance, for second factors.
    pub encryption_key: Option<Secret<String>>,
    pub mail: MailConfig,
}

/// How long a client may take, so that slow or idle connections cannot pile up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From a connection's first byte, or a request's, to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may sit between requests.
    pub idle_timeout: Duration,
    /// After SIGTERM, how long the server keeps serving (answering `/readyz` with 503 and
    /// closing each connection after its response) before it stops accepting, so that a
    /// load balancer sees it leave before it does.
    pub drain_delay: Duration,
}

/// Requests per minute one client address may make to the endpoints anyone can call
/// without an account; 0 turns a limit off. Generous, because vendors (ChatGPT, Claude)
/// send many users' requests from a few egress addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `POST /oauth/register`.
    pub register: u32,
    /// `POST /register`.
    pub signup: u32,
    /// `POST /login`.
    pub login: u32,
    /// `GET /oauth/authorize`.
    pub authorize: u32,
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

/// ID tokens live an hour (they are read once, at sign-in).
pub const ID_TOKEN_TTL: i64 = 3_600;

impl Config {
    /// Reads `lanyard.toml` (or `LANYARD_CONFIG`) and `.env` from `dir`, then applies `env`.
    /// Returns the configuration and the warnings worth logging.
    pub fn load(
        dir: &Path,
        env: &HashMap<String, String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        let dotenv = dir.join(".env");
        if dotenv.is_file()
            && let Ok(iter) = dotenvy::from_path_iter(&dotenv)
        {
            vars.extend(iter.flatten());
        }
        vars.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let named = vars.get("LANYARD_CONFIG").map(PathBuf::from);
        let file_path = named.clone().unwrap_or_else(|| dir.join("lanyard.toml"));
        let file = if file_path.is_file() {
            Some(read_toml(&file_path)?)
        } else if named.is_some() {
            return Err(invalid(
                "LANYARD_CONFIG",
                format!("{} does not exist", file_path.display()),
            ));
        } else {
            None
        };
        let base = file_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.to_path_buf());
        let (settings, warnings) =
            Settings::read(file.map(|table| (file_path.as_path(), table)), &vars)?;
        Ok((Self::build(settings, &vars, &base)?, warnings))
    }

    /// Defaults plus `env` only: what tests use.
    pub fn from_env_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (settings, _) = Settings::read(None, env)?;
        Self::build(settings, env, Path::new("."))
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
    fn second_factor_settings_are_checked() {
        let c = Config::from_env_map(&env(&[])).unwrap();
        assert_eq!(
            (c.mfa, c.encryption_key.is_none()),
            (MfaMode::Optional, true)
        );
        let c = Config::from_env_map(&env(&[("LANYARD_MFA", "required")])).unwrap();
        assert_eq!(c.mfa, MfaMode::Required);
        let err = Config::from_env_map(&env(&[("LANYARD_MFA", "always")])).unwrap_err();
        assert!(err.to_string().starts_with("LANYARD_MFA:"), "{err}");
        let short = ("LANYARD_ENCRYPTION_KEY", "too short");
        let err = Config::from_env_map(&env(&[short])).unwrap_err();
        assert!(
            err.to_string().starts_with("LANYARD_ENCRYPTION_KEY:"),
            "{err}"
        );
        // Required on the shared stores needs the key every instance shares.
        let production = [
            ("LANYARD_DATABASE_URL", "postgres://db/lanyard"),
            ("LANYARD_REDIS_URL", "redis://cache/"),
            ("LANYARD_MFA", "required"),
        ];
        let err = Config::from_env_map(&env(&production)).unwrap_err();
        assert!(
            err.to_string().starts_with("LANYARD_ENCRYPTION_KEY:"),
            "{err}"
        );
        let mut with_key = production.to_vec();
        with_key.push((
            "LANYARD_ENCRYPTION_KEY",
            "k3y-of-at-least-thirty-two-characters!",
        ));
        let c = Config::from_env_map(&env(&with_key)).unwrap();
        assert!(
            !format!("{c:?}").contains("k3y-of"),
            "the key redacts itself"
        );
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

    #[test]
    fn layers_apply_in_order_and_unknown_keys_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("lanyard.toml"),
            "issuer = \"https://file.example\"\ncode_ttl = 30\nsession_ttl = 5\n\n\
             [[resources]]\nuri = \"https://api.example/mcp\"\nscopes = [\"tools\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "LANYARD_CODE_TTL=40\nLANYARD_SESSIN_TTL=1\n",
        )
        .unwrap();
        let (c, warnings) = Config::load(
            dir.path(),
            &env(&[
                ("LANYARD_CODE_TTL", "50"),
                ("LANYARD_CIMD", "no"),
                ("LANYARD_LOG", "debug"),
                ("LANYARD_DATA_DIR", ""),
            ]),
        )
        .unwrap();
        assert_eq!(c.issuer, "https://file.example");
        assert_eq!((c.code_ttl, c.session_ttl), (50, 5));
        assert_eq!(c.resources[0].scopes[0].as_str(), "tools");
        assert!(!c.cimd.enabled);
        assert_eq!(c.data_dir, PathBuf::from("./data"), "empty means unset");
        assert_eq!(warnings, ["unknown setting LANYARD_SESSIN_TTL ignored"]);
    }

    #[test]
    fn file_errors_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lanyard.toml");
        std::fs::write(&file, "access_token_ttl = \"long\"\n").unwrap();
        let err = Config::load(dir.path(), &env(&[])).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: access_token_ttl:", file.display())),
            "{err}"
        );
        std::fs::write(&file, "acess_token_ttl = 5\n").unwrap();
        let err = Config::load(dir.path(), &env(&[])).unwrap_err().to_string();
        assert!(err.contains("acess_token_ttl"), "{err}");
        let err = Config::from_env_map(&env(&[("LANYARD_SIGNING_ALG", "HS256")])).unwrap_err();
        assert!(err.to_string().starts_with("LANYARD_SIGNING_ALG:"), "{err}");
    }
}
