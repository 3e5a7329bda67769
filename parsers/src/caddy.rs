//! Caddy's JSON logs (format id `caddy`, proxy layer): the access log (`"logger":
//! "http.log.access..."`, one entry a request) and the runtime log around it (the error entry
//! Caddy writes for each failed request, `"logger":"http.log.error..."`, and the
//! `http.handlers.reverse_proxy` entries).
//!
//! ```text
//! {"level":"error","ts":1796483812.809,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"34352","proto":"HTTP/1.1","method":"GET","host":"localhost:28471","uri":"/down/x","headers":{...}},"user_id":"","duration":0.000263701,"size":0,"status":502,"resp_headers":{"Server":["Caddy"]}}
//! {"level":"error","ts":1796483812.809,"logger":"http.log.error.log0","msg":"dial tcp 127.0.0.1:28479: connect: connection refused","request":{...},"duration":0.000263701,"status":502,"err_id":"e6ssba828","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}
//! ```
//!
//! `ts` is float seconds since the epoch, or an ISO 8601 string (`time_format iso8601`/
//! `rfc3339`); `duration` is float seconds, or a Go duration string (`duration_format
//! string`: `1.5ms`, `263.7µs`). The error's text gives the event kind as nginx's errno does
//! (`connect: connection refused` → `connect_refused`, `dial unix ...: no such file or
//! directory` → `connect_no_socket`, `dial tcp ...: i/o timeout` → `upstream_timeout_connect`,
//! `timeout awaiting response headers` → `upstream_timeout_header`, `connection reset by
//! peer` → `recv_reset`, `EOF` → `upstream_premature_close`, `no upstreams available` →
//! `no_live_upstreams`). The debug-level `upstream roundtrip` entry repeats the error of the
//! `http.log.error` entry for the same request: it is kept as `other` (with its upstream) so a
//! failure counts once. Any other Caddy entry (`tls`, `http`, startup) is an `other` event.

use crate::fields::{parse_status, parse_u64};
use crate::lb::json::{scan_object, skip_ws, value, Val};
use crate::time::{self, SecondCache, Ts};
use crate::{Event, EventKind, Format, LineParser, ParseError, Record, Request, Severity};
use memchr::memmem;

#[derive(Clone, Default)]
pub struct CaddyParser {
    cache: SecondCache,
}

impl CaddyParser {
    pub fn new() -> Self {
        Self::default()
    }

    fn ts(&mut self, v: Val<'_>) -> Option<Ts> {
        match v {
            Val::Num(n) => time::parse_epoch(n).or_else(|| {
                // 1.796483812809e+09 (zap's float encoder for some values)
                let f: f64 = std::str::from_utf8(n).ok()?.parse().ok()?;
                if !(0.0..1e11).contains(&f) {
                    return None;
                }
                Some(Ts::new((f * 1e6).round() as i64, Some(0)))
            }),
            Val::Str(s) => match self.cache.iso8601(s) {
                Some((ts, used)) if used == s.len() => Some(ts),
                _ => time::parse_epoch(s),
            },
            _ => None,
        }
    }
}

/// Float seconds (`0.000263701`) or a Go duration (`1.5ms`, `2m3.5s`) → microseconds.
fn duration_us(v: Val<'_>) -> Option<u64> {
    match v {
        Val::Num(n) => {
            let f: f64 = std::str::from_utf8(n).ok()?.parse().ok()?;
            (f.is_finite() && f >= 0.0 && f < 1e9).then(|| (f * 1e6).round() as u64)
        }
        Val::Str(s) => go_duration_us(s),
        _ => None,
    }
}

fn go_duration_us(s: &[u8]) -> Option<u64> {
    if s == b"0" || s == b"0s" {
        return Some(0);
    }
    let text = std::str::from_utf8(s).ok()?;
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest.get(..n)?.parse().ok()?;
        rest = rest.get(n..)?;
        let (mult, len) = if rest.starts_with("ns") {
            (1e-3, 2)
        } else if rest.starts_with("us") {
            (1.0, 2)
        } else if rest.starts_with("µs") {
            (1.0, "µs".len())
        } else if rest.starts_with("ms") {
            (1e3, 2)
        } else if rest.starts_with('s') {
            (1e6, 1)
        } else if rest.starts_with('m') {
            (60e6, 1)
        } else if rest.starts_with('h') {
            (3600e6, 1)
        } else {
            return None;
        };
        total += num * mult;
        rest = rest.get(len..)?;
    }
    (total.is_finite() && total < 1e15).then(|| total.round() as u64)
}

