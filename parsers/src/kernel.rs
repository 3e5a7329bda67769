//! Kernel lines (format id `kernel`, host layer, events only): `/var/log/kern.log` (rsyslog,
//! BSD or ISO timestamps), `journalctl -k` (`short`, `short-iso`, `short-precise`) and
//! `dmesg -T`.
//!
//! ```text
//! Nov 23 17:21:23 web1 kernel: [123456.789012] Out of memory: Killed process 1234 (php-fpm8.2) total-vm:524288kB, anon-rss:262144kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1024kB oom_score_adj:0
//! 2026-11-23T17:21:23.123456+01:00 web1 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=1234,uid=33
//! [Mon Nov 23 17:21:23 2026] TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies.  Check SNMP counters.
//! Nov 23 17:21:23.123456 web1 kernel: nf_conntrack: nf_conntrack: table full, dropping packet
//! ```
//!
//! The OOM kill is `mm/oom_kill.c`'s `pr_err("%s: Killed process %d (%s) total-vm:%lukB, ...")`
//! (`%s` is `Out of memory` or `Memory cgroup out of memory`; kernels before 5.1 wrote just
//! `Killed process ...`): [`EventKind::KernelOomKill`] with the victim's pid in `child_pid` and
//! its command name in `script`. The `oom-kill:` summary line before it names the same victim
//! (`task=`, `pid=`): it is kept as `Other` with the same fields, so one kill counts once. Plain
//! `dmesg` (seconds since boot, no wall clock) is rejected with `invalid time`: use `dmesg -T`.
//!
//! A BSD syslog time (`Nov 23 17:21:23`) has no year: it is taken from the parser's reference
//! time (now by default), one year earlier when that would put the line more than two days
//! ahead of it.

use memchr::{memchr, memmem};

use crate::fields::parse_u64;
use crate::time::{self, SecondCache, Ts};
use crate::{Event, EventKind, Format, LineParser, ParseError, Record, Severity};

#[derive(Clone)]
pub struct KernelParser {
    cache: SecondCache,
    ref_secs: i64,
    ref_year: i64,
}

impl Default for KernelParser {
    fn default() -> Self {
        Self::new()
    }
}

impl KernelParser {
    pub fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::with_reference_time(now)
    }

    /// Year-less syslog times are resolved relative to `unix_secs`.
    pub fn with_reference_time(unix_secs: i64) -> Self {
        let (y, _, _) = time::civil_from_days(unix_secs.div_euclid(86400));
        KernelParser {
            cache: SecondCache::new(),
            ref_secs: unix_secs,
            ref_year: y,
        }
    }

    /// `Mmm dd HH:MM:SS[.ffffff]` → (time, bytes used).
    fn bsd(&self, b: &[u8]) -> Option<(Ts, usize)> {
        let (mo, d, sod) = month_day_hms(b)?;
        let at = |y: i64| time::days_from_civil(y, mo, d) * 86400 + sod;
        let mut secs = at(self.ref_year);
        if secs > self.ref_secs + 2 * 86400 {
            secs = at(self.ref_year - 1);
        }
        let (us, flen) = time::parse_fraction(b.get(15..)?);
        Some((Ts::new(secs * 1_000_000 + us as i64, None), 15 + flen))
    }
}

