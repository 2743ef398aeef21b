//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
//! 2025-11-25 SEP-991): a `client_id` that is an https URL names a JSON document we fetch.
//!
//! Fetching a URL a stranger chose is an SSRF hazard, so: a short timeout, no redirects,
//! a size cap, no proxies, and a resolver that refuses special-use addresses (RFC 6890) and
//! hands the connector only the addresses it checked (no DNS rebinding between check and
//! connect). Good documents are cached as their headers allow; failures never are.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::Deserialize;
use url::{Host, Url};

use super::types::RedirectUri;
use crate::clock::UnixTime;
use crate::config::CimdConfig;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdError {
    #[error("client_id URL is not acceptable: {0}")]
    BadUrl(&'static str),
    #[error("client metadata document could not be fetched: {0}")]
    Fetch(String),
    #[error("client metadata document is invalid: {0}")]
    Invalid(String),
}

/// A fetched, validated document.
#[derive(Debug, Clone)]
pub struct CimdClient {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<String>,
    pub scope: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// The host of the client_id URL: what the consent page shows (MCP: MUST display).
    pub host: String,
    /// How it authenticates at the token endpoint.
    pub auth: CimdAuth,
}

/// How a metadata-document client authenticates. Such a client holds no shared secret, so
/// it is public or proves itself with signed assertions (RFC 7523, `private_key_jwt`).
#[derive(Debug, Clone, PartialEq)]
pub enum CimdAuth {
    None,
    PrivateKeyJwt {
        keys: KeySource,
        /// The document also lists `none` (ChatGPT's lists both and uses what the server
        /// offers first): a request without an assertion is then served as a public one.
        also_none: bool,
    },
}

/// Where a client's public keys are.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    Inline(Arc<JwkSet>),
    Url(Url),
}

#[derive(Debug, Deserialize)]
struct Document {
    client_id: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    scope: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    token_endpoint_auth_method: Option<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    jwks_uri: Option<String>,
    /// Read only from a client that signs: a public client's odd key set is none of our
    /// business.
    jwks: Option<serde_json::Value>,
    client_secret: Option<serde_json::Value>,
    client_secret_expires_at: Option<serde_json::Value>,
}

/// What was fetched, kept as long as its response allowed.
struct Fresh<K, V> {
    entries: Mutex<HashMap<K, (Arc<V>, UnixTime)>>,
}

impl<K: std::hash::Hash + Eq, V> Fresh<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get<Q>(&self, key: &Q, now: UnixTime) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `ttl` seconds (not at all for 0); past `MAX_CACHED` entries, the
    /// stale ones are swept first.
    fn keep(&self, key: K, value: Arc<V>, ttl: i64, now: UnixTime) {
        if ttl <= 0 {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED {
                entries.retain(|_, (_, until)| *until > now);
            }
            entries.insert(key, (value, now + ttl));
        }
    }
}

/// Fetches and caches documents, and the key sets they point to.
pub struct CimdResolver {
    http: reqwest::Client,
    config: CimdConfig,
    documents: Fresh<String, CimdClient>,
    keys: Fresh<Url, JwkSet>,
}

/// A key set may be larger than a document (several RSA keys during a rotation).
const MAX_JWKS_BYTES: usize = 32 * 1024;

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CimdResolver").finish_non_exhaustive()
    }
}

/// Default freshness when a document sends no caching headers.
const DEFAULT_TTL: i64 = 300;
const MAX_CACHED: usize = 10_000;

