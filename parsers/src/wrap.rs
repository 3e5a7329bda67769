//! Container wrappers: the envelopes container runtimes put around each line a program writes
//! to stdout or stderr. A wrapper is not a format: it is removed here, byte for byte and
//! without I/O, and the line inside is detected and parsed as usual by the caller.
//!
//! - **CRI** (containerd, cri-o: `/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log`):
//!   `2026-11-23T17:21:06.123456789Z stdout F <line>`; a line longer than the runtime's buffer
//!   is written as `P` (partial) pieces ended by an `F` piece.
//! - **Docker json-file** (`/var/lib/docker/containers/<id>/<id>-json.log`):
//!   `{"log":"<line>\n","stream":"stderr","time":"2026-...Z"}` with the line JSON-escaped; a
//!   line longer than 16 KiB is split into pieces whose `log` has no trailing `\n`.
//! - **Timestamped** (`kubectl logs --timestamps`, `docker logs -t`):
//!   `2026-11-23T17:21:06.123456789Z <line>`, one stream, no tag.

use crate::time::{days_from_civil, days_in_month, digits, parse_fraction, parse_zone};
use crate::{ErrorKind, ParseError};

/// A container log envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wrapper {
    Cri,
    Docker,
    Timestamped,
}

impl Wrapper {
    pub const ALL: [Wrapper; 3] = [Wrapper::Cri, Wrapper::Docker, Wrapper::Timestamped];

    /// Stable id, as `detect` prints it.
    pub fn id(self) -> &'static str {
        match self {
            Wrapper::Cri => "cri",
            Wrapper::Docker => "docker-json",
            Wrapper::Timestamped => "timestamped",
        }
    }
}

/// Which stream a piece was written to. [`Wrapper::Timestamped`] output has one stream,
/// reported as `Stdout` (kubectl and docker merge both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    pub fn id(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One physical line of a wrapped log, unwrapped.
#[derive(Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    pub stream: Stream,
    /// More pieces of the same line follow (CRI `P`, a Docker piece without `\n`).
    pub partial: bool,
    /// The runtime's time for this piece, UTC microseconds.
    pub utc_us: i64,
    /// The program's bytes (unescaped for Docker), without the line terminator.
    pub body: &'a [u8],
}

fn bad(field: &'static str, pos: usize) -> ParseError {
    ParseError::invalid(field, pos)
}

/// RFC 3339 time as runtimes write it (`2026-11-23T17:21:06.123456789Z`, or with `+01:00`):
/// UTC microseconds and the bytes used.
pub fn rfc3339(b: &[u8]) -> Option<(i64, usize)> {
    let y = digits(b, 0, 4)?;
    let mo = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T')) {
        return None;
    }
    let h = digits(b, 11, 2)?;
    let mi = digits(b, 14, 2)?;
    let s = digits(b, 17, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y as i64, mo)
        || !(1970..=9999).contains(&y)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let (us, fl) = parse_fraction(b.get(19..)?);
    let (off, zl) = parse_zone(b.get(19 + fl..)?)?;
    let secs = days_from_civil(y as i64, mo, d) * 86400 + (h * 3600 + mi * 60 + s) as i64;
    Some(((secs - off as i64) * 1_000_000 + us as i64, 19 + fl + zl))
}

/// Unwrap one physical line of `w`. Docker's JSON-escaped line is decoded into `scratch`
/// (cleared first); CRI and timestamped bodies borrow `line`.
pub fn unwrap<'a>(
    w: Wrapper,
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<Piece<'a>, ParseError> {
    match w {
        Wrapper::Cri => cri(line),
        Wrapper::Timestamped => stamped(line),
        Wrapper::Docker => docker(line, scratch),
    }
}

