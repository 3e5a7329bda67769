//! Traefik access logs (v1 and v2+), CLF and JSON.
//!
//! CLF: `<client> - <userid> [<datetime>] "<method> <request> HTTP/<version>" <status>
//! <size> "<referrer>" "<user agent>" <number of requests> "<router name>" "<server URL>"
//! <request duration in ms>ms`. `-` is accepted for status and size (no response was
//! written: status 0) and for an unquoted referrer. Plain Apache CLF/combined lines (without
//! the Traefik fields) are rejected, so nginx logs are not mistaken for Traefik.
//!
//! JSON: `ClientHost` (else `ClientAddr`), `StartUTC` (else `StartLocal`, else `time`),
//! `RequestMethod`, `RequestPath`, `RequestProtocol`, `RequestHost` (else `RequestAddr`),
//! `DownstreamStatus`, `OriginStatus`, `DownstreamContentSize`, `Duration` (ns),
//! `OriginDuration` (ns), `RouterName` (v1 `FrontendName`), `ServiceAddr` (v1
//! `BackendAddr`, else the host of `ServiceURL` / `BackendURL`, string or object),
//! `request_X-Request-Id`, `request_User-Agent`, `request_Referer`, `RequestLine`.
//!
//! Mapping: `status` = DownstreamStatus, `upstream_status` = OriginStatus (empty when 0: no
//! origin answer), `request_time_us` = Duration (CLF: the `...ms` field),
//! `upstream_response_time` = OriginDuration **in nanoseconds as logged** (empty when no
//! origin answer), `route` = router name, `upstream_addr` = the server's `host:port`.
//! Traefik records no verdict of its own: `lb_flags` stays empty.
//!
//! Traefik's own log lines that end up in the same stream are events of kind
//! [`EventKind::Other`]: logfmt (`time="..." level=error msg="..."`), JSON with `level` and
//! `msg` but no request fields, and plugin output (`DEBUG: Plugin: 2025/09/05 13:53:40 msg`).
use super::json::{scan_object, Val};
use super::{host_only, strip_port, Cur};
use crate::fields::{dash_empty, parse_status, parse_u64, split_request_line};
use crate::time::SecondCache;
use crate::{Event, EventKind, Format, LineParser, ParseError, Record, Request, Severity, Ts};
use memchr::{memchr, memmem};

#[derive(Clone, Default)]
pub struct TraefikParser {
    cache: SecondCache,
}

impl TraefikParser {
    pub fn new() -> Self {
        Self::default()
    }
}

/// `http://10.0.1.3:3000/x` → `10.0.1.3:3000`; a bare path (v1 auth middleware logs the
/// path there) or `-` → empty.
fn server_addr(u: &[u8]) -> &[u8] {
    let u = dash_empty(u);
    let (auth, _) = super::split_url(u);
    if !auth.is_empty() {
        auth
    } else if u.starts_with(b"/") {
        &[]
    } else {
        u
    }
}

fn severity(l: &[u8]) -> Severity {
    match l {
        b"warning" | b"WARNING" | b"warn" | b"WARN" => Severity::Warn,
        b"fatal" | b"FATAL" | b"panic" | b"PANIC" => Severity::Crit,
        l => Severity::from_bytes(l).unwrap_or(Severity::Info),
    }
}

impl TraefikParser {
    fn iso(&mut self, t: &[u8]) -> Option<Ts> {
        match self.cache.iso8601(t) {
            Some((ts, used)) if used == t.len() => Some(ts),
            _ => None,
        }
    }

