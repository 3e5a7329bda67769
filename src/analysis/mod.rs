//! From merged accumulators to a report: timeline rows, incidents (relative to the series'
//! own baseline), ranked causes with evidence, request joins, saturation roots and capacity.

pub(crate) mod causes;
pub mod report;
pub mod rules;
pub mod summary;
pub mod totals;

use std::collections::{BTreeMap, HashMap};

use gatelog_parsers::{EventKind, Layer};

use crate::agg::acc::{Acc, Bucket, LbVerdict, Timeline, STATUS_TRACKED};
use crate::agg::hist::Hist;
use crate::analysis::report::*;

/// Knobs of the analysis.
#[derive(Clone, Debug)]
pub struct AnalysisOptions {
    /// Timeline width the user asked for (`--bucket`); `None` chooses from the span.
    pub bucket_s: Option<i64>,
    /// Fewest errors an incident needs.
    pub min_incident_errors: u64,
    /// Rows to show in top-N tables.
    pub top_n: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            bucket_s: None,
            min_incident_errors: 5,
            top_n: 10,
        }
    }
}

/// Input description handed in by the caller.
#[derive(Clone, Debug)]
pub struct InputMeta {
    pub id: u32,
    pub name: String,
    pub format: String,
    pub layer: Layer,
    pub detected: String,
}

pub(crate) const EVIDENCE_PER_CAUSE: usize = 3;

pub fn build_report(
    mut acc: Acc,
    inputs: &[InputMeta],
    skipped: Vec<SkippedInput>,
    timezone: String,
    opts: &AnalysisOptions,
) -> Report {
    report_of(&mut acc, inputs, skipped, timezone, opts, &[])
}

