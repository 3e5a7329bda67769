//! nginx access logs: a `log_format` string compiled into a parser.
//!
//! A format string is compiled once into a leading literal and a list of items (variable +
//! the literal that follows it). Parsing a line walks the items:
//!
//! * a variable followed by a literal starting with `"` (and `escape` other than `none`) ends
//!   at the next unescaped `"` (nginx escapes `"` as `\x22`, JSON escaping as `\"`);
//! * `$time_local` and `$time_iso8601` are read by the timestamp parser (fixed / self-delimited
//!   width);
//! * any other variable ends at the next occurrence of the whole following literal;
//!   `$upstream_*` variables are lists (`, ` and ` : ` separators), so a separator does not end
//!   them even when the literal is a single space;
//! * the last variable of a format with no trailing literal takes the rest of the line.
//!
//! Values stay raw (still escaped) and borrow the line; nothing is allocated per line.
//!
//! The default parser ([`build`] with no format) tries a list of well-known formats, sticking
//! with the one that worked last, and reads nginx `escape=json` lines (a flat JSON object whose
//! keys are nginx variable names or common aliases) when a line starts with `{`.

use memchr::memrchr;

use crate::fields::{find_closing_quote, parse_status, parse_u64};
use crate::time::{parse_epoch, parse_secs_us, SecondCache};
use crate::{ErrorKind, Format, LineParser, ParseError, Record, Request, Ts};
use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char as ch;
use nom::combinator::all_consuming;
use nom::multi::many0;
use nom::sequence::terminated;
use nom::{Offset, Parser};

use crate::grammar::{fail, into_fail, PResult, Pos};

/// The `escape=` parameter of a `log_format` directive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Escape {
    /// `\xHH` for `"`, `\`, control and non-ASCII bytes (nginx's default).
    #[default]
    Default,
    /// JSON string escaping (`\"`, `\\`, `\u00XX`).
    Json,
    /// No escaping at all: a quoted value may contain `"`.
    None,
}

impl Escape {
    pub fn from_bytes(b: &[u8]) -> Option<Escape> {
        match b {
            b"default" => Some(Escape::Default),
            b"json" => Some(Escape::Json),
            b"none" => Some(Escape::None),
            _ => None,
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Escape::Default => "default",
            Escape::Json => "json",
            Escape::None => "none",
        }
    }
}

/// The predefined `combined` format of nginx.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// Built-in formats tried (in this order, sticking to the last that worked) by the default
/// parser. Names are the ones these formats usually carry in configurations.
pub const DEFAULT_FORMATS: &[(&str, &str)] = &[
    // What our lab and benchmark generator write.
    (
        "main_upstream",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_connect_time $upstream_header_time $upstream_response_time $upstream_addr $upstream_status"#,
    ),
    ("combined", COMBINED),
    // The `main` format of the stock nginx.conf (and of the official Docker image).
    (
        "main",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#,
    ),
    // nginx blog "upstream_time" format (its string concatenation leaves no space before rt=).
    (
        "upstream_time",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time""#,
    ),
    (
        "upstream_time_sp",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time""#,
    ),
    // Kubernetes ingress-nginx `upstreaminfo`.
    (
        "upstreaminfo",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"#,
    ),
    // combined with `$request_time` before the referer (Datadog's sample).
    (
        "combined_rt",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time "$http_referer" "$http_user_agent""#,
    ),
    // Nginx Proxy Manager (OpenResty) `proxy` and `standard` formats.
    (
        "npm_proxy",
        r#"[$time_local] $upstream_cache_status $upstream_status $status - $request_method $scheme $host "$request_uri" [Client $remote_addr] [Length $body_bytes_sent] [Gzip $gzip_ratio] [Sent-to $server] "$http_user_agent" "$http_referer""#,
    ),
    (
        "npm_standard",
        r#"[$time_local] $status - $request_method $scheme $host "$request_uri" [Client $remote_addr] [Length $body_bytes_sent] [Gzip $gzip_ratio] "$http_user_agent" "$http_referer""#,
    ),
    // NCSA common log format.
    (
        "common",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#,
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    RemoteAddr,
    TimeLocal,
    TimeIso,
    Msec,
    Request,
    Method,
    RequestUri,
    Uri,
    Protocol,
    Status,
    BodyBytes,
    BytesSent,
    Referer,
    UserAgent,
    Host,
    ServerName,
    RequestTime,
    UpAddr,
    UpStatus,
    UpConnect,
    UpHeader,
    UpResponse,
    /// Another `$upstream_*` list (response length, bytes...): consumed as a list, ignored.
    UpOther,
    TraceId,
    /// `$http_x_forwarded_for`: the client chain a proxy in front passed on.
    ForwardedFor,
    Other,
}

fn classify(name: &str) -> Var {
    match name {
        "remote_addr" => Var::RemoteAddr,
        "time_local" => Var::TimeLocal,
        "time_iso8601" => Var::TimeIso,
        "msec" => Var::Msec,
        "request" => Var::Request,
        "request_method" => Var::Method,
        "request_uri" => Var::RequestUri,
        "uri" | "document_uri" => Var::Uri,
        "server_protocol" => Var::Protocol,
        "status" => Var::Status,
        "body_bytes_sent" => Var::BodyBytes,
        "bytes_sent" => Var::BytesSent,
        "http_referer" => Var::Referer,
        "http_user_agent" => Var::UserAgent,
        "host" | "http_host" => Var::Host,
        "server_name" => Var::ServerName,
        "request_time" => Var::RequestTime,
        "upstream_addr" => Var::UpAddr,
        "upstream_status" => Var::UpStatus,
        "upstream_connect_time" => Var::UpConnect,
        "upstream_header_time" => Var::UpHeader,
        "upstream_response_time" => Var::UpResponse,
        "request_id" | "http_x_request_id" | "http_x_amzn_trace_id" | "req_id" => Var::TraceId,
        "http_x_forwarded_for" | "proxy_add_x_forwarded_for" => Var::ForwardedFor,
        // `$upstream_cache_status` and friends hold one value, but treating every
        // `$upstream_*` as a list is harmless for single values.
        n if n.starts_with("upstream_") => Var::UpOther,
        _ => Var::Other,
    }
}

/// The variable name as a `&'static str` for [`ParseError::field`] (`"field"` when unknown).
fn static_name(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "remote_addr",
        "remote_user",
        "time_local",
        "time_iso8601",
        "msec",
        "request",
        "request_method",
        "request_uri",
        "uri",
        "document_uri",
        "server_protocol",
        "status",
        "body_bytes_sent",
        "bytes_sent",
        "http_referer",
        "http_user_agent",
        "http_x_forwarded_for",
        "host",
        "http_host",
        "server_name",
        "server_port",
        "scheme",
        "request_time",
        "request_length",
        "upstream_addr",
        "upstream_status",
        "upstream_connect_time",
        "upstream_header_time",
        "upstream_response_time",
        "upstream_response_length",
        "upstream_bytes_received",
        "upstream_bytes_sent",
        "upstream_cache_status",
        "request_id",
        "http_x_request_id",
        "http_x_amzn_trace_id",
        "req_id",
        "proxy_upstream_name",
        "proxy_alternative_upstream_name",
        "gzip_ratio",
        "server",
        "connection",
        "connection_requests",
        "pipe",
        "ssl_protocol",
        "ssl_cipher",
        "args",
        "query_string",
    ];
    NAMES
        .iter()
        .copied()
        .find(|n| *n == name)
        .unwrap_or("field")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delim {
    TimeLocal,
    TimeIso,
    /// Up to the next unescaped `"`.
    Quoted,
    /// Up to the next occurrence of the whole following literal.
    Until,
    /// Like `Until`, but `, ` and ` : ` list separators do not end the value.
    UntilList,
    /// The rest of the line.
    ToEnd,
}

/// A literal with a precomputed word for literals of up to 8 bytes, so that checking it
/// costs a load and a compare instead of a `memcmp` call.
#[derive(Clone, Debug)]
struct Lit {
    bytes: Box<[u8]>,
    word: u64,
    mask: u64,
}

impl Lit {
    fn new(b: Vec<u8>) -> Lit {
        let mut buf = [0u8; 8];
        let n = b.len().min(8);
        buf[..n].copy_from_slice(&b[..n]);
        let mask = if n == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        Lit {
            bytes: b.into_boxed_slice(),
            word: u64::from_le_bytes(buf),
            mask,
        }
    }
    #[inline(always)]
    fn len(&self) -> usize {
        self.bytes.len()
    }
    #[inline(always)]
    fn first(&self) -> Option<u8> {
        self.bytes.first().copied()
    }
    /// Whether `h` starts with this literal.
    #[inline(always)]
    fn at(&self, h: &[u8]) -> bool {
        if self.bytes.len() <= 8 {
            if let Some(w) = h.get(..8) {
                let mut a = [0u8; 8];
                a.copy_from_slice(w);
                return u64::from_le_bytes(a) & self.mask == self.word;
            }
        }
        if self.bytes.len() > h.len() {
            return false;
        }
        if self.bytes.len() <= 8 {
            let mut i = 0;
            while let (Some(a), Some(b)) = (self.bytes.get(i), h.get(i)) {
                if a != b {
                    return false;
                }
                i += 1;
            }
            return true;
        }
        h.starts_with(&self.bytes)
    }
}

/// [`find_closing_quote`] inlined, for the fast path: the usual value has no `\"` in it.
#[inline(always)]
fn closing_quote(b: &[u8]) -> Option<usize> {
    if let [b'-', b'"', ..] = b {
        return Some(1);
    }
    let j = crate::fields::find_byte(b, b'"')?;
    if j > 0 && b.get(j - 1) == Some(&b'\\') {
        return find_closing_quote(b);
    }
    Some(j)
}

/// `-` and empty both mean "not logged" (without a `memcmp` call).
#[inline(always)]
fn dash_empty(b: &[u8]) -> &[u8] {
    if let [b'-'] = b {
        &[]
    } else {
        b
    }
}

#[inline(always)]
fn is_dash(b: &[u8]) -> bool {
    matches!(b, [b'-'])
}

/// `GET /path HTTP/1.1` → (method, target, protocol), like
/// [`crate::fields::split_request_line`] but with byte compares only. Always inlined: called
/// once per line, and a returned triple of slices read back from the stack stalled.
#[inline(always)]
fn split_request_line(b: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let sp1 = match b {
        // the usual methods without a search
        [b'G', b'E', b'T', b' ', ..] => 3,
        [b'P', b'O', b'S', b'T', b' ', ..] | [b'H', b'E', b'A', b'D', b' ', ..] => 4,
        _ => {
            let Some(sp1) = crate::fields::find_byte(b, b' ') else {
                return (&[], b, &[]);
            };
            let method = b.get(..sp1).unwrap_or_default();
            if method.is_empty()
                || !method
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_')
            {
                return (&[], b, &[]);
            }
            sp1
        }
    };
    let method = b.get(..sp1).unwrap_or_default();
    let rest = b.get(sp1 + 1..).unwrap_or_default();
    // the usual ` HTTP/x.y` ending, without a search
    let n = rest.len();
    if let [.., b' ', b'H', b'T', b'T', b'P', b'/', _, _, _] = rest {
        return (
            method,
            rest.get(..n - 9).unwrap_or_default(),
            rest.get(n - 8..).unwrap_or_default(),
        );
    }
    if let Some(sp2) = memrchr(b' ', rest) {
        let proto = rest.get(sp2 + 1..).unwrap_or_default();
        if let [b'H', b'T', b'T', b'P', b'/', ..] = proto {
            return (method, rest.get(..sp2).unwrap_or_default(), proto);
        }
    }
    (method, rest, &[])
}

#[derive(Clone, Debug)]
struct Item {
    var: Var,
    field: &'static str,
    delim: Delim,
    /// The literal that follows the variable (may be empty only for the last item or after a
    /// self-delimiting timestamp).
    lit: Lit,
    /// An `$upstream_status` / `$upstream_*_time` list followed by a space, or quoted
    /// (`uct="$upstream_connect_time"`): found and checked in one pass ([`scan_list`]).
    fused: bool,
}

/// One compiled `log_format`.
#[derive(Clone, Debug)]
struct Compiled {
    name: String,
    lead: Lit,
    items: Vec<Item>,
    /// Whether the format starts with the `combined` fields (`$remote_addr - $remote_user
    /// [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`),
    /// as most real formats do; those eight are then read by straight-line code
    /// ([`Compiled::combined_prefix`]) instead of the item loop: the number of items it reads
    /// (8, or 7 when `$remote_user` is the literal `-`, as inferred formats write it), 0 when
    /// the format does not start that way.
    combined: usize,
    /// After a `combined` prefix, the number of items of the NGINX blog's `key=` timing tail
    /// (` rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time"
    /// urt="$upstream_response_time"`, optionally followed by ` ua="$upstream_addr"
    /// us="$upstream_status"`, ending the format) that [`Compiled::timing_tail`] reads by
    /// straight-line code: 4, 6, or 0 when the format does not end that way.
    tail: usize,
}

/// The `key=` timing tails [`Compiled::timing_tail`] reads: each item's variable, delimiter
/// and following literal.
const TIMING_TAIL: [(Var, Delim, &[u8]); 6] = [
    (Var::RequestTime, Delim::Until, b" uct=\""),
    (Var::UpConnect, Delim::Quoted, b"\" uht=\""),
    (Var::UpHeader, Delim::Quoted, b"\" urt=\""),
    (Var::UpResponse, Delim::Quoted, b"\" ua=\""),
    (Var::UpAddr, Delim::Quoted, b"\" us=\""),
    (Var::UpStatus, Delim::Quoted, b"\""),
];

/// Whether `items` (what follows a `combined` prefix) are exactly a `key=` timing tail: the
/// number of items [`Compiled::timing_tail`] reads (4 or 6), or 0.
fn timing_tail_items(items: &[Item]) -> usize {
    let n = items.len();
    if n != 4 && n != 6 {
        return 0;
    }
    let ok = items.iter().enumerate().all(|(k, it)| {
        let (v, d, l) = TIMING_TAIL[k];
        // the 4-item tail ends with `urt="$upstream_response_time"`
        let l: &[u8] = if n == 4 && k == 3 { b"\"" } else { l };
        it.var == v && it.delim == d && &*it.lit.bytes == l && it.fused == (k != 0 && k != 4)
    });
    if ok {
        n
    } else {
        0
    }
}

/// Whether `items` start with the `combined` layout (the literal after
/// `$http_user_agent` may be anything that starts with `"`): the number of items that
/// [`Compiled::combined_prefix`] reads, or 0. `$remote_user` may be the literal `-` (a
/// format inferred from lines where it always was): `$remote_addr - - [$time_local] ...`.
fn starts_combined(lead: &Lit, items: &[Item]) -> usize {
    const TAIL: [(Var, Delim, &[u8]); 5] = [
        (Var::TimeLocal, Delim::TimeLocal, b"] \""),
        (Var::Request, Delim::Quoted, b"\" "),
        (Var::Status, Delim::Until, b" "),
        (Var::BodyBytes, Delim::Until, b" \""),
        (Var::Referer, Delim::Quoted, b"\" \""),
    ];
    let user: &[(Var, Delim, &[u8])] = &[
        (Var::RemoteAddr, Delim::Until, b" - "),
        (Var::Other, Delim::Until, b" ["),
    ];
    let no_user: &[(Var, Delim, &[u8])] = &[(Var::RemoteAddr, Delim::Until, b" - - [")];
    for head in [user, no_user] {
        let n = head.len() + TAIL.len() + 1;
        let ok = lead.len() == 0
            && items.len() >= n
            && items
                .iter()
                .zip(head.iter().chain(TAIL.iter()))
                .all(|(it, (v, d, l))| it.var == *v && it.delim == *d && &*it.lit.bytes == *l)
            && items
                .get(n - 1)
                .is_some_and(|it| it.var == Var::UserAgent && it.delim == Delim::Quoted);
        if ok {
            return n;
        }
    }
    0
}

/// A parser for one compiled nginx `log_format`.
#[derive(Clone, Debug)]
pub struct NginxAccessParser {
    fmt: Compiled,
    cache: SecondCache,
}

impl NginxAccessParser {
    /// The format's name (`"custom"` for [`compile`]d strings, the built-in name otherwise).
    pub fn name(&self) -> &str {
        &self.fmt.name
    }
    /// Parse one line into a request.
    pub fn parse_request<'a>(&mut self, line: &'a [u8]) -> Result<Request<'a>, ParseError> {
        self.fmt.parse(line, &mut self.cache)
    }
    /// See [`NginxAccessMulti::set_fast_prefix`].
    #[doc(hidden)]
    pub fn set_fast_prefix(&mut self, on: bool) {
        set_fast(&mut self.fmt, on);
    }
}

