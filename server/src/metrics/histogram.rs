//! A latency histogram with fixed bounds, kept as atomics: one bucket touched per
//! observation, summed into Prometheus' cumulative buckets at render time.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Durations under fixed bounds.
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

    /// Renders the series of `name` with `labels` (`key="value"` pairs, or empty); the
    /// family's `# TYPE` line is the caller's, written once for all its series.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let (braced, sep) = if labels.is_empty() {
            (String::new(), "")
        } else {
            (format!("{{{labels}}}"), ",")
        };
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{}\"}} {cumulative}",
                bound.as_secs_f64()
            );
        }
        cumulative += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        // The count is the +Inf bucket, so the two always agree within a scrape.
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "{name}_sum{braced} {}",
            self.nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
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
        h.render("t", "", &mut out);
        let expected = "t_bucket{le=\"0.00001\"} 2\n\
            t_bucket{le=\"0.0001\"} 4\n\
            t_bucket{le=\"+Inf\"} 6\n\
            t_sum 0.005264\n\
            t_count 6\n";
        assert_eq!(out, expected);
        let mut out = String::new();
        h.render("t", "policy=\"p\"", &mut out);
        assert!(
            out.starts_with("t_bucket{policy=\"p\",le=\"0.00001\"} 2\n"),
            "{out}"
        );
        assert!(
            out.ends_with("t_sum{policy=\"p\"} 0.005264\nt_count{policy=\"p\"} 6\n"),
            "{out}"
        );
    }
}
