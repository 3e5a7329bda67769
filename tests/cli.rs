//! End-to-end tests of the `gatelog` binary on real logs (read in place from the corpus) and
//! on small edge-case inputs written to temporary directories.

#[path = "../parsers/tests/common/mod.rs"]
mod common;

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

fn corpus(test: &str, rel: &str) -> Option<String> {
    let p = common::corpus_dir(test)?.join(rel);
    assert!(p.is_file(), "corpus file {} is missing", p.display());
    Some(p.display().to_string())
}

/// Count lines of an access log whose status field (after the quoted request) is `code`,
/// by a naive scan independent of gatelog's parser.
fn naive_status_count(path: &str, code: &str) -> u64 {
    let data = std::fs::read(path).unwrap();
    let needle = format!("\" {code} ");
    String::from_utf8_lossy(&data)
        .lines()
        .filter(|l| l.contains(&needle))
        .count() as u64
}

fn top_cause(inc: &Value) -> &str {
    inc["causes"][0]["cause"].as_str().unwrap_or("")
}

#[test]
fn refused_backend_502s_are_all_explained() {
    let (Some(acc), Some(err)) = (
        corpus(
            "refused_backend",
            "nginx-access/docker-phpfpm-8pockets-app_access-502.log",
        ),
        corpus(
            "refused_backend",
            "nginx-error/docker-phpfpm-8pockets-app_error-connect-refused.log",
        ),
    ) else {
        return;
    };
    let r = json_of(&[&acc, &err]);
    assert_eq!(r["schema"], 1);
    let n502 = naive_status_count(&acc, "502");
    assert!(n502 > 50);
    assert_eq!(r["totals"]["status"]["502"].as_u64(), Some(n502));
    let incidents = r["incidents"].as_array().unwrap();
    assert!(!incidents.is_empty());
    for inc in incidents {
        assert_eq!(top_cause(inc), "upstream_refused", "{inc:#}");
        let ev = &inc["causes"][0]["evidence"][0];
        assert!(ev["text"].as_str().unwrap().contains("Connection refused"));
        assert!(ev["line"].as_u64().unwrap() > 0);
    }
    // every 502 has its connect() failed line (same client, request, second)
    assert_eq!(r["joins"]["explained"].as_u64(), Some(n502));
    assert_eq!(
        r["joins"]["by_kind"]["connect_refused"].as_u64(),
        Some(n502)
    );
}

#[test]
fn upstream_timeouts_join_the_504s() {
    let (Some(acc), Some(err)) = (
        corpus("timeouts", "nginx-access/courtParse-nginx-access-504.log"),
        corpus(
            "timeouts",
            "nginx-error/courtParse-nginx-error-upstream-timed-out.log",
        ),
    ) else {
        return;
    };
    let r = json_of(&[&acc, &err]);
    let n504 = naive_status_count(&acc, "504");
    assert_eq!(r["totals"]["status"]["504"].as_u64(), Some(n504));
    let timeouts = std::fs::read_to_string(&err)
        .unwrap()
        .matches("upstream timed out")
        .count() as u64;
    assert_eq!(
        r["totals"]["events"]["upstream_timeout_header"].as_u64(),
        Some(timeouts)
    );
    let explained = r["joins"]["by_kind"]["upstream_timeout_header"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        explained > 0 && explained <= timeouts.min(n504),
        "{explained}"
    );
    for i in r["inputs"].as_array().unwrap() {
        assert_eq!(i["rejected"], 0, "{i:#}");
        assert_eq!(i["lines"], i["parsed"]);
    }
}