/// Compile a `log_format` string. A leading `escape=default|json|none ` (as written in the
/// directive, and as [`crate::nginx_conf::ConfLogFormat::option_string`] produces) selects the
/// escaping; default `escape=default`.
pub fn compile(log_format: &str) -> Result<NginxAccessParser, String> {
    let (escape, fmt) = split_escape(log_format)?;
    // positions are those in `log_format`, the `escape=` prefix included
    let skip = log_format.offset(fmt);
    compile_checked(fmt, escape).map_err(|e| e.shifted(log_format, skip).to_string())
}

/// Why a `log_format` does not compile, and where (the byte offset of the offending element
/// in the format, when there is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub why: String,
    pub byte: Option<usize>,
    /// The column (in characters, from 1) of `byte`.
    pub col: usize,
}

impl FormatError {
    fn new(why: impl Into<String>) -> FormatError {
        FormatError {
            why: why.into(),
            byte: None,
            col: 0,
        }
    }
    /// At the position where `rest` (a suffix of `fmt`) starts.
    fn at(why: impl Into<String>, fmt: &str, rest_len: usize) -> FormatError {
        let p = Pos::of(fmt.as_bytes(), rest_len);
        FormatError {
            why: why.into(),
            byte: Some(p.byte),
            col: p.col,
        }
    }
    /// The same error placed in `full`, of which the compiled format was the part from
    /// `skip` on.
    fn shifted(self, full: &str, skip: usize) -> FormatError {
        match self.byte {
            Some(b) => FormatError::at(self.why, full, full.len().saturating_sub(skip + b)),
            None => self,
        }
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.byte {
            Some(b) => write!(f, "{} at byte {b} (column {})", self.why, self.col),
            None => f.write_str(&self.why),
        }
    }
}

impl From<FormatError> for String {
    fn from(e: FormatError) -> String {
        e.to_string()
    }
}

/// Compile a `log_format` string written with the given `escape=` mode, with the error's
/// position kept apart (the nginx configuration reader places it in its file).
pub fn compile_checked(log_format: &str, escape: Escape) -> Result<NginxAccessParser, FormatError> {
    Ok(NginxAccessParser {
        fmt: Compiled::new("custom", log_format, escape)?,
        cache: SecondCache::new(),
    })
}

/// Compile a `log_format` string written with the given `escape=` mode.
pub fn compile_with(log_format: &str, escape: Escape) -> Result<NginxAccessParser, String> {
    Ok(NginxAccessParser {
        fmt: Compiled::new("custom", log_format, escape)?,
        cache: SecondCache::new(),
    })
}

