//! The nginx access-log corpus (`GATELOG_CORPUS/nginx-access/*`), read in place: every line a
//! real nginx could have written must parse, with the default formats or, for custom formats,
//! with the `log_format` string reconstructed below.

mod common;

use gatelog_parsers::nginx_access::{self, NginxAccessMulti};
use gatelog_parsers::{LineParser, Record, Request};

/// Files written with a custom `log_format`, and that format.
const CUSTOM: &[(&str, &str)] = &[
    (
        "docker-homework2-nginx-access-iso8601-custom.log",
        r#"$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent""#,
    ),
    (
        // ingress-nginx `upstreaminfo` (also among the defaults).
        "beats-nginx-ingress-controller.log",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"#,
    ),
];

/// Lines nginx could not have written, by file: (line number 1-based, why).
const EXPECTED_REJECTS: &[(&str, usize, &str)] = &[
    (
        "crowdsec-nginx_http-logs.log",
        8,
        "no `- $remote_user` part: `$remote_addr - [` (crowdsec's missing-ident test line)",
    ),
    (
        "crowdsec-nginx_http-logs.log",
        9,
        "an nginx error-log line mixed in on purpose",
    ),
    (
        "datadog-nginx_tests-samples.log",
        3,
        "free text appended after the last quoted field",
    ),
];

fn file_name(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn parser_for(name: &str) -> Box<dyn LineParser> {
    match CUSTOM.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => nginx_access::build(&[f.to_string()]).unwrap(),
        None => nginx_access::build(&[]).unwrap(),
    }
}

/// An nginx error-log line (optionally behind a syslog `host nginx[pid]: ` prefix), which some
/// test files mix into access logs on purpose.
fn is_error_log_line(line: &[u8]) -> bool {
    let s = String::from_utf8_lossy(line);
    let s = match s.find(": ") {
        Some(i) if s[..i].contains("nginx[") => s[i + 2..].to_string(),
        _ => s.to_string(),
    };
    let b = s.as_bytes();
    b.len() > 21
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b' '
        && b[13] == b':'
        && b[19] == b' '
        && b[20] == b'['
}

fn is_markup(name: &str, line: &[u8]) -> bool {
    // fail2ban test files carry `# failJSON:` annotations.
    name.starts_with("fail2ban-") && line.first() == Some(&b'#')
}

#[test]
fn nginx_access_corpus_parses() {
    let Some(files) = common::corpus_files("nginx_access_corpus_parses", "nginx-access") else {
        return;
    };
    let mut failures = Vec::new();
    let mut summary = String::new();
    for path in &files {
        let name = file_name(path);
        let data = std::fs::read(path).unwrap();
        let mut p = parser_for(&name);
        let (mut lines, mut requests, mut rejected, mut ignored) = (0, 0, 0, 0);
        for (k, line) in common::lines(&data).into_iter().enumerate() {
            let lineno = k + 1;
            if is_markup(&name, line) {
                continue;
            }
            lines += 1;
            match p.parse(line) {
                Ok(Record::Request(r)) => {
                    requests += 1;
                    assert!(r.status >= 100, "{name}:{lineno}: status {}", r.status);
                    assert!(r.ts.wall_us > 0, "{name}:{lineno}: no timestamp");
                }
                Ok(_) => ignored += 1,
                Err(e) => {
                    rejected += 1;
                    let expected = is_error_log_line(line)
                        || EXPECTED_REJECTS
                            .iter()
                            .any(|(f, n, _)| *f == name && *n == lineno);
                    if !expected {
                        failures.push(format!(
                            "{name}:{lineno}: {e}: {}",
                            String::from_utf8_lossy(line)
                        ));
                    }
                }
            }
        }
        summary.push_str(&format!(
            "{name}: lines={lines} requests={requests} ignored={ignored} rejected={rejected}\n"
        ));
    }
    eprintln!("{summary}");
    assert!(
        failures.is_empty(),
        "unexpected rejects:\n{}",
        failures.join("\n")
    );
    // every expected reject really is rejected (keeps the list honest)
    for (f, n, why) in EXPECTED_REJECTS {
        let path = files.iter().find(|p| file_name(p) == *f).unwrap();
        let data = std::fs::read(path).unwrap();
        let line = common::lines(&data)[n - 1];
        assert!(
            nginx_access::build(&[]).unwrap().parse(line).is_err(),
            "{f}:{n} ({why}) parsed"
        );
    }
}

fn read(name: &str) -> Option<Vec<u8>> {
    let dir = common::corpus_dir(name)?;
    Some(std::fs::read(dir.join("nginx-access").join(name)).unwrap())
}

