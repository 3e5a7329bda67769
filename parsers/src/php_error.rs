//! PHP's own `error_log` (format id `php-error`): what the PHP engine writes when `log_errors`
//! is on and `error_log` names a file (php-src `main/main.c`, `php_log_err_with_severity`:
//! `"[%s] %s%s"` with the time as `d-M-Y H:i:s e`, `e` being the `date.timezone` identifier).
//!
//! ```text
//! [23-Nov-2026 17:21:23 UTC] PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in /var/www/app.php on line 12
//! [23-Nov-2026 18:21:23 Europe/Berlin] PHP Fatal error:  Maximum execution time of 30 seconds exceeded in /var/www/db.php on line 3
//! [23-Nov-2026 17:21:23 UTC] PHP Fatal error:  Uncaught RuntimeException: db down in /var/www/db.php:4
//! Stack trace:
//! #0 /var/www/app.php(9): db_query()
//! #1 {main}
//!   thrown in /var/www/db.php on line 4
//! [23-Nov-2026 17:21:23 UTC] PHP Stack trace:              (Xdebug: one timestamped line a frame)
//! [23-Nov-2026 17:21:23 UTC] PHP   1. {main}() /var/www/app.php:0
//! ```
//!
//! Framing is multi-line: a record starts at `[` + a PHP timestamp, except Xdebug's `PHP Stack
//! trace:` and `PHP   N. frame` lines, which belong to the error before them; lines with no
//! timestamp (`Stack trace:`, `#0 ...`) do too. The zone gives the offset when it is
//! `UTC`/`GMT` or numeric; a named zone (`Europe/Berlin`) or none leaves the offset to the
//! caller (`--tz`). App layer: fatal errors are [`EventKind::FastcgiPhpFatal`] (`php_fatal`),
//! with the two resource limits as their own kinds ([`EventKind::PhpMemoryExhausted`],
//! [`EventKind::PhpMaxExecutionTime`], `number` = the limit); warnings and notices are `Other`.
//! A php-fpm master line (`[23-Nov-2026 17:21:23] WARNING: ...`) is not this format.

use memchr::{memchr, memmem};

use crate::fields::parse_u64;
use crate::fpm::fpm_ts_shape;
use crate::time::{self, SecondCache, Ts};
use crate::{Event, EventKind, Format, Framing, LineParser, ParseError, Record, Severity};

#[derive(Clone, Default)]
pub struct PhpErrorParser {
    cache: SecondCache,
}

impl PhpErrorParser {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Xdebug's stack trace lines after the `] `: they continue the error before them.
fn is_xdebug_frame(msg: &[u8]) -> bool {
    if msg.starts_with(b"PHP Stack trace:") {
        return true;
    }
    // "PHP   1. {main}() /x.php:0"
    let Some(r) = msg.strip_prefix(b"PHP ") else {
        return false;
    };
    let r = r.trim_ascii_start();
    let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
    n > 0 && r.get(n) == Some(&b'.')
}

/// Where the message starts after `[time zone] ` (`p` = index after `[`), and the zone.
fn after_stamp(line: &[u8]) -> Option<(usize, &[u8])> {
    let b = line.get(21..)?; // after "[DD-Mon-YYYY HH:MM:SS"
    let (zone, used) = match b.first()? {
        b']' => (&[][..], 1),
        b' ' => {
            let r = b.get(1..)?;
            let close = memchr(b']', r.get(..r.len().min(64))?)?;
            (r.get(..close)?, close + 2)
        }
        _ => return None,
    };
    let mut i = 21 + used;
    if line.get(i) == Some(&b' ') {
        i += 1;
    }
    Some((i, zone))
}

/// A PHP error_log message (after the stamp) as an event: kind, severity, limit.
pub(crate) fn php_event(ts: Ts, pid: Option<u32>, msg: &[u8]) -> Event<'_> {
    let head = msg.get(..msg.len().min(48)).unwrap_or(msg);
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
    let mut e = Event {
        ts,
        kind: EventKind::Other,
        severity,
        pid,
        message: msg,
        ..Event::default()
    };
    if !fatal {
        return e;
    }
    e.script = msg;
    e.kind = EventKind::FastcgiPhpFatal;
    let body = match memchr(b':', head) {
        Some(c) => msg.get(c + 1..).unwrap_or(&[]).trim_ascii_start(),
        None => msg,
    };
    let number_after = |prefix: &[u8]| -> Option<i64> {
        let r = body.strip_prefix(prefix)?;
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        parse_u64(r.get(..n)?).and_then(|v| i64::try_from(v).ok())
    };
    if body.starts_with(b"Allowed memory size of ") {
        e.kind = EventKind::PhpMemoryExhausted;
        e.number = number_after(b"Allowed memory size of ");
    } else if body.starts_with(b"Maximum execution time of ") {
        e.kind = EventKind::PhpMaxExecutionTime;
        e.number = number_after(b"Maximum execution time of ");
    }
    e
}

