//! Server metrics in the Prometheus text format: requests by endpoint and status, queue depth,
//! running sequences, tokens in and out, cancelled sequences, and histograms of the time to
//! first token and the inter-token latency.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A fixed-bucket histogram of seconds.
#[derive(Debug, Default)]
pub struct Histogram {
    inner: Mutex<HistogramData>,
}

#[derive(Debug, Default, Clone)]
struct HistogramData {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, seconds: f64) {
        let mut d = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if d.counts.is_empty() {
            d.counts = vec![0; BUCKETS.len()];
        }
        for (i, &b) in BUCKETS.iter().enumerate() {
            if seconds <= b {
                d.counts[i] += 1;
            }
        }
        d.sum += seconds;
        d.count += 1;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let d = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let c = d.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", d.count);
        let _ = writeln!(out, "{name}_sum {}", d.sum);
        let _ = writeln!(out, "{name}_count {}", d.count);
    }
}

/// Every metric the server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Requests waiting for a batch slot.
    pub queued: AtomicUsize,
    /// Sequences being prefilled or decoded.
    pub running: AtomicUsize,
    /// Prompt tokens of admitted requests.
    pub prompt_tokens: AtomicU64,
    /// Generated tokens.
    pub completion_tokens: AtomicU64,
    /// Sequences dropped because their client went away.
    pub cancelled: AtomicU64,
    /// Requests refused because the queue was full.
    pub rejected: AtomicU64,
    /// Tokens held in KV caches (reserved).
    pub kv_tokens: AtomicUsize,
    /// Seconds from arrival to the first generated token.
    pub ttft: Histogram,
    /// Seconds between consecutive generated tokens of a sequence.
    pub inter_token: Histogram,
}

impl Metrics {
    /// Counts a finished HTTP request.
    pub fn record_request(&self, endpoint: &str, status: u16) {
        let mut r = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *r.entry((endpoint.to_owned(), status)).or_insert(0) += 1;
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP agentune_requests_total HTTP requests by endpoint and status."
        );
        let _ = writeln!(out, "# TYPE agentune_requests_total counter");
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for ((endpoint, status), n) in requests {
            let _ = writeln!(
                out,
                "agentune_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        let gauges: [(&str, &str, &str, u64); 7] = [
            (
                "agentune_queue_depth",
                "gauge",
                "Requests waiting for a batch slot.",
                self.queued.load(Ordering::Relaxed) as u64,
            ),
            (
                "agentune_running_sequences",
                "gauge",
                "Sequences being prefilled or decoded.",
                self.running.load(Ordering::Relaxed) as u64,
            ),
            (
                "agentune_kv_cache_tokens",
                "gauge",
                "Token positions reserved in KV caches.",
                self.kv_tokens.load(Ordering::Relaxed) as u64,
            ),
            (
                "agentune_prompt_tokens_total",
                "counter",
                "Prompt tokens of admitted requests.",
                self.prompt_tokens.load(Ordering::Relaxed),
            ),
            (
                "agentune_generated_tokens_total",
                "counter",
                "Generated tokens.",
                self.completion_tokens.load(Ordering::Relaxed),
            ),
            (
                "agentune_cancelled_total",
                "counter",
                "Sequences dropped because their client disconnected.",
                self.cancelled.load(Ordering::Relaxed),
            ),
            (
                "agentune_rejected_total",
                "counter",
                "Requests refused with 429 because the queue was full.",
                self.rejected.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {v}");
        }
        self.ttft.write(
            &mut out,
            "agentune_time_to_first_token_seconds",
            "Seconds from a request's arrival to its first generated token.",
        );
        self.inter_token.write(
            &mut out,
            "agentune_inter_token_latency_seconds",
            "Seconds between consecutive generated tokens of one sequence.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.ttft.observe(0.003);
        m.ttft.observe(0.2);
        m.record_request("/v1/models", 200);
        let text = m.render();
        assert!(text.contains("agentune_time_to_first_token_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("agentune_time_to_first_token_seconds_bucket{le=\"0.25\"} 2"));
        assert!(text.contains("agentune_time_to_first_token_seconds_count 2"));
        assert!(text.contains("agentune_requests_total{endpoint=\"/v1/models\",status=\"200\"} 1"));
    }
}
