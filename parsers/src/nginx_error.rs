//! nginx error log.
//!
//! ```text
//! YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message (errno: strerror) while ACTION, client: ...,
//!     server: ..., request: "...", upstream: "...", host: "...", referrer: "..."
//! ```
//!
//! Every part after the message is optional. The tail is written by nginx's log handlers in a
//! fixed order (`ngx_http_log_error`: client, server, request, subrequest, upstream, host,
//! referrer; the mail proxy writes `login: "..."` and an unquoted `upstream: ADDR`; the stream
//! module ends with `bytes from/to client:...`). Error-log text is not escaped by nginx, so the
//! message (a user name, a path) and the request/host/referrer values can contain `"` and even a
//! whole fake `, client: ...` tail written by an attacker; see [`split_tail`] for how the real
//! tail is found.
//!
//! Multi-line entries: a `FastCGI sent in stderr: "..."` message (a PHP stack trace) or an
//! OpenResty Lua traceback spans several physical lines, and only the first has a timestamp.
//! [`LineParser::starts_record`] is true for a line that begins an entry; the framer hands the
//! whole entry (lines joined with `\n`) to [`LineParser::parse`], and the tail is on its last
//! line.
//!
//! Lines this parser also accepts, and lines it deliberately does not:
//! - A syslog/journald prefix before the timestamp (`host nginx[983478]: 2023/12/09 21:35:20
//!   [error] ...`, `error_log syslog:...` or nginx on stderr under systemd). The prefix is
//!   skipped; the nginx timestamp inside is used.
//! - `nginx: [emerg] ...` without a timestamp: nginx writes this form to stderr during start-up
//!   (before or besides the error log), so it shows up in files that capture nginx's stderr
//!   (`error_log /dev/stderr` in containers, `nginx 2>>error.log`). It is something nginx
//!   really writes, so it is not rejected, but it has no time and cannot be placed on a
//!   timeline: it is returned as [`Record::Ignored`] (counted as parsed) and starts a record of
//!   its own.
//! - A line of a different log carrying its own access-log timestamp (`1.2.3.4 - - [06/Mar/2022:
//!   16:14:13 +0000] "GET / ..."`, as in files where two logs were concatenated) starts a record
//!   of its own and is rejected, instead of being glued silently to the error entry before it.

use crate::fastfind as memmem;
use memchr::{memchr, memrchr};

use crate::fields::parse_u64;
use crate::time::SecondCache;
use crate::{Event, EventKind, Format, Framing, LineParser, ParseError, Record, Severity};

#[derive(Clone, Default)]
pub struct NginxErrorParser {
    cache: SecondCache,
}

impl NginxErrorParser {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Where an entry begins inside a physical line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// A timestamp at this offset (0, or after a syslog/journald prefix).
    Ts(usize),
    /// `nginx: [level] ` at this offset (start-up message on stderr).
    Stderr(usize),
}

/// `DDDD/DD/DD DD:DD:DD [` at `p` (shape only; values are checked when parsing).
///
/// Checked a word at a time (three overlapping 8-byte words cover the 21 bytes): it runs on
/// every physical line twice (`starts_record`, then `parse`).
#[inline]
fn ts_shape_at(b: &[u8], p: usize) -> bool {
    let Some(s) = b.get(p..p.wrapping_add(21)) else {
        return false;
    };
    #[inline(always)]
    fn word(s: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    }
    // per word: which bytes must be digits, and the exact value of the others
    #[inline(always)]
    fn shape_ok(w: u64, digits: u64, fixed: u64) -> bool {
        let d = (w ^ 0x3030_3030_3030_3030) & digits;
        // a byte of `d` is < 10 iff adding 0x76 leaves its high bit clear (bytes >= 0x80
        // fail by the `| d`; a carry out of a failing byte cannot hide the failure)
        let digit_fail =
            (d.wrapping_add(0x7676_7676_7676_7676 & digits) | d) & 0x8080_8080_8080_8080;
        digit_fail == 0 && (w & !digits) == fixed
    }
    const W0: (u64, u64) = shape_word(b"0000/00/");
    const W1: (u64, u64) = shape_word(b"00 00:00");
    const W2: (u64, u64) = shape_word(b":00:00 [");
    shape_ok(word(s, 0), W0.0, W0.1)
        && shape_ok(word(s, 8), W1.0, W1.1)
        && shape_ok(word(s, 13), W2.0, W2.1)
}

/// The digit mask and the fixed bytes of an 8-byte piece of a shape (`0` = any digit).
const fn shape_word(pat: &[u8; 8]) -> (u64, u64) {
    let mut digits = 0u64;
    let mut fixed = 0u64;
    let mut i = 0;
    while i < 8 {
        if pat[i] == b'0' {
            digits |= 0xFF << (8 * i);
        } else {
            fixed |= (pat[i] as u64) << (8 * i);
        }
        i += 1;
    }
    (digits, fixed)
}

/// `nginx: [level] ` at `p`.
fn stderr_form_at(b: &[u8], p: usize) -> bool {
    let Some(r) = b.get(p..).and_then(|r| r.strip_prefix(b"nginx: [")) else {
        return false;
    };
    match memchr(b']', r) {
        Some(e) if e <= 6 => {
            Severity::from_bytes(r.get(..e).unwrap_or(&[])).is_some() && r.get(e + 1) == Some(&b' ')
        }
        _ => false,
    }
}

/// Find where an nginx error entry starts in `line`: at 0, after a syslog/journald prefix
/// (`host nginx[1]: `, possibly twice), or the stderr start-up form.
#[inline]
fn find_start(line: &[u8]) -> Option<Start> {
    if ts_shape_at(line, 0) {
        return Some(Start::Ts(0));
    }
    find_start_after_0(line)
}

/// [`find_start`] when `line` does not begin with a timestamp (kept out of line: nearly every
/// line does).
#[inline(never)]
fn find_start_after_0(line: &[u8]) -> Option<Start> {
    if stderr_form_at(line, 0) {
        return Some(Start::Stderr(0));
    }
    // A syslog prefix: short, no quotes, ends with ": ".
    let head = line.get(..line.len().min(256)).unwrap_or(&[]);
    let head = match memchr(b'"', head) {
        Some(q) => head.get(..q).unwrap_or(&[]),
        None => head,
    };
    for i in memmem::find_iter(head, b": ") {
        let p = i + 2;
        if ts_shape_at(line, p) {
            return Some(Start::Ts(p));
        }
        if stderr_form_at(line, p) {
            return Some(Start::Stderr(p));
        }
    }
    None
}

/// A line of an access log (`... [06/Mar/2022:16:14:13 +0000] "...`): it carries its own
/// timestamp, so it cannot be the continuation of an error entry.
fn looks_like_access_line(line: &[u8]) -> bool {
    let head = line.get(..line.len().min(160)).unwrap_or(&[]);
    for i in memchr::memchr_iter(b'[', head) {
        let Some(s) = line.get(i + 1..i + 22) else {
            return false;
        };
        const SHAPE: &[u8; 21] = b"00/Aaa/0000:00:00:00 ";
        let ok = s.iter().zip(SHAPE.iter()).all(|(&c, &t)| match t {
            b'0' => c.is_ascii_digit(),
            b'A' | b'a' => c.is_ascii_alphabetic(),
            _ => c == t,
        });
        if ok {
            return true;
        }
    }
    false
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

#[inline]
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memmem::find(hay, needle).is_some()
}

/// The run of ASCII digits at `b[i..]`: its length, and its value as [`parse_u64`] reads it
/// (`None` when empty or too large for a `u64`), in one pass over the digits.
#[inline(always)]
fn digit_run(b: &[u8], i: usize) -> (usize, Option<u64>) {
    let r = b.get(i..).unwrap_or(&[]);
    let mut v: u64 = 0;
    let mut n = 0;
    while let Some(&c) = r.get(n) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // exact for up to 19 digits (no overflow); longer runs are read by `parse_u64`
        v = v.wrapping_mul(10).wrapping_add(d as u64);
        n += 1;
    }
    let val = match n {
        0 => None,
        1..=19 => Some(v),
        _ => parse_u64(r.get(..n).unwrap_or(&[])),
    };
    (n, val)
}

/// [`digit_run`] as a `u32` (`None` when empty or too large for a `u32`).
#[inline(always)]
fn digit_run_u32(b: &[u8], i: usize) -> (usize, Option<u32>) {
    let (n, v) = digit_run(b, i);
    (n, v.and_then(|v| u32::try_from(v).ok()))
}

/// The header of an entry and its body (message and tail).
struct Head<'a> {
    ts: crate::Ts,
    severity: Severity,
    pid: u32,
    tid: u32,
    conn: Option<u64>,
    body: &'a [u8],
    /// The entry spans several physical lines (its tail is on the last).
    multi_line: bool,
}

