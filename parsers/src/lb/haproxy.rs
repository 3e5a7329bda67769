//! HAProxy logs: `option httplog` request lines, `option tcplog` lines, and the server-state
//! and life-cycle messages HAProxy writes to the same log.
//!
//! Prefixes accepted before the message: none (`log stdout format raw`), an RFC 3164 syslog
//! header (`<PRI>` optional, `Feb  6 12:14:14 host haproxy[14389]: `, host optional), an
//! RFC 5424 header (`<134>1 2026-11-23T10:00:00.123Z host haproxy 14389 - - `), a bare tag
//! (`haproxy[674]: `), or the stderr/journal form `[WARNING]  (8) : ` before a message.
//!
//! httplog (`client:port [accept_date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes
//! req_cookie resp_cookie termination_state actconn/feconn/beconn/srv_conn/retries
//! srv_queue/backend_queue {captured req headers} {captured resp headers} "request"`), also
//! with logasap `+` prefixes, without capture blocks, with one extra field between
//! `backend/server` and the timers (a logged host, as in some custom formats → `host`), with
//! a request line cut by the syslog length limit (no closing quote), and with fields after
//! the request. Mapping: `ts` from the bracketed accept date (no zone), `route` =
//! `frontend backend/server` as logged, `upstream_addr` = `backend/server` (empty when the
//! server is `<NOSRV>`, `<STATS>`, `<CACHE>`...: no server was reached, `route` keeps the
//! marker), `request_time_us` = Ta (Tt in HAProxy < 1.5) in µs, `upstream_response_time` =
//! Tr **in milliseconds as logged** (`-1` → empty; see [`super::upstream_time_us`]),
//! `lb_flags` = the 4-character termination state (`SC--`, `sH--`, `cD--`, `----`...). No
//! server status is logged by HAProxy, so `upstream_status` stays empty.
//!
//! A JSON `log-format` (optionally in single quotes) with the field names of HAProxy's
//! log-format variable table is read too (`route` = backend, `upstream_addr` = server name).
//!
//! tcplog lines (`Tw/Tc/Tt bytes state ...`) and `Connect from ... (fe/MODE)` lines are
//! [`Record::Ignored`] (no HTTP). Events: `Server be/srv is DOWN...` (and `is going DOWN`,
//! `enters maintenance`) → [`EventKind::LbServerDown`], `Server be/srv is UP` →
//! [`EventKind::LbServerUp`], `backend be has no server available!` →
//! [`EventKind::LbNoServer`] (`pool` = backend, `upstream` = `be/srv`); `Proxy x started.`,
//! `Stopping frontend ...`, SSL handshake errors (`client [date] fe/bind: Connection error
//! during SSL handshake`) and any other message behind a `haproxy` syslog tag →
//! [`EventKind::Other`]. A message behind a tag that is not `haproxy*` and not an httplog or
//! tcplog line is rejected.
//!
//! Year of syslog timestamps: RFC 3164 headers carry none, and this crate does no I/O. Events
//! without a bracketed date take the year from [`HaproxyParser::with_year`], else the one
//! nearest the last bracketed accept date this parser saw (so `Dec 31` → `Jan 1` rolls over),
//! else the caller's [`YearHint`] (the input's dated lines or modification time), else the
//! clock's now. Never 1970.
use super::{strip_port, Cur};
use crate::fields::{dash_empty, parse_status, parse_u64, split_request_line};
use crate::time::{days_from_civil, digits, month_from_abbr, SecondCache, YearHint};
use crate::{Event, EventKind, Format, LineParser, ParseError, Record, Request, Severity, Ts};
use memchr::{memchr, memmem};

#[derive(Clone, Default)]
pub struct HaproxyParser {
    cache: SecondCache,
    /// Year for syslog timestamps without one (RFC 3164), when known.
    pub year: Option<i32>,
    /// Where the year comes from when no bracketed date was seen yet.
    pub hint: Option<YearHint>,
    /// Wall-clock seconds of the last bracketed accept date seen.
    last_dated: Option<i64>,
}

