//! php-fpm access logs: an `access.format` string compiled into a parser.
//!
//! Semantics follow php-src `sapi/fpm/fpm/fpm_log.c`: `%t` is the request start formatted
//! with `%d/%b/%Y:%H:%M:%S %z` (no brackets unless the format adds them), `%{FMT}t` / `%T`
//! use strftime, `%d` is the duration in seconds with 3 decimals (`%{mili}d` milliseconds with
//! 3 decimals, `%{micro}d` whole microseconds), `%M` memory in bytes (`%{kilo}M`,
//! `%{mega}M`), `%C` CPU percent, `%e`/`%o` FastCGI environment and response headers (`-`
//! when missing), `%u` may be empty, `%Q` is `?` when `%q` is not empty.
//!
//! php-fpm escapes nothing, so every value ends at the next occurrence of the whole literal
//! that follows it in the format; timestamps end where their pattern ends. `%r%Q%q` written
//! together (the usual way) becomes one path value.

use memchr::memchr;

use crate::fields::{dash_empty, parse_status, parse_u64};
use crate::time::{
    days_from_civil, digits, month_from_abbr, parse_secs_us, parse_zone, SecondCache,
};
use crate::{ErrorKind, Format, LineParser, ParseError, Record, Request, Ts};
use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::{anychar, char as ch};
use nom::combinator::all_consuming;
use nom::multi::many0;
use nom::sequence::terminated;
use nom::Parser;

use crate::grammar::{fail, into_fail, PResult, Pos};

/// php-fpm's default `access.format`.
pub const FPM_DEFAULT: &str = r#"%R - %u %t "%m %r" %s"#;