#[test]
fn proxy_loop_is_named() {
    let (Some(acc), Some(err)) = (
        corpus(
            "proxy_loop",
            "nginx-access/testDocker-nginx-access-502-burst.log",
        ),
        corpus("proxy_loop", "nginx-error/testDocker-nginx-error.log"),
    ) else {
        return;
    };
    let r = json_of(&[&acc, &err]);
    let inc = &r["incidents"][0];
    assert_eq!(top_cause(inc), "self_loop", "{inc:#}");
    let causes: Vec<&str> = inc["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"no_live_upstreams"));
    assert!(
        !causes.contains(&"retry_storm"),
        "a proxy loop is not a client retry storm: {causes:?}"
    );
}

#[test]
fn same_report_whatever_the_thread_count_and_chunking() {
    let Some(acc) = corpus(
        "threads",
        "nginx-access/testDocker-nginx-access-502-burst.log",
    ) else {
        return;
    };
    let Some(err) = corpus("threads", "nginx-error/testDocker-nginx-error.log") else {
        return;
    };
    // built through the real option parser, so new options keep their defaults
    let cli = <gatelog::cli::Cli as clap::Parser>::try_parse_from([
        "gatelog",
        "analyze",
        "--json",
        acc.as_str(),
        err.as_str(),
    ])
    .unwrap();
    let gatelog::cli::Command::Analyze(args) = cli.cmd else {
        panic!("not analyze")
    };
    let mut reports = Vec::new();
    for (threads, chunk) in [
        (1usize, u64::MAX),
        (2, u64::MAX),
        (2, 64 * 1024),
        (1, 100_000),
        (2, 7_777),
    ] {
        let mut p = gatelog::cmd::analyze::prepare(&args).unwrap();
        p.threads = threads;
        p.opts.chunk_bytes = chunk;
        p.opts.block_bytes = 4096;
        let out = gatelog::cmd::analyze::analyze(&args.inputs, &p);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        reports.push(serde_json::to_string(&out.report).unwrap());
    }
    for r in &reports[1..] {
        assert_eq!(r, &reports[0]);
    }
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

const LINES: &str =
    "127.0.0.1 - - [23/Nov/2026:10:00:01 +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n\
127.0.0.1 - - [23/Nov/2026:10:00:02 +0000] \"GET /b HTTP/1.1\" 502 5 \"-\" \"curl/8\"\n\
127.0.0.1 - - [23/Nov/2026:10:00:03 +0000] \"GET /c HTTP/1.1\" 504 5 \"-\" \"curl/8\"\n";

#[test]
fn missing_path_is_a_clear_error() {
    let out = gatelog(&["analyze", "/no/such/access.log"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/no/such/access.log") && err.contains("no such file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn unknown_format_named_file_fails_but_directory_file_is_skipped() {
    let d = tmpdir();
    let log = write(d.path(), "access.log", LINES.as_bytes());
    let readme = write(
        d.path(),
        "README.txt",
        b"this directory holds our logs\nnothing else\n",
    );
    // named explicitly: an error naming the file and pointing at `gatelog formats`
    let out = gatelog(&["analyze", readme.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("README.txt") && err.contains("gatelog formats"),
        "{err}"
    );
    // the other input was still analysed and reported
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("access.log"), "{text}");
    // found in a directory: skipped and listed, not fatal
    let r = json_of(&[d.path().to_str().unwrap()]);
    assert_eq!(
        r["skipped_inputs"][0]["path"].as_str().unwrap(),
        readme.to_str().unwrap()
    );
    assert_eq!(r["totals"]["requests"], 3);
}

#[test]
fn gzip_zstd_and_stdin_read_the_same() {
    let d = tmpdir();
    let plain = write(d.path(), "a.log", LINES.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(LINES.as_bytes()).unwrap();
    // no .gz suffix: detected by magic bytes
    let gzp = write(d.path(), "b.log", &gz.finish().unwrap());
    let zst = zstd::encode_all(LINES.as_bytes(), 3).unwrap();
    let zp = write(d.path(), "c.log", &zst);
    for p in [&plain, &gzp, &zp] {
        let r = json_of(&[p.to_str().unwrap()]);
        assert_eq!(r["totals"]["status"]["502"], 1, "{}", p.display());
        assert_eq!(r["totals"]["requests"], 3);
        assert_eq!(r["inputs"][0]["format"], "nginx-access");
    }
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
        .write_all(&std::fs::read(&gzp).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["totals"]["status"]["504"], 1);
}

#[test]
fn truncated_gzip_keeps_what_was_readable_and_fails() {
    let d = tmpdir();
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!(
            "10.0.0.{} - - [23/Nov/2026:10:{:02}:{:02} +0000] \"GET /p{i} HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n",
            i % 200,
            (i / 60) % 60,
            i % 60
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let full = gz.finish().unwrap();
    let cut = write(d.path(), "access.log.2.gz", &full[..full.len() / 2]);
    let out = gatelog(&["analyze", "--json", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("access.log.2.gz"), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parsed = r["inputs"][0]["parsed"].as_u64().unwrap();
    assert!(parsed > 100 && parsed < 5000, "parsed {parsed}");
    let i = &r["inputs"][0];
    assert_eq!(
        i["lines"].as_u64().unwrap(),
        parsed + i["rejected"].as_u64().unwrap()
    );
}

#[test]
fn strict_exits_2_on_rejected_lines_and_counts_reconcile() {
    let d = tmpdir();
    let mut data = LINES.as_bytes().to_vec();
    data.extend_from_slice(b"this is not an access log line\n\xff\xfe binary \x00 junk\n");
    let p = write(d.path(), "access.log", &data);
    let out = gatelog(&["analyze", "--json", "--strict", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let i = &r["inputs"][0];
    assert_eq!(i["lines"], 5);
    assert_eq!(i["parsed"], 3);
    assert_eq!(i["rejected"], 2);
    assert_eq!(i["rejected_samples"][0]["line"], 4);
    let out = gatelog(&["analyze", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn control_characters_from_logs_never_reach_the_terminal() {
    let d = tmpdir();
    let mut data = String::new();
    for s in 0..20 {
        data.push_str(&format!(
            "10.0.0.1 - - [23/Nov/2026:10:00:{s:02} +0000] \"GET /\x1b]0;owned\x07\x1b[2J HTTP/1.1\" 502 5 \"-\" \"x\x1b[31m\"\n"
        ));
    }
    let p = write(d.path(), "access.log", data.as_bytes());
    let out = gatelog(&["analyze", p.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b), "raw ESC in output");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\\x1b"));
}

#[test]
fn formats_lists_every_format_and_detect_explains() {
    let out = gatelog(&["formats"]);
    let s = String::from_utf8_lossy(&out.stdout);
    for f in gatelog_parsers::Format::ALL {
        assert!(s.contains(f.id()), "{} missing", f.id());
    }
    let d = tmpdir();
    let p = write(d.path(), "x.log", LINES.as_bytes());
    let out = gatelog(&["detect", p.to_str().unwrap()]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("nginx-access") && s.contains("3 of 3"), "{s}");
}

#[test]
fn usage_errors_point_at_the_option() {
    let out = gatelog(&["analyze", "--bucket", "10x", "x.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bucket"));
    let out = gatelog(&["analyze", "--format", "nginx-acces", "x.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nginx-access"));
}

#[test]
fn gatelogignore_skips_listed_names_in_directories_only() {
    let d = tmpdir();
    let log = write(d.path(), "access.log", LINES.as_bytes());
    write(d.path(), "access_combined.log", LINES.as_bytes());
    write(
        d.path(),
        ".gatelogignore",
        b"# the same requests in another format\naccess_combined.log*\n",
    );
    let r = json_of(&[d.path().to_str().unwrap()]);
    assert_eq!(
        r["totals"]["requests"], 3,
        "the ignored copy must not be counted"
    );
    assert_eq!(r["inputs"].as_array().unwrap().len(), 1);
    // named explicitly, an ignored file is read
    let both = json_of(&[
        log.to_str().unwrap(),
        d.path().join("access_combined.log").to_str().unwrap(),
    ]);
    assert_eq!(both["totals"]["requests"], 6);
}

#[test]
fn nginx_conf_formats_with_includes_inside_the_config_dir_only() {
    let d = tmpdir();
    std::fs::create_dir(d.path().join("conf.d")).unwrap();
    write(
        d.path(),
        "nginx.conf",
        b"http {\n  include conf.d/*.conf;\n  include /etc/passwd;\n  access_log /var/log/x.log pipes;\n}\n",
    );
    write(
        &d.path().join("conf.d"),
        "fmt.conf",
        b"log_format pipes '$remote_addr|$status|$request_time|[$time_local]|'\n                 '\"$request\"';\n",
    );
    let log = write(
        d.path(),
        "x.log",
        b"10.0.0.1|200|0.010|[23/Nov/2026:10:00:01 +0000]|\"GET / HTTP/1.1\"\n10.0.0.2|504|60.001|[23/Nov/2026:10:00:02 +0000]|\"GET /slow HTTP/1.1\"\n",
    );
    let conf = d.path().join("nginx.conf");
    let out = gatelog(&[
        "analyze",
        "--json",
        "--nginx-conf",
        conf.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["inputs"][0]["format"], "nginx-access");
    assert_eq!(r["inputs"][0]["rejected"], 0);
    assert_eq!(r["totals"]["status"]["504"], 1);
    assert_eq!(
        r["latency"]["request_time"]["p99"]
            .as_f64()
            .map(|x| x > 50.0),
        Some(true)
    );
    // the absolute include outside the configuration's directory was refused, and said so
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/etc/passwd") && err.contains("not read"),
        "{err}"
    );
}

#[test]
fn lab_nginx_conf_reads_the_lab_access_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fpm_saturation");
    let conf = root.join("conf/nginx.conf");
    let log = root.join("access.log");
    let r = json_of(&[
        "--nginx-conf",
        conf.to_str().unwrap(),
        "--format",
        "nginx-access",
        log.to_str().unwrap(),
    ]);
    assert_eq!(r["inputs"][0]["rejected"], 0);
    assert!(r["totals"]["status"]["504"].as_u64().unwrap() > 100);
}

/// ALB lines (invented for this edge case) where one target, 10.0.1.5, also calls the load
/// balancer itself and those calls fail.
fn alb_loop_log() -> String {
    let mut out = String::new();
    for s in 0..60 {
        for k in 0..5 {
            let mut client = format!("192.168.1.{}:{}", k + 10, 40000 + s);
            let tgt = if k % 2 == 1 {
                "10.0.1.5:80"
            } else {
                "10.0.1.6:80"
            };
            let mut st = "200";
            if (30..40).contains(&s) && k < 3 {
                client = format!("10.0.1.5:{}", 50000 + s * 10 + k);
                st = "502";
            }
            let ts = format!("2026-11-23T10:00:{s:02}.{k:06}Z");
            let (tt, ts_status) = if st == "200" {
                ("0.010", "200")
            } else {
                ("-1", "-")
            };
            out.push_str(&format!(
                "http {ts} app/my-lb/50dc6c495c0c9188 {client} {tgt} 0.000 {tt} 0.000 {st} {ts_status} 34 366 \"GET http://www.example.com:80/api HTTP/1.1\" \"curl/7.46.0\" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe3{s:02}\" \"-\" \"-\" 0 {ts} \"forward\" \"-\" \"-\" \"{tgt}\" \"{ts_status}\" \"-\" \"-\"\n"
            ));
        }
    }
    out
}

#[test]
fn lb_self_loop_is_named() {
    let d = tmpdir();
    let p = write(d.path(), "alb.log", alb_loop_log().as_bytes());
    let r = json_of(&[p.to_str().unwrap()]);
    assert_eq!(r["inputs"][0]["format"], "alb");
    assert_eq!(r["inputs"][0]["rejected"], 0);
    let inc = &r["incidents"][0];
    let c = inc["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cause"] == "self_loop")
        .expect("self_loop");
    assert!(c["confidence"].as_f64().unwrap() >= 0.9, "{c}");
    assert!(c["summary"].as_str().unwrap().contains("10.0.1.5"));
    for e in c["evidence"].as_array().unwrap() {
        assert!(e["text"].as_str().unwrap().contains(" 10.0.1.5:"), "{e}");
    }
    assert_eq!(inc["causes"][0]["cause"], "self_loop", "{inc:#}");
}

#[test]
fn timestamps_spanning_millennia_keep_the_timeline_bounded() {
    let d = tmpdir();
    let p = write(
        d.path(),
        "access.log",
        b"10.0.0.1 - - [01/Jan/1970:00:00:01 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"\n\
10.0.0.1 - - [01/Jan/9999:00:00:01 +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"x\"\n\
10.0.0.1 - - [01/Jan/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"x\"\n",
    );
    let r = json_of(&[p.to_str().unwrap()]);
    let rows = r["timeline"]["rows"].as_array().unwrap();
    assert!(
        rows.len() <= gatelog::agg::acc::MAX_BUCKETS,
        "{} rows",
        rows.len()
    );
    let total: u64 = rows.iter().map(|x| x["requests"].as_u64().unwrap()).sum();
    // the 1970 and 9999 lines lie far outside the span of the rest (SPEC "Times you can
    // trust"): rejected under their own reason
    assert_eq!(total, 1);
    assert_eq!(
        r["inputs"][0]["rejected_reasons"]["time outside the input's span"],
        2
    );
}

/// Several layers log the same requests: the text report's totals say so and give the
/// outermost layer's own figures, the ones the JSON report holds for that layer.
#[test]
fn text_totals_name_the_outermost_layer_when_layers_repeat_requests() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let incident = format!("{dir}/samples/incident");
    let j = json_of(&[&incident]);
    let lb = &j["totals"]["by_layer"]["lb"];
    let (req, e5) = (
        lb["requests"].as_u64().unwrap(),
        lb["5xx"].as_u64().unwrap(),
    );
    assert!(req > 0 && e5 > 0, "{lb}");
    // the totals count each request once, at the LB (issue 15)
    assert_eq!(j["totals"]["requests"].as_u64().unwrap(), req);
    assert_eq!(j["totals"]["counted_layer"], "lb");
    let out = gatelog(&["analyze", &incident]);
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("  {req} requests, {e5} 5xx");
    assert!(text.contains(&want), "{want:?} not in:\n{text}");
    assert!(
        text.contains("each request once, as the lb layer logged it"),
        "{text}"
    );
    // one layer only: no such line
    let single = format!("{dir}/samples/incident/error.log");
    let access = format!("{dir}/samples/incident/access.log.gz");
    let out = gatelog(&["analyze", &access, &single]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("layer logged it"), "{text}");
}

/// Behind a load balancer, `single_backend` weighs the upstreams of one layer against each
/// other: HAProxy spreads requests over two nginx nodes, each nginx over two php-fpm pools,
/// and one pool fails. The LB's 5xx are split evenly between the nginx nodes (neither is the
/// culprit), and summing them with nginx's own 5xx would halve the failing pool's share.
#[test]
fn single_backend_is_judged_within_a_layer() {
    let tmp = tmpdir();
    let (mut lb, mut ng) = (String::new(), String::new());
    let mut k = 0u64;
    for s in 0..600u64 {
        for _ in 0..4 {
            let (mm, ss) = (s / 60, s % 60);
            let node = if k % 2 == 0 { "n1" } else { "n2" };
            let (pool, bad) = if k % 4 < 2 {
                ("10.0.1.11:9000", (300..420).contains(&s))
            } else {
                ("10.0.1.12:9000", false)
            };
            let st = if bad { 502 } else { 200 };
            let ms = (k % 4) * 100;
            lb.push_str(&format!(
                "Nov 23 10:{mm:02}:{ss:02} lb haproxy[1]: 192.0.2.{}:{} [23/Nov/2026:10:{mm:02}:{ss:02}.{ms:03}] fe be_nginx/{node} 0/0/0/5/5 {st} 200 - - ---- 1/1/0/0/0 0/0 \"GET /app/{k} HTTP/1.1\"\n",
                1 + k % 200,
                20000 + k % 30000
            ));
            ng.push_str(&format!(
                "10.0.0.{} - - [23/Nov/2026:10:{mm:02}:{ss:02} +0000] \"GET /app/{k} HTTP/1.1\" {st} 200 \"-\" \"curl/8\" 0.005 0.000 0.005 0.005 {pool} {st}\n",
                1 + k % 2
            ));
            k += 1;
        }
    }
    write(tmp.path(), "haproxy.log", lb.as_bytes());
    write(tmp.path(), "access.log", ng.as_bytes());
    let r = json_of(&[tmp.path().to_str().unwrap()]);
    let inc = &r["incidents"][0];
    let causes: Vec<&Value> = inc["causes"].as_array().unwrap().iter().collect();
    let sb = causes
        .iter()
        .find(|c| c["cause"] == "single_backend")
        .unwrap_or_else(|| panic!("no single_backend: {causes:#?}"));
    let summary = sb["summary"].as_str().unwrap();
    assert!(summary.contains("10.0.1.11:9000"), "{summary}");
    assert!(summary.starts_with("240 of 240 upstream 5xx"), "{summary}");
    assert!(!summary.contains("be_nginx"), "{summary}");
}

/// Issue 13: values are typed while clap reads the arguments: a bad one is a usage error
/// (exit status 1) naming the flag and the value, before any input is opened; every spelling
/// SPEC allows still parses.
#[test]
fn typed_values_fail_at_the_edge_naming_flag_and_value() {
    for (args, flag, value) in [
        (&["analyze", "--bucket", "10x"][..], "--bucket", "10x"),
        (&["analyze", "--bucket", "0s"], "--bucket", "0s"),
        (&["analyze", "--since", "yesterday"], "--since", "yesterday"),
        (
            &["analyze", "--until", "2026-13-01T00:00:00Z"],
            "--until",
            "2026-13-01T00:00:00Z",
        ),
        (&["analyze", "--tz", "+99"], "--tz", "+99"),
        (&["analyze", "--tz", "Mars/Base"], "--tz", "Mars/Base"),
        (&["analyze", "--color", "sometimes"], "--color", "sometimes"),
        (&["live", "--interval", "1x"], "--interval", "1x"),
        (&["live", "--window", "16m"], "--window", "16m"),
        (
            &["analyze", "--format", "nginx-acces"],
            "--format",
            "nginx-acces",
        ),
        (
            &["detect", "--format", "x.log=nope"],
            "--format",
            "x.log=nope",
        ),
        (
            &["analyze", "--fail-on", "rate(5xx) > 5x for 5m"],
            "--fail-on",
            "rate(5xx) > 5x for 5m",
        ),
        (
            &["live", "--alert", "rate(5xx) > 5% for 2h"],
            "--alert",
            "rate(5xx) > 5% for 2h",
        ),
    ] {
        // the input does not exist: the value is refused before it is looked for
        let mut a = args.to_vec();
        a.push("/nonexistent/x.log");
        let out = gatelog(&a);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag} ")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("nonexistent"), "{args:?}: {err}");
    }
    let d = tmpdir();
    let log = write(d.path(), "access.log", LINES.as_bytes());
    let log = log.to_str().unwrap();
    for args in [
        &["--bucket", "1m"][..],
        &["--bucket", "90"],
        &["--bucket", "auto"],
        &["--since", "2000-01-01T00:00:00Z", "--until", "2h"],
        &[
            "--since",
            "2000-01-01T00:00:00",
            "--until",
            "2099-01-01T08:00:00+08:00",
        ],
        &["--tz", "UTC"],
        &["--tz", "+08:00"],
        &["--tz", "-0700"],
        &["--tz", "Asia/Shanghai"],
        &["--tz", "local"],
        &["--color", "always"],
    ] {
        let mut a = vec!["analyze", "--json", log];
        a.extend_from_slice(args);
        let out = gatelog(&a);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bucket = |b: &str| json_of(&[log, "--bucket", b])["timeline"]["bucket_seconds"].clone();
    assert_eq!(bucket("90"), 90);
    assert_eq!(bucket("2m"), 120);
}

/// Issue 13: `--format`, `--fail-on` and `--alert` are typed by clap too; the refusal is one
/// line naming the flag, the value and (for a rule) the token and its column, and the same
/// grammar serves both rule flags.
#[test]
fn rules_and_formats_are_refused_on_one_line_naming_the_position() {
    let one_line = |args: &[&str]| {
        let out = gatelog(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    let err = one_line(&[
        "analyze",
        "--fail-on",
        "p99(reqest_time) > 2s",
        "/nonexistent",
    ]);
    assert!(
        err.starts_with(
            "gatelog: error: invalid value 'p99(reqest_time) > 2s' for '--fail-on <RULE>': \
             expected request_time or upstream_time at 'reqest_time' (column 5); examples: "
        ),
        "{err}"
    );
    let err = one_line(&["live", "-", "--alert", "p99(reqest_time) > 2s"]);
    assert!(
        err.starts_with(
            "gatelog: error: invalid value 'p99(reqest_time) > 2s' for '--alert <RULE>': \
             expected request_time or upstream_time at 'reqest_time' (column 5); examples: "
        ),
        "{err}"
    );
    let err = one_line(&["live", "-", "--alert", "count(504) > 9 for 61m"]);
    assert_eq!(
        err,
        "gatelog: error: invalid value 'count(504) > 9 for 61m' for '--alert <RULE>': \
         'for' is at most 1h in live mode"
    );
    let err = one_line(&["analyze", "--fail-on", "incidents >", "/nonexistent"]);
    assert!(
        err.contains(": expected a threshold after the comparison at the end of the rule; "),
        "{err}"
    );
    let err = one_line(&[
        "analyze",
        "--format",
        "logs/x.log=nginx-acces",
        "/nonexistent",
    ]);
    assert!(
        err.starts_with(
            "gatelog: error: invalid value 'logs/x.log=nginx-acces' for '--format <FMT|PATH=FMT>': \
             unknown format 'nginx-acces'; known formats: nginx-access, nginx-error, "
        ),
        "{err}"
    );
    // an hour is allowed; the forced format reaches the run (PATH=FMT by the last '=')
    let d = tmpdir();
    let log = write(d.path(), "a=b.log", LINES.as_bytes());
    let log = log.to_str().unwrap();
    let forced = format!("{log}=nginx-access");
    let out = gatelog(&["detect", log, "--format", &forced]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("nginx-access"), "{s}");
    let out = gatelog(&[
        "analyze",
        "--json",
        log,
        "--fail-on",
        "count(5xx) > 0 for 1h",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules"][0]["rule"], "count(5xx) > 0 for 1h");
    assert_eq!(
        v["rules"][0]["held"], false,
        "the logs span 2 s, less than the hour"
    );
}
