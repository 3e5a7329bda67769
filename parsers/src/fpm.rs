//! php-fpm master (error) log.
//!
//! ```text
//! [23-Nov-2026 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it
//! [23-Nov-2026 10:00:00.123456] DEBUG: pid 1, fpm_event_loop(), line 418: event module ...
//! Nov 23 10:00:00 host php-fpm[123]: [WARNING] [pool www] server reached ...   (error_log = syslog)
//! 2026-11-23T10:00:00.123+01:00 host php-fpm[123]: [WARNING] [pool www] ...      (rsyslog ISO)
//! Nov 23 10:00:00 host php-fpm[123]: [23-Nov-2026 10:00:00] WARNING: ...         (stderr in journald)
//! ```
//!
//! php-fpm's `zlog` writes `[time] LEVEL: ` to a file (microseconds only at debug level) and
//! `[LEVEL] ` to syslog, where the time, host and pid are syslog's. With `catch_workers_output`
//! a worker's stderr shows up as `... WARNING: [pool www] child 12 said into stderr: "..."`, and
//! with `decorate_workers_output = no` (or a PHP stack trace) as lines with no timestamp at all
//! (`NOTICE: PHP message: ...`, `#0 {main}`). Those belong to the entry before them: the
//! framing is [`Framing::MultiLine`] and a record starts at a line beginning with `[` + a
//! php-fpm timestamp, or with a syslog prefix from a php-fpm tag.
//!
//! The same folder often holds a pool's PHP `error_log` (`php_admin_value[error_log]`), written
//! by the PHP engine inside the php-fpm workers: `[25-Oct-2018 07:15:06 UTC] PHP Warning:  ...`
//! (the zone is PHP's `date.timezone` identifier). Those lines are accepted too: the zone gives
//! the offset when it is `UTC`/`GMT` or numeric (else the caller's zone applies), `PHP Fatal
//! error`/`PHP Parse error`/uncaught exceptions become [`EventKind::FastcgiPhpFatal`] (id
//! `php_fatal`, the `app_error` evidence) with the message in `script`, everything else `Other`.
//!
//! Syslog timestamps (`Nov 23 10:00:00`) carry no year: the year is the one the parser's
//! [`time::YearHint`] chooses (the caller's: the input's dated lines or modification time;
//! the clock's now by default), never 1970.

use memchr::{memchr, memmem};

use crate::fields::parse_u64;
use crate::time::{self, SecondCache, Ts};
use crate::{Event, EventKind, Format, Framing, LineParser, ParseError, Record, Severity};

#[derive(Clone)]
pub struct FpmErrorParser {
    cache: SecondCache,
    /// Where the year of syslog timestamps comes from.
    hint: time::YearHint,
}

impl Default for FpmErrorParser {
    fn default() -> Self {
        Self::new()
    }
}

impl FpmErrorParser {
    /// Year-less syslog timestamps dated relative to the clock's now.
    pub fn new() -> Self {
        Self::with_hint(time::YearHint::now())
    }

    /// A parser that resolves year-less syslog timestamps relative to `unix_secs` (wall clock
    /// of the log's zone, as seconds since 1970), the time the log was last written.
    pub fn with_reference_time(unix_secs: i64) -> Self {
        Self::with_hint(time::YearHint::Before(unix_secs))
    }

    /// A parser that gives year-less syslog timestamps the year `hint` chooses.
    pub fn with_hint(hint: time::YearHint) -> Self {
        FpmErrorParser {
            cache: SecondCache::new(),
            hint,
        }
    }

    /// `Mmm dd HH:MM:SS` (15 bytes) → wall-clock microseconds, with the inferred year.
    fn rfc3164_ts(&self, b: &[u8]) -> Option<Ts> {
        let mo = time::month_from_abbr(b.get(0..3)?)?;
        let d = match b.get(4..6)? {
            [b' ', x] if x.is_ascii_digit() => (x - b'0') as u32,
            _ => time::digits(b, 4, 2)?,
        };
        let h = time::digits(b, 7, 2)?;
        let mi = time::digits(b, 10, 2)?;
        let s = time::digits(b, 13, 2)?;
        if d == 0 || d > time::days_in_month(2000, mo) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let sod = (h * 3600 + mi * 60 + s) as i64;
        Some(Ts::new(self.hint.resolve(mo, d, sod) * 1_000_000, None))
    }
}