/// The report of an accumulator. `prior`: the (5xx, requests) of recent buckets of earlier
/// runs (`--state`), which join the baseline this run's incidents are measured against. The
/// accumulator is left to the caller, who may free it off the critical path (a large run's
/// holds hundreds of thousands of small allocations); only its timeline's width changes.
pub fn report_of(
    acc_mut: &mut Acc,
    inputs: &[InputMeta],
    skipped: Vec<SkippedInput>,
    timezone: String,
    opts: &AnalysisOptions,
    prior: &[(u64, u64)],
) -> Report {
    let mut notes = Vec::new();
    // choose the analysis width
    choose_width(&mut acc_mut.timeline, opts.bucket_s);
    let acc: &Acc = acc_mut;
    let tl = &acc.timeline;
    let width = tl.width_s();
    let names: HashMap<u32, &str> = inputs.iter().map(|i| (i.id, i.name.as_str())).collect();
    let error_logs = nginx_error_logs(inputs);
    let name_of = |f: u32| names.get(&f).copied().unwrap_or("?").to_string();
    // each upstream's display name once (rows, incidents and capacity ask for them per
    // bucket)
    let up_names: Vec<String> = acc
        .upstream_names
        .iter()
        .map(|n| display_bytes(n))
        .collect();
    let up_name = |id: u32| -> String { up_names.get(id as usize).cloned().unwrap_or_default() };

    // inputs
    let mut input_reports = Vec::new();
    let mut totals = Totals {
        lines: 0,
        parsed: 0,
        rejected: 0,
        skipped: 0,
        requests: 0,
        status: BTreeMap::new(),
        status_class: BTreeMap::new(),
        counted_layer: None,
        layers: BTreeMap::new(),
        by_layer: BTreeMap::new(),
        events: BTreeMap::new(),
    };
    let mut first: Option<i64> = None;
    let mut last: Option<i64> = None;
    for m in inputs {
        let st = acc.files.get(&m.id).cloned().unwrap_or_default();
        totals.lines += st.lines;
        totals.parsed += st.parsed;
        totals.rejected += st.rejected;
        totals.skipped += st.skipped;
        if let Some(f) = st.first_us {
            first = Some(first.map_or(f, |x| x.min(f)));
        }
        if let Some(l) = st.last_us {
            last = Some(last.map_or(l, |x| x.max(l)));
        }
        for e in &st.errors {
            notes.push(e.clone());
        }
        input_reports.push(InputReport {
            path: m.name.clone(),
            format: m.format.clone(),
            layer: m.layer.id().to_string(),
            detected: m.detected.clone(),
            lines: st.lines,
            parsed: st.parsed,
            rejected: st.rejected,
            skipped: st.skipped,
            bytes: st.bytes,
            requests: st.requests,
            events: st.events,
            rejected_reasons: st.rejected_reasons.clone(),
            rejected_samples: st
                .rejected_samples
                .iter()
                .zip(st.rejected_reason_of_samples.iter())
                .map(|(s, r)| Evidence {
                    path: m.name.clone(),
                    line: s.line,
                    text: format!("{}  [{}]", display_bytes(&s.text), r),
                })
                .collect(),
            errors: st.errors.clone(),
            duplicate_of: None,
        });
    }
    crate::analysis::totals::count_once(&mut totals, acc);
    let sums = fold_buckets(&tl.buckets);
    for (i, l) in [Layer::Lb, Layer::Proxy, Layer::App].iter().enumerate() {
        if sums.requests_by_layer[i] > 0 {
            let e = totals.by_layer.entry(l.id().to_string()).or_default();
            e.requests += sums.requests_by_layer[i];
            e.err5xx += sums.err5xx_by_layer[i];
        }
    }
    for k in EventKind::ALL {
        let n = sums.events[k.index()];
        if n > 0 {
            *totals.events.entry(k.id().to_string()).or_insert(0) += n;
        }
    }
    let (all_req, all_up) = (sums.req_time, sums.up_time);

    // incidents
    let any_requests = totals.requests > 0;
    let signal: Vec<(u64, u64)> = tl
        .buckets
        .iter()
        .map(|b| {
            if any_requests {
                (b.err5xx() + refused_4xx(b, None), b.requests)
            } else {
                (error_events(b), 0)
            }
        })
        .collect();
    let base_sig: Vec<(u64, u64)> = if any_requests && !prior.is_empty() {
        prior.iter().chain(signal.iter()).copied().collect()
    } else {
        signal.clone()
    };
    let mut spans = find_incidents_with(&signal, &base_sig, any_requests, opts.min_incident_errors);
    slow_burn_spans(&mut spans, &signal, &base_sig, any_requests, opts, tl);
    // the minimum applies to failed requests, not to log lines: a request logged by the LB
    // and by nginx is one error
    spans.retain(|&(s, e)| {
        let bs = &tl.buckets[s..=e];
        match outer_layer(bs) {
            Some(l) => {
                bs.iter()
                    .map(|b| b.err5xx_by_layer[l] + refused_4xx(b, Some(l)))
                    .sum::<u64>()
                    >= opts.min_incident_errors
            }
            None => true,
        }
    });
    let baseline_rate = baseline(&base_sig, any_requests).0;
    // When the display is coarser than the fine series (days of logs, inputs that do not
    // overlap in time), incidents are found on the fine series (`crate::agg::fine`): their times
    // are exact, the display buckets they fall in give the rest.
    let exact = fine_spans(acc, &mut spans, any_requests, opts, prior);

    // timeline rows (beside the joins: `Joiner::new` indexes every row of the run)
    let counted = LAYERS
        .iter()
        .position(|l| totals.counted_layer.as_deref() == Some(l.id()));
    let timeline_rows = || {
        let mut rows = Vec::with_capacity(tl.buckets.len());
        for (i, b) in tl.buckets.iter().enumerate() {
            let start_us = tl.bucket_start_us(i);
            rows.push(TimelineRow {
                start: rfc3339(start_us),
                start_us,
                requests: b.requests,
                status: status_map(b),
                status_class: class_map(b),
                err5xx: b.err5xx(),
                by_layer: layer_map(std::slice::from_ref(b)),
                latency: quantiles(b.req_time.as_deref()),
                upstream_latency: quantiles(b.up_time.as_deref()),
                events: events_map(std::slice::from_ref(b)),
                upstreams_5xx: b
                    .upstreams
                    .iter()
                    .filter(|u| u.2 > 0)
                    .map(|u| (up_name(u.0), u.2 as u64))
                    .collect(),
                in_incident: spans
                    .iter()
                    .position(|s| i >= s.0 && i <= s.1)
                    .map(|p| p + 1),
                once: counted.map(|l| RowOnce {
                    requests: b.requests_by_layer[l],
                    err5xx: b.err5xx_by_layer[l],
                    status: b.status_by_layer[l],
                }),
            });
        }
        rows
    };

    // joins (whole run), and the event rows of each kind (`CauseCtx::rows`)
    let ((rows, join), by_kind) = rayon::join(
        || rayon::join(timeline_rows, || Joiner::new(acc)),
        || RowsByKind::new(acc),
    );
    let mut joins = Joins::default();

    // incidents with causes, one task each (they only read the accumulator); in order
    use rayon::prelude::*;
    let incidents: Vec<Incident> = spans
        .par_iter()
        .enumerate()
        .map(|(n, &(s, e))| {
            let (start_us, end_us) = exact.get(n).copied().unwrap_or((
                tl.bucket_start_us(s),
                tl.bucket_start_us(e) + width * 1_000_000,
            ));
            let bs = &tl.buckets[s..=e];
            // Headline figures count each request once: at the outermost layer that logged
            // requests in the window (a request logged by the LB and by nginx is one request).
            let outer = outer_layer(bs);
            let fine = exact
                .get(n)
                .and_then(|_| acc.fine.figures(start_us, end_us))
                .filter(|_| outer.is_some());
            let (errors, requests) = match outer {
                Some(_) if fine.is_some() => fine.unwrap_or_default(),
                Some(l) => (
                    bs.iter().map(|b| b.err5xx_by_layer[l]).sum(),
                    bs.iter().map(|b| b.requests_by_layer[l]).sum(),
                ),
                None => (
                    signal[s..=e].iter().map(|x| x.0).sum::<u64>(),
                    bs.iter().map(|b| b.requests).sum::<u64>(),
                ),
            };
            let peak = (s..=e)
                .max_by_key(|&i| (signal[i].0, std::cmp::Reverse(i)))
                .unwrap_or(s);
            let mut status = BTreeMap::new();
            for (k, code) in STATUS_TRACKED.iter().enumerate() {
                let c: u64 = bs.iter().map(|b| layer_status(b, outer, k)).sum();
                if c > 0 {
                    status.insert(code.to_string(), c);
                }
            }
            let tracked5: u64 = status
                .iter()
                .filter(|(k, _)| k.starts_with('5'))
                .map(|(_, v)| v)
                .sum();
            let all5: u64 = match outer {
                Some(l) => bs.iter().map(|b| b.err5xx_by_layer[l]).sum(),
                None => bs.iter().map(|b| b.err5xx()).sum(),
            };
            if all5 > tracked5 {
                status.insert("5xx_other".into(), all5 - tracked5);
            }
            let mut ups: BTreeMap<String, u64> = BTreeMap::new();
            for b in bs {
                for u in &b.upstreams {
                    if u.2 > 0 {
                        *ups.entry(up_name(u.0)).or_insert(0) += u.2 as u64;
                    }
                }
            }
            let ctx = CauseCtx {
                acc,
                tl,
                s,
                e,
                start_us,
                end_us,
                width_us: width * 1_000_000,
                // causes weigh every failed request, the refused 4xx included
                errors: errors
                    + outer.map_or(0, |l| bs.iter().map(|b| refused_4xx(b, Some(l))).sum()),
                layer: outer,
                any_requests,
                name_of: &name_of,
                up_name: &up_name,
                by_kind: &by_kind,
                error_logs: &error_logs,
            };
            let ij = join.incident(start_us - width * 1_000_000, end_us + width * 1_000_000);
            let saturation = saturation(acc, start_us - 300_000_000, end_us);
            let mut causes = crate::analysis::causes::attribute(&ctx, &ij, saturation.as_ref());
            crate::analysis::causes::rank(&ctx, &mut causes, saturation.as_ref());
            Incident {
                id: n + 1,
                start: rfc3339(start_us),
                end: rfc3339(end_us),
                start_us,
                end_us,
                peak_bucket: rfc3339(tl.bucket_start_us(peak)),
                requests,
                errors,
                counted_layer: outer.map(|l| LAYERS[l].id().to_string()),
                error_rate: if requests > 0 {
                    round3(errors as f64 / requests as f64)
                } else {
                    0.0
                },
                baseline_rate: round3(baseline_rate),
                status,
                by_layer: layer_map(bs),
                upstreams: ups,
                events: events_map(bs),
                causes,
                joins: ij,
                saturation,
            }
        })
        .collect();
    let whole = join.incident(i64::MIN, i64::MAX);
    joins.explained = whole.explained;
    joins.total_5xx = whole.total_5xx;
    joins.lb_matched = whole.lb_matched;
    joins.lb_5xx = whole.lb_5xx;
    joins.by_kind = join.by_kind(i64::MIN, i64::MAX);

    if acc.rows_dropped > 0 {
        notes.push(format!(
            "{} error lines were counted but not kept for joins and evidence (more than {} in this run); counts and the timeline are exact",
            acc.rows_dropped,
            crate::agg::acc::MAX_ROWS
        ));
    }

    let top = crate::analysis::totals::top(acc, totals.counted_layer.as_deref(), opts.top_n);
    let capacity = capacity(tl, &spans, &up_name);

    let mut report = Report {
        schema: 1,
        generator: format!("gatelog {}", env!("CARGO_PKG_VERSION")),
        timezone,
        inputs: input_reports,
        skipped_inputs: skipped,
        window: Window {
            from: first.map(rfc3339),
            to: last.map(rfc3339),
        },
        totals,
        timeline: TimelineReport {
            bucket: fmt_duration_s(width),
            bucket_seconds: width,
            rows,
        },
        findings: crate::analysis::causes::findings(acc, &incidents, &name_of),
        incidents,
        joins,
        top,
        latency: Latency {
            request_time: quantiles(Some(&all_req)),
            upstream_time: quantiles(Some(&all_up)),
        },
        capacity,
        notes,
        rules: Vec::new(),
        summary: Default::default(),
    };
    report.summary = crate::analysis::summary::of(&report);
    report
}

/// Layers from the outside in, indexed as `Bucket::requests_by_layer`.
pub(crate) const LAYERS: [Layer; 3] = [Layer::Lb, Layer::Proxy, Layer::App];

/// The outermost layer (index into the per-layer counts) that logged requests in `bs`.
fn outer_layer(bs: &[Bucket]) -> Option<usize> {
    (0..LAYERS.len()).find(|&l| bs.iter().any(|b| b.requests_by_layer[l] > 0))
}