/// Formats tried (sticking to the last that worked) when no format is given.
pub const DEFAULT_FORMATS: &[(&str, &str)] = &[
    ("default", FPM_DEFAULT),
    // The example in php-fpm's www.conf.
    (
        "www.conf-example",
        r#"%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%"#,
    ),
    // Seen in the wild: units appended as literals, no client.
    ("units", r#"%t "%m %r%Q%q" %s %{mili}dms %{kilo}Mkb %C%%"#),
    // Seen in the wild: ISO time, request id, protocol, referer and user agent from the
    // FastCGI environment (pairs with an nginx `$time_iso8601` format).
    (
        "iso-env",
        r#"%{%Y-%m-%dT%H:%M:%S%z}t - %R %u %s %m "%r" %{REQUEST_ID}e %{SERVER_PROTOCOL}e %l "%{HTTP_REFERER}e" "%{HTTP_USER_AGENT}e" %{bytes}M %C %d"#,
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DurUnit {
    Secs,
    Millis,
    Micros,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TPart {
    Lit(u8),
    Year,
    Year2,
    Month,
    MonthAbbr,
    Day,
    DaySpace,
    Hour,
    Minute,
    Second,
    Zone,
    ZoneName,
    Epoch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TimeFmt {
    Clf,
    Iso,
    Strftime(Vec<TPart>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Env {
    UserAgent,
    Referer,
    Host,
    Protocol,
    Trace,
    Method,
    Uri,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum FVar {
    Client,
    User,
    Time(TimeFmt),
    Method,
    /// `%r`, possibly with `%Q%q` folded in.
    Uri,
    Query,
    QMark,
    Status,
    Script,
    Duration(DurUnit),
    Memory,
    Cpu,
    ContentLength,
    Pool,
    Pid,
    Ppid,
    Env(Env),
    Header,
}

impl FVar {
    fn field(&self) -> &'static str {
        match self {
            FVar::Client => "client",
            FVar::User => "user",
            FVar::Time(_) => "time",
            FVar::Method => "method",
            FVar::Uri => "uri",
            FVar::Query | FVar::QMark => "query",
            FVar::Status => "status",
            FVar::Script => "script",
            FVar::Duration(_) => "duration",
            FVar::Memory => "memory",
            FVar::Cpu => "cpu",
            FVar::ContentLength => "content_length",
            FVar::Pool => "pool",
            FVar::Pid => "pid",
            FVar::Ppid => "ppid",
            FVar::Env(_) => "env",
            FVar::Header => "header",
        }
    }
}

#[derive(Clone, Debug)]
struct Item {
    var: FVar,
    /// Literal after the value (empty: rest of the line, or a self-delimiting time).
    lit: Box<[u8]>,
}

#[derive(Clone, Debug)]
struct Compiled {
    name: String,
    lead: Box<[u8]>,
    items: Vec<Item>,
}

fn compile_strftime(f: &str) -> Result<TimeFmt, String> {
    match f {
        "%d/%b/%Y:%H:%M:%S %z" => return Ok(TimeFmt::Clf),
        "%Y-%m-%dT%H:%M:%S%z" | "%Y-%m-%dT%H:%M:%S" | "%Y-%m-%d %H:%M:%S" => {
            return Ok(TimeFmt::Iso)
        }
        _ => {}
    }
    let b = f.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'%' {
            parts.push(TPart::Lit(c));
            i += 1;
            continue;
        }
        let conv = *b
            .get(i + 1)
            .ok_or_else(|| format!("access.format: time format \"{f}\" ends with '%'"))?;
        i += 2;
        match conv {
            b'Y' => parts.push(TPart::Year),
            b'y' => parts.push(TPart::Year2),
            b'm' => parts.push(TPart::Month),
            b'b' | b'h' => parts.push(TPart::MonthAbbr),
            b'd' => parts.push(TPart::Day),
            b'e' => parts.push(TPart::DaySpace),
            b'H' => parts.push(TPart::Hour),
            b'M' => parts.push(TPart::Minute),
            b'S' => parts.push(TPart::Second),
            b'z' => parts.push(TPart::Zone),
            b'Z' => parts.push(TPart::ZoneName),
            b's' => parts.push(TPart::Epoch),
            b'T' => parts.extend([
                TPart::Hour,
                TPart::Lit(b':'),
                TPart::Minute,
                TPart::Lit(b':'),
                TPart::Second,
            ]),
            b'F' => parts.extend([
                TPart::Year,
                TPart::Lit(b'-'),
                TPart::Month,
                TPart::Lit(b'-'),
                TPart::Day,
            ]),
            b'%' => parts.push(TPart::Lit(b'%')),
            other => {
                return Err(format!(
                    "access.format: time conversion %{} in \"{f}\" is not supported",
                    other as char
                ))
            }
        }
    }
    let has_date = parts.iter().any(|p| matches!(p, TPart::Epoch))
        || (parts
            .iter()
            .any(|p| matches!(p, TPart::Year | TPart::Year2))
            && parts
                .iter()
                .any(|p| matches!(p, TPart::Month | TPart::MonthAbbr))
            && parts
                .iter()
                .any(|p| matches!(p, TPart::Day | TPart::DaySpace)));
    if !has_date {
        return Err(format!(
            "access.format: time format \"{f}\" has no full date (%Y, %m or %b, %d), gatelog cannot place its records in time"
        ));
    }
    Ok(TimeFmt::Strftime(parts))
}

/// Parse a value written with a strftime pattern; returns the timestamp and bytes used.
fn parse_strftime(parts: &[TPart], b: &[u8]) -> Option<(Ts, usize)> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (1970u32, 1u32, 1u32, 0u32, 0u32, 0u32);
    let mut off = None;
    let mut epoch = None;
    let mut i = 0;
    for p in parts {
        match p {
            TPart::Lit(c) => {
                if b.get(i) != Some(c) {
                    return None;
                }
                i += 1;
            }
            TPart::Year => {
                y = digits(b, i, 4)?;
                i += 4;
            }
            TPart::Year2 => {
                y = 2000 + digits(b, i, 2)?;
                i += 2;
            }
            TPart::Month => {
                mo = digits(b, i, 2)?;
                i += 2;
            }
            TPart::MonthAbbr => {
                mo = month_from_abbr(b.get(i..i + 3)?)?;
                i += 3;
            }
            TPart::Day => {
                d = digits(b, i, 2)?;
                i += 2;
            }
            TPart::DaySpace => {
                d = if b.get(i) == Some(&b' ') {
                    digits(b, i + 1, 1)?
                } else {
                    digits(b, i, 2)?
                };
                i += 2;
            }
            TPart::Hour => {
                h = digits(b, i, 2)?;
                i += 2;
            }
            TPart::Minute => {
                mi = digits(b, i, 2)?;
                i += 2;
            }
            TPart::Second => {
                s = digits(b, i, 2)?;
                i += 2;
            }
            TPart::Zone => {
                let (o, used) = parse_zone(b.get(i..)?)?;
                off = Some(o);
                i += used;
            }
            TPart::ZoneName => {
                let start = i;
                while b.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
                    i += 1;
                }
                let name = b.get(start..i)?;
                if name == b"UTC" || name == b"GMT" || name == b"Z" {
                    off = Some(0);
                }
            }
            TPart::Epoch => {
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                epoch = Some(parse_u64(b.get(start..i)?)? as i64);
            }
        }
    }
    if let Some(e) = epoch {
        return Some((Ts::new(e.checked_mul(1_000_000)?, Some(0)), i));
    }
    if d == 0 || d > crate::time::days_in_month(y as i64, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y as i64, mo, d) * 86400 + (h * 3600 + mi * 60 + s) as i64;
    Some((Ts::new(secs * 1_000_000, off), i))
}

fn env_kind(name: &str) -> Env {
    match name {
        "HTTP_USER_AGENT" => Env::UserAgent,
        "HTTP_REFERER" => Env::Referer,
        "HTTP_HOST" | "SERVER_NAME" => Env::Host,
        "SERVER_PROTOCOL" => Env::Protocol,
        "REQUEST_ID" | "HTTP_X_REQUEST_ID" | "HTTP_X_AMZN_TRACE_ID" | "UNIQUE_ID" => Env::Trace,
        "REQUEST_METHOD" => Env::Method,
        "REQUEST_URI" => Env::Uri,
        _ => Env::Other,
    }
}

/// A php.ini-style quoted value (`"%R - %u %t \"%m %r\" %s"`) is unquoted.
fn unquote(f: &str) -> String {
    let t = f.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1].replace("\\\"", "\"")
    } else {
        f.to_string()
    }
}

/// One piece of an `access.format` string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FPiece<'a> {
    /// Literal text (up to the next `%`).
    Lit(&'a str),
    /// `%X` or `%{arg}X`: the argument, the conversion and the input from the `%` on (its
    /// position).
    Field {
        arg: Option<&'a str>,
        conv: char,
        at: &'a str,
    },
}

fn fpm_lit(i: &str) -> PResult<&str, FPiece<'_>> {
    take_while1(|c: char| c != '%').map(FPiece::Lit).parse(i)
}

/// `%X` or `%{arg}X` (php-fpm's `fpm_log_write` syntax; `%%` is a literal `%`).
fn fpm_field(i: &str) -> PResult<&str, FPiece<'_>> {
    let (after, _) = ch('%').parse(i)?;
    let braced: PResult<&str, char> = ch('{').parse(after);
    let (after, arg) = match braced {
        Ok((inner, _)) => {
            let closed: PResult<&str, &str> =
                terminated(take_while(|c: char| c != '}'), ch('}')).parse(inner);
            match closed {
                Ok((rest, a)) => (rest, Some(a)),
                Err(_) => return fail(i, "missing closing '}' after '%{'"),
            }
        }
        Err(_) => (after, None),
    };
    let conv: PResult<&str, char> = anychar(after);
    match conv {
        Ok((rest, conv)) => Ok((rest, FPiece::Field { arg, conv, at: i })),
        Err(_) => fail(i, "ends with an incomplete '%'"),
    }
}