fn all_requests<'a>(p: &mut NginxAccessMulti, data: &'a [u8]) -> Vec<Request<'a>> {
    common::lines(data)
        .into_iter()
        .map(|l| p.parse_request(l).unwrap())
        .collect()
}

#[test]
fn burst_502_count_matches_naive_split() {
    let Some(data) = read("testDocker-nginx-access-502-burst.log") else {
        return;
    };
    // Independent oracle: in combined lines the status is the first token after the
    // request's closing `" `.
    let naive = common::lines(&data)
        .iter()
        .filter(|l| {
            let s = String::from_utf8_lossy(l);
            let parts: Vec<&str> = s.split('"').collect();
            parts[2].split_whitespace().next() == Some("502")
        })
        .count();
    let mut p = NginxAccessMulti::defaults();
    let reqs = all_requests(&mut p, &data);
    assert_eq!(reqs.len(), 4223);
    let n502 = reqs.iter().filter(|r| r.status == 502).count();
    assert_eq!(n502, naive);
    assert_eq!(n502, 4084, "SOURCES.md says 4,084 of 4,223 are 502");
    let first = &reqs[0];
    assert_eq!(first.client, b"127.0.0.1");
    assert_eq!(first.path, b"/favicon.ico");
    assert_eq!(first.protocol, b"HTTP/1.0");
    assert_eq!(first.bytes_sent, Some(559));
    // 15/Mar/2023:10:40:21 +0000
    assert_eq!(first.ts.offset, Some(0));
    assert_eq!(first.ts.wall_us / 1_000_000, 1678876821);
}

#[test]
fn court_parse_504s() {
    let Some(data) = read("courtParse-nginx-access-504.log") else {
        return;
    };
    let mut p = NginxAccessMulti::defaults();
    let reqs = all_requests(&mut p, &data);
    assert_eq!(p.current_format(), Some("main"));
    let count = |s: u16| reqs.iter().filter(|r| r.status == s).count();
    assert_eq!(count(504), 13);
    assert_eq!(count(500), 235);
    assert_eq!(count(302), 336);
    // the stock `main` format's $http_x_forwarded_for: behind Docker's proxy (172.20.0.1) the
    // real client is the forwarded one; an independent oracle: the last quoted field
    let lines = common::lines(&data);
    let mut forwarded = 0;
    for (l, r) in lines.iter().zip(&reqs) {
        let text = String::from_utf8_lossy(l);
        let last = text.trim_end().trim_end_matches('"');
        let last = &last[last.rfind('"').unwrap() + 1..];
        if last == "-" {
            assert!(r.forwarded_for.is_empty());
            assert_eq!(r.origin_client(), r.client);
        } else {
            forwarded += 1;
            assert_eq!(r.forwarded_for, last.as_bytes());
            let want = last.rsplit(',').next().unwrap().trim();
            assert_eq!(r.origin_client(), want.as_bytes(), "{text}");
        }
    }
    assert!(forwarded > 0);
    let r = &reqs[2245]; // line 2246
    assert_eq!(r.client, b"172.20.0.1");
    assert_eq!(r.origin_client(), b"81.177.215.47");
}

#[test]
fn ingress_upstream_lists() {
    let Some(data) = read("beats-nginx-ingress-controller.log") else {
        return;
    };
    let mut p = NginxAccessMulti::new(&[CUSTOM[1].1.to_string()]).unwrap();
    let reqs = all_requests(&mut p, &data);
    let r = &reqs[22];
    assert_eq!(r.upstream_addr, b"172.17.0.6:8080, 172.17.0.7:8080");
    assert_eq!(r.upstream_response_time, b"0.100, 0.004");
    assert_eq!(r.upstream_status, b"200, 203");
    assert_eq!(r.trace_id, b"835136ae24486dbb4156dcbe21f5d402");
    assert_eq!(r.request_time_us, Some(1000));
    let r = &reqs[25];
    assert_eq!(r.status, 502);
    assert_eq!(
        r.upstream_addr,
        b"[2a02:cf40::7]:5000, [2a02:cf40::4e36]:5000"
    );
    assert_eq!(r.upstream_status, b"502, 502");
    let r = &reqs[4];
    assert_eq!(r.status, 400);
    assert_eq!(r.upstream_addr, b"");
    assert_eq!(r.upstream_status, b"");
    assert_eq!(r.method, b"");
    assert_eq!(r.request_line, b"PATCHp /products/42 HTTP/1.1");
    let r = &reqs[28];
    assert_eq!(r.upstream_response_time, b"0.100, -");
    assert_eq!(r.upstream_status, b"200, -");
    // the defaults read it too
    let mut d = NginxAccessMulti::defaults();
    let reqs2 = all_requests(&mut d, &data);
    assert_eq!(d.current_format(), Some("upstreaminfo"));
    assert_eq!(reqs2[22].upstream_status, b"200, 203");
}

