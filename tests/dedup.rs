//! The same requests in two files (SPEC "Logs as deployments write them"): a vhost's
//! `combined` and timing access logs are counted once, from the richer record, and the report
//! says which file duplicates which (`inputs[].duplicate_of`). Evidence: the lab's own pairs
//! (samples/*/access.log + access_combined.log, samples/lab2/*/plain/nginx{1,2}/access.log +
//! timing.log), cut to partial overlaps; one generated pair for a file larger than the
//! samples dedup reads.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut a = vec!["analyze", "--json"];
    a.extend_from_slice(args);
    let out = run(&a);
    assert!(
        out.status.success(),
        "{:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn input<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no input {name}: {:#}", r["inputs"]))
}

/// The input whose path contains `part`.
fn find<'a>(r: &'a Value, part: &str) -> &'a Value {
    r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no input {part}: {:#}", r["inputs"]))
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect()
}

fn write_lines(p: &Path, ls: &[&[u8]]) {
    let mut f = std::fs::File::create(p).unwrap();
    for l in ls {
        f.write_all(l).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

/// Every lab scenario reads the same as when `.gatelogignore` hid access_combined.log: the
/// same requests, statuses and incidents, and the combined log named a duplicate of
/// access.log, all its lines skipped.
#[test]
fn lab_scenarios_count_each_request_once() {
    for name in [
        "incident",
        "fpm_saturation",
        "backlog",
        "lb_health_check_blocked",
    ] {
        let dir = root().join("samples").join(name);
        let both = json(&[dir.to_str().unwrap()]);
        let t = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let f = e.file_name().into_string().unwrap();
            if e.file_type().unwrap().is_file() && !f.starts_with("access_combined.log") {
                std::fs::copy(e.path(), t.path().join(&f)).unwrap();
            }
        }
        let one = json(&[t.path().to_str().unwrap()]);
        for k in ["requests", "status", "status_class", "layers"] {
            assert_eq!(both["totals"][k], one["totals"][k], "{name}: totals.{k}");
        }
        let inc = |r: &Value| -> Vec<(Value, Value, Value)> {
            r["incidents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["start"].clone(),
                        i["end"].clone(),
                        i["causes"][0]["id"].clone(),
                    )
                })
                .collect()
        };
        assert_eq!(inc(&both), inc(&one), "{name}: incidents");
        let c = find(&both, "/access_combined.log");
        let d = &c["duplicate_of"];
        assert!(
            d["path"].as_str().unwrap().contains("access.log"),
            "{name}: {c}"
        );
        assert_eq!(n(d, "lines"), n(c, "lines"), "{name}: every line a twin");
        assert_eq!(n(c, "skipped"), n(c, "lines"), "{name}: {c}");
        assert_eq!(n(c, "requests"), 0, "{name}: {c}");
        assert!(find(&both, "/access.log")["duplicate_of"].is_null());
    }
}

/// The combined log covers more time than the timing log (the timing log was added later,
/// or ends earlier): the requests only the combined log holds are counted from it, the
/// others once, from the timing log.
#[test]
fn partial_overlap_keeps_the_extra_requests() {
    let dir = root().join("samples/incident");
    let timing_all = gunzip(&dir.join("access.log.gz"));
    let combined_all = gunzip(&dir.join("access_combined.log.gz"));
    let timing = lines(&timing_all);
    let combined = lines(&combined_all);
    assert_eq!(timing.len(), combined.len());
    let total = combined.len() as u64;
    let cut = timing.len() / 3;
    for (what, kept) in [
        ("starts later", &timing[cut..]),
        ("ends earlier", &timing[..timing.len() - cut]),
    ] {
        let t = tempfile::tempdir().unwrap();
        write_lines(&t.path().join("access.log"), kept);
        write_lines(&t.path().join("access_combined.log"), &combined);
        let r = json(&[t.path().to_str().unwrap()]);
        assert_eq!(
            n(&r["totals"], "requests"),
            total,
            "{what}: each request once"
        );
        let c = input(&r, "access_combined.log");
        let k = input(&r, "/access.log");
        assert_eq!(n(k, "requests"), kept.len() as u64, "{what}");
        assert_eq!(
            n(&c["duplicate_of"], "lines"),
            kept.len() as u64,
            "{what}: only real twins dropped: {c}"
        );
        assert_eq!(n(c, "requests"), total - kept.len() as u64, "{what}: {c}");
        assert_eq!(n(c, "lines"), n(c, "parsed") + n(c, "skipped"), "{what}");
        // the 5xx of the fault are all there, once
        let e5 = |r: &Value| n(&r["totals"]["status"], "504");
        let whole = json(&[dir.join("access.log.gz").to_str().unwrap()]);
        assert_eq!(e5(&r), e5(&whole), "{what}");
    }
}