/// An `access.format` string as literal and field pieces; all of it is consumed.
fn fpm_pieces(fmt: &str) -> Result<Vec<FPiece<'_>>, String> {
    all_consuming(many0(alt((fpm_lit, fpm_field))))
        .parse(fmt)
        .map(|(_, v)| v)
        .map_err(|e| {
            let f = into_fail(e, fmt);
            format!(
                "access.format: {} {}",
                f.why,
                Pos::of(fmt.as_bytes(), f.rest.len()).at()
            )
        })
}

impl Compiled {
    fn new(name: &str, format: &str) -> Result<Compiled, String> {
        let format = unquote(format);
        let b = format.as_bytes();
        if b.iter().all(|c| c.is_ascii_whitespace()) {
            return Err("access.format is empty".into());
        }
        let mut lits: Vec<Vec<u8>> = vec![Vec::new()];
        let mut vars: Vec<FVar> = Vec::new();
        let fmt = format.as_str();
        let mut var_at: Vec<usize> = Vec::new();
        for piece in fpm_pieces(fmt)? {
            let (arg, conv, at) = match piece {
                FPiece::Lit(l) => {
                    if let Some(last) = lits.last_mut() {
                        last.extend_from_slice(l.as_bytes());
                    }
                    continue;
                }
                FPiece::Field { arg, conv, at } => (arg, conv, at),
            };
            let here = Pos::of(b, at.len()).at();
            let a = arg.unwrap_or("");
            let bad_arg = |what: &str| -> String {
                format!("access.format: only {what} are allowed as a modifier for %{conv} ('{a}') {here}")
            };
            let var = match conv {
                '%' => {
                    if let Some(l) = lits.last_mut() {
                        l.push(b'%');
                    }
                    continue;
                }
                'C' => match a.to_ascii_lowercase().as_str() {
                    "" | "total" | "user" | "system" => FVar::Cpu,
                    _ => return Err(bad_arg("'total', 'user' or 'system'")),
                },
                'd' => FVar::Duration(match a.to_ascii_lowercase().as_str() {
                    "" | "seconds" => DurUnit::Secs,
                    "mili" | "miliseconds" | "milli" | "milliseconds" => DurUnit::Millis,
                    "micro" | "microseconds" => DurUnit::Micros,
                    _ => {
                        return Err(bad_arg(
                            "'seconds', 'mili', 'miliseconds', 'micro' or 'microseconds'",
                        ))
                    }
                }),
                'e' => {
                    if a.is_empty() {
                        return Err(format!("access.format: %e needs the variable name in braces, e.g. %{{HTTP_HOST}}e {here}"));
                    }
                    FVar::Env(env_kind(a))
                }
                'o' => {
                    if a.is_empty() {
                        return Err(format!("access.format: %o needs the header name in braces, e.g. %{{Content-Type}}o {here}"));
                    }
                    FVar::Header
                }
                'M' => match a.to_ascii_lowercase().as_str() {
                    "" | "bytes" | "kilo" | "kilobytes" | "mega" | "megabytes" => FVar::Memory,
                    _ => {
                        return Err(bad_arg(
                            "'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes'",
                        ))
                    }
                },
                't' | 'T' => FVar::Time(if a.is_empty() {
                    TimeFmt::Clf
                } else {
                    compile_strftime(a).map_err(|e| format!("{e} {here}"))?
                }),
                other => {
                    if arg.is_some() {
                        return Err(format!(
                            "access.format: embrace is not allowed for modifier %{other} {here}"
                        ));
                    }
                    match other {
                        'f' => FVar::Script,
                        'l' => FVar::ContentLength,
                        'm' => FVar::Method,
                        'n' => FVar::Pool,
                        'p' => FVar::Pid,
                        'P' => FVar::Ppid,
                        'q' => FVar::Query,
                        'Q' => FVar::QMark,
                        'r' => FVar::Uri,
                        'R' => FVar::Client,
                        's' => FVar::Status,
                        'u' => FVar::User,
                        _ => return Err(format!("access.format: invalid token %{other} {here}")),
                    }
                }
            };
            // `%r%Q%q`: fold `%Q`/`%q` written right after `%r` (or each other) into it.
            let adjacent = lits.last().is_some_and(|l| l.is_empty()) && !vars.is_empty();
            if adjacent
                && matches!(var, FVar::QMark | FVar::Query)
                && matches!(vars.last(), Some(FVar::Uri))
            {
                continue;
            }
            vars.push(var);
            var_at.push(at.len());
            lits.push(Vec::new());
        }
        if vars.is_empty() {
            return Err("access.format has no % fields".into());
        }
        let n = vars.len();
        let mut items = Vec::with_capacity(n);
        for (k, var) in vars.into_iter().enumerate() {
            let lit = lits.get(k + 1).cloned().unwrap_or_default();
            if lit.is_empty() && k + 1 != n && !matches!(var, FVar::Time(_)) {
                let at = Pos::of(format.as_bytes(), var_at.get(k + 1).copied().unwrap_or(0)).at();
                return Err(format!(
                    "access.format: %-field {} number {} is followed directly by another field \
                     {at}, so they cannot be told apart",
                    var.field(),
                    k + 1
                ));
            }
            items.push(Item {
                var,
                lit: lit.into_boxed_slice(),
            });
        }
        Ok(Compiled {
            name: name.to_string(),
            lead: lits.first().cloned().unwrap_or_default().into_boxed_slice(),
            items,
        })
    }

