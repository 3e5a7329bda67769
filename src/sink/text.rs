//! The text report (default output). Every log-derived string passes through
//! `report::display_bytes` before it gets here, so control characters are already escaped.

use std::fmt::Write;

use crate::analysis::report::*;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
}

const CHART_ROWS: usize = 48;
/// Quiet timeline rows shown one by one; longer runs are folded.
const QUIET_RUN: usize = 4;
const BAR: usize = 40;

fn short_time(rfc: &str) -> &str {
    // 2026-11-23T10:00:00+00:00 → 2026-11-23 10:00:00
    rfc.get(..19).unwrap_or(rfc)
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

fn q(v: Option<f64>) -> String {
    match v {
        Some(s) if s >= 1.0 => format!("{s:.2}s"),
        Some(s) => format!("{:.0}ms", s * 1000.0),
        None => "-".into(),
    }
}

pub fn render(r: &Report, color: bool) -> String {
    let st = Style { on: color };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}  {} → {}",
        st.bold("gatelog report"),
        r.window.from.as_deref().map(short_time).unwrap_or("-"),
        r.window.to.as_deref().map(short_time).unwrap_or("-"),
    );
    let _ = writeln!(
        o,
        "{}",
        st.dim(&format!(
            "times in UTC; zone-less logs read as {}",
            r.timezone
        ))
    );

    // the answer first
    let _ = writeln!(o, "\n{}", st.bold("SUMMARY"));
    for line in &r.summary.lines {
        for l in wrap(line, 96) {
            let _ = writeln!(o, "  {l}");
        }
    }

    // inputs
    let _ = writeln!(o, "\n{}", st.bold("INPUTS"));
    let w = r
        .inputs
        .iter()
        .map(|i| i.path.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let _ = writeln!(
        o,
        "  {:<w$}  {:<12} {:>10} {:>10} {:>9} {:>8}",
        "path", "format", "lines", "parsed", "rejected", "skipped"
    );
    for i in &r.inputs {
        let rej = if i.rejected > 0 {
            st.yellow(&format!("{:>9}", i.rejected))
        } else {
            format!("{:>9}", i.rejected)
        };
        let _ = writeln!(
            o,
            "  {:<w$}  {:<12} {:>10} {:>10} {} {:>8}",
            i.path, i.format, i.lines, i.parsed, rej, i.skipped
        );
    }
    for line in r.inputs.iter().filter_map(crate::sink::duplicate_note) {
        let _ = writeln!(o, "  {line}");
    }
    for s in &r.skipped_inputs {
        let _ = writeln!(
            o,
            "  {}",
            st.dim(&format!("skipped {}: {}", s.path, s.reason))
        );
    }

    // totals
    let t = &r.totals;
    let e5: u64 = t.status_class.get("5xx").copied().unwrap_or(0);
    let _ = writeln!(o, "\n{}", st.bold("TOTALS"));
    let _ = writeln!(
        o,
        "  {} requests, {} 5xx ({})",
        t.requests,
        e5,
        pct(e5, t.requests)
    );
    // Several layers log the same request once each: the figures above count each request
    // once, at the outermost layer (as the incidents do); each layer's own lines follow.
    if t.layers.len() > 1 {
        if let Some(l) = &t.counted_layer {
            let _ = writeln!(
                o,
                "  (each request once, as the {l} layer logged it; {} layers logged requests, their own lines below)",
                t.layers.len()
            );
        }
    }
    let interesting: Vec<String> = ["499", "500", "502", "503", "504", "429"]
        .iter()
        .filter_map(|c| t.status.get(*c).map(|n| format!("{c}: {n}")))
        .collect();
    if !interesting.is_empty() {
        let _ = writeln!(o, "  {}", interesting.join("   "));
    }
    for (layer, c) in &t.by_layer {
        let _ = writeln!(
            o,
            "  layer {layer}: {} requests, {} 5xx",
            c.requests, c.err5xx
        );
    }
    let errs: Vec<String> = t
        .events
        .iter()
        .filter(|(k, _)| k.as_str() != "other")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !errs.is_empty() {
        let _ = writeln!(o, "  error-log events: {}", errs.join(", "));
    }
    let l = &r.latency;
    if l.request_time.p50.is_some() {
        let _ = writeln!(
            o,
            "  request time p50 {} p95 {} p99 {}",
            q(l.request_time.p50),
            q(l.request_time.p95),
            q(l.request_time.p99)
        );
    }
    if l.upstream_time.p50.is_some() {
        let _ = writeln!(
            o,
            "  upstream time p50 {} p95 {} p99 {}",
            q(l.upstream_time.p50),
            q(l.upstream_time.p95),
            q(l.upstream_time.p99)
        );
    }

    chart(&mut o, r, &st);

    // incidents
    let _ = writeln!(
        o,
        "\n{}",
        st.bold(&format!("INCIDENTS ({})", r.incidents.len()))
    );
    if r.incidents.is_empty() {
        let _ = writeln!(
            o,
            "  none: the 5xx rate never rose well above its baseline with enough errors"
        );
    }
    for inc in &r.incidents {
        let _ = writeln!(
            o,
            "  {} {} → {}  peak {}",
            st.red(&format!("#{}", inc.id)),
            short_time(&inc.start),
            short_time(&inc.end),
            short_time(&inc.peak_bucket)
        );
        let _ = writeln!(
            o,
            "     {} errors of {} requests ({}), baseline {:.1}%{}",
            inc.errors,
            inc.requests,
            pct(inc.errors, inc.requests),
            inc.baseline_rate * 100.0,
            match &inc.counted_layer {
                // several layers logged the same requests: say which one was counted
                Some(l) if inc.by_layer.len() > 1 =>
                    format!("  (each request once, as the {l} layer logged it)"),
                _ => String::new(),
            }
        );
        if !inc.status.is_empty() {
            let s: Vec<String> = inc
                .status
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(o, "     status  {}", s.join("   "));
        }
        for (layer, c) in &inc.by_layer {
            if c.err5xx > 0 {
                let _ = writeln!(
                    o,
                    "     layer {layer}: {} 5xx of {} requests",
                    c.err5xx, c.requests
                );
            }
        }
        if !inc.upstreams.is_empty() {
            let mut u: Vec<(&String, &u64)> = inc.upstreams.iter().collect();
            u.sort_by(|a, b| b.1.cmp(a.1));
            let s: Vec<String> = u
                .iter()
                .take(5)
                .map(|(k, v)| format!("{k} ({v})"))
                .collect();
            let _ = writeln!(o, "     upstreams  {}", s.join(", "));
        }
        if !inc.events.is_empty() {
            let s: Vec<String> = inc
                .events
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(o, "     events  {}", s.join(", "));
        }
        if inc.joins.total_5xx > 0 {
            let _ = writeln!(
                o,
                "     joins  {} of {} access-log 5xx explained by an error-log line",
                inc.joins.explained, inc.joins.total_5xx
            );
        }
        if inc.joins.lb_5xx > 0 {
            let bs: Vec<String> = inc
                .joins
                .backend_status
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(
                o,
                "     LB joins  {} of {} LB 5xx matched to a backend line{}",
                inc.joins.lb_matched,
                inc.joins.lb_5xx,
                if bs.is_empty() {
                    String::new()
                } else {
                    format!(" (backend said {})", bs.join(", "))
                }
            );
            if !inc.joins.backend_error.is_empty() {
                let be: Vec<String> = inc
                    .joins
                    .backend_error
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                let _ = writeln!(o, "               and its error log: {}", be.join(", "));
            }
        }
        if let Some(ch) = inc.causes.first().and_then(|c| c.chain.as_deref()) {
            let _ = writeln!(o, "     chain: {ch}");
        }
        let _ = writeln!(o, "     causes:");
        for (k, c) in inc.causes.iter().enumerate() {
            let _ = writeln!(
                o,
                "       {}. {} {}",
                k + 1,
                st.bold(&c.cause),
                st.dim(&format!("(confidence {:.2})", c.confidence))
            );
            for line in wrap(&c.summary, 92) {
                let _ = writeln!(o, "          {line}");
            }
            if k > 0 && !c.behind.is_empty() {
                let _ = writeln!(
                    o,
                    "          {}",
                    st.dim(&format!("behind it: {}", c.behind.join(", ")))
                );
            }
            for e in &c.evidence {
                let _ = writeln!(
                    o,
                    "          {} {}",
                    st.dim(&format!("{}:{}", e.path, e.line)),
                    clip(&e.text, 220)
                );
            }
        }
        if let Some(s) = &inc.saturation {
            let _ = writeln!(o, "     saturation: {}", s.summary);
        }
    }

    // top tables
    // per layer, the counted (outermost) layer first
    let top = &r.top;
    let mut layers: Vec<(&String, &crate::analysis::report::TopTables)> =
        top.layers.iter().collect();
    layers.sort_by_key(|(l, _)| {
        (
            Some(l.as_str()) != top.counted_layer.as_deref(),
            ["lb", "proxy", "app"].iter().position(|x| x == l),
        )
    });
    if !layers.is_empty() {
        let _ = writeln!(o, "\n{}", st.bold("TOP AMONG 5xx"));
        for (layer, t) in layers {
            let counted = if Some(layer.as_str()) == top.counted_layer.as_deref() {
                " (counted)"
            } else {
                ""
            };
            let _ = writeln!(o, "  {layer} layer{counted}:");
            for (name, v) in [
                ("upstreams", &t.upstreams),
                ("paths", &t.paths),
                ("clients", &t.clients),
            ] {
                if v.is_empty() {
                    continue;
                }
                let _ = writeln!(o, "    {name}:");
                for e in v.iter().take(5) {
                    let _ = writeln!(o, "      {:>8}  {}", e.count, clip(&e.key, 100));
                }
            }
        }
        if top.error_bound > 0 {
            let _ = writeln!(
                o,
                "  {}",
                st.dim(&format!(
                    "(bounded tables: counts may be low by up to {})",
                    top.error_bound
                ))
            );
        }
    }

    // joins and capacity
    if r.joins.total_5xx > 0 {
        let _ = writeln!(o, "\n{}", st.bold("JOINS"));
        let _ = writeln!(
            o,
            "  {} of {} access-log 5xx explained by an error-log line",
            r.joins.explained, r.joins.total_5xx
        );
        let k: Vec<String> = r
            .joins
            .by_kind
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if !k.is_empty() {
            let _ = writeln!(o, "  by error kind: {}", k.join(", "));
        }
    }
    if r.capacity.sustained_rps.is_some() || r.capacity.errors_began_rps.is_some() {
        let _ = writeln!(o, "\n{}", st.bold("CAPACITY"));
        let f = |v: Option<f64>| {
            v.map(|x| format!("{x:.1} req/s"))
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            o,
            "  served without errors up to {}; errors began at {}{}",
            f(r.capacity.sustained_rps),
            f(r.capacity.errors_began_rps),
            match r.capacity.counted_layer.as_deref() {
                // several layers logged the same requests: say which one was counted
                Some(l)
                    if r.totals
                        .by_layer
                        .values()
                        .filter(|c| c.requests > 0)
                        .count()
                        > 1 =>
                    format!(" (each request once, at the {l} layer)"),
                _ => String::new(),
            }
        );
        for u in r.capacity.per_upstream.iter().take(10) {
            let _ = writeln!(
                o,
                "    {}: up to {} clean, errors at {}",
                u.upstream,
                f(u.sustained_rps),
                f(u.errors_began_rps)
            );
        }
    }

    // rejected lines
    let rejected: Vec<&InputReport> = r.inputs.iter().filter(|i| i.rejected > 0).collect();
    if !rejected.is_empty() {
        let _ = writeln!(o, "\n{}", st.bold("REJECTED LINES"));
        for i in rejected {
            let reasons: Vec<String> = i
                .rejected_reasons
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(o, "  {}: {} ({})", i.path, i.rejected, reasons.join("; "));
            for s in &i.rejected_samples {
                let _ = writeln!(
                    o,
                    "    {} {}",
                    st.dim(&format!("{}:{}", s.path, s.line)),
                    clip(&s.text, 200)
                );
            }
        }
    }
    if !r.rules.is_empty() {
        let held = r.rules.iter().filter(|x| x.held).count();
        let _ = writeln!(
            o,
            "\n{}",
            st.bold(&format!("RULES ({held} of {} held)", r.rules.len()))
        );
        for x in &r.rules {
            let mark = if x.held {
                st.red("HELD")
            } else {
                "ok  ".to_string()
            };
            let _ = writeln!(o, "  {mark} {}: {}", x.rule, x.detail);
        }
    }
    if !r.findings.is_empty() {
        let _ = writeln!(o, "\n{}", st.bold("FINDINGS (no incident)"));
        for f in &r.findings {
            let _ = writeln!(o, "  {} ({:.2}): {}", f.cause, f.confidence, f.summary);
            for e in &f.evidence {
                let _ = writeln!(o, "    {}:{}  {}", e.path, e.line, e.text);
            }
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(o, "\n{}", st.bold("NOTES"));
        for n in &r.notes {
            let _ = writeln!(o, "  {n}");
        }
    }
    o
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A per-bucket chart of 5xx by status, coarsened to at most `CHART_ROWS` rows.
fn chart(o: &mut String, r: &Report, st: &Style) {
    let rows = &r.timeline.rows;
    if rows.is_empty() {
        return;
    }
    let group = rows.len().div_ceil(CHART_ROWS);
    let mut agg: Vec<(&str, u64, u64, [u64; 5], Option<usize>)> = Vec::new();
    for chunk in rows.chunks(group) {
        let mut s = [0u64; 5];
        let mut req = 0;
        let mut e5 = 0;
        let mut inc = None;
        for row in chunk {
            req += row.requests;
            e5 += row.err5xx;
            for (k, code) in ["500", "502", "503", "504"].iter().enumerate() {
                s[k] += row.status.get(*code).copied().unwrap_or(0);
            }
            inc = inc.or(row.in_incident);
        }
        let known: u64 = s[..4].iter().sum();
        s[4] = e5.saturating_sub(known);
        agg.push((chunk[0].start.as_str(), req, e5, s, inc));
    }
    let max = agg.iter().map(|a| a.2).max().unwrap_or(0);
    let bucket_s = r.timeline.bucket_seconds * group as i64;
    let _ = writeln!(
        o,
        "\n{}  {}",
        st.bold(&format!("TIMELINE (per {})", fmt_duration_s(bucket_s))),
        st.dim("5xx by status: 0=500 2=502 3=503 4=504 x=other 5xx; * = incident")
    );
    let _ = writeln!(o, "  {:<19} {:>8} {:>7}", "start", "requests", "5xx");
    // runs of quiet rows (no 5xx, outside incidents) longer than QUIET_RUN: the first and
    // the last row are shown, the rows between are one line
    let quiet = |a: &(&str, u64, u64, [u64; 5], Option<usize>)| a.2 == 0 && a.4.is_none();
    let mut hide = vec![false; agg.len()];
    let mut folded: Vec<Option<(usize, u64)>> = vec![None; agg.len()];
    let mut i = 0;
    while i < agg.len() {
        let mut j = i;
        while j < agg.len() && quiet(&agg[j]) {
            j += 1;
        }
        if j - i > QUIET_RUN {
            let between = i + 1..j - 1;
            let req: u64 = agg[between.clone()].iter().map(|a| a.1).sum();
            folded[i] = Some((between.len(), req));
            for h in &mut hide[between] {
                *h = true;
            }
        }
        i = j.max(i + 1);
    }
    for (k, (start, req, e5, s, inc)) in agg.into_iter().enumerate() {
        if hide[k] {
            continue;
        }
        let mut bar = String::new();
        if max > 0 && e5 > 0 {
            let width = ((e5 as f64 / max as f64) * BAR as f64).ceil() as usize;
            let chars = ['0', '2', '3', '4', 'x'];
            let mut used = 0;
            for (k, &n) in s.iter().enumerate() {
                let c = if e5 > 0 {
                    ((n as f64 / e5 as f64) * width as f64).round() as usize
                } else {
                    0
                };
                let c = c.min(width - used);
                bar.extend(std::iter::repeat_n(chars[k], c));
                used += c;
            }
            if used == 0 {
                bar.push('x');
            }
        }
        let mark = if inc.is_some() {
            st.red("*")
        } else {
            " ".into()
        };
        let bar = if inc.is_some() {
            st.red(&bar)
        } else {
            st.yellow(&bar)
        };
        let _ = writeln!(
            o,
            "{mark} {:<19} {:>8} {:>7} {}",
            short_time(start),
            req,
            e5,
            bar
        );
        if let Some((n, req)) = folded[k] {
            let _ = writeln!(
                o,
                "  {}",
                st.dim(&format!(
                    "... {n} quiet buckets ({req} requests, no 5xx) ..."
                ))
            );
        }
    }
}
