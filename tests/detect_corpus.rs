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

/// A custom nginx format nobody could guess: detected only when given.
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
        let want = folder_format(&name);
        let mut files: Vec<_> = std::fs::read_dir(folder.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let fname = f.file_name().unwrap().to_string_lossy().to_string();
            let mut args = vec!["detect".to_string()];
            if fname == CUSTOM.0 {
                args.push("--log-format".into());
                args.push(CUSTOM.1.into());
            }
            args.push(f.display().to_string());
            let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
                .args(&args)
                .output()
                .unwrap();
            let s = String::from_utf8_lossy(&out.stdout);
            let got = s.split('\t').nth(1).unwrap_or("");
            assert_eq!(got, want, "{}: {s}", f.display());
            assert!(out.status.success());
            checked += 1;
        }
    }
    assert!(checked >= 70, "only {checked} corpus files");
}

#[test]
fn custom_format_without_its_log_format_is_an_error_naming_the_file() {
    let Some(dir) = common::corpus_dir("detect_corpus") else {
        return;
    };
    let f = dir.join("nginx-access").join(CUSTOM.0);
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(CUSTOM.0) && err.contains("gatelog formats"),
        "{err}"
    );
}
