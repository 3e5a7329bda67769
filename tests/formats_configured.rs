//! Formats as configured (SPEC "Logs as deployments write them"): lab2's custom php-fpm
//! `access.format` (`%{REMOTE_ADDR}e [%t] "%m %{REQUEST_URI}e" %s %{milli}d ms %{kilo}M KB
//! %C%% pool=%n pid=%p`, real php-fpm output in samples/lab2) is read as `fpm-access` (app
//! layer) without being given, as a plain file, mixed with the master log, and inside the php
//! container's stderr (CRI and Docker json-file); never as nginx.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SCENARIOS: &[&str] = &[
    "app_error",
    "fpm_down",
    "fpm_saturation",
    "lb_backend_down",
    "rate_limit",
    "upstream_read_timeout",
];

fn lab2() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab2")
}

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatelog")
}

fn report(path: &Path) -> Value {
    let p = path.to_str().unwrap();
    let out = gatelog(&["analyze", "--json", p]);
    assert!(
        out.status.success(),
        "{p}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The pool's access lines php-fpm wrote into its stderr (the plain view).
fn access_lines(sc: &str) -> Vec<String> {
    file_access_lines(&lab2().join(sc).join("plain/php-fpm.log"))
}

/// The access lines in one file (a json-file line's `\"` read as `"`).
fn file_access_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap().replace("\\\"", "\"");
    text.lines()
        .filter(|l| l.contains("127.0.0.1 [") && l.contains(" pool="))
        .map(str::to_string)
        .collect()
}

/// The php-fpm container's files: the CRI file under /var/log/pods and the json-file one
/// under /var/lib/docker (the one whose lines hold php-fpm's `fpm is running`).
fn container_files(sc: &str) -> Vec<PathBuf> {
    let root = lab2().join(sc).join("var");
    let mut out = Vec::new();
    let pods = root.join("log/pods");
    for d in std::fs::read_dir(&pods).unwrap().flatten() {
        if d.file_name().to_string_lossy().contains("php-fpm") {
            out.push(d.path().join("php-fpm/0.log"));
        }
    }
    for d in std::fs::read_dir(root.join("lib/docker/containers"))
        .unwrap()
        .flatten()
    {
        let f = d
            .path()
            .join(format!("{}-json.log", d.file_name().to_string_lossy()));
        if std::fs::read_to_string(&f).is_ok_and(|t| t.contains("fpm is running")) {
            out.push(f);
        }
    }
    assert_eq!(out.len(), 2, "{sc}: {out:?}");
    out
}

fn check(sc: &str, path: &Path, want_requests: u64, want_5xx: u64) {
    let r = report(path);
    let inp = &r["inputs"][0];
    let what = format!("{sc} {}", path.display());
    assert!(
        inp["detected"].as_str().unwrap().contains("fpm-access"),
        "{what}: {}",
        inp["detected"]
    );
    assert!(
        !inp["detected"].as_str().unwrap().contains("nginx"),
        "{what}: {}",
        inp["detected"]
    );
    assert_eq!(inp["rejected"], 0, "{what}: {}", inp["rejected_samples"]);
    assert_eq!(inp["requests"].as_u64(), Some(want_requests), "{what}");
    let t = &r["totals"];
    assert_eq!(
        t["by_layer"]["app"]["requests"].as_u64(),
        Some(want_requests),
        "{what}: {}",
        t["by_layer"]
    );
    assert!(
        t["by_layer"].get("proxy").is_none(),
        "{what}: {}",
        t["by_layer"]
    );
    assert_eq!(
        t["by_layer"]["app"]["5xx"].as_u64(),
        Some(want_5xx),
        "{what}"
    );
}

#[test]
fn custom_access_format_read_as_fpm_access_plain_and_in_containers() {
    let mut total = 0;
    for sc in SCENARIOS {
        // (the container view holds the container's last run; the plain file every run)
        let mut files = vec![lab2().join(sc).join("plain/php-fpm.log")];
        files.extend(container_files(sc));
        for f in files {
            let lines = file_access_lines(&f);
            assert!(lines.len() > 10, "{sc} {}", f.display());
            let fivexx = lines
                .iter()
                .filter(|l| l.split("\" ").nth(1).is_some_and(|r| r.starts_with('5')))
                .count() as u64;
            let n = lines.len() as u64;
            check(sc, &f, n, fivexx);
            total += n;
        }
    }
    assert!(total > 900, "{total} access lines in lab2");
}

#[test]
fn a_custom_fpm_access_log_alone_is_fpm_access_never_nginx() {
    let lines = access_lines("app_error");
    assert!(lines.len() > 100);
    let dir = std::env::temp_dir().join(format!("gatelog-fmtcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("www.access.log");
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let out = gatelog(&["detect", f.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\tfpm-access\t"), "{stdout}");
    assert!(
        stdout.contains(r#"'%R [%t] "%m %r%Q%q" %s %{mili}d ms %{kilo}M KB %C%% pool=%n pid=%p'"#),
        "{stdout}"
    );
    let r = report(&f);
    assert_eq!(r["inputs"][0]["format"], "fpm-access");
    assert_eq!(r["inputs"][0]["layer"], "app");
    assert_eq!(r["inputs"][0]["rejected"], 0);
    assert_eq!(
        r["inputs"][0]["requests"].as_u64(),
        Some(lines.len() as u64)
    );
    // the durations are the logged milliseconds: none of lab2's took a minute
    let p99 = r["latency"].to_string();
    assert!(!p99.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

const LAB2_TIMING: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status" rid=$request_id"#;

fn report_args(args: &[&str]) -> Value {
    let mut a = vec!["analyze", "--json"];
    a.extend_from_slice(args);
    let out = gatelog(&a);
    assert!(
        out.status.success(),
        "{a:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn forced_format_and_log_format_apply_to_the_wrapped_lines() {
    for sc in ["app_error", "fpm_down"] {
        let root = lab2().join(sc).join("var/log/pods");
        let web = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .find(|d| d.file_name().to_string_lossy().contains("_web-0_"))
            .unwrap()
            .path()
            .join("nginx/0.log");
        let text = std::fs::read_to_string(&web).unwrap();
        let access = text
            .lines()
            .filter(|l| l.contains(" stdout F ") && l.contains(" rid="))
            .count() as u64;
        assert!(access > 10, "{sc}");
        let p = web.to_str().unwrap();
        let forced = report_args(&["--format", "nginx-access", "--log-format", LAB2_TIMING, p]);
        let inp = &forced["inputs"][0];
        assert!(
            inp["detected"]
                .as_str()
                .unwrap()
                .starts_with("cri: nginx-access forced"),
            "{sc}: {}",
            inp["detected"]
        );
        assert_eq!(inp["rejected"], 0, "{sc}: {}", inp["rejected_samples"]);
        assert_eq!(inp["requests"].as_u64(), Some(access), "{sc}");
        // the same as detected, and the error lines on stderr still read as nginx-error
        let detected = report_args(&[p]);
        assert_eq!(detected["inputs"][0]["requests"], inp["requests"], "{sc}");
        assert_eq!(detected["inputs"][0]["events"], inp["events"], "{sc}");
        assert_eq!(
            detected["totals"]["status"], forced["totals"]["status"],
            "{sc}"
        );
    }
}

#[test]
fn year_less_lines_inside_a_container_file_take_its_year() {
    // invented: HAProxy's syslog lines (no year) on the stderr of a container whose stdout is
    // nginx's: the HAProxy parser is not the file's first, and still gets the runtime's year
    let dir = std::env::temp_dir().join(format!("gatelog-fmtcfg-yr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("0.log");
    std::fs::write(
        &f,
        concat!(
            "2025-06-10T12:00:00.100000000Z stdout F 10.0.0.1 - - [10/Jun/2025:12:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n",
            "2025-06-10T12:00:00.200000000Z stderr F Jun 10 12:00:00 vm haproxy[9115]: Server be_web/web0 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.\n",
            "2025-06-10T12:00:01.100000000Z stdout F 10.0.0.1 - - [10/Jun/2025:12:00:01 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n",
            "2025-06-10T12:00:01.200000000Z stdout F 10.0.0.1 - - [10/Jun/2025:12:00:01 +0000] \"GET /x HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n",
        ),
    )
    .unwrap();
    let r = report_args(&[f.to_str().unwrap()]);
    assert_eq!(r["inputs"][0]["requests"], 3);
    assert_eq!(r["inputs"][0]["events"], 1);
    assert_eq!(r["inputs"][0]["rejected"], 0);
    assert_eq!(r["window"]["from"], "2025-06-10T12:00:00+00:00");
    assert_eq!(r["window"]["to"], "2025-06-10T12:00:01+00:00");
    std::fs::remove_dir_all(&dir).ok();
}
