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

// ---------------------------------------------------------------------------------------
// A line far outside its input's span (a stray 1970 or 2099, a 3-day-old line in an error
// log otherwise covering a minute) is rejected under its own reason and cannot stretch the
// window or the timeline.

const OUTSIDE: &str = "time outside the input's span";

/// The lab's fpm_saturation files that `analyze` reads (without the duplicate combined log).
const SATURATION: [&str; 6] = [
    "access.log",
    "error.log",
    "haproxy.log",
    "php-fpm.log",
    "php-fpm-slow.log",
    "php-fpm-access.log",
];

fn copy_saturation(to: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fpm_saturation");
    for f in SATURATION {
        std::fs::copy(src.join(f), to.join(f)).unwrap();
    }
}

fn input<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no input {name}"))
}

fn balanced(i: &Value) {
    let n = |k: &str| i[k].as_u64().unwrap();
    assert_eq!(
        n("lines"),
        n("parsed") + n("rejected") + n("skipped"),
        "{}",
        i["path"]
    );
}

const STRAY_1970: &str = "127.0.0.1 - - [01/Jan/1970:00:00:05 +0000] \"GET /x HTTP/1.1\" 502 3 \"-\" \"curl/7.88.1\" 0.000 - - - - -";
const STRAY_2099: &str = "127.0.0.1 - - [01/Jan/2099:00:00:05 +0000] \"GET /x HTTP/1.1\" 502 3 \"-\" \"curl/7.88.1\" 0.000 - - - - -";
const OLD_ERROR: &str = "2026/11/20 19:54:37 [error] 13406#13406: *52 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: lab.local, request: \"GET /slow.php?s=1.5 HTTP/1.1\", upstream: \"fastcgi://unix:/tmp/x.sock\", host: \"127.0.0.1:18080\"";

/// The lab scenario with a 1970 line at line 4 and a 2099 line at the end of the access log,
/// and a line three days old at the end of the error log.
fn saturation_with_strays(d: &Path) {
    copy_saturation(d);
    let a = std::fs::read_to_string(d.join("access.log")).unwrap();
    let mut lines: Vec<&str> = a.lines().collect();
    lines.insert(3, STRAY_1970);
    lines.push(STRAY_2099);
    std::fs::write(d.join("access.log"), lines.join("\n") + "\n").unwrap();
    let mut e = std::fs::read_to_string(d.join("error.log")).unwrap();
    e.push_str(OLD_ERROR);
    e.push('\n');
    std::fs::write(d.join("error.log"), e).unwrap();
}

