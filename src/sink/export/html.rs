//! `--html FILE`: one self-contained page (inline CSS, inline SVG charts, a few lines of
//! inline JS; a Content-Security-Policy forbids every network load). Every log-derived string
//! goes through [`escape_html`] (SPEC "Security").

use std::fmt::Write as _;

use super::escape_html as esc;
use crate::analysis::report::{Quantiles, Report, TimelineRow};

const CSS: &str = r###"
:root{--fg:#1d232b;--muted:#5b6673;--line:#d9dee4;--bg:#fff;--panel:#f6f8fa;--inc:#f4c7c3}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0;padding:24px 32px;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.muted{color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:20px}
.card.bad b{color:#b3261e}
.card.summary{margin:14px 0}
.card.summary p{margin:4px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:6px 8px;margin:4px 0;white-space:pre-wrap;word-break:break-all;font-size:12px}
.ev{font-size:12px;color:var(--muted)}
svg{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#333}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;margin:4px 0 0}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px;border-radius:2px}
.conf{display:inline-block;height:8px;background:#b3261e;border-radius:2px;vertical-align:middle;margin-right:6px}
.grid{display:flex;flex-wrap:wrap;gap:24px}
details{margin:4px 0}
"###;

/// Status series of the 5xx panel: label, JSON key, colour.
const SERIES: [(&str, &str, &str); 6] = [
    ("500", "500", "#8e24aa"),
    ("502", "502", "#d32f2f"),
    ("503", "503", "#f57c00"),
    ("504", "504", "#1565c0"),
    ("other 5xx", "5xx_other", "#6d4c41"),
    ("499", "499", "#9e9e9e"),
];

/// Event groups drawn as marks: label, colour, kinds.
const MARKS: [(&str, &str, &[&str]); 6] = [
    (
        "timeouts",
        "#1565c0",
        &[
            "upstream_timeout_connect",
            "upstream_timeout_send",
            "upstream_timeout_header",
            "upstream_timeout_read",
            "upstream_timeout_other",
            "fpm_execution_timed_out",
        ],
    ),
    (
        "max_children / busy",
        "#c62828",
        &[
            "fpm_max_children",
            "fpm_seems_busy",
            "fpm_slow_trace",
            "fpm_executing_too_slow",
        ],
    ),
    (
        "refused / backlog",
        "#ef6c00",
        &[
            "connect_refused",
            "connect_no_socket",
            "connect_again",
            "connect_no_route",
            "connect_failed_other",
            "no_live_upstreams",
        ],
    ),
    (
        "resets / crashes",
        "#6a1b9a",
        &[
            "recv_reset",
            "upstream_premature_close",
            "fpm_child_signal",
            "fpm_child_exit_code",
        ],
    ),
    (
        "rate limits",
        "#2e7d32",
        &["limiting_requests", "limiting_connections"],
    ),
    (
        "LB / other",
        "#546e7a",
        &[
            "lb_server_down",
            "lb_no_server",
            "upstream_header_too_big",
            "fastcgi_php_fatal",
            "worker_connections_not_enough",
        ],
    ),
];

fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn secs(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
    }
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        "–".into()
    } else {
        format!("{:.2}%", a as f64 * 100.0 / b as f64)
    }
}

/// `HH:MM` (or `MM-DD HH:MM` on a new day) of an RFC 3339 bucket start, UTC.
fn tick_label(us: i64, with_date: bool, bucket_s: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if with_date => t.format("%m-%d %H:%M").to_string(),
        Some(t) if bucket_s < 60 => t.format("%H:%M:%S").to_string(),
        Some(t) => t.format("%H:%M").to_string(),
        None => String::new(),
    }
}

fn status_of(r: &TimelineRow, key: &str) -> u64 {
    if key == "5xx_other" {
        let tracked: u64 = ["500", "502", "503", "504"]
            .iter()
            .map(|k| r.status.get(*k).copied().unwrap_or(0))
            .sum();
        r.err5xx.saturating_sub(tracked)
    } else {
        r.status.get(key).copied().unwrap_or(0)
    }
}

/// Round up to 1, 2 or 5 × 10^k.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

const W: f64 = 1200.0;
const LEFT: f64 = 118.0;
const RIGHT: f64 = 16.0;

fn x_axis(out: &mut String, rows: &[TimelineRow], bucket_s: i64, y: f64) {
    let pw = W - LEFT - RIGHT;
    let nb = rows.len().max(1) as f64;
    let ticks = 8usize.min(rows.len());
    let mut last_day = None;
    for t in 0..ticks {
        let i = if ticks <= 1 {
            0
        } else {
            t * (rows.len() - 1) / (ticks - 1)
        };
        let Some(r) = rows.get(i) else { continue };
        let day = r.start_us.div_euclid(86_400_000_000);
        let with_date = last_day != Some(day);
        last_day = Some(day);
        let x = LEFT + (i as f64 + 0.5) * pw / nb;
        let _ = write!(
            out,
            r###"<line x1="{x:.1}" x2="{x:.1}" y1="{y:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="{}">{}</text>"###,
            y + 4.0,
            y + 16.0,
            if t + 1 == ticks && ticks > 1 {
                "end"
            } else {
                "middle"
            },
            esc(&tick_label(r.start_us, with_date, bucket_s))
        );
    }
}

/// Shade incident spans over a band `[y0, y1]`.
fn shade(out: &mut String, r: &Report, y0: f64, y1: f64, label: bool) {
    let rows = &r.timeline.rows;
    let pw = W - LEFT - RIGHT;
    let nb = rows.len().max(1) as f64;
    for inc in &r.incidents {
        let idx: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| row.in_incident == Some(inc.id))
            .map(|(i, _)| i)
            .collect();
        let (Some(&a), Some(&b)) = (idx.first(), idx.last()) else {
            continue;
        };
        let x0 = LEFT + a as f64 * pw / nb;
        let x1 = LEFT + (b + 1) as f64 * pw / nb;
        let _ = write!(
            out,
            r###"<rect class="incident-span" x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="#f4c7c3" fill-opacity="0.55"><title>incident #{} {} – {}</title></rect>"###,
            (x1 - x0).max(2.0),
            y1 - y0,
            inc.id,
            esc(&inc.start),
            esc(&inc.end)
        );
        if label {
            let _ = write!(
                out,
                r###"<text x="{:.1}" y="{:.1}" fill="#b3261e" font-weight="bold">#{}</text>"###,
                x0 + 2.0,
                y0 + 11.0,
                inc.id
            );
        }
    }
}

