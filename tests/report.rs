//! The report answers first (issue 16): SUMMARY / `summary` / the HTML card, folded quiet
//! timeline runs, an empty --since/--until window, `detect` on empty files and non-logs,
//! the --state lock; and issue 15's one-layer headline figures, capacity and sliding `for`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gatelog")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(args: &[&str]) -> Value {
    let mut a = vec!["analyze", "--json"];
    a.extend_from_slice(args);
    let out = gatelog(&a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatelog-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// The lab incident: HAProxy → nginx → php-fpm, the pool saturated (ground_truth.json).
#[test]
fn summary_comes_first_and_answers_when_how_bad_why_and_what_to_change() {
    let r = json(&["samples/incident"]);
    let s = &r["summary"];
    let inc = &r["incidents"][0];
    assert_eq!(s["incidents"], 1);
    assert_eq!(s["incident"], 1);
    assert_eq!(s["from"], inc["start"]);
    assert_eq!(s["to"], inc["end"]);
    // the ground truth's saturation + drain phases: 20:01:31.4 → 20:02:11.6
    let d = s["duration_seconds"].as_i64().unwrap();
    assert!((30..=45).contains(&d), "{d}");
    assert_eq!(s["counted_layer"], "lb");
    assert_eq!(s["errors"], inc["errors"]);
    assert_eq!(s["requests"], inc["requests"]);
    assert_eq!(s["status"], "504");
    assert_eq!(s["chain"][0], "fpm_max_children");
    assert_eq!(s["chain"][0], inc["causes"][0]["cause"]);
    assert!(
        s["chain"][1].as_str().unwrap().contains("slow.php"),
        "{}",
        s["chain"]
    );
    assert!(s["setting"]
        .as_str()
        .unwrap()
        .starts_with("pm.max_children"));
    assert!(s["advice"]
        .as_str()
        .unwrap()
        .starts_with("Raise pm.max_children"));

    let out = gatelog(&["analyze", "samples/incident"]);
    let t = text(&out);
    let sum = t.find("SUMMARY").expect("SUMMARY section");
    assert!(sum < t.find("INPUTS").unwrap() && sum < t.find("TOTALS").unwrap());
    let head: String = t[sum..t.find("INPUTS").unwrap()].to_string();
    let errors = inc["errors"].as_u64().unwrap();
    assert!(
        head.contains(&format!("{errors} of {} requests failed", inc["requests"]))
            && head.contains("at the lb layer, mostly 504")
            && head.contains("cause: fpm_max_children ← slowlog:")
            && head.contains("change: pm.max_children"),
        "{head}"
    );

    // the HTML report's first card says the same
    let dir = tmp("html");
    let html = dir.join("r.html");
    let out = gatelog(&[
        "analyze",
        "samples/incident",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let h = std::fs::read_to_string(&html).unwrap();
    let card = h.find(r#"id="summary""#).expect("summary card");
    assert!(card < h.find("<h2>Timeline</h2>").unwrap());
    assert!(
        h[card..].contains("cause: fpm_max_children"),
        "no chain in the card"
    );
}

#[test]
fn a_run_without_incident_says_so_in_the_summary() {
    let r = json(&["samples/baseline"]);
    assert_eq!(r["incidents"].as_array().unwrap().len(), 0);
    let s = &r["summary"];
    assert_eq!(s["incident"], Value::Null);
    let t = s["text"].as_str().unwrap();
    assert!(t.starts_with("no incident: "), "{t}");
    assert_eq!(s["errors"], 0);
}

#[test]
fn quiet_timeline_runs_are_folded_into_one_line() {
    let r = json(&["samples/incident"]);
    let rows = r["timeline"]["rows"].as_array().unwrap();
    let out = gatelog(&["analyze", "samples/incident"]);
    let t = text(&out);
    let tl = &t[t.find("TIMELINE").unwrap()..t.find("INCIDENTS").unwrap()];
    // every row is either shown or counted in a folded line
    let shown = tl.lines().filter(|l| l.contains("2026-11-23T")).count();
    let folded: Vec<usize> = tl
        .lines()
        .filter_map(|l| l.trim().strip_prefix("... "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(!folded.is_empty(), "{tl}");
    // the chart groups rows to at most 48 lines
    let group = rows.len().div_ceil(48);
    assert_eq!(group, 2);
    assert_eq!(
        shown + folded.iter().sum::<usize>(),
        rows.len().div_ceil(group),
        "{tl}"
    );
    // incident rows are never folded
    let inc_rows = rows
        .chunks(group)
        .filter(|c| c.iter().any(|r| !r["in_incident"].is_null()))
        .count();
    assert_eq!(tl.lines().filter(|l| l.starts_with('*')).count(), inc_rows);
    // the folded requests add up
    let req_folded: u64 = tl
        .lines()
        .filter(|l| l.trim().starts_with("... "))
        .map(|l| {
            let a = l.find('(').unwrap() + 1;
            l[a..].split(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    let req_shown: u64 = tl
        .lines()
        .filter(|l| l.contains("2026-11-23T"))
        .map(|l| {
            l.split_whitespace()
                .find(|w| w.parse::<u64>().is_ok())
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    let all: u64 = rows.iter().map(|r| r["requests"].as_u64().unwrap()).sum();
    assert_eq!(req_folded + req_shown, all);
}

/// An nginx `combined` line at `t` seconds after 2026-11-23T00:00:00Z.
fn combined(t: i64, status: u16) -> String {
    let d = chrono::DateTime::from_timestamp(1_795_392_000 + t, 0).unwrap();
    format!(
        "10.0.0.{} - - [{}] \"GET /item/{} HTTP/1.1\" {status} 512 \"-\" \"curl/8.0\"\n",
        t % 250,
        d.format("%d/%b/%Y:%H:%M:%S +0000"),
        t % 97
    )
}

#[test]
fn an_empty_since_until_window_says_where_the_logs_are_and_fails() {
    // the lab incident: small files, read from the top
    for (w, v) in [
        ("--since", "2026-11-24T00:00:00Z"),
        ("--until", "2026-11-23T00:00:00Z"),
    ] {
        let out = gatelog(&["analyze", "samples/incident", w, v]);
        assert_eq!(out.status.code(), Some(1), "{w} {v}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: u64 = json(&["samples/incident"])["totals"]["lines"]
            .as_u64()
            .unwrap();
        assert_eq!(
            err.trim(),
            format!("gatelog: error: {w} {v}: the window holds no record: all {lines} lines fell outside it; the logs run from 2026-11-23T20:01:09+00:00 to 2026-11-23T20:02:32+00:00"),
        );
        // the report is still printed (nightly jobs keep their output)
        assert!(text(&out).contains("SUMMARY"));
    }
    // a window that holds records is no error
    let out = gatelog(&[
        "analyze",
        "samples/incident",
        "--since",
        "2026-11-23T20:01:30Z",
    ]);
    assert_eq!(out.status.code(), Some(0));

    // a 2.4 MB time-ordered file: seeked (only its last block is parsed) or read whole,
    // the message names both ends
    let dir = tmp("window");
    let n = 24_000i64;
    let log: String = (0..n).map(|t| combined(t, 200)).collect();
    assert!(log.len() > 2 << 20);
    let p = write(&dir, "access.log", log.as_bytes());
    let last = chrono::DateTime::from_timestamp(1_795_392_000 + n - 1, 0).unwrap();
    let want = format!(
        "the logs run from 2026-11-23T00:00:00+00:00 to {}",
        last.format("%Y-%m-%dT%H:%M:%S+00:00")
    );
    for seek in ["0", "1"] {
        for (w, v) in [
            ("--since", "2026-11-25T00:00:00Z"),
            ("--until", "2026-11-22T00:00:00Z"),
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
                .args(["analyze", p.to_str().unwrap(), w, v])
                .env("GATELOG_NO_SEEK", seek)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(
                err.contains(&format!("all {n} lines fell outside it")) && err.contains(&want),
                "no-seek={seek} {w}: {err}"
            );
        }
    }
}
