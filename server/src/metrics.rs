//! Prometheus counters, kept as atomics: no registry crate for a handful of numbers.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Metrics {
    responses_2xx: AtomicU64,
    responses_3xx: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
    request_micros: AtomicU64,
    pub tokens_minted: AtomicU64,
    pub refresh_reuse_detected: AtomicU64,
    pub code_reuse_detected: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, status: u16, took: Duration) {
        let counter = match status {
            200..=299 => &self.responses_2xx,
            300..=399 => &self.responses_3xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.request_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(out, "# TYPE lanyard_http_responses_total counter");
        for (class, c) in [
            ("2xx", &self.responses_2xx),
            ("3xx", &self.responses_3xx),
            ("4xx", &self.responses_4xx),
            ("5xx", &self.responses_5xx),
        ] {
            let _ = writeln!(
                out,
                "lanyard_http_responses_total{{class=\"{class}\"}} {}",
                get(c)
            );
        }
        let _ = writeln!(out, "# TYPE lanyard_http_request_seconds_total counter");
        let _ = writeln!(
            out,
            "lanyard_http_request_seconds_total {}",
            get(&self.request_micros) as f64 / 1e6
        );
        use crate::policy::evaluate::{CALLS, FAILED_CLOSED, FAILED_OPEN};
        for (name, c) in [
            ("lanyard_policy_calls_total", &CALLS),
            ("lanyard_policy_failures_closed_total", &FAILED_CLOSED),
            ("lanyard_policy_failures_open_total", &FAILED_OPEN),
            ("lanyard_tokens_minted_total", &self.tokens_minted),
            (
                "lanyard_refresh_reuse_detected_total",
                &self.refresh_reuse_detected,
            ),
            (
                "lanyard_code_reuse_detected_total",
                &self.code_reuse_detected,
            ),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", get(c));
        }
        out
    }
}