impl NginxErrorParser {
    /// An entry's header (time, level, pid#tid, connection) and the rest of it; `None` for
    /// what `parse` reads as [`Record::Ignored`].
    fn head<'a>(&mut self, rec: &'a [u8]) -> Result<Option<Head<'a>>, ParseError> {
        let rec = trim_end(rec);
        if rec.is_empty() || rec.iter().all(|c| c.is_ascii_whitespace()) {
            // nginx writes no blank lines, but a blank line is harmless (and common at the
            // start of hand-made files).
            return Ok(None);
        }
        let nl = memchr(b'\n', rec);
        let first_line = match nl {
            Some(n) => rec.get(..n).unwrap_or(&[]),
            None => rec,
        };
        let p = match find_start(first_line) {
            Some(Start::Ts(p)) => p,
            Some(Start::Stderr(_)) => return Ok(None),
            None => return Err(ParseError::not_this_format(0)),
        };
        let b = rec.get(p..).unwrap_or(&[]);
        let (ts, used) = self
            .cache
            .nginx_error(b)
            .ok_or_else(|| ParseError::invalid("time", p))?;
        // " [level] "
        let mut i = used;
        if b.get(i..i + 2) != Some(b" [") {
            return Err(ParseError::expected("\" [\"", "level", p + i));
        }
        i += 2;
        // the level is short: a loop over at most 8 bytes, not a memchr call
        let close = b
            .get(i..)
            .and_then(|r| r.iter().take(8).position(|&c| c == b']'))
            .ok_or_else(|| ParseError::expected("]", "level", p + i))?;
        let severity = Severity::from_bytes(b.get(i..i + close).unwrap_or(&[]))
            .ok_or_else(|| ParseError::invalid("level", p + i))?;
        i += close + 1;
        if b.get(i) != Some(&b' ') {
            return Err(ParseError::expected("space", "pid", p + i));
        }
        i += 1;
        // PID#TID:
        let (pid_len, pid) = digit_run_u32(b, i);
        let pid = pid.ok_or_else(|| ParseError::invalid("pid", p + i))?;
        i += pid_len;
        if b.get(i) != Some(&b'#') {
            return Err(ParseError::expected("#", "tid", p + i));
        }
        i += 1;
        let (tid_len, tid) = digit_run_u32(b, i);
        let tid = tid.ok_or_else(|| ParseError::invalid("tid", p + i))?;
        i += tid_len;
        if b.get(i) != Some(&b':') {
            return Err(ParseError::expected(":", "tid", p + i));
        }
        i += 1;
        if b.get(i) == Some(&b' ') {
            i += 1;
        }
        // optional "*CONN "
        let mut conn = None;
        if b.get(i) == Some(&b'*') {
            let (n, c) = digit_run(b, i + 1);
            if n > 0 {
                conn = c;
                if conn.is_none() {
                    return Err(ParseError::invalid("connection", p + i));
                }
                i += 1 + n;
                if b.get(i) == Some(&b' ') {
                    i += 1;
                }
            }
        }
        let body = b.get(i..).unwrap_or(&[]);
        Ok(Some(Head {
            ts,
            severity,
            pid,
            tid,
            conn,
            body,
            multi_line: nl.is_some(),
        }))
    }
}

impl LineParser for NginxErrorParser {
    fn format(&self) -> Format {
        Format::NginxError
    }

    fn framing(&self) -> Framing {
        Framing::MultiLine
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        find_start(line).is_some() || looks_like_access_line(line)
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let Some(Head {
            ts,
            severity,
            pid,
            tid,
            conn,
            body,
            multi_line,
        }) = self.head(rec)?
        else {
            return Ok(Record::Ignored);
        };
        let (msg_end, tail) = split_tail(body, multi_line);
        let message = trim_end(body.get(..msg_end).unwrap_or(body));
        let (kind, script) = classify(message);
        Ok(Record::Event(Event {
            ts,
            kind,
            severity,
            pid: Some(pid),
            tid: Some(tid),
            conn,
            message,
            client: tail.client,
            server: tail.server,
            request: tail.request,
            upstream: tail.upstream,
            host: tail.host,
            script,
            ..Event::default()
        }))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }

    /// The header's time: once the header reads, the rest of an entry cannot fail.
    fn instant(&mut self, rec: &[u8]) -> Option<Option<crate::Ts>> {
        Some(self.head(rec).ok().flatten().map(|h| h.ts))
    }
}

/// The `, client: ...` tail of an entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tail<'a> {
    client: &'a [u8],
    server: &'a [u8],
    request: &'a [u8],
    upstream: &'a [u8],
    host: &'a [u8],
}

/// Searched as `client: `; it must follow `, ` (or the stream module's `, udp `).
const CLIENT: &[u8] = b"client: ";
/// At most this many `, client: ` candidates are tried (the last ones of the last line).
const MAX_CANDIDATES: usize = 8;
/// At most this many value boundaries are tried per entry (bounded backtracking).
const BUDGET: u32 = 256;

/// Split `body` (message + tail) into the message end and the tail fields.
///
/// nginx writes the tail last, and no tail value can hold a newline, so the tail is on the last
/// line. Every `, client: ` on that line is a candidate; from each, the rest of the entry must
/// parse as the tail grammar (keys in nginx's order, each at most once, quoted values closed
/// right before the next key or the end). Values are attacker-controlled and may contain
/// `", host: "`-like text, so quoted values are matched with bounded backtracking (for
/// `request:`, a value ending in `HTTP/x.y` is preferred).
///
/// Candidates are tried from the last to the first: a fake tail inside the *message* (a user
/// name such as `x", client: 1.2.3.4, server: ...`, seen in the wild) comes before the real one
/// and loses. A fake tail inside the *request value* would come after the real one; it only
/// wins if it is complete and well-formed up to the end of the line, which needs spaces in the
/// request target (rejected by nginx >= 1.21.1 for valid requests). If no candidate parses,
/// the last candidate's client address is kept (when it looks like an address) and the rest
/// is left in the message.
///
/// `multi_line`: whether `body` may hold a newline (when not, it is its own last line).
fn split_tail(body: &[u8], multi_line: bool) -> (usize, Tail<'_>) {
    let last_line_start = if multi_line {
        memrchr(b'\n', body).map(|n| n + 1).unwrap_or(0)
    } else {
        0
    };
    let last_line = body.get(last_line_start..).unwrap_or(&[]);
    // The candidates, found from the end (the last one is nearly always the tail): `client: `
    // cannot overlap itself, so these are the matches of a left-to-right search, last first.
    // (message end, client value start) within `last_line` of the last candidate
    let mut last: Option<(usize, usize)> = None;
    let mut n = 0usize;
    let mut end = last_line.len();
    let mut budget = BUDGET;
    while n < MAX_CANDIDATES {
        let Some(pos) = memmem::rfind(last_line.get(..end).unwrap_or(&[]), CLIENT) else {
            break;
        };
        end = pos;
        // ", client: " or the stream module's ", udp client: "
        let before = last_line.get(..pos).unwrap_or(&[]);
        let (msg_end, vstart) = if before.ends_with(b", udp ") {
            (pos.saturating_sub(6), pos + CLIENT.len())
        } else if before.ends_with(b", ") {
            (pos.saturating_sub(2), pos + CLIENT.len())
        } else {
            continue;
        };
        n += 1;
        last.get_or_insert((msg_end, vstart));
        let rest = last_line.get(vstart..).unwrap_or(&[]);
        if let Some(t) = strict_tail(rest, &mut budget) {
            return (last_line_start + msg_end, t);
        }
        if budget == 0 {
            break;
        }
    }
    let Some((msg_end, vstart)) = last else {
        return (body.len(), Tail::default());
    };
    // Lenient: the last candidate's client address.
    let rest = last_line.get(vstart..).unwrap_or(&[]);
    let end = memmem::find(rest, b", ").unwrap_or(rest.len());
    let client = rest.get(..end).unwrap_or(&[]);
    let client = client.strip_suffix(b" using starttls").unwrap_or(client);
    // Only an address (IPv4, IPv6, unix:, hostname) counts; anything else is message text.
    let is_addr = !client.is_empty()
        && client
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b".:[]%_-/".contains(&c));
    if !is_addr {
        return (body.len(), Tail::default());
    }
    (
        last_line_start + msg_end,
        Tail {
            client,
            ..Tail::default()
        },
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Server,
    Login,
    Request,
    Subrequest,
    Upstream,
    Host,
    Referrer,
    /// stream module: `, bytes from/to client:1/2, bytes from/to upstream:3/4` (rest ignored)
    Bytes,
}