#[test]
fn iso8601_custom_format() {
    let Some(data) = read("docker-homework2-nginx-access-iso8601-custom.log") else {
        return;
    };
    let mut p = NginxAccessMulti::new(&[CUSTOM[0].1.to_string()]).unwrap();
    let reqs = all_requests(&mut p, &data);
    assert_eq!(reqs.len(), 163);
    let r = &reqs[2];
    assert_eq!(r.status, 302);
    assert_eq!(r.method, b"POST");
    assert_eq!(r.path, b"/login");
    assert_eq!(r.referer, b"http://127.0.0.1:8001/login");
    assert_eq!(r.ts.offset, Some(-7 * 3600));
    assert_eq!(r.trace_id, b"f48ca28da4744ff4669b6b71181a2c94");
}

#[test]
fn proxy_manager_and_xff() {
    let Some(data) = read("crowdsec-nginx-proxy-manager-logs.log") else {
        return;
    };
    let mut p = NginxAccessMulti::defaults();
    let lines = common::lines(&data);
    let r = p.parse_request(lines[0]).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.upstream_status, b"404");
    assert_eq!(r.client, b"1.2.3.4");
    assert_eq!(r.host, b"openresty.local");
    assert_eq!(r.path, b"/sdfdsf");
    assert_eq!(r.method, b"GET");
    let r = p.parse_request(lines[2]).unwrap();
    assert_eq!(r.status, 444);
    assert_eq!(r.client, b"207.32.219.89");

    let Some(data) = read("beats-nginx-access-xff.log") else {
        return;
    };
    let lines = common::lines(&data);
    let r = p.parse_request(lines[0]).unwrap();
    assert_eq!(r.client, b"127.0.0.1");
    let r = p.parse_request(lines[4]).unwrap();
    assert_eq!(r.client, b"10.2.1.185");
}

/// Throughput check (run with `cargo test --release -- --ignored --nocapture bench_`).
#[test]
#[ignore]
fn bench_main_upstream_and_combined() {
    let mut data = Vec::new();
    for i in 0..200_000u32 {
        let st = if i % 50 == 0 { 502 } else { 200 };
        data.extend_from_slice(
            format!(
                "10.{}.{}.{} - - [23/Nov/2026:10:{:02}:{:02} +0000] \"GET /api/v1/items/{}?page={} HTTP/1.1\" {} {} \"https://example.com/page\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\" 0.{:03} 0.000 0.{:03} 0.{:03} 10.0.0.{}:9000 {}\n",
                i % 7, i % 251, i % 13, (i / 3600) % 60, (i / 60) % 60, i, i % 9, st, 1000 + i % 5000, i % 1000, i % 900, i % 1000, i % 4, st
            )
            .as_bytes(),
        );
    }
    for (name, fmt) in [
        ("main_upstream", None),
        ("combined-explicit", Some(nginx_access::COMBINED)),
    ] {
        let input: Vec<u8> = if fmt.is_some() {
            // strip the 6 upstream fields to get combined lines
            common::lines(&data)
                .iter()
                .flat_map(|l| {
                    let s = String::from_utf8_lossy(l);
                    let end = s.rfind('"').unwrap() + 1;
                    format!("{}\n", &s[..end]).into_bytes()
                })
                .collect()
        } else {
            data.clone()
        };
        let lines = common::lines(&input);
        let mut p = match fmt {
            None => NginxAccessMulti::defaults(),
            Some(f) => NginxAccessMulti::new(&[f.to_string()]).unwrap(),
        };
        let t = std::time::Instant::now();
        let mut n5 = 0usize;
        for _ in 0..5 {
            for l in &lines {
                let r = p.parse_request(l).unwrap();
                n5 += (r.status >= 500) as usize;
            }
        }
        let dt = t.elapsed().as_secs_f64();
        let bytes = input.len() as f64 * 5.0;
        eprintln!(
            "{name}: {:.0} ns/line, {:.2} GB/s ({} 5xx)",
            dt * 1e9 / (lines.len() as f64 * 5.0),
            bytes / dt / 1e9,
            n5
        );
    }
}
