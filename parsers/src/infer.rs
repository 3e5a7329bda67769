//! Inference of a custom nginx `log_format` from sample lines, for access logs that no
//! built-in layout reads (`log_format` strings nobody could guess, such as
//! `$time_iso8601 - $remote_addr - $status $request_method "$uri" ...`).
//!
//! 1. Every line is split into columns — bare words, `"quoted"` and `[bracketed]` values, and
//!    `key=value` words — keeping the literal text between them (spaces, quotes, brackets,
//!    `key=`). Lines sharing the same literals have the same *layout*; the most common layout
//!    of the sample is the candidate.
//! 2. Each column of that layout is classified by the shape of its values across the lines
//!    (ISO 8601 time → `$time_iso8601`, `[dd/Mon/yyyy:...]` → `$time_local`, an IP →
//!    `$remote_addr`, a well-known 3-digit code → `$status`, 32 hex digits → `$request_id`,
//!    ...). A bare `-` in every line is a literal; a column nothing recognises becomes
//!    `$fieldN` (N its column number), a variable the compiler reads and ignores.
//! 3. The resulting `log_format` is compiled with [`crate::nginx_access::compile`] and kept only
//!    when it has a timestamp and a status and parses at least 90% of the sample's non-blank
//!    lines.
//!
//! Inference is a last resort: detection asks for it only when no format matches the sample
//! (see [`crate::detect::infer_unmatched`]), so it never takes a file from a built-in layout
//! or another format family. Nothing here indexes unchecked or panics on any input.

use crate::fields::{find_closing_quote, parse_u64, split_request_line};
use crate::nginx_access;
use crate::time::SecondCache;

/// The most columns a line may have for inference (longer lines are not access-log lines
/// anyone could name the columns of; this also bounds the work on garbage).
const MAX_COLUMNS: usize = 48;

/// A `log_format` inferred from sample lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inferred {
    /// [`Format::NginxAccess`] (`log_format` is an nginx `log_format`) or
    /// [`Format::FpmAccess`] (a php-fpm `access.format`, [`crate::fpm_infer`]).
    pub format: crate::Format,
    /// The `log_format` string (without `escape=`), ready for `--log-format`.
    pub log_format: String,
    /// Non-blank sample lines the compiled format parses.
    pub lines_parsed: usize,
    /// Non-blank sample lines.
    pub lines: usize,
    /// Zone offset of the first timestamp that carries one.
    pub offset: Option<i32>,
}

/// How a column's value is delimited in the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Wrap {
    Bare,
    Quoted,
    Bracket,
}

impl Wrap {
    pub(crate) fn open(self) -> &'static str {
        match self {
            Wrap::Bare => "",
            Wrap::Quoted => "\"",
            Wrap::Bracket => "[",
        }
    }
    pub(crate) fn close(self) -> &'static str {
        match self {
            Wrap::Bare => "",
            Wrap::Quoted => "\"",
            Wrap::Bracket => "]",
        }
    }
}

/// One column of a line: the literal before it (spaces, then a `key=` prefix), how it is
/// wrapped, and its value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Col<'a> {
    pub(crate) sep: &'a [u8],
    pub(crate) key: &'a [u8],
    pub(crate) wrap: Wrap,
    pub(crate) value: &'a [u8],
}

/// A line split into columns, plus the literal after the last one.
#[derive(Clone, Debug)]
pub(crate) struct Split<'a> {
    pub(crate) cols: Vec<Col<'a>>,
    pub(crate) tail: &'a [u8],
}

impl Split<'_> {
    /// Whether two lines have the same layout (the same literals around their columns).
    fn same_layout(&self, o: &Split<'_>) -> bool {
        self.tail == o.tail
            && self.cols.len() == o.cols.len()
            && self
                .cols
                .iter()
                .zip(&o.cols)
                .all(|(a, b)| a.sep == b.sep && a.key == b.key && a.wrap == b.wrap)
    }
}

/// `key=` at the start of a bare word: a letter or `_`, then letters, digits, `_` or `-`,
/// then `=`. Returns the length including `=`.
fn key_prefix(w: &[u8]) -> Option<usize> {
    let first = *w.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let eq = w.iter().position(|&c| c == b'=')?;
    let name = w.get(..eq)?;
    if name
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        Some(eq + 1)
    } else {
        None
    }
}

