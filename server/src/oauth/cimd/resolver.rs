//! Fetching documents and the key sets they point to: a short timeout, no redirects, a
//! size cap, no proxies, and only addresses the guard allows. A host that could not be
//! reached is not tried again for a minute, so client ids cannot make Lanyard probe hosts.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use url::Url;

use super::cache::Fresh;
use super::document::{self, CimdClient, KeySource};
use super::{AddressGuard, CimdError};
use crate::clock::UnixTime;
use crate::config::CimdConfig;

/// Which step of an authorization asks for a client's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An authorization starts: the document as its caching headers allow.
    Start,
    /// A later step (sign-in, consent, the token request): the document fetched when an
    /// authorization started is reused for the pending request's lifetime, even when it
    /// said `no-store`, so one authorization fetches it once.
    Later,
}

/// Fetches and caches documents, and the key sets they point to.
pub struct CimdResolver {
    http: reqwest::Client,
    config: CimdConfig,
    guard: AddressGuard,
    documents: Fresh<String, CimdClient>,
    keys: Fresh<Url, JwkSet>,
    /// `host:port` that did not answer lately, and until when it is not tried again.
    unreachable: quick_cache::sync::Cache<String, UnixTime>,
    /// Documents fetched as authorizations started, and until when they serve later steps.
    flows: quick_cache::sync::Cache<String, (Arc<CimdClient>, UnixTime)>,
}

/// Authorizations in progress whose documents are kept for their later steps.
const FLOWS: usize = 4096;

/// How long a host that did not answer is left alone, and how many such hosts are kept.
const UNREACHABLE_FOR: i64 = 60;
const UNREACHABLE_HOSTS: usize = 4096;

/// A key set may be larger than a document (several RSA keys during a rotation).
const MAX_JWKS_BYTES: usize = 32 * 1024;
/// Default freshness when a response sends no caching headers.
const DEFAULT_TTL: i64 = 300;
/// Bytes of fetched bodies each cache holds: thousands of documents, hundreds of key sets.
const CACHE_BYTES: u64 = 8 * 1024 * 1024;

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CimdResolver").finish_non_exhaustive()
    }
}

impl CimdResolver {
    pub fn new(config: CimdConfig) -> Result<Self, CimdError> {
        let guard = AddressGuard::new(config.allow_loopback);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .no_proxy()
            .dns_resolver(Arc::new(guard))
            .user_agent(concat!("lanyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CimdError::Fetch(e.to_string()))?;
        Ok(Self {
            http,
            config,
            guard,
            documents: Fresh::new(CACHE_BYTES),
            keys: Fresh::new(CACHE_BYTES),
            unreachable: quick_cache::sync::Cache::new(UNREACHABLE_HOSTS),
            flows: quick_cache::sync::Cache::new(FLOWS),
        })
    }

    /// The rules every URL Lanyard fetches for a client must pass.
    pub fn guard(&self) -> &AddressGuard {
        &self.guard
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
        let (body, ttl) = self.get(url.clone(), MAX_JWKS_BYTES, now).await?;
        let keys: JwkSet = serde_json::from_slice(&body)
            .map_err(|_| CimdError::Invalid("jwks_uri does not hold a JWK set".into()))?;
        let keys = Arc::new(keys);
        self.keys
            .keep(url.clone(), keys.clone(), body.len(), ttl, now);
        Ok(keys)
    }

    /// Whether `client_id` has the shape of a metadata document URL at all.
    pub fn is_candidate(&self, client_id: &str) -> bool {
        self.config.enabled && self.guard.is_candidate(client_id)
    }

    pub async fn resolve(
        &self,
        client_id: &str,
        now: UnixTime,
        step: Step,
    ) -> Result<Arc<CimdClient>, CimdError> {
        if let Some(client) = self.documents.get(client_id, now) {
            return Ok(client);
        }
        if step == Step::Later
            && let Some((client, until)) = self.flows.get(client_id)
            && until > now
        {
            return Ok(client);
        }
        let url = self.guard.check_url(client_id)?;
        let host = url.host_str().unwrap_or_default().to_string();
        let (body, ttl) = self.get(url, self.config.max_bytes, now).await?;
        let client = Arc::new(document::parse(client_id, host, &body, &self.guard)?);
        self.documents
            .keep(client_id.to_string(), client.clone(), body.len(), ttl, now);
        let flow = now + self.config.flow_secs as i64;
        self.flows
            .insert(client_id.to_string(), (client.clone(), flow));
        Ok(client)
    }

    /// One guarded GET: 200 only, at most `max_bytes`; the body and how long it may be
    /// reused.
    async fn get(
        &self,
        url: Url,
        max_bytes: usize,
        now: UnixTime,
    ) -> Result<(Vec<u8>, i64), CimdError> {
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        if self.unreachable.get(&host).is_some_and(|until| until > now) {
            return Err(CimdError::Fetch(
                "the host did not answer a moment ago".into(),
            ));
        }
        let sent = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await;
        let mut resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                if e.is_connect() || e.is_timeout() {
                    self.unreachable.insert(host, now + UNREACHABLE_FOR);
                }
                return Err(CimdError::Fetch(describe(&e)));
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;

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