fn split_escape(s: &str) -> Result<(Escape, &str), String> {
    let t = s.trim_start();
    if let Some(rest) = t.strip_prefix("escape=") {
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let esc = Escape::from_bytes(word.as_bytes()).ok_or_else(|| {
            let at = FormatError::at("", s, rest.len());
            format!(
                "log_format: unknown escape=\"{word}\" at byte {} (column {}) (expected default, json or none)",
                at.byte.unwrap_or(0),
                at.col
            )
        })?;
        Ok((esc, rest[end..].trim_start()))
    } else {
        Ok((Escape::Default, s))
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// One piece of a `log_format` string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece<'a> {
    /// Literal text (up to the next `$`).
    Lit(&'a str),
    /// `$name` or `${name}`: the name, and the input from its `$` on (its position).
    Var(&'a str, &'a str),
}

/// A literal run: everything up to the next `$`.
fn lit_piece(i: &str) -> PResult<&str, Piece<'_>> {
    take_while1(|c: char| c != '$').map(Piece::Lit).parse(i)
}

/// `$name` or `${name}` (nginx's variable syntax: letters, digits and `_`).
fn var_piece(i: &str) -> PResult<&str, Piece<'_>> {
    let (after, _) = ch('$').parse(i)?;
    let braced: PResult<&str, char> = ch('{').parse(after);
    let (rest, name) = match braced {
        Ok((inner, _)) => {
            let closed: PResult<&str, &str> =
                terminated(take_while(|c: char| c != '}'), ch('}')).parse(inner);
            match closed {
                Ok(r) => r,
                Err(_) => return fail(i, "missing '}' after '${'"),
            }
        }
        Err(_) => take_while(|c: char| c.is_ascii_alphanumeric() || c == '_').parse(after)?,
    };
    if name.is_empty() || !name.bytes().all(is_name_byte) {
        return fail(i, "invalid variable name after '$'");
    }
    Ok((rest, Piece::Var(name, i)))
}

/// A `log_format` string as literal and variable pieces; all of it is consumed.
fn pieces(fmt: &str) -> Result<Vec<Piece<'_>>, FormatError> {
    all_consuming(many0(alt((lit_piece, var_piece))))
        .parse(fmt)
        .map(|(_, v)| v)
        .map_err(|e| {
            let f = into_fail(e, fmt);
            FormatError::at(format!("log_format: {}", f.why), fmt, f.rest.len())
        })
}

impl Compiled {
    fn new(name: &str, fmt: &str, escape: Escape) -> Result<Compiled, FormatError> {
        let b = fmt.as_bytes();
        if b.iter().all(|c| c.is_ascii_whitespace()) {
            return Err(FormatError::new("log_format is empty"));
        }
        // Split into literal, (var, literal)*.
        let mut lits: Vec<Vec<u8>> = vec![Vec::new()];
        let mut vars: Vec<String> = Vec::new();
        // where each variable's `$` is (bytes left from there)
        let mut var_at: Vec<usize> = Vec::new();
        // where the last double quote of the literals is
        let mut last_quote: Option<usize> = None;
        for piece in pieces(fmt)? {
            match piece {
                Piece::Lit(l) => {
                    if let Some(q) = l.rfind('"') {
                        last_quote = Some(fmt.len() - fmt.offset(l) - q);
                    }
                    if let Some(last) = lits.last_mut() {
                        last.extend_from_slice(l.as_bytes());
                    }
                }
                Piece::Var(v, at) => {
                    vars.push(v.to_string());
                    var_at.push(at.len());
                    lits.push(Vec::new());
                }
            }
        }
        if vars.is_empty() {
            return Err(FormatError::new("log_format has no variables"));
        }
        let quotes: usize = lits
            .iter()
            .map(|l| l.iter().filter(|&&c| c == b'"').count())
            .sum();
        if !quotes.is_multiple_of(2) {
            return Err(FormatError::at(
                format!(
                    "log_format has unbalanced double quotes ({quotes} '\"' in its literals), the last"
                ),
                fmt,
                last_quote.unwrap_or(0),
            ));
        }
        let mut items = Vec::with_capacity(vars.len());
        let nvars = vars.len();
        for (k, vname) in vars.iter().enumerate() {
            let var = classify(vname);
            let lit = lits.get(k + 1).cloned().unwrap_or_default();
            let last = k + 1 == nvars;
            let delim = match var {
                Var::TimeLocal => Delim::TimeLocal,
                Var::TimeIso => Delim::TimeIso,
                _ if lit.is_empty() => {
                    if !last {
                        let other = vars.get(k + 1).map(String::as_str).unwrap_or("");
                        return Err(FormatError::at(
                            format!(
                                "log_format: ${vname} and ${other} are not separated by a \
                                 literal, so they cannot be told apart; ${other}"
                            ),
                            fmt,
                            var_at.get(k + 1).copied().unwrap_or(0),
                        ));
                    }
                    Delim::ToEnd
                }
                _ if lit.first() == Some(&b'"') && escape != Escape::None => Delim::Quoted,
                Var::UpAddr
                | Var::UpStatus
                | Var::UpConnect
                | Var::UpHeader
                | Var::UpResponse
                | Var::UpOther => Delim::UntilList,
                _ => Delim::Until,
            };
            let fused = fusable(var, delim, &lit);
            items.push(Item {
                var,
                field: static_name(vname),
                delim,
                lit: Lit::new(lit),
                fused,
            });
        }
        let lead = Lit::new(lits.first().cloned().unwrap_or_default());
        let combined = starts_combined(&lead, &items);
        let tail = match combined {
            0 => 0,
            n => timing_tail_items(items.get(n..).unwrap_or_default()),
        };
        Ok(Compiled {
            name: name.to_string(),
            combined,
            tail,
            lead,
            items,
        })
    }

    /// The `combined` fields at the start of `line`, read by straight-line code: the position
    /// after the user agent's closing quote and its literal, or `None` when the line is not the
    /// plain case (a virtual host or X-Forwarded-For chain before the address, a `$remote_user`
    /// other than `-`, a malformed field...). `None` is not an error: the item loop then
    /// parses the whole line and reports exactly what is wrong. On `Some`, `req` holds what
    /// the item loop would have put there (the fuzz target checks that the two agree).
    #[inline]
    fn combined_prefix<'a>(
        &self,
        line: &'a [u8],
        req: &mut Request<'a>,
        cache: &mut SecondCache,
    ) -> Option<usize> {
        // $remote_addr - $remote_user [
        let sp = crate::fields::find_byte(line, b' ')?;
        let client = line.get(..sp)?;
        let rest = line.get(sp..)?;
        if !rest.starts_with(b" - - [") {
            return None;
        }
        req.client = dash_empty(client);
        let mut pos = sp + 6;
        // $time_local] "
        pos += cache.clf_into(line.get(pos..)?, &mut req.ts)?;
        if !line.get(pos..)?.starts_with(b"] \"") {
            return None;
        }
        pos += 3;
        // $request" $status $body_bytes_sent "
        let rest = line.get(pos..)?;
        let q = closing_quote(rest)?;
        let v = rest.get(..q)?;
        req.request_line = v;
        let (m, p, proto) = split_request_line(v);
        req.method = m;
        req.path = p;
        req.protocol = proto;
        pos += q;
        let rest = line.get(pos..)?;
        let [b'"', b' ', d0, d1, d2, b' ', ..] = *rest else {
            return None;
        };
        // `parse_status` of three bytes, inline
        let (d0, d1, d2) = (
            d0.wrapping_sub(b'0'),
            d1.wrapping_sub(b'0'),
            d2.wrapping_sub(b'0'),
        );
        if d0 > 9 || d1 > 9 || d2 > 9 {
            return None;
        }
        req.status = d0 as u16 * 100 + d1 as u16 * 10 + d2 as u16;
        pos += 6;
        let rest = line.get(pos..)?;
        // digits, summed as they are counted (19 cannot overflow; more go to parse_u64)
        let mut n = 0;
        let mut v: u64 = 0;
        while let Some(&c) = rest.get(n) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.wrapping_mul(10).wrapping_add(d as u64);
            n += 1;
        }
        if n > 19 {
            v = parse_u64(rest.get(..n)?)?;
        }
        if n > 0 {
            req.bytes_sent = Some(v);
        } else if rest.first() == Some(&b'-') {
            pos += 1;
        } else {
            return None;
        }
        pos += n;
        if !line.get(pos..)?.starts_with(b" \"") {
            return None;
        }
        pos += 2;
        // $http_referer" "$http_user_agent" + literal
        let rest = line.get(pos..)?;
        let q = closing_quote(rest)?;
        req.referer = dash_empty(rest.get(..q)?);
        pos += q;
        if !line.get(pos..)?.starts_with(b"\" \"") {
            return None;
        }
        pos += 3;
        let rest = line.get(pos..)?;
        let q = closing_quote(rest)?;
        req.user_agent = dash_empty(rest.get(..q)?);
        pos += q;
        let ua = self.items.get(self.combined.checked_sub(1)?)?;
        if !ua.lit.at(line.get(pos..)?) {
            return None;
        }
        Some(pos + ua.lit.len())
    }

    /// The `key=` timing tail (see [`Compiled::tail`]) from `pos` (just after
    /// `$http_user_agent` and its literal) to the end of `line`, read by straight-line code:
    /// `Some` when the whole rest of the line is the plain case, with `req` holding what the
    /// item loop would have put there; `None` (a `\"` in the address, a bad byte in a list, a
    /// missing literal, trailing bytes...) is not an error: the item loop then reads the tail
    /// and says what is wrong.
    #[inline(always)]
    fn timing_tail<'a>(&self, line: &'a [u8], pos: usize, req: &mut Request<'a>) -> Option<()> {
        // rt=$request_time: digits and dots up to ` uct="` (so that literal's first
        // occurrence is where the run ends)
        let rest = line.get(pos..)?;
        let n = value_run(rest);
        let v = rest.get(..n)?;
        let rest = rest.get(n..)?;
        if !rest.starts_with(b" uct=\"") {
            return None;
        }
        if !is_dash(v) && !v.is_empty() {
            req.request_time_us = Some(crate::time::parse_secs_us_inline(v)?);
        }
        // uct="$upstream_connect_time" uht="$upstream_header_time" urt="..."
        let rest = rest.get(6..)?;
        let n = scan_list(rest, true, b'"')?;
        req.upstream_connect_time = dash_empty(rest.get(..n)?);
        let rest = rest.get(n..)?;
        if !rest.starts_with(b"\" uht=\"") {
            return None;
        }
        let rest = rest.get(7..)?;
        let n = scan_list(rest, true, b'"')?;
        req.upstream_header_time = dash_empty(rest.get(..n)?);
        let rest = rest.get(n..)?;
        if !rest.starts_with(b"\" urt=\"") {
            return None;
        }
        let rest = rest.get(7..)?;
        let n = scan_list(rest, true, b'"')?;
        req.upstream_response_time = dash_empty(rest.get(..n)?);
        let rest = rest.get(n..)?;
        if self.tail == 4 {
            return (rest == b"\"").then_some(());
        }
        // ua="$upstream_addr" us="$upstream_status"
        if !rest.starts_with(b"\" ua=\"") {
            return None;
        }
        let rest = rest.get(6..)?;
        let q = closing_quote(rest)?;
        req.upstream_addr = dash_empty(rest.get(..q)?);
        let rest = rest.get(q..)?;
        if !rest.starts_with(b"\" us=\"") {
            return None;
        }
        let rest = rest.get(6..)?;
        let n = scan_list(rest, false, b'"')?;
        req.upstream_status = dash_empty(rest.get(..n)?);
        (rest.get(n..)? == b"\"").then_some(())
    }

    fn parse<'a>(
        &self,
        line: &'a [u8],
        cache: &mut SecondCache,
    ) -> Result<Request<'a>, ParseError> {
        let mut req = Request::default();
        self.parse_into(line, cache, &mut req)?;
        Ok(req)
    }

    /// Parse `line` into `req`, which must be `Request::default()` on entry (written in place:
    /// the record is not copied on its way to the caller).
    fn parse_into<'a>(
        &self,
        line: &'a [u8],
        cache: &mut SecondCache,
        req: &mut Request<'a>,
    ) -> Result<(), ParseError> {
        let fast = match self.combined {
            0 => None,
            _ => self.combined_prefix(line, req, cache),
        };
        let (mut pos, items) = match fast {
            Some(pos) if self.tail != 0 => {
                if self.timing_tail(line, pos, req).is_some() {
                    return Ok(());
                }
                // the item loop reads the tail again and says what is wrong with it
                req.request_time_us = None;
                req.upstream_connect_time = &[];
                req.upstream_header_time = &[];
                req.upstream_response_time = &[];
                req.upstream_addr = &[];
                req.upstream_status = &[];
                (pos, self.items.get(self.combined..).unwrap_or_default())
            }
            Some(pos) => (pos, self.items.get(self.combined..).unwrap_or_default()),
            None => {
                if self.combined != 0 {
                    // the fast path may have filled some fields before it gave up
                    *req = Request::default();
                }
                if !self.lead.at(line) {
                    return Err(ParseError::new(ErrorKind::Expected("literal"), "line", 0));
                }
                (self.lead.len(), &self.items[..])
            }
        };
        for it in items {
            let rest = line.get(pos..).unwrap_or_default();
            if it.fused {
                let quoted = it.delim == Delim::Quoted;
                let end = if quoted { b'"' } else { b' ' };
                if let Some(n) = scan_list(rest, it.var != Var::UpStatus, end) {
                    // a quoted list: its literal starts with the closing quote
                    if !quoted || it.lit.at(rest.get(n..).unwrap_or_default()) {
                        let v = dash_empty(rest.get(..n).unwrap_or_default());
                        match it.var {
                            Var::UpStatus => req.upstream_status = v,
                            Var::UpConnect => req.upstream_connect_time = v,
                            Var::UpHeader => req.upstream_header_time = v,
                            _ => req.upstream_response_time = v,
                        }
                        pos += n + it.lit.len();
                        continue;
                    }
                }
            }
            let len = match it.delim {
                Delim::TimeLocal => {
                    let (ts, used) = cache
                        .clf(rest)
                        .ok_or_else(|| ParseError::invalid(it.field, pos))?;
                    req.ts = ts;
                    used
                }
                Delim::TimeIso => {
                    let (ts, used) = cache
                        .iso8601(rest)
                        .ok_or_else(|| ParseError::invalid(it.field, pos))?;
                    req.ts = ts;
                    used
                }
                Delim::Quoted => {
                    closing_quote(rest).ok_or_else(|| ParseError::truncated(it.field, pos))?
                }
                Delim::Until => find_lit(rest, &it.lit, false)
                    .ok_or_else(|| ParseError::truncated(it.field, pos))?,
                Delim::UntilList => find_lit(rest, &it.lit, true)
                    .ok_or_else(|| ParseError::truncated(it.field, pos))?,
                Delim::ToEnd => rest.len(),
            };
            let value = rest.get(..len).unwrap_or_default();
            let after = rest.get(len..).unwrap_or_default();
            if !it.lit.at(after) {
                return Err(if after.is_empty() {
                    ParseError::truncated(it.field, pos + len)
                } else {
                    ParseError::expected("literal", it.field, pos + len)
                });
            }
            assign(req, it.var, value, it.field, pos)?;
            pos += len + it.lit.len();
        }
        if pos != line.len() {
            return Err(ParseError::new(ErrorKind::Trailing, "line", pos));
        }
        Ok(())
    }
}