/// First string of a JSON array (`["curl/8.0"]`), as Caddy logs header values.
fn first_of_array(a: &[u8]) -> &[u8] {
    if a.first() != Some(&b'[') {
        return &[];
    }
    match value(a, skip_ws(a, 1)) {
        Some((Val::Str(s), _)) => s,
        _ => &[],
    }
}

/// The kind of a reverse-proxy error text.
fn classify(err: &[u8]) -> EventKind {
    use EventKind::*;
    let has = |n: &[u8]| memmem::find(err, n).is_some();
    if has(b"connection refused") {
        ConnectRefused
    } else if has(b"dial unix") && has(b"no such file or directory") {
        ConnectNoSocket
    } else if has(b"resource temporarily unavailable") {
        ConnectAgain
    } else if has(b"no route to host") || has(b"host is unreachable") {
        ConnectNoRoute
    } else if has(b"network is unreachable") {
        ConnectNetUnreachable
    } else if has(b"cannot assign requested address") {
        ConnectNoLocalAddress
    } else if has(b"too many open files") {
        TooManyOpenFiles
    } else if (has(b"dial tcp") || has(b"dial unix") || has(b"dialing backend"))
        && (has(b"i/o timeout") || has(b"timeout"))
    {
        UpstreamTimeoutConnect
    } else if has(b"timeout awaiting response headers") {
        UpstreamTimeoutHeader
    } else if has(b"i/o timeout") || has(b"context deadline exceeded") {
        UpstreamTimeoutRead
    } else if has(b"connection reset by peer") {
        RecvReset
    } else if err.ends_with(b"EOF") || has(b"server closed") {
        UpstreamPrematureClose
    } else if has(b"no upstreams available") {
        NoLiveUpstreams
    } else {
        Other
    }
}

/// `dial tcp 10.0.0.5:9000: connect: ...` → `10.0.0.5:9000`; `dial unix /run/x.sock: ...` →
/// `unix:/run/x.sock`.
fn dial_target(err: &[u8]) -> &[u8] {
    for pre in [
        &b"dial tcp "[..],
        b"dial tcp4 ",
        b"dial tcp6 ",
        b"dial unix ",
    ] {
        if let Some(i) = memmem::find(err, pre) {
            let r = err.get(i + pre.len()..).unwrap_or(&[]);
            let end = memmem::find(r, b": ").unwrap_or(r.len());
            return r.get(..end).unwrap_or(&[]);
        }
    }
    &[]
}

fn severity(l: &[u8]) -> Severity {
    match l {
        b"warn" => Severity::Warn,
        b"panic" | b"fatal" | b"dpanic" => Severity::Crit,
        l => Severity::from_bytes(l).unwrap_or(Severity::Info),
    }
}

/// Members of Caddy's `request` object.
#[derive(Default)]
struct Req<'a> {
    remote_ip: &'a [u8],
    method: &'a [u8],
    uri: &'a [u8],
    host: &'a [u8],
    proto: &'a [u8],
    user_agent: &'a [u8],
    referer: &'a [u8],
    forwarded_for: &'a [u8],
}

fn read_request(o: &[u8]) -> Req<'_> {
    let mut r = Req::default();
    let _ = scan_object(o, 0, |k, v| match k {
        b"remote_ip" | b"client_ip" if r.remote_ip.is_empty() || k == b"client_ip" => {
            // client_ip (Caddy 2.7+, trusted_proxies applied) wins over remote_ip
            if let Some(s) = v.scalar() {
                if !s.is_empty() {
                    r.remote_ip = s;
                }
            }
        }
        b"method" => r.method = v.bytes(),
        b"uri" => r.uri = v.bytes(),
        b"host" => r.host = v.bytes(),
        b"proto" => r.proto = v.bytes(),
        b"headers" => {
            if let Val::Obj(h) = v {
                let _ = scan_object(h, 0, |hk, hv| {
                    if let Val::Arr(a) = hv {
                        if hk.eq_ignore_ascii_case(b"User-Agent") {
                            r.user_agent = first_of_array(a);
                        } else if hk.eq_ignore_ascii_case(b"Referer") {
                            r.referer = first_of_array(a);
                        } else if hk.eq_ignore_ascii_case(b"X-Forwarded-For") {
                            r.forwarded_for = first_of_array(a);
                        }
                    }
                });
            }
        }
        _ => {}
    });
    r
}

