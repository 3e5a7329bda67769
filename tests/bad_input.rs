//! Bad input, end to end through the `gatelog` binary: every case checks the exit status, the
//! one-line message (SPEC "Exit status"), that the other inputs of the same run were still
//! analysed, and that the counts reconcile (`lines = parsed + rejected + skipped`).
//!
//! Cases already covered by tests/cli.rs are not repeated here: a truncated gzip, `--strict`,
//! control characters in the terminal output, a single missing path.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatelog")
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A combined-format line at second `sec` (after 2026-11-23T10:00:00Z) with `status`.
fn line(sec: u32, status: u16) -> String {
    format!(
        "10.0.0.{} - - [23/Nov/2026:{:02}:{:02}:{:02} +0000] \"GET /p{sec} HTTP/1.1\" {status} 5 \"-\" \"curl/8\"\n",
        sec % 250,
        10 + sec / 3600,
        (sec / 60) % 60,
        sec % 60
    )
}

fn lines(n: u32) -> String {
    (0..n)
        .map(|i| line(i, if i % 10 == 0 { 502 } else { 200 }))
        .collect()
}

/// The JSON report of a run (stdout), whatever the exit status.
fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The report's entry for the input whose path ends with `name`.
fn input<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no input {name} in {:#}", r["inputs"]))
}

/// `lines = parsed + rejected + skipped` for every input of the report; returns the counts of
/// the input named `name` as (lines, parsed, rejected, skipped).
fn reconcile(r: &Value, name: &str) -> (u64, u64, u64, u64) {
    for i in r["inputs"].as_array().unwrap() {
        let n = |k: &str| {
            i[k].as_u64()
                .unwrap_or_else(|| panic!("{k} missing: {i:#}"))
        };
        assert_eq!(
            n("lines"),
            n("parsed") + n("rejected") + n("skipped"),
            "counts do not reconcile: {i:#}"
        );
    }
    let i = input(r, name);
    let n = |k: &str| i[k].as_u64().unwrap();
    (n("lines"), n("parsed"), n("rejected"), n("skipped"))
}

/// stderr as text, and the lines that are error messages.
fn errors(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("gatelog: error:"))
        .map(str::to_string)
        .collect()
}

/// A good companion input: it must always be analysed, whatever happens to the bad one.
fn good(dir: &Path) -> PathBuf {
    write(dir, "good.log", lines(30).as_bytes())
}

fn assert_good_analysed(r: &Value) {
    assert_eq!(reconcile(r, "good.log"), (30, 30, 0, 0));
}

