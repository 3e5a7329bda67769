//! The grammars off the hot path (nginx.conf reader, `log_format` and `access.format`
//! compilers) on what real servers were configured with: every lab scenario's nginx.conf and
//! php-fpm pool configuration (samples/, written for and read by real nginx and php-fpm) is
//! read, its formats compile, and they parse every line those servers wrote.

use std::path::{Path, PathBuf};

use gatelog_parsers::fpm_access::FpmAccessParser;
use gatelog_parsers::{nginx_access, nginx_conf};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

/// `(scenario dir, conf file)` for every file named like `prefix*.conf` under samples/*/conf.
fn confs(prefix: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(samples()).unwrap() {
        let dir = e.unwrap().path();
        let Ok(rd) = std::fs::read_dir(dir.join("conf")) else {
            continue;
        };
        for f in rd {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(prefix) && name.ends_with(".conf") {
                out.push((dir.clone(), p));
            }
        }
    }
    out.sort();
    out
}

const MAIN_UPSTREAM: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_connect_time $upstream_header_time $upstream_response_time $upstream_addr $upstream_status"#;

#[test]
fn lab_nginx_confs_scan_compile_and_read_their_logs() {
    let confs = confs("nginx");
    assert!(confs.len() >= 10, "{confs:?}");
    let mut lines = 0;
    for (dir, conf) in &confs {
        let text = std::fs::read(conf).unwrap();
        let scan = nginx_conf::scan(&text).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
        assert_eq!(scan.log_formats.len(), 1, "{}", conf.display());
        let f = &scan.log_formats[0];
        assert_eq!(f.name, "main_upstream");
        assert_eq!(f.line, 13, "{}", conf.display());
        assert_eq!(f.format, MAIN_UPSTREAM, "{}", conf.display());
        assert_eq!(scan.access_logs.len(), 2, "{}", conf.display());
        assert_eq!(scan.access_logs[0].format, "main_upstream");
        assert_eq!(scan.access_logs[1].format, "combined");
        // the format the configuration names reads the log the server wrote with it
        let mut p = nginx_access::compile(&scan.format_named("main_upstream").unwrap()).unwrap();
        // (one scenario keeps its logs gzipped: its format is checked above)
        let Ok(log) = std::fs::read(dir.join("access.log")) else {
            assert!(dir.join("access.log.gz").is_file(), "{}", dir.display());
            continue;
        };
        for (n, l) in log.split(|&c| c == b'\n').enumerate() {
            if l.is_empty() {
                continue;
            }
            let r = p
                .parse_request(l)
                .unwrap_or_else(|e| panic!("{}:{}: {e:?}", dir.display(), n + 1));
            assert!((100..600).contains(&r.status));
            lines += 1;
        }
    }
    assert!(lines > 1000, "{lines}");
}

/// The lab's other nginx snippets (`include`d or swapped in by scenarios) scan too.
#[test]
fn lab_nginx_snippets_scan() {
    let all = confs("");
    let snippets: Vec<_> = all
        .iter()
        .filter(|(_, p)| {
            let n = p.file_name().unwrap().to_string_lossy();
            !n.starts_with("nginx") && !n.starts_with("php-fpm")
        })
        .collect();
    assert!(snippets.len() >= 3, "{snippets:?}");
    for (_, p) in snippets {
        let text = std::fs::read(p).unwrap();
        let scan = nginx_conf::scan(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(scan.log_formats.is_empty(), "{}", p.display());
    }
}

/// The `access.format = ...` value of a php-fpm pool configuration.
fn access_format(conf: &str) -> Option<&str> {
    conf.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "access.format").then(|| v.trim())
    })
}

#[test]
fn lab_fpm_pool_access_format_compiles_and_reads_its_log() {
    let confs = confs("php-fpm");
    assert!(confs.len() >= 5, "{confs:?}");
    let mut lines = 0;
    for (dir, conf) in &confs {
        let text = std::fs::read_to_string(conf).unwrap();
        let f = access_format(&text).unwrap_or_else(|| panic!("{}", conf.display()));
        assert_eq!(
            f,
            r#""%R - %u %t \"%m %r%Q%q\" %s %f %{mili}d %{kilo}M %C%%""#
        );
        let mut p = FpmAccessParser::compile(f).unwrap();
        let log = std::fs::read(dir.join("php-fpm-access.log")).unwrap();
        for (n, l) in log.split(|&c| c == b'\n').enumerate() {
            if l.is_empty() {
                continue;
            }
            let r = p
                .parse_request(l)
                .unwrap_or_else(|e| panic!("{}:{}: {e:?}", dir.display(), n + 1));
            assert!((100..600).contains(&r.status));
            assert!(r.request_time_us.is_some());
            lines += 1;
        }
    }
    assert!(lines > 100, "{lines}");
}