/// Split a line into columns. `None` when it cannot be split (an unclosed quote, more than
/// [`MAX_COLUMNS`] columns, or literal bytes a `log_format` cannot hold).
pub(crate) fn split(line: &[u8]) -> Option<Split<'_>> {
    let mut cols = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        let sep_start = i;
        while line.get(i) == Some(&b' ') {
            i += 1;
        }
        let sep = line.get(sep_start..i)?;
        if i >= n {
            return Some(Split { cols, tail: sep });
        }
        if cols.len() >= MAX_COLUMNS {
            return None;
        }
        let rest = line.get(i..)?;
        let col = match rest.first() {
            Some(b'"') => {
                let inner = rest.get(1..)?;
                let close = find_closing_quote(inner)?;
                i += close + 2;
                Col {
                    sep,
                    key: &[],
                    wrap: Wrap::Quoted,
                    value: inner.get(..close)?,
                }
            }
            Some(b'[') if rest.contains(&b']') => {
                let inner = rest.get(1..)?;
                let close = inner.iter().position(|&c| c == b']')?;
                i += close + 2;
                Col {
                    sep,
                    key: &[],
                    wrap: Wrap::Bracket,
                    value: inner.get(..close)?,
                }
            }
            _ => {
                let word_len = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
                let word = rest.get(..word_len)?;
                match key_prefix(word) {
                    Some(k) if word.get(k) == Some(&b'"') => {
                        // key="value" (the value may hold spaces)
                        let inner = rest.get(k + 1..)?;
                        let close = find_closing_quote(inner)?;
                        i += k + close + 2;
                        Col {
                            sep,
                            key: rest.get(..k)?,
                            wrap: Wrap::Quoted,
                            value: inner.get(..close)?,
                        }
                    }
                    Some(k) if k < word.len() => {
                        i += word_len;
                        Col {
                            sep,
                            key: word.get(..k)?,
                            wrap: Wrap::Bare,
                            value: word.get(k..)?,
                        }
                    }
                    _ => {
                        i += word_len;
                        Col {
                            sep,
                            key: &[],
                            wrap: Wrap::Bare,
                            value: word,
                        }
                    }
                }
            }
        };
        cols.push(col);
    }
}

// ---------------------------------------------------------------------------------------------
// Value shapes.

fn is_dash(v: &[u8]) -> bool {
    v.is_empty() || v == b"-"
}

pub(crate) fn is_time_iso(v: &[u8], cache: &mut SecondCache) -> bool {
    v.len() >= 19 && cache.iso8601(v).is_some_and(|(_, used)| used == v.len())
}

pub(crate) fn is_time_local(v: &[u8], cache: &mut SecondCache) -> bool {
    cache.clf(v).is_some_and(|(_, used)| used == v.len())
}

/// nginx `$msec`: 9 to 11 digits of epoch seconds, a dot, 3 digits of milliseconds.
fn is_msec(v: &[u8]) -> bool {
    match v.iter().position(|&c| c == b'.') {
        Some(dot) => {
            (9..=11).contains(&dot)
                && v.len() == dot + 4
                && v.iter()
                    .enumerate()
                    .all(|(k, c)| k == dot || c.is_ascii_digit())
        }
        None => false,
    }
}

pub(crate) fn is_ip(v: &[u8]) -> bool {
    v.len() <= 45 && std::str::from_utf8(v).is_ok_and(|s| s.parse::<std::net::IpAddr>().is_ok())
}

/// `ip:port`, `[v6]:port` or `unix:/path`, or a `$upstream_addr` list of them.
fn is_upstream_addr(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else {
        return false;
    };
    s.len() <= 4096
        && s.split(", ").flat_map(|e| e.split(" : ")).all(|e| {
            e == "-" || e.starts_with("unix:") || e.parse::<std::net::SocketAddr>().is_ok()
        })
}

/// A comma-separated address list (`$http_x_forwarded_for`).
fn is_ip_list(v: &[u8]) -> bool {
    v.len() <= 4096
        && v.split(|&c| c == b',')
            .all(|e| is_ip(crate::fields::trim(e)))
}

/// Status codes servers write (IANA registry plus nginx's 444 and 494..499).
pub(crate) fn is_well_known_status(v: &[u8]) -> bool {
    let Some(code) = (if v.len() == 3 { parse_u64(v) } else { None }) else {
        return false;
    };
    matches!(code,
        100..=103 | 200..=208 | 226 | 300..=308 | 400..=418 | 421..=426 | 428 | 429 | 431
        | 444 | 451 | 494..=499 | 500..=508 | 510 | 511)
}

const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"PRI",
];

pub(crate) fn is_method(v: &[u8]) -> bool {
    METHODS.contains(&v)
}

/// `METHOD /target HTTP/x.y` (the protocol may be missing: HTTP/0.9).
fn is_request(v: &[u8]) -> bool {
    let (m, target, _) = split_request_line(v);
    is_method(m) && !target.is_empty() && !target.contains(&b' ')
}