/// Requests of tracked status slot `k` in `b`, at `layer` (every layer when `None`).
fn layer_status(b: &Bucket, layer: Option<usize>, k: usize) -> u64 {
    match layer {
        Some(l) => b.status_by_layer[l][k],
        None => b.status[k],
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn choose_width(tl: &mut Timeline, want: Option<i64>) {
    if tl.buckets.is_empty() {
        return;
    }
    let step = match want {
        // the base width is already the requested one unless the span forced coarsening
        Some(_) => tl.step,
        None => {
            // the span of the instants counted, in base widths (the same whatever width the
            // buckets reached on the way: chunked or not, the report is the same)
            let base = tl.base_width_s * 1_000_000;
            let span = if tl.lo_us <= tl.hi_us {
                tl.hi_us.div_euclid(base) - tl.lo_us.div_euclid(base) + 1
            } else {
                tl.buckets.len() as i64 * ladder(tl.step)
            };
            crate::agg::acc::auto_step(span).max(tl.step)
        }
    };
    tl.coarsen(step);
}

/// Incidents found on the fine series when it is finer than the display (`crate::agg::fine`):
/// replaces `spans` by the display buckets they fall in (merged where they share one) and
/// returns their exact [start, end) µs; else leaves `spans` and returns nothing. Runs with
/// earlier runs' buckets (`prior`, `--state`) keep the display's incidents.
fn fine_spans(
    acc: &Acc,
    spans: &mut Vec<(usize, usize)>,
    rates: bool,
    opts: &AnalysisOptions,
    prior: &[(u64, u64)],
) -> Vec<(i64, i64)> {
    let tl = &acc.timeline;
    let mut exact: Vec<(i64, i64)> = Vec::new();
    if !prior.is_empty() || tl.buckets.is_empty() {
        return exact;
    }
    let Some(times) = crate::agg::fine::incidents(
        &acc.fine,
        tl.width_s(),
        rates,
        opts.min_incident_errors,
        find_incidents,
    ) else {
        return exact;
    };
    spans.clear();
    let w = tl.width_s() * 1_000_000;
    let last = tl.buckets.len() as i64 - 1;
    for (a, b) in times {
        let s = (a.div_euclid(w) - tl.first).clamp(0, last) as usize;
        let e = ((b - 1).div_euclid(w) - tl.first).clamp(0, last) as usize;
        match (spans.last_mut(), exact.last_mut()) {
            (Some(sp), Some(x)) if s <= sp.1 => {
                sp.1 = sp.1.max(e);
                x.1 = x.1.max(b);
            }
            _ => {
                spans.push((s, e));
                exact.push((a, b));
            }
        }
    }
    exact
}

/// Width (s) of the groups of display buckets [`slow_burn_spans`] looks at again.
const SLOW_BURN_S: i64 = 10;

/// Failures spread thin — one 502 a second among other requests (workers killed one at a
/// time, issue 15's `fpm_oom_kill` without the LB log) — never put 2 errors in one 1 s
/// bucket, so the display series alone finds no incident. When the display is finer than
/// [`SLOW_BURN_S`], look again at groups of that width (same rules, same baseline test) and add
/// the spans found there that no display span overlaps, trimmed to their first and last
/// bucket with failures.
fn slow_burn_spans(
    spans: &mut Vec<(usize, usize)>,
    signal: &[(u64, u64)],
    base_sig: &[(u64, u64)],
    rates: bool,
    opts: &AnalysisOptions,
    tl: &Timeline,
) {
    let w = tl.width_s();
    if w >= SLOW_BURN_S || signal.is_empty() || SLOW_BURN_S % w != 0 {
        return;
    }
    let k = SLOW_BURN_S / w;
    let group = |sig: &[(u64, u64)], first: i64| -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        let g0 = first.div_euclid(k);
        for (i, x) in sig.iter().enumerate() {
            let g = ((first + i as i64).div_euclid(k) - g0) as usize;
            if out.len() <= g {
                out.resize(g + 1, (0, 0));
            }
            out[g].0 += x.0;
            out[g].1 += x.1;
        }
        out
    };
    let sig = group(signal, tl.first);
    // earlier runs' buckets (`--state`) come first in `base_sig`
    let base = group(
        base_sig,
        tl.first - base_sig.len().saturating_sub(signal.len()) as i64,
    );
    let g0 = tl.first.div_euclid(k);
    let mut added = false;
    for (gs, ge) in find_incidents_with(&sig, &base, rates, opts.min_incident_errors) {
        let lo = ((g0 + gs as i64) * k - tl.first).max(0) as usize;
        let hi = (((g0 + ge as i64 + 1) * k - tl.first) as usize).min(signal.len()) - 1;
        let Some(s) = (lo..=hi).find(|&i| signal[i].0 > 0) else {
            continue;
        };
        let mut e = (lo..=hi).rev().find(|&i| signal[i].0 > 0).unwrap_or(s);
        // a group boundary may cut the burn's last failures off (one in the next group does
        // not make it hot): take those within the next group's width
        let reach = (e + k as usize).min(signal.len() - 1);
        if let Some(x) = (e + 1..=reach).rev().find(|&i| signal[i].0 > 0) {
            e = x;
        }
        if spans.iter().any(|&(a, b)| a <= e + 1 && s <= b + 1) {
            continue;
        }
        spans.push((s, e));
        added = true;
    }
    if added {
        spans.sort_unstable();
    }
}

fn ladder(step: usize) -> i64 {
    let l = &crate::agg::acc::LADDER;
    l[step.min(l.len() - 1)]
}

/// Requests the gateway refused with a 4xx that are failures of the service, not of the
/// client (SPEC `rate_limited` "503 (or 429)", `request_header_too_big` 400/494): 429s
/// (at `layer`, every line when `None`) and the requests nginx logged as `client sent too
/// long header line` / `too large header`. They open incidents and count as the incident's
/// failed requests; the 5xx rate does not include them.
fn refused_4xx(b: &Bucket, layer: Option<usize>) -> u64 {
    let s429 = match layer {
        Some(l) => b.status_by_layer[l][5],
        None => b.status[5],
    };
    s429 + b.events[EventKind::ClientHeaderTooBig.index()] as u64
}

fn error_events(b: &Bucket) -> u64 {
    EventKind::ALL
        .iter()
        .filter(|k| {
            k.is_error() && **k != EventKind::FpmSlowTrace && **k != EventKind::FpmExecutingTooSlow
        })
        .map(|k| b.events[k.index()] as u64)
        .sum()
}

/// Robust baseline of the error signal: (low quartile, spread). The low quartile rather
/// than the median, because an incident may cover most of a short log (a capture made
/// around the failure), and the baseline is what the service does when it is well.
fn baseline(sig: &[(u64, u64)], rates: bool) -> (f64, f64) {
    let mut v: Vec<f64> = if rates {
        sig.iter()
            .filter(|x| x.1 > 0)
            .map(|x| x.0 as f64 / x.1 as f64)
            .collect()
    } else {
        sig.iter().map(|x| x.0 as f64).collect()
    };
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let q1 = v[(v.len() - 1) / 4];
    // spread: median absolute deviation of the lower half around the low quartile
    let mut dev: Vec<f64> = v[..v.len().div_ceil(2)]
        .iter()
        .map(|x| (x - q1).abs())
        .collect();
    (q1, median(&mut dev))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Incident spans (first, last bucket index): runs of buckets whose error rate stands well
/// above the series' own baseline, gaps of up to two quiet buckets bridged, with at least
/// `min_errors` errors in all.
pub fn find_incidents(sig: &[(u64, u64)], rates: bool, min_errors: u64) -> Vec<(usize, usize)> {
    find_incidents_with(sig, sig, rates, min_errors)
}

/// [`find_incidents`] against the baseline of `base` (the signal with earlier runs' buckets).
pub fn find_incidents_with(
    sig: &[(u64, u64)],
    base: &[(u64, u64)],
    rates: bool,
    min_errors: u64,
) -> Vec<(usize, usize)> {
    let (mut med, mut mad) = baseline(base, rates);
    // an error log (no access log) that is failing in nearly every bucket is a capture made
    // around the failure: a healthy error log says nothing, so the baseline is zero
    if !rates && base.len() >= 3 && base.iter().filter(|x| x.0 >= 2).count() * 10 >= base.len() * 9
    {
        (med, mad) = (0.0, 0.0);
    }
    let hot: Vec<bool> = sig
        .iter()
        .map(|&(e, n)| {
            if e < 2 {
                return false;
            }
            if rates {
                if n == 0 {
                    return false;
                }
                let r = e as f64 / n as f64;
                (r >= med + (4.0 * mad).max(0.05) && r >= 2.0 * med) || r >= 0.5
            } else {
                e as f64 >= med + (4.0 * mad).max(2.0)
            }
        })
        .collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < hot.len() {
        if !hot[i] {
            i += 1;
            continue;
        }
        let s = i;
        let mut e = i;
        let mut j = i + 1;
        while j < hot.len() && j <= e + 3 {
            if hot[j] {
                e = j;
            }
            j += 1;
        }
        let errs: u64 = sig[s..=e].iter().map(|x| x.0).sum();
        if errs >= min_errors {
            spans.push((s, e));
        }
        i = e + 1;
    }
    spans
}

fn quantiles(h: Option<&Hist>) -> Quantiles {
    match h {
        Some(h) if h.total() > 0 => Quantiles {
            p50: h.quantile(0.5).map(secs),
            p95: h.quantile(0.95).map(secs),
            p99: h.quantile(0.99).map(secs),
        },
        _ => Quantiles::default(),
    }
}

fn secs(us: u64) -> f64 {
    (us as f64 / 1000.0).round() / 1000.0
}

fn status_map(b: &Bucket) -> BTreeMap<String, u64> {
    STATUS_TRACKED
        .iter()
        .enumerate()
        .filter(|(k, _)| b.status[*k] > 0)
        .map(|(k, c)| (c.to_string(), b.status[k]))
        .collect()
}

fn class_map(b: &Bucket) -> BTreeMap<String, u64> {
    let names = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| b.class[*i] > 0)
        .map(|(i, n)| (n.to_string(), b.class[i]))
        .collect()
}

fn layer_map(bs: &[Bucket]) -> BTreeMap<String, LayerCount> {
    let mut m = BTreeMap::new();
    for b in bs {
        for (i, l) in [Layer::Lb, Layer::Proxy, Layer::App].iter().enumerate() {
            if b.requests_by_layer[i] > 0 {
                let e: &mut LayerCount = m.entry(l.id().to_string()).or_default();
                e.requests += b.requests_by_layer[i];
                e.err5xx += b.err5xx_by_layer[i];
            }
        }
    }
    m
}

fn events_map(bs: &[Bucket]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for b in bs {
        for k in EventKind::ALL {
            let n = b.events[k.index()];
            if n > 0 && k != EventKind::Other {
                *m.entry(k.id().to_string()).or_insert(0) += n as u64;
            }
        }
    }
    m
}

pub(crate) fn top_entries(t: &crate::agg::acc::TopN, n: usize) -> Vec<TopEntry> {
    t.top(n)
        .into_iter()
        .map(|(k, c)| TopEntry {
            key: display_bytes(k),
            count: c,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Joins

/// Joins 5xx request rows to the error-log rows that explain them, and LB rows to backend
/// rows.
struct Joiner<'a> {
    acc: &'a Acc,
    /// For each request row, the event row that explains it (one-to-one: an error-log line
    /// explains at most one request).
    explained_by: Vec<Option<usize>>,
    /// For each LB request row, the backend request row it was matched to.
    backend: Vec<Option<usize>>,
}

/// How far around a request an explaining error-log line may be.
const JOIN_SLACK_US: i64 = 2_000_000;

impl<'a> Joiner<'a> {
    fn new(acc: &'a Acc) -> Self {
        // error-log rows with a (client, request) key, sorted by (key, time, row): each
        // key's candidates are one run, in time order (binary search, no hash map)
        let mut by_key: Vec<(u64, u64, i64, u32)> = acc
            .event_rows
            .iter()
            .enumerate()
            .filter(|(_, e)| e.client != 0 && e.request != 0)
            .map(|(i, e)| (e.client, e.request, e.utc_us, i as u32))
            .collect();
        by_key.sort_unstable();
        // request rows in (time, row) order
        let mut order: Vec<(i64, u32)> = acc
            .req_rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.utc_us, i as u32))
            .collect();
        order.sort_unstable();
        let mut used = vec![false; acc.event_rows.len()];
        let mut explained_by = vec![None; acc.req_rows.len()];
        // (no error-log lines to explain anything with: nothing to do)
        for &(_, i) in order.iter().filter(|_| !by_key.is_empty()) {
            let i = i as usize;
            let r = &acc.req_rows[i];
            if r.status < 500 || r.layer == Layer::Lb {
                continue;
            }
            let dur = r.dur_us.unwrap_or(0) as i64;
            let lo = r.utc_us - dur - JOIN_SLACK_US;
            let hi = r.utc_us + JOIN_SLACK_US;
            // the key's candidates from `lo` on, in time order: the first unused one up to `hi`
            let from = by_key.partition_point(|c| (c.0, c.1, c.2) < (r.client, r.request, lo));
            for c in &by_key[from..] {
                if c.0 != r.client || c.1 != r.request || c.2 > hi {
                    break;
                }
                let k = c.3 as usize;
                if !used[k] {
                    used[k] = true;
                    explained_by[i] = Some(k);
                    break;
                }
            }
        }
        // LB rows to backend rows: same trace id, else same request line within the LB
        // request's duration; each backend row used once.
        let mut by_trace: hashbrown::HashMap<u64, Vec<usize>> = hashbrown::HashMap::new();
        let mut by_request: hashbrown::HashMap<u64, Vec<usize>> = hashbrown::HashMap::new();
        let lb_5xx = acc
            .req_rows
            .iter()
            .any(|r| r.layer == Layer::Lb && r.status >= 500);
        let mut used_b = Vec::new();
        let mut backend = Vec::new();
        // (no LB 5xx, nothing to match: the usual nginx-only run skips the index)
        if lb_5xx {
            for &(_, i) in &order {
                let i = i as usize;
                let r = &acc.req_rows[i];
                if r.layer != Layer::Lb {
                    if r.trace != 0 {
                        by_trace.entry(r.trace).or_default().push(i);
                    }
                    by_request.entry(r.request).or_default().push(i);
                }
            }
            used_b = vec![false; acc.req_rows.len()];
            backend = vec![None; acc.req_rows.len()];
        }
        for &(_, i) in order.iter().filter(|_| lb_5xx) {
            let i = i as usize;
            let r = &acc.req_rows[i];
            if r.layer != Layer::Lb || r.status < 500 {
                continue;
            }
            let dur = r.dur_us.unwrap_or(0) as i64;
            let by_id = if r.trace != 0 {
                by_trace
                    .get(&r.trace)
                    .and_then(|v| v.iter().copied().find(|&k| !used_b[k]))
            } else {
                None
            };
            let found = by_id.or_else(|| {
                by_request.get(&r.request).and_then(|v| {
                    v.iter().copied().find(|&k| {
                        let t = acc.req_rows[k].utc_us;
                        !used_b[k]
                            && t >= r.utc_us - dur - JOIN_SLACK_US
                            && t <= r.utc_us + JOIN_SLACK_US
                    })
                })
            });
            if let Some(k) = found {
                used_b[k] = true;
                backend[i] = Some(k);
            }
        }
        Joiner {
            acc,
            explained_by,
            backend,
        }
    }

    fn incident(&self, from: i64, to: i64) -> IncidentJoins {
        let mut j = IncidentJoins::default();
        // counted by status and by kind index, named once at the end
        let mut backend_status: BTreeMap<u16, u64> = BTreeMap::new();
        let mut backend_error = [0u64; EventKind::COUNT];
        for (i, r) in self.acc.req_rows.iter().enumerate() {
            if r.status < 500 || r.utc_us < from || r.utc_us >= to {
                continue;
            }
            if r.layer == Layer::Lb {
                j.lb_5xx += 1;
                if let Some(k) = self.backend.get(i).copied().flatten() {
                    j.lb_matched += 1;
                    *backend_status
                        .entry(self.acc.req_rows[k].status)
                        .or_insert(0) += 1;
                    // and on to the backend's error-log line, when one explains it
                    if let Some(e) = self.explained_by.get(k).copied().flatten() {
                        backend_error[self.acc.event_rows[e].kind.index()] += 1;
                    }
                }
            } else {
                j.total_5xx += 1;
                if self.explained_by[i].is_some() {
                    j.explained += 1;
                }
            }
        }
        for (st, n) in backend_status {
            *j.backend_status.entry(st.to_string()).or_insert(0) += n;
        }
        j.backend_error = kind_counts(&backend_error);
        j
    }

    fn by_kind(&self, from: i64, to: i64) -> BTreeMap<String, u64> {
        let mut n = [0u64; EventKind::COUNT];
        for (i, r) in self.acc.req_rows.iter().enumerate() {
            if r.utc_us >= from && r.utc_us < to {
                if let Some(k) = self.explained_by[i] {
                    n[self.acc.event_rows[k].kind.index()] += 1;
                }
            }
        }
        kind_counts(&n)
    }
}

/// Counts by event kind index, by kind name (the kinds counted).
fn kind_counts(n: &[u64; EventKind::COUNT]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for k in EventKind::ALL {
        if let Some(&c) = n.get(k.index()).filter(|c| **c > 0) {
            *m.entry(k.id().to_string()).or_insert(0) += c;
        }
    }
    m
}

// ---------------------------------------------------------------------------------------
// Causes

pub(crate) struct CauseCtx<'a> {
    pub(crate) acc: &'a Acc,
    pub(crate) tl: &'a Timeline,
    pub(crate) s: usize,
    pub(crate) e: usize,
    pub(crate) start_us: i64,
    pub(crate) end_us: i64,
    pub(crate) width_us: i64,
    /// 5xx in the incident, each request counted once (at `layer`).
    pub(crate) errors: u64,
    /// The outermost layer that logged requests in the incident (index into per-layer counts).
    pub(crate) layer: Option<usize>,
    pub(crate) any_requests: bool,
    pub(crate) name_of: &'a dyn Fn(u32) -> String,
    pub(crate) up_name: &'a dyn Fn(u32) -> String,
    /// The accumulator's event rows by kind ([`CauseCtx::rows`]).
    pub(crate) by_kind: &'a RowsByKind,
    /// The nginx error logs given ([`nginx_error_logs`]): a cause read from the access log
    /// alone says what their silence means.
    pub(crate) error_logs: &'a [ErrorLogGiven],
}

