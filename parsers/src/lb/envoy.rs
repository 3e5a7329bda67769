//! Envoy access logs.
//!
//! Default format (and Istio's extension of it):
//!
//! ```text
//! [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//! %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//! %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//! "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
//! ```
//!
//! Accepted variants: Istio's quoted fields between the flags and the byte counts
//! (`"%DYNAMIC_METADATA(istio.mixer:status)%"`, `"%UPSTREAM_TRANSPORT_FAILURE_REASON%"`) and
//! its fields after `UPSTREAM_HOST` (the first, `%UPSTREAM_CLUSTER%`, becomes `route`); the
//! Ambassador `ACCESS ` prefix; a Docker/Kubernetes JSON wrapper whose `log` or `message`
//! string holds such a line (quotes then appear as `\"`; fields are kept escaped); fields
//! after `%DURATION%` missing (older or shorter formats).
//!
//! Mapping: `status` = response code (`0` for TCP proxy lines `"- - -"`, which are kept as
//! requests because their flags, e.g. `UF,URX`, are evidence of upstream failures), `lb_flags`
//! = response flags (`UT`, `UF`, `UO`, `UH`, `URX`, `NR`..., comma-separated; `-` → empty),
//! `request_time_us` = `%DURATION%` (ms), `upstream_response_time` =
//! `x-envoy-upstream-service-time` in **milliseconds as logged**, `client` = first
//! X-Forwarded-For entry (else Istio's downstream remote address), `trace_id` =
//! x-request-id, `host` = :authority, `upstream_addr` = upstream host (`tcp://` dropped).
//!
//! JSON access logs (`json_format`): snake_case keys as in Envoy's and Istio's examples
//! (`start_time`, `method`, `path`, `protocol`, `response_code`, `response_flags`,
//! `bytes_sent`, `duration`, `upstream_service_time`, `x_forwarded_for`, `user_agent`,
//! `request_id`, `authority`, `upstream_host`, `upstream_cluster`,
//! `downstream_remote_address`) and their camelCase forms (Gloo: `upstreamHost`...). A JSON
//! line is Envoy's only if it has one of the Envoy-specific keys (flags, upstream host or
//! cluster, upstream service time). Lines without a start time cannot be placed on a
//! timeline and are [`Record::Ignored`] (Gloo's documented example format logs only
//! protocol, upstream and duration).
//!
//! Envoy's own application log lines (`[2021-03-12 15:31:30.492][1][warning][runtime] ...`)
//! are [`Record::Event`]s of kind [`EventKind::Other`].
use super::json::{scan_object, Val};
use super::{strip_port, Cur};
use crate::fields::{dash_empty, parse_status, parse_u64, split_request_line, trim};
use crate::time::SecondCache;
use crate::{Event, EventKind, Format, LineParser, ParseError, Record, Request, Severity};
use memchr::memchr;

#[derive(Clone, Default)]
pub struct EnvoyParser {
    cache: SecondCache,
}

impl EnvoyParser {
    pub fn new() -> Self {
        Self::default()
    }
}

/// A quoted field; in `esc` mode the quotes are `\"` (a line inside a JSON string).
fn quoted<'a>(c: &mut Cur<'a>, esc: bool, field: &'static str) -> Result<&'a [u8], ParseError> {
    if !esc {
        return c.quoted(field);
    }
    c.skip_ws();
    let start = c.pos;
    if c.b.get(start..start + 2) != Some(b"\\\"") {
        return Err(ParseError::expected("\\\"", field, start));
    }
    let mut j = start + 2;
    loop {
        let k = j + memchr(b'"', c.b.get(j..).unwrap_or(&[])).ok_or(ParseError::expected(
            "closing \\\"",
            field,
            start,
        ))?;
        let mut n = 0;
        while k > n && c.b.get(k - n - 1) == Some(&b'\\') {
            n += 1;
        }
        if n == 1 {
            c.pos = k + 1;
            return Ok(c.b.get(start + 2..k - 1).unwrap_or(&[]));
        }
        if n % 2 == 0 {
            // a bare quote would have ended the JSON string
            return Err(ParseError::expected("\\\"", field, k));
        }
        j = k + 1;
    }
}