/// What the prefix said.
struct Prefix {
    /// Syslog timestamp (year filled in later for RFC 3164).
    ts: Option<SyslogTs>,
    /// The syslog tag / app name starts with `haproxy`.
    haproxy_tag: bool,
    /// Some prefix was present.
    any: bool,
}

#[derive(Clone, Copy)]
enum SyslogTs {
    Full(Ts),
    /// month, day, seconds of day
    NoYear(u32, u32, i64),
}

impl HaproxyParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that dates RFC 3164 syslog timestamps (which carry no year) in `year`.
    pub fn with_year(year: i32) -> Self {
        HaproxyParser {
            year: Some(year),
            ..Self::default()
        }
    }

    /// A parser that gives RFC 3164 syslog timestamps the year `hint` chooses (until a
    /// bracketed accept date is seen).
    pub fn with_hint(hint: YearHint) -> Self {
        HaproxyParser {
            hint: Some(hint),
            ..Self::default()
        }
    }

    fn syslog_ts(&self, s: SyslogTs) -> Ts {
        match s {
            SyslogTs::Full(t) => t,
            SyslogTs::NoYear(mo, d, secs) => {
                let wall = match (self.year, self.last_dated) {
                    (Some(y), _) => days_from_civil(y as i64, mo, d) * 86400 + secs,
                    (None, Some(t)) => YearHint::Near(t).resolve(mo, d, secs),
                    (None, None) => self.hint.unwrap_or_else(YearHint::now).resolve(mo, d, secs),
                };
                Ts::new(wall * 1_000_000, None)
            }
        }
    }

    /// Strip the syslog prefix; returns it and the offset of the message.
    fn prefix(&mut self, b: &[u8]) -> (Prefix, usize) {
        let mut p = Prefix {
            ts: None,
            haproxy_tag: false,
            any: false,
        };
        let mut i = 0;
        if b.first() == Some(&b'<') {
            if let Some(e) = memchr(b'>', b.get(..6).unwrap_or(b)) {
                if e > 1
                    && b.get(1..e)
                        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
                {
                    i = e + 1;
                    p.any = true;
                }
            }
        }
        let rest = b.get(i..).unwrap_or(&[]);
        // RFC 5424: VERSION SP TIMESTAMP SP HOST SP APP SP PROCID SP MSGID SP SD SP MSG
        if p.any && rest.starts_with(b"1 ") {
            let mut c = Cur::new(b);
            c.pos = i + 2;
            let tpos = c.pos;
            if let Ok(t) = c.word("timestamp") {
                if let Some((ts, used)) = self.cache.iso8601(t) {
                    if used == t.len() {
                        let _ = tpos;
                        let _host = c.word("host");
                        let app = c.word("app").unwrap_or(&[]);
                        let _procid = c.word("procid");
                        let _msgid = c.word("msgid");
                        while c.peek() == Some(b'[') {
                            if c.bracket("sd").is_err() {
                                break;
                            }
                        }
                        if c.peek() == Some(b'-') && c.rest().get(1).is_none_or(|&x| x == b' ') {
                            c.pos += 1;
                        }
                        c.skip_ws();
                        p.ts = Some(SyslogTs::Full(ts));
                        p.haproxy_tag = app.starts_with(b"haproxy");
                        return (p, c.pos);
                    }
                }
            }
        }
        // RFC 3164: Mmm dd hh:mm:ss
        if let Some(mo) = rest.get(..3).and_then(month_from_abbr) {
            if rest.get(3) == Some(&b' ')
                && rest.get(6) == Some(&b' ')
                && rest.get(9) == Some(&b':')
            {
                let day = match rest.get(4) {
                    Some(b' ') => digits(rest, 5, 1),
                    _ => digits(rest, 4, 2),
                };
                let h = digits(rest, 7, 2);
                let m = digits(rest, 10, 2);
                let s = digits(rest, 13, 2);
                if let (Some(d), Some(h), Some(m), Some(s), Some(b' ')) =
                    (day, h, m, s, rest.get(15))
                {
                    if d >= 1
                        && d <= crate::time::days_in_month(2000, mo)
                        && h < 24
                        && m < 60
                        && s < 61
                        && rest.get(12) == Some(&b':')
                    {
                        let mut c = Cur::new(b);
                        c.pos = i + 16;
                        let w1 = c.word("host").unwrap_or(&[]);
                        let tag = if w1.ends_with(b":") {
                            w1
                        } else {
                            c.word("tag").unwrap_or(&[])
                        };
                        if tag.ends_with(b":") {
                            c.skip_ws();
                            p.any = true;
                            p.ts = Some(SyslogTs::NoYear(mo, d, (h * 3600 + m * 60 + s) as i64));
                            p.haproxy_tag = tag.starts_with(b"haproxy");
                            return (p, c.pos);
                        }
                    }
                }
            }
        }
        // Bare tag: `haproxy[674]: `
        let mut c = Cur::new(b);
        c.pos = i;
        if let Ok(w) = c.word("tag") {
            if (w.ends_with(b"]:") && memchr(b'[', w).is_some()) || w == b"haproxy:" {
                c.skip_ws();
                p.any = true;
                p.haproxy_tag = w.starts_with(b"haproxy");
                return (p, c.pos);
            }
        }
        (p, i)
    }

    fn event<'a>(
        &self,
        p: &Prefix,
        ts: Option<Ts>,
        msg: &'a [u8],
        sev: Option<Severity>,
    ) -> Record<'a> {
        let mut e = Event {
            ts: ts.or(p.ts.map(|s| self.syslog_ts(s))).unwrap_or_default(),
            message: msg,
            severity: sev.unwrap_or(Severity::Notice),
            ..Default::default()
        };
        let mut c = Cur::new(msg);
        let first = c.word("message").unwrap_or(&[]);
        if first == b"Server" || first == b"server" {
            let bs = c.word("server").unwrap_or(&[]);
            let rest = c.rest();
            let has = |n: &[u8]| memmem::find(rest, n).is_some();
            let kind = if has(b" is DOWN") || has(b"going DOWN") || has(b"enters maintenance") {
                Some((EventKind::LbServerDown, Severity::Alert))
            } else if has(b" is UP") || has(b"going UP") || has(b"leaving forced maintenance") {
                Some((EventKind::LbServerUp, Severity::Notice))
            } else {
                None
            };
            if let Some((k, s)) = kind {
                e.kind = k;
                e.severity = sev.unwrap_or(s);
                e.upstream = bs;
                e.pool = bs
                    .get(..memchr(b'/', bs).unwrap_or(bs.len()))
                    .unwrap_or(&[]);
                // the check's HTTP status (`reason: Layer7 wrong status, code: 403`)
                e.number = memmem::find(rest, b"code: ").and_then(|i| {
                    let d = &rest[i + 6..];
                    let n = d.iter().take_while(|b| b.is_ascii_digit()).count();
                    std::str::from_utf8(&d[..n]).ok()?.parse().ok()
                });
            }
        } else if (first == b"backend" || first == b"proxy")
            && memmem::find(msg, b"has no server available").is_some()
        {
            e.kind = EventKind::LbNoServer;
            e.severity = sev.unwrap_or(Severity::Emerg);
            e.pool = c.word("backend").unwrap_or(&[]);
        }
        Record::Event(e)
    }

    /// `client [date] ...`: an httplog / tcplog line or an SSL handshake error.
    fn access<'a>(&mut self, b: &'a [u8], m: usize, p: &Prefix) -> Result<Record<'a>, ParseError> {
        let mut c = Cur::new(b);
        c.pos = m;
        let client = c.word("client")?;
        let dpos = c.pos + 1;
        let date = c.bracket("accept_date")?;
        let ts = match self.cache.clf(date) {
            Some((ts, used)) if used == date.len() => ts,
            _ => return Err(ParseError::invalid("accept_date", dpos)),
        };
        self.last_dated = Some(ts.wall_us.div_euclid(1_000_000));
        c.skip_ws();
        let fe_start = c.pos;
        let fe = c.word("frontend")?;
        if fe.ends_with(b":") {
            // `fe/bind: Connection error during SSL handshake`
            return Ok(self.event(p, Some(ts), c.b.get(fe_start..).unwrap_or(&[]), None));
        }
        let bs_pos = c.pos + 1;
        let bs = c.word("backend/server")?;
        let be_end = c.pos;
        let Some(slash) = memchr(b'/', bs) else {
            return Err(ParseError::expected(
                "backend/server",
                "backend/server",
                bs_pos,
            ));
        };
        let tpos = c.pos + 1;
        let mut t = c.word("timers")?;
        let mut host: &'a [u8] = &[];
        if timers(t).is_none() {
            host = t;
            t = c.word("timers")?;
        }
        let tm = timers(t).ok_or(ParseError::invalid("timers", tpos))?;
        let spos = c.pos + 1;
        let st = c.word("status")?;
        if tm.n == 3 {
            // tcplog: Tw/Tc/Tt bytes termination_state conns queues
            let bytes = st.strip_prefix(b"+").unwrap_or(st);
            if parse_u64(bytes).is_none() {
                return Err(ParseError::invalid("bytes_read", spos));
            }
            let term = c.word("termination_state")?;
            if term.len() != 2 && term.len() != 4 {
                return Err(ParseError::invalid("termination_state", c.pos));
            }
            return Ok(Record::Ignored);
        }
        if tm.n != 5 {
            return Err(ParseError::invalid("timers", tpos));
        }
        let status = if st == b"-1" {
            0
        } else {
            parse_status(st).ok_or(ParseError::invalid("status", spos))?
        };
        let bpos = c.pos + 1;
        let bytes = c.word("bytes_read")?;
        let bytes_sent = parse_u64(bytes.strip_prefix(b"+").unwrap_or(bytes))
            .ok_or(ParseError::invalid("bytes_read", bpos))?;
        c.word("captured_request_cookie")?;
        c.word("captured_response_cookie")?;
        let tpos = c.pos + 1;
        let term = c.word("termination_state")?;
        if term.len() != 4 {
            return Err(ParseError::invalid("termination_state", tpos));
        }
        let cpos = c.pos + 1;
        let conns = c.word("conns")?;
        if conns.iter().filter(|&&x| x == b'/').count() != 4 {
            return Err(ParseError::invalid("conns", cpos));
        }
        let qpos = c.pos + 1;
        let queues = c.word("queues")?;
        if memchr(b'/', queues).is_none() {
            return Err(ParseError::invalid("queues", qpos));
        }
        // Up to two capture blocks; they may hold spaces.
        for _ in 0..2 {
            if c.peek() == Some(b'{') {
                let inner = c.rest();
                let e = memchr(b'}', inner).ok_or(ParseError::expected(
                    "}",
                    "captured_headers",
                    c.pos,
                ))?;
                c.pos += e + 1;
            }
        }
        let request: &'a [u8] = match c.peek() {
            Some(b'"') => {
                let inner = c.b.get(c.pos + 1..).unwrap_or(&[]);
                // Cut by the syslog length limit: no closing quote, keep what is there.
                match memchr::memrchr(b'"', inner) {
                    Some(e) => inner.get(..e).unwrap_or(&[]),
                    None => inner,
                }
            }
            None => &[],
            Some(_) => return Err(ParseError::expected("\"", "request", c.pos)),
        };
        let srv = bs.get(slash + 1..).unwrap_or(&[]);
        let (method, path, protocol) = split_request_line(request);
        let r = Request {
            ts,
            client: dash_empty(strip_port(client)),
            method,
            path,
            protocol,
            request_line: request,
            host,
            status,
            bytes_sent: Some(bytes_sent),
            request_time_us: tm.total.and_then(super::ms_us),
            upstream_addr: if srv.first() == Some(&b'<') || srv.is_empty() {
                &[]
            } else {
                bs
            },
            upstream_response_time: tm.tr.unwrap_or(&[]),
            lb_flags: term,
            route: b.get(fe_start..be_end).unwrap_or(&[]),
            ..Default::default()
        };
        Ok(Record::Request(r))
    }
}