impl CimdResolver {
    pub fn new(config: CimdConfig) -> Result<Self, CimdError> {
        let resolver = Arc::new(GuardedResolver {
            allow_loopback: config.allow_loopback,
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .no_proxy()
            .dns_resolver(resolver)
            .user_agent(concat!("lanyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CimdError::Fetch(e.to_string()))?;
        Ok(Self {
            http,
            config,
            documents: Fresh::new(),
            keys: Fresh::new(),
        })
    }

    /// A client's public keys: inline, or fetched from its `jwks_uri` (with the document's
    /// guards, and cached as the response allows).
    pub async fn keys(&self, source: &KeySource, now: UnixTime) -> Result<Arc<JwkSet>, CimdError> {
        let url = match source {
            KeySource::Inline(keys) => return Ok(keys.clone()),
            KeySource::Url(url) => url,
        };
        if let Some(keys) = self.keys.get(url, now) {
            return Ok(keys);
        }
        let (body, ttl) = self.get(url.clone(), MAX_JWKS_BYTES).await?;
        let keys: JwkSet = serde_json::from_slice(&body)
            .map_err(|_| CimdError::Invalid("jwks_uri does not hold a JWK set".into()))?;
        let keys = Arc::new(keys);
        self.keys.keep(url.clone(), keys.clone(), ttl, now);
        Ok(keys)
    }

    /// Whether `client_id` has the shape of a metadata document URL at all.
    pub fn is_candidate(&self, client_id: &str) -> bool {
        self.config.enabled
            && (client_id.starts_with("https://")
                || (self.config.allow_loopback && client_id.starts_with("http://")))
    }

    pub async fn resolve(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Arc<CimdClient>, CimdError> {
        if let Some(client) = self.documents.get(client_id, now) {
            return Ok(client);
        }
        let url = self.check_url(client_id)?;
        let (client, ttl) = self.fetch(client_id, url).await?;
        let client = Arc::new(client);
        self.documents
            .keep(client_id.to_string(), client.clone(), ttl, now);
        Ok(client)
    }

    /// The URL rules of the draft's §3: https, a path, no fragment, no credentials, no dot
    /// segments; and a host that is not a blocked address literal.
    pub fn check_url(&self, client_id: &str) -> Result<Url, CimdError> {
        let url = Url::parse(client_id).map_err(|_| CimdError::BadUrl("not a URL"))?;
        let loopback_ok =
            self.config.allow_loopback && url.scheme() == "http" && is_loopback_host(&url);
        if url.scheme() != "https" && !loopback_ok {
            return Err(CimdError::BadUrl("must use https"));
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(CimdError::BadUrl(
                "must not contain a fragment or credentials",
            ));
        }
        if url.path() == "/" || url.path().is_empty() {
            return Err(CimdError::BadUrl("must contain a path"));
        }
        let raw_path = client_id.splitn(4, '/').nth(3).unwrap_or_default();
        if raw_path
            .split(['/', '?'])
            .any(|seg| seg == "." || seg == "..")
        {
            return Err(CimdError::BadUrl("must not contain dot segments"));
        }
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(Host::Domain(_)) => None,
            None => return Err(CimdError::BadUrl("must have a host")),
        };
        if literal.is_some_and(|ip| blocked(ip, self.config.allow_loopback)) {
            return Err(CimdError::BadUrl("host is a special-use address"));
        }
        Ok(url)
    }

    async fn fetch(&self, client_id: &str, url: Url) -> Result<(CimdClient, i64), CimdError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let (body, ttl) = self.get(url, self.config.max_bytes).await?;
        let doc: Document = serde_json::from_slice(&body)
            .map_err(|_| CimdError::Invalid("not a JSON object".into()))?;
        // A key set is fetched under the same rules as the document.
        let check = |u: &str| self.check_url(u);
        Ok((validate(client_id, host, doc, check)?, ttl))
    }

    /// One guarded GET: 200 only, at most `max_bytes`; the body and how long it may be
    /// reused.
    async fn get(&self, url: Url, max_bytes: usize) -> Result<(Vec<u8>, i64), CimdError> {
        let mut resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| CimdError::Fetch(describe(&e)))?;
        // Only 200 is success; a redirect is not followed (draft §4).
        if resp.status() != reqwest::StatusCode::OK {
            return Err(CimdError::Fetch(format!(
                "status {}",
                resp.status().as_u16()
            )));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(CimdError::Fetch("document too large".into()));
        }
        let ttl = cache_ttl(resp.headers(), self.config.max_cache_secs as i64);
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| CimdError::Fetch(describe(&e)))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(CimdError::Fetch("document too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, ttl))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect (or the address is not allowed)".into()
    } else {
        "request failed".into()
    }
}

fn validate(
    client_id: &str,
    host: String,
    doc: Document,
    check_url: impl Fn(&str) -> Result<Url, CimdError>,
) -> Result<CimdClient, CimdError> {
    let invalid = |m: &str| CimdError::Invalid(m.to_string());
    // A simple string comparison, as the draft requires: no normalisation.
    if doc.client_id.as_deref() != Some(client_id) {
        return Err(invalid("client_id does not equal the document URL"));
    }
    if doc.client_secret.is_some() || doc.client_secret_expires_at.is_some() {
        return Err(invalid(
            "a metadata document must not carry a client secret",
        ));
    }
    if doc
        .token_endpoint_auth_method
        .as_deref()
        .is_some_and(|m| m.starts_with("client_secret"))
    {
        return Err(invalid(
            "shared-secret authentication is not allowed for metadata documents",
        ));
    }
    let client_name = doc
        .client_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| invalid("client_name is required"))?;
    let uris = doc
        .redirect_uris
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid("redirect_uris is required"))?;
    let redirect_uris = uris
        .iter()
        .map(|u| {
            let r = RedirectUri::parse(u)
                .map_err(|e| CimdError::Invalid(format!("redirect_uri {u:?}: {e}")))?;
            r.kind()
                .map_err(|e| CimdError::Invalid(format!("redirect_uri {u:?}: {e}")))?;
            Ok(r)
        })
        .collect::<Result<Vec<_>, CimdError>>()?;
    let listed = |m: &str| {
        doc.token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|l| l.iter().any(|x| x == m))
    };
    let signs = match doc.token_endpoint_auth_method.as_deref() {
        Some(m) => m == "private_key_jwt",
        None => listed("private_key_jwt"),
    };
    let auth = if signs {
        let keys = match (doc.jwks_uri, doc.jwks) {
            (Some(url), None) => KeySource::Url(
                check_url(&url).map_err(|e| CimdError::Invalid(format!("jwks_uri: {e}")))?,
            ),
            (None, Some(keys)) => KeySource::Inline(Arc::new(
                serde_json::from_value(keys).map_err(|_| invalid("jwks is not a JWK set"))?,
            )),
            (None, None) => return Err(invalid("private_key_jwt needs jwks_uri or jwks")),
            (Some(_), Some(_)) => return Err(invalid("jwks_uri and jwks are exclusive")),
        };
        CimdAuth::PrivateKeyJwt {
            keys,
            also_none: listed("none"),
        }
    } else {
        CimdAuth::None
    };
    Ok(CimdClient {
        client_id: client_id.to_string(),
        client_name: client_name.chars().take(200).collect(),
        redirect_uris,
        grant_types: doc
            .grant_types
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]),
        scope: doc.scope,
        client_uri: doc.client_uri,
        logo_uri: doc.logo_uri,
        host,
        auth,
    })
}

