//! Exports: Parquet tables checked by DuckDB (a reader this project did not write) against the
//! JSON report, the HTML report opened in headless Chromium, CSV, Hive partitions, and the
//! same tables whatever the thread count and chunking.
//!
//! DuckDB (`pip install duckdb`) and Chromium (`apt-get install chromium`) are installed by
//! `.ci/run`. With `CI=true` a missing tool fails the test; otherwise it prints `SKIPPED`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatelog")
}

fn ok(args: &[&str]) -> Output {
    let out = gatelog(args);
    assert!(
        out.status.success(),
        "gatelog {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A tool is there, or the test fails in CI and is skipped elsewhere.
fn need(tool: &str, present: bool, test: &str) -> bool {
    if present {
        return true;
    }
    assert!(!in_ci(), "{tool} is required in CI (installed by .ci/run)");
    println!("SKIPPED {test}: {tool} not installed");
    false
}

fn have_duckdb() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn duckdb_check(dir: &Path, report: &Path, hive: bool) {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/duckdb_check.py"))
        .arg(dir)
        .arg(report);
    if hive {
        cmd.arg("--hive");
    }
    let out = cmd.output().expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "DuckDB disagrees with the JSON report for {}:\n{text}{}",
        report.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("checks agree"), "{text}");
}

fn read_all(p: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn rows(p: &Path) -> usize {
    read_all(p).iter().map(|b| b.num_rows()).sum()
}

const SAMPLES: [&str; 5] = [
    "samples/incident",
    "samples/backlog",
    "samples/fpm_terminate",
    "samples/lb_backend_down",
    "samples/rate_limit",
];

#[test]
fn parquet_tables_recompute_the_json_report_in_duckdb() {
    let duck = need(
        "duckdb (python3 -m pip install duckdb)",
        have_duckdb(),
        "duckdb",
    );
    for s in SAMPLES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pq");
        let out = ok(&["analyze", s, "--json", "--parquet", dir.to_str().unwrap()]);
        let report_path = tmp.path().join("report.json");
        std::fs::write(&report_path, &out.stdout).unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        // without DuckDB: the row counts and Arrow types, read back with arrow-rs
        let req = dir.join("requests.parquet");
        // one row per request line, every layer's (`totals.requests` counts each request
        // once, at the outermost layer; `totals.layers` each layer's own lines)
        assert_eq!(rows(&req) as u64, request_lines(&report), "{s}");
        let schema = read_all(&req)[0].schema();
        assert_eq!(
            schema.field_with_name("ts").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert!(matches!(
            schema.field_with_name("layer").unwrap().data_type(),
            DataType::Dictionary(_, _)
        ));
        assert_eq!(
            schema.field_with_name("request_time").unwrap().data_type(),
            &DataType::Duration(TimeUnit::Microsecond)
        );
        assert!(schema
            .field_with_name("request_time")
            .unwrap()
            .is_nullable());
        assert_eq!(
            rows(&dir.join("timeline.parquet")),
            report["timeline"]["rows"].as_array().unwrap().len(),
            "{s}"
        );
        for t in ["events", "rejected", "incidents"] {
            assert!(dir.join(format!("{t}.parquet")).is_file(), "{s}: {t}");
        }
        // no scratch files left behind
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names.len(), 5, "{s}: {names:?}");
        if duck {
            duckdb_check(&dir, &report_path, false);
        }
    }
}

#[test]
fn parquet_from_stdin_and_rejected_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let good = std::fs::read_to_string(root().join("samples/fpm_saturation/access.log")).unwrap();
    let mut text: String = good.lines().take(50).map(|l| format!("{l}\n")).collect();
    text.push_str("this is not a log line\n");
    text.push_str(
        &good
            .lines()
            .skip(50)
            .take(10)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    std::fs::write(&log, &text).unwrap();
    let dir = tmp.path().join("pq");
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "-", "--json", "--parquet", dir.to_str().unwrap()])
        .stdin(std::fs::File::open(&log).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["totals"]["rejected"], 1);
    assert_eq!(rows(&dir.join("requests.parquet")), 60);
    let rej = read_all(&dir.join("rejected.parquet"));
    assert_eq!(rej.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    let line = rej[0]
        .column_by_name("line")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::UInt64Array>()
        .unwrap()
        .value(0);
    assert_eq!(line, 51, "the rejected row names its line");
    let report_path = tmp.path().join("report.json");
    std::fs::write(&report_path, &out.stdout).unwrap();
    if need("duckdb", have_duckdb(), "stdin duckdb check") {
        duckdb_check(&dir, &report_path, false);
    }
}

