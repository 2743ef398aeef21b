//! Every Prometheus metric the server exports, in one place: counters and histograms kept
//! as atomics (no registry crate for a few dozen series). Label values come from fixed
//! sets (endpoints, grant types, the configured resources) or from the policies the
//! operator deployed, so no request can add a series.

mod endpoint;
mod histogram;

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use endpoint::Endpoint;
pub use histogram::Histogram;

use crate::domain::{GrantType, ResourceUri};
use crate::policy::{PolicyRun, RunOutcome};
use crate::store::health::Probe;

/// From well inside the per-call target (50 µs at p99) to the default deadline (50 ms) and
/// past it.
static POLICY_CALL_BOUNDS: [Duration; 9] = [
    Duration::from_micros(10),
    Duration::from_micros(25),
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(25),
    Duration::from_millis(100),
];

/// From a cached discovery document to a sign-in's argon2 run and a slow store.
static REQUEST_BOUNDS: [Duration; 9] = [
    Duration::from_micros(250),
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(25),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
    Duration::from_secs(10),
];

#[derive(Debug)]
pub struct Metrics {
    http: Vec<EndpointSeries>,
    /// Per configured resource, then one for any other; each per grant type.
    mints: Vec<(String, Vec<AtomicU64>)>,
    pub refresh_reuse_detected: AtomicU64,
    pub code_reuse_detected: AtomicU64,
    /// Per (policy, version digest).
    policies: RwLock<HashMap<PolicyVersion, Arc<PolicySeries>>>,
    /// Wrong passwords (or codes) at sign-in and wherever a password is confirmed.
    pub sign_in_failures: AtomicU64,
    /// Attempts refused because their (account, address) pair is locked out.
    pub sign_in_throttled: AtomicU64,
    /// Messages handed to the mail server (or the outbox), attempts that failed and will
    /// be tried again, and messages given up on.
    pub mail_delivered: AtomicU64,
    pub mail_retried: AtomicU64,
    pub mail_given_up: AtomicU64,
}

#[derive(Debug)]
struct EndpointSeries {
    /// 2xx, 3xx, 4xx, 5xx.
    classes: [AtomicU64; 4],
    /// 429: a rate limit or a sign-in lockout.
    throttled: AtomicU64,
    /// 503: a backend did not answer, or the sign-in queue is full.
    unavailable: AtomicU64,
    seconds: Histogram,
}

/// A policy's name and its version's digest.
type PolicyVersion = (Arc<str>, Arc<str>);