pub(crate) fn is_protocol(v: &[u8]) -> bool {
    v.len() <= 8 && v.starts_with(b"HTTP/")
}

pub(crate) fn is_path(v: &[u8]) -> bool {
    v.first() == Some(&b'/') && !v.contains(&b' ')
}

/// 32 hex digits (`$request_id`), or a UUID.
fn is_request_id(v: &[u8]) -> bool {
    (v.len() == 32 && v.iter().all(u8::is_ascii_hexdigit))
        || (v.len() == 36
            && v.iter().enumerate().all(|(k, c)| {
                if matches!(k, 8 | 13 | 18 | 23) {
                    *c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            }))
}

fn is_int(v: &[u8]) -> bool {
    parse_u64(v).is_some()
}

/// Seconds with a fraction (`0.123`), or an `$upstream_*_time` list of them.
fn is_secs(v: &[u8]) -> bool {
    let one = |e: &[u8]| {
        let e = crate::fields::trim(e);
        if e == b"-" {
            return true;
        }
        match e.iter().position(|&c| c == b'.') {
            Some(dot) => {
                (1..=9).contains(&dot)
                    && e.len() > dot + 1
                    && e.len() <= dot + 7
                    && e.iter()
                        .enumerate()
                        .all(|(k, c)| k == dot || c.is_ascii_digit())
            }
            None => false,
        }
    };
    v.len() <= 4096 && v.split(|&c| c == b',' || c == b':').all(one)
}

pub(crate) fn is_url(v: &[u8]) -> bool {
    (v.starts_with(b"http://") || v.starts_with(b"https://")) && !v.contains(&b' ')
}

/// A user agent: starts with a letter and names a product version (`curl/8.0`,
/// `Mozilla/5.0 (...)`), or is a bot name in parentheses-free words.
pub(crate) fn is_user_agent(v: &[u8]) -> bool {
    v.first().is_some_and(u8::is_ascii_alphabetic) && v.contains(&b'/')
}

/// A host name: letters, digits, `-` and `.`, with a dot and a letter, optional `:port`.
fn is_host(v: &[u8]) -> bool {
    let name = match v.iter().rposition(|&c| c == b':') {
        Some(c) if v.get(c + 1..).is_some_and(is_int) => v.get(..c).unwrap_or_default(),
        _ => v,
    };
    !name.is_empty()
        && name.len() <= 253
        && name.contains(&b'.')
        && name.iter().any(u8::is_ascii_alphabetic)
        && name.first().is_some_and(u8::is_ascii_alphanumeric)
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// What a column holds, most specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    TimeIso,
    TimeLocal,
    Msec,
    Request,
    RequestId,
    Status,
    Secs,
    Int,
    Ip,
    UpstreamAddr,
    IpList,
    Method,
    Protocol,
    Path,
    Url,
    UserAgent,
    Host,
    /// `-` (or empty) in every line.
    Dash,
    Other,
}

const KINDS: [Kind; 17] = [
    Kind::TimeIso,
    Kind::TimeLocal,
    Kind::Msec,
    Kind::Request,
    Kind::RequestId,
    Kind::Status,
    Kind::Secs,
    Kind::Int,
    Kind::Ip,
    Kind::UpstreamAddr,
    Kind::IpList,
    Kind::Method,
    Kind::Protocol,
    Kind::Path,
    Kind::Url,
    Kind::UserAgent,
    Kind::Host,
];

fn matches(kind: Kind, wrap: Wrap, v: &[u8], cache: &mut SecondCache) -> bool {
    match kind {
        Kind::TimeIso => is_time_iso(v, cache),
        Kind::TimeLocal => wrap == Wrap::Bracket && is_time_local(v, cache),
        Kind::Msec => wrap == Wrap::Bare && is_msec(v),
        Kind::Request => wrap != Wrap::Bare && is_request(v),
        Kind::RequestId => is_request_id(v),
        Kind::Status => is_well_known_status(v),
        Kind::Secs => is_secs(v),
        Kind::Int => is_int(v),
        Kind::Ip => is_ip(v),
        Kind::UpstreamAddr => is_upstream_addr(v),
        Kind::IpList => is_ip_list(v),
        Kind::Method => is_method(v),
        Kind::Protocol => is_protocol(v),
        Kind::Path => is_path(v),
        Kind::Url => is_url(v),
        Kind::UserAgent => wrap == Wrap::Quoted && is_user_agent(v),
        Kind::Host => is_host(v),
        Kind::Dash | Kind::Other => false,
    }
}

/// Whether a kind's variable must never be `-` (a status or a timestamp always has a value).
fn needs_value(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::TimeIso | Kind::TimeLocal | Kind::Msec | Kind::Status | Kind::Method
    )
}

