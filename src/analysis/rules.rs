//! `--fail-on RULE`: conditions a scheduler can alert on (exit status 3 when one holds).
//!
//! Grammar (whitespace between tokens is optional):
//!
//! ```text
//! rule   := metric [cmp value] [for DURATION]
//! metric := rate(SEL) | count(SEL) | p50(FIELD) | p95(FIELD) | p99(FIELD)
//!         | incidents | rejected | cause(CAUSE_ID)
//! SEL    := 5xx | 4xx | ... | a status code such as 504
//! FIELD  := request_time | upstream_time
//! cmp    := > | >= | < | <=
//! ```
//!
//! Without `for`, a rule is evaluated once over the whole window of the report (`rate(5xx) >
//! 5%`: the window's 5xx share). With `for D` the metric is taken over a sliding window of
//! length `D`: the rule holds when, for some instant `t`, the metric over the requests of
//! `(t - D, t]` passes the threshold (`rate(5xx) > 5% for 5m`: some 5 minutes in which more
//! than 5% of the requests failed; a rate over the whole 5 minutes, so a steady 10% holds
//! whatever the bucket width and a 2-minute burst of 10% in quiet minutes does not). Windows
//! lie inside the logs (a report spanning less than `D` never holds), start and end on
//! bucket edges and slide by one bucket (`D` rounded up to whole buckets; a bucket wider
//! than `D` is one window). Quantiles are those of the window's merged latency histogram.
//! Live alerts (`gatelog live --alert`) fire while the latest window (ending with the newest
//! bucket of the live window) holds and resolve when it no longer does.

use serde::Serialize;

use crate::analysis::report::{rfc3339, Quantiles, Report};
use crate::units::Duration;

/// Cause ids (SPEC "Cause vocabulary").
pub const CAUSES: [&str; 19] = [
    "fpm_max_children",
    "upstream_read_timeout",
    "upstream_connect_timeout",
    "fpm_request_terminate",
    "fpm_worker_crash",
    "upstream_refused",
    "fpm_listen_backlog",
    "upstream_header_too_big",
    "no_live_upstreams",
    "rate_limited",
    "lb_backend_down",
    "lb_target_timeout",
    "single_backend",
    "app_error",
    "overload",
    "client_subset",
    "retry_storm",
    "self_loop",
    "unknown",
];

/// Status codes the timeline keeps per bucket (see `acc::STATUS_TRACKED`).
const PER_BUCKET_CODES: [u16; 6] = [499, 500, 502, 503, 504, 429];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel {
    /// `5xx`: the class digit.
    Class(u8),
    Code(u16),
}

impl Sel {
    fn label(self) -> String {
        match self {
            Sel::Class(c) => format!("{c}xx"),
            Sel::Code(c) => c.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    RequestTime,
    UpstreamTime,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    Rate(Sel),
    Count(Sel),
    /// Quantile in percent (50, 95, 99) of a latency field.
    Quantile(u8, Field),
    Incidents,
    Rejected,
    Cause(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn holds(self, v: f64, t: f64) -> bool {
        match self {
            Cmp::Gt => v > t,
            Cmp::Ge => v >= t,
            Cmp::Lt => v < t,
            Cmp::Le => v <= t,
        }
    }
    fn sym(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// A parsed rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub text: String,
    pub metric: Metric,
    pub cmp: Cmp,
    /// Rates as fractions (5% = 0.05), latencies in seconds, counts as numbers, cause
    /// confidences in 0..1.
    pub threshold: f64,
    /// The `for` window: the duration grammar of `--bucket` (`for 5m`).
    pub window: Option<Duration>,
}

impl Rule {
    /// The `for` window in seconds.
    pub fn for_s(&self) -> Option<i64> {
        self.window.map(Duration::secs)
    }
}

/// `--fail-on` and `--alert` values: clap reads them with [`parse`] (`value_parser`).
impl std::str::FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Rule, String> {
        parse(s)
    }
}

/// What a rule found, for the `rules` key of the JSON report and the RULES section.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RuleResult {
    pub rule: String,
    pub held: bool,
    /// When it held: the first qualifying run of buckets, the incident, or the window.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The measured value (peak of the run, or the window's value).
    pub value: Option<f64>,
    pub detail: String,
}

// ---- grammar (nom): each piece reads one named element; a failure carries the input left
// where that element starts, so the message names its token and column.

use gatelog_parsers::grammar::{fail, Fail, PResult};
use nom::bytes::complete::{tag, take_while};
use nom::character::complete::char as ch;
use nom::combinator::opt;
use nom::Parser;

/// Why a rule failed, and the input left where the offending element starts (the error
/// type the parsers' grammars share).
type RuleErr<'a> = Fail<&'a str>;

type R<'a, T> = PResult<&'a str, T>;

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Whitespace between tokens is optional.
fn ws(i: &str) -> R<'_, &str> {
    take_while(|c: char| c.is_ascii_whitespace()).parse(i)
}

/// A word: letters, digits, `_`, `.`, ended by an optional `%` (a percentage ends its token:
/// `5%for 5m`). Leading whitespace skipped.
fn word(i: &str) -> R<'_, &str> {
    let (i, _) = ws(i)?;
    let (rest, (w, pct)) = (take_while(is_word), opt(ch('%'))).parse(i)?;
    let len = w.len() + pct.map_or(0, |_| 1);
    if len == 0 {
        return Err(nom::Err::Error(RuleErr {
            rest: i,
            why: "expected a word".into(),
        }));
    }
    Ok((rest, &i[..len]))
}