/// Position of the first occurrence of `lit` (non-empty) in `hay`; with `list`, an occurrence
/// that is part of a `, ` or ` : ` list separator is skipped.
#[inline(always)]
fn find_lit(hay: &[u8], lit: &Lit, list: bool) -> Option<usize> {
    let first = lit.first()?;
    if lit.len() == 1 {
        if !list || first != b' ' {
            return crate::fields::find_byte(hay, first);
        }
        return find_list_space(hay);
    }
    if !list {
        // the usual case inline: the first `first` starts the literal (` uct="` after
        // `rt=0.127`); else the search below starts over
        let j = crate::fields::find_byte(hay, first)?;
        if lit.at(hay.get(j..)?) {
            return Some(j);
        }
    }
    find_long_lit(hay, lit, list, first)
}

/// [`find_lit`] for literals of two bytes or more.
#[inline(never)]
fn find_long_lit(hay: &[u8], lit: &Lit, list: bool, first: u8) -> Option<usize> {
    let mut i = 0;
    loop {
        let j = i + crate::fields::find_byte(hay.get(i..)?, first)?;
        let at = hay.get(j..)?;
        if lit.at(at) {
            if list {
                if let [b' ', b':', b' ', ..] = at {
                    i = j + 3;
                    continue;
                }
                if first == b' ' && j > 0 && hay.get(j - 1) == Some(&b',') {
                    i = j + 1;
                    continue;
                }
            }
            return Some(j);
        }
        i = j + 1;
    }
}

/// The end of an `$upstream_*` list followed by a space: the first space that is not part of
/// a `, ` or ` : ` separator.
#[inline]
fn find_list_space(hay: &[u8]) -> Option<usize> {
    let mut j = 0;
    loop {
        let k = j + crate::fields::find_byte(hay.get(j..)?, b' ')?;
        match hay.get(k + 1..k + 3) {
            Some(b": ") => j = k + 3,
            _ if k > 0 && hay.get(k - 1) == Some(&b',') => j = k + 1,
            _ => return Some(k),
        }
    }
}

/// Whether an item is read by [`scan_list`]: a list that a space ends, or a quoted one.
fn fusable(var: Var, delim: Delim, lit: &[u8]) -> bool {
    ((delim == Delim::UntilList && lit == b" ")
        || (delim == Delim::Quoted && lit.first() == Some(&b'"')))
        && matches!(
            var,
            Var::UpStatus | Var::UpConnect | Var::UpHeader | Var::UpResponse
        )
}

/// Turn the fast paths of a compiled format on or off.
fn set_fast(f: &mut Compiled, on: bool) {
    f.combined = if on {
        starts_combined(&f.lead, &f.items)
    } else {
        0
    };
    for it in &mut f.items {
        it.fused = on && fusable(it.var, it.delim, &it.lit.bytes);
    }
    f.tail = match f.combined {
        0 => 0,
        n => timing_tail_items(f.items.get(n..).unwrap_or_default()),
    };
}

/// One pass over an `$upstream_status` (`times == false`) or `$upstream_*_time` list that
/// `end` ends (a space, or the closing `"` of a quoted list): the position of that byte when
/// every byte before it is valid, as [`find_list_space`] (or [`find_closing_quote`]) followed
/// by [`checked_list`] would find. `None` (a bad byte, the end of the line) leaves it to
/// those two, which say what is wrong.
#[inline(always)]
fn scan_list(hay: &[u8], times: bool, end: u8) -> Option<usize> {
    let mut j = 0;
    loop {
        // a run of value bytes, eight at a time (a time such as `0.246` is one word)
        while let Some(w) = crate::fields::word_at(hay, j) {
            let bad = crate::fields::not_list_value(w, times);
            if bad != 0 {
                j += (bad.trailing_zeros() / 8) as usize;
                break;
            }
            j += 8;
        }
        // tests in order of likelihood, not a `match` (its jump table mispredicted)
        let c = *hay.get(j)?;
        if c == b' ' {
            if hay.get(j + 1..j + 3) == Some(b": ") {
                j += 3;
                continue;
            }
            if end == b' ' {
                return Some(j);
            }
            return None;
        }
        if c == end {
            return Some(j);
        }
        if c.is_ascii_digit() || c == b'-' || (times && c == b'.') {
            j += 1; // the last few bytes, after the words
        } else if c == b',' && hay.get(j + 1) == Some(&b' ') {
            j += 2;
        } else {
            return None;
        }
    }
}

