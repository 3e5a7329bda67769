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