    fn parse<'a>(
        &self,
        line: &'a [u8],
        cache: &mut SecondCache,
    ) -> Result<Request<'a>, ParseError> {
        let mut req = Request::default();
        let mut have_ts = false;
        if !line.starts_with(&self.lead) {
            return Err(ParseError::new(ErrorKind::Expected("literal"), "line", 0));
        }
        let mut pos = self.lead.len();
        for it in &self.items {
            let field = it.var.field();
            let rest = line.get(pos..).unwrap_or_default();
            let len = match &it.var {
                FVar::Time(tf) => {
                    let parsed = match tf {
                        TimeFmt::Clf => cache.clf(rest),
                        TimeFmt::Iso => cache.iso8601(rest),
                        TimeFmt::Strftime(parts) => parse_strftime(parts, rest),
                    };
                    let (ts, used) = parsed.ok_or_else(|| ParseError::invalid(field, pos))?;
                    if !have_ts {
                        req.ts = ts;
                        have_ts = true;
                    }
                    used
                }
                _ if it.lit.is_empty() => rest.len(),
                _ => find_lit(rest, &it.lit).ok_or_else(|| ParseError::truncated(field, pos))?,
            };
            let v = rest.get(..len).unwrap_or_default();
            let after = rest.get(len..).unwrap_or_default();
            if !after.starts_with(&it.lit) {
                return Err(if after.is_empty() {
                    ParseError::truncated(field, pos + len)
                } else {
                    ParseError::expected("literal", field, pos + len)
                });
            }
            assign(&mut req, &it.var, v, field, pos)?;
            pos += len + it.lit.len();
        }
        if pos != line.len() {
            return Err(ParseError::new(ErrorKind::Trailing, "line", pos));
        }
        Ok(req)
    }
}