impl LineParser for PhpErrorParser {
    fn format(&self) -> Format {
        Format::PhpError
    }

    fn framing(&self) -> Framing {
        Framing::MultiLine
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        line.first() == Some(&b'[')
            && fpm_ts_shape(line, 1)
            && after_stamp(line).is_none_or(|(i, _)| !is_xdebug_frame(line.get(i..).unwrap_or(&[])))
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let rec = rec.trim_ascii_end();
        if rec.is_empty() || rec.iter().all(|c| c.is_ascii_whitespace()) {
            return Ok(Record::Ignored);
        }
        if rec.first() != Some(&b'[') || !fpm_ts_shape(rec, 1) {
            return Err(ParseError::not_this_format(0));
        }
        let (mut ts, used) = self
            .cache
            .fpm(rec.get(1..).unwrap_or(&[]))
            .ok_or_else(|| ParseError::invalid("time", 1))?;
        if used != 20 {
            // PHP writes whole seconds; `.123456` is php-fpm's debug-level master log
            return Err(ParseError::not_this_format(1 + used));
        }
        let (start, zone) =
            after_stamp(rec).ok_or_else(|| ParseError::expected("]", "time", 21))?;
        let msg = rec.get(start..).unwrap_or(&[]);
        if zone.is_empty() {
            // "[23-Nov-2026 17:21:23] WARNING: ..." is php-fpm's master log; PHP itself always
            // writes a zone, so a zone-less line is taken only when it reads as PHP's.
            if !msg.starts_with(b"PHP ") {
                return Err(ParseError::not_this_format(start));
            }
        } else if zone
            .iter()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        {
            return Err(ParseError::invalid("zone", 22));
        }
        ts.offset = match zone {
            b"" => None,
            b"UTC" | b"GMT" | b"Z" | b"Etc/UTC" | b"Etc/GMT" | b"UCT" | b"Universal" | b"Zulu" => {
                Some(0)
            }
            _ => match time::parse_zone(zone) {
                Some((off, n)) if n == zone.len() => Some(off),
                _ => None,
            },
        };
        Ok(Record::Event(php_event(ts, None, msg)))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(rec: &[u8]) -> Event<'_> {
        match PhpErrorParser::new().parse(rec) {
            Ok(Record::Event(e)) => e,
            other => panic!("{other:?} for {}", String::from_utf8_lossy(rec)),
        }
    }

    fn wall(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        (time::days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1_000_000
    }

    /// Records as the framer would cut them (multi-line), for a whole file.
    fn records(text: &[u8]) -> Vec<Vec<u8>> {
        let p = PhpErrorParser::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        for l in text.split(|&c| c == b'\n') {
            if l.is_empty() {
                continue;
            }
            if p.starts_record(l) || out.is_empty() {
                out.push(l.to_vec());
            } else {
                let last = out.last_mut().unwrap();
                last.push(b'\n');
                last.extend_from_slice(l);
            }
        }
        out
    }

    #[test]
    fn limits_and_fatals() {
        // as PHP 8.2 wrote them (samples/formats/php-error)
        let e = ev(b"[05-Dec-2026 15:15:33 UTC] PHP Fatal error:  Allowed memory size of 16777216 bytes exhausted (tried to allocate 2097152 bytes) in /tmp/fmt/php/mem.php on line 1");
        assert_eq!(e.kind, EventKind::PhpMemoryExhausted);
        assert_eq!(e.number, Some(16777216));
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.ts.wall_us, wall(2026, 12, 5, 15, 15, 33));
        assert_eq!(e.ts.offset, Some(0));
        let e = ev(b"[05-Dec-2026 16:15:38 Europe/Berlin] PHP Fatal error:  Maximum execution time of 1 second exceeded in /tmp/fmt/php/time.php on line 1");
        assert_eq!(e.kind, EventKind::PhpMaxExecutionTime);
        assert_eq!(e.number, Some(1));
        assert_eq!(e.ts.offset, None); // a named zone: the caller's --tz applies
        assert_eq!(e.ts.wall_us, wall(2026, 12, 5, 16, 15, 38));
        let e = ev(b"[23-Nov-2026 17:21:23 UTC] PHP Fatal error:  Maximum execution time of 30 seconds exceeded in /var/www/db.php on line 3");
        assert_eq!(e.number, Some(30));
        let e = ev(b"[05-Dec-2026 15:15:35 UTC] PHP Warning:  Undefined variable $undefined_var in /tmp/fmt/php/fatal.php on line 1");
        assert_eq!((e.kind, e.severity), (EventKind::Other, Severity::Warn));
        let e = ev(b"[05-Dec-2026 15:15:35 +01:00] PHP Parse error:  syntax error, unexpected end of file in /x.php on line 9");
        assert_eq!(
            (e.kind, e.ts.offset),
            (EventKind::FastcgiPhpFatal, Some(3600))
        );
        // zone-less, as some builds and proxies write it
        let e = ev(b"[23-Nov-2026 17:21:23] PHP Fatal error:  Uncaught Error: x in /x.php:1");
        assert_eq!((e.kind, e.ts.offset), (EventKind::FastcgiPhpFatal, None));
    }

