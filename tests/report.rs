//! The report answers first (issue 16): SUMMARY / `summary` / the HTML card, folded quiet
//! timeline runs, an empty --since/--until window, `detect` on empty files and non-logs,
//! the --state lock; and issue 15's one-layer headline figures, capacity and sliding `for`.

use std::io::Write;
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

#[test]
fn detect_says_empty_for_empty_files_and_not_a_log_without_a_closest_format() {
    let dir = tmp("detect");
    let empty = write(&dir, "access.log", b"");
    let out = gatelog(&["detect", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out),
        format!(
            "{}\tempty\tempty file: nothing to recognise\n",
            empty.display()
        )
    );
    // a real configuration file of this repository is not a log
    let out = gatelog(&["detect", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.starts_with("Cargo.toml\tunknown\tnot a log: "), "{t}");
    assert!(!t.contains("closest"), "{t}");
    // analyze names it the same way, with the file
    let out = gatelog(&["analyze", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Cargo.toml: unknown format: not a log: "),
        "{err}"
    );
    // a log among them is still detected, and the empty file does not fail the run
    let out = gatelog(&[
        "detect",
        empty.to_str().unwrap(),
        "samples/incident/error.log",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("samples/incident/error.log\tnginx-error\t"));
}

/// A process that holds `<state>.lock` for `secs` (as another gatelog run would).
fn hold_lock(lock: &Path, secs: f64) -> std::process::Child {
    let mut c = Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'a')\nfcntl.flock(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(float(sys.argv[2]))",
            lock.to_str().unwrap(),
            &secs.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::BufRead;
    let mut l = String::new();
    std::io::BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut l)
        .unwrap();
    assert_eq!(l.trim(), "locked");
    c
}

#[test]
fn overlapping_runs_on_one_state_file_never_count_the_same_bytes_twice() {
    let dir = tmp("lock");
    let n = 60_000i64;
    let log: String = (0..n)
        .map(|t| combined(t, if t % 50 == 0 { 502 } else { 200 }))
        .collect();
    let p = write(&dir, "access.log", log.as_bytes());
    let state = dir.join("state.json");
    let run = |extra_env: Option<(&str, &str)>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gatelog"));
        c.args([
            "analyze",
            "--json",
            p.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ]);
        if let Some((k, v)) = extra_env {
            c.env(k, v);
        }
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let parsed = |o: &Output| -> u64 {
        let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
        v["totals"]["parsed"].as_u64().unwrap()
    };

    // another run holds the lock: this one waits, says so, and goes on when it is released
    let holder = hold_lock(&dir.join("state.json.lock"), 1.5);
    let t0 = std::time::Instant::now();
    let out = run(None).wait_with_output().unwrap();
    let waited = t0.elapsed().as_secs_f64();
    let mut holder = holder;
    holder.wait().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(waited >= 1.0, "did not wait: {waited}");
    assert!(
        err.contains("waiting for another run with --state"),
        "{err}"
    );
    assert_eq!(parsed(&out), n as u64);

    // held past the bound: a clear error, exit 1, and the state is left as it was
    let before = std::fs::read(&state).unwrap();
    let holder = hold_lock(&dir.join("state.json.lock"), 3.0);
    let out = run(Some(("GATELOG_STATE_LOCK_WAIT", "1")))
        .wait_with_output()
        .unwrap();
    let mut holder = holder;
    holder.wait().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("state.json.lock: another gatelog run with --state")
            && err.contains("held this lock for 1s"),
        "{err}"
    );
    assert_eq!(std::fs::read(&state).unwrap(), before);

    // two real runs started together over new bytes: between them every new line once
    let more: String = (n..2 * n).map(|t| combined(t, 200)).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .write_all(more.as_bytes())
        .unwrap();
    // both outputs are drained at once: the run holding the lock must never block on a full
    // stdout pipe while the test waits for the other
    let (a, b) = (run(None), run(None));
    let ta = std::thread::spawn(move || a.wait_with_output().unwrap());
    let tb = std::thread::spawn(move || b.wait_with_output().unwrap());
    let (a, b) = (ta.join().unwrap(), tb.join().unwrap());
    assert!(a.status.success() && b.status.success());
    assert_eq!(
        parsed(&a) + parsed(&b),
        n as u64,
        "{} + {}",
        parsed(&a),
        parsed(&b)
    );
}

/// Issue 15: CAPACITY counts each request once (the outermost layer), against the rate the
/// lab's load loop offered (samples/lab/run.sh: `rate` curls a second; ground_truth.json).
#[test]
fn capacity_counts_one_layer_and_matches_the_lab_offered_rate() {
    let gt: Value =
        serde_json::from_slice(&std::fs::read("samples/incident/ground_truth.json").unwrap())
            .unwrap();
    let ts = |s: &Value| {
        chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap())
            .unwrap()
            .timestamp_millis() as f64
            / 1000.0
    };
    let base = &gt["phases"][0];
    assert_eq!(base["name"], "baseline");
    let sent: u64 = base["client_observed_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let offered = sent as f64 / (ts(&base["end"]) - ts(&base["start"]));
    assert!((49.0..=51.0).contains(&offered), "{offered}");
    let r = json(&["samples/incident"]);
    let c = &r["capacity"];
    assert_eq!(c["counted_layer"], "lb");
    let sustained = c["sustained_rps"].as_f64().unwrap();
    let began = c["errors_began_rps"].as_f64().unwrap();
    // before: 607 and 114 req/s, the three layers' lines of each request summed
    assert!(
        (sustained - offered).abs() <= 0.1 * offered,
        "sustained {sustained} vs offered {offered}"
    );
    assert!(
        (began - offered).abs() <= 0.1 * offered,
        "errors began at {began} vs offered {offered}"
    );
}

// ---------------------------------------------------------------------------------------
// Issue 15: `for` windows slide (rules.rs): the metric over a window of `for`, whatever
// the bucket width.

/// `secs` seconds of nginx lines from `t0` (seconds after 2026-11-23T00:00:00Z), `per_s`
/// a second; request `j` (counted from the start) gets `status(j, second)`.
fn steady(t0: i64, secs: i64, per_s: i64, status: impl Fn(i64, i64) -> u16) -> String {
    let mut s = String::new();
    let mut j = 0;
    for t in 0..secs {
        for _ in 0..per_s {
            s.push_str(&combined(t0 + t, status(j, t)));
            j += 1;
        }
    }
    s
}

fn rule_result(file: &Path, bucket: &str, rule: &str) -> (Option<i32>, Value) {
    let out = gatelog(&[
        "analyze",
        "--json",
        "--bucket",
        bucket,
        file.to_str().unwrap(),
        "--fail-on",
        rule,
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), r["rules"][0].clone())
}

#[test]
fn a_steady_rate_holds_for_5m_whatever_the_bucket() {
    let d = tmp("steady");
    // 10 minutes at 2 requests a second, every 10th a 503 (10%), starting off a 5-minute
    // edge: a 1 s bucket holds 0% or 50%, so no bucket-by-bucket reading can see "10%"
    let data = steady(150, 600, 2, |j, _| if j % 10 == 0 { 503 } else { 200 });
    let n503 = data.lines().filter(|l| l.contains("\" 503 ")).count();
    assert_eq!(n503, 120);
    let f = write(&d, "access.log", data.as_bytes());
    for bucket in ["1s", "10s", "1m", "5m"] {
        let (code, r) = rule_result(&f, bucket, "rate(503) > 5% for 5m");
        assert_eq!(code, Some(3), "bucket {bucket}: {r}");
        assert_eq!(r["held"], true);
        let v = r["value"].as_f64().unwrap();
        assert!((v - 0.1).abs() < 0.02, "bucket {bucket}: peak {v}");
        // and a threshold above the steady rate never holds
        let (code, r) = rule_result(&f, bucket, "rate(503) > 15% for 5m");
        assert_eq!(code, Some(0), "bucket {bucket}: {r}");
        assert_eq!(r["held"], false);
        let v = r["value"].as_f64().unwrap();
        assert!((v - 0.1).abs() < 0.02, "bucket {bucket}: most extreme {v}");
        // a count over a sliding 5 minutes: 60 503s in any 5 minutes
        let (code, r) = rule_result(&f, bucket, "count(503) >= 55 for 5m");
        assert_eq!(code, Some(3), "bucket {bucket}: {r}");
    }
    // at 1 s buckets the window slides by 1 s: it held from the first full window on, to
    // the end of the logs
    let (_, r) = rule_result(&f, "1s", "rate(503) > 5% for 5m");
    assert_eq!(r["from"], "2026-11-23T00:02:30+00:00");
    assert_eq!(r["to"], "2026-11-23T00:12:30+00:00");
    assert_eq!(r["value"].as_f64(), Some(0.1));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_2_minute_burst_does_not_hold_for_5m() {
    let d = tmp("burst");
    // 10 minutes of 0% but for a 2-minute 10% burst (minutes 4 and 5)
    let data = steady(0, 600, 2, |j, t| {
        if (240..360).contains(&t) && j % 10 == 0 {
            503
        } else {
            200
        }
    });
    let f = write(&d, "access.log", data.as_bytes());
    for bucket in ["1s", "10s", "1m", "5m"] {
        let (code, r) = rule_result(&f, bucket, "rate(503) > 5% for 5m");
        assert_eq!(code, Some(0), "bucket {bucket}: {r}");
        assert_eq!(r["held"], false);
        // the worst 5 minutes hold the whole burst: 24 of 600
        let v = r["value"].as_f64().unwrap();
        assert!(v <= 0.04 + 1e-9 && v > 0.0, "bucket {bucket}: {v}");
    }
    // the burst itself is seen by a 2-minute window, exactly where it was
    let (code, r) = rule_result(&f, "1m", "rate(503) > 5% for 2m");
    assert_eq!(code, Some(3), "{r}");
    assert_eq!(r["from"], "2026-11-23T00:04:00+00:00");
    assert_eq!(r["to"], "2026-11-23T00:06:00+00:00");
    assert_eq!(r["value"].as_f64(), Some(0.1));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn logs_shorter_than_the_window_never_hold_it() {
    let d = tmp("short");
    let data = steady(0, 180, 2, |_, _| 503);
    let f = write(&d, "access.log", data.as_bytes());
    let (code, r) = rule_result(&f, "10s", "rate(503) > 5% for 5m");
    assert_eq!(code, Some(0), "{r}");
    assert!(
        r["detail"].as_str().unwrap().contains("less than the 5m"),
        "{r}"
    );
    let (code, _) = rule_result(&f, "10s", "rate(503) > 5% for 3m");
    assert_eq!(code, Some(3));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_latency_quantile_is_the_windows_own_quantile() {
    let d = tmp("p99");
    // 2 requests a second for 10 minutes, 1 in 50 takes 2 s: the 5-minute p99 is 2 s, yet
    // most 10 s buckets hold no slow request at all
    let mut s = String::new();
    for i in 0..1200i64 {
        let t = chrono::DateTime::from_timestamp(1_795_392_000 + i / 2, 0).unwrap();
        let rt = if i % 50 == 7 { "2.000" } else { "0.010" };
        s.push_str(&format!(
            "10.0.0.1 - - [{}] \"GET /x HTTP/1.1\" 200 5 {rt}\n",
            t.format("%d/%b/%Y:%H:%M:%S +0000")
        ));
    }
    let f = write(&d, "access.log", s.as_bytes());
    let lf = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent $request_time";
    let run = |bucket: &str, rule: &str| {
        let out = gatelog(&[
            "analyze",
            "--json",
            "--log-format",
            lf,
            "--bucket",
            bucket,
            f.to_str().unwrap(),
            "--fail-on",
            rule,
        ]);
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), r)
    };
    for bucket in ["1s", "10s", "1m"] {
        let (code, r) = run(bucket, "p99(request_time) > 1s for 5m");
        assert_eq!(code, Some(3), "bucket {bucket}: {}", r["rules"][0]);
        // most buckets' own p99 is fast: a bucket-by-bucket reading would not hold
        let rows = r["timeline"]["rows"].as_array().unwrap();
        let fast = rows
            .iter()
            .filter(|x| x["latency"]["p99"].as_f64().is_some_and(|v| v < 1.0))
            .count();
        if bucket != "1m" {
            assert!(
                fast * 2 > rows.len(),
                "bucket {bucket}: {fast} of {}",
                rows.len()
            );
        }
        let (code, _) = run(bucket, "p95(request_time) > 1s for 5m");
        assert_eq!(code, Some(0), "bucket {bucket}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

// ---------------------------------------------------------------------------------------
// Issue 15: headline figures count each request once, at the outermost layer; TOP tables
// per layer. Checked against counts taken from the lab's files here, not hard-coded.

fn gunzip(path: &str) -> String {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// Sorted `(key, count)` of `items`, most frequent first (ties by key).
fn tally<'a>(items: impl Iterator<Item = &'a str>) -> Vec<(String, u64)> {
    let mut m = std::collections::BTreeMap::<String, u64>::new();
    for k in items {
        *m.entry(k.to_string()).or_insert(0) += 1;
    }
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// `4001` as the HTML cards write it: `4,001`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn entries(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn totals_and_top_tables_count_each_request_once_at_the_outermost_layer() {
    // HAProxy (httplog): `... be/srv Tq/Tw/Tc/Tr/Ta STATUS BYTES ... "METHOD PATH HTTP/x"`
    let hap = gunzip("samples/incident/haproxy.log.gz");
    let hap_req: Vec<Vec<&str>> = hap
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == 20 && f[10].parse::<u16>().is_ok())
        .collect();
    let lb_status = tally(hap_req.iter().map(|f| f[10]));
    let lb_5xx: Vec<&Vec<&str>> = hap_req.iter().filter(|f| f[10].starts_with('5')).collect();
    let lb_up = tally(lb_5xx.iter().map(|f| f[8]));
    let lb_paths = tally(lb_5xx.iter().map(|f| f[18].split('?').next().unwrap()));
    // nginx (combined + timings): status is the 9th field
    let ngx = gunzip("samples/incident/access.log.gz");
    let ngx_req = ngx.lines().count() as u64;
    let ngx_5xx = ngx
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(8)
                .is_some_and(|s| s.starts_with('5'))
        })
        .count() as u64;
    let fpm_req = std::fs::read_to_string("samples/incident/php-fpm-access.log")
        .unwrap()
        .lines()
        .count() as u64;
    assert!(!lb_5xx.is_empty() && ngx_5xx > 0 && fpm_req > 0);

    let r = json(&["samples/incident"]);
    let t = &r["totals"];
    assert_eq!(t["counted_layer"], "lb");
    assert_eq!(t["requests"].as_u64(), Some(hap_req.len() as u64));
    let got_status: Vec<(String, u64)> = {
        let mut v: Vec<(String, u64)> = t["status"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    assert_eq!(got_status, lb_status);
    assert_eq!(t["status_class"]["5xx"].as_u64(), Some(lb_5xx.len() as u64));
    // each layer's own figures stay available
    assert_eq!(
        t["layers"]["lb"]["requests"].as_u64(),
        Some(hap_req.len() as u64)
    );
    assert_eq!(t["layers"]["proxy"]["requests"].as_u64(), Some(ngx_req));
    assert_eq!(
        t["layers"]["proxy"]["status_class"]["5xx"].as_u64(),
        Some(ngx_5xx)
    );
    assert_eq!(t["layers"]["app"]["requests"].as_u64(), Some(fpm_req));
    // ... and are not summed into the headline (before: LB + nginx + php-fpm lines)
    assert!(t["requests"].as_u64().unwrap() < hap_req.len() as u64 + ngx_req + fpm_req);

    // TOP tables: the counted layer's as the headline, every layer's keyed by layer
    let top = &r["top"];
    assert_eq!(top["counted_layer"], "lb");
    assert_eq!(entries(&top["upstreams"]), lb_up);
    assert_eq!(entries(&top["layers"]["lb"]["upstreams"]), lb_up);
    assert_eq!(entries(&top["paths"]), lb_paths);
    let ngx_up = entries(&top["layers"]["proxy"]["upstreams"]);
    assert_eq!(ngx_up.iter().map(|x| x.1).sum::<u64>(), ngx_5xx);
    assert!(
        ngx_up.iter().all(|x| x.0.starts_with("unix:")),
        "{ngx_up:?}"
    );
    assert!(top["layers"].get("app").is_none(), "php-fpm logged no 5xx");

    // text: TOTALS counts once and says at which layer; a TOP heading per layer
    let out = gatelog(&["analyze", "samples/incident"]);
    let s = text(&out);
    let e5 = lb_5xx.len();
    let line = format!("  {} requests, {e5} 5xx", hap_req.len());
    assert!(s.contains(&line), "{s}");
    assert!(
        s.contains("each request once, as the lb layer logged it"),
        "{s}"
    );
    let top_at = s.find("TOP AMONG 5xx").expect("TOP section");
    let lb_at = s[top_at..]
        .find("  lb layer (counted):")
        .expect("lb heading");
    let px_at = s[top_at..].find("  proxy layer:").expect("proxy heading");
    assert!(lb_at < px_at, "{s}");
    let first_up = format!("{:>8}  {}", lb_up[0].1, lb_up[0].0);
    assert!(s[top_at..].contains(&first_up), "{s}");

    // HTML: the cards count once; a table set per layer
    let dir = tmp("layers-html");
    let html = dir.join("r.html");
    let out = gatelog(&[
        "analyze",
        "samples/incident",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(
        h.contains(&format!(
            "<span>requests (each once, at the lb layer)</span><b>{}</b>",
            grouped(hap_req.len() as u64)
        )),
        "cards"
    );
    assert!(h.contains(r#"id="top-upstreams""#) && h.contains(r#"id="top-proxy-upstreams""#));
    assert!(h.contains("<h3>lb layer (counted)</h3>") && h.contains("<h3>proxy layer</h3>"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// issue 15: `for` windows count one layer (the counted one, as TOTALS): the rate-limit run's
/// 503s are logged by HAProxy and by nginx; the busiest 10 s hold 460 failed requests, not
/// the 920 lines of both layers.
#[test]
fn for_rules_count_the_counted_layer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/rate_limit");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args([
            "analyze",
            "--json",
            "--fail-on",
            "count(503) > 1 for 10s",
            "--fail-on",
            "count(503) > 500 for 10s",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["totals"]["counted_layer"], "lb");
    assert_eq!(r["rules"][0]["held"], true, "{:#}", r["rules"]);
    assert_eq!(r["rules"][0]["value"], 460.0, "{:#}", r["rules"]);
    assert_eq!(r["rules"][1]["held"], false, "{:#}", r["rules"]);
}
