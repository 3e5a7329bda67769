//! End-to-end tests of `gatelog live`: following files through rotation (rename and
//! copytruncate) with a writer that keeps writing, the pipe mode with `tail -F` headers, the
//! terminal view driven in tmux, `--metrics` checked by promtool, and `--alert`/`--on-alert`.
//!
//! Tools from Debian (tmux, promtool from `prometheus`) are installed by `.ci/run`; without
//! them these tests print `SKIPPED ...`, and fail when `CI=true`.

#[path = "../parsers/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gatelog");

/// A running `gatelog live` whose JSON lines are collected by a thread.
struct Live {
    child: Child,
    rx: mpsc::Receiver<Value>,
    last: Option<Value>,
}

impl Live {
    fn start(args: &[&str], stdin: Stdio) -> Live {
        let mut child = Command::new(BIN)
            .arg("live")
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gatelog live");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Live {
            child,
            rx,
            last: None,
        }
    }

    /// The next interval line (alert lines are skipped), or None after `t`.
    fn next(&mut self, t: Duration) -> Option<Value> {
        let end = Instant::now() + t;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) if v.get("alert").is_some() => continue,
                Ok(v) => {
                    self.last = Some(v.clone());
                    return Some(v);
                }
                Err(_) => return None,
            }
        }
    }

    /// Wait until an interval line satisfies `f`.
    fn wait_for(&mut self, t: Duration, f: impl Fn(&Value) -> bool) -> Option<Value> {
        let end = Instant::now() + t;
        while Instant::now() < end {
            if let Some(v) = self.next(end.saturating_duration_since(Instant::now())) {
                if f(&v) {
                    return Some(v);
                }
            }
        }
        None
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

fn total(v: &Value) -> u64 {
    v["total_lines"].as_u64().unwrap_or(0)
}

/// An nginx `combined` line stamped now.
fn access_line(i: u64, status: u16) -> String {
    let t = chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S +0000");
    format!(
        "10.0.{}.{} - - [{t}] \"GET /item/{i} HTTP/1.1\" {status} 512 \"-\" \"writer/1.0\"\n",
        (i / 250) % 250,
        i % 250
    )
}

/// Write `n` lines at about `per_s` lines a second into `path`; every `rotate_every` lines
/// call `rotate` (with the writer's lock held for copytruncate, or letting the writer go on
/// writing into the renamed file for a while before it reopens, as nginx does until it is
/// told to reopen its logs).
fn writer(path: &Path, n: u64, per_s: u64, rotate_every: u64, by_rename: bool) {
    let lock = Arc::new(Mutex::new(()));
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    let mut f = open(path);
    let start = Instant::now();
    let mut rotated_at: Option<u64> = None;
    for i in 0..n {
        {
            let _g = lock.lock().unwrap();
            f.write_all(access_line(i, if i % 7 == 0 { 502 } else { 200 }).as_bytes())
                .unwrap();
        }
        if i > 0 && i % rotate_every == 0 {
            let old = path.with_extension("log.1");
            if by_rename {
                // logrotate's rename; the writer keeps its old descriptor for 50 more lines
                std::fs::rename(path, &old).unwrap();
                rotated_at = Some(i);
            } else {
                // copytruncate: copy, then truncate the file the writer still appends to
                let _g = lock.lock().unwrap();
                std::fs::copy(path, &old).unwrap();
                open(path).set_len(0).unwrap();
            }
        }
        if rotated_at.is_some_and(|r| i == r + 50) {
            f = open(path); // the writer reopens its log
            rotated_at = None;
        }
        // pace
        let due = Duration::from_micros(i * 1_000_000 / per_s);
        let el = start.elapsed();
        if due > el {
            std::thread::sleep(due - el);
        }
    }
}

/// `gatelog live` following an empty `name` (forced to `format`) in a temporary directory,
/// once its first interval line is out.
fn follow_empty(name: &str, format: &str) -> (tempfile::TempDir, PathBuf, Live) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(name);
    std::fs::write(&log, "").unwrap();
    let mut live = Live::start(&[log.to_str().unwrap(), "--format", format], Stdio::null());
    assert!(
        live.next(Duration::from_secs(10)).is_some(),
        "no first line"
    );
    (dir, log, live)
}

fn rotation_case(by_rename: bool) {
    let (_dir, log, mut live) = follow_empty("access.log", "nginx-access");
    let n = 6000;
    writer(&log, n, 2000, 1100, by_rename);
    let got = live.wait_for(Duration::from_secs(20), |v| total(v) >= n);
    // nothing counted twice: the total stays at n once the writer stopped
    std::thread::sleep(Duration::from_millis(1500));
    while let Some(v) = live.next(Duration::from_millis(10)) {
        let _ = v;
    }
    let last = live.last.clone();
    let err = live.stop();
    assert!(
        got.is_some(),
        "total never reached {n}: last {last:?}\n{err}"
    );
    let last = last.unwrap();
    assert_eq!(total(&last), n, "lines counted: {last}\n{err}");
    assert_eq!(last["rejected_lines"], 0, "{last}");
    assert!(
        err.contains(if by_rename { "rotated" } else { "truncated" }),
        "the rotation was not noticed: {err}"
    );
}