/// The token at the start of `rest` (for messages): a word, a comparison or one character.
fn token_at(rest: &str) -> &str {
    if let Ok((_, w)) = word(rest) {
        return w;
    }
    if let Ok((_, c)) = cmp_sym(rest) {
        return c;
    }
    let n = rest.chars().next().map_or(0, char::len_utf8);
    &rest[..n]
}

/// Expect the punctuation `c` (after optional whitespace).
fn punct(c: char) -> impl Fn(&str) -> R<'_, ()> {
    move |i: &str| {
        let (i, _) = ws(i)?;
        match ch::<_, RuleErr>(c).parse(i) {
            Ok((rest, _)) => Ok((rest, ())),
            Err(_) => fail(i, format!("expected '{c}'")),
        }
    }
}

fn cmp_sym(i: &str) -> R<'_, &str> {
    let (i, _) = ws(i)?;
    nom::branch::alt((tag(">="), tag(">"), tag("<="), tag("<"))).parse(i)
}

fn cmp(i: &str) -> R<'_, Cmp> {
    let (rest, s) = cmp_sym(i)?;
    let c = match s {
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        "<" => Cmp::Lt,
        _ => Cmp::Le,
    };
    Ok((rest, c))
}

/// `( ARG )`: the argument word and the input where it starts.
fn arg(i: &str) -> R<'_, (&str, &str)> {
    let (i, _) = punct('(')(i)?;
    let (at, _) = ws(i)?;
    let Ok((rest, a)) = word(at) else {
        return fail(at, "missing argument");
    };
    let (rest, _) = punct(')')(rest)?;
    Ok((rest, (a, at)))
}

/// `metric`, and where its argument starts (for the per-bucket check).
fn metric(i: &str) -> R<'_, (Metric, Option<&str>)> {
    let (at, _) = ws(i)?;
    let Ok((rest, head)) = word(at) else {
        if at.is_empty() {
            return fail(at, "empty rule");
        }
        return fail(
            at,
            "expected rate(..), count(..), p50/p95/p99(..), incidents, rejected or cause(..)",
        );
    };
    match head {
        "rate" | "count" => {
            let (rest, (a, a_at)) = arg(rest)?;
            let Some(sel) = parse_sel(a) else {
                return fail(a_at, "expected a status class (5xx) or code (504)");
            };
            let m = if head == "rate" {
                Metric::Rate(sel)
            } else {
                Metric::Count(sel)
            };
            Ok((rest, (m, Some(a_at))))
        }
        "p50" | "p95" | "p99" => {
            let (rest, (a, a_at)) = arg(rest)?;
            let f = match a {
                "request_time" => Field::RequestTime,
                "upstream_time" | "upstream_response_time" => Field::UpstreamTime,
                _ => return fail(a_at, "expected request_time or upstream_time"),
            };
            let q = head[1..].parse::<u8>().unwrap_or(99);
            Ok((rest, (Metric::Quantile(q, f), Some(a_at))))
        }
        "incidents" => Ok((rest, (Metric::Incidents, None))),
        "rejected" => Ok((rest, (Metric::Rejected, None))),
        "cause" => {
            let (rest, (a, a_at)) = arg(rest)?;
            if !CAUSES.contains(&a) {
                return fail(
                    a_at,
                    format!("unknown cause id (known: {})", CAUSES.join(", ")),
                );
            }
            Ok((rest, (Metric::Cause(a.to_string()), Some(a_at))))
        }
        _ if head.starts_with('p') && head[1..].bytes().all(|c| c.is_ascii_digit()) => {
            fail(at, "only p50, p95 and p99 are kept")
        }
        _ => fail(
            at,
            "expected rate(..), count(..), p50/p95/p99(..), incidents, rejected or cause(..)",
        ),
    }
}