/// Classify one column from its values (one per line of the layout). A kind is chosen when
/// it fits at least 90% of the values that are not `-`.
fn classify(wrap: Wrap, values: &[&[u8]], cache: &mut SecondCache) -> Kind {
    let present: Vec<&[u8]> = values.iter().copied().filter(|v| !is_dash(v)).collect();
    if present.is_empty() {
        return Kind::Dash;
    }
    let dashes = values.len() - present.len();
    for kind in KINDS {
        if needs_value(kind) && dashes > 0 {
            continue;
        }
        let hits = present
            .iter()
            .filter(|v| matches(kind, wrap, v, cache))
            .count();
        if hits > 0 && hits * 10 >= present.len() * 9 {
            return kind;
        }
    }
    Kind::Other
}

/// The variable a `key=` label names, when the column's values fit it. Labels follow the
/// NGINX blog's timing and APM logs (`rt=$request_time uct="$upstream_connect_time"
/// uht="$upstream_header_time" urt="$upstream_response_time"`, `ua="$upstream_addr"
/// us="$upstream_status"`, `cs=$upstream_cache_status`) and the variables' own names.
fn label_var(key: &[u8], kind: Kind) -> Option<&'static str> {
    let name = key.strip_suffix(b"=").unwrap_or(key).to_ascii_lowercase();
    let secs = matches!(kind, Kind::Secs | Kind::Dash | Kind::Int);
    let status = matches!(kind, Kind::Status | Kind::Dash | Kind::Other);
    let text = matches!(kind, Kind::Dash | Kind::Other);
    let var = match &name[..] {
        b"rt" | b"request_time" | b"req_time" if secs => "request_time",
        b"uct" | b"upstream_connect_time" if secs => "upstream_connect_time",
        b"uht" | b"upstream_header_time" if secs => "upstream_header_time",
        b"urt" | b"upstream_response_time" | b"upstream_time" if secs => "upstream_response_time",
        b"ua" | b"upstream_addr" | b"upstream" if kind == Kind::UpstreamAddr || text => {
            "upstream_addr"
        }
        b"ua" | b"user_agent" | b"http_user_agent" | b"agent"
            if kind == Kind::UserAgent || text =>
        {
            "http_user_agent"
        }
        b"us" | b"upstream_status" if status || kind == Kind::Int => "upstream_status",
        b"cs" | b"upstream_cache_status" | b"cache" if text => "upstream_cache_status",
        b"rid" | b"request_id" | b"req_id" | b"requestid" if kind == Kind::RequestId || text => {
            "request_id"
        }
        b"status" | b"s" if kind == Kind::Status => "status",
        b"body_bytes_sent" | b"bbs" if kind == Kind::Int => "body_bytes_sent",
        b"bytes_sent" | b"bytes" | b"bs" if kind == Kind::Int => "bytes_sent",
        b"request_length" | b"rl" if kind == Kind::Int => "request_length",
        b"upstream_response_length" | b"url" if kind == Kind::Int || text => {
            "upstream_response_length"
        }
        b"client" | b"remote_addr" | b"ip" if kind == Kind::Ip => "remote_addr",
        b"xff" | b"http_x_forwarded_for" | b"forwarded_for"
            if matches!(kind, Kind::Ip | Kind::IpList | Kind::Dash) =>
        {
            "http_x_forwarded_for"
        }
        b"request" | b"req" if kind == Kind::Request => "request",
        b"method" | b"request_method" if kind == Kind::Method => "request_method",
        b"uri" if kind == Kind::Path => "uri",
        b"request_uri" if kind == Kind::Path => "request_uri",
        b"referer" | b"referrer" | b"http_referer" if matches!(kind, Kind::Url | Kind::Dash) => {
            "http_referer"
        }
        b"host" | b"http_host" if matches!(kind, Kind::Host | Kind::Ip) => "host",
        b"gz" | b"gzip_ratio" if secs || text => "gzip_ratio",
        _ => return None,
    };
    Some(var)
}

