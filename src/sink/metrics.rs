//! `gatelog live --metrics ADDR`: the live figures in Prometheus text exposition format
//! (version 0.0.4), served over HTTP ([`Server`]; loopback unless an address is given).
//! Counters are cumulative since start; label values from logs are escaped and bounded in
//! number.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use gatelog_parsers::{EventKind, Layer};

use crate::agg::acc::Acc;
use crate::agg::hist::Hist;
use crate::analysis;
use crate::analysis::report::{display_bytes, Incident};

/// The HTTP endpoint that serves [`Metrics::render`]'s text (hyper; `metrics_http`).
pub use super::metrics_http::{serve, Server, CONTENT_TYPE};

/// Distinct upstream label values in `gatelog_upstream_*_total` before the rest are counted
/// as `(other)` (first come, first labelled).
pub const MAX_UPSTREAM_LABELS: usize = 200;
/// Upstreams with a label of their own in `gatelog_requests_total{layer,status,upstream}`:
/// the busiest ones (decayed request counts); the rest are counted as `(other)`.
pub const TOP_UPSTREAMS: usize = 20;
/// Label value of the upstreams outside the top ones (as `Acc` names its overflow).
pub const OTHER: &str = "(other)";
/// Label value of requests that name no upstream (served by the layer itself, or `-`).
pub const NONE: &str = "-";
/// Per-interval decay of the upstream scores (half-life about 5 minutes at 1 s intervals).
const SCORE_DECAY: f64 = 0.9977;
/// A candidate replaces the least busy labelled upstream when its score is this many times
/// higher (hysteresis: two upstreams of similar volume do not swap back and forth).
const PROMOTE_FACTOR: f64 = 2.0;
/// Upstream scores remembered (the least busy are forgotten beyond this).
const MAX_SCORES: usize = 1000;
/// `gatelog_requests_total` series before new (layer, status) pairs of labelled upstreams
/// are folded into `(other)` too.
const MAX_COMBO_SERIES: usize = 2000;
/// Histogram bucket bounds, seconds.
const LE: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
const LAYERS: [Layer; 3] = [Layer::Lb, Layer::Proxy, Layer::App];