#[inline]
fn find_lit(hay: &[u8], lit: &[u8]) -> Option<usize> {
    let first = *lit.first()?;
    let mut i = 0;
    loop {
        let j = i + memchr(first, hay.get(i..)?)?;
        if hay.get(j..)?.starts_with(lit) {
            return Some(j);
        }
        i = j + 1;
    }
}

/// A decimal with an optional fraction (`886.974`) scaled: `scale_us` microseconds per unit.
fn duration_us(v: &[u8], unit: DurUnit) -> Option<u64> {
    match unit {
        DurUnit::Secs => parse_secs_us(v),
        // parse as seconds, then ms → µs is a division by 1000 of (value * 1e6)
        DurUnit::Millis => parse_secs_us(v).map(|x| x / 1000),
        DurUnit::Micros => parse_u64(v),
    }
}

fn assign<'a>(
    req: &mut Request<'a>,
    var: &FVar,
    v: &'a [u8],
    field: &'static str,
    pos: usize,
) -> Result<(), ParseError> {
    match var {
        FVar::Client => req.client = dash_empty(v),
        FVar::Method => {
            if req.method.is_empty() {
                req.method = dash_empty(v)
            }
        }
        FVar::Uri => req.path = v,
        FVar::Status => {
            req.status = parse_status(v).ok_or_else(|| ParseError::invalid(field, pos))?
        }
        FVar::Script => req.script = dash_empty(v),
        FVar::Duration(u) => {
            req.request_time_us =
                Some(duration_us(v, *u).ok_or_else(|| ParseError::invalid(field, pos))?)
        }
        FVar::Pid => {
            req.pid = Some(
                parse_u64(v)
                    .and_then(|p| u32::try_from(p).ok())
                    .ok_or_else(|| ParseError::invalid(field, pos))?,
            )
        }
        FVar::Pool => req.route = dash_empty(v),
        FVar::Memory | FVar::ContentLength | FVar::Ppid => {
            if parse_u64(v).is_none() {
                return Err(ParseError::invalid(field, pos));
            }
        }
        FVar::Cpu => {
            if parse_secs_us(v).is_none() {
                return Err(ParseError::invalid(field, pos));
            }
        }
        FVar::Env(e) => {
            let v = dash_empty(v);
            match e {
                Env::UserAgent => req.user_agent = v,
                Env::Referer => req.referer = v,
                Env::Host => {
                    if req.host.is_empty() {
                        req.host = v
                    }
                }
                Env::Protocol => req.protocol = v,
                Env::Trace => req.trace_id = v,
                Env::Method => req.method = v,
                Env::Uri => {
                    if req.path.is_empty() {
                        req.path = v
                    }
                }
                Env::Other => {}
            }
        }
        FVar::User | FVar::Query | FVar::QMark | FVar::Header | FVar::Time(_) => {}
    }
    Ok(())
}