fn timeline_svg(r: &Report) -> String {
    let rows = &r.timeline.rows;
    let pw = W - LEFT - RIGHT;
    let nb = rows.len().max(1) as f64;
    let bw = pw / nb;
    let gap = if bw > 4.0 { 1.0 } else { 0.0 };
    // panels: requests (top), 5xx by status (middle), event marks (bottom)
    let (r_top, r_h) = (10.0, 110.0);
    let (e_top, e_h) = (140.0, 110.0);
    let (m_top, m_row) = (270.0, 16.0);
    let axis_y = m_top + m_row * MARKS.len() as f64 + 6.0;
    let height = axis_y + 24.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r###"<svg id="timeline-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" aria-label="Timeline: requests, 5xx by status, incidents and error events">"###
    );
    shade(&mut s, r, r_top, m_top + m_row * MARKS.len() as f64, true);
    let max_req = nice_max(rows.iter().map(|x| x.requests).max().unwrap_or(0) as f64);
    let max_err = nice_max(
        rows.iter()
            .map(|x| SERIES.iter().map(|(_, k, _)| status_of(x, k)).sum::<u64>())
            .max()
            .unwrap_or(0) as f64,
    );
    // panel frames and scales
    for (top, h, max, label) in [
        (r_top, r_h, max_req, "requests"),
        (e_top, e_h, max_err, "5xx / 499"),
    ] {
        let _ = write!(
            s,
            r###"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#bbb"/><line x1="{LEFT}" x2="{:.1}" y1="{top:.1}" y2="{top:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">0</text><text x="8" y="{:.1}" font-weight="bold">{label}</text>"###,
            W - RIGHT,
            top + h,
            top + h,
            W - RIGHT,
            LEFT - 6.0,
            top + 10.0,
            n(max as u64),
            LEFT - 6.0,
            top + h,
            top + h / 2.0
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let x = LEFT + i as f64 * bw;
        let w = (bw - gap).max(0.5);
        // requests bar: non-5xx grey, 5xx red on top
        let h_all = row.requests as f64 / max_req * r_h;
        let h5 = row.err5xx as f64 / max_req * r_h;
        let _ = write!(
            s,
            r###"<g class="bucket"><title>{} — {} requests, {} 5xx ({})</title><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#90a4ae"/><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#d32f2f"/></g>"###,
            esc(&row.start),
            n(row.requests),
            n(row.err5xx),
            pct(row.err5xx, row.requests),
            r_top + r_h - h_all,
            (h_all - h5).max(0.0),
            r_top + r_h - h5,
            h5
        );
        // 5xx by status, stacked
        let mut y = e_top + e_h;
        let mut tip = Vec::new();
        let mut bars = String::new();
        for (label, key, colour) in SERIES {
            let c = status_of(row, key);
            if c == 0 {
                continue;
            }
            tip.push(format!("{label}: {c}"));
            let h = c as f64 / max_err * e_h;
            y -= h;
            let _ = write!(
                bars,
                r###"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{colour}"/>"###
            );
        }
        if !bars.is_empty() {
            let _ = write!(
                s,
                r###"<g class="bucket5xx"><title>{} — {}</title>{bars}</g>"###,
                esc(&row.start),
                esc(&tip.join(", "))
            );
        }
    }
    // event marks
    for (k, (label, colour, kinds)) in MARKS.iter().enumerate() {
        let y = m_top + m_row * k as f64 + m_row / 2.0;
        let _ = write!(
            s,
            r###"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#f0f0f0"/>"###,
            LEFT - 6.0,
            y + 4.0,
            esc(label),
            W - RIGHT
        );
        for (i, row) in rows.iter().enumerate() {
            let c: u64 = kinds
                .iter()
                .map(|kd| row.events.get(*kd).copied().unwrap_or(0))
                .sum();
            if c == 0 {
                continue;
            }
            let x = LEFT + (i as f64 + 0.5) * bw;
            let rad = (2.0 + (c as f64).log2().max(0.0)).min(7.0);
            let which: Vec<String> = kinds
                .iter()
                .filter_map(|kd| row.events.get(*kd).map(|v| format!("{kd}: {v}")))
                .collect();
            let _ = write!(
                s,
                r###"<circle class="event-mark" cx="{x:.1}" cy="{y:.1}" r="{rad:.1}" fill="{colour}" fill-opacity="0.8"><title>{} — {}</title></circle>"###,
                esc(&row.start),
                esc(&which.join(", "))
            );
        }
    }
    x_axis(&mut s, rows, r.timeline.bucket_seconds, axis_y);
    s.push_str("</svg>");
    // legend
    s.push_str(r###"<div class="legend"><span><i style="background:#90a4ae"></i>requests</span><span><i style="background:#d32f2f"></i>5xx (top panel)</span>"###);
    for (label, _, colour) in SERIES {
        let _ = write!(
            s,
            r###"<span><i style="background:{colour}"></i>{}</span>"###,
            esc(label)
        );
    }
    s.push_str(r###"<span><i style="background:#f4c7c3"></i>incident</span></div>"###);
    s
}

fn latency_svg(r: &Report) -> String {
    let rows = &r.timeline.rows;
    let pw = W - LEFT - RIGHT;
    let nb = rows.len().max(1) as f64;
    let (top, h) = (10.0, 150.0);
    let height = top + h + 30.0;
    let pick = |q: &Quantiles, k: usize| match k {
        0 => q.p50,
        1 => q.p95,
        _ => q.p99,
    };
    let max = nice_max(
        rows.iter()
            .flat_map(|x| {
                [
                    x.latency.p99,
                    x.latency.p95,
                    x.upstream_latency.p95,
                    x.upstream_latency.p99,
                ]
            })
            .flatten()
            .fold(0.0, f64::max),
    );
    let mut s = String::new();
    let _ = write!(
        s,
        r###"<svg id="latency-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" aria-label="Latency quantiles over time">"###
    );
    shade(&mut s, r, top, top + h, false);
    let _ = write!(
        s,
        r###"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#bbb"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">0</text><text x="8" y="{:.1}" font-weight="bold">latency</text>"###,
        W - RIGHT,
        top + h,
        top + h,
        LEFT - 6.0,
        top + 10.0,
        esc(&secs(Some(max))),
        LEFT - 6.0,
        top + h,
        top + h / 2.0
    );
    let series: [(&str, bool, usize, &str, &str); 4] = [
        ("request p50", false, 0, "#43a047", ""),
        ("request p95", false, 1, "#fb8c00", ""),
        ("request p99", false, 2, "#d32f2f", ""),
        ("upstream p95", true, 1, "#1565c0", "4 3"),
    ];
    let mut legend = String::from(r###"<div class="legend">"###);
    for (label, up, k, colour, dash) in series {
        let mut d = String::new();
        let mut pen_down = false;
        for (i, row) in rows.iter().enumerate() {
            let q = if up {
                &row.upstream_latency
            } else {
                &row.latency
            };
            match pick(q, k) {
                Some(v) => {
                    let x = LEFT + (i as f64 + 0.5) * pw / nb;
                    let y = top + h - (v / max).min(1.0) * h;
                    let _ = write!(d, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = write!(
                s,
                r###"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"><title>{}</title></path>"###,
                esc(label)
            );
        }
        let _ = write!(
            legend,
            r###"<span><i style="background:{colour}"></i>{}</span>"###,
            esc(label)
        );
    }
    legend.push_str("</div>");
    x_axis(&mut s, rows, r.timeline.bucket_seconds, top + h);
    s.push_str("</svg>");
    s.push_str(&legend);
    s
}

fn kv_table(out: &mut String, id: &str, title: &str, rows: &[(String, u64)], total: Option<u64>) {
    let _ = write!(
        out,
        r###"<div><h3>{}</h3><table id="{id}"><tr><th>key</th><th class="n">count</th>{}</tr>"###,
        esc(title),
        if total.is_some() {
            r###"<th class="n">share</th>"###
        } else {
            ""
        }
    );
    if rows.is_empty() {
        out.push_str(r###"<tr><td colspan="3" class="muted">none</td></tr>"###);
    }
    for (k, v) in rows {
        let _ = write!(
            out,
            r###"<tr><td>{}</td><td class="n">{}</td>"###,
            esc(k),
            n(*v)
        );
        if let Some(t) = total {
            let _ = write!(out, r###"<td class="n">{}</td>"###, pct(*v, t));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>");
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let window = match (&r.window.from, &r.window.to) {
        (Some(a), Some(b)) => format!("{a} – {b}"),
        _ => "no timestamped records".into(),
    };
    let e5: u64 = r
        .totals
        .status_class
        .get("5xx")
        .copied()
        .unwrap_or_default();
    let _ = write!(
        o,
        r###"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{}">
<title>gatelog report: {}</title>
<style>{CSS}</style></head><body>
<h1>gatelog report</h1>
<div class="muted">{} · bucket {} · times in UTC · timezone for zone-less logs: {}</div>
"###,
        esc(&r.generator),
        esc(&window),
        esc(&window),
        esc(&r.timeline.bucket),
        esc(&r.timezone)
    );
    // the answer first
    o.push_str(r###"<div class="card summary" id="summary"><span>summary</span>"###);
    for line in &r.summary.lines {
        let _ = write!(o, "<p>{}</p>", esc(line));
    }
    o.push_str("</div>");
    // summary cards
    let _ = write!(
        o,
        r###"<div class="cards"><div class="card"><span>requests{}</span><b>{}</b></div><div class="card{}"><span>5xx</span><b>{}</b>{}</div><div class="card{}"><span>incidents</span><b>{}</b></div><div class="card"><span>5xx explained by an error-log line</span><b>{} / {}</b></div><div class="card"><span>lines read</span><b>{}</b></div><div class="card{}"><span>lines rejected</span><b>{}</b></div></div>"###,
        esc(&r
            .totals
            .counted_layer
            .as_ref()
            .filter(|_| r.totals.layers.len() > 1)
            .map(|l| format!(" (each once, at the {l} layer)"))
            .unwrap_or_default()),
        n(r.totals.requests),
        if e5 > 0 { " bad" } else { "" },
        n(e5),
        esc(&pct(e5, r.totals.requests)),
        if r.incidents.is_empty() { "" } else { " bad" },
        r.incidents.len(),
        n(r.joins.explained),
        n(r.joins.total_5xx),
        n(r.totals.lines),
        if r.totals.rejected > 0 { " bad" } else { "" },
        n(r.totals.rejected)
    );
    o.push_str("<h2>Timeline</h2>");
    o.push_str(&timeline_svg(r));

    // incidents
    o.push_str(r###"<h2>Incidents</h2><table id="incident-table"><tr><th>#</th><th>start</th><th>end</th><th>peak bucket</th><th class="n">requests</th><th class="n">errors</th><th class="n">error rate</th><th class="n">baseline</th><th>status</th><th>probable cause</th></tr>"###);
    if r.incidents.is_empty() {
        o.push_str(
            r###"<tr><td colspan="10" class="muted">no incident: the 5xx rate stayed near its baseline</td></tr>"###,
        );
    }
    for i in &r.incidents {
        let status: Vec<String> = i.status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let top = i
            .causes
            .first()
            .map(|c| format!("{} ({:.2})", c.cause, c.confidence))
            .unwrap_or_else(|| "–".into());
        let _ = write!(
            o,
            r###"<tr><td><a href="#incident-{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.1}%</td><td class="n">{:.1}%</td><td>{}</td><td>{}</td></tr>"###,
            i.id,
            i.id,
            esc(&i.start),
            esc(&i.end),
            esc(&i.peak_bucket),
            n(i.requests),
            n(i.errors),
            i.error_rate * 100.0,
            i.baseline_rate * 100.0,
            esc(&status.join(", ")),
            esc(&top)
        );
    }
    o.push_str("</table>");
    for i in &r.incidents {
        let _ = write!(
            o,
            r###"<h3 id="incident-{}">Incident #{}: {} – {}</h3>"###,
            i.id,
            i.id,
            esc(&i.start),
            esc(&i.end)
        );
        if let (Some(l), true) = (&i.counted_layer, i.by_layer.len() > 1) {
            // several layers logged the same requests: say which one the figures count
            let layers: Vec<String> = i
                .by_layer
                .iter()
                .map(|(k, c)| format!("{k}: {} requests, {} 5xx", n(c.requests), n(c.err5xx)))
                .collect();
            let _ = write!(
                o,
                r###"<div class="ev counted">{} errors of {} requests, each request counted once, as the {} layer logged it (each layer's own lines: {})</div>"###,
                n(i.errors),
                n(i.requests),
                esc(l),
                esc(&layers.join("; "))
            );
        }
        let ups: Vec<String> = i
            .upstreams
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let evs: Vec<String> = i.events.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = write!(
            o,
            r###"<div class="ev">5xx by upstream: {} · error events: {} · 5xx explained by an error-log line: {} of {}{}</div>"###,
            esc(if ups.is_empty() {
                "–".into()
            } else {
                ups.join(", ")
            }
            .as_str()),
            esc(if evs.is_empty() {
                "–".into()
            } else {
                evs.join(", ")
            }
            .as_str()),
            n(i.joins.explained),
            n(i.joins.total_5xx),
            if i.joins.lb_5xx > 0 {
                format!(
                    " · LB 5xx matched to a backend line: {} of {}",
                    n(i.joins.lb_matched),
                    n(i.joins.lb_5xx)
                )
            } else {
                String::new()
            }
        );
        if let Some(ch) = i.causes.first().and_then(|c| c.chain.as_deref()) {
            let _ = write!(o, r###"<p class="chain"><b>Chain:</b> {}</p>"###, esc(ch));
        }
        if let Some(s) = &i.saturation {
            let _ = write!(o, r###"<p><b>Saturation:</b> {}</p>"###, esc(&s.summary));
        }
        let _ = write!(
            o,
            r###"<table class="causes" id="causes-{}"><tr><th>cause</th><th>confidence</th><th>summary and evidence</th></tr>"###,
            i.id
        );
        for c in &i.causes {
            let _ = write!(
                o,
                r###"<tr><td><code>{}</code></td><td><span class="conf" style="width:{:.0}px"></span>{:.2}</td><td>{}"###,
                esc(&c.cause),
                (c.confidence.clamp(0.0, 1.0) * 60.0),
                c.confidence,
                esc(&c.summary)
            );
            for e in &c.evidence {
                let _ = write!(
                    o,
                    r###"<pre><span class="muted">{}:{}</span>  {}</pre>"###,
                    esc(&e.path),
                    e.line,
                    esc(&e.text)
                );
            }
            o.push_str("</td></tr>");
        }
        o.push_str("</table>");
    }

    // top tables
    // per layer: the counted (outermost) layer first, with the ids it always had
    o.push_str(r###"<h2>Where the 5xx came from</h2>"###);
    let conv = |v: &[crate::analysis::report::TopEntry]| -> Vec<(String, u64)> {
        v.iter().map(|e| (e.key.clone(), e.count)).collect()
    };
    let mut layers: Vec<(&String, &crate::analysis::report::TopTables)> =
        r.top.layers.iter().collect();
    layers.sort_by_key(|(l, _)| {
        (
            Some(l.as_str()) != r.top.counted_layer.as_deref(),
            ["lb", "proxy", "app"].iter().position(|x| x == l),
        )
    });
    for (layer, t) in layers {
        let counted = Some(layer.as_str()) == r.top.counted_layer.as_deref();
        let id = |what: &str| {
            if counted {
                format!("top-{what}")
            } else {
                format!("top-{layer}-{what}")
            }
        };
        let of = r
            .totals
            .layers
            .get(layer)
            .and_then(|x| x.status_class.get("5xx"))
            .copied();
        let _ = write!(
            o,
            r###"<h3>{} layer{}</h3><div class="grid">"###,
            esc(layer),
            if counted { " (counted)" } else { "" }
        );
        kv_table(
            &mut o,
            &id("upstreams"),
            "upstreams",
            &conv(&t.upstreams),
            of,
        );
        kv_table(&mut o, &id("paths"), "paths", &conv(&t.paths), of);
        kv_table(&mut o, &id("clients"), "clients", &conv(&t.clients), of);
        o.push_str("</div>");
    }
    if r.top.error_bound > 0 {
        let _ = write!(
            o,
            r###"<p class="muted">Counts may be low by at most {} (bounded tables).</p>"###,
            n(r.top.error_bound)
        );
    }

    // latency
    o.push_str("<h2>Latency over time</h2>");
    o.push_str(&latency_svg(r));
    let _ = write!(
        o,
        r###"<table id="latency"><tr><th></th><th class="n">p50</th><th class="n">p95</th><th class="n">p99</th></tr><tr><td>request time</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr><tr><td>upstream time</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr></table>"###,
        secs(r.latency.request_time.p50),
        secs(r.latency.request_time.p95),
        secs(r.latency.request_time.p99),
        secs(r.latency.upstream_time.p50),
        secs(r.latency.upstream_time.p95),
        secs(r.latency.upstream_time.p99)
    );
    if r.capacity.sustained_rps.is_some() || r.capacity.errors_began_rps.is_some() {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.1}/s")).unwrap_or_else(|| "–".into());
        let _ = write!(
            o,
            r###"<p>Capacity: sustained {} without errors; errors began at {}.</p>"###,
            f(r.capacity.sustained_rps),
            f(r.capacity.errors_began_rps)
        );
    }

    // status totals
    o.push_str(r###"<h2>Status codes</h2><div class="grid">"###);
    let st: Vec<(String, u64)> = r
        .totals
        .status
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    kv_table(&mut o, "status", "status", &st, Some(r.totals.requests));
    let ev: Vec<(String, u64)> = r
        .totals
        .events
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    kv_table(&mut o, "events", "error and life-cycle events", &ev, None);
    o.push_str("</div>");

    // parse statistics
    o.push_str(r###"<h2>Inputs and parse statistics</h2><table id="inputs"><tr><th>input</th><th>format</th><th>layer</th><th class="n">lines</th><th class="n">parsed</th><th class="n">rejected</th><th class="n">skipped</th><th class="n">bytes</th><th class="n">requests</th><th class="n">events</th></tr>"###);
    for i in &r.inputs {
        let _ = write!(
            o,
            r###"<tr><td>{}<div class="ev">{}</div></td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"###,
            esc(&i.path),
            esc(&i.detected),
            esc(&i.format),
            esc(&i.layer),
            n(i.lines),
            n(i.parsed),
            n(i.rejected),
            n(i.skipped),
            n(i.bytes),
            n(i.requests),
            n(i.events)
        );
    }
    let _ = write!(
        o,
        r###"<tr><th>total</th><th></th><th></th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th></th><th class="n">{}</th><th></th></tr></table>"###,
        n(r.totals.lines),
        n(r.totals.parsed),
        n(r.totals.rejected),
        n(r.totals.skipped),
        n(r.totals.requests)
    );
    for line in r.inputs.iter().filter_map(crate::sink::duplicate_note) {
        let _ = write!(o, r###"<p class="dup">{}</p>"###, esc(&line));
    }
    for i in r.inputs.iter().filter(|i| i.rejected > 0) {
        let _ = write!(
            o,
            "<details><summary>{}: {} rejected lines</summary><ul>",
            esc(&i.path),
            n(i.rejected)
        );
        for (reason, c) in &i.rejected_reasons {
            let _ = write!(o, "<li>{}: {}</li>", esc(reason), n(*c));
        }
        o.push_str("</ul>");
        for s in &i.rejected_samples {
            let _ = write!(
                o,
                r###"<pre><span class="muted">{}:{}</span>  {}</pre>"###,
                esc(&s.path),
                s.line,
                esc(&s.text)
            );
        }
        o.push_str("</details>");
    }
    if !r.skipped_inputs.is_empty() {
        o.push_str("<h3>Skipped (no known format)</h3><ul>");
        for s in &r.skipped_inputs {
            let _ = write!(o, "<li>{}: {}</li>", esc(&s.path), esc(&s.reason));
        }
        o.push_str("</ul>");
    }
    if !r.findings.is_empty() {
        o.push_str("<h3>Findings (no incident)</h3><ul id=\"findings\">");
        for f in &r.findings {
            let _ = write!(
                o,
                "<li><b>{}</b> ({:.2}): {}</li>",
                esc(&f.cause),
                f.confidence,
                esc(&f.summary)
            );
        }
        o.push_str("</ul>");
    }
    if !r.notes.is_empty() {
        o.push_str("<h3>Notes</h3><ul>");
        for s in &r.notes {
            let _ = write!(o, "<li>{}</li>", esc(s));
        }
        o.push_str("</ul>");
    }
    // The script only marks the page as rendered (checked by the browser test) and highlights
    // the incident rows of the timeline when an incident row is hovered; it reads no data.
    o.push_str(
        r###"<script>
(function(){
  var spans = document.querySelectorAll('#timeline-chart .incident-span');
  document.querySelectorAll('#incident-table tr').forEach(function(tr, i){
    if (i === 0) return;
    tr.addEventListener('mouseenter', function(){ var s = spans[i-1]; if (s) s.setAttribute('fill-opacity','0.9'); });
    tr.addEventListener('mouseleave', function(){ var s = spans[i-1]; if (s) s.setAttribute('fill-opacity','0.55'); });
  });
  document.documentElement.setAttribute('data-gatelog-ready', String(spans.length));
})();
</script>
"###,
    );
    o.push_str("</body></html>\n");
    o
}
