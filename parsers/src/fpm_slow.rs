//! php-fpm slowlog.
//!
//! ```text
//!                                                     (blank line)
//! [25-Oct-2018 14:27:43]  [pool www] pid 842
//! script_filename = /home/x/wp-admin/themes.php
//! [0x00007f9be3014300] unlink() /home/x/wp-admin/includes/class-wp-filesystem-direct.php:285
//! [0x00007f9be30132d0] [INCLUDE_OR_EVAL]() /home/x/wp-admin/themes.php:10
//! ```
//!
//! php-fpm (`fpm_php_trace`) writes `"\n%s [pool %s] pid %d\n"` (the time in brackets), then
//! `script_filename = ...` and one line per frame, innermost first. A record starts at the
//! header line; the lines after it (script, frames, the blank line that separates records)
//! belong to it. The blank line a file starts with arrives alone and is [`Record::Ignored`].
//!
//! The trace carries no URI: join it to the error log's `executing too slow` line with the same
//! pool and pid (SPEC "Field facts").

use memchr::{memchr, memmem};

use crate::fields::{parse_u64, trim};
use crate::fpm::fpm_ts_shape;
use crate::time::SecondCache;
use crate::{Event, EventKind, Format, Framing, LineParser, ParseError, Record, Severity};

#[derive(Clone, Default)]
pub struct FpmSlowParser {
    cache: SecondCache,
}

impl FpmSlowParser {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Offset of `[pool ` in a header line `[DD-Mon-YYYY HH:MM:SS(.ffffff)]  [pool NAME] pid N`.
fn header_pool_at(line: &[u8]) -> Option<usize> {
    if line.first() != Some(&b'[') || !fpm_ts_shape(line, 1) {
        return None;
    }
    let mut i = 21;
    if line.get(i) == Some(&b'.') {
        i += 1;
        while line.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
    }
    if line.get(i) != Some(&b']') {
        return None;
    }
    i += 1;
    let sp = i;
    while line.get(i) == Some(&b' ') {
        i += 1;
    }
    if i == sp || !line.get(i..).is_some_and(|r| r.starts_with(b"[pool ")) {
        return None;
    }
    Some(i)
}

impl LineParser for FpmSlowParser {
    fn format(&self) -> Format {
        Format::FpmSlow
    }

    fn framing(&self) -> Framing {
        Framing::MultiLine
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        header_pool_at(line).is_some()
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let rec = trim(rec);
        if rec.is_empty() {
            return Ok(Record::Ignored);
        }
        let nl = memchr(b'\n', rec).unwrap_or(rec.len());
        let header = rec.get(..nl).unwrap_or(rec);
        let header = header.strip_suffix(b"\r").unwrap_or(header);
        let pool_at = header_pool_at(header).ok_or_else(|| ParseError::not_this_format(0))?;
        let (ts, _) = self
            .cache
            .fpm(header.get(1..).unwrap_or(&[]))
            .ok_or_else(|| ParseError::invalid("time", 1))?;
        // [pool NAME] pid N
        let r = header.get(pool_at + 6..).unwrap_or(&[]);
        let close = memchr(b']', r).ok_or_else(|| ParseError::expected("]", "pool", pool_at))?;
        let pool = r.get(..close).unwrap_or(&[]);
        let after = r.get(close + 1..).unwrap_or(&[]);
        let pid_at = pool_at + 6 + close + 1;
        let pid_txt = after
            .strip_prefix(b" pid ")
            .ok_or_else(|| ParseError::expected("\" pid \"", "pid", pid_at))?;
        let child_pid = parse_u64(trim(pid_txt))
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| ParseError::invalid("pid", pid_at + 5))?;
        // script_filename = ..., then the frames
        let mut body = rec.get(nl + 1..).unwrap_or(&[]);
        let mut script: &[u8] = &[];
        if let Some(r) = body.strip_prefix(b"script_filename = ") {
            let e = memchr(b'\n', r).unwrap_or(r.len());
            script = trim(r.get(..e).unwrap_or(&[]));
            body = r.get(e + 1..).unwrap_or(&[]);
        }
        Ok(Record::Event(Event {
            ts,
            kind: EventKind::FpmSlowTrace,
            severity: Severity::Notice,
            message: header,
            pool,
            child_pid: Some(child_pid),
            script,
            frames: trim(body),
            ..Event::default()
        }))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

/// One stack frame of a slowlog trace: `[0x00007f9be3014300] unlink() /path/file.php:285`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// `0x00007f9be3014300`
    pub addr: &'a [u8],
    /// Function name without `()`: `unlink`, `[INCLUDE_OR_EVAL]`, `{closure}`, `???`.
    pub function: &'a [u8],
    /// Source file (may be `???` or empty when php-fpm could not read it).
    pub file: &'a [u8],
    pub line: Option<u32>,
}

fn parse_frame(l: &[u8]) -> Option<Frame<'_>> {
    let l = trim(l);
    let r = l.strip_prefix(b"[")?;
    let close = memchr(b']', r)?;
    let addr = r.get(..close)?;
    if !addr.starts_with(b"0x") {
        return None;
    }
    let r = r.get(close + 1..)?.strip_prefix(b" ")?;
    // The function name ends at "() " (or "()" at the end of the line).
    let (function, rest) = match memmem::find(r, b"() ") {
        Some(p) => (r.get(..p)?, r.get(p + 3..)?),
        None => match r.strip_suffix(b"()") {
            Some(f) => (f, &[][..]),
            None => match memchr(b' ', r) {
                Some(p) => (r.get(..p)?, r.get(p + 1..)?),
                None => (r, &[][..]),
            },
        },
    };
    let rest = trim(rest);
    let (file, line) = match memchr::memrchr(b':', rest) {
        Some(c) => match parse_u64(rest.get(c + 1..)?).and_then(|v| u32::try_from(v).ok()) {
            Some(n) => (rest.get(..c)?, Some(n)),
            None => (rest, None),
        },
        None => (rest, None),
    };
    Some(Frame {
        addr,
        function,
        file,
        line,
    })
}