#[test]
fn stray_lines_are_rejected_and_cannot_stretch_the_window_lab() {
    let clean = tempfile::tempdir().unwrap();
    copy_saturation(clean.path());
    let want = json_of(&[clean.path().to_str().unwrap()]);

    let d = tempfile::tempdir().unwrap();
    saturation_with_strays(d.path());
    let v = json_of(&[d.path().to_str().unwrap()]);
    assert_eq!(window(&v), window(&want));
    assert_eq!(window(&v).0, "2026-11-23T19:54:22+00:00");
    assert_eq!(v["timeline"]["bucket"], want["timeline"]["bucket"]);
    assert_eq!(v["timeline"]["rows"], want["timeline"]["rows"]);

    let a = input(&v, "access.log");
    balanced(a);
    assert_eq!(a["rejected"], 2);
    assert_eq!(a["rejected_reasons"][OUTSIDE], 2);
    let lines: Vec<u64> = a["rejected_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["line"].as_u64().unwrap())
        .collect();
    let n = a["lines"].as_u64().unwrap();
    assert_eq!(lines, vec![4, n]);
    let s = a["rejected_samples"][0]["text"].as_str().unwrap();
    assert!(s.contains("1970") && s.contains(OUTSIDE), "{s}");
    assert!(a["rejected_samples"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("access.log"));

    let e = input(&v, "error.log");
    balanced(e);
    assert_eq!(e["rejected_reasons"][OUTSIDE], 1);
    assert_eq!(e["rejected_samples"][0]["line"], e["lines"]);
    // everything else is as without the strays
    assert_eq!(
        a["parsed"].as_u64().unwrap(),
        input(&want, "access.log")["parsed"].as_u64().unwrap()
    );
    assert_eq!(v["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(v["incidents"][0]["start"], want["incidents"][0]["start"]);
    assert_eq!(v["incidents"][0]["end"], want["incidents"][0]["end"]);
    assert_eq!(v["incidents"][0]["errors"], want["incidents"][0]["errors"]);
    assert_eq!(v["incidents"][0]["causes"][0]["cause"], "fpm_max_children");
    // the text report names the reason with file:line
    let out = gatelog(&["analyze", d.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(OUTSIDE), "{text}");
}

/// A sparse input keeps its lines: an error log of a few lines days apart, a whole file from
/// three days earlier than the others.
#[test]
fn sparse_and_old_inputs_keep_their_lines() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("error.log");
    let days: Vec<String> = (20..24)
        .map(|day| OLD_ERROR.replace("2026/11/20", &format!("2026/11/{day}")))
        .collect();
    std::fs::write(&p, days.join("\n") + "\n").unwrap();
    let v = json_of(&[p.to_str().unwrap()]);
    assert_eq!(v["inputs"][0]["rejected"], 0);
    assert_eq!(v["inputs"][0]["events"], 4);
    assert_eq!(
        window(&v),
        (
            "2026-11-20T19:54:37+00:00".to_string(),
            "2026-11-23T19:54:37+00:00".to_string()
        )
    );
}

/// A file large enough to be sampled by blocks, read whole or split across threads: the same
/// stray is rejected either way, and the report is the same.
#[test]
fn stray_in_a_large_file_whether_split_or_not() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("access.log");
    let mut text = String::new();
    let mut n = 0u64;
    // 6 MiB over about 15 minutes, a 2099 line in the middle
    while text.len() < 6 << 20 {
        let s = n * 600 / 40_000;
        let status = if (200..260).contains(&s) && n.is_multiple_of(3) {
            502
        } else {
            200
        };
        text.push_str(&format!(
            "10.0.{}.{} - - [23/Nov/2026:19:{:02}:{:02} +0000] \"GET /p/{n} HTTP/1.1\" {status} 3 \"-\" \"curl/7.88.1\" 0.010 - - - - -\n",
            n % 7, n % 200, 40 + s / 60, s % 60
        ));
        n += 1;
        if n == 20_001 {
            text.push_str(STRAY_2099);
            text.push('\n');
        }
    }
    std::fs::write(&p, &text).unwrap();
    let args = ["--json".to_string(), p.display().to_string()];
    let a = {
        use clap::Parser;
        let mut v = vec!["gatelog".to_string(), "analyze".to_string()];
        v.extend(args.iter().cloned());
        match gatelog::cli::Cli::parse_from(v).cmd {
            gatelog::cli::Command::Analyze(a) => a,
            _ => unreachable!(),
        }
    };
    let mut reports = Vec::new();
    for (threads, chunk) in [(1usize, u64::MAX), (2, 1 << 20), (2, 333_333)] {
        let mut p = gatelog::cmd::analyze::prepare(&a).unwrap();
        p.threads = threads;
        p.opts.chunk_bytes = chunk;
        let out = gatelog::cmd::analyze::analyze(&a.inputs, &p);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        reports.push(serde_json::to_value(&out.report).unwrap());
    }
    let r = &reports[0];
    let i = &r["inputs"][0];
    balanced(i);
    assert_eq!(i["rejected"], 1);
    assert_eq!(i["rejected_reasons"][OUTSIDE], 1);
    assert_eq!(i["rejected_samples"][0]["line"], 20_002);
    let last = (n - 1) * 600 / 40_000;
    assert_eq!(
        window(r).1,
        format!("2026-11-23T19:{:02}:{:02}+00:00", 40 + last / 60, last % 60)
    );
    assert_eq!(
        r["incidents"].as_array().unwrap().len(),
        1,
        "{}",
        r["incidents"]
    );
    for other in &reports[1..] {
        assert!(other == r, "a split file gives another report");
    }
}

/// Compressed inputs are sampled from their decompressed head; stdin from what detection
/// read of it.
#[test]
fn stray_in_compressed_input_and_stdin() {
    use std::io::Write;
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fpm_saturation/access.log"),
    )
    .unwrap();
    let mut lines: Vec<&str> = src.lines().collect();
    lines.insert(10, STRAY_1970);
    lines.push(STRAY_2099);
    let text = lines.join("\n") + "\n";
    let d = tempfile::tempdir().unwrap();
    let gz = d.path().join("access.log.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
    let v = json_of(&[gz.to_str().unwrap()]);
    let i = &v["inputs"][0];
    balanced(i);
    assert_eq!(i["rejected_reasons"][OUTSIDE], 2);
    assert_eq!(window(&v).0, "2026-11-23T19:54:22+00:00");

    let mut child = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let i = &v["inputs"][0];
    balanced(i);
    assert_eq!(i["rejected_reasons"][OUTSIDE], 2);
    assert_eq!(window(&v).0, "2026-11-23T19:54:22+00:00");
    assert!(
        window(&v).1.starts_with("2026-11-23T19:5"),
        "{:?}",
        window(&v)
    );
}

// ---------------------------------------------------------------------------------------
// Inputs that do not overlap in time still give the incident found in their concatenation:
// incidents are detected at a fine resolution whatever the display width.

/// `line` with every `HH:MM:SS` moved `minutes` earlier (within the day) and its date
/// (`23/Nov/2026`, `2026/11/23`, `Nov 23`, `23-Nov-2026`) `days` earlier.
fn shift_line(line: &str, minutes: u32, days: u32) -> String {
    let day = format!("{:02}", 23 - days);
    let mut out = line
        .replace("23/Nov/2026", &format!("{day}/Nov/2026"))
        .replace("2026/11/23", &format!("2026/11/{day}"))
        .replace("Nov 23 ", &format!("Nov {day} "))
        .replace("23-Nov-2026", &format!("{day}-Nov-2026"));
    let b = out.as_bytes().to_vec();
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = &b[i..i + 8];
        let digits = [0, 1, 3, 4, 6, 7].iter().all(|&k| w[k].is_ascii_digit());
        if digits && w[2] == b':' && w[5] == b':' && (i == 0 || !b[i - 1].is_ascii_digit()) {
            let n = |k: usize| ((w[k] - b'0') * 10 + (w[k + 1] - b'0')) as u32;
            let m = n(0) * 60 + n(3) - minutes;
            out.replace_range(i..i + 5, &format!("{:02}:{:02}", m / 60, m % 60));
            i += 8;
        } else {
            i += 1;
        }
    }
    out
}

/// The first `HH:MM:SS` of a line.
fn clock_of(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    (0..b.len().saturating_sub(7)).find_map(|i| {
        let w = &b[i..i + 8];
        ([0, 1, 3, 4, 6, 7].iter().all(|&k| w[k].is_ascii_digit()) && w[2] == b':' && w[5] == b':')
            .then(|| &line[i..i + 8])
    })
}

/// The lab's fpm_saturation files split at the start of the saturation (19:54:34): the
/// healthy part moved `minutes` and `days` earlier into `early/`, the rest in `late/`.
fn split_saturation(minutes: u32, days: u32) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fpm_saturation");
    let d = tempfile::tempdir().unwrap();
    for sub in ["early", "late"] {
        std::fs::create_dir(d.path().join(sub)).unwrap();
    }
    for f in SATURATION {
        let text = std::fs::read_to_string(src.join(f)).unwrap();
        let (mut early, mut late) = (String::new(), String::new());
        let mut in_early = true;
        for line in text.lines() {
            if let Some(c) = clock_of(line) {
                in_early = c < "19:54:34";
            }
            if in_early {
                early.push_str(&shift_line(line, minutes, days));
                early.push('\n');
            } else {
                late.push_str(line);
                late.push('\n');
            }
        }
        if !early.is_empty() {
            std::fs::write(d.path().join("early").join(f), early).unwrap();
        }
        if !late.is_empty() {
            std::fs::write(d.path().join("late").join(f), late).unwrap();
        }
    }
    d
}

/// The UTC µs of a report time (`2026-11-23T19:54:34+00:00`, fractions ignored).
fn secs_of(v: &Value) -> i64 {
    let t = v.as_str().unwrap();
    assert!(t.ends_with("+00:00"), "{t}");
    let n = |a: usize, b: usize| t[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

fn us_of(v: &Value) -> i64 {
    secs_of(v) * 1_000_000
}

#[test]
fn inputs_apart_in_time_give_the_incident_of_their_concatenation_lab() {
    let clean = tempfile::tempdir().unwrap();
    copy_saturation(clean.path());
    let want = json_of(&[clean.path().to_str().unwrap()]);
    let w = &want["incidents"][0];
    assert_eq!(w["causes"][0]["cause"], "fpm_max_children");
    for (minutes, days) in [(10, 0), (0, 3)] {
        let d = split_saturation(minutes, days);
        let v = json_of(&[d.path().to_str().unwrap()]);
        let what = format!("{minutes} min, {days} days apart");
        // nothing was set aside: each part is its own input, whole
        for i in v["inputs"].as_array().unwrap() {
            assert_eq!(i["rejected"], 0, "{what}: {i:#}");
        }
        let incs = v["incidents"].as_array().unwrap();
        assert_eq!(incs.len(), 1, "{what}: {incs:#?}");
        let inc = &incs[0];
        assert_eq!(inc["causes"][0]["cause"], "fpm_max_children", "{what}");
        // at most one fine bucket (10 s) from the incident of the original files
        assert!(
            (us_of(&inc["start"]) - us_of(&w["start"])).abs() <= 10_000_000,
            "{what}: {} vs {}",
            inc["start"],
            w["start"]
        );
        assert!(
            (us_of(&inc["end"]) - us_of(&w["end"])).abs() <= 10_000_000,
            "{what}: {} vs {}",
            inc["end"],
            w["end"]
        );
        if days == 3 {
            // the display is coarse (the window spans three days): the incident is not
            assert!(v["timeline"]["bucket_seconds"].as_i64().unwrap() >= 600);
        }
    }
}

/// Three days of an access log at one request every 4 s, with one 10-minute incident (a
/// third of requests fail with 502) and a few scattered 5xx: one incident, to the minute.
#[test]
fn a_days_long_archive_finds_its_ten_minute_incident() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("access.log");
    let t0: i64 = 1_795_000_000 - 1_795_000_000 % 86_400; // a midnight in 2026
    let inc = t0 + 86_400 + 13 * 3600 + 17 * 60; // day 2, 13:17
    let mut text = String::with_capacity(8 << 20);
    let mut n = 0u64;
    for t in (t0..t0 + 3 * 86_400).step_by(4) {
        n += 1;
        let bad = (t >= inc && t < inc + 600 && n.is_multiple_of(3)) || n.is_multiple_of(997);
        let status = if bad { 502 } else { 200 };
        let (days, secs) = (t / 86_400, t % 86_400);
        // civil date of `days` (since 1970-01-01)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + (month <= 2) as i64;
        let mon = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][month as usize - 1];
        text.push_str(&format!(
            "10.0.{}.{} - - [{day:02}/{mon}/{year}:{:02}:{:02}:{:02} +0000] \"GET /p HTTP/1.1\" {status} 3 \"-\" \"curl/8\" 0.010 - - - - -\n",
            n % 5,
            n % 250,
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        ));
    }
    std::fs::write(&p, &text).unwrap();
    let v = json_of(&[p.to_str().unwrap()]);
    assert_eq!(v["inputs"][0]["rejected"], 0);
    assert!(v["timeline"]["bucket_seconds"].as_i64().unwrap() >= 600);
    let incs = v["incidents"].as_array().unwrap();
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let (s, e) = (us_of(&incs[0]["start"]), us_of(&incs[0]["end"]));
    assert!(
        (s - inc * 1_000_000).abs() <= 60_000_000,
        "{}",
        incs[0]["start"]
    );
    assert!(
        (e - (inc + 600) * 1_000_000).abs() <= 60_000_000,
        "{}",
        incs[0]["end"]
    );
    // its figures are the incident's own, not its 30-minute rows'
    let errors = incs[0]["errors"].as_u64().unwrap();
    assert!((45..=60).contains(&errors), "{errors}");
}

// ---------------------------------------------------------------------------------------
// Container and mixed-format files are span-bounded too: a wrapped line by its wrapper's
// time (the runtime's clock), a mixed file's lines by the span of all its formats.

/// The file of `sub` (under the lab2 fpm_saturation scenario) whose path ends with `tail`.
fn lab2_file(sub: &str, tail: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab2/fpm_saturation");
    let mut stack = vec![root.join(sub)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_str().unwrap().ends_with(tail) {
                return p;
            }
        }
    }
    panic!("no {tail} under {sub}");
}