/// Runs the analysis through the library with a given thread count and chunk size (small
/// chunks split a file into many jobs) and returns the bytes of every table.
fn tables_with(
    inputs: &[String],
    threads: usize,
    chunk: u64,
    dir: &Path,
) -> Vec<(String, Vec<u8>)> {
    use clap::Parser;
    let mut argv = vec!["gatelog".to_string(), "analyze".into()];
    argv.extend(inputs.iter().cloned());
    let cli = gatelog::cli::Cli::try_parse_from(&argv).unwrap();
    let gatelog::cli::Command::Analyze(args) = cli.cmd else {
        panic!("not analyze")
    };
    let mut p = gatelog::cmd::analyze::prepare(&args).unwrap();
    p.threads = threads;
    p.opts.chunk_bytes = chunk;
    p.opts.block_bytes = 4096;
    let px = gatelog::sink::export::parquet::ParquetExport::new(dir, vec![], None).unwrap();
    p.opts.rows = Some(px.clone() as std::sync::Arc<dyn gatelog::sink::export::RowSinkFactory>);
    let out = gatelog::cmd::analyze::analyze(&args.inputs, &p);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    px.finish(&out.report).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_tables_whatever_the_thread_count_and_chunking() {
    let base = root().join("samples/fpm_saturation");
    let inputs: Vec<String> = ["access.log", "error.log", "php-fpm-slow.log", "php-fpm.log"]
        .iter()
        .map(|f| base.join(f).display().to_string())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for (i, (threads, chunk)) in [(1usize, u64::MAX), (2, 10_000), (3, 7_777)]
        .into_iter()
        .enumerate()
    {
        let d = tmp.path().join(format!("run{i}"));
        all.push(tables_with(&inputs, threads, chunk, &d));
    }
    assert_eq!(all[0].len(), 5);
    for run in &all[1..] {
        for (a, b) in all[0].iter().zip(run) {
            assert_eq!(a.0, b.0);
            assert!(
                a.1 == b.1,
                "{} differs between thread counts/chunkings",
                a.0
            );
        }
    }
    // line numbers of later chunks continue the file's numbering
    let req = read_all(&tmp.path().join("run2/requests.parquet"));
    let mut lines = Vec::new();
    for b in &req {
        let file = b.column_by_name("file").unwrap();
        let file = arrow_array::cast::AsArray::as_dictionary::<arrow_array::types::Int32Type>(
            file.as_ref(),
        );
        let names = arrow_array::cast::AsArray::as_string::<i32>(file.values().as_ref());
        let l = b
            .column_by_name("line")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::UInt64Array>()
            .unwrap();
        for i in 0..b.num_rows() {
            let k = file.keys().value(i) as usize;
            if names.value(k).ends_with("access.log") {
                lines.push(l.value(i));
            }
        }
    }
    let n = std::fs::read_to_string(base.join("access.log"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(lines, (1..=n).collect::<Vec<u64>>());
}

#[test]
fn hive_partitions_by_date_and_host() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lake");
    let d = dir.to_str().unwrap();
    let args = [
        "analyze",
        "samples/incident",
        "--json",
        "--parquet",
        d,
        "--partition",
        "date,host",
        "--host",
        "web-01",
    ];
    let out = ok(&args);
    let report_path = tmp.path().join("report.json");
    std::fs::write(&report_path, &out.stdout).unwrap();
    let part = dir.join("requests/date=2026-11-23/host=web-01/part-0.parquet");
    assert!(part.is_file(), "{} missing", part.display());
    assert!(dir
        .join("timeline/date=2026-11-23/host=web-01/part-0.parquet")
        .is_file());
    assert!(dir
        .join("incidents/date=2026-11-23/host=web-01/part-0.parquet")
        .is_file());
    assert!(dir
        .join("events/date=2026-11-23/host=web-01/part-0.parquet")
        .is_file());
    if need("duckdb", have_duckdb(), "hive duckdb check") {
        duckdb_check(&dir, &report_path, true);
    }
    // a second (nightly) run adds a part; it never overwrites the first
    ok(&args);
    assert!(dir
        .join("requests/date=2026-11-23/host=web-01/part-1.parquet")
        .is_file());
    assert!(part.is_file());
    // host from the input's directory when --host is not given; unsafe names are defused
    let dir2 = tmp.path().join("lake2");
    ok(&[
        "analyze",
        "samples/incident/error.log",
        "--parquet",
        dir2.to_str().unwrap(),
        "--partition",
        "host",
        "-q",
    ]);
    assert!(dir2.join("events/host=incident/part-0.parquet").is_file());
    let bad = gatelog(&[
        "analyze",
        "samples/incident",
        "--parquet",
        d,
        "--partition",
        "month",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("--partition 'month'"), "{msg}");
}

fn html_of(input: &str, tmp: &Path) -> (PathBuf, String) {
    let p = tmp.join("report.html");
    ok(&["analyze", input, "--html", p.to_str().unwrap(), "-q"]);
    let html = std::fs::read_to_string(&p).unwrap();
    (p, html)
}

#[test]
fn html_escapes_log_text_and_loads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // an attacker-controlled request line and user agent in a 5xx burst, so they appear in
    // evidence and in the top paths
    let mut log = String::new();
    for i in 0..40 {
        let status = if i >= 20 { 502 } else { 200 };
        log.push_str(&format!(
            "10.0.0.{} - - [23/Nov/2026:10:00:{:02} +0000] \"GET /<script>alert(1)</script>?q=\\\"x\\\" HTTP/1.1\" {status} 10 \"-\" \"<img src=x onerror=alert(2)>\"\n",
            i % 5,
            i
        ));
    }
    let input = tmp.path().join("access.log");
    std::fs::write(&input, log).unwrap();
    let (_, html) = html_of(input.to_str().unwrap(), tmp.path());
    assert!(!html.contains("<script>alert"), "unescaped log text");
    assert!(!html.contains("<img"), "unescaped log text");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // one inline script only (ours), no external resources
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("Content-Security-Policy"));
    for bad in ["src=\"http", "href=\"http", "url(http", "@import", "<link"] {
        assert!(!html.contains(bad), "{bad} in the HTML report");
    }
}

#[test]
fn html_says_which_layer_an_incident_counts() {
    // behind HAProxy, the LB and nginx both log each request: the incident's figures count
    // them once, at the LB, and the page says so with every layer's own counts
    let tmp = tempfile::tempdir().unwrap();
    let (_, html) = html_of("samples/client_subset", tmp.path());
    assert!(
        html.contains(
            "80 errors of 240 requests, each request counted once, as the lb layer logged it \
             (each layer's own lines: app: 160 requests, 0 5xx; lb: 240 requests, 80 5xx; \
             proxy: 280 requests, 80 5xx)"
        ),
        "no counted-layer line in the HTML incident"
    );
    // one layer only (nginx's access log alone): nothing to say
    let (_, html) = html_of("samples/incident/access.log.gz", tmp.path());
    assert!(html.contains("id=\"incident-1\""), "no incident to look at");
    assert!(!html.contains("each request counted once"));
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let (page, html) = html_of("samples/incident", tmp.path());
    assert!(html.contains("id=\"timeline-chart\""));
    assert!(html.contains("id=\"incident-table\""));
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !need("chromium", chromium.is_some(), "headless chromium") {
        return;
    }
    let chromium = chromium.unwrap_or("chromium");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exports");
    std::fs::create_dir_all(&out_dir).unwrap();
    let shot = out_dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1300,1500",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    // the inline script ran to its end: it marks the page with the number of incident spans
    assert!(
        dom.contains("data-gatelog-ready=\"1\""),
        "script did not run (or found no incident on the chart):\n{log}"
    );
    assert!(dom.contains("<svg id=\"timeline-chart\""));
    assert!(dom.contains("class=\"incident-span\""));
    assert!(dom.contains("class=\"event-mark\""));
    assert!(dom.contains("<table id=\"incident-table\">"));
    assert!(dom.contains("fpm_max_children"));
    for l in log.lines() {
        let l_low = l.to_lowercase();
        assert!(
            !(l.contains("CONSOLE")
                || l_low.contains("uncaught")
                || l_low.contains("content security policy")),
            "browser console reported: {l}"
        );
    }
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    println!("screenshot: {}", shot.display());
}

#[test]
fn csv_timeline_and_incidents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("csv");
    let out = ok(&[
        "analyze",
        "samples/incident",
        "--json",
        "--csv",
        dir.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tl = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let rows = report["timeline"]["rows"].as_array().unwrap();
    assert_eq!(tl.lines().count(), rows.len() + 1);
    assert!(tl.starts_with("start,requests,5xx,"));
    let total: u64 = tl
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, request_lines(&report));
    let inc = std::fs::read_to_string(dir.join("incidents.csv")).unwrap();
    let causes: usize = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["causes"].as_array().unwrap().len().max(1))
        .sum();
    assert_eq!(inc.lines().count(), causes + 1);
    assert!(inc.contains(",fpm_max_children,"));
}