/// Two nginx nodes behind one balancer, each with a combined and a timing log: each combined
/// log pairs with its own node's timing log, whatever the files are called.
#[test]
fn vhosts_pair_by_content_not_by_name() {
    let plain = root().join("samples/lab2/fpm_down/plain");
    let t = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("nginx1/access.log", "b.log"),
        ("nginx2/timing.log", "a.log"),
        ("nginx1/timing.log", "z.log"),
        ("nginx2/access.log", "c.log"),
    ] {
        std::fs::copy(plain.join(from), t.path().join(to)).unwrap();
    }
    let r = json(&[t.path().to_str().unwrap()]);
    let dup = |f: &str| {
        input(&r, f)["duplicate_of"]["path"]
            .as_str()
            .map(str::to_string)
    };
    assert!(
        dup("b.log").unwrap().ends_with("z.log"),
        "{:#}",
        r["inputs"]
    );
    assert!(
        dup("c.log").unwrap().ends_with("a.log"),
        "{:#}",
        r["inputs"]
    );
    assert_eq!(dup("a.log"), None);
    assert_eq!(dup("z.log"), None);
    let lines_of = |f: &str| {
        std::fs::read(plain.join(f))
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
    };
    assert_eq!(
        n(&r["totals"], "requests"),
        lines_of("nginx1/timing.log") + lines_of("nginx2/timing.log")
    );
    // the plain view as recorded reads the same
    let p = json(&[plain.to_str().unwrap()]);
    assert_eq!(
        n(&input(&p, "nginx1/access.log")["duplicate_of"], "lines"),
        lines_of("nginx1/access.log")
    );
}

/// A generated pair larger than what dedup samples from each end (1 MiB): the timing log
/// starts 40 000 requests after the combined one, so the files' heads hold no common
/// second and the pair is found from their tails.
#[test]
fn a_large_timing_log_starting_later_is_paired_by_its_tail() {
    let t = tempfile::tempdir().unwrap();
    let base = 1_795_464_000i64; // 2026-11-23
    let mut timing = Vec::new();
    let mut combined = Vec::new();
    let total = 60_000u64;
    for i in 0..total {
        let s = base + (i / 10) as i64;
        let ts = chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .format("%d/%b/%Y:%H:%M:%S +0000");
        let status = if i % 97 == 0 { 502 } else { 200 };
        let head = format!(
            "10.0.{}.{} - - [{ts}] \"GET /item/{} HTTP/1.1\" {status} {} \"-\" \"bench/1.0\"",
            i % 7,
            i % 251,
            i % 1009,
            100 + i % 500
        );
        combined.push(head.clone());
        if i >= 40_000 {
            timing.push(format!(
                "{head} 0.0{} 0.000 0.001 0.00{} 127.0.0.1:9000 {status}",
                i % 10,
                i % 10
            ));
        }
    }
    std::fs::write(t.path().join("timing.log"), timing.join("\n") + "\n").unwrap();
    std::fs::write(t.path().join("combined.log"), combined.join("\n") + "\n").unwrap();
    assert!(
        std::fs::metadata(t.path().join("timing.log"))
            .unwrap()
            .len()
            > 2 << 20
    );
    let r = json(&[t.path().to_str().unwrap()]);
    assert_eq!(n(&r["totals"], "requests"), total);
    let c = input(&r, "combined.log");
    assert!(c["duplicate_of"]["path"]
        .as_str()
        .unwrap()
        .ends_with("timing.log"));
    assert_eq!(n(&c["duplicate_of"], "lines"), 20_000);
    assert_eq!(n(c, "requests"), 40_000);
}

/// The text and HTML reports say which file duplicates which.
#[test]
fn text_and_html_name_the_duplicate() {
    let dir = root().join("samples/incident");
    let out = run(&["analyze", "--color", "never", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l
            .contains("access_combined.log.gz: 4170 lines skipped as duplicates")
            && l.contains("access.log.gz")),
        "{text}"
    );
    let t = tempfile::tempdir().unwrap();
    let html = t.path().join("r.html");
    let out = run(&[
        "analyze",
        "--html",
        html.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(
        h.contains("access_combined.log.gz: 4170 lines skipped as duplicates"),
        "no duplicate line in the HTML"
    );
}