/// An nginx error log among the inputs: its name, and whether it was empty.
pub(crate) struct ErrorLogGiven {
    pub(crate) name: String,
    pub(crate) empty: bool,
}

/// The inputs that are nginx error logs: read as `nginx-error`, or empty and named like one
/// (`error.log`, `nginx_error.log.1`: an empty file has no format, and an empty error log
/// beside an access log is itself an answer: nginx logged nothing).
pub(crate) fn nginx_error_logs(inputs: &[InputMeta]) -> Vec<ErrorLogGiven> {
    inputs
        .iter()
        .filter_map(|i| {
            let base = i.name.rsplit('/').next().unwrap_or(&i.name);
            let empty = i.format == "empty";
            (i.format == "nginx-error" || (empty && base.contains("error"))).then(|| {
                ErrorLogGiven {
                    name: i.name.clone(),
                    empty,
                }
            })
        })
        .collect()
}

/// The indexes of an accumulator's event rows, by event kind, in row order: a cause asks for
/// the rows of one or two kinds many times per incident, and scanning every row of the run
/// for each question was most of `attribute`'s time on an error log of an incident.
pub(crate) struct RowsByKind(Vec<Vec<u32>>);

impl RowsByKind {
    pub(crate) fn new(acc: &Acc) -> Self {
        let mut v: Vec<Vec<u32>> = vec![Vec::new(); EventKind::ALL.len()];
        for (i, r) in acc.event_rows.iter().enumerate() {
            if let Some(l) = v.get_mut(r.kind.index()) {
                l.push(i as u32);
            }
        }
        RowsByKind(v)
    }
    /// The indexes of the rows of `kinds`, in row order: each kind's list is in row order and
    /// a row has one kind, so the lists are merged as they are read (no copy, no sort).
    fn of(&self, kinds: &[EventKind]) -> RowsOf<'_> {
        let mut lists: Vec<&[u32]> = Vec::with_capacity(kinds.len());
        for (i, k) in kinds.iter().enumerate() {
            if kinds[..i].contains(k) {
                continue;
            }
            if let Some(l) = self.0.get(k.index()).filter(|l| !l.is_empty()) {
                lists.push(l);
            }
        }
        RowsOf(lists)
    }
}