/// A small deterministic generator (splitmix64) for garbage bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn binary_garbage_and_nul_bytes_are_rejected_lines_not_failures() {
    let d = tmpdir();
    let mut rng = Rng(7);
    let mut data = Vec::new();
    let (mut valid, mut junk) = (0u64, 0u64);
    for i in 0..400u32 {
        if i < 20 || i % 3 != 0 {
            data.extend_from_slice(line(i, 200).as_bytes());
            valid += 1;
        } else {
            // up to 300 random bytes, NULs included, no newline
            let n = 1 + (rng.next() % 300) as usize;
            for _ in 0..n {
                let b = (rng.next() & 0xff) as u8;
                data.push(if b == b'\n' { 0 } else { b });
            }
            data.push(b'\n');
            junk += 1;
        }
    }
    // a valid line with NUL bytes inside its quoted fields
    data.extend_from_slice(
        b"10.0.0.1 - - [23/Nov/2026:10:10:00 +0000] \"GET /\x00x HTTP/1.1\" 502 5 \"\x00\" \"a\x00b\"\n",
    );
    valid += 1;
    let p = write(d.path(), "access.log", &data);
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&p), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(reconcile(&r, "access.log"), (valid + junk, valid, junk, 0));
    assert_good_analysed(&r);
    // rejected samples carry their line numbers; the JSON is valid UTF-8 whatever the bytes
    let first = &input(&r, "access.log")["rejected_samples"][0];
    assert_eq!(first["line"], 22, "{first:#}");

    // a file of nothing but garbage, named on the command line: one error naming it, exit 1,
    // the good input still reported
    let mut pure = Vec::new();
    for _ in 0..50_000 {
        pure.push((rng.next() & 0xff) as u8);
    }
    let bin = write(d.path(), "core.bin", &pure);
    let out = gatelog(&["analyze", "--json", s(&bin), s(&g)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("core.bin") && e[0].contains("unknown format"),
        "{e:?}"
    );
    assert_good_analysed(&report(&out));
    // the same garbage found by recursing into a directory: skipped and listed, not fatal
    let out = gatelog(&["analyze", "--json", s(d.path())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let skipped: Vec<&str> = r["skipped_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert!(
        skipped.iter().any(|p| p.ends_with("core.bin")),
        "{skipped:?}"
    );
    assert_good_analysed(&r);
}

#[test]
fn invalid_utf8_in_every_field_is_kept_as_bytes() {
    let d = tmpdir();
    // every text field of a combined line in turn holds invalid UTF-8 (a lone continuation
    // byte, a truncated sequence, an overlong encoding, a surrogate)
    let bad: [&[u8]; 4] = [b"\x80", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"];
    let mut data = Vec::new();
    let mut n = 0u64;
    for (k, b) in bad.iter().enumerate() {
        let fields: [&[u8]; 7] = [b"10.0.0.1", b"-", b"GET", b"/x", b"HTTP/1.1", b"-", b"curl"];
        for f in 0..fields.len() {
            let mut v: Vec<Vec<u8>> = fields.iter().map(|x| x.to_vec()).collect();
            v[f].extend_from_slice(b);
            let mut l = Vec::new();
            l.extend_from_slice(&v[0]);
            l.extend_from_slice(b" - ");
            l.extend_from_slice(&v[1]);
            l.extend_from_slice(
                format!(" [23/Nov/2026:10:00:{:02} +0000] \"", k * 7 + f).as_bytes(),
            );
            l.extend_from_slice(&v[2]);
            l.push(b' ');
            l.extend_from_slice(&v[3]);
            l.push(b' ');
            l.extend_from_slice(&v[4]);
            l.extend_from_slice(b"\" 502 5 \"");
            l.extend_from_slice(&v[5]);
            l.extend_from_slice(b"\" \"");
            l.extend_from_slice(&v[6]);
            l.extend_from_slice(b"\"\n");
            data.extend_from_slice(&l);
            n += 1;
        }
    }
    // numeric fields with invalid UTF-8 cannot be numbers: rejected, with the field named
    data.extend_from_slice(
        b"10.0.0.1 - - [23/Nov/2026:10:01:00 +0000] \"GET / HTTP/1.1\" 5\xff2 5 \"-\" \"curl\"\n",
    );
    let acc = write(d.path(), "access.log", &data);
    // nginx error log: message, client, server, request, upstream and host
    let err = write(
        d.path(),
        "error.log",
        b"2026/11/23 10:00:01 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream \xff\xfe, client: 10.0.0.\xff, server: \xc3, request: \"GET /\xe2\x82 HTTP/1.1\", upstream: \"fastcgi://unix:/run/\xff.sock:\", host: \"h\x80\"\n\
2026/11/23 10:00:02 [error] 1#1: *2 \xf0\x9f\x92 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.2:80/\", host: \"x\"\n",
    );
    // php-fpm master log: pool name and message
    let fpm = write(
        d.path(),
        "php-fpm.log",
        b"[23-Nov-2026 10:00:03] WARNING: [pool w\xffw] server reached pm.max_children setting (5), consider raising it\n\
[23-Nov-2026 10:00:04] WARNING: [pool www] child 12 said \xc3\x28 into stderr\n",
    );
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&acc), s(&err), s(&fpm), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(reconcile(&r, "access.log"), (n + 1, n, 1, 0));
    let reasons = input(&r, "access.log")["rejected_reasons"].to_string();
    assert!(reasons.contains("status"), "the field is named: {reasons}");
    assert_eq!(reconcile(&r, "error.log"), (2, 2, 0, 0));
    assert_eq!(reconcile(&r, "php-fpm.log"), (2, 2, 0, 0));
    assert_good_analysed(&r);
    assert_eq!(r["totals"]["status"]["502"].as_u64(), Some(n + 3));
    // the text report is valid UTF-8 too (invalid bytes shown replaced or escaped)
    let out = gatelog(&["analyze", s(&acc), s(&err), s(&fpm)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout).is_ok(),
        "text report is not UTF-8"
    );
}

#[test]
fn a_10_mb_line_is_rejected_with_its_location_and_its_neighbours_parsed() {
    let d = tmpdir();
    let mut data = line(0, 200).into_bytes();
    let offset = data.len();
    data.extend_from_slice(b"10.0.0.9 - - [23/Nov/2026:10:00:01 +0000] \"GET /");
    data.extend(std::iter::repeat_n(b'a', 10 << 20));
    data.extend_from_slice(b" HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n");
    let long_len = data.len() - offset - 1;
    data.extend_from_slice(line(2, 502).as_bytes());
    data.extend_from_slice(line(3, 502).as_bytes());
    let p = write(d.path(), "access.log", &data);
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&p), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(reconcile(&r, "access.log"), (4, 3, 1, 0));
    assert_good_analysed(&r);
    let i = input(&r, "access.log");
    let sample = &i["rejected_samples"][0];
    assert_eq!(sample["line"], 2);
    let text = sample["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("<{long_len} bytes at offset {offset}>"))
            && text.contains("--max-line"),
        "{text}"
    );
    // the long line is not copied into the report
    assert!(
        out.stdout.len() < 1 << 20,
        "report of {} bytes",
        out.stdout.len()
    );
    // a smaller limit rejects shorter lines the same way; --strict makes it exit 2
    let out = gatelog(&["analyze", "--json", "--strict", "--max-line", "256", s(&p)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(reconcile(&report(&out), "access.log"), (4, 3, 1, 0));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(msg.trim().lines().count(), 1, "{msg}");
}

/// stdin longer than the 64 KiB sniffed for detection must be read whole, long lines included.
#[test]
fn stdin_longer_than_the_sniffed_head_is_read_whole() {
    let mut data = lines(20_000).into_bytes();
    data.extend_from_slice(b"10.0.0.9 - - [23/Nov/2026:10:00:01 +0000] \"GET /");
    data.extend(std::iter::repeat_n(b'a', 10 << 20));
    data.extend_from_slice(b" HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n");
    data.extend_from_slice(line(2, 502).as_bytes());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    feed.join().unwrap().expect("gatelog read all of stdin");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(reconcile(&report(&out), "-"), (20_002, 20_001, 1, 0));
}

#[test]
fn truncated_zstd_keeps_what_was_readable_and_fails() {
    let d = tmpdir();
    let text = lines(40_000);
    let z = zstd::encode_all(text.as_bytes(), 3).unwrap();
    let cut = write(d.path(), "access.log.3.zst", &z[..z.len() / 2]);
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&cut), s(&g)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("access.log.3.zst"), "{e:?}");
    let r = report(&out);
    let (lines, parsed, rejected, _) = reconcile(&r, "access.log.3.zst");
    assert!(parsed > 1000 && parsed < 40_000, "parsed {parsed}");
    // at most the line the cut went through is rejected
    assert!(rejected <= 1 && lines == parsed + rejected);
    assert_good_analysed(&r);
    // a zstd file cut inside its first block yields nothing readable: still one line naming it
    let tiny = write(d.path(), "tiny.log.zst", &z[..z.len().min(40)]);
    let out = gatelog(&["analyze", "--json", s(&tiny), s(&g)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("tiny.log.zst"), "{e:?}");
    assert_good_analysed(&report(&out));
}

#[test]
fn empty_inputs_are_reported_with_zero_lines() {
    let d = tmpdir();
    let empty = write(d.path(), "empty.log", b"");
    let gz = {
        let e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.finish().unwrap()
    };
    let empty_gz = write(d.path(), "empty.log.1.gz", &gz);
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&empty), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(reconcile(&r, "empty.log"), (0, 0, 0, 0));
    assert_good_analysed(&r);
    // an empty compressed file has no lines either; it is not an error to have rotated one
    let out = gatelog(&["analyze", "--json", s(&empty_gz), s(&g)]);
    let r = report(&out);
    assert_good_analysed(&r);
    if out.status.code() != Some(0) {
        let e = errors(&out);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("empty.log.1.gz"), "{e:?}");
    }
    // empty stdin
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json", "-", s(&g)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_good_analysed(&report(&out));
}