/// Iterate the frames of a slowlog record's [`Event::frames`] (innermost first). Lines that
/// are not frames (`+++ dump failed`, blank lines) are skipped.
pub fn frames(rec_frames: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    rec_frames.split(|&c| c == b'\n').filter_map(parse_frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &[u8] = b"[25-Oct-2018 14:27:43]  [pool www] pid 842\nscript_filename = /home/x/wp-admin/themes.php\n[0x00007f9be3014300] unlink() /home/x/a.php:285\n[0x00007f9be30132d0] [INCLUDE_OR_EVAL]() /home/x/wp-admin/themes.php:10\n";

    #[test]
    fn record() {
        let mut p = FpmSlowParser::new();
        let e = match p.parse(REC) {
            Ok(Record::Event(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(e.kind, EventKind::FpmSlowTrace);
        assert_eq!(e.pool, b"www");
        assert_eq!(e.child_pid, Some(842));
        assert_eq!(e.script, b"/home/x/wp-admin/themes.php");
        assert!(e.frames.starts_with(b"[0x00007f9be3014300] unlink()"));
        assert!(e.frames.ends_with(b"themes.php:10"));
        let days = crate::time::days_from_civil(2018, 10, 25);
        assert_eq!(
            e.ts.wall_us,
            (days * 86400 + 14 * 3600 + 27 * 60 + 43) * 1_000_000
        );
        let f: Vec<Frame> = frames(e.frames).collect();
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0],
            Frame {
                addr: b"0x00007f9be3014300",
                function: b"unlink",
                file: b"/home/x/a.php",
                line: Some(285)
            }
        );
        assert_eq!(f[1].function, b"[INCLUDE_OR_EVAL]");
        assert_eq!(f[1].line, Some(10));
    }

    use crate::test_util::soup;

    #[test]
    fn never_panics_on_token_soup() {
        let tokens: &[&[u8]] = &[
            b"[25-Oct-2018 14:27:43]",
            b"  [pool ",
            b"www] pid ",
            b"842",
            b"\nscript_filename = ",
            b"\n[0x00007f9be3014300] ",
            b"unlink() ",
            b"/a.php:",
            b"285",
            b"()",
            b":",
            b"]",
            b"\n",
            b" ",
            b"\xff",
        ];
        let mut p = FpmSlowParser::new();
        soup(tokens, 50_000, |b| {
            let _ = p.starts_record(b);
            if let Ok(Record::Event(e)) = p.parse(b) {
                let _ = frames(e.frames).count();
            }
            let _ = frames(b).count();
        });
    }

    #[test]
    fn framing_and_edges() {
        let mut p = FpmSlowParser::new();
        assert_eq!(p.framing(), Framing::MultiLine);
        assert!(p.starts_record(b"[25-Oct-2018 14:27:43]  [pool www] pid 842"));
        assert!(p.starts_record(b"[25-Oct-2018 14:27:43.123456] [pool www] pid 842"));
        assert!(!p.starts_record(b"[0x00007f9be3014300] unlink() /a.php:285"));
        assert!(!p.starts_record(b"script_filename = /x"));
        assert!(!p.starts_record(b""));
        assert!(matches!(p.parse(b""), Ok(Record::Ignored)));
        assert!(matches!(p.parse(b"\n\n"), Ok(Record::Ignored)));
        // header only (trace failed)
        match p.parse(b"[25-Oct-2018 14:27:43]  [pool www] pid 842\n+++ dump failed\n") {
            Ok(Record::Event(e)) => {
                assert_eq!(e.script, b"");
                assert_eq!(frames(e.frames).count(), 0);
            }
            other => panic!("{other:?}"),
        }
        assert!(p
            .parse(b"[0x00007f9be3014300] unlink() /a.php:285")
            .is_err());
        assert!(p
            .parse(b"[25-Oct-2018 14:27:43]  [pool www] pid x")
            .is_err());
        for n in 0..=REC.len() {
            let _ = p.parse(&REC[..n]);
            let _ = p.parse(&REC[n..]);
            let _ = frames(&REC[n..]).count();
        }
        let f: Vec<Frame> =
            frames(b"[0x1] ???() ???\n[0x2] foo\n[0x3] {closure}() /a b.php:7").collect();
        assert_eq!(f.len(), 3);
        assert_eq!(
            (f[0].function, f[0].file, f[0].line),
            (&b"???"[..], &b"???"[..], None)
        );
        assert_eq!(f[1].function, b"foo");
        assert_eq!(
            (f[2].function, f[2].file),
            (&b"{closure}"[..], &b"/a b.php"[..])
        );
    }
}