/// The merged row indexes of [`RowsByKind::of`].
struct RowsOf<'a>(Vec<&'a [u32]>);

impl Iterator for RowsOf<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        let lists = &mut self.0;
        let best = match lists.len() {
            0 => return None,
            1 => 0,
            _ => (0..lists.len()).min_by_key(|&i| lists[i][0])?,
        };
        let l = &mut lists[best];
        let x = l[0];
        *l = &l[1..];
        if l.is_empty() {
            lists.swap_remove(best);
        }
        Some(x)
    }
}

impl CauseCtx<'_> {
    /// Events of `kinds` in the incident, padded by one bucket each side (error-log lines
    /// come a little before the access lines they explain).
    pub(crate) fn events(&self, kinds: &[EventKind]) -> u64 {
        let lo = self.s.saturating_sub(1);
        let hi = (self.e + 1).min(self.tl.buckets.len() - 1);
        self.tl.buckets[lo..=hi]
            .iter()
            .map(|b| {
                kinds
                    .iter()
                    .map(|k| b.events[k.index()] as u64)
                    .sum::<u64>()
            })
            .sum()
    }
    /// Event rows of `kinds` between `from` and the padded end.
    pub(crate) fn rows(
        &self,
        kinds: &[EventKind],
        lookback_us: i64,
    ) -> impl Iterator<Item = &crate::agg::acc::EventRow> + '_ {
        let from = self.start_us - self.width_us - lookback_us;
        let to = self.end_us + self.width_us;
        let rows = &self.acc.event_rows;
        self.by_kind
            .of(kinds)
            .filter_map(move |i| rows.get(i as usize))
            .filter(move |r| r.utc_us >= from && r.utc_us < to)
    }
    /// The upstreams named by the event rows of `kinds` ([`CauseCtx::rows`]) as shown, sorted,
    /// without duplicates or empty names, the first `max`: each distinct name is shown once
    /// (an error log's rows name a handful of upstreams, row after row).
    pub(crate) fn row_upstreams(
        &self,
        kinds: &[EventKind],
        lookback_us: i64,
        max: usize,
    ) -> Vec<String> {
        let mut seen: hashbrown::HashSet<&[u8]> = hashbrown::HashSet::new();
        let mut last: Option<&std::sync::Arc<[u8]>> = None;
        for r in self.rows(kinds, lookback_us) {
            // rows of one accumulator share the Arc of a name: most rows repeat the last one
            if last.is_some_and(|l| std::sync::Arc::ptr_eq(l, &r.upstream)) {
                continue;
            }
            last = Some(&r.upstream);
            seen.insert(&r.upstream[..]);
        }
        let mut v: Vec<String> = seen
            .into_iter()
            .map(display_bytes)
            .filter(|s| !s.is_empty())
            .collect();
        v.sort();
        v.dedup();
        v.truncate(max);
        v
    }
    pub(crate) fn status(&self, code: u16) -> u64 {
        let Some(k) = crate::agg::acc::status_slot(code) else {
            return 0;
        };
        self.tl.buckets[self.s..=self.e]
            .iter()
            .map(|b| layer_status(b, self.layer, k))
            .sum()
    }
    pub(crate) fn lb(&self, v: LbVerdict) -> u64 {
        self.tl.buckets[self.s..=self.e]
            .iter()
            .map(|b| b.lb_verdict[v as usize])
            .sum()
    }
    /// Evidence lines: samples of the given keys (event kind index, or 1000+status) in the
    /// padded window.
    pub(crate) fn evidence(&self, keys: &[u16], lookback_us: i64, max: usize) -> Vec<Evidence> {
        let from = self.start_us - self.width_us - lookback_us;
        let to = self.end_us + self.width_us;
        let mut out = Vec::new();
        // a sample's key holds the start of its bucket at the base width (`Acc::add_sample`):
        // no sample of a key at or after `to` is before `to`
        let lo = samples_from(self.acc, from);
        if to <= lo {
            return out;
        }
        // one pass over the window's samples; the samples of `keys[0]` in time order come
        // first, then those of `keys[1]`..., the first `max` in all (each key's own list
        // needs no more than `max`)
        let mut per: Vec<Vec<&crate::agg::acc::Sample>> = vec![Vec::new(); keys.len()];
        for ((_, key), v) in self.acc.samples.range((lo, 0)..(to, 0)) {
            for (i, _) in keys.iter().enumerate().filter(|(_, k)| **k == *key) {
                for s in v {
                    if per[i].len() >= max {
                        break;
                    }
                    if s.utc_us >= from && s.utc_us < to {
                        per[i].push(s);
                    }
                }
            }
        }
        for s in per.into_iter().flatten().take(max) {
            out.push(Evidence {
                path: (self.name_of)(s.file),
                line: s.line,
                text: display_bytes(&s.text),
            });
        }
        out
    }
    pub(crate) fn ev_kinds(&self, kinds: &[EventKind], lookback_us: i64) -> Vec<Evidence> {
        let keys: Vec<u16> = kinds.iter().map(|k| k.index() as u16).collect();
        self.evidence(&keys, lookback_us, EVIDENCE_PER_CAUSE)
    }
    pub(crate) fn ev_status(&self, codes: &[u16], max: usize) -> Vec<Evidence> {
        let keys: Vec<u16> = codes.iter().map(|c| 1000 + c).collect();
        self.evidence(&keys, 0, max)
    }
    pub(crate) fn p95(&self, up: bool, inside: bool) -> Option<u64> {
        let mut h = Hist::default();
        for (i, b) in self.tl.buckets.iter().enumerate() {
            let is_in = i >= self.s && i <= self.e;
            if is_in == inside {
                if let Some(x) = if up { &b.up_time } else { &b.req_time } {
                    h.merge(x);
                }
            }
        }
        h.quantile(0.95)
    }
}