fn first_xff(x: &[u8]) -> &[u8] {
    let x = dash_empty(x);
    trim(x.get(..memchr(b',', x).unwrap_or(x.len())).unwrap_or(&[]))
}

fn upstream_host(h: &[u8]) -> &[u8] {
    let h = dash_empty(h);
    h.strip_prefix(b"tcp://").unwrap_or(h)
}

impl EnvoyParser {
    /// A default-format line starting at `c.pos` (after any `ACCESS ` prefix).
    fn text<'a>(&mut self, b: &'a [u8], esc: bool) -> Result<Record<'a>, ParseError> {
        let mut c = Cur::new(b);
        if c.rest().starts_with(b"ACCESS ") {
            c.pos += 7;
        }
        let tpos = c.pos;
        let t = c.bracket("start_time")?;
        let (ts, used) = self
            .cache
            .iso8601(t)
            .ok_or(ParseError::not_this_format(tpos))?;
        if used != t.len() {
            return Err(ParseError::invalid("start_time", tpos));
        }
        if c.b.get(c.pos) == Some(&b'[') {
            // Application log: [time][thread][level][logger] [file:line] message
            let _thread = c.bracket("thread")?;
            let level = c.bracket("level")?;
            let _logger = c.bracket("logger")?;
            if c.peek() == Some(b'[') {
                let _ = c.bracket("source");
            }
            c.skip_ws();
            let sev = match level {
                b"warning" => Severity::Warn,
                b"critical" => Severity::Crit,
                b"trace" => Severity::Debug,
                l => Severity::from_bytes(l).unwrap_or(Severity::Info),
            };
            return Ok(Record::Event(Event {
                ts,
                kind: EventKind::Other,
                severity: sev,
                message: c.rest(),
                ..Default::default()
            }));
        }
        let mut r = Request {
            ts,
            ..Default::default()
        };
        let req = quoted(&mut c, esc, "request")?;
        r.request_line = req;
        let (m, p, proto) = split_request_line(req);
        if m == b"-" || (m.is_empty() && p == b"- - -") {
            r.method = &[];
            r.path = &[];
            r.protocol = &[];
        } else {
            r.method = m;
            r.path = p;
            r.protocol = proto;
        }
        let spos = c.pos + 1;
        let st = c.word("response_code")?;
        r.status = parse_status(st).ok_or(ParseError::invalid("response_code", spos))?;
        r.lb_flags = dash_empty(c.word("response_flags")?);
        // Istio: quoted fields before the byte counts.
        while matches!(c.peek(), Some(b'"' | b'\\')) {
            quoted(&mut c, esc, "metadata")?;
        }
        let bpos = c.pos + 1;
        let rx = c.word("bytes_received")?;
        let tx = c.word("bytes_sent")?;
        let d = c.word("duration")?;
        if parse_u64(rx).is_none() {
            return Err(ParseError::invalid("bytes_received", bpos));
        }
        r.bytes_sent = Some(parse_u64(tx).ok_or(ParseError::invalid("bytes_sent", bpos))?);
        r.request_time_us = Some(super::ms_us(d).ok_or(ParseError::invalid("duration", bpos))?);
        if esc && c.rest() == b"\\n" || c.at_end() {
            return Ok(Record::Request(r));
        }
        r.upstream_response_time = dash_empty(c.word("upstream_service_time")?);
        let mut xff: &[u8] = &[];
        for i in 0..5 {
            if c.at_end() || (esc && c.rest().starts_with(b"\\n")) {
                break;
            }
            let v = quoted(&mut c, esc, "field")?;
            match i {
                0 => xff = v,
                1 => r.user_agent = dash_empty(v),
                2 => r.trace_id = dash_empty(v),
                3 => r.host = dash_empty(v),
                _ => r.upstream_addr = upstream_host(v),
            }
        }
        r.client = first_xff(xff);
        // Istio: UPSTREAM_CLUSTER UPSTREAM_LOCAL_ADDRESS DOWNSTREAM_LOCAL_ADDRESS
        // DOWNSTREAM_REMOTE_ADDRESS ...
        let mut i = 0;
        while !c.at_end() && !(esc && c.rest().starts_with(b"\\n")) {
            let w = c.word("extra")?;
            match i {
                0 => r.route = dash_empty(w),
                3 if r.client.is_empty() => r.client = strip_port(dash_empty(w)),
                _ => {}
            }
            i += 1;
        }
        Ok(Record::Request(r))
    }

    fn json<'a>(&mut self, b: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let mut r = Request::default();
        let mut wrapped: Option<&'a [u8]> = None;
        let mut start: Option<&'a [u8]> = None;
        let mut code: Option<&'a [u8]> = None;
        let mut specific = false;
        let mut xff: &'a [u8] = &[];
        let mut remote: &'a [u8] = &[];
        let mut dur: &'a [u8] = &[];
        let mut sent: &'a [u8] = &[];
        let end = scan_object(b, 0, |k, v| {
            if let (b"log" | b"message", Val::Str(s)) = (k, v) {
                wrapped = Some(s);
                return;
            }
            let Some(s) = v.scalar() else { return };
            match k {
                b"start_time" | b"startTime" => start = Some(s),
                b"method" => r.method = dash_empty(s),
                b"path" => r.path = dash_empty(s),
                b"protocol" => r.protocol = dash_empty(s),
                b"response_code" | b"responseCode" => code = Some(s),
                b"response_flags" | b"responseFlags" => {
                    specific = true;
                    r.lb_flags = dash_empty(s)
                }
                b"bytes_sent" | b"bytesSent" => sent = s,
                b"duration" => dur = s,
                b"upstream_service_time" | b"upstreamServiceTime" => {
                    specific = true;
                    r.upstream_response_time = dash_empty(s)
                }
                b"x_forwarded_for" | b"xForwardedFor" => xff = s,
                b"user_agent" | b"userAgent" => r.user_agent = dash_empty(s),
                b"request_id" | b"requestId" | b"x_request_id" => r.trace_id = dash_empty(s),
                b"authority" => r.host = dash_empty(s),
                b"upstream_host" | b"upstreamHost" => {
                    specific = true;
                    r.upstream_addr = upstream_host(s)
                }
                b"upstream_cluster" | b"upstreamCluster" => {
                    specific = true;
                    r.route = dash_empty(s)
                }
                b"downstream_remote_address" | b"downstreamRemoteAddress" => remote = s,
                _ => {}
            }
        })
        .map_err(|p| ParseError::invalid("json", p))?;
        if json_tail(b, end).is_some() {
            return Err(ParseError::new(crate::ErrorKind::Trailing, "json", end));
        }
        if let Some(inner) = wrapped {
            if !specific {
                return self.text(inner, true);
            }
        }
        if !specific {
            return Err(ParseError::not_this_format(0));
        }
        let Some(t) = start else {
            return Ok(Record::Ignored);
        };
        r.ts = match self.cache.iso8601(t) {
            Some((ts, used)) if used == t.len() => ts,
            _ => return Err(ParseError::invalid("start_time", 0)),
        };
        if let Some(cd) = code {
            r.status = parse_status(cd).ok_or(ParseError::invalid("response_code", 0))?;
        }
        r.request_time_us = super::ms_us(dur);
        r.bytes_sent = parse_u64(sent);
        r.client = first_xff(xff);
        if r.client.is_empty() {
            r.client = strip_port(dash_empty(remote));
        }
        if r.method.is_empty() && r.path.is_empty() {
            r.request_line = &[];
        }
        Ok(Record::Request(r))
    }
}