fn cri(line: &[u8]) -> Result<Piece<'_>, ParseError> {
    let (utc_us, n) = rfc3339(line).ok_or_else(|| bad("cri_time", 0))?;
    let rest = &line[n..];
    let rest = rest
        .strip_prefix(b" ")
        .ok_or(ParseError::expected("' '", "cri_time", n))?;
    let (stream, rest) = if let Some(r) = rest.strip_prefix(b"stdout") {
        (Stream::Stdout, r)
    } else if let Some(r) = rest.strip_prefix(b"stderr") {
        (Stream::Stderr, r)
    } else {
        return Err(bad("cri_stream", n + 1));
    };
    let pos = line.len() - rest.len();
    let rest = rest
        .strip_prefix(b" ")
        .ok_or(ParseError::expected("' '", "cri_stream", pos))?;
    // the tag: `F` or `P`, possibly followed by more `:`-separated tags (CRI reserves them)
    let tag_end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
    let tag = &rest[..tag_end];
    let partial = match tag.split(|&c| c == b':').next() {
        Some(b"F") => false,
        Some(b"P") => true,
        _ => return Err(bad("cri_tag", line.len() - rest.len())),
    };
    let body = rest.get(tag_end + 1..).unwrap_or(&[]);
    Ok(Piece {
        stream,
        partial,
        utc_us,
        body,
    })
}

fn stamped(line: &[u8]) -> Result<Piece<'_>, ParseError> {
    let (utc_us, n) = rfc3339(line).ok_or_else(|| bad("timestamp", 0))?;
    let body = match line.get(n) {
        None => &[][..],
        Some(b' ') => &line[n + 1..],
        Some(_) => return Err(ParseError::expected("' '", "timestamp", n)),
    };
    Ok(Piece {
        stream: Stream::Stdout,
        partial: false,
        utc_us,
        body,
    })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// End (exclusive, after the closing quote) of the JSON string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Skip one JSON value (any kind) starting at `b[i]`; returns the index after it.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ') {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in s {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Decode the JSON string body `s` (between the quotes) into `out`.
pub fn json_unescape(s: &[u8], out: &mut Vec<u8>) -> Result<(), usize> {
    let mut i = 0;
    while i < s.len() {
        let Some(k) = memchr::memchr(b'\\', &s[i..]) else {
            out.extend_from_slice(&s[i..]);
            return Ok(());
        };
        out.extend_from_slice(&s[i..i + k]);
        i += k;
        let c = *s.get(i + 1).ok_or(i)?;
        i += 2;
        match c {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let mut cp = hex4(s, i).ok_or(i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) {
                    // a surrogate pair; a lone half decodes as U+FFFD
                    match (s.get(i..i + 2), hex4(s, i + 2)) {
                        (Some(b"\\u"), Some(lo)) if (0xDC00..0xE000).contains(&lo) => {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            i += 6;
                        }
                        _ => cp = 0xFFFD,
                    }
                } else if (0xDC00..0xE000).contains(&cp) {
                    cp = 0xFFFD;
                }
                let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(i - 1),
        }
    }
    Ok(())
}

