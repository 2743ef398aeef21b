//! The settings as read: one struct whose fields are every key, with its default beside
//! it. `lanyard.toml` spells a key as the field's name; the environment as `LANYARD_` and
//! the name in capitals. `figment` layers the sources (defaults -> file -> `.env` ->
//! environment) and names the key and its source in every error.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::branding::BrandingSettings;
use super::{ConfigError, MfaMode, SigningAlg, invalid};

/// Every setting. Durations are seconds unless the name says otherwise.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Settings {
    pub issuer: String,
    pub listen: String,
    pub admin_listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub store_ca: Option<PathBuf>,
    pub resources: Resources,
    pub scopes: String,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    pub refresh_grace: u64,
    pub code_ttl: u64,
    pub session_ttl: u64,
    pub request_ttl: u64,
    pub signing_alg: SigningAlg,
    pub max_body_bytes: u64,
    pub header_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub drain_delay_secs: u64,
    pub trusted_proxies: String,
    pub rate_register_per_min: u32,
    pub rate_signup_per_min: u32,
    pub rate_login_per_min: u32,
    pub rate_authorize_per_min: u32,
    pub cimd: bool,
    pub cimd_timeout_ms: u64,
    pub cimd_max_bytes: u64,
    pub cimd_allow_loopback: bool,
    pub key_reload_secs: u64,
    pub dcr_idle_days: u64,
    pub policy_timeout_ms: u64,
    pub policy_memory_mb: u64,
    pub policy_output_bytes: u64,
    pub policy_poll_ms: u64,
    pub policy_log_days: u64,
    pub mfa: MfaMode,
    pub encryption_key: Option<String>,
    pub policies: Vec<FilePolicy>,
    pub branding: BrandingSettings,
    pub smtp_url: Option<String>,
    pub smtp_ca: Option<PathBuf>,
    pub mail_from: Option<String>,
    pub require_verified_email: bool,
    pub verify_link_ttl: u64,
    pub reset_link_ttl: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:4000".into(),
            listen: "0.0.0.0:4000".into(),
            admin_listen: "127.0.0.1:4001".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_prefix: "lanyard:".into(),
            store_ca: None,
            resources: Resources::Listed(Vec::new()),
            scopes: "read write".into(),
            access_token_ttl: 900,
            refresh_token_ttl: 30 * 86_400,
            refresh_grace: 10,
            code_ttl: 60,
            session_ttl: 7 * 86_400,
            request_ttl: 600,
            signing_alg: SigningAlg::RS256,
            max_body_bytes: 64 * 1024,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            idle_timeout_secs: 60,
            drain_delay_secs: 5,
            trusted_proxies: String::new(),
            rate_register_per_min: 600,
            rate_signup_per_min: 60,
            rate_login_per_min: 300,
            rate_authorize_per_min: 1_200,
            cimd: true,
            cimd_timeout_ms: 3_000,
            cimd_max_bytes: 5 * 1024,
            cimd_allow_loopback: false,
            key_reload_secs: 10,
            dcr_idle_days: 30,
            policy_timeout_ms: 50,
            policy_memory_mb: 16,
            policy_output_bytes: 64 * 1024,
            policy_poll_ms: 500,
            policy_log_days: 30,
            mfa: MfaMode::Optional,
            encryption_key: None,
            policies: Vec::new(),
            branding: BrandingSettings::default(),
            smtp_url: None,
            smtp_ca: None,
            mail_from: None,
            require_verified_email: false,
            verify_link_ttl: 86_400,
            reset_link_ttl: 30 * 60,
        }
    }
}

/// The resources: a list of tables in the file, or URIs separated by commas or spaces in
/// `LANYARD_RESOURCES` (each with the default scopes).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Resources {
    Uris(String),
    Listed(Vec<FileResource>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileResource {
    pub uri: String,
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
}

/// One `[[policies]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePolicy {
    pub name: String,
    pub module: PathBuf,
    #[serde(default = "any_resource")]
    pub resource: String,
    pub config: Option<serde_json::Value>,
    #[serde(default)]
    pub fail_open: bool,
}