/// Seconds a response may be reused: `max-age` (capped), none for `no-store`/`no-cache`.
fn cache_ttl(headers: &reqwest::header::HeaderMap, cap: i64) -> i64 {
    let Some(cc) = headers.get("cache-control").and_then(|v| v.to_str().ok()) else {
        return DEFAULT_TTL.min(cap);
    };
    let mut ttl = DEFAULT_TTL;
    for d in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if d == "no-store" || d == "no-cache" || d == "private" {
            return 0;
        }
        if let Some(v) = d
            .strip_prefix("max-age=")
            .or_else(|| d.strip_prefix("s-maxage="))
        {
            ttl = v.trim_matches('"').parse().unwrap_or(0);
        }
    }
    ttl.clamp(0, cap)
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// RFC 6890 special-use space, plus the cloud metadata ranges that sit inside it.
pub fn blocked(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_v4(v4, allow_loopback);
            }
            if v6.is_loopback() {
                return !allow_loopback;
            }
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
                || s[0] == 0x2002 // 6to4
                || v6 == Ipv6Addr::UNSPECIFIED
        }
    }
}

fn blocked_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return !allow_loopback;
    }
    let o = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240 // reserved
}

/// Resolves with the system resolver, then drops every special-use address, so the
/// connector can only reach addresses that passed the check.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !blocked(a.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err("no permitted address for host".into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(allow_loopback: bool) -> CimdResolver {
        CimdResolver::new(CimdConfig {
            enabled: true,
            timeout_ms: 500,
            max_bytes: 5120,
            max_cache_secs: 3600,
            allow_loopback,
        })
        .unwrap()
    }

    #[test]
    fn special_use_addresses_are_blocked() {
        for ip in [
            "10.0.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(blocked(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!blocked(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(!blocked("127.0.0.1".parse().unwrap(), true));
        assert!(blocked("10.0.0.1".parse().unwrap(), true));
    }

    #[test]
    fn url_rules() {
        let r = resolver(false);
        assert!(r.check_url("https://app.example/client.json").is_ok());
        assert_eq!(
            r.check_url("https://app.example/").unwrap_err(),
            CimdError::BadUrl("must contain a path")
        );
        assert_eq!(
            r.check_url("http://app.example/c.json").unwrap_err(),
            CimdError::BadUrl("must use https")
        );
        assert!(r.check_url("https://app.example/a/../c.json").is_err());
        assert!(r.check_url("https://u:p@app.example/c.json").is_err());
        assert!(r.check_url("https://10.0.0.1/c.json").is_err());
        assert!(r.check_url("http://127.0.0.1:9/c.json").is_err());
        assert!(
            resolver(true)
                .check_url("http://127.0.0.1:9/c.json")
                .is_ok()
        );
    }

    fn any_url(u: &str) -> Result<Url, CimdError> {
        Url::parse(u).map_err(|_| CimdError::BadUrl("not a URL"))
    }

    #[test]
    fn documents_are_validated() {
        let doc = |v: serde_json::Value| serde_json::from_value::<Document>(v).unwrap();
        let id = "https://app.example/c.json";
        let ok = validate(
            id,
            "app.example".into(),
            doc(serde_json::json!({
                "client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"]
            })),
            any_url,
        );
        let ok = ok.unwrap();
        assert_eq!(
            (ok.client_name.as_str(), &ok.auth),
            ("App", &CimdAuth::None)
        );
        // A signing client must say where its keys are; ChatGPT's lists `none` too.
        let signing = |extra: serde_json::Value| {
            let mut d = serde_json::json!({
                "client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"],
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"]
            });
            d.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            validate(id, "app.example".into(), doc(d), any_url)
        };
        let keys = "https://app.example/jwks.json";
        assert_eq!(
            signing(serde_json::json!({"jwks_uri": keys})).unwrap().auth,
            CimdAuth::PrivateKeyJwt {
                keys: KeySource::Url(Url::parse(keys).unwrap()),
                also_none: true
            }
        );
        assert!(matches!(
            signing(serde_json::json!({})),
            Err(CimdError::Invalid(_))
        ));
        assert!(matches!(
            signing(serde_json::json!({"jwks": {"keys": "no"}})),
            Err(CimdError::Invalid(_))
        ));
        // A public client's key set is not read at all.
        let public = validate(
            id,
            "app.example".into(),
            doc(serde_json::json!({
                "client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"],
                "jwks": {"keys": "no"}, "jwks_uri": "ftp://odd"
            })),
            any_url,
        );
        assert_eq!(public.unwrap().auth, CimdAuth::None);
        let wrong_id = validate(
            id,
            "h".into(),
            doc(serde_json::json!({
                "client_id": "https://evil.example/c.json", "client_name": "App", "redirect_uris": ["https://app.example/cb"]
            })),
            any_url,
        );
        assert!(matches!(wrong_id, Err(CimdError::Invalid(_))));
        let secret = validate(
            id,
            "h".into(),
            doc(serde_json::json!({
                "client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"], "client_secret": "s"
            })),
            any_url,
        );
        assert!(secret.is_err());
        let bad_redirect = validate(
            id,
            "h".into(),
            doc(serde_json::json!({
                "client_id": id, "client_name": "App", "redirect_uris": ["http://evil.example/cb"]
            })),
            any_url,
        );
        assert!(bad_redirect.is_err());
    }

    #[test]
    fn cache_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(cache_ttl(&h, 3600), DEFAULT_TTL);
        h.insert("cache-control", "public, max-age=120".parse().unwrap());
        assert_eq!(cache_ttl(&h, 3600), 120);
        h.insert("cache-control", "max-age=999999".parse().unwrap());
        assert_eq!(cache_ttl(&h, 3600), 3600);
        h.insert("cache-control", "no-store".parse().unwrap());
        assert_eq!(cache_ttl(&h, 3600), 0);
    }
}
