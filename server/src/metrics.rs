//! Every Prometheus metric the server exports, in one place: counters and a histogram
//! kept as atomics (no registry crate for a handful of numbers).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::policy::{PolicyRun, RunOutcome};

#[derive(Debug)]
pub struct Metrics {
    responses_2xx: AtomicU64,
    responses_3xx: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
    request_micros: AtomicU64,
    pub tokens_minted: AtomicU64,
    pub refresh_reuse_detected: AtomicU64,
    pub code_reuse_detected: AtomicU64,
    /// Messages handed to the mail server (or the outbox), attempts that failed and will
    /// be tried again, and messages given up on.
    pub mail_delivered: AtomicU64,
    pub mail_retried: AtomicU64,
    pub mail_given_up: AtomicU64,
    policy_calls: AtomicU64,
    policy_failures_closed: AtomicU64,
    policy_failures_open: AtomicU64,
    policy_call_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            responses_2xx: AtomicU64::new(0),
            responses_3xx: AtomicU64::new(0),
            responses_4xx: AtomicU64::new(0),
            responses_5xx: AtomicU64::new(0),
            request_micros: AtomicU64::new(0),
            tokens_minted: AtomicU64::new(0),
            refresh_reuse_detected: AtomicU64::new(0),
            code_reuse_detected: AtomicU64::new(0),
            mail_delivered: AtomicU64::new(0),
            mail_retried: AtomicU64::new(0),
            mail_given_up: AtomicU64::new(0),
            policy_calls: AtomicU64::new(0),
            policy_failures_closed: AtomicU64::new(0),
            policy_failures_open: AtomicU64::new(0),
            policy_call_seconds: Histogram::new(&POLICY_CALL_BOUNDS),
        }
    }
}

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

    /// Counts a chain's calls: how long each took and how the failures were handled.
    pub fn observe_policy_runs(&self, runs: &[PolicyRun]) {
        for run in runs {
            self.policy_calls.fetch_add(1, Ordering::Relaxed);
            self.policy_call_seconds.observe(run.took());
            let failures = match run.outcome {
                RunOutcome::Failed => &self.policy_failures_closed,
                RunOutcome::FailedOpen => &self.policy_failures_open,
                RunOutcome::Allow | RunOutcome::Deny => continue,
            };
            failures.fetch_add(1, Ordering::Relaxed);
        }
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
        self.policy_call_seconds
            .render("lanyard_policy_call_seconds", &mut out);
        for (name, c) in [
            ("lanyard_policy_calls_total", &self.policy_calls),
            (
                "lanyard_policy_failures_closed_total",
                &self.policy_failures_closed,
            ),
            (
                "lanyard_policy_failures_open_total",
                &self.policy_failures_open,
            ),
            ("lanyard_tokens_minted_total", &self.tokens_minted),
            (
                "lanyard_refresh_reuse_detected_total",
                &self.refresh_reuse_detected,
            ),
            (
                "lanyard_code_reuse_detected_total",
                &self.code_reuse_detected,
            ),
            ("lanyard_mail_delivered_total", &self.mail_delivered),
            ("lanyard_mail_retried_total", &self.mail_retried),
            ("lanyard_mail_given_up_total", &self.mail_given_up),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", get(c));
        }
        out
    }
}

/// A latency histogram with fixed bounds, for durations that matter in microseconds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [Duration],
    /// One counter per bound, then one for everything above the last: not cumulative, so
    /// an observation touches one bucket; `render` sums them.
    buckets: [AtomicU64; HISTOGRAM_BUCKETS],
    nanos: AtomicU64,
}

const HISTOGRAM_BUCKETS: usize = 10;

impl Histogram {
    /// `bounds` ascending, at most `HISTOGRAM_BUCKETS - 1` of them.
    pub const fn new(bounds: &'static [Duration]) -> Self {
        assert!(bounds.len() < HISTOGRAM_BUCKETS);
        Self {
            bounds,
            buckets: [const { AtomicU64::new(0) }; HISTOGRAM_BUCKETS],
            nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, took: Duration) {
        let bucket = self.bounds.partition_point(|b| *b < took);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, out: &mut String) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                bound.as_secs_f64()
            );
        }
        cumulative += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        // The count is the +Inf bucket, so the two always agree within a scrape.
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_bounds_inclusive() {
        static BOUNDS: [Duration; 2] = [Duration::from_micros(10), Duration::from_micros(100)];
        let h = Histogram::new(&BOUNDS);
        for us in [3, 10, 50, 100, 101, 5_000] {
            h.observe(Duration::from_micros(us));
        }
        let mut out = String::new();
        h.render("t", &mut out);
        let expected = "# TYPE t histogram\n\
            t_bucket{le=\"0.00001\"} 2\n\
            t_bucket{le=\"0.0001\"} 4\n\
            t_bucket{le=\"+Inf\"} 6\n\
            t_sum 0.005264\n\
            t_count 6\n";
        assert_eq!(out, expected);
    }
}