    fn clf<'a>(&mut self, b: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let mut c = Cur::new(b);
        let mut r = Request::default();
        r.client = dash_empty(c.word("client")?);
        c.word("ident")?;
        c.word("userid")?;
        let dpos = c.pos + 1;
        let d = c.bracket("datetime")?;
        r.ts = match self.cache.clf(d) {
            Some((ts, used)) if used == d.len() => ts,
            _ => return Err(ParseError::not_this_format(dpos)),
        };
        let req = c.quoted("request")?;
        r.request_line = req;
        let (m, p, proto) = split_request_line(req);
        (r.method, r.path, r.protocol) = (m, p, proto);
        let spos = c.pos + 1;
        let st = c.word("status")?;
        r.status = match st {
            b"-" => 0,
            s => parse_status(s).ok_or(ParseError::invalid("status", spos))?,
        };
        let zpos = c.pos + 1;
        let sz = c.word("size")?;
        r.bytes_sent = parse_u64(sz);
        if sz != b"-" && r.bytes_sent.is_none() {
            return Err(ParseError::invalid("size", zpos));
        }
        r.referer = dash_empty(c.field("referrer")?);
        r.user_agent = dash_empty(c.field("user_agent")?);
        let npos = c.pos + 1;
        let n = c.word("request_count")?;
        if parse_u64(n).is_none() {
            return Err(ParseError::invalid("request_count", npos));
        }
        r.route = dash_empty(c.quoted("router_name")?);
        r.upstream_addr = server_addr(c.quoted("server_url")?);
        let dpos = c.pos + 1;
        let dur = c.word("duration")?;
        let ms = dur
            .strip_suffix(b"ms")
            .and_then(parse_u64)
            .ok_or(ParseError::invalid("duration", dpos))?;
        r.request_time_us = ms.checked_mul(1000);
        Ok(Record::Request(r))
    }

    fn json<'a>(&mut self, b: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let mut r = Request::default();
        let (mut start_utc, mut start_local, mut time) = (None, None, None);
        let (mut ds, mut os, mut od, mut dur): (Option<&'a [u8]>, &'a [u8], &'a [u8], &'a [u8]) =
            (None, &[], &[], &[]);
        let (mut client_addr, mut req_addr, mut svc_url, mut size) =
            (&[][..], &[][..], &[][..], &[][..]);
        let (mut level, mut msg): (Option<&'a [u8]>, &'a [u8]) = (None, &[]);
        let mut has_req = false;
        let end = scan_object(b, 0, |k, v| {
            if let (b"ServiceURL" | b"BackendURL", Val::Obj(o)) = (k, v) {
                svc_url = super::json::get_str(o, 0, b"Host").unwrap_or(&[]);
                return;
            }
            let Some(s) = v.scalar() else { return };
            match k {
                b"ClientHost" => r.client = dash_empty(s),
                b"ClientAddr" => client_addr = s,
                b"StartUTC" => start_utc = Some(s),
                b"StartLocal" => start_local = Some(s),
                b"time" => time = Some(s),
                b"RequestMethod" => {
                    has_req = true;
                    r.method = dash_empty(s)
                }
                b"RequestPath" => r.path = s,
                b"RequestProtocol" => r.protocol = dash_empty(s),
                b"RequestHost" => r.host = dash_empty(s),
                b"RequestAddr" => req_addr = s,
                b"RequestLine" => r.request_line = s,
                b"DownstreamStatus" => ds = Some(s),
                b"OriginStatus" => os = s,
                b"OriginDuration" => od = s,
                b"Duration" => dur = s,
                b"DownstreamContentSize" => size = s,
                b"RouterName" | b"FrontendName" => r.route = dash_empty(s),
                b"ServiceAddr" | b"BackendAddr" => r.upstream_addr = dash_empty(s),
                b"ServiceURL" | b"BackendURL" => svc_url = server_addr(s),
                b"request_X-Request-Id" | b"request_X-Request-ID" | b"request_X-Request-Id_0" => {
                    r.trace_id = dash_empty(s)
                }
                b"request_User-Agent" => r.user_agent = dash_empty(s),
                b"request_Referer" => r.referer = dash_empty(s),
                b"level" => level = Some(s),
                b"msg" => msg = s,
                _ => {}
            }
        })
        .map_err(|p| ParseError::invalid("json", p))?;
        if super::json::skip_ws(b, end) < b.len() {
            return Err(ParseError::new(crate::ErrorKind::Trailing, "json", end));
        }
        let ts_src = start_utc.or(start_local).or(time);
        let ts = ts_src.and_then(|t| self.iso(t));
        let Some(dst) = ds else {
            if let (Some(l), false) = (level, has_req) {
                // Traefik's own JSON log line.
                return Ok(Record::Event(Event {
                    ts: ts.unwrap_or_default(),
                    kind: EventKind::Other,
                    severity: severity(l),
                    message: msg,
                    ..Default::default()
                }));
            }
            return Err(ParseError::not_this_format(0));
        };
        r.ts = ts.ok_or(ParseError::invalid("StartUTC", 0))?;
        r.status = parse_status(dst).ok_or(ParseError::invalid("DownstreamStatus", 0))?;
        if r.client.is_empty() {
            r.client = strip_port(client_addr);
        }
        if r.host.is_empty() {
            r.host = host_only(req_addr);
        }
        if r.upstream_addr.is_empty() {
            r.upstream_addr = svc_url;
        }
        if !os.is_empty() && os != b"0" {
            r.upstream_status = os;
            r.upstream_response_time = od;
        }
        r.request_time_us = parse_u64(dur).map(|ns| ns / 1000);
        r.bytes_sent = parse_u64(size);
        Ok(Record::Request(r))
    }

    /// `time="2021-01-01T00:00:00Z" level=error msg="..."`.
    fn logfmt<'a>(&mut self, b: &'a [u8]) -> Option<Record<'a>> {
        let t = b.strip_prefix(b"time=\"")?;
        let e = memchr(b'"', t)?;
        let ts = self.iso(t.get(..e)?)?;
        let rest = t.get(e + 1..)?;
        let lv = memmem::find(rest, b"level=")?;
        let lvl = rest.get(lv + 6..)?;
        let lvl = lvl.get(..memchr(b' ', lvl).unwrap_or(lvl.len()))?;
        let msg = match memmem::find(rest, b"msg=") {
            Some(m) => rest.get(m + 4..)?,
            None => rest,
        };
        let msg = msg
            .strip_prefix(b"\"")
            .map(|m| {
                m.get(..crate::fields::find_closing_quote(m).unwrap_or(m.len()))
                    .unwrap_or(m)
            })
            .unwrap_or(msg);
        Some(Record::Event(Event {
            ts,
            kind: EventKind::Other,
            severity: severity(lvl),
            message: msg,
            ..Default::default()
        }))
    }

    /// Plugin output: `DEBUG: Name: 2025/09/05 13:53:40 message`.
    fn plugin<'a>(&mut self, b: &'a [u8]) -> Option<Record<'a>> {
        let c1 = memmem::find(b, b": ")?;
        let lvl = b.get(..c1)?;
        if lvl.is_empty() || !lvl.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let sev = Severity::from_bytes(lvl)?;
        let rest = b.get(c1 + 2..)?;
        let c2 = memmem::find(rest, b": ")?;
        let name = rest.get(..c2)?;
        if name.is_empty() || memchr(b' ', name).is_some() {
            return None;
        }
        let tail = rest.get(c2 + 2..)?;
        let (ts, used) = self.cache.nginx_error(tail)?;
        Some(Record::Event(Event {
            ts,
            kind: EventKind::Other,
            severity: sev,
            message: crate::fields::trim(tail.get(used..)?),
            ..Default::default()
        }))
    }
}