/// The length of the run of digits, `.` and `-` at the start of `hay` (eight bytes at a
/// time, as [`scan_list`]).
#[inline(always)]
fn value_run(hay: &[u8]) -> usize {
    let mut j = 0;
    while let Some(w) = crate::fields::word_at(hay, j) {
        let bad = crate::fields::not_list_value(w, true);
        if bad != 0 {
            return j + (bad.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while let Some(&c) = hay.get(j) {
        if !(c.is_ascii_digit() || c == b'-' || c == b'.') {
            break;
        }
        j += 1;
    }
    j
}

#[inline]
fn assign<'a>(
    req: &mut Request<'a>,
    var: Var,
    v: &'a [u8],
    field: &'static str,
    pos: usize,
) -> Result<(), ParseError> {
    match var {
        Var::RemoteAddr => set_client(req, v),
        Var::TimeLocal | Var::TimeIso => {}
        Var::Msec => {
            if !is_dash(v) {
                req.ts = parse_epoch(v).ok_or_else(|| ParseError::invalid(field, pos))?;
            }
        }
        Var::Request => {
            req.request_line = v;
            let (m, p, proto) = split_request_line(v);
            if req.method.is_empty() {
                req.method = m;
            }
            if req.path.is_empty() {
                req.path = p;
            }
            if req.protocol.is_empty() {
                req.protocol = proto;
            }
        }
        Var::Method => req.method = dash_empty(v),
        Var::RequestUri => req.path = dash_empty(v),
        Var::Uri => {
            if req.path.is_empty() {
                req.path = dash_empty(v)
            }
        }
        Var::Protocol => req.protocol = dash_empty(v),
        Var::Status => {
            req.status = parse_status(v).ok_or_else(|| ParseError::invalid(field, pos))?
        }
        Var::BodyBytes => req.bytes_sent = opt_u64(v, field, pos)?,
        Var::BytesSent => {
            let b = opt_u64(v, field, pos)?;
            if req.bytes_sent.is_none() {
                req.bytes_sent = b;
            }
        }
        Var::Referer => req.referer = dash_empty(v),
        Var::UserAgent => req.user_agent = dash_empty(v),
        Var::Host => req.host = dash_empty(v),
        Var::ServerName => {
            if req.host.is_empty() {
                req.host = dash_empty(v)
            }
        }
        Var::RequestTime => {
            if !is_dash(v) && !v.is_empty() {
                req.request_time_us =
                    Some(parse_secs_us(v).ok_or_else(|| ParseError::invalid(field, pos))?);
            }
        }
        Var::UpAddr => req.upstream_addr = dash_empty(v),
        Var::UpStatus => req.upstream_status = checked_list(v, false, field, pos)?,
        Var::UpConnect => req.upstream_connect_time = checked_list(v, true, field, pos)?,
        Var::UpHeader => req.upstream_header_time = checked_list(v, true, field, pos)?,
        Var::UpResponse => req.upstream_response_time = checked_list(v, true, field, pos)?,
        Var::TraceId => {
            let v = dash_empty(v);
            if !v.is_empty() {
                req.trace_id = v;
            }
        }
        Var::ForwardedFor => req.forwarded_for = dash_empty(v),
        Var::UpOther | Var::Other => {}
    }
    Ok(())
}

/// Check an `$upstream_status` (`times == false`) or `$upstream_*_time` list: entries of
/// digits (and `.` for times) or `-`, separated by `, ` or ` : `. `-` alone becomes empty.
#[inline]
fn checked_list<'a>(
    v: &'a [u8],
    times: bool,
    field: &'static str,
    pos: usize,
) -> Result<&'a [u8], ParseError> {
    let mut i = 0;
    while let Some(&c) = v.get(i) {
        match c {
            b'0'..=b'9' | b'-' => i += 1,
            b'.' if times => i += 1,
            b',' if v.get(i + 1) == Some(&b' ') => i += 2,
            b' ' if v.get(i + 1) == Some(&b':') && v.get(i + 2) == Some(&b' ') => i += 3,
            _ => return Err(ParseError::invalid(field, pos + i)),
        }
    }
    Ok(dash_empty(v))
}

#[inline]
fn opt_u64(v: &[u8], field: &'static str, pos: usize) -> Result<Option<u64>, ParseError> {
    if is_dash(v) || v.is_empty() {
        return Ok(None);
    }
    parse_u64(v)
        .map(Some)
        .ok_or_else(|| ParseError::invalid(field, pos))
}

/// `$remote_addr` is one address, but logs that prepend a virtual host
/// (`example.com 1.2.3.4`) or an X-Forwarded-For chain (`10.0.0.2, 10.0.0.1, 1.2.3.4`) to it
/// still match formats whose `$remote_addr` is followed by ` - `. The client is then the last
/// address; a single leading word without comma or quote is taken as the host.
#[inline]
fn set_client<'a>(req: &mut Request<'a>, v: &'a [u8]) {
    let v = dash_empty(v);
    // an address is short: a plain backward scan for a space
    let sp = if v.len() <= 48 {
        v.iter().rposition(|&c| c == b' ')
    } else {
        memrchr(b' ', v)
    };
    match sp {
        None => req.client = v,
        Some(sp) => {
            let last = v.get(sp + 1..).unwrap_or_default();
            let head = v.get(..sp).unwrap_or_default();
            req.client = trim_list(last);
            if req.host.is_empty()
                && !head.is_empty()
                && !head.iter().any(|&c| c == b' ' || c == b',' || c == b'"')
            {
                req.host = head;
            }
        }
    }
}

fn trim_list(mut b: &[u8]) -> &[u8] {
    while let [b'"' | b',' | b' ', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b'"' | b',' | b' '] = b {
        b = rest;
    }
    b
}

// ---------------------------------------------------------------------------------------------
// JSON lines (`log_format x escape=json '{...}'`).

#[derive(Clone, Copy, PartialEq, Eq)]
enum JKey {
    TimeLocal,
    TimeIso,
    TimeAny,
    Msec,
    Client,
    ClientAlt,
    Request,
    Method,
    Path,
    PathAlt,
    Protocol,
    Status,
    Bytes,
    BytesAlt,
    Referer,
    UserAgent,
    Host,
    HostAlt,
    RequestTime,
    UpAddr,
    UpStatus,
    UpConnect,
    UpHeader,
    UpResponse,
    Trace,
    Skip,
}

fn json_key(k: &[u8]) -> JKey {
    match k {
        b"time_local" => JKey::TimeLocal,
        b"time_iso8601" => JKey::TimeIso,
        b"time" | b"@timestamp" | b"timestamp" | b"ts" | b"date" | b"datetime" => JKey::TimeAny,
        b"msec" => JKey::Msec,
        b"remote_addr" => JKey::Client,
        b"ip" | b"client" | b"client_ip" | b"clientip" | b"remote_ip" | b"realip_remote_addr" => {
            JKey::ClientAlt
        }
        b"request" | b"request_line" => JKey::Request,
        b"request_method" | b"method" | b"verb" => JKey::Method,
        b"request_uri" => JKey::Path,
        b"uri" | b"path" | b"url" | b"document_uri" => JKey::PathAlt,
        b"server_protocol" | b"protocol" | b"http_version" => JKey::Protocol,
        b"status" | b"status_code" | b"response_status" | b"response" => JKey::Status,
        b"body_bytes_sent" => JKey::Bytes,
        b"bytes_sent" | b"bytes" | b"size" | b"response_size" => JKey::BytesAlt,
        b"http_referer" | b"referer" | b"referrer" | b"http_referrer" => JKey::Referer,
        b"http_user_agent" | b"user_agent" | b"agent" | b"useragent" | b"ua" => JKey::UserAgent,
        b"host" | b"http_host" | b"vhost" => JKey::Host,
        b"server_name" => JKey::HostAlt,
        b"request_time" | b"rt" | b"duration" | b"response_time" => JKey::RequestTime,
        b"upstream_addr" | b"upstream" => JKey::UpAddr,
        b"upstream_status" => JKey::UpStatus,
        b"upstream_connect_time" | b"uct" => JKey::UpConnect,
        b"upstream_header_time" | b"uht" => JKey::UpHeader,
        b"upstream_response_time" | b"urt" => JKey::UpResponse,
        b"request_id"
        | b"http_x_request_id"
        | b"http_x_amzn_trace_id"
        | b"req_id"
        | b"trace_id"
        | b"x_request_id"
        | b"requestid" => JKey::Trace,
        _ => JKey::Skip,
    }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// Skip a nested object or array starting at `b[i]` (`{` or `[`); returns the index after it.
fn skip_nested(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *b.get(i)? {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i += 1 + find_closing_quote(b.get(i + 1..)?)?;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Parse a line holding one flat JSON object whose keys are nginx variable names or common
/// aliases. String values are kept raw (still JSON-escaped).
pub fn parse_json_line<'a>(
    line: &'a [u8],
    cache: &mut SecondCache,
) -> Result<Request<'a>, ParseError> {
    let mut req = Request::default();
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return Err(ParseError::not_this_format(i));
    }
    i += 1;
    let mut have_status = false;
    let mut client_prio = 0u8;
    let mut path_prio = 0u8;
    let mut host_prio = 0u8;
    let mut bytes_prio = 0u8;
    let mut first = true;
    loop {
        i = skip_ws(line, i);
        match line.get(i) {
            Some(b'}') if first => {
                i += 1;
                break;
            }
            Some(b'"') => {}
            None => return Err(ParseError::truncated("json", i)),
            _ => return Err(ParseError::expected("\"", "json", i)),
        }
        first = false;
        let kstart = i + 1;
        let klen = find_closing_quote(line.get(kstart..).unwrap_or_default())
            .ok_or_else(|| ParseError::truncated("json", kstart))?;
        let key = line.get(kstart..kstart + klen).unwrap_or_default();
        i = skip_ws(line, kstart + klen + 1);
        if line.get(i) != Some(&b':') {
            return Err(ParseError::expected(":", "json", i));
        }
        i = skip_ws(line, i + 1);
        let vpos = i;
        let (value, is_null) = match line.get(i) {
            Some(b'"') => {
                let vlen = find_closing_quote(line.get(i + 1..).unwrap_or_default())
                    .ok_or_else(|| ParseError::truncated("json", i))?;
                let v = line.get(i + 1..i + 1 + vlen).unwrap_or_default();
                i += vlen + 2;
                (v, false)
            }
            Some(b'{' | b'[') => {
                i = skip_nested(line, i).ok_or_else(|| ParseError::truncated("json", vpos))?;
                (&[][..], true)
            }
            Some(_) => {
                let start = i;
                while let Some(&c) = line.get(i) {
                    if matches!(c, b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    i += 1;
                }
                let v = line.get(start..i).unwrap_or_default();
                if v.is_empty() {
                    return Err(ParseError::invalid("json", start));
                }
                let null = v == b"null" || v == b"true" || v == b"false";
                (if null { &[][..] } else { v }, null)
            }
            None => return Err(ParseError::truncated("json", i)),
        };
        if !is_null {
            json_assign(
                &mut req,
                json_key(key),
                value,
                vpos,
                cache,
                &mut have_status,
                &mut client_prio,
                &mut path_prio,
                &mut host_prio,
                &mut bytes_prio,
            )?;
        }
        i = skip_ws(line, i);
        match line.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            None => return Err(ParseError::truncated("json", i)),
            _ => return Err(ParseError::expected(",", "json", i)),
        }
    }
    i = skip_ws(line, i);
    if i != line.len() {
        return Err(ParseError::new(ErrorKind::Trailing, "line", i));
    }
    if !have_status {
        return Err(ParseError::truncated("status", line.len()));
    }
    Ok(req)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn json_assign<'a>(
    req: &mut Request<'a>,
    key: JKey,
    v: &'a [u8],
    pos: usize,
    cache: &mut SecondCache,
    have_status: &mut bool,
    client_prio: &mut u8,
    path_prio: &mut u8,
    host_prio: &mut u8,
    bytes_prio: &mut u8,
) -> Result<(), ParseError> {
    let v = dash_empty(v);
    if v.is_empty() {
        return Ok(());
    }
    match key {
        JKey::TimeLocal => {
            req.ts = cache
                .clf(v)
                .filter(|(_, u)| *u == v.len())
                .map(|(t, _)| t)
                .ok_or_else(|| ParseError::invalid("time_local", pos))?
        }
        JKey::TimeIso => {
            req.ts = cache
                .iso8601(v)
                .filter(|(_, u)| *u == v.len())
                .map(|(t, _)| t)
                .ok_or_else(|| ParseError::invalid("time_iso8601", pos))?
        }
        JKey::TimeAny => {
            req.ts = any_time(v, cache).ok_or_else(|| ParseError::invalid("time", pos))?;
        }
        JKey::Msec => req.ts = parse_epoch(v).ok_or_else(|| ParseError::invalid("msec", pos))?,
        JKey::Client => {
            *client_prio = 2;
            set_client(req, v);
        }
        JKey::ClientAlt => {
            if *client_prio < 1 {
                *client_prio = 1;
                set_client(req, v);
            }
        }
        JKey::Request => {
            req.request_line = v;
            let (m, p, proto) = split_request_line(v);
            if req.method.is_empty() {
                req.method = m;
            }
            if *path_prio < 1 {
                *path_prio = 1;
                req.path = p;
            }
            if req.protocol.is_empty() {
                req.protocol = proto;
            }
        }
        JKey::Method => req.method = v,
        JKey::Path => {
            *path_prio = 3;
            req.path = v;
        }
        JKey::PathAlt => {
            if *path_prio < 2 {
                *path_prio = 2;
                req.path = v;
            }
        }
        JKey::Protocol => req.protocol = v,
        JKey::Status => {
            req.status = parse_status(v).ok_or_else(|| ParseError::invalid("status", pos))?;
            *have_status = true;
        }
        JKey::Bytes => {
            *bytes_prio = 2;
            req.bytes_sent =
                Some(parse_u64(v).ok_or_else(|| ParseError::invalid("body_bytes_sent", pos))?);
        }
        JKey::BytesAlt => {
            if *bytes_prio < 1 {
                *bytes_prio = 1;
                req.bytes_sent = parse_u64(v);
            }
        }
        JKey::Referer => req.referer = v,
        JKey::UserAgent => req.user_agent = v,
        JKey::Host => {
            *host_prio = 2;
            req.host = v;
        }
        JKey::HostAlt => {
            if *host_prio < 1 {
                *host_prio = 1;
                req.host = v;
            }
        }
        JKey::RequestTime => {
            req.request_time_us =
                Some(parse_secs_us(v).ok_or_else(|| ParseError::invalid("request_time", pos))?)
        }
        JKey::UpAddr => req.upstream_addr = v,
        JKey::UpStatus => req.upstream_status = v,
        JKey::UpConnect => req.upstream_connect_time = v,
        JKey::UpHeader => req.upstream_header_time = v,
        JKey::UpResponse => req.upstream_response_time = v,
        JKey::Trace => req.trace_id = v,
        JKey::Skip => {}
    }
    Ok(())
}