#[test]
fn rotation_by_rename_loses_and_repeats_no_line() {
    rotation_case(true);
}

#[test]
fn rotation_by_copytruncate_loses_and_repeats_no_line() {
    rotation_case(false);
}

#[test]
fn appended_line_shows_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, access_line(0, 200)).unwrap();
    let mut live = Live::start(&[log.to_str().unwrap()], Stdio::null());
    assert!(live.next(Duration::from_secs(10)).is_some());
    // the line already there is not read (tail -F -n 0 semantics)
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(access_line(1, 504).as_bytes()).unwrap();
    let t0 = Instant::now();
    let v = live.wait_for(Duration::from_secs(5), |v| v["requests"].as_u64() > Some(0));
    let dt = t0.elapsed();
    let err = live.stop();
    let v = v.unwrap_or_else(|| panic!("the appended line never showed\n{err}"));
    assert_eq!(v["status"]["504"], 1, "{v}");
    assert_eq!(total(&v), 1, "{v}");
    // one interval (1s) plus scheduling slack on a busy machine
    assert!(dt < Duration::from_millis(1600), "took {dt:?}");
}

/// A log in a layout gatelog does not know (a real one, from the corpus: `$time_iso8601`
/// first, the request split into method, URI and a request id) is read with the nginx
/// `log_format` inferred from its first lines, as `analyze` does, and every line counts.
#[test]
fn unknown_layout_is_read_with_an_inferred_log_format() {
    let Some(dir) = common::corpus_dir("live_infer") else {
        return;
    };
    let src = dir.join("nginx-access/docker-homework2-nginx-access-iso8601-custom.log");
    let body = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let lines = body.iter().filter(|&&c| c == b'\n').count() as u64;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("old.log"), access_line(0, 200)).unwrap();
    let mut live = Live::start(&[tmp.path().to_str().unwrap()], Stdio::null());
    assert!(live.next(Duration::from_secs(10)).is_some());
    std::fs::write(tmp.path().join("custom.log"), &body).unwrap();
    let v = live.wait_for(Duration::from_secs(10), |v| total(v) >= lines);
    // notices are printed just after the interval line they belong to
    std::thread::sleep(Duration::from_millis(500));
    let err = live.stop();
    let v = v.unwrap_or_else(|| panic!("the custom-layout log was not read\n{err}"));
    assert_eq!(total(&v), lines, "{v}");
    assert_eq!(v["rejected_lines"], 0, "{v}\n{err}");
    assert!(
        err.contains(
            "custom.log: no built-in layout matches; read with the nginx log_format inferred"
        ),
        "{err}"
    );
}

#[test]
fn new_file_in_a_followed_directory_is_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.log"), access_line(0, 200)).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a log\nat all\n").unwrap();
    let mut live = Live::start(&[dir.path().to_str().unwrap()], Stdio::null());
    assert!(live.next(Duration::from_secs(10)).is_some());
    let mut body = String::new();
    for i in 0..30 {
        body.push_str(&access_line(i, if i < 10 { 503 } else { 200 }));
    }
    std::fs::write(dir.path().join("new.log"), &body).unwrap();
    let v = live.wait_for(Duration::from_secs(8), |v| total(v) >= 30);
    std::thread::sleep(Duration::from_millis(1200));
    let last = live.next(Duration::from_secs(2));
    let err = live.stop();
    let v = v.unwrap_or_else(|| panic!("new.log never read\n{err}"));
    assert_eq!(v["window"]["status"]["503"], 10, "{v}");
    assert_eq!(total(last.as_ref().unwrap_or(&v)), 30, "{last:?}");
}

/// The php-fpm slowlog of the lab's incident capture, as records (each begins with the blank
/// line php-fpm writes before its header), and its lines.
fn slow_records() -> (Vec<Vec<String>>, u64) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/incident/php-fpm-slow.log"),
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut recs: Vec<Vec<String>> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let header_next = lines.get(i + 1).is_some_and(|n| n.contains("]  [pool "));
        if l.is_empty() && header_next {
            recs.push(Vec::new());
        }
        if let Some(r) = recs.last_mut() {
            r.push(l.to_string());
        }
    }
    let n = recs.iter().map(|r| r.len() as u64).sum();
    assert_eq!(n, lines.len() as u64, "every line in a record");
    (recs, n)
}

/// How the slowlog is rotated (by rename) in [`slow_rotation_case`].
#[derive(Clone, Copy, Debug)]
enum SlowRotation {
    /// Between two records; the path is missing until the writer reopens it (nginx/php-fpm
    /// reopening on USR1 after logrotate's rename).
    BetweenRecords,
    /// The last record of the old file is completed just before the rename (its first
    /// lines were read a while before), and the writer goes on in the new file at once.
    CompletedJustBefore,
    /// logrotate renames in the middle of a record and creates the new empty file; the
    /// writer, not reopened yet, finishes that record and writes a few more into the
    /// renamed file, then reopens.
    CompletedAfterRename,
}

