//! Nightly batch: `--fail-on` rules, incremental `--state` runs across appends, rotations,
//! compression, copytruncate and kills, and `--since/--until` seeking that gives the report
//! of reading from the top.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatelog"));
    c.env("NO_COLOR", "1").env_remove("GATELOG_NO_SEEK");
    c
}

fn gatelog(args: &[&str]) -> Output {
    bin().args(args).output().expect("run gatelog")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn samples(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// --fail-on

#[test]
fn fail_on_rules_exit_3_and_name_what_held_and_when() {
    let dir = samples("fpm_saturation");
    let out = gatelog(&[
        "analyze",
        "--json",
        &dir,
        "--fail-on",
        "incidents > 0",
        "--fail-on",
        "cause(fpm_max_children)",
        "--fail-on",
        "rate(5xx) > 99% for 1h",
        "--fail-on",
        "count(504) > 1000000",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    let rules = r["rules"].as_array().expect("rules key");
    assert_eq!(rules.len(), 4);
    let by = |s: &str| rules.iter().find(|x| x["rule"] == s).unwrap().clone();
    let inc = by("incidents > 0");
    assert_eq!(inc["held"], true);
    let n = r["incidents"].as_array().unwrap().len();
    assert!(n > 0);
    assert_eq!(inc["value"].as_f64(), Some(n as f64));
    assert_eq!(inc["from"], r["incidents"][0]["start"]);
    // the cause rule names the incident that holds it, with its window
    let cause = by("cause(fpm_max_children)");
    assert_eq!(cause["held"], true, "{cause}");
    let named = r["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["causes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["cause"] == "fpm_max_children")
        })
        .expect("an incident names fpm_max_children");
    assert_eq!(cause["from"], named["start"]);
    assert_eq!(cause["to"], named["end"]);
    // rules that did not hold are reported too, with what was measured
    assert_eq!(by("rate(5xx) > 99% for 1h")["held"], false);
    let c = by("count(504) > 1000000");
    assert_eq!(c["held"], false);
    let n504 = r["totals"]["status"]["504"].as_u64().unwrap_or(0);
    assert_eq!(c["value"].as_f64(), Some(n504 as f64));
    // stderr says which rule held
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rule held: incidents > 0"), "{err}");
    assert!(!err.contains("rule held: count(504)"), "{err}");

    // the text report has a RULES section
    let out = gatelog(&["analyze", &dir, "--fail-on", "count(504) > 1000000"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RULES (0 of 1 held)"), "{text}");
    assert!(text.contains("ok   count(504) > 1000000"), "{text}");
}

#[test]
fn fail_on_for_needs_an_unbroken_run_of_buckets() {
    let d = tempfile::tempdir().unwrap();
    // 10 minutes at 1 request/s; 5xx in minutes 3..=6 (4 minutes), 1 in 4 lines
    let mut s = String::new();
    for i in 0..600 {
        let status = if (180..420).contains(&i) && i % 4 == 0 {
            502
        } else {
            200
        };
        s.push_str(&line(1_795_428_000 + i, status, i as u64));
    }
    let p = write(d.path(), "access.log", s.as_bytes());
    let p = p.to_str().unwrap();
    let run = |rule: &str| {
        let out = gatelog(&["analyze", "--json", "--bucket", "1m", p, "--fail-on", rule]);
        (out.status.code(), json(&out)["rules"][0].clone())
    };
    let (code, r) = run("rate(5xx) > 20% for 4m");
    assert_eq!(code, Some(3), "{r}");
    assert_eq!(r["from"], "2026-11-23T10:03:00+00:00");
    assert_eq!(r["to"], "2026-11-23T10:07:00+00:00");
    assert_eq!(r["value"].as_f64(), Some(0.25));
    let (code, r) = run("rate(5xx) > 20% for 5m");
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["held"], false);
    let (code, _) = run("count(502) >= 15 for 4m");
    assert_eq!(code, Some(3));
    let (code, _) = run("count(502) > 15 for 1m");
    assert_eq!(code, Some(0));
    // over the whole window: 60 of 600
    let (code, r) = run("rate(5xx) >= 10%");
    assert_eq!(code, Some(3), "{r}");
    assert_eq!(r["value"].as_f64(), Some(0.1));
    let (code, _) = run("rate(502) > 10%");
    assert_eq!(code, Some(0));
}

#[test]
fn malformed_rule_is_a_usage_error_pointing_at_the_token() {
    let dir = samples("fpm_saturation");
    let out = gatelog(&["analyze", &dir, "--fail-on", "rate(5xx) > 5x for 5m"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at '5x' (column 13)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
    let out = gatelog(&["analyze", &dir, "--fail-on", "p99(reqest_time) > 2s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at 'reqest_time'"));
}

// ---------------------------------------------------------------------------------------
// generated access logs

/// A `combined` line at Unix second `t`.
fn line(t: i64, status: u16, n: u64) -> String {
    let d = chrono::DateTime::from_timestamp(t, 0).unwrap();
    format!(
        "10.{}.{}.{} - - [{}] \"GET /p/{} HTTP/1.1\" {status} {} \"-\" \"curl/8.4.0\"\n",
        n % 7,
        n % 13,
        n % 251,
        d.format("%d/%b/%Y:%H:%M:%S +0000"),
        n % 17,
        100 + n % 900
    )
}

/// `n` lines from Unix second `t0`, `per_s` a second, with a burst of 502/504 between
/// `burst.0` and `burst.1` (seconds from `t0`).
fn lines(t0: i64, n: u64, per_s: u64, burst: (i64, i64), seed: u64) -> String {
    let mut s = String::with_capacity(n as usize * 100);
    let mut x = seed | 1;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let dt = (i / per_s.max(1)) as i64;
        let in_burst = (burst.0..burst.1).contains(&dt);
        let status = match x % 100 {
            _ if in_burst && x.is_multiple_of(3) => 502,
            _ if in_burst && x % 3 == 1 => 504,
            0 => 500,
            1..=5 => 404,
            _ => 200,
        };
        s.push_str(&line(t0 + dt, status, x));
    }
    s
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn append(p: &Path, data: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
    f.write_all(data.as_bytes()).unwrap();
}

fn gzip(src: &Path, dst: &Path) {
    let data = std::fs::read(src).unwrap();
    let f = std::fs::File::create(dst).unwrap();
    let mut w = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    w.write_all(&data).unwrap();
    w.finish().unwrap();
    std::fs::remove_file(src).unwrap();
}

/// Counts that must add up across incremental runs.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Sums {
    lines: u64,
    requests: u64,
    status: std::collections::BTreeMap<String, u64>,
}

impl Sums {
    fn add(&mut self, r: &Value) {
        self.lines += r["totals"]["lines"].as_u64().unwrap();
        self.requests += r["totals"]["requests"].as_u64().unwrap();
        for (k, v) in r["totals"]["status"].as_object().unwrap() {
            *self.status.entry(k.clone()).or_insert(0) += v.as_u64().unwrap();
        }
    }
    fn of(r: &Value) -> Sums {
        let mut s = Sums::default();
        s.add(r);
        s
    }
}

fn run_state(state: &Path, inputs: &[&Path]) -> Value {
    run_state_with(state, inputs, &[])
}

fn run_state_with(state: &Path, inputs: &[&Path], extra: &[&str]) -> Value {
    let mut args: Vec<String> = vec![
        "analyze".into(),
        "--json".into(),
        "--state".into(),
        state.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let out = bin().args(&args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

// ---------------------------------------------------------------------------------------
// --state

#[test]
fn incremental_runs_through_rotation_and_compression_count_every_line_once() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("nginx");
    std::fs::create_dir(&logs).unwrap();
    let state = d.path().join("gatelog.state");
    let t0 = 1_795_428_000;
    let chunks: Vec<String> = (0..6)
        .map(|k| lines(t0 + k * 600, 3000, 5, (300, 330), 7 + k as u64))
        .collect();
    let all: String = chunks.concat();
    let base = logs.join("access.log");
    let mut sums = Sums::default();

    // night 1: a fresh log
    write(&logs, "access.log", chunks[0].as_bytes());
    let r = run_state(&state, &[&logs]);
    assert_eq!(r["totals"]["lines"], 3000);
    sums.add(&r);
    // a line being written when the run starts is left for the next one
    append(&base, &chunks[1][..chunks[1].len() / 2]);
    let cut = chunks[1][..chunks[1].len() / 2].rfind('\n').unwrap() + 1;
    let r = run_state(&state, &[&logs]);
    let partial = chunks[1][..cut].lines().count() as u64;
    assert_eq!(r["totals"]["lines"].as_u64(), Some(partial));
    sums.add(&r);
    append(&base, &chunks[1][chunks[1].len() / 2..]);
    // rotation by rename; new lines were written to the old file first
    std::fs::rename(&base, logs.join("access.log.1")).unwrap();
    write(&logs, "access.log", chunks[2].as_bytes());
    let r = run_state(&state, &[&logs]);
    assert_eq!(
        r["totals"]["lines"].as_u64(),
        Some(3000 - partial + 3000),
        "the rest of the renamed file and all of the new one"
    );
    sums.add(&r);
    // nothing new: nothing read
    let r = run_state(&state, &[&logs]);
    assert_eq!(r["totals"]["lines"], 0);
    // the next rotation compresses .1 to .2.gz (recognised by its first bytes) and renames
    append(&base, &chunks[3]);
    gzip(&logs.join("access.log.1"), &logs.join("access.log.2.gz"));
    std::fs::rename(&base, logs.join("access.log.1")).unwrap();
    write(&logs, "access.log", chunks[4].as_bytes());
    let r = run_state(&state, &[&logs]);
    assert_eq!(r["totals"]["lines"], 6000, "{}", r["inputs"]);
    sums.add(&r);
    // copytruncate: copy to .1 (after compressing the old .1), truncate, write on
    let third = chunks[5][..chunks[5].len() / 3].rfind('\n').unwrap() + 1;
    append(&base, &chunks[5][..third]);
    gzip(&logs.join("access.log.1"), &logs.join("access.log.3.gz"));
    std::fs::rename(logs.join("access.log.2.gz"), logs.join("access.log.4.gz")).unwrap();
    std::fs::copy(&base, logs.join("access.log.1")).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&base).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(&base, &chunks[5][third..]);
    let r = run_state(&state, &[&logs]);
    sums.add(&r);
    let r = run_state(&state, &[&logs]);
    assert_eq!(r["totals"]["lines"], 0, "{}", r["inputs"]);

    // every line counted exactly once: the same totals as one run over everything
    let one = write(d.path(), "all.log", all.as_bytes());
    let out = gatelog(&["analyze", "--json", one.to_str().unwrap()]);
    assert_eq!(sums, Sums::of(&json(&out)));
    assert_eq!(sums.lines, 18000);
}

#[test]
fn killed_runs_then_rerun_give_the_totals_of_one_uninterrupted_run() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let t0 = 1_795_428_000;
    // yesterday's part, analysed by the run that wrote the starting state
    let old = lines(t0, 20_000, 20, (100, 110), 3);
    write(&logs, "access.log", old.as_bytes());
    std::fs::write(
        logs.join("access.log.2.gz.src"),
        lines(t0 - 7200, 30_000, 20, (50, 80), 5),
    )
    .unwrap();
    gzip(
        &logs.join("access.log.2.gz.src"),
        &logs.join("access.log.2.gz"),
    );
    let s0 = d.path().join("s0.state");
    run_state(&s0, &[&logs]);
    // tonight's new bytes: more lines, and a compressed rotated file never seen
    append(
        &logs.join("access.log"),
        &lines(t0 + 1000, 200_000, 50, (1500, 1700), 11),
    );
    std::fs::write(
        logs.join("error.log.1.src"),
        lines(t0 - 3600, 100_000, 40, (600, 650), 13),
    )
    .unwrap();
    gzip(&logs.join("error.log.1.src"), &logs.join("other.log.1.gz"));

    let uninterrupted = {
        let s = d.path().join("u.state");
        std::fs::copy(&s0, &s).unwrap();
        let r = run_state(&s, &[&logs]);
        assert!(r["totals"]["lines"].as_u64().unwrap() >= 300_000);
        r
    };
    let fresh = |name: &str| {
        let s = d.path().join(name);
        std::fs::copy(&s0, &s).unwrap();
        s
    };
    let args = |s: &Path| {
        let mut c = bin();
        c.args(["analyze", "--json", "--state"])
            .arg(s)
            .arg(&logs)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let check = |s: &Path, what: &str| {
        // the state is always whole (the old one or the new one), never partly written
        let text = std::fs::read(s).unwrap();
        assert!(
            serde_json::from_slice::<Value>(&text).is_ok(),
            "{what}: state is not whole"
        );
        let r = run_state(s, &[&logs]);
        assert_eq!(
            Sums::of(&r),
            Sums::of(&uninterrupted),
            "{what}: rerun after a kill"
        );
        assert_eq!(r["timeline"], uninterrupted["timeline"], "{what}");
        assert_eq!(r["incidents"], uninterrupted["incidents"], "{what}");
    };
    // killed at different moments of the run
    let mut killed = 0;
    for (k, ms) in [0u64, 2, 5, 10, 20, 35, 60, 100].iter().enumerate() {
        let s = fresh(&format!("k{k}.state"));
        let mut child = args(&s).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(*ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            // it finished before the kill: the state has advanced, nothing is left to read
            let r = run_state(&s, &[&logs]);
            assert_eq!(r["totals"]["lines"], 0);
            continue;
        }
        killed += 1;
        check(&s, &format!("killed after {ms} ms"));
    }
    assert!(killed > 0);
    // killed after the report was written and before the state was (a crash there)
    let s = fresh("crash1.state");
    let out = args(&s)
        .env("GATELOG_CRASH_BEFORE_STATE", "1")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(Sums::of(&json(&out)), Sums::of(&uninterrupted));
    assert_eq!(std::fs::read(&s).unwrap(), std::fs::read(&s0).unwrap());
    check(&s, "crash after the outputs");
    // killed with the new state half written (to its temporary file)
    let s = fresh("crash2.state");
    let out = args(&s)
        .env("GATELOG_CRASH_IN_STATE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&s).unwrap(), std::fs::read(&s0).unwrap());
    check(&s, "crash while writing the state");
}

#[test]
fn state_carries_recent_buckets_into_the_baseline() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("s");
    let t0 = 1_795_428_000;
    // night 1: a healthy hour with 0.5% 500s; night 2: a short slice that runs at 8%
    // throughout. Alone, night 2 is its own baseline (no incident); with night 1 remembered
    // it stands out.
    let mut healthy = String::new();
    let mut noisy = String::new();
    for i in 0..36_000u64 {
        let st = if i % 200 == 0 { 500 } else { 200 };
        healthy.push_str(&line(t0 + i as i64 / 10, st, i));
    }
    for i in 0..6000u64 {
        let st = if i % 12 == 0 { 502 } else { 200 };
        noisy.push_str(&line(t0 + 86400 + i as i64 / 10, st, i));
    }
    let p = write(d.path(), "access.log", healthy.as_bytes());
    let first = run_state_with(&state, &[&p], &["--bucket", "1m"]);
    assert!(first["incidents"].as_array().unwrap().is_empty());
    append(&p, &noisy);
    let with = run_state_with(&state, &[&p], &["--bucket", "1m"]);
    assert_eq!(with["totals"]["lines"], 6000);
    assert!(
        !with["incidents"].as_array().unwrap().is_empty(),
        "{}",
        with["incidents"]
    );
    let alone = write(d.path(), "alone.log", noisy.as_bytes());
    let out = gatelog(&[
        "analyze",
        "--json",
        "--bucket",
        "1m",
        alone.to_str().unwrap(),
    ]);
    assert!(json(&out)["incidents"].as_array().unwrap().is_empty());
}

#[test]
fn state_refuses_stdin_and_a_corrupt_state_file() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("s");
    let out = gatelog(&["analyze", "--state", s.to_str().unwrap(), "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin cannot be resumed"));
    std::fs::write(&s, "garbage").unwrap();
    let p = write(
        d.path(),
        "a.log",
        lines(1_795_428_000, 10, 1, (0, 0), 1).as_bytes(),
    );
    let out = gatelog(&[
        "analyze",
        "--state",
        s.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a gatelog state file"), "{err}");
    assert!(err.contains("remove it to start over"), "{err}");
}

// ---------------------------------------------------------------------------------------
// --since/--until seeking

#[test]
fn seeking_gives_the_report_of_reading_from_the_top() {
    let d = tempfile::tempdir().unwrap();
    let t0 = 1_795_428_000; // 2026-11-23T10:00:00Z
                            // 6 hours at 5 lines/s (~11 MB), a burst at 12:30, one malformed line inside the window
    let clean = lines(t0, 108_000, 5, (9000, 9060), 17);
    let clean_p = write(d.path(), "clean.log", clean.as_bytes());
    let mut s = clean.clone();
    let at = s.len() / 2;
    let nl = s[at..].find('\n').unwrap() + at + 1;
    s.insert_str(nl, "this is not a log line\n");
    let p = write(d.path(), "access.log", s.as_bytes());
    let since_us = (t0 + 7200) * 1_000_000;
    let until_us = (t0 + 4 * 3600 + 1800) * 1_000_000;

    // the seeked window starts at a line start before the first line at --since, and no
    // line before it is at or after --since
    let w = gatelog::ingest::jobs::window(
        &p,
        s.len() as u64,
        0,
        s.len() as u64,
        gatelog_parsers::Format::NginxAccess,
        &Default::default(),
        &gatelog::ingest::tz::TzChoice::Fixed(0, "test".into()),
        Some(since_us),
        Some(until_us),
    )
    .unwrap()
    .expect("a large time-ordered file is seeked");
    assert!(w.start > 0 && w.end < s.len() as u64, "{w:?}");
    assert_eq!(&s.as_bytes()[w.start as usize - 1], &b'\n');
    assert_eq!(&s.as_bytes()[w.end as usize - 1], &b'\n');
    let before = &s[..w.start as usize];
    assert!(!before.contains("23/Nov/2026:12:00:00"));
    let last_before = before.lines().last().unwrap();
    assert!(
        last_before.contains("23/Nov/2026:11:5"),
        "opens a little more than 5 min early: {last_before}"
    );
    let after = &s[w.end as usize..];
    assert!(!after.contains("23/Nov/2026:14:29:59"));
    assert_eq!(w.pre_lines, before.lines().count() as u64);
    assert_eq!(w.post_lines, after.lines().count() as u64);

    // Lines outside the window are counted as skipped without being parsed, so a malformed
    // line there would count as skipped rather than rejected: the file with one is used
    // for windows that hold it (13:00), the clean file for the others.
    for (since, until, malformed) in [
        (
            Some("2026-11-23T12:00:00Z"),
            Some("2026-11-23T14:30:00Z"),
            true,
        ),
        (Some("2026-11-23T12:30:30Z"), None, true),
        (None, Some("2026-11-23T10:20:00+00:00"), false),
        (Some("2026-11-23T15:59:00Z"), None, false),
        (Some("2026-11-24T00:00:00Z"), None, false),
    ] {
        let file = if malformed { &p } else { &clean_p };
        let mut args = vec![
            "analyze".to_string(),
            "--json".into(),
            file.display().to_string(),
        ];
        if let Some(x) = since {
            args.extend(["--since".into(), x.into()]);
        }
        if let Some(x) = until {
            args.extend(["--until".into(), x.into()]);
        }
        let a = parse_args(&args);
        let mut reports = Vec::new();
        for (seek, threads, chunk) in [
            (false, 1usize, u64::MAX),
            (true, 1, u64::MAX),
            (true, 2, 1 << 20),
            (true, 2, 333_333),
        ] {
            let mut p = gatelog::cmd::analyze::prepare(&a).unwrap();
            p.seek = seek;
            p.threads = threads;
            p.opts.chunk_bytes = chunk;
            let out = gatelog::cmd::analyze::analyze(&a.inputs, &p);
            assert!(out.errors.is_empty(), "{:?}", out.errors);
            reports.push(serde_json::to_value(&out.report).unwrap());
        }
        let lines = reports[0]["inputs"][0]["lines"].as_u64().unwrap();
        assert_eq!(lines, 108_000 + malformed as u64);
        assert_eq!(
            reports[0]["totals"]["rejected"].as_u64(),
            Some(malformed as u64)
        );
        for (k, r) in reports.iter().enumerate().skip(1) {
            assert!(
                r == &reports[0],
                "since {since:?} until {until:?}, configuration {k}: {}",
                first_difference(&reports[0], r, "")
            );
        }
    }
}

/// Where two JSON values first differ, for a readable failure.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, &format!("{at}.{k}")),
                    None => return format!("{at}.{k} missing on the right"),
                }
            }
            format!("{at}: keys differ")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, &format!("{at}[{i}]"));
                }
            }
            format!("{at}: equal")
        }
        _ => format!("{at}: {a} vs {b}"),
    }
}