/// A timestamp in any of the shapes nginx JSON logs use: ISO 8601, `$time_local`, epoch
/// seconds with fraction, or epoch milliseconds.
fn any_time(v: &[u8], cache: &mut SecondCache) -> Option<Ts> {
    if v.get(4) == Some(&b'-') {
        return cache
            .iso8601(v)
            .filter(|(_, u)| *u == v.len())
            .map(|(t, _)| t);
    }
    if v.get(2) == Some(&b'/') {
        return cache.clf(v).filter(|(_, u)| *u == v.len()).map(|(t, _)| t);
    }
    if let Some(ts) = parse_epoch(v) {
        return Some(ts);
    }
    if v.len() == 13 {
        let ms = parse_u64(v)? as i64;
        return Some(Ts::new(ms * 1000, Some(0)));
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The multi-format parser.

/// Tries several compiled formats (the last one that worked first) and reads JSON lines.
#[derive(Clone, Debug)]
pub struct NginxAccessMulti {
    formats: Vec<Compiled>,
    last: usize,
    /// Whether some text format starts with `{` (then JSON is only the fallback).
    text_json: bool,
    cache: SecondCache,
}

impl NginxAccessMulti {
    /// The built-in default formats ([`DEFAULT_FORMATS`]) plus JSON lines.
    pub fn defaults() -> NginxAccessMulti {
        let formats = DEFAULT_FORMATS
            .iter()
            .filter_map(|(n, f)| Compiled::new(n, f, Escape::Default).ok())
            .collect();
        Self::from_compiled(formats)
    }

    /// Several `log_format` strings (each may start with `escape=...`), plus JSON lines.
    pub fn new(formats: &[String]) -> Result<NginxAccessMulti, String> {
        let mut out = Vec::with_capacity(formats.len());
        for (k, f) in formats.iter().enumerate() {
            let (esc, body) = split_escape(f)?;
            out.push(Compiled::new(&format!("format{}", k + 1), body, esc)?);
        }
        Ok(Self::from_compiled(out))
    }

    fn from_compiled(formats: Vec<Compiled>) -> NginxAccessMulti {
        let text_json = formats.iter().any(|f| f.lead.first() == Some(b'{'));
        NginxAccessMulti {
            formats,
            last: 0,
            text_json,
            cache: SecondCache::new(),
        }
    }

    /// Turn the fast paths (the straight-line reading of `combined`-prefixed formats, the
    /// one-pass reading of upstream lists) on or off (on by default). Off, every line goes
    /// through the generic item loop: the fuzz target and the
    /// tests parse each input both ways and require the same result.
    #[doc(hidden)]
    pub fn set_fast_prefix(&mut self, on: bool) {
        for f in &mut self.formats {
            set_fast(f, on);
        }
    }

    /// Name of the format that parsed the last successful line (`"json"` for JSON lines is not
    /// tracked; this is the last text format).
    pub fn current_format(&self) -> Option<&str> {
        self.formats.get(self.last).map(|f| f.name.as_str())
    }

    /// Parse one line into a request.
    pub fn parse_request<'a>(&mut self, line: &'a [u8]) -> Result<Request<'a>, ParseError> {
        let mut req = Request::default();
        self.parse_into(line, &mut req)?;
        Ok(req)
    }

    /// Parse one line into `req` (`Request::default()` on entry). The usual line (the
    /// format of the line before) is inlined into the caller; the others are not.
    #[inline(always)]
    fn parse_into<'a>(&mut self, line: &'a [u8], req: &mut Request<'a>) -> Result<(), ParseError> {
        if !self.text_json && line.first() == Some(&b'{') {
            return self.parse_json_into(line, req);
        }
        let best = match self.formats.get(self.last) {
            Some(f) => match f.parse_into(line, &mut self.cache, req) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
            None => ParseError::not_this_format(0),
        };
        self.parse_other_formats(line, req, best)
    }

    #[inline(never)]
    fn parse_json_into<'a>(
        &mut self,
        line: &'a [u8],
        req: &mut Request<'a>,
    ) -> Result<(), ParseError> {
        *req = parse_json_line(line, &mut self.cache)?;
        Ok(())
    }

    /// [`NginxAccessMulti::parse_into`] of a line that the last format did not read (`best`:
    /// its error): the other formats in turn, then JSON.
    #[inline(never)]
    fn parse_other_formats<'a>(
        &mut self,
        line: &'a [u8],
        req: &mut Request<'a>,
        mut best: ParseError,
    ) -> Result<(), ParseError> {
        let last = self.last;
        for (k, f) in self.formats.iter().enumerate() {
            if k == last {
                continue;
            }
            *req = Request::default();
            match f.parse_into(line, &mut self.cache, req) {
                Ok(()) => {
                    self.last = k;
                    return Ok(());
                }
                Err(e) => {
                    if e.pos > best.pos {
                        best = e;
                    }
                }
            }
        }
        if line.first() == Some(&b'{') {
            if let Ok(r) = parse_json_line(line, &mut self.cache) {
                *req = r;
                return Ok(());
            }
        }
        Err(best)
    }
}

fn blank(line: &[u8]) -> bool {
    line.iter().all(|c| c.is_ascii_whitespace())
}

impl LineParser for NginxAccessMulti {
    fn format(&self) -> Format {
        Format::NginxAccess
    }
    #[inline]
    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        match self.parse_request(rec) {
            Ok(r) => Ok(Record::Request(r)),
            Err(e) if blank(rec) => {
                let _ = e;
                Ok(Record::Ignored)
            }
            Err(e) => Err(e),
        }
    }
    /// The record is written where the callback receives it, not built and then moved.
    #[inline]
    fn parse_each<'a>(
        &mut self,
        rec: &'a [u8],
        out: &mut dyn FnMut(&Result<Record<'a>, ParseError>),
    ) {
        let mut res = Ok(Record::Request(Request::default()));
        if let Ok(Record::Request(req)) = &mut res {
            if let Err(e) = self.parse_into(rec, req) {
                res = if blank(rec) {
                    Ok(Record::Ignored)
                } else {
                    Err(e)
                };
            }
        }
        out(&res)
    }
    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