/// Cumulative figures since start.
pub struct Metrics {
    lines: u64,
    rejected: u64,
    layer_req: [u64; 3],
    layer_5xx: [u64; 3],
    upstreams: HashMap<String, (u64, u64)>,
    /// Requests by (layer, status, upstream label) since start (or since the upstream got
    /// its label).
    combos: BTreeMap<(Layer, u16, String), u64>,
    /// Upstreams with a label of their own in `combos`.
    labelled: Vec<String>,
    /// Decayed request counts per upstream (labelled or not), bounded.
    scores: HashMap<String, f64>,
    req_time: Hist,
    up_time: Hist,
    events: [u64; EventKind::COUNT],
    /// Active incident: ranked (cause, confidence).
    causes: Option<Vec<(String, f64)>>,
    window_rate_5xx: f64,
    window_requests: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            lines: 0,
            rejected: 0,
            layer_req: [0; 3],
            layer_5xx: [0; 3],
            upstreams: HashMap::new(),
            combos: BTreeMap::new(),
            labelled: Vec::new(),
            scores: HashMap::new(),
            req_time: Hist::default(),
            up_time: Hist::default(),
            events: [0; EventKind::COUNT],
            causes: None,
            window_rate_5xx: 0.0,
            window_requests: 0,
        }
    }

    pub fn add_lines(&mut self, lines: u64, rejected: u64) {
        self.lines += lines;
        self.rejected += rejected;
    }

    /// Add one interval's accumulator. Its `combos` (enabled on the live feeds when
    /// `--metrics` is on) make `gatelog_requests_total{layer,status,upstream}`.
    pub fn add(&mut self, acc: &Acc) {
        if let Some(c) = &acc.combos {
            self.add_combos(acc, c);
        }
        let sums = analysis::fold_buckets(&acc.timeline.buckets);
        for i in 0..3 {
            self.layer_req[i] += sums.requests_by_layer[i];
            self.layer_5xx[i] += sums.err5xx_by_layer[i];
        }
        self.req_time.merge(&sums.req_time);
        self.up_time.merge(&sums.up_time);
        for (x, n) in self.events.iter_mut().zip(sums.events) {
            *x += n;
        }
        // by name (first seen first labelled: ids in the order the interval met them)
        let mut ups: Vec<(u32, (u64, u64))> = sums.upstreams.into_iter().collect();
        ups.sort_unstable_by_key(|u| u.0);
        for (id, (r, e)) in ups {
            let Some(name) = acc.upstream_names.get(id as usize) else {
                continue;
            };
            let mut key = display_bytes(name);
            if !self.upstreams.contains_key(&key) && self.upstreams.len() >= MAX_UPSTREAM_LABELS {
                key = OTHER.into();
            }
            let x = self.upstreams.entry(key).or_insert((0, 0));
            x.0 += r;
            x.1 += e;
        }
    }

    /// One interval of (layer, status, upstream id) counts: update the upstream scores,
    /// re-rank the labelled upstreams, then count under the labels.
    fn add_combos(&mut self, acc: &Acc, c: &HashMap<(Layer, u16, u32), u64>) {
        let name = |id: u32| -> String {
            if id == crate::agg::acc::NO_UPSTREAM {
                return NONE.to_string();
            }
            match acc.upstream_names.get(id as usize) {
                Some(n) => display_bytes(n),
                None => OTHER.to_string(),
            }
        };
        let mut per_up: HashMap<u32, u64> = HashMap::new();
        for (&(_, _, u), &n) in c {
            if u != crate::agg::acc::NO_UPSTREAM {
                *per_up.entry(u).or_insert(0) += n;
            }
        }
        for v in self.scores.values_mut() {
            *v *= SCORE_DECAY;
        }
        let mut seen: Vec<(String, f64)> = Vec::new();
        for (&u, &n) in &per_up {
            let k = name(u);
            if k == OTHER {
                continue;
            }
            let v = self.scores.entry(k.clone()).or_insert(0.0);
            *v += n as f64;
            seen.push((k, *v));
        }
        // the busiest unlabelled upstreams of this interval first
        seen.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (k, score) in seen {
            if self.labelled.contains(&k) {
                continue;
            }
            if self.labelled.len() < TOP_UPSTREAMS {
                self.labelled.push(k);
                continue;
            }
            let Some((i, low)) = self
                .labelled
                .iter()
                .enumerate()
                .map(|(i, l)| (i, self.scores.get(l).copied().unwrap_or(0.0)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
            else {
                continue;
            };
            if score > low * PROMOTE_FACTOR {
                // the evicted upstream's series end (its later requests count as
                // (other)); the promoted one's start at 0: every series stays monotonic
                let gone = std::mem::replace(&mut self.labelled[i], k);
                self.combos.retain(|key, _| key.2 != gone);
            }
        }
        if self.scores.len() > MAX_SCORES {
            let mut v: Vec<(String, f64)> = self.scores.drain().collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v.truncate(MAX_SCORES / 2);
            self.scores = v.into_iter().collect();
            for l in &self.labelled {
                self.scores.entry(l.clone()).or_insert(0.0);
            }
        }
        for (&(layer, status, u), &n) in c {
            let mut up = name(u);
            if up != NONE && !self.labelled.contains(&up) {
                up = OTHER.to_string();
            }
            let mut key = (layer, status, up);
            if !self.combos.contains_key(&key) && self.combos.len() >= MAX_COMBO_SERIES {
                key.2 = OTHER.to_string();
            }
            *self.combos.entry(key).or_insert(0) += n;
        }
    }

    pub fn set_incident(
        &mut self,
        inc: Option<&Incident>,
        window_rate_5xx: f64,
        window_requests: u64,
    ) {
        self.causes = inc.map(|i| {
            i.causes
                .iter()
                .map(|c| (c.cause.clone(), c.confidence))
                .collect()
        });
        self.window_rate_5xx = window_rate_5xx;
        self.window_requests = window_requests;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        head(
            &mut o,
            "gatelog_lines_total",
            "counter",
            "Lines read from all inputs since start.",
        );
        let _ = writeln!(o, "gatelog_lines_total {}", self.lines);
        head(
            &mut o,
            "gatelog_rejected_lines_total",
            "counter",
            "Lines that could not be parsed since start.",
        );
        let _ = writeln!(o, "gatelog_rejected_lines_total {}", self.rejected);

        head(
            &mut o,
            "gatelog_requests_total",
            "counter",
            "Requests logged, by layer (lb, proxy, app), status code and upstream (the busiest upstreams by address, the rest as (other), - for none); sum by (status) for the status alone.",
        );
        for ((layer, code, up), n) in &self.combos {
            let _ = writeln!(
                o,
                "gatelog_requests_total{{layer=\"{}\",status=\"{code}\",upstream=\"{}\"}} {n}",
                layer.id(),
                esc(up)
            );
        }
        head(
            &mut o,
            "gatelog_layer_requests_total",
            "counter",
            "Requests logged, by layer (lb, proxy, app).",
        );
        for (i, l) in LAYERS.iter().enumerate() {
            let _ = writeln!(
                o,
                "gatelog_layer_requests_total{{layer=\"{}\"}} {}",
                l.id(),
                self.layer_req[i]
            );
        }
        head(
            &mut o,
            "gatelog_layer_5xx_total",
            "counter",
            "Requests answered with a 5xx, by layer.",
        );
        for (i, l) in LAYERS.iter().enumerate() {
            let _ = writeln!(
                o,
                "gatelog_layer_5xx_total{{layer=\"{}\"}} {}",
                l.id(),
                self.layer_5xx[i]
            );
        }
        let mut ups: Vec<(&String, &(u64, u64))> = self.upstreams.iter().collect();
        ups.sort();
        head(
            &mut o,
            "gatelog_upstream_requests_total",
            "counter",
            "Requests by upstream address.",
        );
        for (u, (r, _)) in &ups {
            let _ = writeln!(
                o,
                "gatelog_upstream_requests_total{{upstream=\"{}\"}} {r}",
                esc(u)
            );
        }
        head(
            &mut o,
            "gatelog_upstream_5xx_total",
            "counter",
            "Requests answered with a 5xx, by upstream address.",
        );
        for (u, (_, e)) in &ups {
            let _ = writeln!(
                o,
                "gatelog_upstream_5xx_total{{upstream=\"{}\"}} {e}",
                esc(u)
            );
        }
        histogram(
            &mut o,
            "gatelog_request_duration_seconds",
            "Request time as logged by each layer.",
            &self.req_time,
        );
        histogram(
            &mut o,
            "gatelog_upstream_response_seconds",
            "Upstream response time as logged.",
            &self.up_time,
        );
        head(
            &mut o,
            "gatelog_error_events_total",
            "counter",
            "Error-log events, by kind.",
        );
        for k in EventKind::ALL {
            let n = self.events.get(k.index()).copied().unwrap_or(0);
            if n > 0 {
                let _ = writeln!(o, "gatelog_error_events_total{{kind=\"{}\"}} {n}", k.id());
            }
        }
        head(
            &mut o,
            "gatelog_window_5xx_ratio",
            "gauge",
            "Share of 5xx among the requests of the current window.",
        );
        let _ = writeln!(o, "gatelog_window_5xx_ratio {}", self.window_rate_5xx);
        head(
            &mut o,
            "gatelog_window_requests",
            "gauge",
            "Requests in the current window.",
        );
        let _ = writeln!(o, "gatelog_window_requests {}", self.window_requests);
        head(
            &mut o,
            "gatelog_incident_active",
            "gauge",
            "1 while an incident (5xx spike) is going on.",
        );
        let _ = writeln!(
            o,
            "gatelog_incident_active {}",
            u8::from(self.causes.is_some())
        );
        head(&mut o, "gatelog_incident_cause_confidence", "gauge", "Probable causes of the active incident and their confidence (rank 1 is the most likely).");
        if let Some(c) = &self.causes {
            for (i, (cause, conf)) in c.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "gatelog_incident_cause_confidence{{cause=\"{}\",rank=\"{}\"}} {conf}",
                    esc(cause),
                    i + 1
                );
            }
        }
        o
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Escape a label value (backslash, double quote, newline).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Requests at or under `us` microseconds.
fn at_most(h: &Hist, us: u64) -> u64 {
    h.total().saturating_sub(h.count_above(us))
}

fn histogram(o: &mut String, name: &str, help: &str, h: &Hist) {
    head(o, name, "histogram", help);
    for le in LE {
        let n = at_most(h, (le * 1e6) as u64);
        let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {}", h.total());
    // the sum, from the histogram's own resolution (quarter-octave steps)
    let mut sum = 0.0f64;
    let mut prev_v = 0u64;
    let mut prev_n = at_most(h, 0);
    for k in 1..=176u32 {
        let v = (2f64.powf(k as f64 / 4.0)) as u64;
        if v <= prev_v {
            continue;
        }
        let n = at_most(h, v);
        sum += (n - prev_n.min(n)) as f64 * (prev_v + v) as f64 / 2.0;
        prev_v = v;
        prev_n = n;
    }
    let _ = writeln!(o, "{name}_sum {}", (sum / 1e3).round() / 1e3);
    let _ = writeln!(o, "{name}_count {}", h.total());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_sum_close() {
        let mut h = Hist::default();
        for _ in 0..90 {
            h.add(10_000); // 10 ms
        }
        for _ in 0..10 {
            h.add(2_000_000); // 2 s
        }
        let mut o = String::new();
        histogram(&mut o, "x_seconds", "x", &h);
        assert!(o.contains("x_seconds_bucket{le=\"0.005\"} 0\n"), "{o}");
        assert!(o.contains("x_seconds_bucket{le=\"0.025\"} 90\n"), "{o}");
        assert!(o.contains("x_seconds_bucket{le=\"2.5\"} 100\n"), "{o}");
        assert!(o.contains("x_seconds_count 100\n"));
        let sum: f64 = o
            .lines()
            .find_map(|l| l.strip_prefix("x_seconds_sum "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!((sum - 20.9).abs() < 2.0, "sum {sum}");
    }

    /// One interval: `counts` of (upstream or None, status) for the proxy layer.
    fn interval(m: &mut Metrics, counts: &[(Option<&str>, u16, u64)]) {
        let mut acc = Acc::new(1);
        let mut c = HashMap::new();
        for &(u, st, n) in counts {
            let id = match u {
                Some(u) => acc.upstream_id(u.as_bytes()),
                None => crate::agg::acc::NO_UPSTREAM,
            };
            *c.entry((Layer::Proxy, st, id)).or_insert(0) += n;
        }
        acc.combos = Some(c);
        m.add(&acc);
    }

    fn series(m: &Metrics) -> BTreeMap<(String, String), u64> {
        let text = m.render();
        let mut out = BTreeMap::new();
        for l in text.lines() {
            let Some(rest) = l.strip_prefix("gatelog_requests_total{layer=\"proxy\",status=\"")
            else {
                continue;
            };
            let (status, rest) = rest.split_once("\",upstream=\"").unwrap();
            let (up, n) = rest.split_once("\"} ").unwrap();
            out.insert((status.to_string(), up.to_string()), n.parse().unwrap());
        }
        out
    }

    #[test]
    fn requests_by_layer_status_and_upstream_keep_the_busiest_upstreams() {
        let mut m = Metrics::new();
        let names: Vec<String> = (0..25).map(|i| format!("10.0.0.{i}:9000")).collect();
        // 25 upstreams, upstream i with 100 + i requests (half of them 502), and some
        // requests with no upstream
        let mut counts: Vec<(Option<&str>, u16, u64)> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            counts.push((Some(n), 200, 50 + i as u64));
            counts.push((Some(n), 502, 50));
        }
        counts.push((None, 404, 7));
        interval(&mut m, &counts);
        let s = series(&m);
        // the 20 busiest (5..25) by name, the 5 least busy as (other)
        assert_eq!(s[&("502".into(), "10.0.0.24:9000".into())], 50);
        assert_eq!(s[&("200".into(), "10.0.0.24:9000".into())], 74);
        assert!(!s.contains_key(&("200".into(), "10.0.0.4:9000".into())));
        assert_eq!(s[&("200".into(), OTHER.into())], 50 + 51 + 52 + 53 + 54);
        assert_eq!(s[&("502".into(), OTHER.into())], 5 * 50);
        assert_eq!(s[&("404".into(), NONE.into())], 7);
        assert_eq!(s.len(), 20 * 2 + 2 + 1);
        // every request counted once
        assert_eq!(
            s.values().sum::<u64>(),
            counts.iter().map(|c| c.2).sum::<u64>()
        );

        // a new upstream far busier than the least busy labelled one takes its label: the
        // evicted series ends, the new one starts at this interval's count
        interval(&mut m, &[(Some("10.9.9.9:9000"), 503, 1000)]);
        let s = series(&m);
        assert_eq!(s[&("503".into(), "10.9.9.9:9000".into())], 1000);
        assert!(!s.keys().any(|k| k.1 == "10.0.0.5:9000"), "{s:?}");
        assert_eq!(s[&("200".into(), "10.0.0.6:9000".into())], 56);
        // one slightly busier than the least busy labelled upstream does not (hysteresis)
        interval(&mut m, &[(Some("10.8.8.8:9000"), 200, 120)]);
        let s = series(&m);
        assert!(!s.keys().any(|k| k.1 == "10.8.8.8:9000"), "{s:?}");
        assert_eq!(
            s[&("200".into(), OTHER.into())],
            50 + 51 + 52 + 53 + 54 + 120
        );
        // bounded: at most TOP_UPSTREAMS upstream labels besides (other) and -
        let ups: std::collections::BTreeSet<&String> = s.keys().map(|k| &k.1).collect();
        assert_eq!(ups.len(), TOP_UPSTREAMS + 2);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