fn parse_args(args: &[String]) -> gatelog::cli::AnalyzeArgs {
    use clap::Parser;
    let mut v = vec!["gatelog".to_string()];
    v.extend(args.iter().cloned());
    match gatelog::cli::Cli::parse_from(v).cmd {
        gatelog::cli::Command::Analyze(a) => a,
        _ => unreachable!(),
    }
}

#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let dir = samples("fpm_saturation");
    let out = gatelog(&["analyze", &dir]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// docs/fleet.md on DuckDB

#[test]
fn fleet_sql_runs_on_duckdb_over_two_hosts() {
    let have = Command::new("python3")
        .args(["-c", "import duckdb"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "duckdb is missing (python3 -m pip install duckdb): .ci/run installs it"
        );
        println!(
            "SKIPPED fleet_sql_runs_on_duckdb_over_two_hosts: python3 -c 'import duckdb' failed"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let lake = d.path().join("lake");
    let lake_s = lake.display().to_string();
    // two hosts' nightly runs into one dataset
    let mut reports = Vec::new();
    for (host, sample) in [("web1", "fpm_saturation"), ("web2", "fpm_down")] {
        let out = gatelog(&[
            "analyze",
            "--json",
            "--quiet",
            &samples(sample),
            "--parquet",
            &lake_s,
            "--partition",
            "date,host",
            "--host",
            host,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        reports.push((host, json(&out)));
    }
    // every ```sql block of the document, and its DuckDB setup
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fleet.md"))
        .unwrap();
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for l in doc.lines() {
        match (&mut cur, l.strip_prefix("```")) {
            (None, Some(info)) => cur = Some((info.trim().to_string(), String::new())),
            (Some(_), Some("")) => blocks.extend(cur.take()),
            (Some((_, body)), _) => {
                body.push_str(l);
                body.push('\n');
            }
            _ => {}
        }
    }
    let setup = blocks
        .iter()
        .find(|b| b.0 == "sql duckdb-setup")
        .expect("a duckdb-setup block")
        .1
        .replace("/mnt/lake/gatelog", &lake_s);
    let queries: Vec<String> = blocks
        .iter()
        .filter(|b| b.0 == "sql")
        .map(|b| b.1.clone())
        .collect();
    assert_eq!(queries.len(), 4, "the four views of docs/fleet.md");
    let spec = serde_json::json!({"setup": setup, "queries": queries, "out": d.path()});
    let script = r#"
import json, sys, duckdb
spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
for stmt in spec["setup"].split(";"):
    if stmt.strip():
        con.execute(stmt)
for k, q in enumerate(spec["queries"]):
    con.execute(f"COPY ({q}) TO '{spec['out']}/q{k}.json' (FORMAT JSON, ARRAY true)")
"#;
    let spec_p = write(d.path(), "spec.json", spec.to_string().as_bytes());
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&spec_p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = |k: usize| -> Vec<Value> {
        let p = d.path().join(format!("q{k}.json"));
        serde_json::from_slice::<Value>(&std::fs::read(p).unwrap())
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    use std::collections::BTreeMap;
    // 1. incidents across hosts: one row per incident, its top cause and error count
    let mut want = Vec::new();
    for (host, r) in &reports {
        for i in r["incidents"].as_array().unwrap() {
            want.push((
                host.to_string(),
                i["id"].as_u64().unwrap(),
                i["errors"].as_u64().unwrap(),
                i["causes"][0]["cause"].as_str().unwrap().to_string(),
            ));
        }
    }
    let mut got: Vec<_> = res(0)
        .iter()
        .map(|x| {
            (
                x["host"].as_str().unwrap().to_string(),
                x["incident"].as_u64().unwrap(),
                x["errors"].as_u64().unwrap(),
                x["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    // 2. 5xx by upstream and host = the report's per-bucket 5xx per upstream, summed
    let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (host, r) in &reports {
        for row in r["timeline"]["rows"].as_array().unwrap() {
            for (u, n) in row["upstreams_5xx"].as_object().unwrap() {
                *want.entry((host.to_string(), u.clone())).or_insert(0) += n.as_u64().unwrap();
            }
        }
    }
    let got: BTreeMap<(String, String), u64> = res(1)
        .iter()
        .filter(|x| x["errors_5xx"].as_u64().unwrap() > 0)
        .map(|x| {
            (
                (
                    x["host"].as_str().unwrap().to_string(),
                    x["upstream"].as_str().unwrap().to_string(),
                ),
                x["errors_5xx"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    // 3. 5xx by cause, fleet-wide
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (_, r) in &reports {
        for i in r["incidents"].as_array().unwrap() {
            let e = want
                .entry(i["causes"][0]["cause"].as_str().unwrap().to_string())
                .or_insert((0, 0));
            e.0 += 1;
            e.1 += i["errors"].as_u64().unwrap();
        }
    }
    let got: BTreeMap<String, (u64, u64)> = res(2)
        .iter()
        .map(|x| {
            (
                x["cause"].as_str().unwrap().to_string(),
                (
                    x["incidents"].as_u64().unwrap(),
                    x["errors_5xx"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
    // 4. requests and 5xx per host (over its hours) = each report's request lines, every
    // layer's (the Parquet rows are lines; `totals.requests` counts each request once)
    for (host, r) in &reports {
        let rows: Vec<Value> = res(3).into_iter().filter(|x| x["host"] == *host).collect();
        let sum = |k: &str| rows.iter().map(|x| x[k].as_u64().unwrap()).sum::<u64>();
        let layers = r["totals"]["layers"].as_object().unwrap();
        let lines = |f: &dyn Fn(&Value) -> u64| layers.values().map(f).sum::<u64>();
        assert_eq!(sum("requests"), lines(&|l| l["requests"].as_u64().unwrap()));
        assert_eq!(
            sum("errors_5xx"),
            lines(&|l| l["status_class"]["5xx"].as_u64().unwrap_or(0))
        );
    }
}
