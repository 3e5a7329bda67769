//! `--csv DIR`: `timeline.csv` and `incidents.csv` for spreadsheets (RFC 4180 quoting).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::agg::acc::STATUS_TRACKED;
use crate::analysis::report::Report;

/// A CSV field: quoted when it holds a comma, quote or line break. A field a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@` first) gets a leading `'` (CSV injection), since
/// log-derived text ends up here.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub fn timeline_csv(r: &Report) -> String {
    let mut out = String::from("start,requests,5xx");
    for c in STATUS_TRACKED {
        let _ = write!(out, ",status_{c}");
    }
    out.push_str(",latency_p50,latency_p95,latency_p99,upstream_latency_p50,upstream_latency_p95,upstream_latency_p99,error_events,incident\n");
    for row in &r.timeline.rows {
        let _ = write!(out, "{},{},{}", row.start, row.requests, row.err5xx);
        for c in STATUS_TRACKED {
            let _ = write!(
                out,
                ",{}",
                row.status.get(&c.to_string()).copied().unwrap_or(0)
            );
        }
        let ev: u64 = row.events.values().sum();
        let _ = writeln!(
            out,
            ",{},{},{},{},{},{},{},{}",
            opt(row.latency.p50),
            opt(row.latency.p95),
            opt(row.latency.p99),
            opt(row.upstream_latency.p50),
            opt(row.upstream_latency.p95),
            opt(row.upstream_latency.p99),
            ev,
            row.in_incident.map(|i| i.to_string()).unwrap_or_default()
        );
    }
    out
}

/// One row per (incident, cause), ranked; an incident without causes has one row.
pub fn incidents_csv(r: &Report) -> String {
    let mut out = String::from(
        "incident,start,end,peak_bucket,requests,errors,error_rate,baseline_rate,status,upstreams,rank,cause,confidence,summary,evidence\n",
    );
    for i in &r.incidents {
        let status: Vec<String> = i.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ups: Vec<String> = i
            .upstreams
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let head = format!(
            "{},{},{},{},{},{},{},{},{},{}",
            i.id,
            i.start,
            i.end,
            i.peak_bucket,
            i.requests,
            i.errors,
            i.error_rate,
            i.baseline_rate,
            field(&status.join(" ")),
            field(&ups.join(" "))
        );
        if i.causes.is_empty() {
            let _ = writeln!(out, "{head},,,,,");
        }
        for (n, c) in i.causes.iter().enumerate() {
            let ev: Vec<String> = c
                .evidence
                .iter()
                .map(|e| format!("{}:{}", e.path, e.line))
                .collect();
            let _ = writeln!(
                out,
                "{head},{},{},{},{},{}",
                n + 1,
                field(&c.cause),
                c.confidence,
                field(&c.summary),
                field(&ev.join(" "))
            );
        }
    }
    out
}

/// Write both files into `dir` (created if missing); returns their paths.
pub fn write(dir: &Path, r: &Report) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "--csv {}: cannot create the directory: {e}; check the path and permissions",
            dir.display()
        )
    })?;
    let mut out = Vec::new();
    for (name, text) in [
        ("timeline.csv", timeline_csv(r)),
        ("incidents.csv", incidents_csv(r)),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| {
            format!(
                "{}: cannot write: {e}; check free space and permissions",
                p.display()
            )
        })?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-0.5"), "-0.5");
        assert_eq!(field("plain"), "plain");
    }
}