#[test]
fn date_partitions_of_a_log_spanning_days_out_of_order() {
    // days 21, 22, 23, then a late line of day 21 again: the job leaves and re-enters a
    // partition, and the merged part keeps every row exactly once, in input order
    let tmp = tempfile::tempdir().unwrap();
    let mut log = String::new();
    let mut want: std::collections::BTreeMap<&str, usize> = Default::default();
    for (day, n) in [("21", 30), ("22", 20), ("23", 10), ("21", 5)] {
        for i in 0..n {
            log.push_str(&format!(
                "10.0.0.1 - - [{day}/Nov/2026:23:59:{:02} +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"ua\"\n",
                i % 60
            ));
        }
        *want.entry(day).or_default() += n;
    }
    let input = tmp.path().join("access.log");
    std::fs::write(&input, log).unwrap();
    let dir = tmp.path().join("lake");
    let out = ok(&[
        "analyze",
        input.to_str().unwrap(),
        "--json",
        "--parquet",
        dir.to_str().unwrap(),
        "--partition",
        "date",
    ]);
    for (day, n) in &want {
        let p = dir.join(format!("requests/date=2026-11-{day}/part-0.parquet"));
        assert_eq!(rows(&p), *n, "{}", p.display());
        assert!(!dir
            .join(format!("requests/date=2026-11-{day}/part-1.parquet"))
            .exists());
    }
    let report_path = tmp.path().join("report.json");
    std::fs::write(&report_path, &out.stdout).unwrap();
    if need("duckdb", have_duckdb(), "multi-day duckdb check") {
        duckdb_check(&dir, &report_path, true);
    }
}

/// Request lines of every layer (timeline rows and export rows are lines).
fn request_lines(report: &Value) -> u64 {
    report["totals"]["layers"]
        .as_object()
        .unwrap()
        .values()
        .map(|l| l["requests"].as_u64().unwrap())
        .sum()
}
