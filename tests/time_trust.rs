//! Times you can trust (SPEC "Logs as deployments write them"): year-less syslog timestamps
//! take their year from the input's dated lines, else its modification time, never 1970.

#[path = "../parsers/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatelog")
}

fn json_of(args: &[&str]) -> Value {
    let mut a = vec!["analyze", "--json"];
    a.extend_from_slice(args);
    let out = gatelog(&a);
    assert!(
        out.status.success(),
        "gatelog {:?} failed: {}",
        a,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON report")
}

fn window(v: &Value) -> (String, String) {
    (
        v["window"]["from"].as_str().unwrap_or("").to_string(),
        v["window"]["to"].as_str().unwrap_or("").to_string(),
    )
}

fn set_mtime(p: &Path, y: i32, m: u32, d: u32) {
    // days from civil, as in the parsers crate (tests keep their own copy)
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm as i32 + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146097 + doe - 719468) as u64;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(days * 86400 + 12 * 3600);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// lnav's real HAProxy log starts with three year-less `Proxy ... started.` lines before any
/// bracketed date: they were read as 1970 and stretched the window to 49 years.
#[test]
fn yearless_head_takes_the_year_of_the_files_dated_lines_corpus() {
    let Some(dir) = common::corpus_dir("yearless_head_corpus") else {
        return;
    };
    let p = dir.join("haproxy/lnav-logfile_haproxy.0");
    assert!(p.is_file(), "{} missing", p.display());
    let v = json_of(&[p.to_str().unwrap()]);
    assert_eq!(
        window(&v),
        (
            "2019-02-25T16:19:38+00:00".to_string(),
            "2019-02-25T16:20:14.317+00:00".to_string()
        )
    );
    assert_eq!(v["inputs"][0]["events"], 4);
}

/// The lab's HAProxy log (written by a real haproxy through rsyslog): its year-less
/// `Proxy ... stopped` lines moved to the top, before any dated line, stay in 2026.
#[test]
fn yearless_lines_before_any_dated_one_lab() {
    let src = std::fs::read_to_string("samples/backlog/haproxy.log").unwrap();
    let (yearless, dated): (Vec<&str>, Vec<&str>) =
        src.lines().partition(|l| !l.contains("/Nov/2026:"));
    assert_eq!(yearless.len(), 3, "the lab log has three year-less lines");
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("haproxy.log");
    let mut text = yearless.join("\n");
    text.push('\n');
    text.push_str(&dated.join("\n"));
    text.push('\n');
    std::fs::write(&p, text).unwrap();
    set_mtime(&p, 2031, 6, 1); // a copy's mtime says nothing: dated lines win
    let v = json_of(&[p.to_str().unwrap()]);
    let (from, to) = window(&v);
    assert!(from.starts_with("2026-11-23T19:5"), "{from}");
    assert!(to.starts_with("2026-11-23T19:58:5"), "{to}");
    assert_eq!(v["inputs"][0]["events"], 3);
    assert_eq!(v["inputs"][0]["rejected"], 0);
}

/// Only year-less lines: the year comes from the file's modification time, and a `Dec 31`
/// line in a file modified in January belongs to the year before (the rest roll forward).
#[test]
fn yearless_only_file_dates_from_mtime_across_new_year() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("haproxy.log");
    std::fs::write(
        &p,
        "Dec 31 23:59:50 lb haproxy[1]: Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.\n\
         Jan  1 00:00:10 lb haproxy[1]: Server be/s1 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms. 1 active and 0 backup servers online.\n",
    )
    .unwrap();
    set_mtime(&p, 2027, 1, 1);
    let v = json_of(&[p.to_str().unwrap()]);
    assert_eq!(
        window(&v),
        (
            "2026-12-31T23:59:50+00:00".to_string(),
            "2027-01-01T00:00:10+00:00".to_string()
        )
    );
    // php-fpm with error_log = syslog: the same rule
    let f = d.path().join("php-fpm.log");
    std::fs::write(
        &f,
        "Dec 30 10:00:00 web1 php-fpm[123]: [WARNING] [pool www] server reached pm.max_children setting (5), consider raising it\n",
    )
    .unwrap();
    set_mtime(&f, 2027, 1, 3);
    let v = json_of(&["--format", "fpm-error", f.to_str().unwrap()]);
    assert_eq!(window(&v).0, "2026-12-30T10:00:00+00:00");
}

/// Standard input has no modification time: dated lines of its head give the year.
#[test]
fn yearless_stdin_takes_the_year_of_its_dated_lines() {
    let src = std::fs::read_to_string("samples/backlog/haproxy.log").unwrap();
    let mut lines: Vec<&str> = src.lines().collect();
    lines.rotate_right(3); // the three year-less lines first
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json", "--format", "haproxy", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        window(&v).0.starts_with("2026-11-23T19:5"),
        "{:?}",
        window(&v)
    );
}