/// A php-fpm access-log parser: one or several compiled formats (the last one that worked is
/// tried first).
#[derive(Clone, Debug)]
pub struct FpmAccessParser {
    formats: Vec<Compiled>,
    last: usize,
    cache: SecondCache,
}

impl FpmAccessParser {
    /// Compile one `access.format` string (also accepted with php.ini quotes:
    /// `"%R - %u %t \"%m %r\" %s"`).
    pub fn compile(format: &str) -> Result<FpmAccessParser, String> {
        Self::new(&[format.to_string()])
    }

    /// Several formats, tried in turn.
    pub fn new(formats: &[String]) -> Result<FpmAccessParser, String> {
        let mut out = Vec::with_capacity(formats.len());
        for (k, f) in formats.iter().enumerate() {
            out.push(Compiled::new(&format!("format{}", k + 1), f)?);
        }
        if out.is_empty() {
            return Err("no access.format given".into());
        }
        Ok(FpmAccessParser {
            formats: out,
            last: 0,
            cache: SecondCache::new(),
        })
    }

    /// The built-in [`DEFAULT_FORMATS`].
    pub fn defaults() -> FpmAccessParser {
        FpmAccessParser {
            formats: DEFAULT_FORMATS
                .iter()
                .filter_map(|(n, f)| Compiled::new(n, f).ok())
                .collect(),
            last: 0,
            cache: SecondCache::new(),
        }
    }

    /// Name of the format that parsed the last line (`formatN` for given formats).
    pub fn current_format(&self) -> Option<&str> {
        self.formats.get(self.last).map(|f| f.name.as_str())
    }

    pub fn parse_request<'a>(&mut self, line: &'a [u8]) -> Result<Request<'a>, ParseError> {
        let last = self.last;
        let mut best = match self.formats.get(last) {
            Some(f) => match f.parse(line, &mut self.cache) {
                Ok(r) => return Ok(r),
                Err(e) => e,
            },
            None => ParseError::not_this_format(0),
        };
        for (k, f) in self.formats.iter().enumerate() {
            if k == last {
                continue;
            }
            match f.parse(line, &mut self.cache) {
                Ok(r) => {
                    self.last = k;
                    return Ok(r);
                }
                Err(e) => {
                    if e.pos > best.pos {
                        best = e;
                    }
                }
            }
        }
        Err(best)
    }
}

impl LineParser for FpmAccessParser {
    fn format(&self) -> Format {
        Format::FpmAccess
    }
    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        match self.parse_request(rec) {
            Ok(r) => Ok(Record::Request(r)),
            Err(_) if rec.iter().all(|c| c.is_ascii_whitespace()) => Ok(Record::Ignored),
            Err(e) => Err(e),
        }
    }
    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}

/// Build a php-fpm access-log parser from `access.format` strings (empty: the defaults).
pub fn build(formats: &[String]) -> Result<Box<dyn LineParser>, String> {
    if formats.is_empty() {
        Ok(Box::new(FpmAccessParser::defaults()))
    } else {
        Ok(Box::new(FpmAccessParser::new(formats)?))
    }
}