/// The threshold after a comparison, in the metric's unit.
fn threshold<'a>(m: &Metric, i: &'a str) -> R<'a, f64> {
    let (at, _) = ws(i)?;
    let why = match m {
        Metric::Rate(_) => "expected a percentage such as 5% (or a fraction such as 0.05)",
        Metric::Count(_) | Metric::Incidents | Metric::Rejected => "expected a whole number",
        Metric::Quantile(..) => "expected a duration such as 2s or 500ms",
        Metric::Cause(_) => "expected a confidence between 0 and 1",
    };
    let Ok((rest, v)) = word(at) else {
        if at.is_empty() {
            return fail(at, "expected a threshold after the comparison");
        }
        return fail(at, why);
    };
    let t = match m {
        Metric::Rate(_) => {
            let pct = v
                .strip_suffix('%')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|x| x.is_finite() && (0.0..=100.0).contains(x));
            let frac = v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && (0.0..=1.0).contains(x));
            pct.map(|p| p / 100.0).or(frac)
        }
        Metric::Count(_) | Metric::Incidents | Metric::Rejected => {
            v.parse::<u64>().ok().map(|n| n as f64)
        }
        Metric::Quantile(..) => parse_seconds(v),
        Metric::Cause(_) => v.parse::<f64>().ok().filter(|x| (0.0..=1.0).contains(x)),
    };
    match t {
        Some(t) => Ok((rest, t)),
        None => fail(at, why),
    }
}

/// `rule := metric [cmp value] [for DURATION]`, all of the input.
fn rule_p(i: &str) -> R<'_, (Metric, Cmp, f64, Option<Duration>)> {
    let (i, (m, arg_at)) = metric(i)?;
    let (i, (c, t)) = match opt(cmp).parse(i)? {
        (i, Some(c)) => {
            let (i, t) = threshold(&m, i)?;
            (i, (c, t))
        }
        (i, None) => match m {
            Metric::Cause(_) => (i, (Cmp::Gt, 0.0)),
            _ => return fail(ws(i)?.0, "expected a comparison (>, >=, <, <=)"),
        },
    };
    let (at, _) = ws(i)?;
    if at.is_empty() {
        return Ok((at, (m, c, t, None)));
    }
    match word(at) {
        Ok((_, "for")) => {}
        _ => return fail(at, "expected 'for DURATION' or the end of the rule"),
    }
    if matches!(m, Metric::Incidents | Metric::Cause(_) | Metric::Rejected) {
        return fail(at, "'for' applies to rate, count and latency rules only");
    }
    let (i, _) = word(at)?;
    let (d_at, _) = ws(i)?;
    let Ok((i, d)) = word(d_at) else {
        if d_at.is_empty() {
            return fail(d_at, "expected a duration after 'for'");
        }
        return fail(d_at, "expected a duration such as 30s, 5m or 1h");
    };
    let Ok(s) = Duration::parse(d) else {
        return fail(d_at, "expected a duration such as 30s, 5m or 1h");
    };
    let (end, _) = ws(i)?;
    if !end.is_empty() {
        return fail(end, "unexpected text after the rule");
    }
    if let Metric::Count(Sel::Code(code)) | Metric::Rate(Sel::Code(code)) = m {
        if !PER_BUCKET_CODES.contains(&code) {
            return fail(
                arg_at.unwrap_or(at),
                "per-bucket counts are kept for 499, 500, 502, 503, 504, 429 and classes (5xx) only",
            );
        }
    }
    Ok((end, (m, c, t, Some(s))))
}

/// A rule that does not parse: the message names the token and its column (in characters,
/// from 1). The flag and the rule itself are named by clap, which quotes the value
/// (`invalid value 'RULE' for '--fail-on <RULE>': ...`).
fn bad(rule: &str, e: RuleErr<'_>) -> String {
    let rest = e.rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let why = if e.why.is_empty() {
        "unexpected input"
    } else {
        &e.why
    };
    if rest.is_empty() {
        return format!(
            "{why} at the end of the rule; examples: 'rate(5xx) > 5% for 5m', 'count(504) > 100', 'incidents > 0'"
        );
    }
    let at = rule.len() - rest.len();
    let col = rule[..at].chars().count() + 1;
    let tok = token_at(rest);
    format!(
        "{why} at '{tok}' (column {col}); examples: 'rate(5xx) > 5% for 5m', 'count(504) > 100', 'p99(request_time) > 2s for 10m', 'incidents > 0', 'cause(fpm_max_children)'"
    )
}