fn slow_rotation_case(how: SlowRotation) {
    let (recs, lines) = slow_records();
    let (dir, log, mut live) = follow_empty("php-fpm-slow.log", "fpm-slow");
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    // line by line, so that reads land in the middle of records
    let put = |f: &mut std::fs::File, ls: &[String]| {
        for l in ls {
            f.write_all(format!("{l}\n").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let old = dir.path().join("php-fpm-slow.log.1");
    let cut = 30;
    let mut f = open(&log);
    for r in &recs[..cut - 1] {
        put(&mut f, r);
    }
    let last = &recs[cut - 1];
    match how {
        SlowRotation::BetweenRecords => {
            put(&mut f, last);
            std::thread::sleep(Duration::from_millis(400));
            std::fs::rename(&log, &old).unwrap();
            std::thread::sleep(Duration::from_millis(400));
            f = open(&log);
            put(&mut f, &recs[cut..].concat());
        }
        SlowRotation::CompletedJustBefore => {
            put(&mut f, &last[..3]);
            std::thread::sleep(Duration::from_millis(400));
            put(&mut f, &last[3..]);
            std::fs::rename(&log, &old).unwrap();
            f = open(&log);
            put(&mut f, &recs[cut..].concat());
        }
        SlowRotation::CompletedAfterRename => {
            put(&mut f, &last[..3]);
            std::thread::sleep(Duration::from_millis(400));
            std::fs::rename(&log, &old).unwrap();
            drop(open(&log)); // logrotate's `create`
            std::thread::sleep(Duration::from_millis(600)); // the rotation is noticed
            put(&mut f, &last[3..]);
            put(&mut f, &recs[cut..cut + 5].concat());
            std::thread::sleep(Duration::from_millis(300));
            f = open(&log);
            put(&mut f, &recs[cut + 5..].concat());
        }
    }
    drop(f);
    let n = recs.len() as u64;
    let events = |v: &Value| {
        v["window"]["events"]["fpm_slow_trace"]
            .as_u64()
            .unwrap_or(0)
    };
    // the old file is finished after 5 s of quiet: its last record is counted then
    let got = live.wait_for(Duration::from_secs(20), |v| {
        total(v) >= lines && events(v) >= n
    });
    std::thread::sleep(Duration::from_millis(1500));
    while live.next(Duration::from_millis(10)).is_some() {}
    let last = live.last.clone().unwrap();
    let err = live.stop();
    assert!(got.is_some(), "{how:?}: never complete: {last}\n{err}");
    assert_eq!(total(&last), lines, "{how:?}: {last}\n{err}");
    // split records would show as rejected lines (frames without a header), glued ones as
    // fewer records
    assert_eq!(last["rejected_lines"], 0, "{how:?}: {last}\n{err}");
    assert_eq!(events(&last), n, "{how:?}: {last}\n{err}");
}

#[test]
fn slowlog_rotated_between_records_keeps_every_record() {
    slow_rotation_case(SlowRotation::BetweenRecords);
}

#[test]
fn slowlog_record_completed_just_before_the_rename_is_one_record() {
    slow_rotation_case(SlowRotation::CompletedJustBefore);
}

#[test]
fn slowlog_record_completed_in_the_renamed_file_is_one_record() {
    slow_rotation_case(SlowRotation::CompletedAfterRename);
}

/// SIGTERM in JSON mode: the lines read so far (a multi-line record still open included)
/// are printed as a last JSON line before gatelog ends by the signal.
#[test]
fn sigterm_in_json_mode_prints_a_last_line_and_ends_by_the_signal() {
    let (recs, _) = slow_records();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("php-fpm-slow.log");
    std::fs::write(&log, "").unwrap();
    // a long interval: no regular line comes before the signal
    let child = Command::new(BIN)
        .args(["live", log.to_str().unwrap(), "--format", "fpm-slow"])
        .args(["--interval", "1m"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let body: String = recs[..4]
        .concat()
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    f.write_all(body.as_bytes()).unwrap();
    let n_lines = body.lines().count() as u64;
    std::thread::sleep(Duration::from_millis(300));
    assert!(send_signal(child.id(), 15));
    let t0 = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(o.status.signal(), Some(15), "{:?}\n{err}", o.status);
    }
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    let v = &lines[0];
    // the fourth record was still open (no header after it): completed at the end
    assert_eq!(total(v), n_lines, "{v}\n{err}");
    assert_eq!(v["rejected_lines"], 0, "{v}");
    assert_eq!(v["window"]["events"]["fpm_slow_trace"], 4, "{v}");
    assert!(v["interval_seconds"].as_f64() < Some(5.0), "{v}");
}

/// `kill(pid, signo)` (no `kill` binary needed on a minimal machine).
fn send_signal(pid: u32, signo: i32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory effects; the pid is our child's
    unsafe { libc::kill(pid, signo) == 0 }
}

/// The lab's access and error logs copied into a temporary directory.
fn lab_copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (a, e) = (dir.path().join("access.log"), dir.path().join("error.log"));
    std::fs::copy(lab("access.log"), &a).unwrap();
    std::fs::copy(lab("error.log"), &e).unwrap();
    (dir, a, e)
}

fn lab(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/fpm_down")
        .join(rel)
}

/// The lab's php-fpm-down capture up to 19:56:05 (while the incident is on), as
/// `tail -F access.log error.log` prints it.
fn tail_f_stream() -> (String, u64, u64) {
    let acc = std::fs::read_to_string(lab("access.log")).unwrap();
    let err = std::fs::read_to_string(lab("error.log")).unwrap();
    let a: Vec<&str> = acc
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(3)
                .is_some_and(|t| t <= "[23/Nov/2026:19:56:05")
        })
        .collect();
    let e: Vec<&str> = err
        .lines()
        .filter(|l| l.split(' ').nth(1).is_some_and(|t| t <= "19:56:05"))
        .collect();
    let n5 = a.iter().filter(|l| l.contains("\" 502 ")).count() as u64;
    // interleave in chunks, as tail -F does when both files grow
    let mut s = String::new();
    let (mut i, mut j) = (0, 0);
    let mut first = true;
    while i < a.len() || j < e.len() {
        for (name, v, k) in [
            ("/var/log/nginx/access.log", &a, &mut i),
            ("/var/log/nginx/error.log", &e, &mut j),
        ] {
            if *k >= v.len() {
                continue;
            }
            if !first {
                s.push('\n');
            }
            first = false;
            s.push_str(&format!("==> {name} <==\n"));
            for l in &v[*k..(*k + 40).min(v.len())] {
                s.push_str(l);
                s.push('\n');
            }
            *k = (*k + 40).min(v.len());
        }
    }
    ((s), (a.len() + e.len()) as u64, n5)
}

#[test]
fn pipe_with_tail_headers_switches_format_and_source() {
    let (stream, lines, n502) = tail_f_stream();
    let mut live = Live::start(&["-"], Stdio::piped());
    let mut stdin = live.child.stdin.take().unwrap();
    // in pieces that cut lines in the middle: partial lines wait for their newline
    let bytes = stream.as_bytes();
    for c in bytes.chunks(777) {
        stdin.write_all(c).unwrap();
    }
    drop(stdin);
    let v = live
        .wait_for(Duration::from_secs(10), |v| total(v) >= lines)
        .expect("final line");
    let err = live.stop();
    assert_eq!(total(&v), lines, "{v}\n{err}");
    assert_eq!(v["rejected_lines"], 0, "{v}");
    assert_eq!(v["window"]["status"]["502"], n502, "{v}");
    assert!(
        v["window"]["events"]["connect_refused"].as_u64() > Some(10),
        "{v}"
    );
    let inc = &v["incident"];
    assert!(inc.is_object(), "no active incident: {v}");
    assert_eq!(inc["causes"][0]["cause"], "upstream_refused", "{inc}");
    let ev = &inc["causes"][0]["evidence"][0];
    assert_eq!(ev["path"], "/var/log/nginx/error.log", "{ev}");
    // evidence line numbers are the error log's own (the stream's headers do not count)
    let n = ev["line"].as_u64().unwrap() as usize;
    let err_log = std::fs::read_to_string(lab("error.log")).unwrap();
    assert_eq!(
        err_log.lines().nth(n - 1).map(|l| &l[..60]),
        ev["text"].as_str().map(|t| &t[..60]),
        "{ev}"
    );
    for k in ["time", "requests", "status", "rate_5xx", "latency"] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert!(v["latency"]["p95"].is_number(), "{v}");
}

#[test]
fn alert_fires_and_resolves_and_runs_the_command_with_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.txt");
    let marker = dir.path().join("injected");
    let cmd = format!(
        "printf '%s|%s|%s\\n' \"$GATELOG_ALERT_RULE\" \"$GATELOG_ALERT_STATE\" \"$GATELOG_INCIDENT_CAUSE\" >> {}",
        out.display()
    );
    let mut child = Command::new(BIN)
        .args([
            "live",
            "-",
            "--alert",
            "cause(upstream_refused)",
            "--on-alert",
            &cmd,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (stream, _, _) = tail_f_stream();
    stdin.write_all(stream.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // then healthy traffic 40 s later (log time): the incident is over
    let mut healthy = String::from("\n==> /var/log/nginx/access.log <==\n");
    for i in 0..200 {
        healthy.push_str(&format!(
            "127.0.0.1 - - [23/Nov/2026:19:56:{:02} +0000] \"GET /ok/{i} HTTP/1.1\" 200 3 \"-\" \"$(touch {})\" 0.001 - - - - -\n",
            45 + i / 20,
            marker.display()
        ));
    }
    stdin.write_all(healthy.as_bytes()).unwrap();
    drop(stdin);
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let _ = child.wait();
    let alerts: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("alert").is_some())
        .collect();
    let states: Vec<&str> = alerts.iter().filter_map(|a| a["state"].as_str()).collect();
    assert_eq!(states, ["firing", "resolved"], "{text}");
    assert_eq!(alerts[0]["alert"], "cause(upstream_refused)");
    // the command ran with the details in its environment
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = String::new();
    while Instant::now() < deadline {
        got = std::fs::read_to_string(&out).unwrap_or_default();
        if got.lines().count() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        [
            "cause(upstream_refused)|firing|upstream_refused",
            "cause(upstream_refused)|resolved|"
        ],
        "{got}"
    );
    assert!(!marker.exists(), "log text reached a shell");
}

/// A tool from Debian, or None (test skipped) when it is missing outside CI.
fn tool(name: &str, test: &str) -> Option<()> {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(());
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} is missing; .ci/run installs it");
    }
    eprintln!("SKIPPED {test}: {name} is not installed");
    None
}