/// `DD-Mon-YYYY HH:MM:SS` at `p` (shape only).
pub(crate) fn fpm_ts_shape(b: &[u8], p: usize) -> bool {
    let Some(s) = b.get(p..p + 20) else {
        return false;
    };
    const SHAPE: &[u8; 20] = b"00-Aaa-0000 00:00:00";
    s.iter().zip(SHAPE.iter()).all(|(&c, &t)| match t {
        b'0' => c.is_ascii_digit(),
        b'A' | b'a' => c.is_ascii_alphabetic(),
        _ => c == t,
    })
}

/// The syslog timestamp kinds recognised before `HOST TAG: `.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyslogTime {
    /// `Nov 23 10:00:00` (15 bytes)
    Rfc3164,
    /// `2026-11-23T10:00:00[.ffffff][zone]`
    Iso,
}

/// A syslog/journald prefix: time kind, the writer's pid, where the message body starts.
fn syslog_prefix(line: &[u8]) -> Option<(SyslogTime, Option<u32>, usize)> {
    let (kind, mut i) = if line.first().is_some_and(|c| c.is_ascii_alphabetic())
        && line.get(3) == Some(&b' ')
        && line.get(6) == Some(&b' ')
        && line.get(9) == Some(&b':')
    {
        (SyslogTime::Rfc3164, 15)
    } else if line.get(4) == Some(&b'-')
        && line.get(10) == Some(&b'T')
        && line.first().is_some_and(|c| c.is_ascii_digit())
    {
        (
            SyslogTime::Iso,
            memchr(b' ', line.get(..line.len().min(40))?)?,
        )
    } else {
        return None;
    };
    if line.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    // HOST
    let host_len = memchr(b' ', line.get(i..)?)?;
    if host_len == 0 {
        return None;
    }
    i += host_len + 1;
    // TAG[PID]: or TAG:
    let rest = line.get(i..)?;
    let colon = memmem::find(rest.get(..rest.len().min(64))?, b": ")?;
    let tag = rest.get(..colon)?;
    if tag.contains(&b' ') {
        return None;
    }
    let (name, pid) = match memchr(b'[', tag) {
        Some(o) if tag.last() == Some(&b']') => (
            tag.get(..o)?,
            parse_u64(tag.get(o + 1..tag.len() - 1)?).and_then(|v| u32::try_from(v).ok()),
        ),
        _ => (tag, None),
    };
    let lower_has = |needle: &[u8]| {
        name.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if !(lower_has(b"fpm") || lower_has(b"php")) {
        return None;
    }
    Some((kind, pid, i + colon + 2))
}

#[inline]
fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_u64(b).and_then(|v| u32::try_from(v).ok())
}

/// Leading ASCII digits of `b` as a number, and how many bytes they took.
fn leading_u64(b: &[u8]) -> Option<(u64, usize)> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    Some((parse_u64(b.get(..n)?)?, n))
}

/// `LEVEL: ` at the start of `b` → (severity, bytes used).
fn level_colon(b: &[u8]) -> Option<(Severity, usize)> {
    let c = memchr(b':', b.get(..b.len().min(10))?)?;
    let sev = Severity::from_bytes(b.get(..c)?)?;
    let used = if b.get(c + 1) == Some(&b' ') {
        c + 2
    } else {
        c + 1
    };
    Some((sev, used))
}

impl LineParser for FpmErrorParser {
    fn format(&self) -> Format {
        Format::FpmError
    }