impl HaproxyParser {
    /// A JSON `log-format` using the field names of HAProxy's log-format variable table
    /// (`client_ip`, `gmt_date_time`/`date_time`, `http_request`, `status_code`,
    /// `termination_state[_with_cookie_status]`, `frontend_name`, `backend_name`,
    /// `server_name`, `tt`, `response_time` (Tr), `bytes_read`, `unique_id`).
    fn json<'a>(&mut self, b: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let mut r = Request::default();
        let (mut gmt, mut local, mut status) = (None, None, None);
        let (mut tt, mut server, mut term4) = (&[][..], &[][..], &[][..]);
        let mut bytes: &[u8] = &[];
        let end = super::json::scan_object(b, 0, |k, v| {
            let Some(s) = v.scalar() else { return };
            match k {
                b"client_ip" => r.client = dash_empty(s),
                b"gmt_date_time" => gmt = Some(s),
                b"date_time" => local = Some(s),
                b"http_request" => r.request_line = s,
                b"status_code" => status = Some(s),
                b"termination_state" if r.lb_flags.is_empty() => r.lb_flags = s,
                b"termination_state_with_cookie_status" => term4 = s,
                b"backend_name" => r.route = s,
                b"server_name" => server = s,
                b"tt" => tt = s,
                b"response_time" => r.upstream_response_time = s,
                b"bytes_read" => bytes = s,
                b"unique_id" => r.trace_id = dash_empty(s),
                _ => {}
            }
        })
        .map_err(|p| ParseError::invalid("json", p))?;
        if super::json::skip_ws(b, end) < b.len() {
            return Err(ParseError::new(crate::ErrorKind::Trailing, "json", end));
        }
        let st = status.ok_or(ParseError::not_this_format(0))?;
        r.status = if st == b"-1" {
            0
        } else {
            parse_status(st).ok_or(ParseError::invalid("status_code", 0))?
        };
        let d = gmt.or(local).ok_or(ParseError::truncated("date_time", 0))?;
        r.ts = match self.cache.clf(d) {
            Some((ts, used)) if used == d.len() => ts,
            _ => return Err(ParseError::invalid("date_time", 0)),
        };
        if !term4.is_empty() {
            r.lb_flags = term4;
        }
        if r.upstream_response_time == b"-1" {
            r.upstream_response_time = &[];
        }
        if server.first() != Some(&b'<') {
            r.upstream_addr = dash_empty(server);
        }
        r.request_time_us = super::ms_us(tt);
        r.bytes_sent = parse_u64(bytes);
        (r.method, r.path, r.protocol) = split_request_line(r.request_line);
        Ok(Record::Request(r))
    }
}

