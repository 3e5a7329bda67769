//! The php-fpm error-log and slowlog parsers against the real-log corpus
//! (`GATELOG_CORPUS/php-fpm-error`, `GATELOG_CORPUS/php-fpm-slow`), read in place. Records are
//! framed the way the pipeline frames them (multi-line entries).

mod common;

use common::{frame, Rec};

use std::collections::HashMap;
use std::path::Path;

use gatelog_parsers::fpm::FpmErrorParser;
use gatelog_parsers::fpm_slow::{frames, FpmSlowParser};
use gatelog_parsers::{Event, EventKind, LineParser, Record, Severity};

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn count_lines(data: &[u8], needle: &str) -> usize {
    common::lines(data)
        .iter()
        .filter(|l| l.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .count()
}

/// Parse every record of a file with `p`; returns (lines, records, ignored, rejected line
/// numbers) and calls `f` for every event.
fn run(
    p: &mut dyn LineParser,
    path: &Path,
    mut f: impl FnMut(&Event, &Rec),
) -> (usize, usize, usize, Vec<usize>) {
    let data = std::fs::read(path).unwrap();
    let lines = common::lines(&data);
    let recs = frame(p, &lines);
    assert_eq!(recs.iter().map(|r| r.n_lines).sum::<usize>(), lines.len());
    let mut rejected = Vec::new();
    let mut ignored = 0;
    for r in &recs {
        match p.parse(&r.bytes) {
            Ok(Record::Event(e)) => f(&e, r),
            Ok(Record::Ignored) => ignored += 1,
            Ok(Record::Request(_)) => panic!("{}: a request from an error log", path.display()),
            Err(e) => {
                eprintln!(
                    "  rejected {}:{}: {e}: {}",
                    name(path),
                    r.line_no,
                    String::from_utf8_lossy(&r.bytes[..r.bytes.len().min(120)])
                );
                rejected.push(r.line_no);
            }
        }
    }
    (lines.len(), recs.len(), ignored, rejected)
}

fn parser() -> FpmErrorParser {
    // The corpus has no year-less syslog lines; fix the reference time anyway.
    FpmErrorParser::with_reference_time(1_800_000_000)
}

#[test]
fn every_error_log_parses() {
    let Some(files) = common::corpus_files("every_error_log_parses", "php-fpm-error") else {
        return;
    };
    for path in &files {
        let mut p = parser();
        let mut events = 0;
        let (lines, records, ignored, rejected) = run(&mut p, path, |_, _| events += 1);
        eprintln!(
            "{}: lines={lines} records={records} events={events} ignored={ignored} rejected={}",
            name(path),
            rejected.len()
        );
        assert!(rejected.is_empty(), "{}: rejected {rejected:?}", name(path));
    }
}

#[test]
fn dev_token_bds_master_log() {
    let Some(dir) = common::corpus_dir("dev_token_bds_master_log") else {
        return;
    };
    let path = dir.join("php-fpm-error/dev-token-bds-php-fpm.log");
    let data = std::fs::read(&path).unwrap();
    let mut kinds: HashMap<EventKind, usize> = HashMap::new();
    let mut first_slow = None;
    let mut p = parser();
    let (lines, records, _, rejected) = run(&mut p, &path, |e, _| {
        *kinds.entry(e.kind).or_default() += 1;
        assert_eq!(e.pool, b"www");
        assert_eq!(e.severity, Severity::Warn);
        match e.kind {
            EventKind::FpmExecutingTooSlow => {
                assert!(e.child_pid.is_some());
                assert!(e.script.starts_with(b"/home/tokenbds.io/public_html/"));
                assert!(e.script.ends_with(b".php"));
                assert!(
                    e.request.starts_with(b"GET /")
                        || e.request.starts_with(b"POST /")
                        || e.request.starts_with(b"HEAD /")
                );
                if first_slow.is_none() {
                    first_slow = Some((e.child_pid, e.script.to_vec(), e.request.to_vec()));
                }
            }
            EventKind::FpmMaxChildren => assert!(e.number.is_some_and(|n| n > 0)),
            _ => {}
        }
    });
    assert!(rejected.is_empty());
    assert_eq!(lines, records);
    let n = |k| kinds.get(&k).copied().unwrap_or(0);
    assert_eq!(
        n(EventKind::FpmExecutingTooSlow),
        count_lines(&data, "executing too slow")
    );
    assert_eq!(n(EventKind::FpmExecutingTooSlow), 122);
    assert_eq!(n(EventKind::FpmSeemsBusy), count_lines(&data, "seems busy"));
    assert_eq!(
        n(EventKind::FpmMaxChildren),
        count_lines(&data, "max_children setting")
    );
    assert_eq!(n(EventKind::FpmMaxChildren), 2);
    assert_eq!(n(EventKind::Other), 0);
    let (pid, script, request) = first_slow.unwrap();
    assert_eq!(pid, Some(842));
    assert_eq!(script, b"/home/tokenbds.io/public_html/wp-admin/themes.php");
    assert_eq!(
        request,
        b"POST /wp-admin/themes.php?page=tgmpa-install-plugins"
    );
}

#[test]
fn lifecycle_logs() {
    let Some(dir) = common::corpus_dir("lifecycle_logs") else {
        return;
    };
    for f in [
        "docker-homework2-php-fpm-error.log",
        "kagoyavps-php-fpm-error.log",
        "my-docker-lnmp-php-fpm-error.log",
        "yii2-advance-fpm-error.log",
        "isna-php-fpm-error.log",
    ] {
        let path = dir.join("php-fpm-error").join(f);
        let data = std::fs::read(&path).unwrap();
        let mut kinds: HashMap<EventKind, usize> = HashMap::new();
        let mut p = parser();
        let mut said = 0;
        run(&mut p, &path, |e, _| {
            *kinds.entry(e.kind).or_default() += 1;
            if e.message.windows(16).any(|w| w == b"said into stderr") {
                said += 1;
                assert!(e.child_pid.is_some());
            }
            if e.kind == EventKind::FpmStarting {
                assert!(e.pid.is_some());
            }
        });
        let n = |k| kinds.get(&k).copied().unwrap_or(0);
        assert_eq!(
            n(EventKind::FpmStarting),
            count_lines(&data, "fpm is running, pid"),
            "{f}"
        );
        assert_eq!(
            n(EventKind::FpmReady),
            count_lines(&data, "ready to handle connections"),
            "{f}"
        );
        assert_eq!(
            n(EventKind::FpmTerminating),
            count_lines(&data, "Terminating ...") + count_lines(&data, "exiting, bye-bye"),
            "{f}"
        );
        assert_eq!(said, count_lines(&data, "said into stderr"), "{f}");
    }
}

#[test]
fn php_error_log_in_pool_folder() {
    let Some(dir) = common::corpus_dir("php_error_log_in_pool_folder") else {
        return;
    };
    let path = dir.join("php-fpm-error/dev-token-bds-php-fpm-error-pool-php-errors.log");
    let data = std::fs::read(&path).unwrap();
    let (mut fatal, mut warn, mut utc, mut multi) = (0, 0, 0, 0);
    let mut p = parser();
    let (lines, records, _, rejected) = run(&mut p, &path, |e, r| {
        if e.kind == EventKind::FastcgiPhpFatal {
            fatal += 1;
            assert_eq!(e.severity, Severity::Error);
            assert!(!e.script.is_empty());
        }
        if e.severity == Severity::Warn {
            warn += 1;
        }
        if e.ts.offset == Some(0) {
            utc += 1;
        }
        if r.n_lines > 1 {
            multi += 1;
        }
    });
    assert!(rejected.is_empty());
    // every entry starts with "[DD-Mon-YYYY HH:MM:SS ZONE] "; the others are continuations
    let starts = common::lines(&data)
        .iter()
        .filter(|l| l.first() == Some(&b'[') && l.get(21) == Some(&b' '))
        .count();
    assert_eq!(records, starts);
    assert!(lines > records);
    assert_eq!(fatal, count_lines(&data, "PHP Fatal error"));
    assert_eq!(warn, count_lines(&data, "] PHP Warning"));
    assert_eq!(utc, count_lines(&data, " UTC] "));
    // each uncaught exception's "Stack trace:" / "#0 {main}" / "thrown in" lines continue it
    assert_eq!(multi, count_lines(&data, "Stack trace:"));
    assert_eq!(lines - records, 3 * multi);
}

#[test]
fn slowlog() {
    let Some(files) = common::corpus_files("slowlog", "php-fpm-slow") else {
        return;
    };
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let headers = common::lines(&data)
            .iter()
            .filter(|l| {
                l.starts_with(b"[") && l.windows(7).any(|w| w == b"] [pool" || w == b"  [pool")
            })
            .count();
        let frame_lines = count_lines(&data, "[0x");
        let mut p = FpmSlowParser::new();
        let (mut traces, mut n_frames) = (0, 0);
        let mut by_pid: HashMap<u32, usize> = HashMap::new();
        let mut top: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut first = None;
        let (lines, records, ignored, rejected) = run(&mut p, path, |e, _| {
            assert_eq!(e.kind, EventKind::FpmSlowTrace);
            traces += 1;
            assert_eq!(e.pool, b"www");
            assert!(
                e.script.ends_with(b".php"),
                "{:?}",
                String::from_utf8_lossy(e.script)
            );
            assert!(!e.frames.is_empty());
            let fs: Vec<_> = frames(e.frames).collect();
            assert_eq!(fs.len(), e.frames.split(|&c| c == b'\n').count());
            assert!(fs
                .iter()
                .all(|f| f.line.is_some() && !f.function.is_empty()));
            n_frames += fs.len();
            *by_pid.entry(e.child_pid.unwrap()).or_default() += 1;
            *top.entry(fs[0].function.to_vec()).or_default() += 1;
            if first.is_none() {
                first = Some((
                    e.ts,
                    e.child_pid,
                    e.script.to_vec(),
                    fs[0].file.to_vec(),
                    fs[0].line,
                ));
            }
        });
        eprintln!(
            "{}: lines={lines} records={records} traces={traces} ignored={ignored} rejected={} frames={n_frames}",
            name(path),
            rejected.len()
        );
        assert!(rejected.is_empty());
        assert_eq!(traces, headers);
        assert_eq!(traces, 122);
        assert_eq!(ignored, 1, "the blank first line");
        assert_eq!(n_frames, frame_lines);
        let (ts, pid, script, file, line) = first.unwrap();
        let days = gatelog_parsers::time::days_from_civil(2018, 10, 25);
        assert_eq!(
            ts.wall_us,
            (days * 86400 + 14 * 3600 + 27 * 60 + 43) * 1_000_000
        );
        assert_eq!(pid, Some(842));
        assert_eq!(script, b"/home/tokenbds.io/public_html/wp-admin/themes.php");
        assert_eq!(
            file,
            b"/home/tokenbds.io/public_html/wp-admin/includes/class-wp-filesystem-direct.php"
        );
        assert_eq!(line, Some(285));
        assert!(top.get(&b"unlink"[..]).is_some_and(|&n| n > 0));
    }
}

/// The SOURCES.md pairing: the master log's `executing too slow` lines and the slowlog traces
/// share pool, pid and second.
#[test]
fn slowlog_joins_master_log() {
    let Some(dir) = common::corpus_dir("slowlog_joins_master_log") else {
        return;
    };
    let mut slow = Vec::new();
    let mut p = parser();
    run(
        &mut p,
        &dir.join("php-fpm-error/dev-token-bds-php-fpm.log"),
        |e, _| {
            if e.kind == EventKind::FpmExecutingTooSlow {
                slow.push((e.ts.wall_us, e.child_pid, e.pool.to_vec()));
            }
        },
    );
    let mut traces = Vec::new();
    let mut p = FpmSlowParser::new();
    run(
        &mut p,
        &dir.join("php-fpm-slow/dev-token-bds-php-fpm-slow.log"),
        |e, _| {
            traces.push((e.ts.wall_us, e.child_pid, e.pool.to_vec()));
        },
    );
    slow.sort();
    traces.sort();
    assert_eq!(slow, traces);
}