    fn framing(&self) -> Framing {
        Framing::MultiLine
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        (line.first() == Some(&b'[') && fpm_ts_shape(line, 1)) || syslog_prefix(line).is_some()
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let rec = trim_end(rec);
        if rec.iter().all(|c| c.is_ascii_whitespace()) {
            // A blank line (the first line of a file, or lines that the framer could not
            // attach to an entry before them).
            return Ok(Record::Ignored);
        }
        if rec.first() == Some(&b'[') && fpm_ts_shape(rec, 1) {
            return self.native(rec, 0, None);
        }
        let Some((tkind, pid, body)) = syslog_prefix(rec) else {
            return Err(ParseError::not_this_format(0));
        };
        if rec.get(body) == Some(&b'[') && fpm_ts_shape(rec, body + 1) {
            // php-fpm's own file format inside a journald/syslog line: its timestamp has a year.
            return self.native(rec, body, pid);
        }
        let ts = match tkind {
            SyslogTime::Rfc3164 => self.rfc3164_ts(rec),
            SyslogTime::Iso => self.cache.iso8601(rec).map(|(t, _)| t),
        }
        .ok_or_else(|| ParseError::invalid("time", 0))?;
        let b = rec.get(body..).unwrap_or(&[]);
        // `[LEVEL] msg` (error_log = syslog), `LEVEL: msg`, or raw worker output.
        let (severity, used) = if let Some(r) = b.strip_prefix(b"[") {
            match memchr(b']', r.get(..r.len().min(10)).unwrap_or(&[])) {
                Some(e) => match Severity::from_bytes(r.get(..e).unwrap_or(&[])) {
                    Some(s) => (s, e + 2 + usize::from(r.get(e + 1) == Some(&b' '))),
                    None => (Severity::Notice, 0),
                },
                None => (Severity::Notice, 0),
            }
        } else {
            level_colon(b).unwrap_or((Severity::Notice, 0))
        };
        let msg = b.get(used.min(b.len())..).unwrap_or(&[]);
        // DEBUG in syslog mode: "[DEBUG] pid 1, fpm_x(), line 12: msg" — keep as is.
        Ok(Record::Event(master_event(ts, severity, pid, msg)))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }

    /// The time of a native line (`[DD-Mon-YYYY HH:MM:SS] LEVEL: ...`) without building its
    /// event; other lines (PHP's error_log with a zone, syslog) take the full parse.
    fn instant(&mut self, rec: &[u8]) -> Option<Option<Ts>> {
        let rec = trim_end(rec);
        if !(rec.first() == Some(&b'[') && fpm_ts_shape(rec, 1)) {
            return None;
        }
        let b = rec.get(1..).unwrap_or(&[]);
        // as `native`: a time that does not read is an error (no instant)
        let Some((ts, used)) = self.cache.fpm(b) else {
            return Some(None);
        };
        if b.get(used) != Some(&b']') {
            return None;
        }
        let mut i = used + 1;
        if b.get(i) == Some(&b' ') {
            i += 1;
        }
        // the event is built whatever the message: the level decides
        Some(level_colon(b.get(i..).unwrap_or(&[])).map(|_| ts))
    }
}

