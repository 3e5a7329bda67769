//! The nginx error-log parser against the real-log corpus (`GATELOG_CORPUS/nginx-error`), read
//! in place. Records are framed the way the pipeline frames them (multi-line entries).

mod common;

use common::frame;

use gatelog_parsers::nginx_error::NginxErrorParser;
use gatelog_parsers::{Event, EventKind, LineParser, Record, Severity};

/// The file's lines; fail2ban's `#` annotation lines are test markup (SOURCES.md) and dropped.
fn file_lines(data: &[u8]) -> Vec<&[u8]> {
    common::lines(data)
        .into_iter()
        .filter(|l| !l.starts_with(b"#"))
        .collect()
}

fn name(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn count_lines(data: &[u8], needle: &str) -> usize {
    file_lines(data)
        .iter()
        .filter(|l| l.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .count()
}

/// Parse every record of a file; return (records, rejected records' first line numbers) and
/// call `f` for every event.
fn run(path: &std::path::Path, mut f: impl FnMut(&Event, &[u8])) -> (usize, Vec<usize>, usize) {
    let data = std::fs::read(path).unwrap();
    let lines = file_lines(&data);
    let mut p = NginxErrorParser::new();
    let recs = frame(&p, &lines);
    assert_eq!(recs.iter().map(|r| r.n_lines).sum::<usize>(), lines.len());
    let mut rejected = Vec::new();
    for r in &recs {
        match p.parse(&r.bytes) {
            Ok(Record::Event(e)) => f(&e, &r.bytes),
            Ok(Record::Ignored) => {}
            Ok(Record::Request(_)) => panic!("{}: request from an error log", path.display()),
            Err(e) => {
                eprintln!(
                    "  rejected {}:{}: {e}: {}",
                    name(path),
                    r.line_no,
                    String::from_utf8_lossy(&r.bytes[..r.bytes.len().min(120)])
                );
                rejected.push(r.line_no)
            }
        }
    }
    (recs.len(), rejected, lines.len())
}

#[test]
fn every_file_parses() {
    let Some(files) = common::corpus_files("every_file_parses", "nginx-error") else {
        return;
    };
    for path in &files {
        let n = name(path);
        let mut events = 0;
        let (records, rejected, lines) = run(path, |e, raw| {
            events += 1;
            // Whenever the entry's last line has a tail, the client was found.
            let last = raw.rsplit(|&c| c == b'\n').next().unwrap();
            if last.windows(10).any(|w| w == b", client: ") {
                assert!(
                    !e.client.is_empty(),
                    "{n}: no client in {}",
                    String::from_utf8_lossy(raw)
                );
                assert!(!e.message.ends_with(b","), "{n}: message {:?}", e.message);
            }
            assert!(!e.client.contains(&b' '));
            assert!(!e.request.contains(&b'\n'));
        });
        eprintln!(
            "{n}: lines={lines} records={records} events={events} rejected={}",
            rejected.len()
        );
        // Lines a real nginx could not have written into its error log: access-log lines
        // appended to the crowdsec fixtures (SOURCES.md). Each is its own rejected record.
        let expected: &[usize] = match n.as_str() {
            "crowdsec-nginx-http-generic-bf.log" => &[17, 18, 19, 20, 21, 22],
            "crowdsec-nginx-mail-logs.log" => &[4, 5],
            _ => &[],
        };
        assert_eq!(rejected, expected, "{n}: rejected records");
    }
}

fn corpus_file(test: &str, f: &str) -> Option<std::path::PathBuf> {
    Some(common::corpus_dir(test)?.join("nginx-error").join(f))
}

#[test]
fn court_parse_timeouts() {
    let Some(path) = corpus_file(
        "court_parse_timeouts",
        "courtParse-nginx-error-upstream-timed-out.log",
    ) else {
        return;
    };
    let data = std::fs::read(&path).unwrap();
    let mut timeouts = 0;
    let mut header = 0;
    let mut notices = 0;
    run(&path, |e, _| {
        if matches!(
            e.kind,
            EventKind::UpstreamTimeoutConnect
                | EventKind::UpstreamTimeoutSend
                | EventKind::UpstreamTimeoutHeader
                | EventKind::UpstreamTimeoutRead
                | EventKind::UpstreamTimeoutOther
        ) {
            timeouts += 1;
            assert!(e.upstream.starts_with(b"fastcgi://"), "{:?}", e.upstream);
            assert!(e.request.ends_with(b"HTTP/1.1"));
            assert_eq!(e.severity, Severity::Error);
            assert!(e.conn.is_some());
        }
        if e.kind == EventKind::UpstreamTimeoutHeader {
            header += 1;
        }
        if e.severity == Severity::Notice {
            notices += 1;
        }
    });
    assert_eq!(timeouts, count_lines(&data, "upstream timed out"));
    assert_eq!(timeouts, 13);
    assert_eq!(header, 13);
    assert_eq!(notices, count_lines(&data, "[notice]"));
}

#[test]
fn eight_pockets_refused() {
    let Some(path) = corpus_file(
        "eight_pockets_refused",
        "docker-phpfpm-8pockets-app_error-connect-refused.log",
    ) else {
        return;
    };
    let data = std::fs::read(&path).unwrap();
    let mut refused = 0;
    let mut first = None;
    run(&path, |e, _| {
        if e.kind == EventKind::ConnectRefused {
            refused += 1;
            assert!(e.upstream.starts_with(b"fastcgi://") && e.upstream.ends_with(b":9000"));
            assert_eq!(e.server, b"slim.dev");
            assert_eq!(e.tid, Some(0));
            if first.is_none() {
                first = Some((e.client.to_vec(), e.request.to_vec(), e.host.to_vec()));
            }
        }
    });
    assert_eq!(refused, count_lines(&data, "connect() failed (111"));
    assert_eq!(refused, 90);
    let (client, request, host) = first.unwrap();
    assert_eq!(client, b"126.197.150.228");
    assert_eq!(request, b"GET / HTTP/1.1");
    assert_eq!(host, b"153.121.33.54:9123");
}

#[test]
fn test_docker_burst() {
    let Some(dir) = common::corpus_dir("test_docker_burst") else {
        return;
    };
    let path = dir.join("nginx-error/testDocker-nginx-error.log");
    let data = std::fs::read(&path).unwrap();
    let (mut reset, mut nolive, mut wc) = (0, 0, 0);
    run(&path, |e, _| match e.kind {
        EventKind::RecvReset => {
            reset += 1;
            assert_eq!(e.client, b"127.0.0.1");
            assert!(!e.upstream.is_empty());
        }
        EventKind::NoLiveUpstreams => nolive += 1,
        EventKind::WorkerConnectionsNotEnough => {
            wc += 1;
            assert!(matches!(e.severity, Severity::Alert | Severity::Warn));
        }
        _ => {}
    });
    assert_eq!(reset, count_lines(&data, "recv() failed (104"));
    assert_eq!(nolive, count_lines(&data, "no live upstreams"));
    assert_eq!(wc, count_lines(&data, "worker_connections are not enough"));
    assert_eq!((reset, nolive, wc), (4, 2, 5));

    let path = dir.join("nginx-error/testDocker-vue-app-error.log");
    let (mut refused, mut nolive) = (0, 0);
    run(&path, |e, _| match e.kind {
        EventKind::ConnectRefused => {
            refused += 1;
            assert_eq!(e.upstream, b"http://127.0.0.1:8080/");
            assert_eq!(e.server, b"");
        }
        EventKind::NoLiveUpstreams => nolive += 1,
        _ => {}
    });
    assert_eq!((refused, nolive), (8, 1));
}

#[test]
fn limits_vrl_and_journal() {
    let Some(dir) = common::corpus_dir("limits_vrl_and_journal") else {
        return;
    };
    let path = dir.join("nginx-error/fail2ban-nginx-limit-req.log");
    let data = std::fs::read(&path).unwrap();
    let (mut lr, mut lc, mut delay, mut journal) = (0, 0, 0, 0);
    run(&path, |e, raw| {
        match e.kind {
            EventKind::LimitingRequests => lr += 1,
            EventKind::LimitingConnections => lc += 1,
            EventKind::DelayingRequest => delay += 1,
            _ => {}
        }
        if raw.starts_with(b"host nginx[") {
            journal += 1;
            assert_eq!(e.pid, Some(983479));
            assert_eq!(e.client, b"192.0.2.2");
        }
    });
    assert_eq!(lr, count_lines(&data, "limiting requests"));
    assert_eq!(lc, count_lines(&data, "limiting connections"));
    assert_eq!(delay, count_lines(&data, "delaying request"));
    assert_eq!(journal, 1);

    let path = dir.join("nginx-error/vrl-parse_nginx_log-test-lines.log");
    let mut kinds = Vec::new();
    run(&path, |e, _| kinds.push(e.kind));
    let n = |k: EventKind| kinds.iter().filter(|&&x| x == k).count();
    assert_eq!(kinds.len(), 10);
    assert_eq!(n(EventKind::ConnectNoRoute), 1);
    assert_eq!(n(EventKind::DelayingRequest), 1);
    assert_eq!(n(EventKind::LimitingRequests), 1);
    // "epoll_wait() reported that client prematurely closed connection ... (104)" is the
    // client going away, not an upstream reset
    assert_eq!(n(EventKind::RecvReset), 0);

    let path = dir.join("nginx-error/my-docker-lnmp-nginx-error.log");
    let (mut noroute, mut stderr) = (0, 0);
    run(&path, |e, _| match e.kind {
        EventKind::ConnectNoRoute => noroute += 1,
        EventKind::FastcgiStderr => {
            stderr += 1;
            assert_eq!(e.script, b"Primary script unknown");
            assert_eq!(e.upstream, b"fastcgi://172.21.0.3:9000");
        }
        _ => {}
    });
    let data = std::fs::read(&path).unwrap();
    assert_eq!(noroute, count_lines(&data, "(113: "));
    assert_eq!(stderr, count_lines(&data, "FastCGI sent in stderr"));
}

#[test]
fn multiline_and_injection() {
    let Some(dir) = common::corpus_dir("multiline_and_injection") else {
        return;
    };
    // one FastCGI entry over three physical lines (cut off in the fixture: no tail); the file
    // has no final newline
    let path = dir.join("nginx-error/integrations-nginx-test-error-raw.log");
    let mut fastcgi = Vec::new();
    let (records, rejected, lines) = run(&path, |e, _| {
        if e.kind == EventKind::FastcgiStderr {
            fastcgi.push(e.script.split(|&c| c == b'\n').count());
        }
    });
    assert_eq!((lines, records, rejected.len()), (7, 5, 0));
    assert_eq!(fastcgi, vec![3]);

    // fail2ban "trying injection on user name": the real client is the last tail
    let path = dir.join("nginx-error/fail2ban-nginx-http-auth.log");
    let mut seen = false;
    run(&path, |e, _| {
        if e.message
            .starts_with(b"user \"test\": password mismatch, client: 127.0.0.1")
        {
            seen = true;
            assert_eq!(e.client, b"192.0.2.2");
            assert_eq!(e.server, b"");
            assert_eq!(e.host, b"localhost:8443");
        }
    });
    assert!(seen);

    // mail proxy tails
    let path = dir.join("nginx-error/crowdsec-nginx-mail-logs.log");
    let mut starttls = 0;
    run(&path, |e, raw| {
        if raw.windows(15).any(|w| w == b" using starttls") {
            starttls += 1;
            assert_eq!(e.client, b"201.170.64.255");
            assert_eq!(e.server, b"0.0.0.0:587");
        }
    });
    assert!(starttls > 0);
}