/// Tail keys in the order nginx writes them (after `client`).
const KEYS: [(&[u8], Key); 8] = [
    (b"server: ", Key::Server),
    (b"login: ", Key::Login),
    (b"request: ", Key::Request),
    (b"subrequest: ", Key::Subrequest),
    (b"upstream: ", Key::Upstream),
    (b"host: ", Key::Host),
    (b"referrer: ", Key::Referrer),
    (b"bytes from/to client:", Key::Bytes),
];

/// The tail key `r` starts with: its index in [`KEYS`] (no key is a prefix of another, so at
/// most one matches), found by its first byte and one compare instead of a compare per key.
#[inline]
fn key_at(r: &[u8]) -> Option<(usize, &'static [u8], Key)> {
    let i = match r.first()? {
        b's' if r.starts_with(b"server: ") => 0,
        b's' if r.starts_with(b"subrequest: ") => 3,
        b'l' if r.starts_with(b"login: ") => 1,
        b'r' if r.starts_with(b"request: ") => 2,
        b'r' if r.starts_with(b"referrer: ") => 6,
        b'u' if r.starts_with(b"upstream: ") => 4,
        b'h' if r.starts_with(b"host: ") => 5,
        b'b' if r.starts_with(b"bytes from/to client:") => 7,
        _ => return None,
    };
    let (k, which) = KEYS[i];
    Some((i, k, which))
}

/// A plain (unquoted) token value: no space, quote or newline.
#[inline]
fn plain_ok(v: &[u8]) -> bool {
    !v.iter().any(|&c| c == b' ' || c == b'"' || c == b'\n')
}

/// Parse the tail after `, client: `.
fn strict_tail<'a>(rest: &'a [u8], budget: &mut u32) -> Option<Tail<'a>> {
    let end = memmem::find(rest, b", ").unwrap_or(rest.len());
    let mut client = rest.get(..end)?;
    // mail proxy: "client: 1.2.3.4 using starttls, server: ..."
    if let Some(c) = client.strip_suffix(b" using starttls") {
        client = c;
    }
    if client.is_empty() || !plain_ok(client) {
        return None;
    }
    let tail = Tail {
        client,
        ..Tail::default()
    };
    // the path `fields` tries first, without recursion; when it does not reach the end,
    // `fields` from the same budget (it tries that path again, then the others)
    let before = *budget;
    if let Some(t) = first_path(rest, end, tail, budget) {
        return Some(t);
    }
    *budget = before;
    fields(rest, end, 0, tail, budget)
}

/// The first path [`fields`] explores, in a loop: at each key the same checks, and for a
/// quoted value the first closing quote `fields` would recurse from. `Some` when that path
/// reaches the end: `fields` returns the same tail after the same budget, since it explores
/// depth first and returns the first success. `None` when `fields` would have to backtrack or
/// fail (the caller then runs `fields`). Nearly every real tail takes this path: it spares
/// the recursion's copies of [`Tail`].
fn first_path<'a>(
    rest: &'a [u8],
    mut pos: usize,
    mut tail: Tail<'a>,
    budget: &mut u32,
) -> Option<Tail<'a>> {
    let mut min_idx = 0;
    loop {
        if pos == rest.len() {
            return Some(tail);
        }
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let r = rest.get(pos..)?.strip_prefix(b", ")?;
        let (idx, key, which) = key_at(r).filter(|k| k.0 >= min_idx)?;
        let vstart = pos + 2 + key.len();
        let v = rest.get(vstart..)?;
        if which == Key::Bytes {
            return Some(tail);
        }
        let slot = match which {
            Key::Server => Some(&mut tail.server),
            Key::Request => Some(&mut tail.request),
            Key::Upstream => Some(&mut tail.upstream),
            Key::Host => Some(&mut tail.host),
            _ => None,
        };
        if v.first() != Some(&b'"') {
            if !matches!(which, Key::Server | Key::Upstream) {
                return None;
            }
            let vend = memmem::find(v, b", ").unwrap_or(v.len());
            let val = v.get(..vend)?;
            if !plain_ok(val) {
                return None;
            }
            if let Some(s) = slot {
                *s = val;
            }
            pos = vstart + vend;
            min_idx = idx + 1;
            continue;
        }
        if which == Key::Server {
            return None;
        }
        let inner = vstart + 1;
        let passes: &[bool] = if which == Key::Request {
            &[true, false]
        } else {
            &[false]
        };
        let mut first = None;
        'passes: for &want_http in passes {
            let mut from = inner;
            while let Some(q) = rest.get(from..).and_then(|s| memchr(b'"', s)) {
                let q = from + q;
                from = q + 1;
                let val = rest.get(inner..q)?;
                if which == Key::Request && ends_with_http_version(val) != want_http {
                    continue;
                }
                if !next_key_ok(rest, q + 1, idx + 1) {
                    continue;
                }
                first = Some((q, val));
                break 'passes;
            }
        }
        let (q, val) = first?;
        if let Some(s) = slot {
            *s = val;
        }
        pos = q + 1;
        min_idx = idx + 1;
    }
}

/// Whether `rest[pos..]` is the end or `, KEY` with a key index >= `min_idx`.
fn next_key_ok(rest: &[u8], pos: usize, min_idx: usize) -> bool {
    if pos == rest.len() {
        return true;
    }
    let Some(r) = rest.get(pos..).and_then(|r| r.strip_prefix(b", ")) else {
        return false;
    };
    key_at(r).is_some_and(|(i, _, _)| i >= min_idx)
}

/// `HTTP/d` or `HTTP/d.d` at the end of a request value.
///
/// (The last ` HTTP/` of `v` is followed by exactly `d` or `d.d` iff `v` ends with ` HTTP/d`
/// or ` HTTP/d.d`: neither ending holds a space after its own ` HTTP/`.)
#[inline]
fn ends_with_http_version(v: &[u8]) -> bool {
    match v {
        [.., b' ', b'H', b'T', b'T', b'P', b'/', a, b'.', c] => {
            a.is_ascii_digit() && c.is_ascii_digit()
        }
        [.., b' ', b'H', b'T', b'T', b'P', b'/', a] => a.is_ascii_digit(),
        _ => false,
    }
}

fn fields<'a>(
    rest: &'a [u8],
    pos: usize,
    min_idx: usize,
    tail: Tail<'a>,
    budget: &mut u32,
) -> Option<Tail<'a>> {
    if pos == rest.len() {
        return Some(tail);
    }
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    let r = rest.get(pos..)?.strip_prefix(b", ")?;
    let (idx, key, which) = key_at(r).filter(|k| k.0 >= min_idx)?;
    let which = &which;
    let vstart = pos + 2 + key.len();
    let v = rest.get(vstart..)?;
    // `rest` is on the entry's last line: it holds no newline (checked in debug builds)
    debug_assert!(memchr(b'\n', rest).is_none());
    if *which == Key::Bytes {
        return Some(tail);
    }
    let set = |t: &mut Tail<'a>, val: &'a [u8]| match which {
        Key::Server => t.server = val,
        Key::Request => t.request = val,
        Key::Upstream => t.upstream = val,
        Key::Host => t.host = val,
        _ => {}
    };
    if v.first() != Some(&b'"') {
        // Unquoted: server name/address, or the mail proxy's `upstream: ADDR`.
        if !matches!(which, Key::Server | Key::Upstream) {
            return None;
        }
        let vend = memmem::find(v, b", ").unwrap_or(v.len());
        let val = v.get(..vend)?;
        if !plain_ok(val) {
            return None;
        }
        let mut t = tail;
        set(&mut t, val);
        return fields(rest, vstart + vend, idx + 1, t, budget);
    }
    if *which == Key::Server {
        return None;
    }
    // Quoted: try each closing quote that is followed by the end or a later key.
    let inner = vstart + 1;
    let passes: &[bool] = if *which == Key::Request {
        &[true, false]
    } else {
        &[false]
    };
    for &want_http in passes {
        let mut from = inner;
        while let Some(q) = rest.get(from..).and_then(|s| memchr(b'"', s)) {
            let q = from + q;
            from = q + 1;
            let val = rest.get(inner..q)?;
            if *which == Key::Request && ends_with_http_version(val) != want_http {
                continue;
            }
            if !next_key_ok(rest, q + 1, idx + 1) {
                continue;
            }
            let mut t = tail;
            set(&mut t, val);
            if let Some(t) = fields(rest, q + 1, idx + 1, t, budget) {
                return Some(t);
            }
            if *budget == 0 {
                return None;
            }
        }
    }
    None
}

/// The action of ` while ACTION` at the end of a message (empty when absent).
fn action(m: &[u8]) -> &[u8] {
    match memmem::rfind(m, b" while ") {
        Some(i) => m.get(i + 7..).unwrap_or(&[]),
        None => &[],
    }
}