fn is_root() -> bool {
    // the effective uid, from /proc (no libc dependency)
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn an_unreadable_file_is_named_and_the_others_analysed() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir();
    let locked = write(d.path(), "locked.log", lines(5).as_bytes());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let g = good(d.path());
    // root reads a mode-000 file anyway; run gatelog as `nobody` then (setpriv, util-linux),
    // from a copy of the binary inside the test directory so nobody can reach it
    let out = if is_root() {
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(setpriv) = setpriv else {
            assert!(
                std::env::var_os("CI").is_none(),
                "running as root in CI without setpriv (util-linux) to drop privileges"
            );
            eprintln!("SKIPPED an_unreadable_file...: running as root (mode 000 does not stop root) and no setpriv to drop privileges");
            return;
        };
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = d.path().join("gatelog");
        // Copied by a child process, not std::fs::copy: a file this (multi-threaded) test
        // process had open for writing is inherited by the children other tests fork at
        // that moment, and exec of it then fails with ETXTBSY ("Text file busy", setpriv
        // exit 126) until they exec in turn. `cp` holds the only writable descriptor and
        // has closed it when it exits.
        let cp = Command::new("cp")
            .arg(env!("CARGO_BIN_EXE_gatelog"))
            .arg(&bin)
            .status()
            .expect("run cp");
        assert!(cp.success(), "cp of the binary failed: {cp}");
        Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["analyze", "--json", s(&locked), s(&g)])
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    } else {
        gatelog(&["analyze", "--json", s(&locked), s(&g)])
    };
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("locked.log")
            && e[0].contains("Permission denied")
            && e[0].contains("permissions"),
        "{e:?}"
    );
    assert_good_analysed(&report(&out));
}