struct Timers<'a> {
    n: usize,
    /// Tr (httplog) as logged, `None` when `-1`.
    tr: Option<&'a [u8]>,
    /// Ta / Tt (last timer), `None` when `-1`.
    total: Option<&'a [u8]>,
}

/// `10/0/30/69/109`, `-1/-1/-1/-1/0`, `9/0/7/14/+30`, `0/0/5007`.
fn timers(t: &[u8]) -> Option<Timers<'_>> {
    let mut n = 0;
    let mut tr = None;
    let mut total = None;
    for part in t.split(|&c| c == b'/') {
        let v = part.strip_prefix(b"+").unwrap_or(part);
        let ok = v == b"-1" || (!v.is_empty() && v.len() <= 12 && v.iter().all(u8::is_ascii_digit));
        if !ok {
            return None;
        }
        let val = if v == b"-1" { None } else { Some(v) };
        if n == 3 {
            tr = val;
        }
        total = val;
        n += 1;
    }
    if n != 3 && n != 5 {
        return None;
    }
    Some(Timers {
        n,
        tr: if n == 5 { tr } else { None },
        total,
    })
}

/// `[WARNING]  (8) : msg`, `[NOTICE] 123/101010 (1234) : msg` → (severity, msg).
fn stderr_form(m: &[u8]) -> Option<(Severity, &[u8])> {
    let rest = m.strip_prefix(b"[")?;
    let e = memchr(b']', rest)?;
    let sev = match rest.get(..e)? {
        b"ALERT" => Severity::Alert,
        b"WARNING" => Severity::Warn,
        b"NOTICE" => Severity::Notice,
        b"EMERG" => Severity::Emerg,
        b"INFO" => Severity::Info,
        b"DEBUG" => Severity::Debug,
        b"ERROR" | b"ERR" => Severity::Error,
        b"CRIT" => Severity::Crit,
        _ => return None,
    };
    let after = rest.get(e + 1..)?;
    let colon = memmem::find(after, b" : ")?;
    Some((sev, after.get(colon + 3..)?))
}