/// `(errno: text)` after `failed (` in `m`: the errno and the text.
fn errno_after_failed(m: &[u8]) -> Option<(u32, &[u8])> {
    let i = memmem::find(m, b"failed (")? + 8;
    errno_text(m.get(i..)?)
}

/// `errno: text)` at the start of `r` (what follows `failed (`): the errno and the text.
#[inline]
fn errno_text(r: &[u8]) -> Option<(u32, &[u8])> {
    let (n, errno) = digit_run_u32(r, 0);
    let errno = errno?;
    let r = r.get(n..)?.strip_prefix(b": ")?;
    let text = r.get(..memchr(b')', r)?)?;
    Some((errno, text))
}

/// Whether `needle` is in `hay`, searched by the byte `needle[at]` (a byte rare in messages,
/// such as `(` or `_`, instead of the first: one memchr call for most messages).
#[inline]
fn contains_by(hay: &[u8], needle: &[u8], at: usize) -> bool {
    let Some(&anchor) = needle.get(at) else {
        return false;
    };
    memchr::memchr_iter(anchor, hay).any(|j| {
        j.checked_sub(at)
            .and_then(|s| hay.get(s..))
            .is_some_and(|h| h.starts_with(needle))
    })
}

/// `reported that connect() failed (` (kqueue/epoll reporting a failed connect), searched
/// by its first `(`.
const REPORTED_CONNECT: &[u8] = b"reported that connect() failed (";

