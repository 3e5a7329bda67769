//! Detection picks the right format for every corpus file (read in place).

#[path = "../parsers/tests/common/mod.rs"]
mod common;

use std::process::Command;

fn folder_format(folder: &str) -> &'static str {
    match folder {
        "alb" => "alb",
        "elb-classic" => "elb",
        "envoy" => "envoy",
        "haproxy" => "haproxy",
        "nginx-access" => "nginx-access",
        "nginx-error" => "nginx-error",
        "php-fpm-access" => "fpm-access",
        "php-fpm-error" => "fpm-error",
        "php-fpm-slow" => "fpm-slow",
        "slb" => "slb",
        "traefik" => "traefik",
        other => panic!("unexpected corpus folder {other}"),
    }
}

/// A custom nginx format no built-in layout reads: its `log_format` is inferred.
const CUSTOM: (&str, &str) = (
    "docker-homework2-nginx-access-iso8601-custom.log",
    r#"$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent""#,
);

#[test]
fn every_corpus_file_is_detected_as_its_format() {
    let Some(dir) = common::corpus_dir("detect_corpus") else {
        return;
    };
    let mut checked = 0;
    let mut folders: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    folders.sort_by_key(|e| e.file_name());
    for folder in folders {
        let name = folder.file_name().to_string_lossy().to_string();
        let folder_want = folder_format(&name);
        let mut files: Vec<_> = std::fs::read_dir(folder.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let fname = f.file_name().unwrap().to_string_lossy().to_string();
            let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
                .args(["detect", f.to_str().unwrap()])
                .output()
                .unwrap();
            let s = String::from_utf8_lossy(&out.stdout);
            // SOURCES.md: this file in php-fpm-error/ is a pool's `php_admin_value[error_log]`,
            // PHP's own error log, not the FPM master's: `php-error` is its format
            let want = if fname == "dev-token-bds-php-fpm-error-pool-php-errors.log" {
                "php-error"
            } else {
                folder_want
            };
            let got = s.split('\t').nth(1).unwrap_or("");
            assert_eq!(got, want, "{}: {s}", f.display());
            assert!(out.status.success());
            // only the custom file needs inference; every other one is read by a built-in
            // layout (inference never takes a file a built-in format matches)
            let reason = s.split('\t').nth(2).unwrap_or("");
            assert_eq!(
                reason.starts_with("log_format inferred"),
                fname == CUSTOM.0,
                "{}: {s}",
                f.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 70, "only {checked} corpus files");
}

#[test]
fn custom_format_is_inferred_and_detect_prints_its_log_format() {
    let Some(dir) = common::corpus_dir("detect_corpus") else {
        return;
    };
    let f = dir.join("nginx-access").join(CUSTOM.0);
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["detect", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    let cols: Vec<&str> = s.trim_end().split('\t').collect();
    assert_eq!(cols.len(), 3, "{s}");
    assert_eq!(cols[1], "nginx-access");
    assert_eq!(
        cols[2],
        format!(
            "log_format inferred (no built-in layout matches): '{}' parses 163 of 163 sampled lines; pin it with --log-format",
            CUSTOM.1
        )
    );
    // the pin hint on stderr, ready to paste
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("--log-format '{}'", CUSTOM.1)),
        "{err}"
    );
    // pinned, the same format is used as given, not inferred
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["detect", "--log-format", CUSTOM.1, f.to_str().unwrap()])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(s.split('\t').nth(1), Some("nginx-access"), "{s}");
    assert!(
        s.contains("163 of 163 sampled lines parse as nginx-access"),
        "{s}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn analyze_json(args: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .arg("analyze")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    (serde_json::from_slice(&out.stdout).unwrap(), err)
}

fn input<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .unwrap_or_else(|| panic!("no input {name} in {r}"))
}

#[test]
fn custom_format_is_analysed_without_its_log_format() {
    let Some(dir) = common::corpus_dir("detect_corpus") else {
        return;
    };
    let f = dir.join("nginx-access").join(CUSTOM.0);
    let (r, err) = analyze_json(&[f.to_str().unwrap()]);
    let i = input(&r, CUSTOM.0);
    assert_eq!(i["format"], "nginx-access");
    assert!(
        i["detected"]
            .as_str()
            .unwrap()
            .starts_with("log_format inferred"),
        "{i}"
    );
    assert_eq!(
        (i["lines"].as_u64(), i["parsed"].as_u64()),
        (Some(163), Some(163))
    );
    assert_eq!(i["rejected"].as_u64(), Some(0));
    assert_eq!(
        r["totals"]["requests"].as_u64(),
        Some(163),
        "{}",
        r["totals"]
    );
    // stderr says the format was inferred and how to pin it; the report's notes too
    assert!(
        err.contains("inferred nginx log_format") && err.contains(CUSTOM.1),
        "{err}"
    );
    let notes = r["notes"].to_string();
    assert!(notes.contains("inferred"), "{notes}");
    // --quiet: no note
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "-q", "--json", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Analysing the custom file together with the other nginx access logs: each file is read as
/// well as when it is read alone (the inferred format, tried after the built-in ones, takes
/// no line from them).
#[test]
fn inferred_format_leaves_the_other_nginx_files_alone() {
    let Some(files) = common::corpus_files("detect_corpus", "nginx-access") else {
        return;
    };
    let names: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let (together, _) = analyze_json(&names);
    for f in &names {
        let (alone, _) = analyze_json(&[f]);
        let name = std::path::Path::new(f)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let (a, t) = (input(&alone, name), input(&together, name));
        for k in ["lines", "parsed", "rejected"] {
            assert_eq!(a[k], t[k], "{name}: {k}");
        }
    }
    assert_eq!(input(&together, CUSTOM.0)["rejected"].as_u64(), Some(0));
}
