//! The report: plain data that every sink (text, JSON, HTML, Parquet, CSV) renders, so they
//! can never disagree. Field names follow SPEC "JSON report" (`"schema": 1`).

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    pub generator: String,
    /// How zone-less timestamps (nginx error log, php-fpm) were placed in time.
    pub timezone: String,
    pub inputs: Vec<InputReport>,
    /// Files found in directories that matched no format.
    pub skipped_inputs: Vec<SkippedInput>,
    pub window: Window,
    /// The answer first: when, how long, how bad, the causes and the setting to change.
    pub summary: crate::analysis::summary::Summary,
    pub totals: Totals,
    pub timeline: TimelineReport,
    pub incidents: Vec<Incident>,
    /// Causes the logs show with no incident to hang them on (`crate::analysis::causes::findings`,
    /// docs/causes.md "Findings"); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Cause>,
    pub joins: Joins,
    pub top: Top,
    pub latency: Latency,
    pub capacity: Capacity,
    /// Things the reader should know (rows not kept past a cap, read errors...).
    pub notes: Vec<String>,
    /// `--fail-on` rules and what each found (empty without `--fail-on`).
    pub rules: Vec<crate::analysis::rules::RuleResult>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub path: String,
    pub format: String,
    pub layer: String,
    pub detected: String,
    pub lines: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub requests: u64,
    pub events: u64,
    pub rejected_reasons: BTreeMap<String, u64>,
    pub rejected_samples: Vec<Evidence>,
    pub errors: Vec<String>,
    /// The same requests as another input's (`crate::ingest::dedup`): counted from there, and this
    /// input's copies skipped.
    pub duplicate_of: Option<DuplicateOf>,
}

/// The input(s) kept instead of this one's duplicate lines (`crate::ingest::dedup`).
#[derive(Clone, Debug, Serialize)]
pub struct DuplicateOf {
    /// The kept input (the first, if several: rotated files).
    pub path: String,
    pub paths: Vec<String>,
    /// Lines of this input skipped as duplicates (included in its `skipped`).
    pub lines: u64,
}