/// Classify a message; the second value is the PHP message of `FastCGI sent in stderr`.
///
/// `RecvReset` is a connection reset (errno 104) *by the upstream*: `recv()`/`readv()`/`read()`
/// or `writev()`/`send()` failing while talking to an upstream (the action names `upstream`). A
/// reset while reading the client request, or `epoll_wait() reported that client prematurely
/// closed connection` (the client left, 499) is `Other`.
///
/// The tests are tried in a fixed order (the first that holds names the kind); the action and
/// the substring searches are only done for the messages that reach a test needing them.
fn classify(m: &[u8]) -> (EventKind, &[u8]) {
    use EventKind::*;
    if let Some(rest) = m.strip_prefix(b"FastCGI sent in stderr: \"") {
        // The content ends at the quote before " while ACTION" (or the final quote); when
        // nginx truncated the entry (2048-byte limit) there is no closing quote at all.
        let content = if let Some(c) = rest.strip_suffix(b"\"") {
            c
        } else if let Some(i) = memmem::rfind(rest, b"\" while ") {
            rest.get(..i).unwrap_or(rest)
        } else {
            rest
        };
        let fatal = contains(content, b"PHP Fatal error")
            || contains(content, b"PHP Parse error")
            || contains(content, b"Uncaught");
        return (
            if fatal {
                FastcgiPhpFatal
            } else {
                FastcgiStderr
            },
            content,
        );
    }
    let first = m.first().copied().unwrap_or(0);
    if first == b'u' && m.starts_with(b"upstream timed out") {
        let kind = match action(m) {
            b"connecting to upstream" => UpstreamTimeoutConnect,
            b"sending request to upstream" => UpstreamTimeoutSend,
            b"reading response header from upstream" => UpstreamTimeoutHeader,
            b"reading upstream" => UpstreamTimeoutRead,
            _ => UpstreamTimeoutOther,
        };
        return (kind, &[]);
    }
    // the action, computed once when a test needs it
    let mut act_cache: Option<&[u8]> = None;
    let mut act = || *act_cache.get_or_insert_with(|| action(m));
    let connect_prefix = first == b'c' && m.starts_with(b"connect() ");
    if connect_prefix || contains_by(m, REPORTED_CONNECT, 21) {
        let a = act();
        if a.is_empty() || contains(a, b"upstream") {
            // `connect() failed (` is the usual form: its errno right after the prefix
            let errno = match m.strip_prefix(b"connect() failed (") {
                Some(r) => errno_text(r),
                None => errno_after_failed(m),
            };
            let kind = match errno {
                Some((111, _)) | Some((_, b"Connection refused")) => ConnectRefused,
                Some((2, _)) | Some((_, b"No such file or directory")) => ConnectNoSocket,
                Some((11, _)) | Some((_, b"Resource temporarily unavailable")) => ConnectAgain,
                Some((113, _))
                | Some((_, b"No route to host"))
                | Some((_, b"Host is unreachable")) => ConnectNoRoute,
                Some((99, _)) | Some((_, b"Cannot assign requested address")) => {
                    ConnectNoLocalAddress
                }
                Some((101, _)) | Some((_, b"Network is unreachable")) => ConnectNetUnreachable,
                Some((24 | 23, _)) => TooManyOpenFiles,
                _ => ConnectFailedOther,
            };
            return (kind, &[]);
        }
    }
    // `recv() failed (` and its kin: the errno right after the prefix
    let io_failed = match first {
        b'r' => m
            .strip_prefix(b"recv() failed (")
            .or_else(|| m.strip_prefix(b"readv() failed ("))
            .or_else(|| m.strip_prefix(b"read() failed (")),
        b'w' => m.strip_prefix(b"writev() failed ("),
        b's' => m.strip_prefix(b"send() failed ("),
        _ => None,
    };
    if let Some(r) = io_failed {
        let a = act();
        if !a.is_empty()
            && contains(a, b"upstream")
            && matches!(
                errno_text(r),
                Some((104, _)) | Some((_, b"Connection reset by peer"))
            )
        {
            return (RecvReset, &[]);
        }
    }
    let by_prefix = match first {
        b'u' if m.starts_with(b"upstream prematurely closed") => Some(UpstreamPrematureClose),
        b'u' if m.starts_with(b"upstream sent too big header") => Some(UpstreamHeaderTooBig),
        b'n' if m.starts_with(b"no live upstreams") => Some(NoLiveUpstreams),
        b'l' if m.starts_with(b"limiting requests") => Some(LimitingRequests),
        b'l' if m.starts_with(b"limiting connections") => Some(LimitingConnections),
        b'd' if m.starts_with(b"delaying request") => Some(DelayingRequest),
        _ => None,
    };
    if let Some(k) = by_prefix {
        return (k, &[]);
    }
    let kind = if contains_by(m, b"worker_connections are not enough", 6) {
        WorkerConnectionsNotEnough
    } else if contains_by(m, b"(24: Too many open files)", 0)
        || contains_by(m, b"(23: Too many open files in system)", 0)
    {
        TooManyOpenFiles
    } else if m.starts_with(b"client intended to send too large header")
        || m.starts_with(b"client sent too long header line")
        || m.starts_with(b"client sent too large request")
    {
        ClientHeaderTooBig
    } else if m == b"signal process started" {
        NginxSignal
    } else if m == b"reconfiguring" {
        NginxReconfiguring
    } else if m == b"gracefully shutting down" {
        NginxShuttingDown
    } else {
        Other
    };
    (kind, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &[u8]) -> Event<'_> {
        let mut p = NginxErrorParser::new();
        match p.parse(line) {
            Ok(Record::Event(e)) => e,
            other => panic!(
                "not an event: {other:?} for {}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    fn kind(line: &str) -> EventKind {
        ev(line.as_bytes()).kind
    }

    #[test]
    fn full_line() {
        let l = br#"2016/05/01 10:40:06 [error] 12#0: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 121.108.31.100, server: slim.dev, request: "GET /favicon.ico HTTP/1.1", upstream: "fastcgi://59.106.171.70:9000", host: "153.121.33.54:9123", referrer: "http://153.121.33.54:9123/""#;
        let e = ev(l);
        assert_eq!(e.kind, EventKind::ConnectRefused);
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.pid, Some(12));
        assert_eq!(e.tid, Some(0));
        assert_eq!(e.conn, Some(1));
        assert_eq!(
            e.message,
            b"connect() failed (111: Connection refused) while connecting to upstream"
        );
        assert_eq!(e.client, b"121.108.31.100");
        assert_eq!(e.server, b"slim.dev");
        assert_eq!(e.request, b"GET /favicon.ico HTTP/1.1");
        assert_eq!(e.upstream, b"fastcgi://59.106.171.70:9000");
        assert_eq!(e.host, b"153.121.33.54:9123");
        assert_eq!(e.ts.offset, None);
        let days = crate::time::days_from_civil(2016, 5, 1);
        assert_eq!(
            e.ts.wall_us,
            (days * 86400 + 10 * 3600 + 40 * 60 + 6) * 1_000_000
        );
    }

    #[test]
    fn proxy_resources_and_life_cycle() {
        assert_eq!(
            kind(
                "2024/01/09 14:02:11 [crit] 2012#2012: accept4() failed (24: Too many open files)"
            ),
            EventKind::TooManyOpenFiles
        );
        assert_eq!(
            kind("2024/01/09 14:02:11 [crit] 2012#2012: *88 open() \"/var/www/html/index.html\" failed (24: Too many open files), client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", host: \"h\""),
            EventKind::TooManyOpenFiles
        );
        assert_eq!(
            kind("2024/01/09 14:02:11 [alert] 2012#2012: accept4() failed (23: Too many open files in system)"),
            EventKind::TooManyOpenFiles
        );
        assert_eq!(
            kind("2024/01/09 14:02:11 [info] 2012#2012: *9 client intended to send too large header: \"Cookie: a=...\" while reading client request headers, client: 1.2.3.4, server: s"),
            EventKind::ClientHeaderTooBig
        );
        assert_eq!(
            kind("2024/01/09 14:02:11 [info] 2012#2012: *9 client sent too long header line: \"Cookie: a=...\" while reading client request headers, client: 1.2.3.4, server: s"),
            EventKind::ClientHeaderTooBig
        );
        // a too large body (413) is not a header problem
        assert_eq!(
            kind("2024/01/09 14:02:11 [error] 2012#2012: *9 client intended to send too large body: 2000000 bytes, client: 1.2.3.4, server: s"),
            EventKind::Other
        );
        // a reload as nginx 1.22 writes it: the signal process, the master, the old workers
        assert_eq!(
            kind("2021/06/17 19:25:59 [notice] 133309#133309: signal process started"),
            EventKind::NginxSignal
        );
        assert_eq!(
            kind("2021/06/17 19:25:59 [notice] 1#1: signal 1 (SIGHUP) received from 133309, reconfiguring"),
            EventKind::Other
        );
        assert_eq!(
            kind("2021/06/17 19:25:59 [notice] 1#1: reconfiguring"),
            EventKind::NginxReconfiguring
        );
        assert_eq!(
            kind("2021/06/17 19:25:59 [notice] 29#29: gracefully shutting down"),
            EventKind::NginxShuttingDown
        );
        for k in [
            EventKind::NginxSignal,
            EventKind::NginxReconfiguring,
            EventKind::NginxShuttingDown,
        ] {
            assert!(!k.is_error(), "{k:?}");
        }
        assert!(EventKind::TooManyOpenFiles.is_error());
    }

    #[test]
    fn no_tail_no_conn() {
        let e = ev(b"2021/06/17 19:25:59 [notice] 133309#133309: signal process started");
        assert_eq!(e.kind, EventKind::NginxSignal);
        assert_eq!(e.severity, Severity::Notice);
        assert_eq!(e.conn, None);
        assert_eq!(e.message, b"signal process started");
        assert_eq!(e.client, b"");
        let e = ev(b"2023/03/15 05:46:48 [alert] 29#29: 768 worker_connections are not enough");
        assert_eq!(e.kind, EventKind::WorkerConnectionsNotEnough);
        assert_eq!(e.severity, Severity::Alert);
    }

    #[test]
    fn timeouts() {
        let t = |a: &str| {
            kind(&format!("2025/03/05 12:10:02 [error] 30#30: *12 upstream timed out (110: Operation timed out) while {a}, client: 1.2.3.4, server: x, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://127.0.0.1:9000\", host: \"h\""))
        };
        assert_eq!(
            t("connecting to upstream"),
            EventKind::UpstreamTimeoutConnect
        );
        assert_eq!(
            t("sending request to upstream"),
            EventKind::UpstreamTimeoutSend
        );
        assert_eq!(
            t("reading response header from upstream"),
            EventKind::UpstreamTimeoutHeader
        );
        assert_eq!(t("reading upstream"), EventKind::UpstreamTimeoutRead);
        assert_eq!(
            t("SSL handshaking to upstream"),
            EventKind::UpstreamTimeoutOther
        );
        let e = ev(b"2025/03/05 12:10:02 [error] 30#30: *12 upstream timed out (110: Operation timed out) while reading response header from upstream, client: 1.2.3.4, server: x, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://127.0.0.1:9000\", host: \"h\"");
        assert_eq!(e.upstream, b"fastcgi://127.0.0.1:9000");
        // a client-side timeout is not an upstream timeout
        assert_eq!(
            kind("2025/03/05 12:10:02 [info] 30#30: *12 client timed out (110: Connection timed out) while reading client request headers, client: 1.2.3.4, server: x"),
            EventKind::Other
        );
    }

    #[test]
    fn connect_failures() {
        let c = |m: &str| {
            kind(&format!(
                "2022/04/15 08:16:13 [error] 7164#7164: *20 {m} while connecting to upstream, client: 10.0.0.1, server: s, request: \"GET / HTTP/2.0\", upstream: \"http://127.0.0.1:80/\""
            ))
        };
        assert_eq!(
            c("connect() failed (111: Connection refused)"),
            EventKind::ConnectRefused
        );
        assert_eq!(
            c("connect() to unix:/run/php/php-fpm.sock failed (2: No such file or directory)"),
            EventKind::ConnectNoSocket
        );
        assert_eq!(
            c("connect() to unix:/run/php/php-fpm.sock failed (11: Resource temporarily unavailable)"),
            EventKind::ConnectAgain
        );
        assert_eq!(
            c("connect() failed (113: No route to host)"),
            EventKind::ConnectNoRoute
        );
        assert_eq!(
            c("connect() failed (113: Host is unreachable)"),
            EventKind::ConnectNoRoute
        );
        assert_eq!(
            c("connect() failed (99: Cannot assign requested address)"),
            EventKind::ConnectNoLocalAddress
        );
        assert_eq!(
            c("connect() failed (101: Network is unreachable)"),
            EventKind::ConnectNetUnreachable
        );
        assert_eq!(
            c("connect() to 10.0.0.7:9000 failed (24: Too many open files)"),
            EventKind::TooManyOpenFiles
        );
        assert_eq!(
            c("connect() failed (110: Connection timed out)"),
            EventKind::ConnectFailedOther
        );
        // BSD / macOS errno 61
        assert_eq!(
            c("kevent() reported that connect() failed (61: Connection refused)"),
            EventKind::ConnectRefused
        );
        assert_eq!(c("no live upstreams"), EventKind::NoLiveUpstreams);
    }

    #[test]
    fn resets_and_closes() {
        assert_eq!(
            kind("2023/03/15 05:45:13 [error] 22#22: *5 writev() failed (104: Connection reset by peer) while sending request to upstream, client: 127.0.0.1, server: localhost"),
            EventKind::RecvReset
        );
        assert_eq!(
            kind("2023/03/15 05:45:13 [error] 22#22: *5 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: localhost, request: \"GET / HTTP/1.0\", upstream: \"http://127.0.0.1:80/\", host: \"127.0.0.1\""),
            EventKind::RecvReset
        );
        assert_eq!(
            kind("2023/03/15 05:45:13 [error] 22#22: *5 readv() failed (104: Connection reset by peer) while reading upstream, client: 127.0.0.1, server: localhost"),
            EventKind::RecvReset
        );
        // client side reset: not an upstream reset
        assert_eq!(
            kind("2023/03/15 05:45:13 [info] 22#22: *5 recv() failed (104: Connection reset by peer) while reading client request line, client: 127.0.0.1, server: localhost"),
            EventKind::Other
        );
        assert_eq!(
            kind("2023/03/15 05:45:13 [error] 22#22: *5 upstream prematurely closed connection while reading response header from upstream, client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"h\""),
            EventKind::UpstreamPrematureClose
        );
        assert_eq!(
            kind("2023/03/15 05:45:13 [error] 22#22: *5 upstream sent too big header while reading response header from upstream, client: 1.2.3.4, server: s"),
            EventKind::UpstreamHeaderTooBig
        );
    }

    #[test]
    fn limits() {
        assert_eq!(
            kind("2015/10/29 19:24:05 [error] 12684#12684: *22174 limiting requests, excess: 1.495 by zone \"one\", client: 192.0.2.0, server: example.com, request: \"GET /index.php HTTP/1.1\", host: \"example.com\", referrer: \"https://example.com\""),
            EventKind::LimitingRequests
        );
        assert_eq!(
            kind("2015/10/29 19:24:05 [error] 12684#12684: *22174 limiting requests, dry run, excess: 1.495 by zone \"one\", client: 192.0.2.0, server: example.com"),
            EventKind::LimitingRequests
        );
        assert_eq!(
            kind("2025/08/03 03:17:28 [error] 25808#25808: *598 limiting connections by zone \"conn_limit\", client: 128.199.22.141, server: myserver.net"),
            EventKind::LimitingConnections
        );
        assert_eq!(
            kind("2025/08/01 14:32:27 [warn] 31733#31733: *21 delaying request, excess: 0.850, by zone \"req_limit\", client: 104.248.81.143, server: myserver.net"),
            EventKind::DelayingRequest
        );
    }

    #[test]
    fn fastcgi_multiline() {
        let rec = b"2019/10/30 23:26:34 [error] 205860#205860: *180289 FastCGI sent in stderr: \"PHP message: PHP Warning:  Declaration of A::w($c) should be compatible, client: x\nPHP message: PHP Fatal error:  Uncaught Exception: boom in /var/www/a.php:3\nStack trace:\n#0 {main}\n  thrown in /var/www/a.php on line 3\" while reading response header from upstream, client: 1.1.1.1, server: s, request: \"GET /a.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"h\"";
        let e = ev(rec);
        assert_eq!(e.kind, EventKind::FastcgiPhpFatal);
        assert_eq!(e.client, b"1.1.1.1");
        assert_eq!(e.upstream, b"fastcgi://unix:/run/php.sock:");
        assert!(e.script.starts_with(b"PHP message: PHP Warning"));
        assert!(e.script.ends_with(b"on line 3"));
        assert!(e
            .message
            .ends_with(b"while reading response header from upstream"));
        let e = ev(b"2018/03/20 10:18:59 [error] 5#5: *18 FastCGI sent in stderr: \"Primary script unknown\" while reading response header from upstream, client: 172.21.0.1, server: localhost, request: \"GET /www/html1/index.php HTTP/1.1\", upstream: \"fastcgi://172.21.0.3:9000\", host: \"localhost\"");
        assert_eq!(e.kind, EventKind::FastcgiStderr);
        assert_eq!(e.script, b"Primary script unknown");
        // truncated by nginx: no closing quote, no tail
        let e = ev(b"2019/10/30 23:26:34 [error] 1#1: *1 FastCGI sent in stderr: \"PHP message: PHP Parse error:  syntax error");
        assert_eq!(e.kind, EventKind::FastcgiPhpFatal);
        assert_eq!(e.script, b"PHP message: PHP Parse error:  syntax error");
        assert_eq!(e.client, b"");
    }

    #[test]
    fn injection_in_message() {
        // fail2ban's "trying injection on user name" sample
        let l = br#"2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#;
        let e = ev(l);
        assert_eq!(e.client, b"192.0.2.2");
        assert_eq!(e.server, b"");
        assert_eq!(e.request, b"GET / HTTP/1.1");
        assert_eq!(e.host, b"localhost:8443");
        assert!(e
            .message
            .ends_with(br#"was not found in "/etc/nginx/.htpasswd""#));
    }

    #[test]
    fn injection_in_values() {
        // request value holding a fake `", host: "` (shortest match would cut it there)
        let l = br#"2024/01/01 00:00:00 [error] 1#1: *1 open() "/x" failed (2: No such file or directory), client: 1.2.3.4, server: s, request: "GET /a", host: "evil HTTP/1.1", host: "real""#;
        let e = ev(l);
        assert_eq!(e.client, b"1.2.3.4");
        assert_eq!(e.request, br#"GET /a", host: "evil HTTP/1.1"#);
        assert_eq!(e.host, b"real");
        // referrer holding quotes and commas
        let l = br#"2024/01/01 00:00:00 [error] 1#1: *1 access forbidden by rule, client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", host: "h", referrer: "a", upstream: "b""#;
        let e = ev(l);
        assert_eq!(e.host, b"h");
        assert_eq!(e.upstream, b"");
        // a request with `, client: ` inside, no spaces: the real client wins
        let l = br#"2024/01/01 00:00:00 [error] 1#1: *1 access forbidden by rule, client: 1.2.3.4, server: s, request: "GET /?a=x,%20client:%201 HTTP/1.1", host: "h""#;
        assert_eq!(ev(l).client, b"1.2.3.4");
    }

    #[test]
    fn mail_and_stream_tails() {
        let e = ev(br#"2023/04/05 21:00:42 [info] 126#126: *175063 client login failed: "Authentication credentials invalid" while in http auth state, client: 201.170.64.255 using starttls, server: 0.0.0.0:587, login: "postmaster""#);
        assert_eq!(e.client, b"201.170.64.255");
        assert_eq!(e.server, b"0.0.0.0:587");
        let e = ev(b"2022/04/05 13:25:11 [info] 8#8: *24785 client logged in, client: 209.85.210.53, server: 0.0.0.0:25, login: \"a@b\", upstream: 10.0.0.1:143");
        assert_eq!(e.upstream, b"10.0.0.1:143");
        let e = ev(b"2022/04/05 13:25:11 [error] 8#8: *3 upstream timed out (110: Connection timed out) while connecting to upstream, udp client: 1.2.3.4, server: 0.0.0.0:53, upstream: \"8.8.8.8:53\", bytes from/to client:0/0, bytes from/to upstream:0/0");
        assert_eq!(e.kind, EventKind::UpstreamTimeoutConnect);
        let e = ev(b"2022/04/05 13:25:11 [error] 8#8: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: 0.0.0.0:3306, upstream: \"10.0.0.1:3306\", bytes from/to client:0/0, bytes from/to upstream:0/0");
        assert_eq!(e.client, b"1.2.3.4");
        assert_eq!(e.upstream, b"10.0.0.1:3306");
        // lenient fallback: an unknown tail after the client
        let e = ev(b"2022/04/05 13:25:11 [error] 8#8: *3 x, client: 1.2.3.4, whatever: 1");
        assert_eq!((e.client, e.message), (&b"1.2.3.4"[..], &b"x"[..]));
        let e = ev(b"2022/04/05 13:25:11 [error] 8#8: *3 FastCGI sent in stderr: \"a\nsee, client: the user, x");
        assert_eq!(e.client, b"");
        assert!(e.message.ends_with(b"x"));
    }

    #[test]
    fn prefixes_and_framing() {
        let p = NginxErrorParser::new();
        assert_eq!(p.framing(), Framing::MultiLine);
        assert!(p.starts_record(b"2023/12/09 21:35:20 [error] 1#1: x"));
        assert!(
            p.starts_record(b"host nginx[983478]: 2023/12/09 21:35:20 [error] 983478#983478: *3 x")
        );
        assert!(
            p.starts_record(b"host nginx[23141]: host nginx: 2025/09/07 21:20:40 [error] 1#1: x")
        );
        assert!(p.starts_record(b"nginx: [emerg] host not found in upstream \"php\""));
        assert!(p.starts_record(
            b"127.0.0.1 - test [06/Mar/2022:16:14:13 +0000] \"POST /client HTTP/1.1\" 401 141"
        ));
        assert!(!p.starts_record(b"PHP message: PHP Warning:  x"));
        assert!(!p.starts_record(b"#0 {main}"));
        assert!(!p.starts_record(b""));
        let e = ev(b"host nginx[983478]: 2023/12/09 21:35:20 [error] 983478#983478: *3 user \"u\" was not found in \"/x\", client: 192.0.2.3, server: h, request: \"GET / HTTP/1.1\", host: \"h\"");
        assert_eq!(e.client, b"192.0.2.3");
        assert_eq!(e.pid, Some(983478));
        let mut p = NginxErrorParser::new();
        assert!(matches!(
            p.parse(b"nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address in use)"),
            Ok(Record::Ignored)
        ));
        assert!(matches!(p.parse(b""), Ok(Record::Ignored)));
        assert!(p
            .parse(
                b"127.0.0.1 - test [06/Mar/2022:16:14:13 +0000] \"POST /client HTTP/1.1\" 401 141"
            )
            .is_err());
        assert!(p.parse(b"2023/13/09 21:35:20 [error] 1#1: x").is_err());
        assert!(p.parse(b"2023/12/09 21:35:20 [oops] 1#1: x").is_err());
        assert!(p.parse(b"2023/12/09 21:35:20 [error] x").is_err());
    }

    use crate::test_util::soup;

    #[test]
    fn never_panics_on_token_soup() {
        let tokens: &[&[u8]] = &[
            b"2016/05/01 10:40:06 [error] 12#0: *1 ",
            b"host nginx[1]: ",
            b"nginx: [emerg] ",
            b", client: ",
            b", udp client: ",
            b"1.2.3.4",
            b", server: ",
            b", request: \"",
            b", upstream: \"",
            b", host: \"",
            b", referrer: \"",
            b", login: \"",
            b", bytes from/to client:",
            b"\"",
            b" HTTP/1.1",
            b" using starttls",
            b" while reading upstream",
            b"FastCGI sent in stderr: \"",
            b"connect() failed (",
            b"111: Connection refused)",
            b"upstream timed out",
            b"\n",
            b", ",
            b" ",
            b"\xff\x00",
            b"[06/Mar/2022:16:14:13 +0000]",
        ];
        let mut p = NginxErrorParser::new();
        soup(tokens, 50_000, |b| {
            let _ = p.starts_record(b);
            if let Ok(Record::Event(e)) = p.parse(b) {
                assert!(e.message.len() <= b.len());
            }
        });
    }

    #[test]
    fn never_panics_on_prefixes_of_a_line() {
        let l = br#"host nginx[1]: 2016/05/01 10:40:06 [error] 12#0: *1 FastCGI sent in stderr: "a" while reading upstream, client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", upstream: "x", host: "h", referrer: "r""#;
        let mut p = NginxErrorParser::new();
        for n in 0..=l.len() {
            let _ = p.parse(&l[..n]);
            let _ = p.starts_record(&l[..n]);
            let _ = p.parse(&l[n..]);
        }
        // many quotes and keys: bounded work, no panic
        let mut big = b"2016/05/01 10:40:06 [error] 1#1: x".to_vec();
        for _ in 0..2000 {
            big.extend_from_slice(br#", client: 1, server: s, request: "", host: """#);
        }
        let _ = p.parse(&big);
    }
}

/// The tail split and the timestamp shape check as they were before they were made cheaper
/// (candidates searched from the end, keys found by their first byte, no newline checks on the
/// last line, the shape checked a word at a time): the tests require the same answers.
#[cfg(test)]
mod reference {
    use super::{Key, Tail, BUDGET, CLIENT, KEYS, MAX_CANDIDATES};
    use crate::fastfind as memmem;
    use memchr::{memchr, memrchr};

    fn plain_ok(v: &[u8]) -> bool {
        !v.iter().any(|&c| c == b' ' || c == b'"' || c == b'\n')
    }

    pub(super) fn ts_shape_at_ref(b: &[u8], p: usize) -> bool {
        let Some(s) = b.get(p..p + 21) else {
            return false;
        };
        const SHAPE: &[u8; 21] = b"0000/00/00 00:00:00 [";
        s.iter().zip(SHAPE.iter()).all(|(&c, &t)| {
            if t == b'0' {
                c.is_ascii_digit()
            } else {
                c == t
            }
        })
    }

    pub(super) fn split_tail_ref(body: &[u8]) -> (usize, Tail<'_>) {
        let last_line_start = memrchr(b'\n', body).map(|n| n + 1).unwrap_or(0);
        let last_line = body.get(last_line_start..).unwrap_or(&[]);
        // (message end, client value start) within `last_line`
        let mut cands = [(0usize, 0usize); MAX_CANDIDATES];
        let mut n = 0usize;
        for pos in memmem::find_iter(last_line, CLIENT) {
            // ", client: " or the stream module's ", udp client: "
            let before = last_line.get(..pos).unwrap_or(&[]);
            let cand = if before.ends_with(b", udp ") {
                (pos.saturating_sub(6), pos + CLIENT.len())
            } else if before.ends_with(b", ") {
                (pos.saturating_sub(2), pos + CLIENT.len())
            } else {
                continue;
            };
            // keep the last MAX_CANDIDATES
            if n < MAX_CANDIDATES {
                if let Some(slot) = cands.get_mut(n) {
                    *slot = cand;
                }
                n += 1;
            } else {
                cands.rotate_left(1);
                if let Some(slot) = cands.last_mut() {
                    *slot = cand;
                }
            }
        }
        if n == 0 {
            return (body.len(), Tail::default());
        }
        let mut budget = BUDGET;
        for &(msg_end, vstart) in cands.get(..n).unwrap_or(&[]).iter().rev() {
            let rest = last_line.get(vstart..).unwrap_or(&[]);
            if let Some(t) = strict_tail_ref(rest, &mut budget) {
                return (last_line_start + msg_end, t);
            }
            if budget == 0 {
                break;
            }
        }
        // Lenient: the last candidate's client address.
        let (msg_end, vstart) = cands.get(n - 1).copied().unwrap_or((0, 0));
        let rest = last_line.get(vstart..).unwrap_or(&[]);
        let end = memmem::find(rest, b", ").unwrap_or(rest.len());
        let client = rest.get(..end).unwrap_or(&[]);
        let client = client.strip_suffix(b" using starttls").unwrap_or(client);
        // Only an address (IPv4, IPv6, unix:, hostname) counts; anything else is message text.
        let is_addr = !client.is_empty()
            && client
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || b".:[]%_-/".contains(&c));
        if !is_addr {
            return (body.len(), Tail::default());
        }
        (
            last_line_start + msg_end,
            Tail {
                client,
                ..Tail::default()
            },
        )
    }
    fn strict_tail_ref<'a>(rest: &'a [u8], budget: &mut u32) -> Option<Tail<'a>> {
        let end = memmem::find(rest, b", ").unwrap_or(rest.len());
        let mut client = rest.get(..end)?;
        // mail proxy: "client: 1.2.3.4 using starttls, server: ..."
        if let Some(c) = client.strip_suffix(b" using starttls") {
            client = c;
        }
        if client.is_empty() || !plain_ok(client) {
            return None;
        }
        let tail = Tail {
            client,
            ..Tail::default()
        };
        fields_ref(rest, end, 0, tail, budget)
    }
    fn next_key_ok_ref(rest: &[u8], pos: usize, min_idx: usize) -> bool {
        if pos == rest.len() {
            return true;
        }
        let Some(r) = rest.get(pos..).and_then(|r| r.strip_prefix(b", ")) else {
            return false;
        };
        KEYS.iter().skip(min_idx).any(|(k, _)| r.starts_with(k))
    }
    fn ends_with_http_version_ref(v: &[u8]) -> bool {
        let Some(i) = memmem::rfind(v, b" HTTP/") else {
            return false;
        };
        let ver = v.get(i + 6..).unwrap_or(&[]);
        matches!(ver, [a] if a.is_ascii_digit())
            || matches!(ver, [a, b'.', c] if a.is_ascii_digit() && c.is_ascii_digit())
    }
    fn fields_ref<'a>(
        rest: &'a [u8],
        pos: usize,
        min_idx: usize,
        tail: Tail<'a>,
        budget: &mut u32,
    ) -> Option<Tail<'a>> {
        if pos == rest.len() {
            return Some(tail);
        }
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let r = rest.get(pos..)?.strip_prefix(b", ")?;
        let (idx, (key, which)) = KEYS
            .iter()
            .enumerate()
            .skip(min_idx)
            .find(|(_, (k, _))| r.starts_with(k))?;
        let vstart = pos + 2 + key.len();
        let v = rest.get(vstart..)?;
        if *which == Key::Bytes {
            return if memchr(b'\n', v).is_none() {
                Some(tail)
            } else {
                None
            };
        }
        let set = |t: &mut Tail<'a>, val: &'a [u8]| match which {
            Key::Server => t.server = val,
            Key::Request => t.request = val,
            Key::Upstream => t.upstream = val,
            Key::Host => t.host = val,
            _ => {}
        };
        if v.first() != Some(&b'"') {
            // Unquoted: server name/address, or the mail proxy's `upstream: ADDR`.
            if !matches!(which, Key::Server | Key::Upstream) {
                return None;
            }
            let vend = memmem::find(v, b", ").unwrap_or(v.len());
            let val = v.get(..vend)?;
            if !plain_ok(val) {
                return None;
            }
            let mut t = tail;
            set(&mut t, val);
            return fields_ref(rest, vstart + vend, idx + 1, t, budget);
        }
        if *which == Key::Server {
            return None;
        }
        // Quoted: try each closing quote that is followed by the end or a later key.
        let inner = vstart + 1;
        let passes: &[bool] = if *which == Key::Request {
            &[true, false]
        } else {
            &[false]
        };
        for &want_http in passes {
            let mut from = inner;
            while let Some(q) = rest.get(from..).and_then(|s| memchr(b'"', s)) {
                let q = from + q;
                from = q + 1;
                let val = rest.get(inner..q)?;
                if memchr(b'\n', val).is_some() {
                    return None;
                }
                if *which == Key::Request && ends_with_http_version_ref(val) != want_http {
                    continue;
                }
                if !next_key_ok_ref(rest, q + 1, idx + 1) {
                    continue;
                }
                let mut t = tail;
                set(&mut t, val);
                if let Some(t) = fields_ref(rest, q + 1, idx + 1, t, budget) {
                    return Some(t);
                }
                if *budget == 0 {
                    return None;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod same_as_reference {
    use super::reference::{split_tail_ref, ts_shape_at_ref};
    use super::{split_tail, ts_shape_at};

    fn rng(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Bodies built from tail pieces, fake tails, quotes, newlines and noise, and every
    /// mutation of a real tail by one byte: `split_tail` gives what the old search gave.
    #[test]
    fn split_tail_agrees() {
        let pieces: &[&[u8]] = &[
            b"connect() failed (111: Connection refused) while connecting to upstream",
            b", client: ",
            b"1.2.3.4",
            b", udp client: ",
            b", server: ",
            b"shop.example.com",
            b", request: \"",
            b"GET /a?b=\"c\" HTTP/1.1",
            b"GET / HTTP/2.0",
            b"POST /x HTTP/1",
            b"\"",
            b", upstream: \"",
            b"fastcgi://10.0.1.11:9000",
            b", upstream: ",
            b", host: \"",
            b", referrer: \"",
            b", login: \"",
            b", subrequest: \"",
            b", bytes from/to client:1/2, bytes from/to upstream:3/4",
            b" using starttls",
            b"\n",
            b"client: ",
            b", ",
            b" HTTP/",
            b"x",
            b" ",
            b"[::1]",
        ];
        let real: &[u8] = b"upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.1.2.3, server: shop.example.com, request: \"GET /api/v1/orders/958421?expand=items HTTP/2.0\", upstream: \"fastcgi://10.0.1.12:9000/x\", host: \"shop.example.com\", referrer: \"https://www.google.com/\"";
        let mut bodies: Vec<Vec<u8>> = vec![real.to_vec(), Vec::new()];
        for i in 0..real.len() {
            for c in [b'"', b',', b' ', b'\n', b'x', b':'] {
                let mut b = real.to_vec();
                b[i] = c;
                bodies.push(b);
            }
            let mut b = real.to_vec();
            b.remove(i);
            bodies.push(b);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let n = 1 + (rng(&mut x) % 14) as usize;
            let mut b = Vec::new();
            for _ in 0..n {
                b.extend_from_slice(pieces[(rng(&mut x) % pieces.len() as u64) as usize]);
            }
            bodies.push(b);
        }
        for b in &bodies {
            assert_eq!(
                split_tail(b, true),
                split_tail_ref(b),
                "{}",
                String::from_utf8_lossy(b)
            );
            // a one-line entry skips the search for the last line
            if !b.contains(&b'\n') {
                assert_eq!(split_tail(b, false), split_tail_ref(b));
            }
        }
    }

    /// `instant` (the header's time, for the span's sample) is the time of what `parse`
    /// reads, and `None` where `parse` reads no event, on real entries and their mutations.
    #[test]
    fn instant_is_the_parsed_time() {
        use crate::{LineParser, Record};
        let good: &[&[u8]] = &[
            b"2026/11/23 00:00:24 [error] 20054#20054: *261 connect() failed (111: Connection refused) while connecting to upstream, client: 175.90.153.224, server: shop.example.com, request: \"GET /product/5099 HTTP/2.0\", upstream: \"fastcgi://10.0.1.14:9000\", host: \"shop.example.com\"",
            b"host nginx[983478]: 2023/12/09 21:35:20 [warn] 1#1: conflicting server name",
            b"nginx: [emerg] unknown directive \"x\"",
            b"2026/11/23 00:00:24 [crit] 1#0: accept4() failed (24: Too many open files)",
            b"2026/11/23 00:00:24 [error] 7#7: *1 FastCGI sent in stderr: \"PHP message: x\nstack\" while reading, client: 1.2.3.4",
            b"   ",
            b"",
        ];
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for g in good {
            lines.push(g.to_vec());
            for i in 0..g.len().min(60) {
                for c in [b'x', b' ', b'9', b'#', b']', b':', b'\n', 0xff] {
                    let mut l = g.to_vec();
                    l[i] = c;
                    lines.push(l);
                }
                lines.push(g[..i].to_vec());
            }
        }
        let mut p = super::NginxErrorParser::new();
        let mut q = super::NginxErrorParser::new();
        let mut timed = 0;
        for l in &lines {
            let want = match p.parse(l) {
                Ok(Record::Event(e)) => Some(e.ts),
                _ => None,
            };
            timed += usize::from(want.is_some());
            assert_eq!(q.instant(l), Some(want), "{}", String::from_utf8_lossy(l));
        }
        assert!(
            timed > 100 && timed < lines.len(),
            "{timed} of {}",
            lines.len()
        );
    }

    #[test]
    fn timestamp_shape_agrees() {
        let good: &[u8] = b"2026/11/23 00:00:24 [error] 1#1: x";
        let mut lines: Vec<Vec<u8>> = vec![good.to_vec(), good[..20].to_vec(), good[..21].to_vec()];
        for i in 0..22 {
            for c in 0u8..=255 {
                let mut l = good.to_vec();
                l[i] = c;
                lines.push(l);
            }
        }
        let mut x = 7u64;
        for _ in 0..20_000 {
            let mut l = good.to_vec();
            for _ in 0..3 {
                let i = (rng(&mut x) % 22) as usize;
                l[i] = rng(&mut x) as u8;
            }
            lines.push(l);
        }
        for l in &lines {
            for p in 0..3 {
                assert_eq!(ts_shape_at(l, p), ts_shape_at_ref(l, p), "{l:?} at {p}");
            }
        }
    }

    /// The header's numbers are read in one pass: the same values and the same errors as
    /// reading the digit run, then the number (u32 for pid/tid/errno, u64 for the connection).
    #[test]
    fn header_numbers_and_their_limits() {
        use super::NginxErrorParser;
        use crate::{EventKind, LineParser, Record};
        let mut p = NginxErrorParser::new();
        let ev = |l: &[u8]| match NginxErrorParser::new().parse(l) {
            Ok(Record::Event(e)) => (e.pid, e.tid, e.conn, e.kind),
            other => panic!("{other:?}"),
        };
        let line = |pid: &str, tid: &str, conn: &str| {
            format!("2024/01/09 14:02:11 [error] {pid}#{tid}: *{conn} upstream prematurely closed connection while reading response header from upstream, client: 1.2.3.4, server: s")
        };
        assert_eq!(
            ev(line("4294967295", "0", "18446744073709551615").as_bytes()),
            (
                Some(u32::MAX),
                Some(0),
                Some(u64::MAX),
                EventKind::UpstreamPrematureClose
            )
        );
        // 20 digits with leading zeros still fit
        let e = ev(line("1", "00000000000000000007", "00000000000000000012").as_bytes());
        assert_eq!((e.0, e.1, e.2), (Some(1), Some(7), Some(12)));
        // too large: the same error as before (invalid pid/tid/connection), never a wrap
        for (l, what) in [
            (line("4294967296", "1", "1"), "pid"),
            (line("1", "99999999999999999999", "1"), "tid"),
            (line("1", "1", "18446744073709551616"), "connection"),
            (line("", "1", "1"), "pid"),
        ] {
            let err = p.parse(l.as_bytes()).unwrap_err();
            assert!(format!("{err:?}").contains(what), "{err:?} for {l}");
        }
    }

    /// The classification's order holds with its lazy action and its first-byte dispatch: a
    /// `reported that connect() failed (` anywhere wins over a later prefix test, the
    /// counted-file messages are found by their `(`, and a reset names an upstream only
    /// through the action.
    #[test]
    fn classification_order() {
        use crate::EventKind::*;
        let c = |m: &str| super::classify(m.as_bytes()).0;
        assert_eq!(
            c("upstream prematurely closed; kevent() reported that connect() failed (111: Connection refused) while connecting to upstream"),
            ConnectRefused
        );
        assert_eq!(
            c("upstream prematurely closed; kevent() reported that connect() failed (111: Connection refused) while reading client request line"),
            UpstreamPrematureClose
        );
        assert_eq!(
            c("connect() failed (111: Connection refused) while reading client request"),
            Other
        );
        assert_eq!(c("connect() failed (111: x)"), ConnectRefused);
        assert_eq!(c("connect() to unix:/x failed (2: No such file or directory) while connecting to upstream"), ConnectNoSocket);
        assert_eq!(
            c("recv() failed (104: x) while reading upstream"),
            RecvReset
        );
        assert_eq!(c("recv() failed (104: x)"), Other);
        assert_eq!(
            c("send() failed (32: Broken pipe) while sending to upstream"),
            Other
        );
        assert_eq!(
            c("open() \"/x\" failed (24: Too many open files)"),
            TooManyOpenFiles
        );
        assert_eq!(
            c("accept4() failed (23: Too many open files in system)"),
            TooManyOpenFiles
        );
        assert_eq!(
            c("1024 worker_connections are not enough"),
            WorkerConnectionsNotEnough
        );
        assert_eq!(
            c("limiting requests, excess: 1.0 by zone \"z\" (24: Too many open files)"),
            LimitingRequests
        );
        assert_eq!(
            c("delaying request, excess: 0.5, by zone \"z\""),
            DelayingRequest
        );
        assert_eq!(c("(24: Too many open"), Other);
        assert_eq!(c(""), Other);
        assert_eq!(c("("), Other);
    }
}