/// The first sample key (bucket start µs) that may hold samples at or after `from_us`: a
/// sample's key is the start of its bucket at the base width (`Acc::add_sample`), so no key
/// before the bucket of `from_us` does (never earlier than a day before `from_us`'s second,
/// the bound used before, for any width).
pub(crate) fn samples_from(acc: &Acc, from_us: i64) -> i64 {
    let w = acc.timeline.base_width_s.max(1) * 1_000_000;
    let day = from_us.div_euclid(1_000_000) * 1_000_000 - 86_400_000_000;
    (from_us.div_euclid(w) * w).max(day)
}

pub(crate) fn cause(id: &str, conf: f64, summary: String, evidence: Vec<Evidence>) -> Cause {
    Cause {
        cause: id.to_string(),
        confidence: round3(conf.clamp(0.0, 1.0)),
        summary,
        evidence,
        explains: 0,
        behind: Vec::new(),
        led_to: Vec::new(),
        chain: None,
        headline: String::new(),
    }
}

pub(crate) fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 / of as f64).min(1.0)
    }
}

pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

pub(crate) fn fmt_us(v: Option<u64>) -> String {
    match v {
        Some(us) if us >= 1_000_000 => format!("{:.2}s", us as f64 / 1e6),
        Some(us) => format!("{}ms", us / 1000),
        None => "-".into(),
    }
}

// ---------------------------------------------------------------------------------------
// Saturation roots (slowlog)

/// One slowlog stack frame: `[0x00007f...] function() /path/file.php:123`.
fn frame_parts(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = line.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', rest)?;
    let rest = rest.get(close + 1..)?.strip_prefix(b" ")?;
    let sp = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    Some((&rest[..sp], rest.get(sp + 1..).unwrap_or(&[])))
}

/// A PHP builtin (or extension method) a request waits in: sleeping, I/O, a database or
/// cache client. Anything else in a slowlog stack is taken as application code.
fn php_builtin(f: &[u8]) -> bool {
    let name = f.strip_suffix(b"()").unwrap_or(f);
    let class_end = memchr::memmem::find(name, b"->").or_else(|| memchr::memmem::find(name, b"::"));
    if let Some(k) = class_end {
        const CLASSES: &[&[u8]] = &[
            b"PDO",
            b"PDOStatement",
            b"mysqli",
            b"mysqli_stmt",
            b"mysqli_result",
            b"Redis",
            b"RedisCluster",
            b"Memcached",
            b"Memcache",
            b"SoapClient",
            b"SQLite3",
            b"SQLite3Stmt",
            b"MongoDB\\Driver\\Manager",
            b"AMQPChannel",
            b"AMQPQueue",
        ];
        return CLASSES.contains(&&name[..k]);
    }
    const FUNCS: &[&[u8]] = &[
        b"usleep",
        b"sleep",
        b"time_nanosleep",
        b"time_sleep_until",
        b"curl_exec",
        b"curl_multi_exec",
        b"curl_multi_select",
        b"file_get_contents",
        b"file_put_contents",
        b"fopen",
        b"fread",
        b"fwrite",
        b"fgets",
        b"fgetcsv",
        b"file",
        b"fsockopen",
        b"stream_socket_client",
        b"stream_select",
        b"stream_get_contents",
        b"socket_read",
        b"socket_write",
        b"socket_connect",
        b"socket_accept",
        b"mysqli_query",
        b"mysqli_connect",
        b"mysqli_real_connect",
        b"mysqli_stmt_execute",
        b"mysql_query",
        b"pg_query",
        b"pg_query_params",
        b"pg_connect",
        b"pg_execute",
        b"exec",
        b"shell_exec",
        b"system",
        b"passthru",
        b"proc_open",
        b"proc_close",
        b"popen",
        b"gethostbyname",
        b"dns_get_record",
        b"mail",
        b"session_start",
        b"flock",
        b"ldap_bind",
        b"ldap_search",
        b"ftp_connect",
        b"ftp_get",
        b"ftp_put",
        b"oci_execute",
        b"sqlsrv_query",
        b"password_hash",
        b"password_verify",
        b"crypt",
        b"include",
        b"require",
        b"include_once",
        b"require_once",
    ];
    FUNCS.contains(&name)
}