#[test]
fn a_file_whose_reads_fail_is_named_and_the_others_analysed() {
    // /proc/self/mem opens but every read at offset 0 fails with EIO, even for root: a real
    // I/O error on a real path
    let mem = Path::new("/proc/self/mem");
    if !mem.exists() {
        eprintln!("SKIPPED a_file_whose_reads_fail...: no /proc/self/mem on this system");
        return;
    }
    let d = tmpdir();
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", "/proc/self/mem", s(&g)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("/proc/self/mem") && e[0].contains("cannot read"),
        "{e:?}"
    );
    assert_good_analysed(&report(&out));
}

#[test]
fn a_directory_with_symlink_loops_is_read_once() {
    use std::os::unix::fs::symlink;
    let d = tmpdir();
    let logs = d.path().join("logs");
    std::fs::create_dir_all(logs.join("a/b")).unwrap();
    write(&logs, "access.log", lines(30).as_bytes());
    write(&logs.join("a/b"), "access.log", lines(10).as_bytes());
    symlink(&logs, logs.join("a/b/up")).unwrap(); // back to the top
    symlink("..", logs.join("a/b/parent")).unwrap(); // relative, one level up
    symlink("self", logs.join("self")).unwrap(); // a link to itself (ELOOP)
    symlink("missing.log", logs.join("dangling.log")).unwrap();
    let start = std::time::Instant::now();
    let out = gatelog(&["analyze", "--json", s(&logs)]);
    assert!(start.elapsed().as_secs() < 60);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let inputs = r["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2, "each file once: {:#}", r["inputs"]);
    assert_eq!(r["totals"]["requests"], 40);
    for i in inputs {
        let n = |k: &str| i[k].as_u64().unwrap();
        assert_eq!(n("lines"), n("parsed") + n("rejected") + n("skipped"));
    }
    // named explicitly, the looping link is an error naming it; the rest still analysed
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&logs.join("self")), s(&g)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("self"), "{e:?}");
    assert_good_analysed(&report(&out));
}