fn parse_sel(t: &str) -> Option<Sel> {
    let b = t.as_bytes();
    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && &t[1..] == "xx" {
        return Some(Sel::Class(b[0] - b'0'));
    }
    match t.parse::<u16>() {
        Ok(c) if (100..600).contains(&c) => Some(Sel::Code(c)),
        _ => None,
    }
}

fn parse_seconds(t: &str) -> Option<f64> {
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * mult)
}

/// Parse one `--fail-on` (or `--alert`) value.
pub fn parse(rule: &str) -> Result<Rule, String> {
    match rule_p(rule) {
        Ok((_, (metric, cmp, threshold, window))) => Ok(Rule {
            text: rule.trim().to_string(),
            metric,
            cmp,
            threshold,
            window,
        }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(bad(rule, e)),
        Err(nom::Err::Incomplete(_)) => Err(bad(
            rule,
            RuleErr {
                rest: "",
                why: "incomplete rule".into(),
            },
        )),
    }
}

fn quantile_of(q: &Quantiles, p: u8) -> Option<f64> {
    match p {
        50 => q.p50,
        95 => q.p95,
        _ => q.p99,
    }
}

fn fmt_value(m: &Metric, v: f64) -> String {
    match m {
        Metric::Rate(_) => format!("{:.2}%", v * 100.0),
        Metric::Quantile(..) => {
            if v >= 1.0 {
                format!("{v:.2}s")
            } else {
                format!("{:.0}ms", v * 1000.0)
            }
        }
        Metric::Cause(_) => format!("{v:.2}"),
        _ => format!("{v:.0}"),
    }
}

fn describe(m: &Metric) -> String {
    match m {
        Metric::Rate(s) => format!("{} rate", s.label()),
        Metric::Count(s) => format!("{} count", s.label()),
        Metric::Quantile(q, f) => format!(
            "p{q} {}",
            match f {
                Field::RequestTime => "request time",
                Field::UpstreamTime => "upstream time",
            }
        ),
        Metric::Incidents => "incidents".into(),
        Metric::Rejected => "rejected lines".into(),
        Metric::Cause(c) => format!("cause {c}"),
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The value of a metric over the report's whole window.
fn window_value(r: &Report, m: &Metric) -> Option<f64> {
    let t = &r.totals;
    let sel_count = |s: &Sel| -> u64 {
        match s {
            Sel::Class(c) => t.status_class.get(&format!("{c}xx")).copied().unwrap_or(0),
            Sel::Code(c) => t.status.get(&c.to_string()).copied().unwrap_or(0),
        }
    };
    match m {
        Metric::Rate(s) => (t.requests > 0).then(|| sel_count(s) as f64 / t.requests as f64),
        Metric::Count(s) => Some(sel_count(s) as f64),
        Metric::Quantile(q, f) => quantile_of(
            match f {
                Field::RequestTime => &r.latency.request_time,
                Field::UpstreamTime => &r.latency.upstream_time,
            },
            *q,
        ),
        Metric::Incidents => Some(r.incidents.len() as f64),
        Metric::Rejected => Some(t.rejected as f64),
        Metric::Cause(_) => None,
    }
}

/// Evaluate one rule against a finished report.
pub fn eval(rule: &Rule, r: &Report) -> RuleResult {
    eval_with(rule, r, None)
}

/// Evaluate one rule; `hists`: the accumulator's timeline the report was built from (same
/// buckets as its rows), whose latency histograms make quantile windows exact.
pub fn eval_with(rule: &Rule, r: &Report, hists: Option<&crate::agg::acc::Timeline>) -> RuleResult {
    let what = describe(&rule.metric);
    let cond = format!(
        "{} {}",
        rule.cmp.sym(),
        fmt_value(&rule.metric, rule.threshold)
    );
    let mut res = RuleResult {
        rule: rule.text.clone(),
        held: false,
        from: None,
        to: None,
        value: None,
        detail: String::new(),
    };
    if let Metric::Cause(c) = &rule.metric {
        let hit = r.incidents.iter().find_map(|inc| {
            inc.causes
                .iter()
                .find(|x| &x.cause == c && rule.cmp.holds(x.confidence, rule.threshold))
                .map(|x| (inc, x.confidence))
        });
        match hit {
            Some((inc, conf)) => {
                res.held = true;
                res.from = Some(inc.start.clone());
                res.to = Some(inc.end.clone());
                res.value = Some(conf);
                res.detail = format!(
                    "incident #{} ({} to {}) names {c} (confidence {conf:.2})",
                    inc.id, inc.start, inc.end
                );
            }
            None => {
                res.detail = format!("no incident names {c}");
                if rule.threshold > 0.0 {
                    res.detail.push_str(&format!(" with confidence {cond}"));
                }
            }
        }
        return res;
    }
    let Some(for_s) = rule.for_s() else {
        let v = window_value(r, &rule.metric);
        res.value = v.map(round6);
        match v {
            Some(v) if rule.cmp.holds(v, rule.threshold) => {
                res.held = true;
                if let Metric::Incidents = rule.metric {
                    res.from = r.incidents.first().map(|i| i.start.clone());
                    res.to = r.incidents.last().map(|i| i.end.clone());
                } else {
                    res.from = r.window.from.clone();
                    res.to = r.window.to.clone();
                }
                res.detail = format!(
                    "{what} {} {cond} over the window",
                    fmt_value(&rule.metric, v)
                );
            }
            Some(v) => res.detail = format!("{what} {} (not {cond})", fmt_value(&rule.metric, v)),
            None => res.detail = format!("no {what} in this window"),
        }
        return res;
    };
    let width = r.timeline.bucket_seconds.max(1);
    let k = window_buckets(for_s, width);
    let rows = &r.timeline.rows;
    let span = window_note(for_s, width);
    if rows.len() < k {
        res.detail = format!(
            "{what}: the logs span {}, less than the {} a window needs",
            crate::analysis::report::fmt_duration_s(rows.len() as i64 * width),
            crate::analysis::report::fmt_duration_s(for_s)
        );
        return res;
    }
    // every window of k consecutive buckets, sliding by one bucket; runs of windows where
    // the condition holds are merged into one span
    let mut win = Win::new(&rule.metric, hists);
    let mut runs = 0usize;
    let mut first: Option<(usize, usize, f64)> = None;
    let mut cur: Option<(usize, usize, f64)> = None;
    let mut best: Option<f64> = None;
    for e in 0..rows.len() {
        win.add(r, e, 1);
        if e >= k {
            win.add(r, e - k, -1);
        }
        if e + 1 < k {
            continue;
        }
        let v = win.value(r, e + 1 - k, e, rule.cmp);
        if let Some(v) = v {
            best = Some(best.map_or(v, |b: f64| if rule.cmp.holds(v, b) { v } else { b }));
        }
        match v {
            Some(v) if rule.cmp.holds(v, rule.threshold) => match &mut cur {
                Some(c) => {
                    c.1 = e;
                    if rule.cmp.holds(v, c.2) {
                        c.2 = v;
                    }
                }
                None => cur = Some((e + 1 - k, e, v)),
            },
            _ => {
                if let Some(c) = cur.take() {
                    runs += 1;
                    first.get_or_insert(c);
                }
            }
        }
    }
    if let Some(c) = cur.take() {
        runs += 1;
        first.get_or_insert(c);
    }
    match first {
        Some((s, e, peak)) => {
            let from_us = rows.get(s).map(|x| x.start_us).unwrap_or(0);
            let to_us = rows.get(e).map(|x| x.start_us).unwrap_or(0) + width * 1_000_000;
            res.held = true;
            res.from = Some(rfc3339(from_us));
            res.to = Some(rfc3339(to_us));
            res.value = Some(round6(peak));
            res.detail = format!(
                "{what} {cond} over every {span} window from {} to {} (peak {}){}",
                rfc3339(from_us),
                rfc3339(to_us),
                fmt_value(&rule.metric, peak),
                if runs > 1 {
                    format!("; held {runs} times in all")
                } else {
                    String::new()
                }
            );
        }
        None => {
            res.value = best.map(round6);
            res.detail = match best {
                Some(b) => format!(
                    "{what} never {cond} over a {span} window (most extreme: {})",
                    fmt_value(&rule.metric, b)
                ),
                None => format!("no {what} in this window"),
            };
        }
    }
    res
}

/// Buckets in a `for` window: the window spans `for_s` (rounded up to whole buckets; one
/// bucket when the bucket is wider than `for_s`).
fn window_buckets(for_s: i64, width: i64) -> usize {
    (((for_s.max(1) + width - 1) / width).max(1)) as usize
}

/// How a window reads in details: `5m sliding by 10s`.
fn window_note(for_s: i64, width: i64) -> String {
    let k = window_buckets(for_s, width) as i64;
    if k == 1 && width > for_s {
        format!(
            "{} bucket (wider than {})",
            crate::analysis::report::fmt_duration_s(width),
            crate::analysis::report::fmt_duration_s(for_s)
        )
    } else {
        format!(
            "{} (sliding by {})",
            crate::analysis::report::fmt_duration_s(k * width),
            crate::analysis::report::fmt_duration_s(width)
        )
    }
}

/// The running sums of one sliding window of timeline rows.
struct Win<'a> {
    metric: &'a Metric,
    hists: Option<&'a crate::agg::acc::Timeline>,
    requests: i64,
    selected: i64,
    /// Latency histogram of the window (quantile rules, when the buckets' histograms are
    /// at hand).
    slots: Vec<i64>,
}

impl<'a> Win<'a> {
    fn new(metric: &'a Metric, hists: Option<&'a crate::agg::acc::Timeline>) -> Self {
        Win {
            metric,
            hists,
            requests: 0,
            selected: 0,
            slots: Vec::new(),
        }
    }

    /// Add (`sign` 1) or remove (-1) row `i`.
    fn add(&mut self, r: &Report, i: usize, sign: i64) {
        let Some(row) = r.timeline.rows.get(i) else {
            return;
        };
        match self.metric {
            Metric::Rate(s) | Metric::Count(s) => {
                // one layer when the selection is kept per layer (5xx and the tracked
                // codes), like TOTALS; other classes count every layer's lines
                let (n, k) = match (&row.once, s) {
                    (Some(o), Sel::Class(5)) => (o.requests, o.err5xx),
                    (Some(o), Sel::Code(c)) if PER_BUCKET_CODES.contains(c) => (
                        o.requests,
                        PER_BUCKET_CODES
                            .iter()
                            .position(|x| x == c)
                            .map_or(0, |p| o.status[p]),
                    ),
                    _ => (row.requests, row_count(row, s)),
                };
                self.requests += sign * n as i64;
                self.selected += sign * k as i64;
            }
            Metric::Quantile(_, f) => {
                let h = self
                    .hists
                    .and_then(|t| t.buckets.get(i))
                    .and_then(|b| match f {
                        Field::RequestTime => b.req_time.as_deref(),
                        Field::UpstreamTime => b.up_time.as_deref(),
                    });
                if let Some(h) = h {
                    if self.slots.is_empty() {
                        self.slots = vec![0; crate::agg::hist::SLOTS];
                    }
                    for (a, &c) in self.slots.iter_mut().zip(h.slot_counts().iter()) {
                        *a += sign * c as i64;
                    }
                }
            }
            _ => {}
        }
    }

    /// The metric over rows `s..=e` (already added).
    fn value(&self, r: &Report, s: usize, e: usize, cmp: Cmp) -> Option<f64> {
        match self.metric {
            Metric::Rate(_) => {
                (self.requests > 0).then(|| self.selected as f64 / self.requests as f64)
            }
            Metric::Count(_) => Some(self.selected as f64),
            Metric::Quantile(q, f) => {
                if self.hists.is_some() {
                    let counts: Vec<u64> = self.slots.iter().map(|&c| c.max(0) as u64).collect();
                    crate::agg::hist::Hist::quantile_of_counts(&counts, *q as f64 / 100.0)
                        .map(|us| (us as f64 / 1000.0).round() / 1000.0)
                } else {
                    // Without the buckets' histograms: the least extreme bucket, a bound
                    // (the window's quantile passes a threshold when every bucket's does).
                    let mut out: Option<f64> = None;
                    for i in s..=e {
                        let v = r.timeline.rows.get(i).and_then(|row| {
                            quantile_of(
                                match f {
                                    Field::RequestTime => &row.latency,
                                    Field::UpstreamTime => &row.upstream_latency,
                                },
                                *q,
                            )
                        });
                        if let Some(v) = v {
                            out = Some(out.map_or(v, |o| if cmp.holds(v, o) { o } else { v }));
                        }
                    }
                    out
                }
            }
            _ => None,
        }
    }
}

fn row_count(row: &crate::analysis::report::TimelineRow, s: &Sel) -> u64 {
    match s {
        Sel::Class(c) => row
            .status_class
            .get(&format!("{c}xx"))
            .copied()
            .unwrap_or(0),
        Sel::Code(c) => row.status.get(&c.to_string()).copied().unwrap_or(0),
    }
}

/// Live alerts: whether the rule holds over the latest window (the `for` window of buckets
/// ending with the report's newest bucket: the alert fires while it holds and resolves when
/// it no longer does). Like [`eval_with`], it cannot hold before the logs span a window.
pub fn eval_latest(
    rule: &Rule,
    r: &Report,
    hists: Option<&crate::agg::acc::Timeline>,
) -> RuleResult {
    let Some(for_s) = rule.for_s() else {
        return eval_with(rule, r, hists);
    };
    if matches!(rule.metric, Metric::Cause(_)) {
        return eval_with(rule, r, hists);
    }
    let what = describe(&rule.metric);
    let cond = format!(
        "{} {}",
        rule.cmp.sym(),
        fmt_value(&rule.metric, rule.threshold)
    );
    let width = r.timeline.bucket_seconds.max(1);
    let k = window_buckets(for_s, width);
    let rows = &r.timeline.rows;
    let mut res = RuleResult {
        rule: rule.text.clone(),
        held: false,
        from: None,
        to: None,
        value: None,
        detail: String::new(),
    };
    let span = window_note(for_s, width);
    if rows.len() < k {
        res.detail = format!(
            "{what}: the logs span {}, less than the {} a window needs",
            crate::analysis::report::fmt_duration_s(rows.len() as i64 * width),
            crate::analysis::report::fmt_duration_s(for_s)
        );
        return res;
    }
    let (s, e) = (rows.len() - k, rows.len() - 1);
    res.from = Some(rfc3339(rows[s].start_us));
    res.to = Some(rfc3339(rows[e].start_us + width * 1_000_000));
    let mut win = Win::new(&rule.metric, hists);
    for i in s..=e {
        win.add(r, i, 1);
    }
    let v = win.value(r, s, e, rule.cmp);
    res.value = v.map(round6);
    match v {
        Some(v) if rule.cmp.holds(v, rule.threshold) => {
            res.held = true;
            res.detail = format!(
                "{what} {} {cond} over the last {span}",
                fmt_value(&rule.metric, v)
            );
        }
        Some(v) => {
            res.detail = format!(
                "{what} {} over the last {span} (not {cond})",
                fmt_value(&rule.metric, v)
            )
        }
        None => res.detail = format!("no {what} in the last {span}"),
    }
    res
}

/// Evaluate every rule; the first return is whether any held.
pub fn eval_all(rules: &[Rule], r: &Report) -> (bool, Vec<RuleResult>) {
    eval_all_with(rules, r, None)
}

/// [`eval_all`] with the accumulator's timeline (see [`eval_with`]).
pub fn eval_all_with(
    rules: &[Rule],
    r: &Report,
    hists: Option<&crate::agg::acc::Timeline>,
) -> (bool, Vec<RuleResult>) {
    let out: Vec<RuleResult> = rules.iter().map(|x| eval_with(x, r, hists)).collect();
    (out.iter().any(|x| x.held), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_parse() {
        let r = parse("rate(5xx) > 5% for 5m").unwrap();
        assert_eq!(r.metric, Metric::Rate(Sel::Class(5)));
        assert_eq!(r.cmp, Cmp::Gt);
        assert!((r.threshold - 0.05).abs() < 1e-12);
        assert_eq!(r.for_s(), Some(300));
        let r = parse("count(504) > 100").unwrap();
        assert_eq!(r.metric, Metric::Count(Sel::Code(504)));
        assert_eq!(r.threshold, 100.0);
        assert_eq!(r.for_s(), None);
        let r = parse("p99(request_time) > 2s for 10m").unwrap();
        assert_eq!(r.metric, Metric::Quantile(99, Field::RequestTime));
        assert_eq!(r.threshold, 2.0);
        assert_eq!(r.for_s(), Some(600));
        let r = parse("incidents > 0").unwrap();
        assert_eq!(r.metric, Metric::Incidents);
        let r = parse("cause(fpm_max_children)").unwrap();
        assert_eq!(r.metric, Metric::Cause("fpm_max_children".into()));
        assert_eq!((r.cmp, r.threshold), (Cmp::Gt, 0.0));
        // spacing is free
        assert_eq!(parse("rate( 5xx )>=0.5%for 1m").unwrap().cmp, Cmp::Ge);
        assert!((parse("p95(upstream_time) < 500ms").unwrap().threshold - 0.5).abs() < 1e-12);
    }

    #[test]
    fn malformed_rules_point_at_the_bad_token() {
        let cases = [
            ("rate(5xx) > 5 % for 5m", "at '5' (column 13)"),
            ("rate(6xx) > 5%", "at '6xx' (column 6)"),
            ("count(504) > lots", "at 'lots' (column 14)"),
            ("p98(request_time) > 2s", "at 'p98'"),
            ("p99(request_tme) > 2s", "at 'request_tme'"),
            ("rate(5xx) > 5% for 5x", "at '5x'"),
            ("rate(5xx) > 5% during 5m", "at 'during'"),
            ("cause(fpm_max_kids)", "at 'fpm_max_kids'"),
            ("incidents > 0 for 5m", "at 'for'"),
            ("rate(5xx) > 5% for 5m; rm -rf", "at ';'"),
            ("rate 5xx > 5%", "expected '('"),
            ("rate(5xx) >", "at the end of the rule"),
            ("banana", "at 'banana' (column 1)"),
            ("count(404) > 3 for 1m", "at '404'"),
        ];
        for (rule, want) in cases {
            let e = parse(rule).unwrap_err();
            assert!(e.contains(want), "{rule}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    /// The nom grammar accepts the language the hand-written one did (values checked).
    #[test]
    fn the_accepted_language_is_unchanged() {
        let cases: [(&str, Metric, Cmp, f64, Option<i64>); 14] = [
            (
                "rate(5xx)>5%",
                Metric::Rate(Sel::Class(5)),
                Cmp::Gt,
                0.05,
                None,
            ),
            (
                "rate(503) > 0.05 for 30s",
                Metric::Rate(Sel::Code(503)),
                Cmp::Gt,
                0.05,
                Some(30),
            ),
            (
                "rate(4xx) <= 100%",
                Metric::Rate(Sel::Class(4)),
                Cmp::Le,
                1.0,
                None,
            ),
            (
                "rate(5xx) > 5%for 5min",
                Metric::Rate(Sel::Class(5)),
                Cmp::Gt,
                0.05,
                Some(300),
            ),
            (
                "  count(5xx) >= 7 for 1h  ",
                Metric::Count(Sel::Class(5)),
                Cmp::Ge,
                7.0,
                Some(3600),
            ),
            (
                "count(429)<3 for 2m",
                Metric::Count(Sel::Code(429)),
                Cmp::Lt,
                3.0,
                Some(120),
            ),
            (
                "count(404) > 3",
                Metric::Count(Sel::Code(404)),
                Cmp::Gt,
                3.0,
                None,
            ),
            (
                "p50(upstream_response_time) > 1.5",
                Metric::Quantile(50, Field::UpstreamTime),
                Cmp::Gt,
                1.5,
                None,
            ),
            (
                "p95(request_time) > 2m for 1d",
                Metric::Quantile(95, Field::RequestTime),
                Cmp::Gt,
                120.0,
                Some(86400),
            ),
            (
                "p99(request_time)>250ms for 90",
                Metric::Quantile(99, Field::RequestTime),
                Cmp::Gt,
                0.25,
                Some(90),
            ),
            ("rejected > 10", Metric::Rejected, Cmp::Gt, 10.0, None),
            ("incidents>=1", Metric::Incidents, Cmp::Ge, 1.0, None),
            (
                "cause( upstream_read_timeout ) > 0.8",
                Metric::Cause("upstream_read_timeout".into()),
                Cmp::Gt,
                0.8,
                None,
            ),
            (
                "\tcause(unknown)\n",
                Metric::Cause("unknown".into()),
                Cmp::Gt,
                0.0,
                None,
            ),
        ];
        for (text, m, c, t, f) in cases {
            let r = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((&r.metric, r.cmp, r.for_s()), (&m, c, f), "{text}");
            assert!((r.threshold - t).abs() < 1e-12, "{text}: {}", r.threshold);
            assert_eq!(r.text, text.trim());
        }
    }

    /// Every error names the column (in characters, from 1) of the element that failed.
    #[test]
    fn errors_name_the_exact_column() {
        let cases = [
            ("rate(503) > 5% for 5x", "expected a duration such as 30s, 5m or 1h at '5x' (column 20)"),
            ("rate(503) > 5 %% for 5m", "expected a percentage such as 5% (or a fraction such as 0.05) at '5' (column 13)"),
            ("rate(5xx) for 5m", "expected a comparison (>, >=, <, <=) at 'for' (column 11)"),
            ("rate(5xx) = 5%", "expected a comparison (>, >=, <, <=) at '=' (column 11)"),
            ("count(504 > 3", "expected ')' at '>' (column 11)"),
            ("count() > 3", "missing argument at ')' (column 7)"),
            ("  count(5xx) > 3 for 5m 5m", "unexpected text after the rule at '5m' (column 25)"),
            ("rate(418) > 1% for 5m", "per-bucket counts are kept for 499, 500, 502, 503, 504, 429 and classes (5xx) only at '418' (column 6)"),
            ("p99(request_time) > 2x", "expected a duration such as 2s or 500ms at '2x' (column 21)"),
            ("cause(overload) > 2", "expected a confidence between 0 and 1 at '2' (column 19)"),
            ("rejected > 1 for 1m", "'for' applies to rate, count and latency rules only at 'for' (column 14)"),
            ("é rate(5xx) > 1%", "at 'é' (column 1)"),
            ("rate(5xx) > 1% ü", "at 'ü' (column 16)"),
            ("rate(5xx) > 5% for", "expected a duration after 'for' at the end of the rule"),
            ("", "empty rule at the end of the rule"),
        ];
        for (rule, want) in cases {
            let e = parse(rule).unwrap_err();
            assert!(e.contains(want), "{rule}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