#[test]
fn metrics_endpoint_passes_promtool() {
    let Some(()) = tool("promtool", "metrics_endpoint_passes_promtool") else {
        return;
    };
    let (stream, lines, n502) = tail_f_stream();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("stream.log");
    std::fs::write(&src, "").unwrap();
    // a pipe that stays open: live keeps serving
    let mut child = Command::new(BIN)
        .args(["live", "-", "--metrics", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(stream.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut addr = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(a) = line.trim().strip_prefix("gatelog: metrics at http://") {
            addr = a.trim_end_matches("/metrics").to_string();
            break;
        }
        line.clear();
    }
    assert!(!addr.is_empty(), "no metrics address announced");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let get = || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        // (read to the end: ask for the connection to be closed after the answer)
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut r = String::new();
        s.read_to_string(&mut r).unwrap();
        r
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut body = String::new();
    while Instant::now() < deadline {
        let r = get();
        body = r
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        if body.contains(&format!("gatelog_lines_total {lines}\n")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        body.contains(&format!("gatelog_lines_total {lines}\n")),
        "{body}"
    );
    // requests by layer, status and upstream together, counted here from the same lines
    // (status is field 9, $upstream_addr the last but one; `-` is no upstream)
    let acc = std::fs::read_to_string(lab("access.log")).unwrap();
    let mut want: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for l in acc.lines().filter(|l| {
        l.split(' ')
            .nth(3)
            .is_some_and(|t| t <= "[23/Nov/2026:19:56:05")
    }) {
        let f: Vec<&str> = l.split(' ').collect();
        let key = (f[8].to_string(), f[f.len() - 2].to_string());
        *want.entry(key).or_insert(0) += 1;
    }
    assert!(want.len() >= 4, "{want:?}");
    assert_eq!(
        want.iter()
            .filter(|(k, _)| k.0 == "502")
            .map(|(_, n)| n)
            .sum::<u64>(),
        n502
    );
    let series: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("gatelog_requests_total{"))
        .collect();
    assert_eq!(series.len(), want.len(), "{series:#?}");
    for ((status, up), n) in &want {
        let line = format!(
            "gatelog_requests_total{{layer=\"proxy\",status=\"{status}\",upstream=\"{up}\"}} {n}"
        );
        assert!(
            series.contains(&line.as_str()),
            "missing {line}\n{series:#?}"
        );
    }
    assert!(
        body.contains("gatelog_error_events_total{kind=\"connect_refused\"}"),
        "{body}"
    );
    assert!(
        body.contains("gatelog_upstream_5xx_total{upstream=\"127.0.0.1:19000\"}"),
        "{body}"
    );
    assert!(
        body.contains("gatelog_request_duration_seconds_bucket{le=\"+Inf\"}"),
        "{body}"
    );
    assert!(body.contains("gatelog_incident_active 1\n"), "{body}");
    assert!(
        body.contains("gatelog_incident_cause_confidence{cause=\"upstream_refused\",rank=\"1\"}"),
        "{body}"
    );
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let o = p.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A private tmux server (its own socket) with one session `t`, for the terminal-view tests.
struct Tmux {
    sock: String,
}

impl Tmux {
    /// Start the session running `cmd` (a program and its arguments) in a 130×40 window.
    fn start(name: &str, cmd: &[&str]) -> Tmux {
        let t = Tmux {
            sock: format!("gatelog-{name}-{}", std::process::id()),
        };
        let mut args = vec!["new-session", "-d", "-x", "130", "-y", "40", "-s", "t"];
        args.extend_from_slice(cmd);
        let o = t.run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        t
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn keys(&self, k: &str) {
        self.run(&["send-keys", "-t", "t", k]);
    }

    /// Type a line and press Enter.
    fn type_line(&self, l: &str) {
        self.run(&["send-keys", "-t", "t", "-l", l]);
        self.keys("Enter");
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// A tmux format of the pane, such as `#{alternate_on}`.
    fn display(&self, f: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display", "-p", "-t", "t", f]).stdout)
            .trim()
            .to_string()
    }

    /// Capture the pane until `what` holds (true) or `secs` pass (false), with the last capture.
    fn wait(&self, what: &dyn Fn(&str) -> bool, secs: u64) -> (bool, String) {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut s = String::new();
        while Instant::now() < end {
            s = self.capture();
            if what(&s) {
                return (true, s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        (false, s)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn terminal_view_in_tmux_shows_the_figures_and_q_restores() {
    let Some(()) = tool(
        "tmux",
        "terminal_view_in_tmux_shows_the_figures_and_q_restores",
    ) else {
        return;
    };
    let (_, _, n502) = tail_f_stream();
    let dir = tempfile::tempdir().unwrap();
    let (a, e) = (dir.path().join("access.log"), dir.path().join("error.log"));
    let cut = |src: &str, dst: &Path, field: usize, until: &str| {
        let text = std::fs::read_to_string(lab(src)).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| l.split(' ').nth(field).is_some_and(|t| t <= until))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dst, kept).unwrap();
    };
    cut("access.log", &a, 3, "[23/Nov/2026:19:56:05");
    cut("error.log", &e, 1, "19:56:05");
    // files followed from their start (a pipe would keep the shell waiting after q)
    let cmd = format!(
        "{BIN} live --from-start {} {}; echo EXITED-$?; sleep 30",
        a.display(),
        e.display()
    );
    let tmux = Tmux::start("live-test", &[&cmd]);
    let capture = || tmux.capture();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut screen = String::new();
    while Instant::now() < deadline {
        screen = capture();
        if screen.contains("upstream_refused") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let shown = screen.clone();
    // switch the window and pause: the header says so
    tmux.keys("1");
    std::thread::sleep(Duration::from_millis(1500));
    let one = capture();
    tmux.keys("p");
    std::thread::sleep(Duration::from_millis(1500));
    let paused = capture();
    tmux.keys("q");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = String::new();
    while Instant::now() < deadline {
        after = capture();
        if after.contains("EXITED-") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(tmux);
    assert!(shown.contains("upstream_refused"), "{shown}");
    assert!(shown.contains("ACTIVE INCIDENT"), "{shown}");
    assert!(shown.contains("127.0.0.1:19000"), "{shown}");
    let row502 = shown
        .lines()
        .find(|l| l.trim_start_matches(['│', ' ']).starts_with("502"))
        .unwrap_or_default();
    assert!(
        row502.contains(&n502.to_string()),
        "502 row: {row502}\n{shown}"
    );
    assert!(shown.contains("window 5m"), "{shown}");
    assert!(one.contains("window 1m"), "{one}");
    assert!(paused.contains("PAUSED"), "{paused}");
    // q left the alternate screen and restored the shell's screen
    assert!(after.contains("EXITED-0"), "{after}");
    assert!(!after.contains("ACTIVE INCIDENT"), "{after}");
}

/// The digits after `EXITED-` on a screen (`echo EXITED-$?` printed them; the command line
/// itself has `$?` there).
fn exited_status(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let rest = &l[l.find("EXITED-")? + 7..];
        let d: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        (!d.is_empty()).then_some(d)
    })
}

/// SIGTERM, SIGHUP and SIGINT (sent with `kill`, not typed) while the terminal view is up
/// in tmux: the terminal is given back (main screen, cursor shown, the shell's exact tty
/// settings: raw mode off) and gatelog ends by the signal (the shell sees 128+signo).
/// Job control: Ctrl-Z (a key in raw mode) and a SIGTSTP from outside both give the shell its
/// screen back with the job stopped; `fg` brings the view back, drawn whole, and `q` still
/// quits with status 0. Driven in tmux with an interactive bash.
#[test]
fn terminal_view_suspends_on_ctrl_z_and_sigtstp_and_resumes_on_fg() {
    let Some(()) = tool(
        "tmux",
        "terminal_view_suspends_on_ctrl_z_and_sigtstp_and_resumes_on_fg",
    ) else {
        return;
    };
    let (dir, a, e) = lab_copy();
    let d = dir.path();
    let tmux = Tmux::start(
        "live-tstp",
        &["env", "PS1=$ ", "bash", "--norc", "--noprofile", "-i"],
    );
    let pid_file = d.join("pid");
    tmux.type_line(&format!(
        "sh -c 'echo $$ > {pid}; exec {BIN} live --from-start {a} {e}'",
        pid = pid_file.display(),
        a = a.display(),
        e = e.display(),
    ));
    let (up, first) = tmux.wait(&|s| s.contains("upstream_refused"), 15);
    // 1. Ctrl-Z
    tmux.keys("C-z");
    let (stopped1, shell1) = tmux.wait(&|s| s.contains("Stopped"), 8);
    let alt1 = tmux.display("#{alternate_on}");
    tmux.type_line("clear; fg");
    // (waiting for the whole frame: a capture can fall between two writes of one draw)
    let whole = |s: &str| s.contains("LAST INCIDENT") && s.contains("q quit");
    let (back1, view1) = tmux.wait(&|s| s.contains("upstream_refused") && whole(s), 10);
    let alt_back1 = tmux.display("#{alternate_on}");
    // 2. SIGTSTP from outside
    tmux.type_line(""); // (a key the view ignores)
    let pid: Option<u32> = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let sent = pid.is_some_and(|p| send_signal(p, 20)); // SIGTSTP
    let (stopped2, shell2) = tmux.wait(&|s| s.contains("Stopped"), 8);
    let alt2 = tmux.display("#{alternate_on}");
    tmux.type_line("clear; fg");
    let (back2, view2) = tmux.wait(&|s| s.contains("upstream_refused"), 10);
    // 3. q quits as before
    tmux.keys("q");
    std::thread::sleep(Duration::from_millis(800));
    tmux.type_line("echo EXITED-$?");
    let (_, after) = tmux.wait(&|s| s.contains("EXITED-"), 8);
    drop(tmux);
    assert!(up, "the view never came up:\n{first}");
    assert!(stopped1, "Ctrl-Z did not stop the job:\n{shell1}");
    assert_eq!(
        alt1, "0",
        "still on the alternate screen after Ctrl-Z:\n{shell1}"
    );
    assert!(!shell1.contains("LAST INCIDENT"), "{shell1}");
    assert!(back1, "fg did not bring the view back:\n{view1}");
    assert_eq!(alt_back1, "1");
    // top to bottom: the incident panel and the key help on the last line
    assert!(whole(&view1), "not drawn whole:\n{view1}");
    assert!(sent, "could not send SIGTSTP to {pid:?}");
    assert!(stopped2, "SIGTSTP did not stop the job:\n{shell2}");
    assert_eq!(
        alt2, "0",
        "still on the alternate screen after SIGTSTP:\n{shell2}"
    );
    assert!(back2, "fg did not bring the view back:\n{view2}");
    assert!(after.contains("EXITED-0"), "{after}");
}

#[test]
fn terminal_view_is_restored_on_sigterm_sighup_sigint() {
    let Some(()) = tool("tmux", "terminal_view_is_restored_on_sigterm_sighup_sigint") else {
        return;
    };
    let (dir, a, e) = lab_copy();
    let d = dir.path();
    let tmux = Tmux::start("live-sig", &["env", "PS1=$ ", "sh"]);
    let mut failures = Vec::new();
    for (name, signo) in [("TERM", 15), ("HUP", 1), ("INT", 2)] {
        let pid_file = d.join(format!("pid-{name}"));
        tmux.type_line("clear");
        std::thread::sleep(Duration::from_millis(300));
        tmux.type_line(&format!(
            "stty -g > {d}/before; sh -c 'echo $$ > {pid}; exec {BIN} live --from-start {a} {e}'",
            d = d.display(),
            pid = pid_file.display(),
            a = a.display(),
            e = e.display(),
        ));
        let (up, screen) = tmux.wait(&|s| s.contains("upstream_refused"), 15);
        let alt_during = tmux.display("#{alternate_on}");
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let killed = pid
            .trim()
            .parse::<u32>()
            .is_ok_and(|p| send_signal(p, signo));
        // back on the shell's screen; then the status, typed as its own command (a shell
        // drops the rest of a command list whose job died of SIGINT, as after a ^C)
        let end = Instant::now() + Duration::from_secs(6);
        while tmux.display("#{alternate_on}") != "0" && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        let alt_after = tmux.display("#{alternate_on}");
        let cursor_after = tmux.display("#{cursor_flag}");
        tmux.type_line("echo EXITED-$?");
        // the output line (the command line holds `EXITED-$?`)
        let (exited, after) = tmux.wait(&|s| exited_status(s).is_some(), 6);
        tmux.type_line(&format!(
            "stty -g > {d}/after; cmp -s {d}/before {d}/after && echo TTY-SAME-$((6*7))",
            d = d.display()
        ));
        let (same_tty, last) = tmux.wait(&|s| s.contains("TTY-SAME-42"), 5);
        let status = format!("EXITED-{}", 128 + signo);
        let got_status = exited_status(&after).as_deref() == Some(&status[7..]);
        if !(up && alt_during == "1" && killed && exited && got_status) {
            failures.push(format!(
                "SIG{name}: view up {up} (alternate_on {alt_during}), kill sent {killed}, \
                 exited {exited} (want {status})\n{screen}\n--- after ---\n{after}"
            ));
        }
        if alt_after != "0" || cursor_after != "1" || !same_tty {
            failures.push(format!(
                "SIG{name}: alternate_on {alt_after} (want 0), cursor_flag {cursor_after} \
                 (want 1), tty settings restored {same_tty}\n{last}"
            ));
        }
    }
    drop(tmux);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A container log (the lab2 nginx pod's CRI file: real nginx output as containerd wrote it)
/// followed through a kubelet rotation (`0.log` renamed to `0.log.<timestamp>`, a new `0.log`):
/// every line is read once, unwrapped, each stream with its own format, none rejected.
#[test]
fn cri_file_is_followed_through_a_kubelet_rotation() {
    let pods = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab2/fpm_down/var/log/pods");
    let pod = std::fs::read_dir(&pods)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().contains("_web-0_"))
        .expect("lab2 web-0 pod");
    let body = std::fs::read_to_string(pod.join("nginx/0.log")).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let n = lines.len() as u64;
    let (first, second) = lines.split_at(lines.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("0.log");
    std::fs::write(&log, "").unwrap();
    let mut live = Live::start(&[log.to_str().unwrap()], Stdio::null());
    assert!(live.next(Duration::from_secs(10)).is_some());
    let text = |v: &[&str]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    std::fs::write(&log, text(first)).unwrap();
    let half = first.len() as u64;
    let got = live.wait_for(Duration::from_secs(10), |v| total(v) >= half);
    assert!(got.is_some(), "the first half was not read");
    std::fs::rename(&log, dir.path().join("0.log.20261205-151300")).unwrap();
    std::fs::write(&log, text(second)).unwrap();
    let got = live.wait_for(Duration::from_secs(15), |v| total(v) >= n);
    std::thread::sleep(Duration::from_millis(1500));
    while live.next(Duration::from_millis(10)).is_some() {}
    let last = live.last.clone().unwrap();
    let err = live.stop();
    assert!(got.is_some(), "total never reached {n}: {last}\n{err}");
    assert_eq!(total(&last), n, "{last}\n{err}");
    assert_eq!(last["rejected_lines"], 0, "{last}\n{err}");
    assert!(err.contains("rotated"), "{err}");
}

/// Issue 15: a `for` alert fires while the latest sliding window holds and resolves when it
/// no longer does, as `analyze --fail-on` reads the same lines.
#[test]
fn a_for_alert_fires_on_a_steady_rate_and_resolves_when_it_ends() {
    // nginx combined lines from 2026-11-23T10:00:00Z, 2 a second; every 10th a 503 while
    // `bad` says so
    let chunk = |from: i64, secs: i64, bad: bool| {
        let mut s = String::new();
        for t in from..from + secs {
            for k in 0..2 {
                let j = t * 2 + k;
                let d = chrono::DateTime::from_timestamp(1_795_428_000 + t, 0).unwrap();
                let status = if bad && j % 10 == 0 { 503 } else { 200 };
                s.push_str(&format!(
                    "10.0.0.{} - - [{}] \"GET /i/{j} HTTP/1.1\" {status} 5 \"-\" \"w/1\"\n",
                    j % 200,
                    d.format("%d/%b/%Y:%H:%M:%S +0000")
                ));
            }
        }
        s
    };
    let mut child = Command::new(BIN)
        .args([
            "live",
            "-",
            "--alert",
            "rate(503) > 5% for 5m",
            "--alert",
            "rate(503) > 15% for 5m",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // 6 minutes at a steady 10%: the 5-minute window holds (at 1 s buckets no bucket does)
    stdin.write_all(chunk(0, 360, true).as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    // then 6 minutes at 0%: the latest 5 minutes no longer hold
    stdin.write_all(chunk(360, 360, false).as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    drop(stdin);
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let _ = child.wait();
    let alerts: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("alert").is_some())
        .collect();
    let seen: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["alert"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("rate(503) > 5% for 5m", "firing"),
            ("rate(503) > 5% for 5m", "resolved")
        ],
        "{text}"
    );
    let v = alerts[0]["value"].as_f64().unwrap();
    assert!((v - 0.1).abs() < 0.02, "{v}");
}

/// issue 15: a burst of 429s (refused by nginx, no 5xx) opens live's incident, as in `analyze`.
#[test]
fn a_429_burst_opens_the_live_incident() {
    let mut s = String::new();
    for t in 0..120i64 {
        for k in 0..4 {
            let j = t * 4 + k;
            let d = chrono::DateTime::from_timestamp(1_795_428_000 + t, 0).unwrap();
            let status = if t >= 90 && k < 3 { 429 } else { 200 };
            s.push_str(&format!(
                "10.0.0.{} - - [{}] \"GET /i/{j} HTTP/1.1\" {status} 5 \"-\" \"w/1\"\n",
                j % 200,
                d.format("%d/%b/%Y:%H:%M:%S +0000")
            ));
        }
    }
    let mut live = Live::start(&["-"], Stdio::piped());
    let mut stdin = live.child.stdin.take().unwrap();
    stdin.write_all(s.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let v = live.wait_for(Duration::from_secs(15), |v| !v["incident"].is_null());
    drop(stdin);
    let err = live.stop();
    let v = v.unwrap_or_else(|| panic!("no incident: {err}"));
    assert_eq!(v["incident"]["status"]["429"], 90, "{v:#}");
    assert_eq!(v["incident"]["start"], "2026-11-23T10:01:30+00:00", "{v:#}");
}

/// Issue 13: live detects as analyze does (one detection, `pipeline::detect_head`): a
/// Docker json-file log with `--format` forced is still unwrapped (lab2's php-fpm container,
/// as dockerd wrote it), where live used to parse the JSON records as php-fpm lines and
/// reject them all. Both commands read the same lines the same way.
#[test]
fn forced_format_inside_a_docker_json_log_is_unwrapped_as_by_analyze() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/lab2/fpm_down/var/lib/docker/containers");
    // php-fpm's container: its first record is php-fpm's "fpm is running"
    let log = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            let id = e.file_name().to_string_lossy().into_owned();
            e.path().join(format!("{id}-json.log"))
        })
        .find(|p| {
            std::fs::read_to_string(p)
                .map(|s| {
                    s.lines()
                        .next()
                        .unwrap_or("")
                        .contains("NOTICE: fpm is running")
                })
                .unwrap_or(false)
        })
        .expect("lab2 php-fpm container log");
    let n = std::fs::read_to_string(&log).unwrap().lines().count() as u64;
    let a = Command::new(BIN)
        .args(["analyze", "--json", "--format", "fpm-error"])
        .arg(&log)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(r["totals"]["lines"], n);
    assert_eq!(r["totals"]["parsed"], n, "{}", r["totals"]);
    assert_eq!(
        r["inputs"][0]["detected"],
        "docker-json: fpm-error forced with --format"
    );
    let fpm_terminating = r["totals"]["events"]["fpm_terminating"].as_u64().unwrap();
    assert!(fpm_terminating > 0);

    let mut live = Live::start(
        &[
            "--from-start",
            "--format",
            "fpm-error",
            "--interval",
            "1s",
            log.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    let got = live.wait_for(Duration::from_secs(15), |v| total(v) >= n);
    let last = live.last.clone();
    let err = live.stop();
    let got = got.unwrap_or_else(|| panic!("total never reached {n}: {last:?}\n{err}"));
    assert_eq!(total(&got), n, "{got}\n{err}");
    assert_eq!(got["rejected_lines"], 0, "{got}\n{err}");
    assert_eq!(
        got["window"]["events"]["fpm_terminating"], fpm_terminating,
        "{got}\n{err}"
    );
}