impl FpmErrorParser {
    /// `[DD-Mon-YYYY HH:MM:SS(.ffffff)] LEVEL: ...` or PHP's `[DD-Mon-YYYY HH:MM:SS ZONE] ...`
    /// at `p` (the `[`).
    fn native<'a>(
        &mut self,
        rec: &'a [u8],
        p: usize,
        pid: Option<u32>,
    ) -> Result<Record<'a>, ParseError> {
        let b = rec.get(p + 1..).unwrap_or(&[]);
        let (mut ts, used) = self
            .cache
            .fpm(b)
            .ok_or_else(|| ParseError::invalid("time", p + 1))?;
        let mut i = used;
        match b.get(i) {
            Some(b']') => {
                i += 1;
                if b.get(i) == Some(&b' ') {
                    i += 1;
                }
                let r = b.get(i..).unwrap_or(&[]);
                let (severity, lu) =
                    level_colon(r).ok_or_else(|| ParseError::invalid("level", p + 1 + i))?;
                let msg = r.get(lu..).unwrap_or(&[]);
                Ok(Record::Event(master_event(ts, severity, pid, msg)))
            }
            Some(b' ') => {
                // PHP error_log: "[25-Oct-2018 07:15:06 UTC] PHP Warning:  ..."
                i += 1;
                let r = b.get(i..).unwrap_or(&[]);
                let close = memchr(b']', r.get(..r.len().min(64)).unwrap_or(&[]))
                    .ok_or_else(|| ParseError::expected("]", "time", p + 1 + i))?;
                let zone = r.get(..close).unwrap_or(&[]);
                if zone.is_empty() || zone.iter().any(|c| c.is_ascii_whitespace()) {
                    return Err(ParseError::invalid("zone", p + 1 + i));
                }
                ts.offset = match zone {
                    b"UTC" | b"GMT" | b"Z" | b"Etc/UTC" | b"Etc/GMT" => Some(0),
                    _ => match time::parse_zone(zone) {
                        Some((off, n)) if n == zone.len() => Some(off),
                        _ => None,
                    },
                };
                let msg = r.get(close + 1..).unwrap_or(&[]);
                let msg = msg.strip_prefix(b" ").unwrap_or(msg);
                Ok(Record::Event(php_event(ts, pid, msg)))
            }
            _ => Err(ParseError::expected("]", "time", p + 1 + i)),
        }
    }
}

/// A line of PHP's own error_log.
fn php_event(ts: Ts, pid: Option<u32>, msg: &[u8]) -> Event<'_> {
    let head = msg.get(..msg.len().min(40)).unwrap_or(msg);
    let fatal = head.starts_with(b"PHP Fatal error")
        || head.starts_with(b"PHP Parse error")
        || head.starts_with(b"PHP Recoverable fatal error")
        || (head.starts_with(b"PHP ") && memmem::find(head, b"Uncaught").is_some());
    let severity = if fatal {
        Severity::Error
    } else if head.starts_with(b"PHP Warning") {
        Severity::Warn
    } else {
        Severity::Notice
    };
    Event {
        ts,
        kind: if fatal {
            EventKind::FastcgiPhpFatal
        } else {
            EventKind::Other
        },
        severity,
        pid,
        message: msg,
        script: if fatal { msg } else { &[] },
        ..Event::default()
    }
}

/// Build the event for a php-fpm master message (after `LEVEL: `).
fn master_event(ts: Ts, severity: Severity, pid: Option<u32>, msg: &[u8]) -> Event<'_> {
    let mut e = Event {
        ts,
        severity,
        pid,
        message: msg,
        ..Event::default()
    };
    let mut m = msg;
    if let Some(r) = m.strip_prefix(b"[pool ") {
        if let Some(e2) = memchr(b']', r) {
            e.pool = r.get(..e2).unwrap_or(&[]);
            m = r.get(e2 + 1..).unwrap_or(&[]);
            m = m.strip_prefix(b" ").unwrap_or(m);
            e.message = m;
        }
    }
    classify(&mut e, m);
    e
}

/// `(N)` right after `prefix` in `m`.
fn paren_number_after(m: &[u8], prefix: &[u8]) -> Option<i64> {
    let r = m.strip_prefix(prefix)?;
    let (v, n) = leading_u64(r)?;
    if r.get(n) != Some(&b')') {
        return None;
    }
    i64::try_from(v).ok()
}