impl LineParser for CaddyParser {
    fn format(&self) -> Format {
        Format::Caddy
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let start = skip_ws(rec, 0);
        if start == rec.len() {
            return Ok(Record::Ignored);
        }
        if rec.get(start) != Some(&b'{') {
            return Err(ParseError::not_this_format(start));
        }
        let mut ts_v = None;
        let (mut level, mut logger, mut msg, mut error) = (&b""[..], &b""[..], None, &b""[..]);
        let (mut request, mut duration, mut size, mut status) = (None, None, None, None);
        let (mut upstream, mut has_level) = (&b""[..], false);
        let end = scan_object(rec, start, |k, v| match k {
            b"ts" => ts_v = Some(v),
            b"level" => {
                has_level = true;
                level = v.bytes();
            }
            b"logger" => logger = v.bytes(),
            b"msg" => msg = Some(v.bytes()),
            b"error" => error = v.bytes(),
            b"request" => {
                if let Val::Obj(o) = v {
                    request = Some(o)
                }
            }
            b"duration" => duration = Some(v),
            b"size" => size = v.scalar(),
            b"status" => status = v.scalar(),
            b"upstream" | b"dial" => upstream = v.bytes(),
            _ => {}
        })
        .map_err(|pos| ParseError::invalid("json", pos))?;
        if skip_ws(rec, end) < rec.len() {
            return Err(ParseError::new(crate::ErrorKind::Trailing, "json", end));
        }
        // Caddy (zap) always writes level, ts and msg; other JSON logs (Traefik's `time`,
        // SLB's `__time__`) are not this format.
        let (Some(ts_v), Some(msg)) = (ts_v, msg) else {
            return Err(ParseError::not_this_format(start));
        };
        if !has_level {
            return Err(ParseError::not_this_format(start));
        }
        let ts = self
            .ts(ts_v)
            .ok_or_else(|| ParseError::invalid("ts", start))?;
        let req = request.map(read_request).unwrap_or_default();
        if logger.starts_with(b"http.log.access") {
            let status = status
                .and_then(parse_status)
                .ok_or_else(|| ParseError::invalid("status", start))?;
            let mut r = Request {
                ts,
                client: req.remote_ip,
                method: req.method,
                path: req.uri,
                protocol: req.proto,
                host: req.host,
                status,
                user_agent: req.user_agent,
                referer: req.referer,
                forwarded_for: req.forwarded_for,
                ..Request::default()
            };
            r.bytes_sent = size.and_then(parse_u64);
            r.request_time_us = duration.and_then(duration_us);
            return Ok(Record::Request(r));
        }
        let mut e = Event {
            ts,
            kind: EventKind::Other,
            severity: severity(level),
            message: msg,
            client: req.remote_ip,
            host: req.host,
            request: req.uri,
            upstream,
            number: status.and_then(parse_u64).map(|s| s as i64),
            ..Event::default()
        };
        if logger.starts_with(b"http.log.error") {
            e.kind = classify(msg);
            if e.upstream.is_empty() {
                e.upstream = dial_target(msg);
            }
        } else if logger.starts_with(b"http.handlers.reverse_proxy") && !error.is_empty() {
            e.message = error;
            if e.upstream.is_empty() {
                e.upstream = dial_target(error);
            }
            // the debug `upstream roundtrip` repeats the http.log.error entry of the request
            if level != b"debug" {
                e.kind = classify(error);
            }
        }
        Ok(Record::Event(e))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS_502: &[u8] = br#"{"level":"error","ts":1796483812.8094873,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"34352","proto":"HTTP/1.1","method":"GET","host":"localhost:28471","uri":"/down/x","headers":{"Accept":["*/*"],"User-Agent":["curl-lab"]}},"user_id":"","duration":0.000263701,"size":0,"status":502,"resp_headers":{"Server":["Caddy"]}}"#;

    fn parse(l: &[u8]) -> Record<'_> {
        CaddyParser::new()
            .parse(l)
            .unwrap_or_else(|e| panic!("{e} for {}", String::from_utf8_lossy(l)))
    }