impl LineParser for NginxAccessParser {
    fn format(&self) -> Format {
        Format::NginxAccess
    }
    #[inline]
    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        match self.parse_request(rec) {
            Ok(r) => Ok(Record::Request(r)),
            Err(_) if blank(rec) => Ok(Record::Ignored),
            Err(e) => Err(e),
        }
    }
    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

/// Build an nginx-access parser from `log_format` strings (empty: the defaults). Each string
/// may start with `escape=json` / `escape=none`. JSON lines are read in any case.
pub fn build(formats: &[String]) -> Result<Box<dyn LineParser>, String> {
    if formats.is_empty() {
        Ok(Box::new(NginxAccessMulti::defaults()))
    } else {
        Ok(Box::new(NginxAccessMulti::new(formats)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(p: &mut NginxAccessMulti, l: &'a [u8]) -> Request<'a> {
        match p.parse_request(l) {
            Ok(r) => r,
            Err(e) => panic!("{} on {:?}", e, String::from_utf8_lossy(l)),
        }
    }

    #[test]
    fn defaults_compile() {
        for (n, f) in DEFAULT_FORMATS {
            Compiled::new(n, f, Escape::Default).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }

    /// The NGINX blog's `key=` timing layout takes the fast paths: the `combined` prefix (also
    /// when inferred with the literal `- -` for `$remote_user`) and one-pass quoted lists.
    #[test]
    fn key_timing_layout_takes_the_fast_paths() {
        let tail = r#""$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status""#;
        let l = br#"10.1.2.3 - - [23/Nov/2026:10:00:00 +0000] "GET /x HTTP/2.0" 502 157 "-" "Mozilla/5.0 (X11)" rt=0.001 uct="-, 0.000" uht="-, -" urt="0.000, 0.001" ua="10.0.1.11:9000, 10.0.1.12:9000" us="502, 502""#;
        for (head, items) in [
            ("$remote_addr - $remote_user [$time_local] ", 8),
            ("$remote_addr - - [$time_local] ", 7),
        ] {
            let c = Compiled::new("t", &format!("{head}{tail}"), Escape::Default).unwrap();
            assert_eq!(c.combined, items, "{head}");
            let fused: Vec<&str> = c
                .items
                .iter()
                .filter(|i| i.fused)
                .map(|i| i.field)
                .collect();
            assert_eq!(
                fused,
                [
                    "upstream_connect_time",
                    "upstream_header_time",
                    "upstream_response_time",
                    "upstream_status"
                ]
            );
            let mut p = NginxAccessMulti::from_compiled(vec![c]);
            let r = req(&mut p, l);
            assert_eq!(r.client, b"10.1.2.3");
            assert_eq!(r.status, 502);
            assert_eq!(r.request_time_us, Some(1000));
            assert_eq!(r.upstream_connect_time, b"-, 0.000");
            assert_eq!(r.upstream_header_time, b"-, -");
            assert_eq!(r.upstream_response_time, b"0.000, 0.001");
            assert_eq!(r.upstream_addr, b"10.0.1.11:9000, 10.0.1.12:9000");
            assert_eq!(r.upstream_status, b"502, 502");
            assert_eq!(r.user_agent, b"Mozilla/5.0 (X11)");
            assert_eq!(c_tail(&p), 6);
        }
    }

    fn c_tail(p: &NginxAccessMulti) -> usize {
        p.formats.first().map_or(0, |f| f.tail)
    }

    /// The straight-line `key=` timing tail (issue 16) and where it hands over to the item
    /// loop: each line is parsed with the fast paths and without, and must give the same
    /// record (or the same error) both ways, with the values asserted here.
    #[test]
    fn key_timing_tail_and_its_fallbacks() {
        let fmt = r#"$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status""#;
        // an escaped quote and raw non-UTF-8 bytes in the user agent
        let head =
            r#"10.1.2.3 - - [23/Nov/2026:10:00:00 +0000] "GET /x HTTP/2.0" 502 157 "-" "ua\x22 "#;
        let both = |tail: &str| {
            let line = [head.as_bytes(), b"\xff\xc3\" rt=", tail.as_bytes()].concat();
            let mut fast = NginxAccessMulti::new(&[fmt.to_string()]).unwrap();
            assert_eq!(c_tail(&fast), 6);
            let mut slow = fast.clone();
            slow.set_fast_prefix(false);
            assert_eq!(c_tail(&slow), 0);
            let a = fast.parse_request(&line).map(|r| format!("{r:?}"));
            let b = slow.parse_request(&line).map(|r| format!("{r:?}"));
            assert_eq!(a, b, "{tail}");
            let mut fast = NginxAccessMulti::new(&[fmt.to_string()]).unwrap();
            fast.parse_request(&line)
                .map(|r| {
                    (
                        r.request_time_us,
                        String::from_utf8_lossy(r.upstream_connect_time).into_owned(),
                        String::from_utf8_lossy(r.upstream_addr).into_owned(),
                        String::from_utf8_lossy(r.upstream_status).into_owned(),
                    )
                })
                .map_err(|e| e.to_string())
        };
        let ok = |t: Option<u64>, c: &str, a: &str, s: &str| {
            Ok((t, c.to_string(), a.to_string(), s.to_string()))
        };
        // the plain case
        assert_eq!(
            both(r#"6.862 uct="0.000" uht="-" urt="6.862" ua="10.0.1.13:9000" us="502""#),
            ok(Some(6_862_000), "0.000", "10.0.1.13:9000", "502")
        );
        // `-` everywhere, IPv6 and unix-socket upstreams, both list separators
        assert_eq!(
            both(r#"- uct="-" uht="-" urt="-" ua="-" us="-""#),
            ok(None, "", "", "")
        );
        assert_eq!(
            both(
                r#"0.002 uct="0.000, 0.001 : -" uht="-" urt="0.001, 0.001 : 0.000" ua="[2001:db8::1]:9000, 10.0.0.2:9000 : unix:/run/php.sock" us="502, 504 : 200""#
            ),
            ok(
                Some(2000),
                "0.000, 0.001 : -",
                "[2001:db8::1]:9000, 10.0.0.2:9000 : unix:/run/php.sock",
                "502, 504 : 200"
            )
        );
        // an escaped quote in the address: the item loop reads it
        assert_eq!(
            both(r#"0.010 uct="0.000" uht="0.010" urt="0.010" ua="a\"b" us="200""#),
            ok(Some(10_000), "0.000", r#"a\"b"#, "200")
        );
        // errors: the item loop's, at the same place
        for bad in [
            r#"1.2.x uct="0.000" uht="0.010" urt="0.010" ua="a" us="200""#,
            r#"1.2.3 uct="0.000" uht="0.010" urt="0.010" ua="a" us="200""#,
            r#"0.010 uct="0.0x0" uht="0.010" urt="0.010" ua="a" us="200""#,
            r#"0.010 uct="0.000" uht="0.010" urt="0.010" ua="a" us="200"x"#,
            r#"0.010 uct="0.000" uht="0.010" urt="0.010" ua="a" us="20 0""#,
            r#"0.010 uct="0.000" uht="0.010" urt="0.010" ua="a" us=""#,
            r#"0.010 uct="0.000" uht="0.010" urt="0.010""#,
            r#"0.010 uct="0.000"  uht="0.010" urt="0.010" ua="a" us="200""#,
        ] {
            assert!(both(bad).is_err(), "{bad}");
        }
        // the built-in four-item tail (no `ua=`/`us=`)
        let mut p = NginxAccessMulti::defaults();
        let l = br#"10.1.2.3 - - [23/Nov/2026:10:00:00 +0000] "GET /x HTTP/2.0" 504 0 "-" "x" rt=60.001 uct="0.001" uht="-" urt="60.000""#;
        let r = req(&mut p, l);
        assert_eq!(p.current_format(), Some("upstream_time_sp"));
        assert_eq!(
            p.formats
                .iter()
                .find(|f| f.name == "upstream_time_sp")
                .map(|f| f.tail),
            Some(4)
        );
        assert_eq!(r.request_time_us, Some(60_001_000));
        assert_eq!(r.upstream_response_time, b"60.000");
        assert_eq!(r.upstream_header_time, b"");
    }

    #[test]
    fn main_upstream_lists() {
        let mut p = NginxAccessMulti::defaults();
        let l = br#"10.1.2.3 - - [23/Nov/2026:10:00:00 +0000] "GET /api/x?y=1 HTTP/1.1" 502 157 "-" "curl/8.0" 1.002 0.000, 0.001 : 0.000 -, 1.000 : - - 10.0.0.1:9000, 10.0.0.2:9000 : unix:/run/php.sock 502, 502 : 502"#;
        let r = req(&mut p, l);
        assert_eq!(p.current_format(), Some("main_upstream"));
        assert_eq!(r.status, 502);
        assert_eq!(r.client, b"10.1.2.3");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.path, b"/api/x?y=1");
        assert_eq!(r.protocol, b"HTTP/1.1");
        assert_eq!(r.bytes_sent, Some(157));
        assert_eq!(r.referer, b"");
        assert_eq!(r.user_agent, b"curl/8.0");
        assert_eq!(r.request_time_us, Some(1_002_000));
        assert_eq!(r.upstream_connect_time, b"0.000, 0.001 : 0.000");
        assert_eq!(r.upstream_header_time, b"-, 1.000 : -");
        assert_eq!(r.upstream_response_time, b"");
        assert_eq!(
            r.upstream_addr,
            b"10.0.0.1:9000, 10.0.0.2:9000 : unix:/run/php.sock"
        );
        assert_eq!(r.upstream_status, b"502, 502 : 502");
        assert_eq!(r.ts.offset, Some(0));
        assert_eq!(r.ts.wall_us, (20780 * 86400 + 36000) * 1_000_000);
    }

    #[test]
    fn escapes_and_dashes() {
        let mut p = NginxAccessMulti::defaults();
        let l = br#"1.2.3.4 - - [23/Nov/2026:10:00:00 +0100] "GET /a\x22b HTTP/1.1" 200 - "-" "x \x22quoted\x22 \\" "-""#;
        let r = req(&mut p, l);
        assert_eq!(p.current_format(), Some("main"));
        assert_eq!(r.path, br#"/a\x22b"#);
        assert_eq!(r.bytes_sent, None);
        assert_eq!(r.user_agent, br#"x \x22quoted\x22 \\"#);
        assert_eq!(r.ts.offset, Some(3600));
        let l = br#"1.2.3.4 - - [23/Nov/2026:10:00:00 +0100] "" 400 0 "" """#;
        let r = req(&mut p, l);
        assert_eq!(r.request_line, b"");
        assert_eq!(r.status, 400);
    }

    #[test]
    fn vhost_and_xff_prefix() {
        let mut p = NginxAccessMulti::defaults();
        let l = br#"www.example.net 192.168.1.1 - - [08/Jun/2020:08:04:43 +0000] "GET / HTTP/1.1" 500 803 "-" "x""#;
        let r = req(&mut p, l);
        assert_eq!(r.client, b"192.168.1.1");
        assert_eq!(r.host, b"www.example.net");
        let l = br#""10.5.102.222, 199.96.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET / HTTP/1.1" 200 1 "-" "x""#;
        let r = req(&mut p, l);
        assert_eq!(r.client, b"10.2.1.185");
        assert_eq!(r.host, b"");
    }

    #[test]
    fn json_lines() {
        let mut p = NginxAccessMulti::defaults();
        let l = br#"{"time":"2026-11-23T10:00:00+08:00","remote_addr":"1.2.3.4","request":"GET /x?\"q HTTP/1.1","status": 504, "request_time":"60.001","upstream_addr":"10.0.0.1:80, 10.0.0.2:80","upstream_status":"504, 504","upstream_response_time":"30.000, 30.001","http_user_agent":"a\\b","nested":{"a":[1,"}"]},"n":null}"#;
        let r = req(&mut p, l);
        assert_eq!(r.status, 504);
        assert_eq!(r.ts.offset, Some(28800));
        assert_eq!(r.path, br#"/x?\"q"#);
        assert_eq!(r.request_time_us, Some(60_001_000));
        assert_eq!(r.upstream_status, b"504, 504");
        assert_eq!(r.user_agent, br#"a\\b"#);
        assert!(p.parse_request(br#"{"a":"b"}"#).is_err());
        assert!(p.parse_request(br#"{"status":"200""#).is_err());
        assert!(p.parse_request(br#"{"status":"200"} x"#).is_err());
        let l = br#"{"@timestamp":"1700000000.5","ip":"5.6.7.8","method":"POST","uri":"/u","status":"200"}"#;
        let r = req(&mut p, l);
        assert_eq!(r.client, b"5.6.7.8");
        assert_eq!(r.method, b"POST");
        assert_eq!(r.path, b"/u");
        assert_eq!(r.ts.wall_us, 1_700_000_000_500_000);
    }

    #[test]
    fn compiled_json_format() {
        let mut p = compile(
            r#"escape=json {"t":"$time_iso8601","s":$status,"r":"$request","rid":"$request_id","ua":"$http_user_agent"}"#,
        )
        .unwrap();
        let r = p
            .parse_request(br#"{"t":"2026-11-23T10:00:00Z","s":503,"r":"GET / HTTP/2.0","rid":"abc","ua":"q\"\\"}"#)
            .unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.trace_id, b"abc");
        assert_eq!(r.user_agent, br#"q\"\\"#);
    }

    #[test]
    fn bad_formats() {
        assert!(compile("").unwrap_err().contains("empty"));
        assert!(compile("   ").is_err());
        assert!(compile(r#"$remote_addr "$request"#)
            .unwrap_err()
            .contains("unbalanced"));
        assert!(compile("$status$body_bytes_sent")
            .unwrap_err()
            .contains("not separated"));
        assert!(compile("abc").unwrap_err().contains("no variables"));
        assert!(compile("$ x").is_err());
        assert!(compile("${status").is_err());
        assert!(compile("escape=xml $status")
            .unwrap_err()
            .contains("escape"));
        assert!(compile("${status}|$msec").is_ok());
        assert!(compile("[$time_local]$status").is_ok());
    }

    #[test]
    fn errors_name_fields() {
        let mut p = compile(COMBINED).unwrap();
        let e = p
            .parse_request(
                br#"1.2.3.4 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 2x0 1 "-" "-""#,
            )
            .unwrap_err();
        assert_eq!(e.field, "status");
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.pos, 58);
        let e = p
            .parse_request(br#"1.2.3.4 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1"#)
            .unwrap_err();
        assert_eq!(e.field, "request");
        let e = p
            .parse_request(br#"1.2.3.4 - - [23/Nov/2026:99:00:00 +0000] "GET"#)
            .unwrap_err();
        assert_eq!(e.field, "time_local");
        let e = p
            .parse_request(
                br#"1.2.3.4 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" x"#,
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Trailing);
    }

    #[test]
    fn custom_formats() {
        let mut p = compile(
            r#"$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent""#,
        )
        .unwrap();
        let r = p
            .parse_request(br#"2022-06-23T05:01:29-07:00 - 127.0.0.1 - 302 GET "/" d1f48b318ca25bb858f7ed69ad024f96 HTTP/1.1 364 "-" "Mozilla/5.0""#)
            .unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.ts.offset, Some(-25200));
        assert_eq!(r.trace_id, b"d1f48b318ca25bb858f7ed69ad024f96");
        assert_eq!(r.path, b"/");
        assert_eq!(r.protocol, b"HTTP/1.1");
        let mut p = compile("$msec $status $upstream_response_time $host").unwrap();
        let r = p
            .parse_request(b"1700000000.123 200 0.1, 0.2 : 0.3 example.com")
            .unwrap();
        assert_eq!(r.upstream_response_time, b"0.1, 0.2 : 0.3");
        assert_eq!(r.host, b"example.com");
        assert_eq!(r.ts.wall_us, 1_700_000_000_123_000);
        // escape=none: a quoted value may hold a raw quote; the whole literal delimits it.
        let mut p = compile(r#"escape=none "$http_user_agent" $status"#).unwrap();
        let r = p.parse_request(br#""a"b" 200"#).unwrap();
        assert_eq!(r.user_agent, br#"a"b"#);
    }

    #[test]
    fn no_panic_on_garbage() {
        let mut p = NginxAccessMulti::defaults();
        let samples: &[&[u8]] = &[
            b"",
            b"{",
            b"{\"",
            b"{\"status\":",
            b"{\"a\":{\"b\":[}",
            b"1.2.3.4 - - [",
            b"1.2.3.4 - - [23/Nov/2026:10:00:00 +0000] \"",
            b"1.2.3.4 - - [23/Nov/2026:10:00:00 +0000] \"\\",
            b"\xff\xfe - - [23/Nov/2026:10:00:00",
            b"[23/Nov/2026:10:00:00 +0000] - 404",
        ];
        for s in samples {
            let _ = p.parse(s);
        }
        // random mutations of good lines (a small LCG, no dependency)
        let goods: &[&[u8]] = &[
            br#"10.1.2.3 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 502 157 "-" "c" 1.0 0.0, 0.1 : - - 10.0.0.1:9000 502"#,
            br#"{"time":"2026-11-23T10:00:00Z","status":"502","request":"GET / HTTP/1.1","x":[{"a":"\"}]}"#,
            br#"[24/Jan/2022:16:51:02 +0000] - 404 404 - GET http h "/s" [Client 1.2.3.4] [Length 192] [Gzip 3.10] [Sent-to o] "M" "-""#,
        ];
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let alphabet = b" \"-,:[]{}0.x\\\xff";
        for _ in 0..20_000 {
            let g = goods[next() % goods.len()];
            let mut l = g.to_vec();
            for _ in 0..(1 + next() % 4) {
                let i = next() % l.len();
                match next() % 3 {
                    0 => l[i] = alphabet[next() % alphabet.len()],
                    1 => {
                        l.remove(i);
                    }
                    _ => l.insert(i, alphabet[next() % alphabet.len()]),
                }
            }
            let _ = p.parse(&l);
        }
        // every prefix of a good line
        let l = br#"10.1.2.3 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl" 1.002 0.000, 0.001 - - 10.0.0.1:9000 502"#;
        for n in 0..l.len() {
            let _ = p.parse(&l[..n]);
        }
    }

    #[test]
    fn log_format_pieces() {
        let names = |f: &str| -> Vec<String> {
            pieces(f)
                .unwrap()
                .into_iter()
                .map(|p| match p {
                    Piece::Lit(l) => format!("L{l}"),
                    Piece::Var(v, at) => format!("V{v}@{}", f.len() - at.len()),
                })
                .collect()
        };
        assert_eq!(
            names(r#"[$time_local] ${status}x$a_b1 "$request"é$x"#),
            [
                "L[",
                "Vtime_local@1",
                "L] ",
                "Vstatus@14",
                "Lx",
                "Va_b1@24",
                "L \"",
                "Vrequest@31",
                "L\"é",
                "Vx@42"
            ]
        );
        // `$` ends a name at the first byte that is not a letter, digit or `_`
        assert_eq!(names("$a-$b.$c"), ["Va@0", "L-", "Vb@3", "L.", "Vc@6"]);
        assert_eq!(names("x"), ["Lx"]);
    }

    /// Every compile error names the byte offset and the column of what failed.
    #[test]
    fn log_format_errors_name_the_position() {
        let cases = [
            (
                "$remote_addr ${time_local",
                "log_format: missing '}' after '${' at byte 13 (column 14)",
            ),
            (
                "$status $ x",
                "log_format: invalid variable name after '$' at byte 8 (column 9)",
            ),
            (
                "éé $status ${a-b}",
                "log_format: invalid variable name after '$' at byte 13 (column 12)",
            ),
            (
                "$status$body_bytes_sent",
                "they cannot be told apart; $body_bytes_sent at byte 7 (column 8)",
            ),
            (
                r#"$status "$request"" $x"#,
                "(3 '\"' in its literals), the last at byte 18 (column 19)",
            ),
            (
                "escape=xml $status",
                "log_format: unknown escape=\"xml\" at byte 7 (column 8)",
            ),
            ("  ", "log_format is empty"),
            ("no vars", "log_format has no variables"),
        ];
        for (f, want) in cases {
            let e = compile(f).unwrap_err();
            assert!(e.contains(want), "{f}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