/// `Mmm dd HH:MM:SS` (`dd` may be ` 5`) → (month, day, seconds of day).
fn month_day_hms(b: &[u8]) -> Option<(u32, u32, i64)> {
    let mo = time::month_from_abbr(b.get(0..3)?)?;
    if b.get(3) != Some(&b' ') || b.get(6) != Some(&b' ') {
        return None;
    }
    let d = match b.get(4..6)? {
        [b' ', x] if x.is_ascii_digit() => (x - b'0') as u32,
        _ => time::digits(b, 4, 2)?,
    };
    let h = time::digits(b, 7, 2)?;
    let mi = time::digits(b, 10, 2)?;
    let s = time::digits(b, 13, 2)?;
    if b.get(9) != Some(&b':') || b.get(12) != Some(&b':') {
        return None;
    }
    if d == 0 || d > time::days_in_month(2000, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((mo, d, (h * 3600 + mi * 60 + s) as i64))
}

/// After the time: `HOST kernel: ` → where the message starts. Other programs' lines (a whole
/// `/var/log/syslog`) are not this format.
fn host_kernel(line: &[u8], i: usize) -> Result<usize, ParseError> {
    if line.get(i) != Some(&b' ') {
        return Err(ParseError::expected("space", "time", i));
    }
    let r = line.get(i + 1..).unwrap_or(&[]);
    let h = memchr(b' ', r).ok_or_else(|| ParseError::truncated("host", i + 1))?;
    let tag_at = i + 1 + h + 1;
    let tag = line.get(tag_at..).unwrap_or(&[]);
    if let Some(rest) = tag.strip_prefix(b"kernel:") {
        let skip = usize::from(rest.first() == Some(&b' '));
        return Ok(tag_at + 7 + skip);
    }
    Err(ParseError::not_this_format(tag_at))
}

/// `[ 1234.567890] ` (seconds since boot, printk time) at the start of a message.
fn strip_uptime(m: &[u8]) -> &[u8] {
    if m.first() != Some(&b'[') {
        return m;
    }
    let Some(close) = memchr(b']', m.get(..m.len().min(24)).unwrap_or(&[])) else {
        return m;
    };
    let inner = m.get(1..close).unwrap_or(&[]).trim_ascii();
    if inner.is_empty() || !inner.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return m;
    }
    let r = m.get(close + 1..).unwrap_or(&[]);
    r.strip_prefix(b" ").unwrap_or(r)
}

fn u32_at(b: &[u8]) -> Option<u32> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    parse_u64(b.get(..n)?).and_then(|v| u32::try_from(v).ok())
}

/// The value of `key=` in a `k=v,k=v` list.
fn kv<'a>(m: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = memmem::find(m.get(from..)?, key) {
        let at = from + i;
        if at == 0 || matches!(m.get(at - 1), Some(b',') | Some(b':') | Some(b' ')) {
            let v = m.get(at + key.len()..)?;
            let end = v
                .iter()
                .position(|&c| c == b',' || c == b' ')
                .unwrap_or(v.len());
            return v.get(..end);
        }
        from = at + key.len();
    }
    None
}

/// The event for a kernel message.
fn kernel_event(ts: Ts, m: &[u8]) -> Event<'_> {
    let mut e = Event {
        ts,
        kind: EventKind::Other,
        severity: Severity::Notice,
        message: m,
        ..Event::default()
    };
    if let Some(i) = memmem::find(m, b"Killed process ") {
        // "Out of memory: Killed process 1234 (php-fpm8.2) total-vm:..."
        let r = m.get(i + 15..).unwrap_or(&[]);
        if let Some(pid) = u32_at(r) {
            e.kind = EventKind::KernelOomKill;
            e.severity = Severity::Error;
            e.child_pid = Some(pid);
            if let Some(open) = memchr(b'(', r) {
                let name = r.get(open + 1..).unwrap_or(&[]);
                e.script = name.get(..memchr(b')', name).unwrap_or(0)).unwrap_or(&[]);
            }
        }
    } else if m.starts_with(b"oom-kill:") {
        e.severity = Severity::Info;
        e.script = kv(m, b"task=").unwrap_or(&[]);
        e.child_pid = kv(m, b"pid=").and_then(u32_at);
    } else if let Some(i) = memmem::find(m, b"Possible SYN flooding on port ") {
        e.kind = EventKind::SynFlood;
        e.severity = Severity::Warn;
        e.number = u32_at(m.get(i + 30..).unwrap_or(&[])).map(i64::from);
    } else if memmem::find(m, b"table full, dropping packet").is_some() {
        e.kind = EventKind::ConntrackFull;
        e.severity = Severity::Warn;
    }
    e
}