/// `text` with a copy of its line `at` (0-based) inserted after it, dated three days earlier
/// inside (its wrapper, if any, keeps its time); the inserted line's number (1-based).
fn with_stale_copy(text: &str, at: usize) -> (String, u64) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let stale = lines[at].replacen("05/Dec/2026", "02/Dec/2026", 1);
    assert_ne!(stale, lines[at], "line {at} has no 05/Dec/2026 date");
    lines.insert(at + 1, stale);
    (lines.join("\n") + "\n", at as u64 + 2)
}

#[test]
fn stale_line_in_container_and_mixed_files_is_outside_lab2() {
    let cri = std::fs::read_to_string(lab2_file("var/log/pods", "nginx/0.log")).unwrap();
    let json = std::fs::read_to_string(lab2_file("var/lib/docker", "-json.log")).unwrap();
    let php = std::fs::read_to_string(lab2_file("var/log/pods", "php-fpm/0.log")).unwrap();
    // the php image's stderr as one plain file: fpm-error and fpm-access lines mixed
    let mixed: String = php
        .lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap().to_string() + "\n")
        .collect();
    let json = if json.contains("05/Dec/2026") {
        json
    } else {
        // the first json-file capture found may be HAProxy's or php's: take nginx's
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("samples/lab2/fpm_saturation/var/lib/docker/containers")
                .read_dir()
                .unwrap()
                .map(|e| e.unwrap().path())
                .map(|d| {
                    std::fs::read_dir(d)
                        .unwrap()
                        .next()
                        .unwrap()
                        .unwrap()
                        .path()
                })
                .map(|p| std::fs::read_to_string(p).unwrap())
                .find(|t| t.contains("\\\"GET /"))
                .unwrap(),
        )
        .unwrap_or_default()
    };
    let d = tempfile::tempdir().unwrap();
    for (name, text, wrapper) in [
        ("0.log", &cri, Some("cri")),
        ("web-json.log", &json, Some("docker-json")),
        ("php.log", &mixed, None),
    ] {
        let clean = d.path().join(format!("clean-{name}"));
        std::fs::write(&clean, text).unwrap();
        let want = json_of(&[clean.to_str().unwrap()]);
        let wi = &want["inputs"][0];
        assert_eq!(wi["rejected"], 0, "{name}: {wi}");
        let (stale, line) = with_stale_copy(text, 60);
        let p = d.path().join(name);
        std::fs::write(&p, stale).unwrap();
        let out = gatelog(&["detect", p.to_str().unwrap()]);
        let det = String::from_utf8_lossy(&out.stdout);
        assert!(det.contains(wrapper.unwrap_or("mixed:")), "{name}: {det}");
        let v = json_of(&[p.to_str().unwrap()]);
        let i = &v["inputs"][0];
        balanced(i);
        assert_eq!(i["rejected"], 1, "{name}: {i}");
        assert_eq!(i["rejected_reasons"][OUTSIDE], 1, "{name}");
        assert_eq!(i["rejected_samples"][0]["line"], line, "{name}");
        let s = i["rejected_samples"][0]["text"].as_str().unwrap();
        assert!(
            s.contains("02/Dec/2026") && s.contains(OUTSIDE),
            "{name}: {s}"
        );
        assert_eq!(i["parsed"], wi["parsed"], "{name}");
        assert_eq!(window(&v), window(&want), "{name}");
        assert!(window(&v).0.starts_with("2026-12-05T"), "{name}");
    }
}