fn saturation(acc: &Acc, from: i64, to: i64) -> Option<Saturation> {
    let traces: Vec<&crate::agg::acc::EventRow> = acc
        .event_rows
        .iter()
        .filter(|r| r.kind == EventKind::FpmSlowTrace && r.utc_us >= from && r.utc_us < to)
        .collect();
    if traces.is_empty() {
        return None;
    }
    let mut scripts: HashMap<&[u8], u64> = HashMap::new();
    let mut frames: HashMap<String, u64> = HashMap::new();
    for t in &traces {
        *scripts.entry(&t.detail).or_insert(0) += 1;
        // innermost first: the builtins it waits in, then the application function
        let fr: Vec<(&[u8], &[u8])> = t
            .frames
            .split(|&b| b == b'\n')
            .filter_map(frame_parts)
            .collect();
        if let Some(&(func, _)) = fr.first() {
            let app = fr.iter().position(|(f, _)| !php_builtin(f));
            let key = match app {
                Some(0) => format!("{} at {}", display_bytes(func), display_bytes(fr[0].1)),
                Some(k) => format!(
                    "{} waiting in {} at {}",
                    display_bytes(fr[k].0),
                    display_bytes(fr[k - 1].0),
                    display_bytes(fr[k - 1].1)
                ),
                None => display_bytes(func),
            };
            *frames.entry(key).or_insert(0) += 1;
        }
    }
    let top_script = scripts
        .iter()
        .max_by_key(|x| (*x.1, std::cmp::Reverse(*x.0)))
        .map(|(k, v)| (display_bytes(k), *v));
    let mut top_frames: Vec<(String, u64)> = frames.into_iter().collect();
    top_frames.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top_frames.truncate(5);
    let n = traces.len() as u64;
    let mut summary = String::new();
    if let Some((f, k)) = top_frames.first() {
        summary.push_str(&format!("{k} of {n} slow traces were in {f}"));
    }
    if let Some((s, k)) = &top_script {
        if !summary.is_empty() {
            summary.push_str("; ");
        }
        summary.push_str(&format!("{k} of {n} ran {s}"));
    }
    summary.push('.');
    Some(Saturation {
        slow_traces: n,
        top_script,
        top_frames,
        summary,
    })
}

// ---------------------------------------------------------------------------------------
// Capacity

/// Shortest span (seconds) a sustained request rate is measured over.
const CAPACITY_WINDOW_S: i64 = 10;

fn capacity(tl: &Timeline, spans: &[(usize, usize)], up_name: &dyn Fn(u32) -> String) -> Capacity {
    let w = tl.width_s() as f64;
    let in_span = |i: usize| spans.iter().any(|s| i >= s.0 && i <= s.1);
    let mut cap = Capacity::default();
    // Rates count each request once: at the outermost layer that logged requests (a request
    // that crossed HAProxy, nginx and php-fpm is one request, not three).
    let outer = outer_layer(&tl.buckets);
    cap.counted_layer = outer.map(|l| LAYERS[l].id().to_string());
    let req_err = |b: &Bucket| match outer {
        Some(l) => (b.requests_by_layer[l], b.err5xx_by_layer[l]),
        None => (b.requests, b.err5xx()),
    };
    // The sustained rate is measured over at least CAPACITY_WINDOW_S of consecutive clean
    // buckets: a single short bucket holds bursts (a queue draining after an incident)
    // that were never a rate the service sustained.
    // The CAPACITY_WINDOW_S after an incident are left out too: its queue drains there.
    let k = ((CAPACITY_WINDOW_S as f64 / w).ceil() as usize).max(1);
    let draining = |i: usize| spans.iter().any(|s| i > s.1 && i <= s.1 + k);
    let clean: Vec<Option<u64>> = tl
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (req, err) = req_err(b);
            (req > 0 && !in_span(i) && !draining(i) && (err as f64) < 0.01 * req as f64)
                .then_some(req)
        })
        .collect();
    let longest_run = clean
        .split(|c| c.is_none())
        .map(|r| r.len())
        .max()
        .unwrap_or(0);
    let k = k.min(longest_run.max(1));
    for run in clean.split(|c| c.is_none()) {
        for win in run.windows(k) {
            let req: u64 = win.iter().map(|c| c.unwrap_or(0)).sum();
            let r = req as f64 / (k as f64 * w);
            cap.sustained_rps = Some(cap.sustained_rps.map_or(r, |x: f64| x.max(r)));
        }
    }
    if let Some(&(s, _)) = spans.first() {
        let (req, _) = req_err(&tl.buckets[s]);
        if req > 0 {
            cap.errors_began_rps = Some(round3(req as f64 / w));
        }
    }
    cap.sustained_rps = cap.sustained_rps.map(round3);
    let mut ids: Vec<u32> = tl
        .buckets
        .iter()
        .flat_map(|b| b.upstreams.iter().map(|u| u.0))
        .collect();
    ids.sort();
    ids.dedup();
    if ids.len() <= 50 {
        for id in ids {
            let mut sustained: Option<f64> = None;
            let mut began: Option<f64> = None;
            for (i, b) in tl.buckets.iter().enumerate() {
                if let Some(u) = b.upstreams.iter().find(|u| u.0 == id) {
                    let r = u.1 as f64 / w;
                    if !in_span(i) && (u.2 as f64) < 0.01 * u.1 as f64 {
                        sustained = Some(sustained.map_or(r, |x| x.max(r)));
                    }
                    if began.is_none() && in_span(i) && u.2 > 0 {
                        began = Some(r);
                    }
                }
            }
            cap.per_upstream.push(UpstreamCapacity {
                upstream: up_name(id),
                sustained_rps: sustained.map(round3),
                errors_began_rps: began.map(round3),
            });
        }
    }
    cap
}

/// The sums of a run of timeline buckets (the one bucket fold, used by the report's totals,
/// `live`'s window figures and `--metrics`): requests and 5xx by layer, error-log events by
/// kind, the latency histograms merged, and requests and 5xx by upstream id (ids of the
/// accumulator the buckets belong to).
#[derive(Clone, Debug)]
pub struct BucketSums {
    pub requests_by_layer: [u64; 3],
    pub err5xx_by_layer: [u64; 3],
    pub events: [u64; EventKind::COUNT],
    pub req_time: Hist,
    pub up_time: Hist,
    /// Upstream id -> (requests, 5xx).
    pub upstreams: HashMap<u32, (u64, u64)>,
}

impl Default for BucketSums {
    fn default() -> Self {
        BucketSums {
            requests_by_layer: [0; 3],
            err5xx_by_layer: [0; 3],
            events: [0; EventKind::COUNT],
            req_time: Hist::default(),
            up_time: Hist::default(),
            upstreams: HashMap::new(),
        }
    }
}

impl BucketSums {
    /// Add one bucket.
    pub fn add(&mut self, b: &Bucket) {
        for i in 0..3 {
            self.requests_by_layer[i] += b.requests_by_layer[i];
            self.err5xx_by_layer[i] += b.err5xx_by_layer[i];
        }
        for (x, &n) in self.events.iter_mut().zip(b.events.iter()) {
            *x += n as u64;
        }
        if let Some(h) = &b.req_time {
            self.req_time.merge(h);
        }
        if let Some(h) = &b.up_time {
            self.up_time.merge(h);
        }
        for &(id, r, e) in &b.upstreams {
            let x = self.upstreams.entry(id).or_insert((0, 0));
            x.0 += r as u64;
            x.1 += e as u64;
        }
    }
}