impl LineParser for KernelParser {
    fn format(&self) -> Format {
        Format::Kernel
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let line = rec.trim_ascii_end();
        if line.is_empty() || line.iter().all(|c| c.is_ascii_whitespace()) {
            return Ok(Record::Ignored);
        }
        let (ts, body) = match line.first() {
            // dmesg -T: "[Mon Nov 23 17:21:23 2026] msg"; plain dmesg: "[12345.678901] msg"
            Some(b'[') => {
                let close = memchr(b']', line.get(..line.len().min(40)).unwrap_or(&[]))
                    .ok_or_else(|| ParseError::not_this_format(0))?;
                let inner = line.get(1..close).unwrap_or(&[]);
                if inner.len() == 24
                    && inner.get(3) == Some(&b' ')
                    && inner.first().is_some_and(|c| c.is_ascii_alphabetic())
                {
                    let (mo, d, sod) =
                        month_day_hms(&inner[4..]).ok_or_else(|| ParseError::invalid("time", 1))?;
                    let y = time::digits(inner, 20, 4)
                        .filter(|y| *y >= 1970)
                        .ok_or_else(|| ParseError::invalid("time", 21))?;
                    if inner.get(19) != Some(&b' ') {
                        return Err(ParseError::invalid("time", 20));
                    }
                    let secs = time::days_from_civil(y as i64, mo, d) * 86400 + sod;
                    let r = close + 1 + usize::from(line.get(close + 1) == Some(&b' '));
                    (Ts::new(secs * 1_000_000, None), r)
                } else if !inner.is_empty()
                    && inner
                        .iter()
                        .all(|c| c.is_ascii_digit() || *c == b'.' || *c == b' ')
                {
                    // seconds since boot: no wall-clock time to place the line
                    return Err(ParseError::invalid("time", 1));
                } else {
                    return Err(ParseError::not_this_format(0));
                }
            }
            Some(c) if c.is_ascii_digit() => {
                let (ts, used) = self
                    .cache
                    .iso8601(line)
                    .ok_or_else(|| ParseError::not_this_format(0))?;
                (ts, host_kernel(line, used)?)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let (ts, used) = self
                    .bsd(line)
                    .ok_or_else(|| ParseError::not_this_format(0))?;
                (ts, host_kernel(line, used)?)
            }
            _ => return Err(ParseError::not_this_format(0)),
        };
        let m = strip_uptime(line.get(body..).unwrap_or(&[]));
        Ok(Record::Event(kernel_event(ts, m)))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-30 00:00:00 UTC
    const REF: i64 = 1_795_996_800;

    fn ev(line: &[u8]) -> Event<'_> {
        match KernelParser::with_reference_time(REF).parse(line) {
            Ok(Record::Event(e)) => e,
            other => panic!("{other:?} for {}", String::from_utf8_lossy(line)),
        }
    }