fn classify<'a>(e: &mut Event<'a>, m: &'a [u8]) {
    use EventKind::*;
    if let Some(r) = m.strip_prefix(b"child ") {
        let Some((cpid, n)) = leading_u64(r) else {
            return;
        };
        e.child_pid = u32::try_from(cpid).ok();
        let r = r.get(n..).unwrap_or(&[]);
        if let Some(s) = r.strip_prefix(b", script '") {
            // child 123, script '/x.php' (request: "GET /x.php") executing too slow (1.2 sec), logging
            // child 123, script '/x.php' (request: "GET /x.php") execution timed out (30.1 sec), terminating
            let Some(se) = memmem::find(s, b"' (request: \"") else {
                return;
            };
            e.script = s.get(..se).unwrap_or(&[]);
            let r2 = s.get(se + 13..).unwrap_or(&[]);
            // The request is the client's URI: find the last `") execut` (the URI may hold `")`).
            let Some(re) = memmem::rfind(r2, b"\") execut") else {
                return;
            };
            e.request = r2.get(..re).unwrap_or(&[]);
            let tail = r2.get(re + 3..).unwrap_or(&[]);
            if tail.starts_with(b"executing too slow (") {
                e.kind = FpmExecutingTooSlow;
            } else if let Some(t) = tail.strip_prefix(b"execution timed out (") {
                e.kind = FpmExecutionTimedOut;
                let end = memchr(b' ', t).unwrap_or(t.len());
                e.number = time::parse_secs_us(t.get(..end).unwrap_or(&[]))
                    .map(|us| (us.saturating_add(500_000) / 1_000_000) as i64);
            }
        } else if let Some(s) = r.strip_prefix(b" exited on signal ") {
            // child 123 exited on signal 9 (SIGKILL) after 12.3 seconds from start
            e.kind = FpmChildSignal;
            e.number = leading_u64(s).and_then(|(v, _)| i64::try_from(v).ok());
        } else if let Some(s) = r.strip_prefix(b" exited with code ") {
            e.kind = FpmChildExitCode;
            e.number = leading_u64(s).and_then(|(v, _)| i64::try_from(v).ok());
        } else if r == b" started" {
            e.kind = FpmChildStarted;
        }
        return;
    }
    if let Some(n) = paren_number_after(m, b"server reached pm.max_children setting (")
        .or_else(|| paren_number_after(m, b"server reached max_children setting ("))
    {
        e.kind = FpmMaxChildren;
        e.number = Some(n);
    } else if m.starts_with(b"seems busy") {
        e.kind = FpmSeemsBusy;
    } else if let Some(r) = m.strip_prefix(b"fpm is running, pid ") {
        e.kind = FpmStarting;
        if let Some(p) = parse_u32(r) {
            e.pid = Some(p);
        }
    } else if m.starts_with(b"ready to handle connections") {
        e.kind = FpmReady;
    } else if m.starts_with(b"Reloading in progress") {
        e.kind = FpmReloading;
    } else if m.starts_with(b"Terminating ...")
        || m.starts_with(b"exiting, bye-bye")
        || m.starts_with(b"Finishing ...")
    {
        e.kind = FpmTerminating;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> FpmErrorParser {
        // 2026-12-01 00:00:00 UTC
        FpmErrorParser::with_reference_time(time::days_from_civil(2026, 12, 1) * 86400)
    }

    fn ev(line: &[u8]) -> Event<'_> {
        match parser().parse(line) {
            Ok(Record::Event(e)) => e,
            other => panic!(
                "not an event: {other:?} for {}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    fn wall(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        (time::days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1_000_000
    }

    #[test]
    fn max_children_and_busy() {
        let e = ev(b"[23-Nov-2026 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it");
        assert_eq!(e.kind, EventKind::FpmMaxChildren);
        assert_eq!(e.number, Some(5));
        assert_eq!(e.pool, b"www");
        assert_eq!(e.severity, Severity::Warn);
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 10, 0, 0));
        assert_eq!(e.ts.offset, None);
        let e = ev(b"[23-Nov-2026 10:00:00] WARNING: [pool api] server reached max_children setting (50), consider raising it");
        assert_eq!(
            (e.kind, e.number, e.pool),
            (EventKind::FpmMaxChildren, Some(50), &b"api"[..])
        );
        let e = ev(b"[23-Nov-2026 10:00:00.123456] WARNING: [pool www] seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), spawning 8 children, there are 0 idle, and 13 total children");
        assert_eq!(e.kind, EventKind::FpmSeemsBusy);
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 10, 0, 0) + 123456);
    }

    #[test]
    fn slow_and_timeout() {
        let e = ev(br#"[25-Oct-2018 14:27:43] WARNING: [pool www] child 842, script '/home/x/wp-admin/themes.php' (request: "POST /wp-admin/themes.php?page=a") executing too slow (10.345236 sec), logging"#);
        assert_eq!(e.kind, EventKind::FpmExecutingTooSlow);
        assert_eq!(e.child_pid, Some(842));
        assert_eq!(e.script, b"/home/x/wp-admin/themes.php");
        assert_eq!(e.request, b"POST /wp-admin/themes.php?page=a");
        assert_eq!(e.pool, b"www");
        let e = ev(br#"[23-Nov-2026 10:00:00] WARNING: [pool www] child 123, script '/x.php' (request: "GET /x.php?q=\") execut") execution timed out (30.6 sec), terminating"#);
        assert_eq!(e.kind, EventKind::FpmExecutionTimedOut);
        assert_eq!(e.number, Some(31));
        assert_eq!(e.request, br#"GET /x.php?q=\") execut"#);
    }

    #[test]
    fn children() {
        let e = ev(b"[23-Nov-2026 10:00:01] WARNING: [pool www] child 123 exited on signal 9 (SIGKILL) after 12.3 seconds from start");
        assert_eq!(
            (e.kind, e.child_pid, e.number),
            (EventKind::FpmChildSignal, Some(123), Some(9))
        );
        let e = ev(b"[23-Nov-2026 10:00:01] WARNING: [pool www] child 77 exited on signal 11 (SIGSEGV - core dumped) after 1.2 seconds from start");
        assert_eq!(e.number, Some(11));
        let e = ev(b"[23-Nov-2026 10:00:01] WARNING: [pool www] child 124 exited with code 255 after 0.5 seconds from start");
        assert_eq!((e.kind, e.number), (EventKind::FpmChildExitCode, Some(255)));
        let e = ev(b"[23-Nov-2026 10:00:01] NOTICE: [pool www] child 125 started");
        assert_eq!(
            (e.kind, e.child_pid),
            (EventKind::FpmChildStarted, Some(125))
        );
        let e = ev(b"[23-Nov-2026 10:00:01] WARNING: [pool www] child 2431 said into stderr: \"msmtp: cannot locate host\"");
        assert_eq!((e.kind, e.child_pid), (EventKind::Other, Some(2431)));
    }

    #[test]
    fn lifecycle() {
        let e = ev(b"[16-Jun-2022 10:00:00] NOTICE: fpm is running, pid 7");
        assert_eq!((e.kind, e.pid), (EventKind::FpmStarting, Some(7)));
        assert_eq!(e.severity, Severity::Notice);
        assert_eq!(
            ev(b"[16-Jun-2022 10:00:00] NOTICE: ready to handle connections").kind,
            EventKind::FpmReady
        );
        assert_eq!(
            ev(b"[16-Jun-2022 10:00:00] NOTICE: Reloading in progress ...").kind,
            EventKind::FpmReloading
        );
        assert_eq!(
            ev(b"[16-Jun-2022 10:00:00] NOTICE: Terminating ...").kind,
            EventKind::FpmTerminating
        );
        assert_eq!(
            ev(b"[16-Jun-2022 10:00:00] NOTICE: exiting, bye-bye!").kind,
            EventKind::FpmTerminating
        );
        assert_eq!(
            ev(b"[16-Jun-2022 10:00:00] NOTICE: Finishing ...").kind,
            EventKind::FpmTerminating
        );
        let e = ev(b"[16-Jun-2022 10:00:00] ALERT: [pool www] the process manager is missing (static, dynamic or ondemand)");
        assert_eq!(
            (e.kind, e.severity, e.pool),
            (EventKind::Other, Severity::Alert, &b"www"[..])
        );
        assert_eq!(
            e.message,
            b"the process manager is missing (static, dynamic or ondemand)"
        );
        let e = ev(b"[16-Jun-2022 10:00:00.000123] DEBUG: pid 1, fpm_event_loop(), line 418: event module is epoll");
        assert_eq!(e.severity, Severity::Debug);
    }

    #[test]
    fn syslog_forms() {
        let e = ev(b"Nov 23 10:00:00 web1 php-fpm[123]: [WARNING] [pool www] server reached pm.max_children setting (5), consider raising it");
        assert_eq!(
            (e.kind, e.number, e.pid),
            (EventKind::FpmMaxChildren, Some(5), Some(123))
        );
        assert_eq!(e.pool, b"www");
        assert_eq!(e.severity, Severity::Warn);
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 10, 0, 0));
        // a December line read in early January belongs to the year before
        let mut p = FpmErrorParser::with_reference_time(time::days_from_civil(2027, 1, 2) * 86400);
        match p.parse(b"Dec 31 23:59:59 web1 php-fpm: [NOTICE] fpm is running, pid 9") {
            Ok(Record::Event(e)) => {
                assert_eq!(e.ts.wall_us, wall(2026, 12, 31, 23, 59, 59));
                assert_eq!(e.kind, EventKind::FpmStarting);
                assert_eq!(e.pid, Some(9));
            }
            other => panic!("{other:?}"),
        }
        let e = ev(b"Nov  3 10:00:00 web1 php-fpm8.2[9]: [23-Nov-2026 10:00:05] NOTICE: ready to handle connections");
        assert_eq!(e.kind, EventKind::FpmReady);
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 10, 0, 5));
        assert_eq!(e.pid, Some(9));
        let e = ev(b"2026-11-23T10:00:00.250+01:00 web1 php-fpm[1]: [WARNING] [pool www] child 5 exited on signal 15 (SIGTERM) after 3 seconds from start");
        assert_eq!(e.kind, EventKind::FpmChildSignal);
        assert_eq!(e.ts.offset, Some(3600));
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 10, 0, 0) + 250_000);
        let e = ev(b"Nov 23 10:00:00 web1 php-fpm[1]: NOTICE: PHP message: PHP Warning:  x");
        assert_eq!(e.severity, Severity::Notice);
        assert_eq!(e.message, b"PHP message: PHP Warning:  x");
        // another program's syslog line is not php-fpm's
        assert!(parser()
            .parse(b"Nov 23 10:00:00 web1 sshd[1]: [WARNING] x")
            .is_err());
    }

    #[test]
    fn php_error_log() {
        let e = ev(b"[25-Oct-2018 07:15:06 UTC] PHP Warning:  A non-numeric value encountered in /x.php on line 1582");
        assert_eq!(
            (e.kind, e.severity, e.ts.offset),
            (EventKind::Other, Severity::Warn, Some(0))
        );
        let e = ev(b"[05-Nov-2018 10:11:12 Asia/Ho_Chi_Minh] PHP Fatal error:  Uncaught Error: Call to undefined function is_robots() in /x.php:12\nStack trace:\n#0 {main}\n  thrown in /x.php on line 12");
        assert_eq!(
            (e.kind, e.severity, e.ts.offset),
            (EventKind::FastcgiPhpFatal, Severity::Error, None)
        );
        assert!(e.script.ends_with(b"on line 12"));
        let e = ev(b"[05-Nov-2018 10:11:12 +07:00] PHP Notice:  x");
        assert_eq!(e.ts.offset, Some(25200));
    }

    use crate::test_util::soup;

    #[test]
    fn never_panics_on_token_soup() {
        let tokens: &[&[u8]] = &[
            b"[23-Nov-2026 10:00:00",
            b"]",
            b".123456",
            b" UTC",
            b" +07:00",
            b" WARNING: ",
            b"[pool www] ",
            b"Nov 23 10:00:00 web1 php-fpm[123]: ",
            b"2026-11-23T10:00:00.5Z web1 php-fpm: ",
            b"[WARNING] ",
            b"child ",
            b"123",
            b"99999999999999999999",
            b", script '",
            b"' (request: \"",
            b"\") executing too slow (",
            b"\") execution timed out (",
            b"1.5 sec)",
            b" exited on signal ",
            b" exited with code ",
            b"server reached pm.max_children setting (",
            b")",
            b"\n",
            b" ",
            b"\xff",
        ];
        let mut p = parser();
        soup(tokens, 50_000, |b| {
            let _ = p.starts_record(b);
            let _ = p.parse(b);
        });
    }

    #[test]
    fn framing_and_rejects() {
        let p = parser();
        assert_eq!(p.framing(), Framing::MultiLine);
        assert!(p.starts_record(b"[23-Nov-2026 10:00:00] NOTICE: x"));
        assert!(p.starts_record(b"[25-Oct-2018 07:15:06 UTC] PHP Warning: x"));
        assert!(p.starts_record(b"Nov 23 10:00:00 web1 php-fpm[123]: [WARNING] x"));
        assert!(!p.starts_record(b"NOTICE: PHP message: PHP Warning:  x"));
        assert!(!p.starts_record(b"Stack trace:"));
        assert!(!p.starts_record(b""));
        let mut p = parser();
        assert!(matches!(p.parse(b""), Ok(Record::Ignored)));
        assert!(matches!(p.parse(b"  \n"), Ok(Record::Ignored)));
        assert!(p.parse(b"hello").is_err());
        assert!(p.parse(b"[23-Nov-2026 10:00:00] FOO: x").is_err());
        assert!(p.parse(b"[23-Xyz-2026 10:00:00] NOTICE: x").is_err());
        let l = b"Nov 23 10:00:00 web1 php-fpm[123]: [23-Nov-2026 10:00:00.5 UTC] WARNING: [pool www] child 1, script 'a' (request: \"b\") executing too slow (1 sec), logging";
        for n in 0..=l.len() {
            let _ = p.parse(&l[..n]);
            let _ = p.parse(&l[n..]);
            let _ = p.starts_record(&l[..n]);
        }
    }

    /// `instant` is the time `parse` reads (or none where it reads no event, or `None` to ask
    /// for the full parse), on the lab's and the corpus's lines and their mutations.
    #[test]
    fn instant_is_the_parsed_time() {
        let mut lines: Vec<Vec<u8>> = vec![
            b"[23-Nov-2026 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it".to_vec(),
            b"[23-Nov-2026 10:00:00.123456] NOTICE: fpm is running, pid 1".to_vec(),
            b"[23-Nov-2026 10:00:00] NOTICE:".to_vec(),
            b"[23-Nov-2026 10:00:00] BOGUS: x".to_vec(),
            b"[23-Nov-2026 10:00:00]WARNING: x".to_vec(),
            b"[25-Oct-2018 07:15:06 UTC] PHP Warning:  x".to_vec(),
            b"[31-Feb-2026 10:00:00] WARNING: x".to_vec(),
            b"[23-Nov-2026 10:00:00] ".to_vec(),
            b"Nov 23 10:00:00 host php-fpm[12]: [WARNING] [pool www] child 3 exited with code 1".to_vec(),
            b"   ".to_vec(),
        ];
        for dir in ["samples", "../samples"] {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let p = e.path().join("php-fpm.log");
                    if let Ok(d) = std::fs::read(&p) {
                        lines.extend(d.split(|&c| c == b'\n').take(500).map(|l| l.to_vec()));
                    }
                }
            }
        }
        let n = lines.len();
        for k in 0..n {
            let l = lines[k].clone();
            for cut in [5usize, 21, 23, 24, 30] {
                lines.push(l.get(..cut.min(l.len())).unwrap_or(&[]).to_vec());
            }
        }
        let mut checked = 0;
        for l in &lines {
            let mut p = parser();
            let mut q = parser();
            let want = match p.parse(l) {
                Ok(Record::Event(e)) => Some(e.ts),
                Ok(Record::Request(r)) => Some(r.ts),
                _ => None,
            };
            if let Some(got) = q.instant(l) {
                assert_eq!(got, want, "{}", String::from_utf8_lossy(l));
                checked += 1;
            }
        }
        assert!(checked > 20, "{checked}");
    }
}