impl LineParser for TraefikParser {
    fn format(&self) -> Format {
        Format::Traefik
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        if super::is_blank(rec) {
            return Ok(Record::Ignored);
        }
        let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
        match rec.first() {
            Some(b'{') => self.json(rec),
            Some(b't') if rec.starts_with(b"time=\"") => {
                self.logfmt(rec).ok_or(ParseError::not_this_format(0))
            }
            _ => match self.clf(rec) {
                Ok(r) => Ok(r),
                Err(e) => self.plugin(rec).ok_or(e),
            },
        }
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(Self::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &mut TraefikParser, l: &'static [u8]) -> Request<'static> {
        match p.parse(l) {
            Ok(Record::Request(r)) => r,
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn clf() {
        let mut p = TraefikParser::new();
        let r = req(&mut p, br#"10.0.0.2 - - [15/Feb/2023:10:56:55 +0000] "GET /login HTTP/2.0" 502 30758 "-" "-" 2 "grafana_route@docker" "http://10.0.1.3:3000" 122ms"#);
        assert_eq!((r.status, r.request_time_us), (502, Some(122_000)));
        assert_eq!(r.route, b"grafana_route@docker");
        assert_eq!(r.upstream_addr, b"10.0.1.3:3000");
        assert_eq!(r.ts.offset, Some(0));
        let r = req(
            &mut p,
            br#"::1 - - [15/Apr/2024:13:04:10 +0000] "GET / HTTP/1.1" - - "-" "-" 27 "-" "-" 0ms"#,
        );
        assert_eq!((r.status, r.bytes_sent, r.route), (0, None, &b""[..]));
        let r = req(&mut p, br#"1.2.3.4 - - [28/Feb/2018:17:30:33 +0000] "GET /en/ HTTP/2.0" 200 2814 - "Mozilla" 13 "Host-host1-com-0" "http://172.19.0.6:14008" 247ms"#);
        assert_eq!(r.referer, b"");
        // Plain combined is not Traefik.
        assert!(p
            .parse(br#"1.2.3.4 - - [28/Feb/2018:17:30:33 +0000] "GET / HTTP/1.1" 200 1 "-" "curl""#)
            .is_err());
        assert!(p.parse(br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#).is_err());
    }

    #[test]
    fn json_and_events() {
        let mut p = TraefikParser::new();
        let r = req(&mut p, br#"{"ClientAddr":"172.17.0.1:39490","ClientHost":"172.17.0.1","DownstreamContentSize":356,"DownstreamStatus":502,"Duration":215563,"OriginDuration":204708,"OriginStatus":503,"RequestHost":"t.local","RequestMethod":"GET","RequestPath":"/x","RequestProtocol":"HTTP/1.1","RouterName":"test@docker","ServiceURL":{"Scheme":"http","Host":"172.17.0.3:80","User":null},"StartUTC":"2021-12-08T14:02:43.464763557Z","request_X-Request-Id":"abc","time":"2021-12-08T14:02:43Z"}"#);
        assert_eq!((r.status, r.upstream_status), (502, &b"503"[..]));
        assert_eq!(r.upstream_addr, b"172.17.0.3:80");
        assert_eq!(r.request_time_us, Some(215));
        assert_eq!(r.upstream_response_time, b"204708");
        assert_eq!(r.trace_id, b"abc");
        assert_eq!(r.ts.wall_us % 1_000_000, 464_763);
        let r = req(&mut p, br#"{"ClientAddr":"[::1]:56348","DownstreamStatus":404,"Duration":32673,"OriginStatus":0,"RequestAddr":"h.local:8080","RequestMethod":"GET","RequestPath":"/","StartUTC":"2024-04-15T13:26:33.80902715Z"}"#);
        assert_eq!(
            (r.client, r.host, r.upstream_status),
            (&b"::1"[..], &b"h.local"[..], &b""[..])
        );
        let Ok(Record::Event(e)) =
            p.parse(br#"{"level":"error","msg":"boom","time":"2024-01-01T00:00:00Z"}"#)
        else {
            panic!()
        };
        assert_eq!((e.severity, e.message), (Severity::Error, &b"boom"[..]));
        let Ok(Record::Event(e)) =
            p.parse(br#"time="2024-01-01T00:00:00Z" level=warning msg="x y" providerName=docker"#)
        else {
            panic!()
        };
        assert_eq!((e.severity, e.message), (Severity::Warn, &b"x y"[..]));
        let Ok(Record::Event(e)) = p.parse(
            b"DEBUG: CrowdsecBouncerTraefikPlugin: 2025/09/05 13:53:40 handleStreamCache:updated",
        ) else {
            panic!()
        };
        assert_eq!(e.message, b"handleStreamCache:updated");
        assert!(p.parse(br#"{"status":"200","slbid":"x"}"#).is_err());
    }

    #[test]
    fn never_panics() {
        let mut p = TraefikParser::new();
        let l: &[u8] = br#"10.0.0.2 - - [15/Feb/2023:10:56:55 +0000] "GET /login HTTP/2.0" 200 30758 "-" "-" 2 "g@docker" "http://10.0.1.3:3000" 122ms {"DownstreamStatus":5,"StartUTC":"2021-12-08T14:02:43Z","ServiceURL":{"Host":"#;
        for n in 0..l.len() {
            let _ = p.parse(&l[..n]);
            let _ = p.parse(&l[n..]);
        }
    }
}