    fn ev(l: &[u8]) -> Event<'_> {
        match parse(l) {
            Record::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn access_entry_as_caddy_2_6_wrote_it() {
        let Record::Request(r) = parse(ACCESS_502) else {
            panic!()
        };
        assert_eq!(r.status, 502);
        assert_eq!(r.client, b"127.0.0.1");
        assert_eq!((r.method, r.path), (&b"GET"[..], &b"/down/x"[..]));
        assert_eq!(
            (r.host, r.protocol),
            (&b"localhost:28471"[..], &b"HTTP/1.1"[..])
        );
        assert_eq!(r.user_agent, b"curl-lab");
        assert_eq!(r.bytes_sent, Some(0));
        assert_eq!(r.request_time_us, Some(264));
        assert_eq!(r.ts.offset, Some(0));
        assert_eq!(r.ts.wall_us, 1_796_483_812_809_487);
        // ISO time and a Go duration string
        let l = br#"{"level":"info","ts":"2026-11-23T17:21:23.500+01:00","logger":"http.log.access","msg":"handled request","request":{"client_ip":"203.0.113.9","remote_ip":"10.0.0.2","proto":"HTTP/2.0","method":"POST","host":"shop","uri":"/cart?id=1","headers":{"X-Forwarded-For":["203.0.113.9"]}},"duration":"1.5s","size":1234,"status":200}"#;
        let Record::Request(r) = parse(l) else {
            panic!()
        };
        assert_eq!(r.client, b"203.0.113.9");
        assert_eq!(r.request_time_us, Some(1_500_000));
        assert_eq!(r.ts.offset, Some(3600));
        assert_eq!(r.bytes_sent, Some(1234));
        assert_eq!(go_duration_us(b"263.701\xc2\xb5s"), Some(264));
        assert_eq!(go_duration_us(b"2m3.5s"), Some(123_500_000));
        assert_eq!(go_duration_us(b"12x"), None);
    }

    #[test]
    fn error_entries_name_the_failure() {
        let e = ev(br#"{"level":"error","ts":1796483812.8094573,"logger":"http.log.error.log0","msg":"dial tcp 127.0.0.1:28479: connect: connection refused","request":{"remote_ip":"127.0.0.1","remote_port":"34352","proto":"HTTP/1.1","method":"GET","host":"localhost:28471","uri":"/down/x","headers":{"Accept":["*/*"],"User-Agent":["curl-lab"]}},"duration":0.000263701,"status":502,"err_id":"e6ssba828","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}"#);
        assert_eq!(e.kind, EventKind::ConnectRefused);
        assert_eq!(e.upstream, b"127.0.0.1:28479");
        assert_eq!((e.client, e.request), (&b"127.0.0.1"[..], &b"/down/x"[..]));
        assert_eq!(e.number, Some(502));
        assert_eq!(e.severity, Severity::Error);
        let e = ev(br#"{"level":"error","ts":1796483812.8169453,"logger":"http.log.error.log0","msg":"dialing backend: dial unix /run/php/nonexistent.sock: connect: no such file or directory","request":{"remote_ip":"127.0.0.1","uri":"/php/index.php"},"duration":0.00051218,"status":502}"#);
        assert_eq!(e.kind, EventKind::ConnectNoSocket);
        assert_eq!(e.upstream, b"/run/php/nonexistent.sock");
        let e = ev(br#"{"level":"error","ts":1796483813.8329108,"logger":"http.log.error.log0","msg":"net/http: timeout awaiting response headers","request":{"uri":"/slow"},"duration":1.000930432,"status":504}"#);
        assert_eq!(e.kind, EventKind::UpstreamTimeoutHeader);
        let k = |m: &str| classify(m.as_bytes());
        assert_eq!(
            k("dial tcp 10.0.0.9:9000: i/o timeout"),
            EventKind::UpstreamTimeoutConnect
        );
        assert_eq!(
            k("read tcp 10.0.0.1:5000->10.0.0.9:9000: read: connection reset by peer"),
            EventKind::RecvReset
        );
        assert_eq!(k("unexpected EOF"), EventKind::UpstreamPrematureClose);
        assert_eq!(k("no upstreams available"), EventKind::NoLiveUpstreams);
        assert_eq!(
            k("dial tcp 10.0.0.9:9000: connect: no route to host"),
            EventKind::ConnectNoRoute
        );
        assert_eq!(
            k("dial tcp 10.0.0.9:9000: connect: network is unreachable"),
            EventKind::ConnectNetUnreachable
        );
        // the debug roundtrip entry repeats the error: counted once, from http.log.error
        let e = ev(br#"{"level":"debug","ts":1796483823.4369297,"logger":"http.handlers.reverse_proxy","msg":"upstream roundtrip","upstream":"127.0.0.1:28479","duration":0.001839071,"request":{"remote_ip":"127.0.0.1","method":"GET","uri":"/down/x"},"error":"dial tcp 127.0.0.1:28479: connect: connection refused"}"#);
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(e.upstream, b"127.0.0.1:28479");
        assert_eq!(
            e.message,
            b"dial tcp 127.0.0.1:28479: connect: connection refused"
        );
        let e = ev(br#"{"level":"info","ts":1796483810.813342,"logger":"http.log","msg":"server running","name":"srv0","protocols":["h1","h2","h3"]}"#);
        assert_eq!(e.kind, EventKind::Other);
    }

    #[test]
    fn other_json_is_not_caddy() {
        let mut p = CaddyParser::new();
        for l in [
            &br#"{"ClientHost":"10.0.0.1","DownstreamStatus":502,"time":"2026-11-23T10:00:00Z","level":"info","msg":""}"#[..],
            br#"{"__time__":"1700000000","status":"502"}"#,
            br#"{"level":"info","msg":"no ts"}"#,
            b"10.0.0.1 - - [23/Nov/2026:10:00:01 +0000] \"GET / HTTP/1.1\" 200 1",
            br#"{"level":"info","ts":1,"msg":"x"} tail"#,
        ] {
            assert!(p.parse(l).is_err(), "{}", String::from_utf8_lossy(l));
        }
        assert!(p
            .parse(br#"{"level":"info","ts":1796483812.8,"logger":"http.log.access","msg":"handled request","status":"abc"}"#)
            .is_err());
    }

    #[test]
    fn never_panics_on_token_soup() {
        let tokens: &[&[u8]] = &[
            b"{",
            b"}",
            b"\"ts\":",
            b"1796483812.8094873",
            b"\"2026-11-23T17:21:23Z\"",
            b"\"level\":\"error\"",
            b"\"logger\":\"http.log.access\"",
            b"\"logger\":\"http.log.error\"",
            b"\"msg\":\"dial tcp 1.2.3.4:5: connect: connection refused\"",
            b"\"request\":{\"remote_ip\":\"1\",\"headers\":{\"User-Agent\":[\"x\"]}}",
            b"\"duration\":",
            b"\"1h2m\"",
            b"1e308",
            b"\"status\":502",
            b",",
            b"\xc2\xb5s",
            b"\xff",
        ];
        let mut p = CaddyParser::new();
        crate::test_util::soup(tokens, 20_000, |b| {
            let _ = p.parse(b);
        });
    }
}

#[cfg(test)]
mod detect_tests {
    /// Caddy 2.6.2's own access log (samples/formats/caddy) is caddy, not Traefik with 1970.
    #[test]
    fn caddy_log_is_not_traefik() {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/formats/caddy/access.log"
        ))
        .unwrap();
        let lines: Vec<&[u8]> = text
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut cands: Vec<Box<dyn crate::LineParser>> = crate::Format::ALL
            .iter()
            .map(|&f| crate::build(f, &Default::default()).unwrap())
            .collect();
        let ranked = crate::detect::rank(&mut cands, &lines);
        assert_eq!(ranked[0].format, crate::Format::Caddy);
        assert_eq!(ranked[0].useful, 6);
    }
}