impl LineParser for HaproxyParser {
    fn format(&self) -> Format {
        Format::Haproxy
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        if super::is_blank(rec) {
            return Ok(Record::Ignored);
        }
        let (p, m) = self.prefix(rec);
        let msg = rec.get(m..).unwrap_or(&[]);
        let msg = msg.strip_suffix(b"\r").unwrap_or(msg);
        let body = msg.strip_prefix(b"'").unwrap_or(msg);
        if body.first() == Some(&b'{') {
            let body = body.strip_suffix(b"'").unwrap_or(body);
            return self.json(body);
        }
        if let Some((sev, text)) = stderr_form(msg) {
            return Ok(self.event(&p, None, text, Some(sev)));
        }
        // An access line starts with `client:port [`.
        let mut c = Cur::new(msg);
        if let Ok(w) = c.word("client") {
            if memchr(b':', w).is_some() && c.peek() == Some(b'[') {
                match self.access(rec, m, &p) {
                    Ok(r) => return Ok(r),
                    Err(e) if !p.haproxy_tag => return Err(e),
                    Err(e) if e.field != "accept_date" => return Err(e),
                    Err(_) => {}
                }
            }
        }
        if msg.starts_with(b"Connect from ") && memmem::find(msg, b" to ").is_some() {
            return Ok(Record::Ignored);
        }
        let known = msg.starts_with(b"Server ")
            || msg.starts_with(b"Proxy ")
            || msg.starts_with(b"Stopping ")
            || msg.starts_with(b"Pausing ")
            || msg.starts_with(b"Resuming ")
            || (msg.starts_with(b"backend ")
                && memmem::find(msg, b"has no server available").is_some());
        if p.haproxy_tag || (p.any && known) {
            return Ok(self.event(&p, None, msg, None));
        }
        Err(ParseError::not_this_format(m))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(HaproxyParser {
            year: self.year,
            hint: self.hint,
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &mut HaproxyParser, l: &'static [u8]) -> Request<'static> {
        match p.parse(l) {
            Ok(Record::Request(r)) => r,
            o => panic!("{o:?}"),
        }
    }
    fn ev(p: &mut HaproxyParser, l: &'static [u8]) -> Event<'static> {
        match p.parse(l) {
            Ok(Record::Event(e)) => e,
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn httplog_variants() {
        let mut p = HaproxyParser::new();
        let r = req(&mut p, b"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"");
        assert_eq!(r.client, b"10.0.1.2");
        assert_eq!(r.route, b"http-in static/srv1");
        assert_eq!(r.upstream_addr, b"static/srv1");
        assert_eq!(r.request_time_us, Some(109_000));
        assert_eq!(r.upstream_response_time, b"69");
        assert_eq!(r.lb_flags, b"----");
        assert_eq!(r.path, b"/index.html");
        assert_eq!(r.bytes_sent, Some(2750));
        assert_eq!(r.ts.wall_us % 1_000_000, 655_000);
        assert_eq!(r.ts.offset, None);
        // raw, <NOSRV>, SC--
        let r = req(&mut p, b"10.0.0.1:34552 [15/Oct/2003:15:26:31.462] px-http px-http/<NOSRV> 3183/-1/-1/-1/11215 503 0 - - SC-- 205/202/202/115/3 0/0 \"HEAD / HTTP/1.0\"");
        assert_eq!(
            (r.status, r.lb_flags, r.upstream_addr),
            (503, &b"SC--"[..], &b""[..])
        );
        assert_eq!(r.route, b"px-http px-http/<NOSRV>");
        assert_eq!(r.upstream_response_time, b"");
        // bare tag, -1 status, empty request
        let r = req(&mut p, b"haproxy[18113]: 127.0.0.1:34548 [15/Oct/2003:15:18:55.798] px-http px-http/<NOSRV> -1/-1/-1/-1/8490 -1 0 - - CR-- 2/2/2/0/0 0/0 \"\"");
        assert_eq!((r.status, r.request_time_us), (0, Some(8_490_000)));
        // logasap, no fraction in date
        let r = req(&mut p, b"Aug  9 20:26:09 localhost haproxy[2022]: 127.0.0.1:34014 [09/Aug/2004:20:26:09] proxy-out proxy-out/cache1 0/0/0/162/+162 200 +350 - - ---- 0/0/0/0/0 0/0 {fr.adserver.yahoo.co||http://fr.f416.mail.} {|864|private||} \"GET http://fr.adserver.yahoo.com/\"");
        assert_eq!(
            (r.request_time_us, r.bytes_sent),
            (Some(162_000), Some(350))
        );
        assert_eq!(r.method, b"GET");
        // extra host field, unix client, RFC 5424, truncated request
        let r = req(&mut p, b"<134>1 2021-05-22T02:22:22.222+02:00 server1 haproxy 5089 - - -:22222 [22/May/2021:02:22:22.222] www-https~ myapp/node2 site.domain.com 0/0/0/18/18 200 200 - - ---- 222/222/2/0/0 0/0 \"OPTIONS /api/v2/app/?x=aaaa");
        assert_eq!((r.client, r.host), (&b""[..], &b"site.domain.com"[..]));
        assert_eq!(r.request_line, b"OPTIONS /api/v2/app/?x=aaaa");
        // captured headers with spaces
        let r = req(&mut p, b"Feb 26 00:29:44 192.168.8.2 haproxy[7]: 178.203.144.192:50210 [26/Feb/2019:00:29:44.326] prod_http_in~ prod_http_out/nginx1 0/0/1/48/49 200 3313 - - ---- 3/2/0/0/0 0/0 {Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:65.0)} {} \"POST /x HTTP/1.1\"");
        assert_eq!(r.method, b"POST");
        // IPv6 client
        let r = req(&mut p, b"2001:db8::1234:58430 [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"");
        assert_eq!(r.client, b"2001:db8::1234");
    }

    #[test]
    fn tcplog_and_events() {
        let mut p = HaproxyParser::new();
        assert!(matches!(p.parse(b"Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0"), Ok(Record::Ignored)));
        assert!(matches!(p.parse(b"Feb  6 12:12:09 localhost haproxy[14385]: Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)"), Ok(Record::Ignored)));
        // year taken from the last bracketed date (2009)
        let e = ev(&mut p, b"Feb  6 12:20:00 lb1 haproxy[1]: Server be_app/srv1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.");
        assert_eq!(e.kind, EventKind::LbServerDown);
        assert_eq!((e.pool, e.upstream), (&b"be_app"[..], &b"be_app/srv1"[..]));
        assert_eq!(
            e.ts.wall_us,
            (days_from_civil(2009, 2, 6) * 86400 + 12 * 3600 + 20 * 60) * 1_000_000
        );
        assert_eq!(e.number, None);
        let e = ev(&mut p, b"Feb  6 12:21:00 lb1 haproxy[1]: Server be_app/srv1 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms. 1 active and 0 backup servers online.");
        assert_eq!(e.kind, EventKind::LbServerUp);
        assert_eq!(e.number, Some(200));
        let e = ev(
            &mut p,
            b"Feb  6 12:20:00 lb1 haproxy[1]: backend be_app has no server available!",
        );
        assert_eq!((e.kind, e.pool), (EventKind::LbNoServer, &b"be_app"[..]));
        let e = ev(&mut p, b"[WARNING]  (8) : Server be/s2 is DOWN, reason: Layer7 timeout, check duration: 2001ms.");
        assert_eq!(
            (e.kind, e.severity),
            (EventKind::LbServerDown, Severity::Warn)
        );
        let e = ev(
            &mut p,
            b"Feb 26 10:07:24 192.168.8.2 haproxy[1]: Proxy prod_http_in started.",
        );
        assert_eq!(e.kind, EventKind::Other);
        let e = ev(&mut p, b"Dec  3 18:27:14 localhost haproxy[6103]: 127.0.0.1:56059 [03/Dec/2012:17:35:10.380] frt/f1: Connection error during SSL handshake");
        assert_eq!(e.message, b"frt/f1: Connection error during SSL handshake");
        let mut p = HaproxyParser::with_year(2026);
        let e = ev(&mut p, b"Nov 23 10:00:00 lb haproxy[1]: Proxy x started.");
        assert_eq!(e.ts.wall_us, (20780 * 86400 + 36000) * 1_000_000);
        // before any bracketed date: the caller's hint, never 1970; then the nearest year to
        // the last bracketed date (a `Jan 1` line after `31/Dec/2026` is in 2027)
        let jan2 = days_from_civil(2027, 1, 2) * 86400;
        let mut p = HaproxyParser::with_hint(YearHint::Before(jan2));
        let e = ev(&mut p, b"Dec 31 23:59:00 lb haproxy[1]: Health check for server be/s1 failed, reason: Layer4 connection problem, check duration: 0ms, status: 0/2 DOWN.");
        assert_eq!(e.ts.wall_us, (jan2 - 86400 - 60) * 1_000_000);
        req(&mut p, b"Dec 31 23:59:59 lb haproxy[1]: 1.2.3.4:5 [31/Dec/2026:23:59:59.000] fe be/s1 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"");
        let e = ev(&mut p, b"Jan  1 00:00:05 lb haproxy[1]: Proxy x stopped.");
        assert_eq!(e.ts.wall_us, (jan2 - 86400 + 5) * 1_000_000);
        assert!(HaproxyParser::new().clone_box().parse(b"Feb 26 10:07:24 h haproxy[1]: Proxy p started.").is_ok_and(|r| matches!(r, Record::Event(e) if e.ts.wall_us > days_from_civil(2020, 1, 1) * 86_400_000_000)));
    }

    #[test]
    fn rejects_never_panics() {
        let mut p = HaproxyParser::new();
        assert!(p.parse(b"hello world").is_err());
        assert!(p
            .parse(b"Feb  6 12:14:14 host nginx[1]: something")
            .is_err());
        assert!(p
            .parse(b"10.0.1.2:1 [06/Feb/2009:12:14:14.655] fe be/s x/y 200")
            .is_err());
        assert!(p
            .parse(b"127.0.0.1 - - [06/Feb/2009:12:14:14 +0000] \"GET / HTTP/1.1\" 200 1")
            .is_err());
        let l: &[u8] = b"<134>Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"";
        for n in 0..l.len() {
            let _ = p.parse(&l[..n]);
            let _ = p.parse(&l[n..]);
        }
    }
}