/// Fold buckets into their [`BucketSums`].
pub fn fold_buckets<'a>(bs: impl IntoIterator<Item = &'a Bucket>) -> BucketSums {
    let mut s = BucketSums::default();
    for b in bs {
        s.add(b);
    }
    s
}

/// The coarsest step of the timeline ladder ([`crate::agg::acc::LADDER`]) whose width is at most
/// `width_s` base widths (step 0 for anything finer).
pub fn ladder_step_at_most(width_s: i64) -> usize {
    crate::agg::acc::LADDER
        .iter()
        .rposition(|&l| l <= width_s.max(1))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timelines that coarsen as they go (`Timeline::auto`, `analyze` without `--bucket`)
    /// give the report exactly the rows of one that keeps fine buckets to the end, whether
    /// the instants arrive in one pass or in chunks merged afterwards.
    #[test]
    fn auto_coarsening_gives_the_same_rows() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let day = 86_400_000_000i64;
        for (span_us, n, jitter) in [
            (299_000_000i64, 5_000usize, 0i64), // under TARGET_ROWS seconds: 1 s rows
            (301_000_000, 5_000, 0),            // just over
            (3 * 3_600_000_000, 20_000, 0),
            (2 * day, 30_000, 90_000_000), // lines out of order by up to 90 s
            (40 * day, 10_000, 0),
        ] {
            let t0 = 1_700_000_000_000_000i64;
            let mut times: Vec<i64> = (0..n)
                .map(|i| t0 + span_us * i as i64 / (n as i64 - 1))
                .collect();
            if jitter > 0 {
                for t in times.iter_mut() {
                    *t += rnd(jitter as u64) as i64 - jitter / 2;
                }
            }
            let fill = |tl: &mut Timeline, ts: &[i64]| {
                for &t in ts {
                    let b = tl.bucket_mut(t);
                    b.requests += 1;
                    b.class[5] += (t / 1_000_000 % 7 == 0) as u64;
                }
            };
            let mut fine = Timeline::new(1);
            fill(&mut fine, &times);
            choose_width(&mut fine, None);
            let rows = |tl: &Timeline| -> Vec<(i64, u64, u64)> {
                tl.buckets
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (tl.bucket_start_us(i), b.requests, b.class[5]))
                    .collect()
            };
            let want = rows(&fine);
            assert!(
                want.len() <= crate::agg::acc::TARGET_ROWS as usize + 1,
                "{}",
                want.len()
            );
            for parts in [1usize, 2, 3, 8] {
                let mut total: Option<Timeline> = None;
                let per = times.len().div_ceil(parts);
                for chunk in times.chunks(per) {
                    let mut tl = Timeline::new(1);
                    tl.auto = true;
                    fill(&mut tl, chunk);
                    // it never held more buckets than a few report rows' worth
                    assert!(tl.buckets.len() <= 8 * crate::agg::acc::TARGET_ROWS as usize);
                    match total.as_mut() {
                        Some(t) => t.merge(tl, &[]),
                        None => total = Some(tl),
                    }
                }
                let mut got = total.unwrap();
                choose_width(&mut got, None);
                assert_eq!(
                    got.width_s(),
                    fine.width_s(),
                    "span {span_us} parts {parts}"
                );
                assert_eq!(rows(&got), want, "span {span_us} parts {parts}");
            }
        }
    }

    #[test]
    fn incidents_need_a_rise_and_enough_errors() {
        // quiet baseline with a 1% error floor, then a spike
        let mut sig: Vec<(u64, u64)> = (0..60)
            .map(|i| (if i % 10 == 0 { 1 } else { 0 }, 100))
            .collect();
        for x in &mut sig[30..35] {
            *x = (40, 100);
        }
        let spans = find_incidents(&sig, true, 5);
        assert_eq!(spans, vec![(30, 34)]);
        // a single 502 in a quiet minute is not an incident
        let mut quiet: Vec<(u64, u64)> = vec![(0, 10); 30];
        quiet[5] = (1, 1);
        assert!(find_incidents(&quiet, true, 5).is_empty());
        // everything failing is still an incident
        let all: Vec<(u64, u64)> = vec![(10, 10); 10];
        assert_eq!(find_incidents(&all, true, 5), vec![(0, 9)]);
        // gaps of quiet buckets are bridged
        let mut gap: Vec<(u64, u64)> = vec![(0, 100); 20];
        gap[5] = (30, 100);
        gap[7] = (30, 100);
        assert_eq!(find_incidents(&gap, true, 5), vec![(5, 7)]);
    }

    #[test]
    fn slow_frames() {
        assert_eq!(
            frame_parts(b"[0x00007f9be3014300] unlink() /x/a.php:285"),
            Some((&b"unlink()"[..], &b"/x/a.php:285"[..]))
        );
        assert_eq!(frame_parts(b"garbage"), None);
    }

    #[test]
    fn builtins_and_application_functions() {
        assert!(php_builtin(b"usleep()"));
        assert!(php_builtin(b"PDOStatement->execute()"));
        assert!(php_builtin(b"curl_exec()"));
        assert!(!php_builtin(b"db_query()"));
        assert!(!php_builtin(b"App\\Repo->find()"));
    }

    #[test]
    fn bucket_fold_sums_layers_events_latency_and_upstreams() {
        let mut a = Bucket::default();
        a.requests_by_layer = [3, 5, 0];
        a.err5xx_by_layer = [1, 2, 0];
        a.events[EventKind::ConnectRefused.index()] = 4;
        let mut h = Hist::default();
        h.add(10_000);
        a.req_time = Some(Box::new(h.clone()));
        a.upstreams = vec![(0, 5, 2), (1, 1, 0)];
        let mut b = Bucket::default();
        b.requests_by_layer = [0, 7, 2];
        b.err5xx_by_layer = [0, 1, 1];
        b.events[EventKind::ConnectRefused.index()] = 1;
        b.req_time = Some(Box::new(h.clone()));
        b.up_time = Some(Box::new(h));
        b.upstreams = vec![(1, 6, 1)];
        let s = fold_buckets([&a, &b]);
        assert_eq!(s.requests_by_layer, [3, 12, 2]);
        assert_eq!(s.err5xx_by_layer, [1, 3, 1]);
        assert_eq!(s.events[EventKind::ConnectRefused.index()], 5);
        assert_eq!(s.events.iter().sum::<u64>(), 5);
        assert_eq!((s.req_time.total(), s.up_time.total()), (2, 1));
        assert_eq!(s.upstreams.len(), 2);
        assert_eq!((s.upstreams[&0], s.upstreams[&1]), ((5, 2), (7, 1)));
    }

    #[test]
    fn ladder_step_at_most_a_width() {
        assert_eq!(ladder_step_at_most(0), 0);
        assert_eq!(ladder_step_at_most(1), 0);
        assert_eq!(ladder_step_at_most(4), 0);
        assert_eq!(ladder_step_at_most(5), 1);
        assert_eq!(ladder_step_at_most(59), 3);
        assert_eq!(ladder_step_at_most(60), 4);
        assert_eq!(ladder_step_at_most(604_800), 11);
        assert_eq!(
            ladder_step_at_most(i64::MAX),
            crate::agg::acc::LADDER.len() - 1
        );
    }
}