/// Whether an inferred format string is a php-fpm `access.format` (inference writes no `$`
/// into one) rather than an nginx `log_format` (which always names a `$variable`).
pub fn is_access_format(f: &str) -> bool {
    !f.contains('$')
}

/// The parser of [`build`], then the `access.format`s among `inferred` (strings inferred from
/// inputs no format matched: [`crate::fpm_infer`]).
pub fn build_with_inferred(
    formats: &[String],
    inferred: &[String],
) -> Result<Box<dyn LineParser>, String> {
    let extra: Vec<String> = inferred
        .iter()
        .filter(|f| is_access_format(f))
        .cloned()
        .collect();
    if extra.is_empty() {
        return build(formats);
    }
    let mut all: Vec<String> = if formats.is_empty() {
        DEFAULT_FORMATS.iter().map(|(_, f)| f.to_string()).collect()
    } else {
        formats.to_vec()
    };
    all.extend(extra);
    Ok(Box::new(FpmAccessParser::new(&all)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_compile() {
        for (n, f) in DEFAULT_FORMATS {
            Compiled::new(n, f).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }

    #[test]
    fn default_format() {
        let mut p = FpmAccessParser::defaults();
        let r = p
            .parse_request(br#"172.21.0.3 -  21/Mar/2018:03:41:14 +0000 "GET /index.php" 200"#)
            .unwrap();
        assert_eq!(r.client, b"172.21.0.3");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.path, b"/index.php");
        assert_eq!(r.status, 200);
        assert_eq!(r.ts.offset, Some(0));
        assert_eq!(p.current_format(), Some("default"));
    }

    #[test]
    fn www_conf_example() {
        let mut p = FpmAccessParser::defaults();
        let r = p
            .parse_request(br#"10.0.0.1 - bob 23/Nov/2026:10:00:00 +0100 "POST /index.php?a=1&b=2" 504 /var/www/index.php 30001.123 2048 99.50%"#)
            .unwrap();
        assert_eq!(r.path, b"/index.php?a=1&b=2");
        assert_eq!(r.status, 504);
        assert_eq!(r.script, b"/var/www/index.php");
        assert_eq!(r.request_time_us, Some(30_001_123));
        assert_eq!(r.ts.offset, Some(3600));
    }

    #[test]
    fn units_and_strftime() {
        let mut p = FpmAccessParser::compile(
            r#"[%{%d/%b/%Y %H:%M:%S}t] %p %n %{micro}d %{seconds}d %{HTTP_HOST}e "%{REQUEST_ID}e" %s"#,
        )
        .unwrap();
        let r = p
            .parse_request(br#"[23/Nov/2026 10:00:01] 1234 www 1500 0.002 example.com "-" 502"#)
            .unwrap();
        assert_eq!(r.pid, Some(1234));
        assert_eq!(r.route, b"www");
        assert_eq!(r.request_time_us, Some(2000));
        assert_eq!(r.host, b"example.com");
        assert_eq!(r.trace_id, b"");
        assert_eq!(r.status, 502);
        assert_eq!(r.ts.offset, None);
        assert_eq!(r.ts.wall_us, (20780 * 86400 + 36001) * 1_000_000);
        let mut p = FpmAccessParser::compile(r#""%t %{mili}d %s""#).unwrap();
        let r = p
            .parse_request(b"23/Nov/2026:10:00:00 +0000 886.974 200")
            .unwrap();
        assert_eq!(r.request_time_us, Some(886_974));
        let mut p = FpmAccessParser::compile("%{%s}T %s").unwrap();
        let r = p.parse_request(b"1700000000 200").unwrap();
        assert_eq!(r.ts.wall_us, 1_700_000_000_000_000);
    }

    #[test]
    fn bad_formats() {
        assert!(FpmAccessParser::compile("").unwrap_err().contains("empty"));
        assert!(FpmAccessParser::compile("%x")
            .unwrap_err()
            .contains("invalid token"));
        assert!(FpmAccessParser::compile("%{foo}d")
            .unwrap_err()
            .contains("modifier"));
        assert!(FpmAccessParser::compile("%{bar}M").is_err());
        assert!(FpmAccessParser::compile("%e").is_err());
        assert!(FpmAccessParser::compile("%{HOST}e").is_ok());
        assert!(FpmAccessParser::compile("%{x}s")
            .unwrap_err()
            .contains("embrace"));
        assert!(FpmAccessParser::compile("%{abc")
            .unwrap_err()
            .contains("closing"));
        assert!(FpmAccessParser::compile("%R%s")
            .unwrap_err()
            .contains("cannot be told apart"));
        assert!(FpmAccessParser::compile("%{%H:%M}t %s")
            .unwrap_err()
            .contains("date"));
        assert!(FpmAccessParser::compile("%{%Q}t %s").is_err());
        assert!(FpmAccessParser::compile("abc").is_err());
        assert!(FpmAccessParser::compile("%s %").is_err());
        assert!(FpmAccessParser::compile("%t%s").is_ok());
    }

    #[test]
    fn errors() {
        let mut p = FpmAccessParser::compile(FPM_DEFAULT).unwrap();
        let e = p
            .parse_request(br#"1.2.3.4 -  21/Mar/2018:03:41:14 +0000 "GET /" 2x0"#)
            .unwrap_err();
        assert_eq!(e.field, "status");
        let e = p
            .parse_request(br#"1.2.3.4 -  21/Mar/2018:03:41"#)
            .unwrap_err();
        assert_eq!(e.field, "time");
        let l = br#"1.2.3.4 -  21/Mar/2018:03:41:14 +0000 "GET /" 200 extra"#;
        for n in 1..l.len() - 6 {
            assert!(p.parse(&l[..n]).is_err(), "{n}");
        }
        assert!(p.parse(&l[..l.len() - 6]).is_ok());
        assert!(p.parse(l).is_err());
    }

    /// Every compile error names the byte offset and the column (in the unquoted format) of
    /// the `%` field that failed.
    #[test]
    fn access_format_errors_name_the_position() {
        let cases = [
            (
                "%s %{mili",
                "access.format: missing closing '}' after '%{' at byte 3 (column 4)",
            ),
            (
                "%s %",
                "access.format: ends with an incomplete '%' at byte 3 (column 4)",
            ),
            (
                "%s %x",
                "access.format: invalid token %x at byte 3 (column 4)",
            ),
            (
                "\"%s %x\"",
                "access.format: invalid token %x at byte 3 (column 4)",
            ),
            (
                "%s é %ü",
                "access.format: invalid token %ü at byte 6 (column 6)",
            ),
            ("%s %{foo}d", "('foo') at byte 3 (column 4)"),
            (
                "%s %{x}s",
                "embrace is not allowed for modifier %s at byte 3 (column 4)",
            ),
            ("%R %e", "e.g. %{HTTP_HOST}e at byte 3 (column 4)"),
            (
                "%s%m %t",
                "followed directly by another field at byte 2 (column 3)",
            ),
            ("%s %{%Y %Q}t", "is not supported at byte 3 (column 4)"),
            ("%s %{%H:%M}t", "has no full date"),
        ];
        for (f, want) in cases {
            let e = FpmAccessParser::compile(f).unwrap_err();
            assert!(e.contains(want), "{f}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn access_format_pieces() {
        let got: Vec<String> = fpm_pieces(r#"%R - %u %{%d/%b/%Y}t "%m %r%Q%q" %s %{mili}d %C%%"#)
            .unwrap()
            .into_iter()
            .map(|p| match p {
                FPiece::Lit(l) => format!("L{l}"),
                FPiece::Field { arg, conv, .. } => format!("F{}{conv}", arg.unwrap_or("")),
            })
            .collect();
        assert_eq!(
            got,
            [
                "FR",
                "L - ",
                "Fu",
                "L ",
                "F%d/%b/%Yt",
                "L \"",
                "Fm",
                "L ",
                "Fr",
                "FQ",
                "Fq",
                "L\" ",
                "Fs",
                "L ",
                "Fmilid",
                "L ",
                "FC",
                "F%"
            ]
        );
    }
}