/// Some non-whitespace after the object.
fn json_tail(b: &[u8], end: usize) -> Option<usize> {
    let i = super::json::skip_ws(b, end);
    (i < b.len()).then_some(i)
}

impl LineParser for EnvoyParser {
    fn format(&self) -> Format {
        Format::Envoy
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        if super::is_blank(rec) {
            return Ok(Record::Ignored);
        }
        match rec.first() {
            Some(b'{') => self.json(rec),
            _ => self.text(rec, false),
        }
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(Self::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &mut EnvoyParser, l: &'static [u8]) -> Request<'static> {
        match p.parse(l) {
            Ok(Record::Request(r)) => r,
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn default_format() {
        let mut p = EnvoyParser::new();
        let r = req(&mut p, br#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80""#);
        assert_eq!((r.status, r.lb_flags), (204, &b""[..]));
        assert_eq!(r.request_time_us, Some(226_000));
        assert_eq!(r.upstream_response_time, b"100");
        assert_eq!(r.upstream_addr, b"10.0.2.1:80");
        assert_eq!(r.client, b"10.0.35.28");
        assert_eq!(r.trace_id, b"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2");
        assert_eq!(r.host, b"locations");
        assert_eq!(
            (r.method, r.path),
            (&b"POST"[..], &b"/api/v1/locations"[..])
        );
        let r = req(&mut p, br#"[2024-01-01T00:00:00.000Z] "GET /x HTTP/1.1" 503 UF,URX 0 91 3001 - "1.2.3.4, 10.0.0.1" "curl" "id" "svc" "10.0.0.9:8080""#);
        assert_eq!((r.status, r.lb_flags), (503, &b"UF,URX"[..]));
        assert_eq!(r.upstream_response_time, b"");
        assert_eq!(r.client, b"1.2.3.4");
        let r = req(&mut p, br#"[2024-01-01T00:00:00.000Z] "GET /x HTTP/1.1" 504 UT "-" "-" 0 24 15000 - "-" "curl" "id" "svc" "10.0.0.9:8080" outbound|80||svc.ns.svc.cluster.local 10.0.0.2:5000 10.0.0.9:80 10.0.0.3:40000 -"#);
        assert_eq!((r.status, r.lb_flags), (504, &b"UT"[..]));
        assert_eq!(r.route, b"outbound|80||svc.ns.svc.cluster.local");
        assert_eq!(r.client, b"10.0.0.3");
    }

    #[test]
    fn wrapped_json_and_app_log() {
        let mut p = EnvoyParser::new();
        let r = req(&mut p, br#"{"log":"ACCESS [2019-04-10T03:49:34.451Z] \"GET /httpbin/status/501 HTTP/1.1\" 501 - 0 0 180 179 \"172.17.0.3\" \"curl/7.59.0\" \"413bf460\" \"httpbin.org\" \"67.43.156.18:80\"\n","stream":"stdout"}"#);
        assert_eq!(r.status, 501);
        assert_eq!(r.upstream_addr, b"67.43.156.18:80");
        assert_eq!(r.user_agent, b"curl/7.59.0");
        let r = req(&mut p, br#"{"start_time":"2024-01-01T00:00:00.000Z","method":"GET","path":"/a","protocol":"HTTP/1.1","response_code":502,"response_flags":"UC","bytes_sent":0,"duration":12,"upstream_service_time":null,"upstream_host":"10.0.0.1:80","request_id":"r1","x_forwarded_for":null,"downstream_remote_address":"9.9.9.9:1234"}"#);
        assert_eq!(
            (r.status, r.lb_flags, r.client),
            (502, &b"UC"[..], &b"9.9.9.9"[..])
        );
        assert_eq!(r.request_time_us, Some(12_000));
        assert!(matches!(
            p.parse(br#"{"protocol":"HTTP/1.1","upstreamHost":"10.52.0.54:8080","duration":"4"}"#),
            Ok(Record::Ignored)
        ));
        assert!(p
            .parse(br#"{"ClientHost":"1.2.3.4","DownstreamStatus":200}"#)
            .is_err());
        let Ok(Record::Event(e)) = p.parse(b"[2021-03-12 15:31:30.492][1][warning][runtime] [source/common/runtime/runtime_features.cc:31] Unable to use runtime") else { panic!() };
        assert_eq!(e.severity, Severity::Warn);
        assert_eq!(e.message, b"Unable to use runtime");
    }

    #[test]
    fn never_panics() {
        let mut p = EnvoyParser::new();
        assert!(p.parse(b"hello").is_err());
        assert!(p
            .parse(b"127.0.0.1 - - [06/Feb/2009:12:14:14 +0000] \"GET / HTTP/1.1\" 200 1")
            .is_err());
        let l: &[u8] = br#"{"log":"ACCESS [2019-04-10T03:49:34.451Z] \"GET /a HTTP/1.1\" 501 - 0 0 180 179 \"1\" \"c\\\"x\" \"4\" \"h\" \"6:80\"\n"} [2016-04-15T20:17:00.310Z] "POST /a HTTP/2" 204 - 154 0 226 100 "1" "n" "c" "l" "t" x y z w"#;
        for n in 0..l.len() {
            let _ = p.parse(&l[..n]);
            let _ = p.parse(&l[n..]);
        }
    }
}