    fn wall(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        (time::days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1_000_000
    }

    #[test]
    fn reference_is_what_it_says() {
        assert_eq!(REF * 1_000_000, wall(2026, 11, 30, 0, 0, 0));
    }

    #[test]
    fn oom_kill_as_mm_oom_kill_c_writes_it() {
        let e = ev(b"Nov 23 17:21:23 web1 kernel: [123456.789012] Out of memory: Killed process 1234 (php-fpm8.2) total-vm:524288kB, anon-rss:262144kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1024kB oom_score_adj:0");
        assert_eq!(e.kind, EventKind::KernelOomKill);
        assert_eq!(e.child_pid, Some(1234));
        assert_eq!(e.script, b"php-fpm8.2");
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 17, 21, 23));
        assert_eq!(e.ts.offset, None);
        assert!(e.message.starts_with(b"Out of memory: Killed"));
        let e = ev(b"2026-11-23T17:21:23.250000+01:00 web1 kernel: Memory cgroup out of memory: Killed process 77 (php-fpm: pool) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0");
        assert_eq!((e.kind, e.child_pid), (EventKind::KernelOomKill, Some(77)));
        assert_eq!(e.script, b"php-fpm: pool");
        assert_eq!(e.ts.offset, Some(3600));
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 17, 21, 23) + 250_000);
        // kernels before 5.1
        let e = ev(b"[Mon Nov 23 17:21:23 2026] Killed process 4321 (php-fpm7.4) total-vm:1kB, anon-rss:1kB, file-rss:0kB");
        assert_eq!(
            (e.kind, e.child_pid),
            (EventKind::KernelOomKill, Some(4321))
        );
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 17, 21, 23));
        // the summary line names the same victim: not a second kill
        let e = ev(b"Nov 23 17:21:23 web1 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=1234,uid=33");
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!((e.script, e.child_pid), (&b"php-fpm8.2"[..], Some(1234)));
        let e = ev(b"Nov 23 17:21:23 web1 kernel: Out of memory: Kill process 1234 (php-fpm) score 900 or sacrifice child");
        assert_eq!(e.kind, EventKind::Other);
    }

    #[test]
    fn network_pressure() {
        let e = ev(b"Nov  3 09:00:01 lb1 kernel: [ 8812.100000] TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies.  Check SNMP counters.");
        assert_eq!((e.kind, e.number), (EventKind::SynFlood, Some(80)));
        assert_eq!(e.ts.wall_us, wall(2026, 11, 3, 9, 0, 1));
        let e = ev(b"Nov 23 17:21:23.123456 web1 kernel: nf_conntrack: nf_conntrack: table full, dropping packet");
        assert_eq!(e.kind, EventKind::ConntrackFull);
        assert_eq!(e.ts.wall_us, wall(2026, 11, 23, 17, 21, 23) + 123_456);
        let e =
            ev(b"2026-11-23T17:21:23+0100 web1 kernel: nf_conntrack: table full, dropping packet");
        assert_eq!(e.kind, EventKind::ConntrackFull);
        let e = ev(b"Nov 23 17:21:23 web1 kernel: eth0: link up");
        assert_eq!(e.kind, EventKind::Other);
        for k in [
            EventKind::KernelOomKill,
            EventKind::SynFlood,
            EventKind::ConntrackFull,
        ] {
            assert!(k.is_error());
        }
    }

    #[test]
    fn year_from_reference_time() {
        // a December line read on 30 November is from the year before
        let e = ev(b"Dec 24 10:00:00 web1 kernel: x");
        assert_eq!(e.ts.wall_us, wall(2025, 12, 24, 10, 0, 0));
    }

    #[test]
    fn not_kernel() {
        let mut p = KernelParser::with_reference_time(REF);
        for l in [
            &b"Nov 23 17:21:23 web1 sshd[12]: Accepted publickey"[..],
            b"2026/11/23 10:00:00 [error] 1#1: x",
            b"[23-Nov-2026 10:00:00] WARNING: [pool www] x",
            b"10.0.0.1 - - [23/Nov/2026:10:00:01 +0000] \"GET / HTTP/1.1\" 200 1",
            b"{\"level\":\"info\"}",
        ] {
            assert!(p.parse(l).is_err(), "{}", String::from_utf8_lossy(l));
        }
        // plain dmesg has no wall clock: a clear error, not a line placed in 1970
        let err = p
            .parse(b"[12345.678901] Out of memory: Killed process 1 (x)")
            .unwrap_err();
        assert_eq!(err.field, "time");
        assert!(p.parse(b"[Mon Nov 31 17:21:23 2026] x").is_err());
    }

    #[test]
    fn never_panics_on_token_soup() {
        let tokens: &[&[u8]] = &[
            b"Nov 23 17:21:23",
            b"[Mon Nov 23 17:21:23 2026]",
            b"2026-11-23T17:21:23+01:00",
            b" web1 kernel: ",
            b"[ 12.5] ",
            b"Killed process ",
            b"oom-kill:",
            b"task=",
            b"pid=",
            b"Possible SYN flooding on port ",
            b"99999999999999999999",
            b"(",
            b")",
            b",",
            b"[",
            b"]",
            b"\xff",
        ];
        let mut p = KernelParser::with_reference_time(REF);
        crate::test_util::soup(tokens, 20_000, |b| {
            let _ = p.parse(b);
        });
    }
}