#[derive(Debug)]
struct PolicySeries {
    calls: AtomicU64,
    denials: AtomicU64,
    failed_closed: AtomicU64,
    failed_open: AtomicU64,
    seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Metrics {
    /// Mints are counted per resource in `resources` (and "other" for the rest).
    pub fn new(resources: &[ResourceUri]) -> Self {
        let per_grant = || GrantType::ALL.iter().map(|_| AtomicU64::new(0)).collect();
        let mut mints: Vec<(String, Vec<AtomicU64>)> = resources
            .iter()
            .map(|r| (r.as_str().to_string(), per_grant()))
            .collect();
        mints.push(("other".to_string(), per_grant()));
        Self {
            http: Endpoint::ALL
                .iter()
                .map(|_| EndpointSeries {
                    classes: [const { AtomicU64::new(0) }; 4],
                    throttled: AtomicU64::new(0),
                    unavailable: AtomicU64::new(0),
                    seconds: Histogram::new(&REQUEST_BOUNDS),
                })
                .collect(),
            mints,
            refresh_reuse_detected: AtomicU64::new(0),
            code_reuse_detected: AtomicU64::new(0),
            policies: RwLock::new(HashMap::new()),
            sign_in_failures: AtomicU64::new(0),
            sign_in_throttled: AtomicU64::new(0),
            mail_delivered: AtomicU64::new(0),
            mail_retried: AtomicU64::new(0),
            mail_given_up: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, endpoint: Endpoint, status: u16, took: Duration) {
        let series = &self.http[endpoint.index()];
        let class = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        series.classes[class].fetch_add(1, Ordering::Relaxed);
        match status {
            429 => series.throttled.fetch_add(1, Ordering::Relaxed),
            503 => series.unavailable.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        series.seconds.observe(took);
    }

    pub fn minted(&self, resource: &ResourceUri, grant: GrantType) {
        let row = self
            .mints
            .iter()
            .find(|(uri, _)| uri == resource.as_str())
            .or(self.mints.last());
        let column = GrantType::ALL.iter().position(|g| *g == grant);
        if let (Some((_, counts)), Some(column)) = (row, column) {
            counts[column].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a chain's calls per policy version: how long each took and how it ended.
    pub fn observe_policy_runs(&self, runs: &[PolicyRun]) {
        for run in runs {
            let series = self.policy_series(&run.policy, &run.digest);
            series.calls.fetch_add(1, Ordering::Relaxed);
            series.seconds.observe(run.took());
            let counter = match run.outcome {
                RunOutcome::Allow => continue,
                RunOutcome::Deny => &series.denials,
                RunOutcome::Failed => &series.failed_closed,
                RunOutcome::FailedOpen => &series.failed_open,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn policy_series(&self, policy: &Arc<str>, digest: &Arc<str>) -> Arc<PolicySeries> {
        let key = (policy.clone(), digest.clone());
        if let Some(series) = self.policies.read().ok().and_then(|m| m.get(&key).cloned()) {
            return series;
        }
        // A poisoned lock only means another thread panicked mid-insert; the map is whole.
        let mut map = self.policies.write().unwrap_or_else(|p| p.into_inner());
        map.entry(key)
            .or_insert_with(|| {
                Arc::new(PolicySeries {
                    calls: AtomicU64::new(0),
                    denials: AtomicU64::new(0),
                    failed_closed: AtomicU64::new(0),
                    failed_open: AtomicU64::new(0),
                    seconds: Histogram::new(&POLICY_CALL_BOUNDS),
                })
            })
            .clone()
    }

    /// The exposition text; `probes` are the backends' answers, pinged for this scrape.
    pub fn render(&self, probes: &[Probe]) -> String {
        let mut out = String::new();
        self.render_http(&mut out);
        self.render_mints(&mut out);
        self.render_policies(&mut out);
        for (name, c) in [
            (
                "lanyard_refresh_reuse_detected_total",
                &self.refresh_reuse_detected,
            ),
            (
                "lanyard_code_reuse_detected_total",
                &self.code_reuse_detected,
            ),
            ("lanyard_sign_in_failures_total", &self.sign_in_failures),
            ("lanyard_sign_in_throttled_total", &self.sign_in_throttled),
            ("lanyard_mail_delivered_total", &self.mail_delivered),
            ("lanyard_mail_retried_total", &self.mail_retried),
            ("lanyard_mail_given_up_total", &self.mail_given_up),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {}", get(c));
        }
        let _ = writeln!(out, "# TYPE lanyard_store_up gauge");
        for p in probes {
            let _ = writeln!(
                out,
                "lanyard_store_up{{backend=\"{}\"}} {}",
                p.backend,
                u8::from(p.up)
            );
        }
        let _ = writeln!(out, "# TYPE lanyard_store_ping_seconds gauge");
        for p in probes {
            let _ = writeln!(
                out,
                "lanyard_store_ping_seconds{{backend=\"{}\"}} {}",
                p.backend,
                p.took.as_secs_f64()
            );
        }
        out
    }

    fn render_http(&self, out: &mut String) {
        let endpoints = || Endpoint::ALL.iter().zip(&self.http);
        let _ = writeln!(out, "# TYPE lanyard_http_responses_total counter");
        for (endpoint, series) in endpoints() {
            for (class, c) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(&series.classes) {
                let _ = writeln!(
                    out,
                    "lanyard_http_responses_total{{endpoint=\"{}\",class=\"{class}\"}} {}",
                    endpoint.label(),
                    get(c)
                );
            }
        }
        for (name, pick) in [
            (
                "lanyard_http_throttled_total",
                (|s| &s.throttled) as fn(&EndpointSeries) -> &AtomicU64,
            ),
            ("lanyard_http_unavailable_total", |s| &s.unavailable),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            for (endpoint, series) in endpoints() {
                let _ = writeln!(
                    out,
                    "{name}{{endpoint=\"{}\"}} {}",
                    endpoint.label(),
                    get(pick(series))
                );
            }
        }
        let _ = writeln!(out, "# TYPE lanyard_http_request_seconds histogram");
        for (endpoint, series) in endpoints() {
            let labels = format!("endpoint=\"{}\"", endpoint.label());
            series
                .seconds
                .render("lanyard_http_request_seconds", &labels, out);
        }
    }

    fn render_mints(&self, out: &mut String) {
        let _ = writeln!(out, "# TYPE lanyard_tokens_minted_total counter");
        for (resource, counts) in &self.mints {
            for (grant, c) in GrantType::ALL.iter().zip(counts) {
                let _ = writeln!(
                    out,
                    "lanyard_tokens_minted_total{{resource=\"{}\",grant_type=\"{}\"}} {}",
                    escape(resource),
                    grant.as_str(),
                    get(c)
                );
            }
        }
    }

    fn render_policies(&self, out: &mut String) {
        let map = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let mut series: Vec<_> = map.iter().collect();
        series.sort_by(|a, b| a.0.cmp(b.0));
        // Twelve hex digits name a version as `lanyard policy versions` shows it.
        let labels = |(policy, digest): &PolicyVersion| {
            format!(
                "policy=\"{}\",version=\"{}\"",
                escape(policy),
                &digest[..digest.len().min(12)]
            )
        };
        for (name, pick) in [
            (
                "lanyard_policy_calls_total",
                (|s| &s.calls) as fn(&PolicySeries) -> &AtomicU64,
            ),
            ("lanyard_policy_denials_total", |s| &s.denials),
            ("lanyard_policy_failures_closed_total", |s| &s.failed_closed),
            ("lanyard_policy_failures_open_total", |s| &s.failed_open),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            for (key, s) in &series {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(key), get(pick(s)));
            }
        }
        let _ = writeln!(out, "# TYPE lanyard_policy_call_seconds histogram");
        for (key, s) in &series {
            s.seconds
                .render("lanyard_policy_call_seconds", &labels(key), out);
        }
    }
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