/// Name the variables of classified columns. Returns `None` (literal) for a bare `-` column.
/// A column whose `key=` label names a variable its values fit takes that name first (the
/// positional guesses below would otherwise swap `uct=` and `urt=`).
fn name_columns(kinds: &[(Kind, Wrap, bool)], keys: &[&[u8]]) -> Vec<Option<String>> {
    let mut used: Vec<&'static str> = Vec::new();
    let mut labelled: Vec<Option<&'static str>> = kinds
        .iter()
        .enumerate()
        .map(|(c, (kind, _, _))| {
            let var = label_var(keys.get(c).copied().unwrap_or_default(), *kind)?;
            (!used.contains(&var)).then(|| {
                used.push(var);
                var
            })
        })
        .collect();
    let mut out = Vec::with_capacity(kinds.len());
    fn take(names: &[&'static str], used: &mut Vec<&'static str>) -> Option<String> {
        let n = names.iter().find(|n| !used.contains(n))?;
        used.push(n);
        Some(format!("${n}"))
    }
    // `$body_bytes_sent` is the first integer after the status (nginx layouts put it there),
    // else the first integer at all.
    // (labelled columns are named already)
    let free = |c: usize, kind: Kind| {
        kinds.get(c).is_some_and(|(k, _, _)| *k == kind)
            && labelled.get(c).is_some_and(Option::is_none)
    };
    let status_col = (0..kinds.len()).find(|&c| free(c, Kind::Status));
    let body_col = status_col
        .and_then(|after| (after + 1..kinds.len()).find(|&c| free(c, Kind::Int)))
        .or_else(|| (0..kinds.len()).find(|&c| free(c, Kind::Int)));
    let seen_request = |used: &Vec<&'static str>| {
        used.iter()
            .any(|n| matches!(*n, "request" | "uri" | "request_uri" | "request_method"))
    };
    for (k, &(kind, wrap, has_query)) in kinds.iter().enumerate() {
        if let Some(var) = labelled.get_mut(k).and_then(Option::take) {
            out.push(Some(format!("${var}")));
            continue;
        }
        let name = match kind {
            Kind::Dash if wrap == Wrap::Bare => {
                out.push(None);
                continue;
            }
            Kind::TimeIso => take(&["time_iso8601"], &mut used),
            Kind::TimeLocal => take(&["time_local"], &mut used),
            Kind::Msec => take(&["msec"], &mut used),
            Kind::Request => take(&["request"], &mut used),
            Kind::RequestId => take(&["request_id"], &mut used),
            Kind::Status => take(&["status", "upstream_status"], &mut used),
            Kind::Secs => take(
                &[
                    "request_time",
                    "upstream_response_time",
                    "upstream_header_time",
                    "upstream_connect_time",
                ],
                &mut used,
            ),
            Kind::Int if Some(k) == body_col => take(&["body_bytes_sent"], &mut used),
            Kind::Int => take(&["request_length"], &mut used),
            Kind::Ip if wrap == Wrap::Quoted && used.contains(&"remote_addr") => {
                take(&["http_x_forwarded_for"], &mut used)
            }
            Kind::Ip => take(&["remote_addr", "server_addr"], &mut used),
            Kind::UpstreamAddr => take(&["upstream_addr"], &mut used),
            Kind::IpList => take(&["http_x_forwarded_for"], &mut used),
            Kind::Method => take(&["request_method"], &mut used),
            Kind::Protocol => take(&["server_protocol"], &mut used),
            Kind::Path if has_query => take(&["request_uri"], &mut used),
            Kind::Path => take(&["uri", "request_uri"], &mut used),
            Kind::Url => take(&["http_referer"], &mut used),
            Kind::UserAgent => take(&["http_user_agent"], &mut used),
            Kind::Host => take(&["host"], &mut used),
            // A quoted `-` column: the referer when it follows the request, the forwarded
            // address after the user agent.
            Kind::Dash if seen_request(&used) && !used.contains(&"http_referer") => {
                take(&["http_referer"], &mut used)
            }
            Kind::Dash if used.contains(&"http_user_agent") => {
                take(&["http_x_forwarded_for"], &mut used)
            }
            Kind::Dash | Kind::Other => None,
        };
        out.push(Some(name.unwrap_or_else(|| format!("$field{}", k + 1))));
    }
    out
}

/// Build the `log_format` string of a layout from its first line's literals and the column
/// variables (`None`: the column is the literal `-`).
fn format_string(layout: &Split<'_>, vars: &[Option<String>]) -> Option<String> {
    let mut s = String::new();
    let text = |b: &[u8]| -> Option<String> {
        // literals are spaces, `key=` names, quotes and brackets: plain ASCII, no `$`, `'`
        std::str::from_utf8(b)
            .ok()
            .filter(|t| !t.contains(['$', '\'']))
            .map(str::to_string)
    };
    for (c, v) in layout.cols.iter().zip(vars) {
        s.push_str(&text(c.sep)?);
        s.push_str(&text(c.key)?);
        s.push_str(c.wrap.open());
        match v {
            Some(var) => s.push_str(var),
            None => s.push('-'),
        }
        s.push_str(c.wrap.close());
    }
    s.push_str(&text(layout.tail)?);
    Some(s)
}

