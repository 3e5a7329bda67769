//! The `gatelog live --metrics` HTTP endpoint as a client sees it: paths, methods, HEAD, a
//! malformed request, keep-alive, concurrent scrapes, a port already taken, and a prompt
//! clean stop with connections still open. The figures themselves (and promtool) are
//! checked in tests/live.rs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gatelog");

fn lab_access() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fpm_down/access.log"),
    )
    .unwrap()
}

/// `gatelog live - --metrics 127.0.0.1:0` fed the lab's access log (stdin kept open), and
/// the address it announced.
fn start() -> (Child, std::process::ChildStdin, String, u64) {
    let mut child = Command::new(BIN)
        .args(["live", "-", "--metrics", "127.0.0.1:0", "--interval", "1s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let acc = lab_access();
    let lines = acc.lines().count() as u64;
    stdin.write_all(acc.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut addr = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(a) = line.trim().strip_prefix("gatelog: metrics at http://") {
            addr = a.trim_end_matches("/metrics").to_string();
            break;
        }
        line.clear();
    }
    // keep draining stderr so that gatelog never blocks on it
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = err.read_to_string(&mut sink);
    });
    assert!(
        addr.starts_with("127.0.0.1:"),
        "no metrics address: {addr:?}"
    );
    (child, stdin, addr, lines)
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Send `req` raw and read the answer until the server closes the connection.
fn raw(addr: &str, req: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    let mut r = Vec::new();
    s.read_to_end(&mut r).unwrap();
    String::from_utf8_lossy(&r).into_owned()
}

/// One response read off a keep-alive connection: (status line, headers lowercased, body).
fn read_response(r: &mut BufReader<TcpStream>, head_only: bool) -> (String, Vec<String>, String) {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        headers.push(h.to_ascii_lowercase());
    }
    let len: usize = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let mut body = vec![0; if head_only { 0 } else { len }];
    r.read_exact(&mut body).unwrap();
    (
        status.trim_end().to_string(),
        headers,
        String::from_utf8(body).unwrap(),
    )
}

fn get(addr: &str, path: &str) -> (String, Vec<String>, String) {
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    write!(w, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut BufReader::new(s), false)
}

fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find_map(|h| h.strip_prefix(&format!("{name}: ")))
}

/// Wait until the endpoint shows every line read.
fn wait_for_lines(addr: &str, lines: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, body) = get(addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if body.contains(&format!("gatelog_lines_total {lines}\n")) {
            return body;
        }
        assert!(Instant::now() < deadline, "lines never counted:\n{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn paths_methods_head_and_a_malformed_request() {
    let (child, _stdin, addr, lines) = start();
    let body = wait_for_lines(&addr, lines);

    // the exposition text, its content type and length; a query string is ignored
    let (status, headers, q) = get(&addr, "/metrics?name[]=gatelog_lines_total");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        header(&headers, "content-length"),
        Some(&*q.len().to_string())
    );
    assert!(q.contains(&format!("gatelog_lines_total {lines}\n")), "{q}");
    assert!(body.contains("# TYPE gatelog_requests_total counter\n"));

    // another path: 404 naming the right one
    let (status, headers, b) = get(&addr, "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(header(&headers, "content-type"), Some("text/plain"));
    assert_eq!(b, "gatelog live: metrics are at /metrics\n");
    let (status, _, _) = get(&addr, "/metricsx");
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    // another method: 405 with Allow
    let r = raw(
        &addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{r}");
    assert!(
        r.to_ascii_lowercase().contains("\r\nallow: get, head\r\n"),
        "{r}"
    );
    assert!(r.ends_with("\r\n\r\nuse GET /metrics\n"), "{r}");

    // HEAD: the GET's headers (length of the text included), no body; the same
    // connection then answers a GET (keep-alive)
    let s = connect(&addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, headers, b) = read_response(&mut r, true);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let head_len: usize = header(&headers, "content-length").unwrap().parse().unwrap();
    assert!(head_len > 1000, "{head_len}");
    assert!(b.is_empty());
    w.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (status, _, b) = read_response(&mut r, false);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(b.starts_with("# HELP gatelog_lines_total "), "{b}");
    // (the server closes after a `Connection: close` request)
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).unwrap(), 0, "{rest:?}");

    // a header value that is not ASCII is opaque bytes (RFC 9110 obs-text): answered
    let r = raw(
        &addr,
        b"GET /metrics HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains(&format!("gatelog_lines_total {lines}\n")), "{r}");
    // malformed requests: 400 and the connection closed; the server keeps serving
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let r = raw(&addr, bad);
        assert!(
            r.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{:?}: {r}",
            String::from_utf8_lossy(bad)
        );
    }
    // a client that connects and leaves without a word does not stop the server either
    drop(TcpStream::connect(&addr).unwrap());
    let (status, _, b) = get(&addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(b.contains(&format!("gatelog_lines_total {lines}\n")));
    stop(child);
}

#[test]
fn concurrent_scrapes_are_answered_while_a_client_stalls() {
    let (child, _stdin, addr, lines) = start();
    wait_for_lines(&addr, lines);
    // stalled clients: half a request line, and idle keep-alive connections
    let mut stalled = Vec::new();
    for _ in 0..6 {
        let mut s = connect(&addr);
        s.write_all(b"GET /met").unwrap();
        stalled.push(s);
    }
    let t0 = Instant::now();
    let scrapers: Vec<_> = (0..16)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut bodies = Vec::new();
                for _ in 0..5 {
                    let (status, _, b) = get(&addr, "/metrics");
                    assert_eq!(status, "HTTP/1.1 200 OK");
                    bodies.push(b);
                }
                bodies
            })
        })
        .collect();
    let mut n = 0;
    for s in scrapers {
        for b in s.join().expect("a scraper failed") {
            assert!(b.contains(&format!("gatelog_lines_total {lines}\n")), "{b}");
            assert!(b.ends_with('\n'));
            n += 1;
        }
    }
    assert_eq!(n, 80);
    // 80 scrapes of a few KiB each on loopback, none waiting for the stalled clients
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    drop(stalled);
    stop(child);
}

#[test]
fn a_port_already_taken_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let o = Command::new(BIN)
        .args(["live", "-", "--metrics", &port.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("--metrics 127.0.0.1:{port}: cannot listen: "))
            && err.contains("choose another address or port"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn end_of_input_stops_promptly_with_connections_open_and_frees_the_port() {
    let (mut child, stdin, addr, lines) = start();
    wait_for_lines(&addr, lines);
    // an idle keep-alive connection, a half-sent request
    let s = connect(&addr);
    let mut w = s.try_clone().unwrap();
    w.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut idle = BufReader::new(s);
    let (status, _, _) = read_response(&mut idle, false);
    assert_eq!(status, "HTTP/1.1 200 OK");
    let mut half = connect(&addr);
    half.write_all(b"GET /metrics HTT").unwrap();
    // end of stdin: live ends (status 0) within a few seconds
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            stop(child);
            panic!("gatelog live did not end after its input ended");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // the port is free again
    TcpListener::bind(&addr).expect("the metrics port is still taken");
    drop((idle, half));
}
