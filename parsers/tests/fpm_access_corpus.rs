//! The php-fpm access-log corpus (`GATELOG_CORPUS/php-fpm-access/*`), read in place: every
//! line must parse, both with the `access.format` reconstructed for the file and with the
//! defaults.

mod common;

use gatelog_parsers::fpm_access::{self, FpmAccessParser};
use gatelog_parsers::{Record, Request};

/// Each file's `access.format` (reconstructed from its lines and, for docker-homework2, from
/// the nginx `log_format` of the same box).
const FORMATS: &[(&str, &str)] = &[
    (
        "docker-homework2-php-fpm-access.log",
        r#"%{%Y-%m-%dT%H:%M:%S%z}t - %R %u %s %m "%r" %{REQUEST_ID}e %{SERVER_PROTOCOL}e %l "%{HTTP_REFERER}e" "%{HTTP_USER_AGENT}e" %{bytes}M %C %d"#,
    ),
    (
        "my-docker-lnmp-php-fpm-access.log",
        r#"%R - %u %t "%m %r" %s"#,
    ),
    (
        "yii2-advance-php-fpm-access.log",
        r#"%t "%m %r%Q%q" %s %{mili}dms %{kilo}Mkb %C%%"#,
    ),
];

fn name_of(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn fpm_access_corpus_parses() {
    let Some(files) = common::corpus_files("fpm_access_corpus_parses", "php-fpm-access") else {
        return;
    };
    let mut failures = Vec::new();
    let mut summary = String::new();
    for path in &files {
        let name = name_of(path);
        let data = std::fs::read(path).unwrap();
        let explicit = FORMATS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no access.format known for corpus file {name}"));
        for (how, mut p) in [
            (
                "explicit",
                fpm_access::build(&[explicit.1.to_string()]).unwrap(),
            ),
            ("defaults", fpm_access::build(&[]).unwrap()),
        ] {
            let (mut lines, mut ok, mut rejected) = (0, 0, 0);
            for (k, line) in common::lines(&data).into_iter().enumerate() {
                lines += 1;
                match p.parse(line) {
                    Ok(Record::Request(r)) => {
                        ok += 1;
                        assert!(r.status >= 100, "{name}:{}", k + 1);
                        assert!(r.ts.wall_us > 0, "{name}:{}", k + 1);
                    }
                    Ok(_) => ok += 1,
                    Err(e) => {
                        rejected += 1;
                        failures.push(format!(
                            "{name}:{} ({how}): {e}: {}",
                            k + 1,
                            String::from_utf8_lossy(line)
                        ));
                    }
                }
            }
            summary.push_str(&format!(
                "{name} ({how}): lines={lines} parsed={ok} rejected={rejected}\n"
            ));
        }
    }
    eprintln!("{summary}");
    assert!(failures.is_empty(), "rejected:\n{}", failures.join("\n"));
}

fn requests<'a>(p: &mut FpmAccessParser, data: &'a [u8]) -> Vec<Request<'a>> {
    common::lines(data)
        .into_iter()
        .map(|l| p.parse_request(l).unwrap())
        .collect()
}

fn read(name: &str) -> Option<Vec<u8>> {
    let dir = common::corpus_dir(name)?;
    Some(std::fs::read(dir.join("php-fpm-access").join(name)).unwrap())
}

#[test]
fn fpm_access_values() {
    let Some(data) = read("yii2-advance-php-fpm-access.log") else {
        return;
    };
    let mut p = FpmAccessParser::compile(FORMATS[2].1).unwrap();
    let reqs = requests(&mut p, &data);
    // 01/Oct/2017:13:59:33 +0700 "GET /index.php" 302 886.974ms 4096kb 18.04%
    let r = &reqs[0];
    assert_eq!(r.status, 302);
    assert_eq!(r.method, b"GET");
    assert_eq!(r.path, b"/index.php");
    assert_eq!(r.request_time_us, Some(886_974));
    assert_eq!(r.ts.offset, Some(7 * 3600));
    assert_eq!(reqs[1].path, b"/index.php?r=site%2Flogin");

    let Some(data) = read("docker-homework2-php-fpm-access.log") else {
        return;
    };
    let mut p = FpmAccessParser::compile(FORMATS[0].1).unwrap();
    let reqs = requests(&mut p, &data);
    assert_eq!(reqs.len(), 163);
    // 2022-06-23T05:01:38-0700 - 127.0.0.1  302 POST "/login" - HTTP/1.1 89 "http://127.0.0.1:8001/login" "Mozilla/5.0 ..." 4194304 38.54 0.234
    let r = &reqs[2];
    assert_eq!(r.client, b"127.0.0.1");
    assert_eq!(r.status, 302);
    assert_eq!(r.method, b"POST");
    assert_eq!(r.path, b"/login");
    assert_eq!(r.protocol, b"HTTP/1.1");
    assert_eq!(r.referer, b"http://127.0.0.1:8001/login");
    assert_eq!(r.request_time_us, Some(234_000));
    assert_eq!(r.ts.offset, Some(-7 * 3600));
    // status counts agree with a naive split (status is the 5th space-separated token,
    // counting the empty %u)
    let naive5xx = common::lines(&data)
        .iter()
        .filter(|l| {
            String::from_utf8_lossy(l)
                .split(' ')
                .nth(4)
                .is_some_and(|s| s.starts_with('5'))
        })
        .count();
    assert_eq!(reqs.iter().filter(|r| r.status >= 500).count(), naive5xx);
}