fn blank(l: &[u8]) -> bool {
    l.iter().all(u8::is_ascii_whitespace)
}

/// Infer an nginx `log_format` from sample lines (without terminators). `Err` says why none
/// could be inferred.
pub fn infer(lines: &[&[u8]]) -> Result<Inferred, String> {
    let lines: Vec<&[u8]> = lines.iter().copied().filter(|l| !blank(l)).collect();
    if lines.is_empty() {
        return Err("no lines".into());
    }
    // The most common layout.
    let splits: Vec<Option<Split<'_>>> = lines.iter().map(|l| split(l)).collect();
    let mut layouts: Vec<(usize, usize)> = Vec::new(); // (index of a first line, count)
    for (k, s) in splits.iter().enumerate() {
        let Some(s) = s else { continue };
        let found = layouts.iter_mut().find(|(first, _)| {
            splits
                .get(*first)
                .and_then(Option::as_ref)
                .is_some_and(|f| f.same_layout(s))
        });
        match found {
            Some((_, n)) => *n += 1,
            None => layouts.push((k, 1)),
        }
        if layouts.len() > 64 {
            return Err("the lines share no common layout".into());
        }
    }
    let Some(&(first, count)) = layouts
        .iter()
        .max_by_key(|(first, n)| (*n, usize::MAX - first))
    else {
        return Err("the lines cannot be split into columns".into());
    };
    if count * 2 < lines.len() {
        return Err(format!(
            "no common layout: the most common one covers {count} of {} lines",
            lines.len()
        ));
    }
    let Some(Some(layout)) = splits.get(first) else {
        return Err("the lines cannot be split into columns".into());
    };
    let members: Vec<&Split<'_>> = splits
        .iter()
        .flatten()
        .filter(|s| s.same_layout(layout))
        .collect();
    let mut cache = SecondCache::new();
    let kinds: Vec<(Kind, Wrap, bool)> = layout
        .cols
        .iter()
        .enumerate()
        .map(|(c, col)| {
            let values: Vec<&[u8]> = members
                .iter()
                .filter_map(|m| m.cols.get(c).map(|x| x.value))
                .collect();
            let query = values.iter().any(|v| v.contains(&b'?'));
            (classify(col.wrap, &values, &mut cache), col.wrap, query)
        })
        .collect();
    let keys: Vec<&[u8]> = layout.cols.iter().map(|c| c.key).collect();
    let vars = name_columns(&kinds, &keys);
    let has = |names: &[&str]| {
        vars.iter()
            .flatten()
            .any(|v| names.iter().any(|n| v.strip_prefix('$') == Some(n)))
    };
    if !has(&["time_iso8601", "time_local", "msec"]) {
        return Err("no column holds a timestamp".into());
    }
    if !has(&["status"]) {
        return Err("no column holds an HTTP status".into());
    }
    let log_format = format_string(layout, &vars)
        .ok_or_else(|| "the text between columns cannot be written in a log_format".to_string())?;
    let mut parser = nginx_access::compile(&log_format)
        .map_err(|e| format!("the inferred log_format does not compile: {e}"))?;
    let mut parsed = 0;
    let mut offset = None;
    for l in &lines {
        if let Ok(r) = parser.parse_request(l) {
            parsed += 1;
            if offset.is_none() {
                offset = r.ts.offset;
            }
        }
    }
    if parsed * 10 < lines.len() * 9 {
        return Err(format!(
            "the inferred log_format '{log_format}' parses only {parsed} of {} lines",
            lines.len()
        ));
    }
    Ok(Inferred {
        format: crate::Format::NginxAccess,
        log_format,
        lines_parsed: parsed,
        lines: lines.len(),
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inf(lines: &[&str]) -> Result<Inferred, String> {
        let b: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        infer(&b)
    }

    const CUSTOM: &[&str] = &[
        r#"2022-06-23T05:01:29-07:00 - 127.0.0.1 - 302 GET "/" d1f48b318ca25bb858f7ed69ad024f96 HTTP/1.1 364 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:101.0) Gecko/20100101 Firefox/101.0""#,
        r#"2022-06-23T05:01:38-07:00 - 127.0.0.1 - 302 POST "/login" f48ca28da4744ff4669b6b71181a2c94 HTTP/1.1 340 "http://127.0.0.1:8001/login" "Mozilla/5.0 (X11; Linux x86_64; rv:101.0) Gecko/20100101 Firefox/101.0""#,
        r#"2022-06-23T05:02:00-07:00 - 10.0.0.7 - 502 GET "/api" 0123456789abcdef0123456789abcdef HTTP/1.1 157 "-" "curl/8.0""#,
    ];

    #[test]
    fn custom_iso8601_layout() {
        let i = inf(CUSTOM).unwrap();
        assert_eq!(
            i.log_format,
            r#"$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent""#
        );
        assert_eq!((i.lines_parsed, i.lines), (3, 3));
        assert_eq!(i.offset, Some(-7 * 3600));
    }

    #[test]
    fn one_line_with_an_extra_column_is_tolerated() {
        let mut lines: Vec<String> = Vec::new();
        for k in 0..9 {
            lines.push(format!(
                r#"1700000{k:03}.123 10.0.0.{k} "GET /a?b={k} HTTP/1.1" 200 {} 0.0{k}2 "curl/8.{k}""#,
                100 + k
            ));
        }
        lines.push(
            r#"1700000999.123 10.0.0.9 "GET /a HTTP/1.1" 200 512 0.012 extra "curl/8.0""#.into(),
        );
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let i = inf(&refs).unwrap();
        assert_eq!(
            i.log_format,
            r#"$msec $remote_addr "$request" $status $body_bytes_sent $request_time "$http_user_agent""#
        );
        assert_eq!((i.lines_parsed, i.lines), (9, 10));
        // a second odd line is one too many (8 of 10 < 90%)
        lines.push(r#"1700000999.123 10.0.0.9 "GET /a HTTP/1.1" 200 5 0.1 x "curl/8.0""#.into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let e = inf(&refs).unwrap_err();
        assert!(e.contains("parses only 9 of 11"), "{e}");
    }

    #[test]
    fn mixed_layouts_are_not_inferred() {
        let mut lines = Vec::new();
        for k in 0..4 {
            lines.push(format!(
                r#"2026-11-23T10:00:0{k}+00:00 10.0.0.1 200 GET "/x" "curl/8.0""#
            ));
            lines.push(format!(
                r#"[23/Nov/2026:10:00:0{k} +0000] status=200 client=10.0.0.1 "GET /x HTTP/1.1""#
            ));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let e = inf(&refs).unwrap_err();
        assert!(e.contains("parses only 4 of 8"), "{e}");
    }

    #[test]
    fn garbage_and_prose_are_not_inferred() {
        assert!(inf(&["", "  "]).is_err());
        let e = inf(&[
            "This directory holds the lab's configuration.",
            "Run make to build it, then open http://localhost:8080/ in 200 ways.",
        ])
        .unwrap_err();
        assert!(
            e.contains("no common layout") || e.contains("timestamp"),
            "{e}"
        );
        // a timestamp but no status
        let e = inf(&[
            "2026-11-23T10:00:00Z worker started pid=12",
            "2026-11-23T10:00:01Z worker started pid=13",
        ])
        .unwrap_err();
        assert!(e.contains("status"), "{e}");
        // status-like numbers but no time
        let e = inf(&["GET /a 200 12", "GET /b 404 0"]).unwrap_err();
        assert!(e.contains("timestamp"), "{e}");
        // arbitrary bytes: no panic, no inference
        let junk: Vec<u8> = (0u32..2048).map(|k| (k * 37 % 256) as u8).collect();
        let ls: Vec<&[u8]> = junk.split(|&c| c == b'\n').collect();
        assert!(infer(&ls).is_err());
        let quotes: &[&[u8]] = &[b"\"", b"[", b"a=\"", b"\"\\", b"k=", b"=", b"[]]\"\""];
        let _ = infer(quotes);
    }

    #[test]
    fn bytes_that_look_like_statuses_are_not_the_status() {
        // 364 and 340 are not registered status codes: the first column of well-known codes
        // is the status, even when another 3-digit column comes first
        let i = inf(&[
            "[23/Nov/2026:10:00:00 +0000] 364 200 GET /a",
            "[23/Nov/2026:10:00:01 +0000] 340 404 GET /b",
            "[23/Nov/2026:10:00:02 +0000] 412 200 GET /c",
        ])
        .unwrap();
        assert_eq!(
            i.log_format,
            "[$time_local] $body_bytes_sent $status $request_method $uri"
        );
    }

    #[test]
    fn body_bytes_is_the_integer_after_the_status() {
        let i = inf(&[
            "nginx 23 2026-11-23T10:00:00+00:00 10.0.0.1 GET /a 200 5120 7",
            "nginx 23 2026-11-23T10:00:01+00:00 10.0.0.2 GET /b 502 157 9",
        ])
        .unwrap();
        assert_eq!(
            i.log_format,
            "$field1 $request_length $time_iso8601 $remote_addr $request_method $uri $status $body_bytes_sent $field9"
        );
    }

    #[test]
    fn key_value_columns_upstreams_and_unknowns() {
        let i = inf(&[
            r#"[23/Nov/2026:10:00:00 +0100] web1 example.com 10.0.0.1 "GET /x HTTP/1.1" 502 0 rt=1.002 ua="curl/8.0" up=10.0.0.9:9000 st=502 urt=1.001"#,
            r#"[23/Nov/2026:10:00:01 +0100] web1 example.com 10.0.0.2 "POST /y HTTP/1.1" 200 12 rt=0.010 ua="-" up=10.0.0.8:9000 st=200 urt=0.009"#,
        ])
        .unwrap();
        assert_eq!(
            i.log_format,
            r#"[$time_local] $field2 $host $remote_addr "$request" $status $body_bytes_sent rt=$request_time ua="$http_user_agent" up=$upstream_addr st=$upstream_status urt=$upstream_response_time"#
        );
        assert_eq!(i.offset, Some(3600));
        let mut p = nginx_access::compile(&i.log_format).unwrap();
        let r = p
            .parse_request(br#"[23/Nov/2026:10:00:00 +0100] web1 example.com 10.0.0.1 "GET /x HTTP/1.1" 502 0 rt=1.002 ua="curl/8.0" up=10.0.0.9:9000, 10.0.0.7:9000 st=502, 502 urt=1.001, 0.001"#)
            .unwrap();
        assert_eq!(r.upstream_addr, b"10.0.0.9:9000, 10.0.0.7:9000");
        assert_eq!(r.request_time_us, Some(1_002_000));
        assert_eq!(r.host, b"example.com");
    }

    /// Arbitrary bytes and mutated real lines: inference returns, never panics, and whatever
    /// it accepts compiles and parses at least 90% of the lines it saw.
    #[test]
    fn arbitrary_and_mutated_input_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const ALPHABET: &[u8] = b" \"[]=-:./0123456789aGET HTTP/1.1\\x\t\r\xff";
        let mut accepted = 0;
        for round in 0..3000 {
            let mut lines: Vec<Vec<u8>> = Vec::new();
            for k in 0..(next() % 8) as usize {
                let mut l = if round % 2 == 0 {
                    CUSTOM[k % CUSTOM.len()].as_bytes().to_vec()
                } else {
                    Vec::new()
                };
                for _ in 0..(next() % 6) {
                    let at = if l.is_empty() {
                        0
                    } else {
                        (next() as usize) % l.len()
                    };
                    let c = ALPHABET[(next() as usize) % ALPHABET.len()];
                    match next() % 3 {
                        0 => l.insert(at, c),
                        1 if !l.is_empty() => {
                            l.remove(at);
                        }
                        _ => {
                            if let Some(b) = l.get_mut(at) {
                                *b = c;
                            } else {
                                l.push(c);
                            }
                        }
                    }
                }
                if round % 2 == 1 {
                    for _ in 0..(next() % 60) {
                        l.push(ALPHABET[(next() as usize) % ALPHABET.len()]);
                    }
                }
                lines.push(l);
            }
            let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            if let Ok(i) = infer(&refs) {
                assert!(i.lines_parsed * 10 >= i.lines * 9, "{i:?}");
                assert!(nginx_access::compile(&i.log_format).is_ok(), "{i:?}");
                accepted += 1;
            }
        }
        // the mutated real lines still make some samples inferable
        assert!(accepted > 100, "{accepted}");
    }

    #[test]
    fn split_keeps_literals() {
        let s = split(br#"  a "b c" [d e] k="v w" x=1 -  "#).unwrap();
        let got: Vec<(&[u8], &[u8], Wrap, &[u8])> = s
            .cols
            .iter()
            .map(|c| (c.sep, c.key, c.wrap, c.value))
            .collect();
        assert_eq!(
            got,
            vec![
                (&b"  "[..], &b""[..], Wrap::Bare, &b"a"[..]),
                (b" ", b"", Wrap::Quoted, b"b c"),
                (b" ", b"", Wrap::Bracket, b"d e"),
                (b" ", b"k=", Wrap::Quoted, b"v w"),
                (b" ", b"x=", Wrap::Bare, b"1"),
                (b" ", b"", Wrap::Bare, b"-"),
            ]
        );
        assert_eq!(s.tail, b"  ");
        assert!(split(br#"a "unclosed"#).is_none());
        let many = "x ".repeat(MAX_COLUMNS + 1);
        assert!(split(many.as_bytes()).is_none());
    }
}
