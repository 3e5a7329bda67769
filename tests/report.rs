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
