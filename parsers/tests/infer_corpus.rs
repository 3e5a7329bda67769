//! Format inference on the real corpus (`GATELOG_CORPUS`, read in place): the custom nginx
//! `log_format` file no built-in layout reads gets its format inferred, and the inferred
//! format reads every line with the right fields.

mod common;

use gatelog_parsers::{build, detect, nginx_access, Format, LineParser, ParserOptions, Record};

const CUSTOM: &str = "docker-homework2-nginx-access-iso8601-custom.log";
const CUSTOM_FORMAT: &str = r#"$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent""#;

fn custom_lines() -> Option<Vec<u8>> {
    let dir = common::corpus_dir("infer_corpus")?;
    let p = dir.join("nginx-access").join(CUSTOM);
    Some(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

#[test]
fn custom_iso8601_format_is_inferred_exactly() {
    let Some(data) = custom_lines() else { return };
    let lines = common::lines(&data);
    assert_eq!(lines.len(), 163);
    // what detection sees: the first 200 lines, which no built-in format matches
    let head = &lines[..lines.len().min(200)];
    let mut cands: Vec<Box<dyn LineParser>> = Format::ALL
        .iter()
        .map(|&f| build(f, &ParserOptions::default()).unwrap())
        .collect();
    let ranked = detect::rank(&mut cands, head);
    assert!(!detect::is_match(&ranked[0], head.len()), "{:?}", ranked[0]);
    let inf = detect::infer_unmatched(head).unwrap();
    assert_eq!(inf.log_format, CUSTOM_FORMAT);
    assert_eq!((inf.lines_parsed, inf.lines), (163, 163));
    assert_eq!(inf.offset, Some(-7 * 3600));
}

#[test]
fn inferred_format_reads_every_line_with_its_fields() {
    let Some(data) = custom_lines() else { return };
    let lines = common::lines(&data);
    let inf = detect::infer_unmatched(&lines).unwrap();
    // the parser detection hands to the pipeline: built-in formats, then the inferred one
    let opts = ParserOptions {
        inferred: vec![inf.log_format.clone()],
        ..Default::default()
    };
    let mut p = build(Format::NginxAccess, &opts).unwrap();
    let mut statuses = std::collections::BTreeMap::new();
    let mut posts = 0;
    for (k, l) in lines.iter().enumerate() {
        let r = match p.parse(l) {
            Ok(Record::Request(r)) => r,
            other => panic!("line {}: {other:?}", k + 1),
        };
        assert_eq!(r.client, b"127.0.0.1", "line {}", k + 1);
        assert_eq!(r.protocol, b"HTTP/1.1");
        assert!(r.path.starts_with(b"/"), "line {}", k + 1);
        assert_eq!(r.trace_id.len(), 32);
        assert!(r.user_agent.starts_with(b"Mozilla/5.0"));
        assert_eq!(r.ts.offset, Some(-7 * 3600));
        *statuses.entry(r.status).or_insert(0) += 1;
        posts += usize::from(r.method == b"POST");
    }
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        vec![(200, 153), (302, 9), (499, 1)]
    );
    assert!(posts > 0);
    // the first and third lines, field by field
    let r = match p.parse(lines[0]).unwrap() {
        Record::Request(r) => r,
        other => panic!("{other:?}"),
    };
    // 2022-06-23T05:01:29-07:00
    let day = gatelog_parsers::time::days_from_civil(2022, 6, 23);
    assert_eq!(r.ts.wall_us, (day * 86400 + 5 * 3600 + 60 + 29) * 1_000_000);
    assert_eq!(
        r.ts.utc_us(0),
        (day * 86400 + 12 * 3600 + 60 + 29) * 1_000_000
    );
    assert_eq!(r.status, 302);
    assert_eq!(r.method, b"GET");
    assert_eq!(r.path, b"/");
    assert_eq!(r.trace_id, b"d1f48b318ca25bb858f7ed69ad024f96");
    assert_eq!(r.bytes_sent, Some(364));
    assert_eq!(r.referer, b"");
    assert_eq!(
        r.user_agent,
        &b"Mozilla/5.0 (X11; Linux x86_64; rv:101.0) Gecko/20100101 Firefox/101.0"[..]
    );
    let r = match p.parse(lines[2]).unwrap() {
        Record::Request(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (r.status, r.method, r.path),
        (302, &b"POST"[..], &b"/login"[..])
    );
    assert_eq!(r.bytes_sent, Some(340));
    assert_eq!(r.referer, b"http://127.0.0.1:8001/login");
    // the inferred string is the one a user would pin: it compiles on its own
    assert!(nginx_access::compile(&inf.log_format).is_ok());
}

/// lab2's nginx timing log, as its `log_format timing` is written in
/// `samples/lab2/*/conf/nginx1.conf` (the NGINX blog's labels).
const LAB2_TIMING: &str = r#"$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status" rid=$request_id"#;

fn secs(v: &[u8]) -> Option<f64> {
    // the last of an `$upstream_*` list
    let last = v.rsplit(|&c| c == b',' || c == b':').next()?;
    std::str::from_utf8(last).ok()?.trim().parse().ok()
}

#[test]
fn lab2_timing_columns_are_named_from_their_key_labels() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/lab2");
    let mut scenarios = 0;
    for sc in [
        "app_error",
        "fpm_down",
        "fpm_saturation",
        "lb_backend_down",
        "rate_limit",
        "upstream_read_timeout",
    ] {
        let p = root.join(sc).join("plain/nginx1/timing.log");
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let lines = common::lines(&data);
        let head = &lines[..lines.len().min(200)];
        let inf = detect::infer_unmatched(head).unwrap();
        assert_eq!(inf.log_format, LAB2_TIMING, "{sc}");
        let opts = ParserOptions {
            inferred: vec![inf.log_format.clone()],
            ..Default::default()
        };
        let mut p = build(Format::NginxAccess, &opts).unwrap();
        let mut timed = 0;
        for (k, l) in lines.iter().enumerate() {
            let r = match p.parse(l) {
                Ok(Record::Request(r)) => r,
                other => panic!("{sc} line {}: {other:?}", k + 1),
            };
            assert_eq!(r.trace_id.len(), 32, "{sc} line {}", k + 1);
            // connect <= header <= response <= request time, where the upstream answered:
            // with uct and urt swapped the connect time would exceed the response time
            if let (Some(c), Some(h), Some(u)) = (
                secs(r.upstream_connect_time),
                secs(r.upstream_header_time),
                secs(r.upstream_response_time),
            ) {
                assert!(c <= h && h <= u, "{sc} line {}: {c} {h} {u}", k + 1);
                let rt = r.request_time_us.unwrap() as f64 / 1e6;
                // (nginx rounds both to the millisecond from different clocks: 1 ms apart at most)
                assert!(u <= rt + 0.0015, "{sc} line {}: {u} > {rt}", k + 1);
                timed += usize::from(u > c);
            }
            if !r.upstream_status.is_empty() && r.upstream_status != b"-" {
                assert!(
                    r.upstream_addr.contains(&b':'),
                    "{sc} line {}: {:?}",
                    k + 1,
                    String::from_utf8_lossy(r.upstream_addr)
                );
            }
        }
        assert!(
            timed > 0,
            "{sc}: no request where the response outlasted the connect"
        );
        scenarios += 1;
    }
    assert_eq!(scenarios, 6);
}

#[test]
fn key_labels_name_columns_in_any_order() {
    // invented: the labels reordered (urt first), a cache status and a user agent under `ua=`
    let lines: Vec<String> = (0..6)
        .map(|k| {
            format!(
                r#"10.0.0.{k} [05/Dec/2026:15:16:0{k} +0000] "GET /p?{k} HTTP/1.1" 200 {} urt=0.30{k} uht=0.20{k} uct=0.00{k} cs={} ua="curl/8.{k}" us=200 upstream=10.0.1.2:9000"#,
                100 + k,
                if k % 2 == 0 { "HIT" } else { "MISS" }
            )
        })
        .collect();
    let b: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let inf = detect::infer_unmatched(&b).unwrap();
    assert_eq!(
        inf.log_format,
        r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent urt=$upstream_response_time uht=$upstream_header_time uct=$upstream_connect_time cs=$upstream_cache_status ua="$http_user_agent" us=$upstream_status upstream=$upstream_addr"#
    );
    let mut p = nginx_access::compile(&inf.log_format).unwrap();
    let r = p.parse_request(b[3]).unwrap();
    assert_eq!(r.upstream_connect_time, b"0.003");
    assert_eq!(r.upstream_response_time, b"0.303");
    assert_eq!(r.user_agent, b"curl/8.3");
    assert_eq!(r.upstream_addr, b"10.0.1.2:9000");
    assert_eq!(r.upstream_status, b"200");
}