fn any_resource() -> String {
    "*".to_string()
}

/// Keys read outside [`Settings`]: where the file is, and how logging starts (before any
/// configuration is read).
const READ_ELSEWHERE: [&str; 3] = ["LANYARD_CONFIG", "LANYARD_LOG", "LANYARD_LOG_FORMAT"];

const PREFIX: &str = "LANYARD_";

impl Settings {
    /// Layers `file` (if any) and the `LANYARD_*` entries of `vars` over the defaults.
    /// Returns the settings and a warning for each `LANYARD_*` key nobody reads.
    pub fn read(
        file: Option<(&Path, toml::Table)>,
        vars: &HashMap<String, String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let known = setting_names();
        let mut env = Dict::new();
        let mut warnings = Vec::new();
        for (key, value) in vars {
            let Some(name) = key.strip_prefix(PREFIX) else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            let value = value.trim();
            if known.contains(&name.as_str()) {
                // An empty value means "not set", as shells and .env files write it.
                if !value.is_empty() {
                    env.insert(name, Value::from(value.to_string()));
                }
            } else if !READ_ELSEWHERE.contains(&key.as_str()) {
                warnings.push(format!("unknown setting {key} ignored"));
            }
        }
        warnings.sort();
        let mut figment = Figment::new();
        if let Some((path, table)) = file {
            figment = figment.merge(Layer::file(path, table)?);
        }
        // Environment values are text; `extract_lossy` reads "900" as a number and
        // "yes"/"on"/"1" as true where the setting wants one.
        let settings = figment
            .merge(Layer::environment(env))
            .extract_lossy()
            .map_err(describe)?;
        Ok((settings, warnings))
    }
}

/// The file's table, or why it could not be read.
pub(super) fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Toml {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// One source of settings, with the way its errors name a key.
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Layer {
    fn file(path: &Path, table: toml::Table) -> Result<Self, ConfigError> {
        let value = Value::serialize(table).map_err(describe)?;
        let shown = path.display().to_string();
        Ok(Self {
            metadata: Metadata::named(shown.clone())
                .interpolater(move |_, keys| format!("{shown}: {}", keys.join("."))),
            dict: value.into_dict().unwrap_or_default(),
        })
    }

    fn environment(dict: Dict) -> Self {
        Self {
            metadata: Metadata::named("environment")
                .interpolater(|_, keys| format!("{PREFIX}{}", keys.join("_").to_ascii_uppercase())),
            dict,
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// A figment error as `key: reason`, the key spelled as its source spells it.
fn describe(e: figment::Error) -> ConfigError {
    let profile = e.profile.clone().unwrap_or(Profile::Default);
    let key = match &e.metadata {
        Some(m) if !e.path.is_empty() => m.interpolate(&profile, &e.path),
        Some(m) => m.name.to_string(),
        None => e.path.join("."),
    };
    invalid(&key, e.kind.to_string())
}

/// The names of [`Settings`]' fields, as serde sees them: the one list of keys.
fn setting_names() -> &'static [&'static str] {
    match Settings::deserialize(FieldNames) {
        Err(Fields(names)) => names,
        Ok(_) => &[],
    }
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames;

#[derive(Debug)]
struct Fields(&'static [&'static str]);

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} fields", self.0.len())
    }
}

impl std::error::Error for Fields {}

impl de::Error for Fields {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Fields(&[])
    }
}

impl<'de> Deserializer<'de> for FieldNames {
    type Error = Fields;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
        Err(Fields(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Fields> {
        Err(Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_key() {
        let names = setting_names();
        assert_eq!(names.first(), Some(&"issuer"));
        assert!(names.contains(&"policy_log_days") && names.contains(&"cimd_allow_loopback"));
        assert!(names.contains(&"smtp_url") && names.contains(&"require_verified_email"));
        assert_eq!(names.len(), 48);
    }
}
