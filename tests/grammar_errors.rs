//! The grammars off the hot path name the position of what they reject, end to end: an
//! included nginx.conf file as FILE:LINE:COL, a `--log-format` and a `--fail-on` rule by
//! column, each on one line with exit status 1.

use std::path::Path;
use std::process::{Command, Output};

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatelog")
}

fn lab_log() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/rate_limit/access.log")
        .to_string_lossy()
        .into_owned()
}

/// The one-line error of a run that must fail with status 1.
fn error_of(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn a_bad_log_format_in_an_included_conf_is_named_by_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("conf.d")).unwrap();
    std::fs::write(
        d.path().join("nginx.conf"),
        "http {\n    include conf.d/*.conf;\n}\n",
    )
    .unwrap();
    // the second part's `${` has no `}`: line 3, column 10 of fmt.conf
    std::fs::write(
        d.path().join("conf.d/fmt.conf"),
        "# formats\nlog_format bad '$remote_addr '\n        '${time_local';\n",
    )
    .unwrap();
    let conf = d.path().join("nginx.conf");
    let log = lab_log();
    let out = gatelog(&["analyze", "--nginx-conf", conf.to_str().unwrap(), &log]);
    let err = error_of(&out);
    let want = format!(
        "{}:3:10: log_format \"bad\": missing '}}' after '${{'",
        d.path().join("conf.d/fmt.conf").display()
    );
    assert!(err.contains(&want), "{err}\nwant: {want}");
    // a syntax error of the configuration itself
    std::fs::write(
        d.path().join("conf.d/fmt.conf"),
        "log_format x '$status'\n}\n",
    )
    .unwrap();
    let err = error_of(&gatelog(&[
        "analyze",
        "--nginx-conf",
        conf.to_str().unwrap(),
        &log,
    ]));
    assert!(
        err.contains("fmt.conf:2:1: unexpected \"}\" (directive \"log_format\" has no \";\")"),
        "{err}"
    );
}

#[test]
fn a_bad_log_format_option_names_byte_and_column() {
    let log = lab_log();
    let err = error_of(&gatelog(&[
        "analyze",
        "--log-format",
        "$remote_addr $ [$time_local]",
        &log,
    ]));
    assert!(
        err.contains("invalid variable name after '$' at byte 13 (column 14)"),
        "{err}"
    );
    let err = error_of(&gatelog(&[
        "analyze",
        "--format",
        "fpm-access",
        "--log-format",
        "%R %t %{kilo}x",
        &log,
    ]));
    assert!(
        err.contains("embrace is not allowed for modifier %x at byte 6 (column 7)"),
        "{err}"
    );
}

#[test]
fn a_bad_fail_on_rule_names_its_column() {
    let log = lab_log();
    let err = error_of(&gatelog(&[
        "analyze",
        "--fail-on",
        "rate(503) > 5% for 5x",
        &log,
    ]));
    assert!(
        err.contains("expected a duration such as 30s, 5m or 1h at '5x' (column 20)"),
        "{err}"
    );
}