fn docker<'a>(line: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<Piece<'a>, ParseError> {
    scratch.clear();
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return Err(ParseError::not_this_format(i));
    }
    i = skip_ws(line, i + 1);
    let mut log: Option<(usize, usize)> = None;
    let mut stream: Option<Stream> = None;
    let mut time: Option<i64> = None;
    loop {
        if line.get(i) == Some(&b'}') {
            break;
        }
        if line.get(i) != Some(&b'"') {
            return Err(ParseError::expected("'\"'", "json_key", i));
        }
        let ke = string_end(line, i).ok_or(ParseError::truncated("json_key", i))?;
        let key = &line[i + 1..ke - 1];
        i = skip_ws(line, ke);
        if line.get(i) != Some(&b':') {
            return Err(ParseError::expected("':'", "json_key", i));
        }
        i = skip_ws(line, i + 1);
        let ve = skip_value(line, i).ok_or(ParseError::truncated("json_value", i))?;
        let is_str = line[i] == b'"';
        match key {
            b"log" if is_str => log = Some((i + 1, ve - 1)),
            b"stream" if is_str => {
                stream = Some(match &line[i + 1..ve - 1] {
                    b"stdout" => Stream::Stdout,
                    b"stderr" => Stream::Stderr,
                    _ => return Err(bad("stream", i)),
                })
            }
            b"time" if is_str => {
                let (t, n) = rfc3339(&line[i + 1..ve - 1]).ok_or_else(|| bad("time", i + 1))?;
                if i + 1 + n != ve - 1 {
                    return Err(bad("time", i + 1));
                }
                time = Some(t)
            }
            b"log" | b"stream" | b"time" => return Err(bad("json_value", i)),
            _ => {}
        }
        i = skip_ws(line, ve);
        match line.get(i) {
            Some(b',') => i = skip_ws(line, i + 1),
            Some(b'}') => break,
            _ => return Err(ParseError::expected("',' or '}'", "json", i)),
        }
    }
    if skip_ws(line, i + 1) != line.len() {
        return Err(ParseError::new(ErrorKind::Trailing, "json", i + 1));
    }
    let (ls, le) = log.ok_or(ParseError::truncated("log", i))?;
    let stream = stream.ok_or(ParseError::truncated("stream", i))?;
    let utc_us = time.ok_or(ParseError::truncated("time", i))?;
    json_unescape(&line[ls..le], scratch).map_err(|p| bad("log", ls + p))?;
    let partial = scratch.last() != Some(&b'\n');
    let mut n = scratch.len();
    if !partial {
        n -= 1;
        if n > 0 && scratch[n - 1] == b'\r' {
            n -= 1;
        }
    }
    Ok(Piece {
        stream,
        partial,
        utc_us,
        body: &scratch[..n],
    })
}

/// The wrapper most of `lines` (a sample's complete lines) unwrap with, if at least half of
/// the non-blank ones do. CRI is tried before timestamped (a CRI line is also a timestamp
/// followed by text).
pub fn sniff(lines: &[&[u8]]) -> Option<Wrapper> {
    let nonblank = lines
        .iter()
        .filter(|l| !l.iter().all(|c| c.is_ascii_whitespace()))
        .count();
    if nonblank == 0 {
        return None;
    }
    let mut scratch = Vec::new();
    for w in Wrapper::ALL {
        let ok = lines
            .iter()
            .filter(|l| unwrap(w, l, &mut scratch).is_ok())
            .count();
        if ok * 2 >= nonblank && ok > 0 {
            return Some(w);
        }
    }
    None
}

/// Whether `line` is a klog (Kubernetes components, ingress-nginx's controller) line:
/// `I1123 17:21:06.123456       7 controller.go:190] "message"`.
pub fn is_klog(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'I' | b'W' | b'E' | b'F'))
        && digits(line, 1, 4).is_some()
        && line.get(5) == Some(&b' ')
        && digits(line, 6, 2).is_some()
        && line.get(8) == Some(&b':')
        && digits(line, 9, 2).is_some()
        && line.get(11) == Some(&b':')
        && digits(line, 12, 2).is_some()
        && line.get(14) == Some(&b'.')
        && memchr::memmem::find(line.get(15..).unwrap_or(&[]), b"] ").is_some()
}

/// A line put back together from its pieces.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined<'a> {
    pub stream: Stream,
    /// The runtime's time of the first piece.
    pub utc_us: i64,
    pub body: &'a [u8],
    /// Physical line and byte offset of the first piece.
    pub line_no: u64,
    pub offset: u64,
    /// Physical lines (pieces) it was made of.
    pub pieces: u64,
    /// Pieces beyond `max` bytes were not kept (the line is to be rejected as too long).
    pub too_long: bool,
}

#[derive(Debug, Default)]
struct Partial {
    buf: Vec<u8>,
    utc_us: i64,
    line_no: u64,
    offset: u64,
    pieces: u64,
    too_long: bool,
}

/// Joins partial pieces, per stream, up to the piece that ends them.
#[derive(Debug)]
pub struct Joiner {
    max: usize,
    open: [Partial; 2],
}