impl Report {
    /// Fill `inputs[].duplicate_of` from the dedup run: (input, inputs kept instead, its
    /// lines skipped as duplicates).
    pub fn mark_duplicates(&mut self, dups: Vec<(String, Vec<String>, u64)>) {
        for (name, keepers, lines) in dups {
            if let Some(i) = self.inputs.iter_mut().find(|i| i.path == name) {
                i.duplicate_of = Some(DuplicateOf {
                    path: keepers[0].clone(),
                    paths: keepers,
                    lines,
                });
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SkippedInput {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Window {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    pub lines: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub skipped: u64,
    /// Requests counted once each: at `counted_layer`, the outermost layer that logged
    /// requests (a request that crossed LB, nginx and php-fpm is one request, not three);
    /// `status` and `status_class` are counted the same way. Each layer's own figures are in
    /// `layers` (and `by_layer`).
    pub requests: u64,
    /// status code → count
    pub status: BTreeMap<String, u64>,
    /// `2xx`... → count
    pub status_class: BTreeMap<String, u64>,
    /// `lb`, `proxy` or `app` (absent when no request was logged).
    pub counted_layer: Option<String>,
    /// layer → that layer's own requests and status codes (lines of that layer's logs).
    pub layers: BTreeMap<String, LayerTotals>,
    /// layer (`lb`, `proxy`, `app`) → requests and 5xx
    pub by_layer: BTreeMap<String, LayerCount>,
    /// event kind → count
    pub events: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct LayerTotals {
    pub requests: u64,
    pub status: BTreeMap<String, u64>,
    pub status_class: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct LayerCount {
    pub requests: u64,
    #[serde(rename = "5xx")]
    pub err5xx: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimelineReport {
    pub bucket: String,
    pub bucket_seconds: i64,
    pub rows: Vec<TimelineRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    pub start: String,
    #[serde(skip)]
    pub start_us: i64,
    pub requests: u64,
    /// `499`, `500`, `502`, `503`, `504`, `429` → count
    pub status: BTreeMap<String, u64>,
    pub status_class: BTreeMap<String, u64>,
    #[serde(rename = "5xx")]
    pub err5xx: u64,
    pub by_layer: BTreeMap<String, LayerCount>,
    pub latency: Quantiles,
    pub upstream_latency: Quantiles,
    pub events: BTreeMap<String, u64>,
    pub upstreams_5xx: BTreeMap<String, u64>,
    pub in_incident: Option<usize>,
    /// The row counted once, at the report's counted layer (`totals.counted_layer`): what
    /// `--fail-on`/`--alert` `for` windows sum (a 503 logged by the LB and by nginx is one
    /// failed request). `None`: no counted layer (every line counts).
    #[serde(skip)]
    pub once: Option<RowOnce>,
}

/// A timeline row's requests at one layer (see [`TimelineRow::once`]).
#[derive(Clone, Debug, Default)]
pub struct RowOnce {
    pub requests: u64,
    pub err5xx: u64,
    /// Counts of `acc::STATUS_TRACKED` (499, 500, 502, 503, 504, 429), same order.
    pub status: [u64; 6],
}

#[derive(Clone, Debug, Serialize, Default, PartialEq)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub id: usize,
    pub start: String,
    pub end: String,
    #[serde(skip)]
    pub start_us: i64,
    #[serde(skip)]
    pub end_us: i64,
    pub peak_bucket: String,
    /// Requests and 5xx in the window, each request counted once: at `counted_layer`, the
    /// outermost layer that logged requests in the window (`by_layer` has every layer's own
    /// counts). `status` and the figures in cause summaries are counted the same way.
    pub requests: u64,
    pub errors: u64,
    /// `lb`, `proxy` or `app` (absent when the window has error-log events only).
    pub counted_layer: Option<String>,
    pub error_rate: f64,
    pub baseline_rate: f64,
    pub status: BTreeMap<String, u64>,
    pub by_layer: BTreeMap<String, LayerCount>,
    pub upstreams: BTreeMap<String, u64>,
    pub events: BTreeMap<String, u64>,
    pub causes: Vec<Cause>,
    pub joins: IncidentJoins,
    pub saturation: Option<Saturation>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cause {
    pub cause: String,
    pub confidence: f64,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// Failed requests of the incident this cause explains: the first ranking key (SPEC
    /// "Which cause comes first"); a consequence of another listed cause explains 0 here.
    pub explains: u64,
    /// Cause ids this one stems from (its roots) and the ones it led to.
    pub behind: Vec<String>,
    pub led_to: Vec<String>,
    /// The chain read from the failing status to the root, e.g. `502: listen backlog full
    /// (EAGAIN, 1889 lines) ← pool www saturated (max_children=1) ← slow db_query() waiting in
    /// usleep() (slowlog)`; absent when the cause stands alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// A few words for chains (`listen backlog full (EAGAIN, 290 lines)`).
    #[serde(skip)]
    pub headline: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub path: String,
    pub line: u64,
    pub text: String,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct IncidentJoins {
    /// 5xx access lines explained by an error-log line.
    pub explained: u64,
    pub total_5xx: u64,
    /// LB 5xx matched to a backend access line.
    pub lb_matched: u64,
    pub lb_5xx: u64,
    /// What the backend said for matched LB 5xx: backend status → count.
    pub backend_status: BTreeMap<String, u64>,
    /// Error-log kinds that explain the matched backend lines: kind → count.
    pub backend_error: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Saturation {
    pub slow_traces: u64,
    pub top_script: Option<(String, u64)>,
    pub top_frames: Vec<(String, u64)>,
    pub summary: String,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct Joins {
    pub explained: u64,
    pub total_5xx: u64,
    /// error kind → 5xx explained by it
    pub by_kind: BTreeMap<String, u64>,
    pub lb_matched: u64,
    pub lb_5xx: u64,
}

/// Clients, paths and upstreams of 5xx requests. `clients`/`paths`/`upstreams` are those of
/// `counted_layer` (the totals' layer: each request once); `layers` has every layer's own
/// tables (an LB's clients are the real clients, nginx's may be the LB; an LB's upstreams
/// are backends, nginx's the php-fpm sockets).
#[derive(Clone, Debug, Serialize, Default)]
pub struct Top {
    pub clients: Vec<TopEntry>,
    pub paths: Vec<TopEntry>,
    pub upstreams: Vec<TopEntry>,
    pub counted_layer: Option<String>,
    pub layers: BTreeMap<String, TopTables>,
    /// Each count above may be low by at most this much (bounded heavy-hitter tables).
    pub error_bound: u64,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct TopTables {
    pub clients: Vec<TopEntry>,
    pub paths: Vec<TopEntry>,
    pub upstreams: Vec<TopEntry>,
}

impl TopTables {
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.paths.is_empty() && self.upstreams.is_empty()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TopEntry {
    pub key: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct Latency {
    pub request_time: Quantiles,
    pub upstream_time: Quantiles,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct Capacity {
    /// Highest request rate (per second, per bucket) served with under 1% 5xx.
    pub sustained_rps: Option<f64>,
    /// Request rate at which the first incident's errors began.
    pub errors_began_rps: Option<f64>,
    /// The layer whose requests the rates count (the outermost that logged requests), so
    /// that a request logged by several layers is counted once.
    pub counted_layer: Option<String>,
    pub per_upstream: Vec<UpstreamCapacity>,
}

#[derive(Clone, Debug, Serialize)]
pub struct UpstreamCapacity {
    pub upstream: String,
    pub sustained_rps: Option<f64>,
    pub errors_began_rps: Option<f64>,
}

// Text of log bytes and instants, shared by every layer (reading's progress and state too).
pub use crate::units::{display_bytes, rfc3339};

pub fn fmt_duration_s(s: i64) -> String {
    if s % 86400 == 0 {
        format!("{}d", s / 86400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(display_bytes(b"GET /\x1b[2J x"), "GET /\\x1b[2J x");
        assert_eq!(display_bytes(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(display_bytes("\u{9b}".as_bytes()), "\\x9b");
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.500+00:00");
        assert_eq!(fmt_duration_s(600), "10m");
        assert_eq!(fmt_duration_s(5), "5s");
    }
}