#[test]
fn a_file_that_grows_while_it_is_read() {
    let d = tmpdir();
    let p = write(d.path(), "access.log", lines(20_000).as_bytes());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let p = p.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            let mut n = 0u64;
            let mut i = 20_000u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // whole lines, and now and then a line written in two pieces (a writer caught
                // mid-line by the reader)
                let l = line(i, 504);
                if i.is_multiple_of(7) {
                    let (a, b) = l.split_at(l.len() / 2);
                    f.write_all(a.as_bytes()).unwrap();
                    f.flush().unwrap();
                    std::thread::yield_now();
                    f.write_all(b.as_bytes()).unwrap();
                } else {
                    f.write_all(l.as_bytes()).unwrap();
                }
                n += 1;
                i += 1;
                if n.is_multiple_of(64) {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = gatelog(&["analyze", "--json", s(&p)]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = writer.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let (lines, parsed, rejected, _) = reconcile(&r, "access.log");
    // everything present at the start was read; what came later may or may not have been,
    // and only the very last line can have been caught half-written
    assert!(parsed >= 20_000, "parsed {parsed}");
    assert!(
        lines <= 20_000 + appended,
        "{lines} lines of {}",
        20_000 + appended
    );
    assert!(
        rejected <= 1,
        "rejected {rejected}: {:#}",
        input(&r, "access.log")
    );
}

#[test]
fn timestamps_that_go_backwards_and_jump_years() {
    let d = tmpdir();
    let stamps = [
        "23/Nov/2026:10:00:05",
        "23/Nov/2026:10:00:01", // backwards by seconds
        "23/Nov/2026:09:00:00", // backwards by an hour
        "23/Nov/2029:10:00:00", // three years ahead
        "01/Jan/2024:00:00:00", // back years
        "29/Feb/2028:12:00:00", // a leap day
        "23/Nov/2026:10:00:06",
    ];
    let mut data = String::new();
    for t in stamps {
        data.push_str(&format!(
            "10.0.0.1 - - [{t} +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"curl/8\"\n"
        ));
    }
    // an impossible date is a rejected line, not a wrapped-around one
    data.push_str(
        "10.0.0.1 - - [31/Feb/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"c\"\n",
    );
    let p = write(d.path(), "access.log", data.as_bytes());
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&p), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let (_, parsed, rejected, _) = reconcile(&r, "access.log");
    // the years-off lines are far outside the span of the rest (SPEC "Times you can trust"):
    // rejected under their own reason, they cannot stretch the window
    assert_eq!((parsed, rejected), (4, 4));
    let a = input(&r, "access.log");
    assert_eq!(a["rejected_reasons"]["time outside the input's span"], 3);
    assert_good_analysed(&r);
    assert_eq!(r["window"]["from"], "2026-11-23T09:00:00+00:00");
    assert!(r["window"]["to"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-23T10:00:"));
    assert_eq!(r["totals"]["status"]["502"].as_u64(), Some(4 + 3));
    // the timeline over six years stays a readable size
    let rows = r["timeline"]["rows"].as_array().map_or(0, |a| a.len());
    assert!(rows > 0 && rows <= 5000, "{rows} timeline rows");
    // --since/--until count what falls outside as skipped
    let out = gatelog(&[
        "analyze",
        "--json",
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        "2027-01-01T00:00:00Z",
        s(&p),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(reconcile(&report(&out), "access.log"), (8, 4, 4, 0));
}

#[test]
fn two_formats_mixed_in_one_file() {
    let d = tmpdir();
    let mut data = String::new();
    let mut errs = 0u64;
    for i in 0..60u32 {
        data.push_str(&line(i, if i % 4 == 0 { 502 } else { 200 }));
        if i % 5 == 0 {
            data.push_str(&format!(
                "2026/11/23 10:00:{:02} [error] 7#7: *{i} connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://127.0.0.1:9000\", host: \"x\"\n",
                i % 60
            ));
            errs += 1;
        }
    }
    let p = write(d.path(), "mixed.log", data.as_bytes());
    let g = good(d.path());
    let out = gatelog(&["analyze", "--json", s(&p), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    // SPEC "Mixed streams": a line of another known format in the same file is read with
    // that format (here nginx-error events), never counted as rejected
    assert_eq!(input(&r, "mixed.log")["format"], "nginx-access");
    assert!(
        input(&r, "mixed.log")["detected"]
            .as_str()
            .unwrap()
            .starts_with("mixed: nginx-access, nginx-error"),
        "{}",
        input(&r, "mixed.log")
    );
    assert_eq!(reconcile(&r, "mixed.log"), (60 + errs, 60 + errs, 0, 0));
    assert_eq!(input(&r, "mixed.log")["events"], errs);
    assert_good_analysed(&r);
    let out = gatelog(&["analyze", "--json", "--strict", s(&p)]);
    assert_eq!(out.status.code(), Some(0));

    // two nginx log_formats in one file (combined, and main_upstream with its timings): both
    // are built-in formats, every line parses
    let mut two = String::new();
    for i in 0..20u32 {
        let l = line(i, 504);
        if i % 2 == 0 {
            two.push_str(&l);
        } else {
            two.push_str(&format!(
                "{} 5.001 0.000 5.001 5.001 10.0.0.5:9000 504\n",
                l.trim_end()
            ));
        }
    }
    let p2 = write(d.path(), "two_formats.log", two.as_bytes());
    let out = gatelog(&["analyze", "--json", s(&p2)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(reconcile(&report(&out), "two_formats.log"), (20, 20, 0, 0));
}

#[test]
fn log_format_with_unknown_variables_is_accepted() {
    // nginx allows any variable ($http_*, map results, module variables); an unknown name is an
    // opaque field and the line still parses
    let d = tmpdir();
    let mut data = String::new();
    for i in 0..10u32 {
        data.push_str(&format!("{} {}-custom\n", line(i, 502).trim_end(), i));
    }
    let p = write(d.path(), "access.log", data.as_bytes());
    let fmt = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $my_map_result"#;
    let out = gatelog(&["analyze", "--json", "--log-format", fmt, s(&p)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reconcile(&report(&out), "access.log"), (10, 10, 0, 0));
}

/// A `--log-format` that cannot compile must say so, naming the option and the problem, not
/// leave the user with "unknown format" for every file.
#[test]
fn log_format_that_does_not_compile_is_a_usage_error() {
    let d = tmpdir();
    let p = write(d.path(), "access.log", lines(5).as_bytes());
    for (fmt, why) in [
        (
            r#"$remote_addr [$time_local] "$request $status"#,
            "unbalanced",
        ),
        (r#"$remote_addr ${time_local"#, "missing '}'"),
        (r#"$remote_addr$status"#, "not separated"),
        ("no variables at all", "no variables"),
    ] {
        let out = gatelog(&["analyze", "--log-format", fmt, s(&p)]);
        assert_eq!(out.status.code(), Some(1), "{fmt}");
        let e = errors(&out);
        assert_eq!(e.len(), 1, "{fmt}: {e:?}");
        assert!(
            e[0].contains("log_format") && e[0].contains(why),
            "{fmt}: {e:?}"
        );
    }
    let out = gatelog(&[
        "analyze",
        "--format",
        "fpm-access",
        "--log-format",
        "%R %{x",
        s(&p),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        errors(&out)[0].contains("access.format"),
        "{:?}",
        errors(&out)
    );
}

/// A `--log-format` that does not compile fails the run with one line (today the line names
/// the input as of unknown format; with the fix above it names the option and the problem).
#[test]
fn log_format_that_does_not_compile_fails_the_run() {
    let d = tmpdir();
    let p = write(d.path(), "access.log", lines(5).as_bytes());
    let out = gatelog(&[
        "analyze",
        "--log-format",
        r#"$remote_addr [$time_local] "$request $status"#,
        s(&p),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
}

#[test]
fn a_wrong_format_rejects_every_line_of_that_input_only() {
    let d = tmpdir();
    let p = write(d.path(), "access.log", lines(12).as_bytes());
    let g = good(d.path());
    let forced = format!("{}=nginx-error", s(&p));
    let out = gatelog(&["analyze", "--json", "--format", &forced, s(&p), s(&g)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let i = input(&r, "access.log");
    assert_eq!(i["format"], "nginx-error");
    assert_eq!(reconcile(&r, "access.log"), (12, 0, 12, 0));
    assert_eq!(i["rejected_samples"][0]["line"], 1);
    // the other input was detected and analysed as usual
    assert_eq!(input(&r, "good.log")["format"], "nginx-access");
    assert_good_analysed(&r);
    // --strict turns it into exit 2 with one line saying why
    let out = gatelog(&[
        "analyze",
        "--json",
        "--strict",
        "--format",
        &forced,
        s(&p),
        s(&g),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(msg.trim().lines().count(), 1, "{msg}");
    // a format id that does not exist is a usage error naming the known ones
    let out = gatelog(&["analyze", "--format", "apache", s(&p)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("apache") && e[0].contains("nginx-access"),
        "{e:?}"
    );
}

#[test]
fn paths_that_do_not_exist_next_to_real_ones() {
    let d = tmpdir();
    let g = good(d.path());
    let missing = d.path().join("rotated-away.log");
    let pattern = format!("{}/*.nomatch", d.path().display());
    let out = gatelog(&["analyze", "--json", s(&missing), &pattern, s(&g)]);
    assert_eq!(out.status.code(), Some(1));
    let e = errors(&out);
    assert_eq!(e.len(), 2, "one line per bad path: {e:?}");
    assert!(
        e[0].contains("rotated-away.log") && e[0].contains("no such file"),
        "{e:?}"
    );
    assert!(
        e[1].contains("*.nomatch") && e[1].contains("matches no file"),
        "{e:?}"
    );
    assert_good_analysed(&report(&out));
}

fn long_first_line_file(dir: &Path) -> PathBuf {
    let mut data = b"10.0.0.9 - - [23/Nov/2026:10:00:00 +0000] \"GET /".to_vec();
    data.extend(std::iter::repeat_n(b'a', 100 << 10));
    data.extend_from_slice(b" HTTP/1.1\" 502 5 \"-\" \"curl/8\"\n");
    data.extend_from_slice(lines(10).as_bytes());
    write(dir, "access.log", &data)
}

/// A first line longer than detection's 64 KiB sample (but within --max-line): with --format
/// every line is read.
#[test]
fn a_long_first_line_is_read_with_a_forced_format() {
    let d = tmpdir();
    let p = long_first_line_file(d.path());
    let out = gatelog(&["analyze", "--json", "--format", "nginx-access", s(&p)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reconcile(&report(&out), "access.log"), (11, 11, 0, 0));
}

#[test]
fn a_long_first_line_does_not_defeat_detection() {
    let d = tmpdir();
    let p = long_first_line_file(d.path());
    let out = gatelog(&["analyze", "--json", s(&p)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reconcile(&report(&out), "access.log"), (11, 11, 0, 0));
}