impl Joiner {
    /// `max`: the longest line kept (`--max-line`).
    pub fn new(max: usize) -> Self {
        Joiner {
            max,
            open: Default::default(),
        }
    }

    /// Feed one piece found at physical line `line_no` (byte `offset`); `out` gets the
    /// complete line when this piece ends one.
    pub fn push(
        &mut self,
        p: &Piece<'_>,
        line_no: u64,
        offset: u64,
        out: &mut dyn FnMut(Joined<'_>),
    ) {
        let o = &mut self.open[p.stream as usize];
        if o.pieces == 0 && !p.partial {
            out(Joined {
                stream: p.stream,
                utc_us: p.utc_us,
                body: p.body,
                line_no,
                offset,
                pieces: 1,
                too_long: false,
            });
            return;
        }
        if o.pieces == 0 {
            o.buf.clear();
            o.utc_us = p.utc_us;
            o.line_no = line_no;
            o.offset = offset;
            o.too_long = false;
        }
        o.pieces += 1;
        if !o.too_long && o.buf.len() + p.body.len() <= self.max {
            o.buf.extend_from_slice(p.body);
        } else {
            o.too_long = true;
        }
        if !p.partial {
            Self::emit(o, p.stream, out);
        }
    }

    fn emit(o: &mut Partial, stream: Stream, out: &mut dyn FnMut(Joined<'_>)) {
        let pieces = std::mem::take(&mut o.pieces);
        out(Joined {
            stream,
            utc_us: o.utc_us,
            body: &o.buf,
            line_no: o.line_no,
            offset: o.offset,
            pieces,
            too_long: o.too_long,
        });
        o.buf.clear();
    }

    /// Emit the lines still waiting for their last piece (end of input: a runtime stopped
    /// mid-line); they are complete as far as the log goes.
    pub fn finish(&mut self, out: &mut dyn FnMut(Joined<'_>)) {
        for s in [Stream::Stdout, Stream::Stderr] {
            let o = &mut self.open[s as usize];
            if o.pieces > 0 {
                Self::emit(o, s, out);
            }
        }
    }

    /// Whether a line is waiting for more pieces.
    pub fn has_open(&self) -> bool {
        self.open.iter().any(|o| o.pieces > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(w: Wrapper, l: &[u8]) -> Result<(Stream, bool, i64, Vec<u8>), ParseError> {
        let mut s = Vec::new();
        let p = unwrap(w, l, &mut s)?;
        Ok((p.stream, p.partial, p.utc_us, p.body.to_vec()))
    }

    const T: i64 = 1_795_454_466_123_456; // 2026-11-23T17:21:06.123456Z

    #[test]
    fn rfc3339_forms() {
        assert_eq!(rfc3339(b"2026-11-23T17:21:06.123456789Z x"), Some((T, 30)));
        assert_eq!(rfc3339(b"2026-11-23T17:21:06.123456Z"), Some((T, 27)));
        assert_eq!(
            rfc3339(b"2026-11-23T18:21:06.123456+01:00"),
            Some((T, 32)),
            "offset applied"
        );
        assert_eq!(rfc3339(b"2026-11-23T17:21:06Z"), Some((T - 123_456, 20)));
        assert_eq!(rfc3339(b"2026-11-23 17:21:06Z"), None);
        assert_eq!(rfc3339(b"2026-02-30T17:21:06Z"), None);
        assert_eq!(rfc3339(b"2026-11-23T17:21:06"), None, "no zone");
    }

    #[test]
    fn cri_lines() {
        let l = b"2026-11-23T17:21:06.123456789Z stdout F 10.0.0.1 - - [23/Nov/2026:17:21:06 +0000] \"GET / HTTP/1.1\" 200 5";
        let (s, p, t, b) = un(Wrapper::Cri, l).unwrap();
        assert_eq!((s, p, t), (Stream::Stdout, false, T));
        assert!(b.starts_with(b"10.0.0.1 - - ["));
        let (s, p, _, b) =
            un(Wrapper::Cri, b"2026-11-23T17:21:06.123456789Z stderr P abc").unwrap();
        assert_eq!((s, p, &b[..]), (Stream::Stderr, true, &b"abc"[..]));
        // an empty line, with and without the separator
        assert_eq!(
            un(Wrapper::Cri, b"2026-11-23T17:21:06.123456789Z stdout F")
                .unwrap()
                .3,
            b""
        );
        assert_eq!(
            un(Wrapper::Cri, b"2026-11-23T17:21:06.123456789Z stdout F ")
                .unwrap()
                .3,
            b""
        );
        // the body keeps its own spaces
        assert_eq!(
            un(Wrapper::Cri, b"2026-11-23T17:21:06Z stdout F   x  ")
                .unwrap()
                .3,
            b"  x  "
        );
        let e = un(Wrapper::Cri, b"2026-11-23T17:21:06Z stdin F x").unwrap_err();
        assert_eq!(e.field, "cri_stream");
        let e = un(Wrapper::Cri, b"2026-11-23T17:21:06Z stdout X x").unwrap_err();
        assert_eq!(e.field, "cri_tag");
        assert!(un(Wrapper::Cri, b"2026-11-23T17:21:06Z x").is_err());
    }

    #[test]
    fn docker_lines() {
        let l = br#"{"log":"2026/11/23 17:21:06 [error] 7#7: *1 connect() failed (111: Connection refused), request: \"GET / HTTP/1.1\"\n","stream":"stderr","time":"2026-11-23T17:21:06.123456789Z"}"#;
        let (s, p, t, b) = un(Wrapper::Docker, l).unwrap();
        assert_eq!((s, p, t), (Stream::Stderr, false, T));
        assert_eq!(
            &b[..],
            &b"2026/11/23 17:21:06 [error] 7#7: *1 connect() failed (111: Connection refused), request: \"GET / HTTP/1.1\""[..]
        );
        // a piece of a long line: no trailing newline
        let (_, p, _, b) = un(
            Wrapper::Docker,
            br#"{"log":"abc","stream":"stdout","time":"2026-11-23T17:21:06.123456789Z"}"#,
        )
        .unwrap();
        assert!(p);
        assert_eq!(b, b"abc");
        // Go escapes <, > and & as \u003c...; surrogate pairs; CRLF
        let (_, _, _, b) = un(
            Wrapper::Docker,
            br#"{"log":"\u003cb\u003e \ud83d\ude00 \u00e9\r\n","stream":"stdout","time":"2026-11-23T17:21:06Z"}"#,
        )
        .unwrap();
        assert_eq!(String::from_utf8(b).unwrap(), "<b> \u{1F600} \u{e9}");
        // key order and extra attributes do not matter
        let (s, ..) = un(
            Wrapper::Docker,
            br#"{"stream":"stderr","attrs":{"tag":"a}b"},"time":"2026-11-23T17:21:06Z","log":"x\n"}"#,
        )
        .unwrap();
        assert_eq!(s, Stream::Stderr);
        for bad in [
            &br#"{"log":"x\n","stream":"stdout"}"#[..],
            br#"{"log":"x\n","stream":"stdout","time":"yesterday"}"#,
            br#"{"log":"x\q","stream":"stdout","time":"2026-11-23T17:21:06Z"}"#,
            br#"{"log":"x\n","stream":"stdout","time":"2026-11-23T17:21:06Z"} tail"#,
            br#"{"log":"x"#,
            b"plain text",
            b"",
        ] {
            assert!(
                un(Wrapper::Docker, bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn stamped_lines() {
        let (s, p, t, b) = un(
            Wrapper::Timestamped,
            b"2026-11-23T17:21:06.123456789Z [23-Nov-2026 17:21:06] NOTICE: ready",
        )
        .unwrap();
        assert_eq!((s, p, t), (Stream::Stdout, false, T));
        assert_eq!(b, b"[23-Nov-2026 17:21:06] NOTICE: ready");
        assert!(un(Wrapper::Timestamped, b"2026-11-23T17:21:06Zx").is_err());
    }

    #[test]
    fn sniffing() {
        let cri: Vec<&[u8]> = vec![
            b"2026-11-23T17:21:06.1Z stdout F a",
            b"2026-11-23T17:21:06.1Z stderr F b",
        ];
        assert_eq!(sniff(&cri), Some(Wrapper::Cri));
        let st: Vec<&[u8]> = vec![b"2026-11-23T17:21:06.1Z a", b"2026-11-23T17:21:06.1Z b"];
        assert_eq!(sniff(&st), Some(Wrapper::Timestamped));
        let d: Vec<&[u8]> =
            vec![br#"{"log":"a\n","stream":"stdout","time":"2026-11-23T17:21:06Z"}"#];
        assert_eq!(sniff(&d), Some(Wrapper::Docker));
        let plain: Vec<&[u8]> = vec![
            b"2026/11/23 17:21:06 [error] 7#7: x",
            b"127.0.0.1 - - [23/Nov/2026:17:21:06 +0000] \"GET / HTTP/1.1\" 200 1",
            br#"{"level":"info","msg":"x"}"#,
        ];
        assert_eq!(sniff(&plain), None);
        assert_eq!(sniff(&[]), None);
    }

    #[test]
    fn joiner_joins_per_stream_and_keeps_the_first_line() {
        let mut j = Joiner::new(1 << 20);
        let mut got: Vec<(Stream, Vec<u8>, u64, u64, u64)> = Vec::new();
        let mut push = |j: &mut Joiner, s, partial, body: &[u8], ln: u64| {
            let p = Piece {
                stream: s,
                partial,
                utc_us: ln as i64,
                body,
            };
            j.push(&p, ln, ln * 100, &mut |x| {
                got.push((x.stream, x.body.to_vec(), x.line_no, x.offset, x.pieces));
                assert_eq!(x.utc_us, x.line_no as i64, "time of the first piece");
            });
        };
        push(&mut j, Stream::Stdout, true, b"ab", 1);
        push(&mut j, Stream::Stderr, false, b"err", 2);
        push(&mut j, Stream::Stdout, true, b"cd", 3);
        push(&mut j, Stream::Stdout, false, b"ef", 4);
        push(&mut j, Stream::Stdout, false, b"g", 5);
        push(&mut j, Stream::Stderr, true, b"tail", 6);
        drop(push);
        assert!(j.has_open());
        j.finish(&mut |x| got.push((x.stream, x.body.to_vec(), x.line_no, x.offset, x.pieces)));
        assert_eq!(
            got,
            vec![
                (Stream::Stderr, b"err".to_vec(), 2, 200, 1),
                (Stream::Stdout, b"abcdef".to_vec(), 1, 100, 3),
                (Stream::Stdout, b"g".to_vec(), 5, 500, 1),
                (Stream::Stderr, b"tail".to_vec(), 6, 600, 1),
            ]
        );
    }

    #[test]
    fn joiner_caps_long_lines() {
        let mut j = Joiner::new(4);
        let mut got = Vec::new();
        for (partial, b) in [(true, &b"abc"[..]), (true, b"def"), (false, b"g")] {
            let p = Piece {
                stream: Stream::Stdout,
                partial,
                utc_us: 0,
                body: b,
            };
            j.push(&p, 1, 0, &mut |x| {
                got.push((x.body.to_vec(), x.pieces, x.too_long))
            });
        }
        assert_eq!(got, vec![(b"abc".to_vec(), 3, true)]);
    }

    #[test]
    fn klog() {
        assert!(is_klog(
            b"I1123 17:21:06.123456       7 controller.go:190] \"Configuration changes detected\""
        ));
        assert!(is_klog(b"W1123 17:21:06.1 7 store.go:1] x"));
        assert!(!is_klog(b"I1123 17:21:06 x"));
        assert!(!is_klog(b"Info: 1123 17:21:06.1] x"));
    }
}