    #[test]
    fn stack_traces_are_one_record() {
        let text = b"[05-Dec-2026 15:15:35 UTC] PHP Warning:  Undefined variable $undefined_var in /tmp/fmt/php/fatal.php on line 1
[05-Dec-2026 15:15:35 UTC] PHP Fatal error:  Uncaught RuntimeException: db down: SELECT 1 in /tmp/fmt/php/fatal.php:1
Stack trace:
#0 /tmp/fmt/php/fatal.php(1): db_query()
#1 /tmp/fmt/php/fatal.php(1): handler()
#2 {main}
  thrown in /tmp/fmt/php/fatal.php on line 1
[23-Nov-2026 17:21:23 UTC] PHP Fatal error:  Maximum execution time of 30 seconds exceeded in /var/www/db.php on line 3
[23-Nov-2026 17:21:23 UTC] PHP Stack trace:
[23-Nov-2026 17:21:23 UTC] PHP   1. {main}() /var/www/index.php:0
[23-Nov-2026 17:21:23 UTC] PHP  10. db_query() /var/www/app.php:88
";
        let recs = records(text);
        assert_eq!(recs.len(), 3);
        let mut p = PhpErrorParser::new();
        let kinds: Vec<EventKind> = recs
            .iter()
            .map(|r| match p.parse(r) {
                Ok(Record::Event(e)) => e.kind,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                EventKind::Other,
                EventKind::FastcgiPhpFatal,
                EventKind::PhpMaxExecutionTime
            ]
        );
        assert!(recs[1].ends_with(b"thrown in /tmp/fmt/php/fatal.php on line 1"));
        assert!(recs[2].ends_with(b"db_query() /var/www/app.php:88"));
    }

    #[test]
    fn not_php_error() {
        let mut p = PhpErrorParser::new();
        for l in [
            &b"[23-Nov-2026 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it"[..],
            b"[23-Nov-2026 10:00:00.123456] DEBUG: pid 1, fpm_event_loop(), line 418: event module",
            b"2026/11/23 10:00:00 [error] 1#1: x",
            b"PHP Fatal error:  no time",
            b"[23-Nov-2026 10:00:00 UTC",
        ] {
            assert!(p.parse(l).is_err(), "{}", String::from_utf8_lossy(l));
        }
        assert!(matches!(
            p.parse(b"[99-Nov-2026 10:00:00 UTC] PHP Warning:  x"),
            Err(ParseError { field: "time", .. })
        ));
    }

    #[test]
    fn never_panics_on_token_soup() {
        let tokens: &[&[u8]] = &[
            b"[23-Nov-2026 10:00:00",
            b"]",
            b" UTC",
            b" Europe/Berlin",
            b" +07:00",
            b"] ",
            b"PHP Fatal error:  ",
            b"Allowed memory size of ",
            b"Maximum execution time of ",
            b"99999999999999999999999",
            b"12",
            b" bytes",
            b"PHP Stack trace:",
            b"PHP   1. ",
            b"\n",
            b"\xff",
            b" ",
        ];
        let mut p = PhpErrorParser::new();
        crate::test_util::soup(tokens, 20_000, |b| {
            let _ = p.starts_record(b);
            let _ = p.parse(b);
        });
    }
}
