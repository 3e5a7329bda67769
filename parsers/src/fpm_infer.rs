//! Inference of a custom php-fpm `access.format` from sample lines, for pool access logs no
//! built-in layout reads (lab2's `%{REMOTE_ADDR}e [%t] "%m %{REQUEST_URI}e" %s %{milli}d ms
//! %{kilo}M KB %C%% pool=%n pid=%p`).
//!
//! Each line is split into columns as for nginx inference ([`crate::infer`]); each column is
//! named by its value and by what follows it (`19.982 ms` is `%{mili}d ms`, `2048 KB` is
//! `%{kilo}M KB`, `0.00%` is `%C%%`, `pool=www` is `pool=%n`, `"GET /index.php"` is
//! `"%m %r%Q%q"`). The most common resulting `access.format` is compiled with
//! [`crate::fpm_access`] and kept when it reads the lines.
//!
//! A layout is taken for php-fpm only when it has a time, a status and something nginx never
//! writes by default: a request without its protocol (php-fpm's `%m %r` has none), a pool, a
//! pid, memory, CPU, or a duration with its unit. Everything else is left to nginx inference,
//! so php-fpm's access lines are read as `fpm-access` (app layer), never as nginx.

use crate::fpm_access::FpmAccessParser;
use crate::infer::{
    is_ip, is_method, is_path, is_protocol, is_time_iso, is_time_local, is_url, is_user_agent,
    is_well_known_status, split, Inferred, Split, Wrap,
};
use crate::time::SecondCache;
use crate::Format;

/// `dd/Mon/yyyy:HH:MM:SS` (php-fpm's `%t` without its zone, which follows after a space).
fn is_clf_no_zone(v: &[u8], cache: &mut SecondCache) -> bool {
    if v.len() != 20 {
        return false;
    }
    let mut with = v.to_vec();
    with.extend_from_slice(b" +0000");
    is_time_local(&with, cache)
}

fn is_zone(v: &[u8]) -> bool {
    v.len() == 5 && matches!(v[0], b'+' | b'-') && v[1..].iter().all(u8::is_ascii_digit)
}

/// Digits, a dot, exactly `decimals` digits.
fn is_fixed(v: &[u8], decimals: usize) -> bool {
    match v.iter().position(|&c| c == b'.') {
        Some(dot) => {
            dot > 0
                && v.len() == dot + 1 + decimals
                && v.iter()
                    .enumerate()
                    .all(|(k, c)| k == dot || c.is_ascii_digit())
        }
        None => false,
    }
}

fn is_uint(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= 20 && v.iter().all(u8::is_ascii_digit)
}

/// A value with a unit written onto it (`19.982ms`, `2048KB`): the fragment for both.
fn with_unit(v: &[u8]) -> Option<String> {
    const UNITS: &[(&[u8], &str, bool)] = &[
        (b"ms", "%{mili}dms", true),
        (b"us", "%{micro}dus", false),
        (b"s", "%ds", true),
        (b"KB", "%{kilo}MKB", false),
        (b"kb", "%{kilo}Mkb", false),
        (b"MB", "%{mega}MMB", false),
        (b"mb", "%{mega}Mmb", false),
    ];
    for (unit, frag, decimal) in UNITS {
        if let Some(n) = v.strip_suffix(*unit) {
            let ok = if *decimal { is_fixed(n, 3) } else { is_uint(n) };
            if ok {
                return Some(frag.to_string());
            }
        }
    }
    None
}

/// The fragment of a number followed by a unit column (`19.982` then `ms`).
fn before_unit(v: &[u8], unit: &[u8]) -> Option<&'static str> {
    match unit {
        b"ms" if is_fixed(v, 3) => Some("%{mili}d"),
        b"s" | b"sec" if is_fixed(v, 3) => Some("%d"),
        b"us" if is_uint(v) => Some("%{micro}d"),
        b"KB" | b"kb" | b"K" | b"KiB" if is_uint(v) => Some("%{kilo}M"),
        b"MB" | b"mb" | b"M" | b"MiB" if is_uint(v) => Some("%{mega}M"),
        b"B" | b"bytes" if is_uint(v) => Some("%{bytes}M"),
        _ => None,
    }
}

fn is_unit(v: &[u8]) -> bool {
    matches!(
        v,
        b"ms"
            | b"s"
            | b"sec"
            | b"us"
            | b"KB"
            | b"kb"
            | b"K"
            | b"KiB"
            | b"MB"
            | b"mb"
            | b"M"
            | b"MiB"
            | b"B"
            | b"bytes"
    )
}

/// A literal of the line, `%` doubled.
fn lit(b: &[u8]) -> Option<String> {
    std::str::from_utf8(b).ok().map(|s| s.replace('%', "%%"))
}

/// What the line's layout holds, to tell php-fpm from nginx.
#[derive(Default)]
struct Seen {
    time: bool,
    status: bool,
    client: bool,
    /// A request line without a protocol, a pool, a pid, memory, CPU or a unit-bearing
    /// duration.
    fpm: bool,
    referer: bool,
    user_agent: bool,
    env: usize,
}

/// The `access.format` of one line, or `None` when it is not a php-fpm access line.
fn line_format(sp: &Split<'_>, cache: &mut SecondCache) -> Option<String> {
    let mut out = String::new();
    let mut seen = Seen::default();
    let cols = &sp.cols;
    let mut k = 0;
    while let Some(c) = cols.get(k) {
        out.push_str(&lit(c.sep)?);
        out.push_str(&lit(c.key)?);
        out.push_str(c.wrap.open());
        let v = c.value;
        let next = cols.get(k + 1);
        let key = c.key.strip_suffix(b"=").unwrap_or(c.key);
        let mut used = 1;
        let frag: String = if c.wrap == Wrap::Bare
            && key.is_empty()
            && is_clf_no_zone(v, cache)
            && next.is_some_and(|n| n.sep == b" " && n.key.is_empty() && is_zone(n.value))
        {
            // `%t` unbracketed: its value holds a space
            used = 2;
            seen.time = true;
            "%t".into()
        } else if key == b"pool" && !v.is_empty() {
            seen.fpm = true;
            "%n".into()
        } else if key == b"pid" && is_uint(v) {
            seen.fpm = true;
            "%p".into()
        } else if !seen.time && c.wrap == Wrap::Bracket && is_time_local(v, cache) {
            seen.time = true;
            "%t".into()
        } else if !seen.time && is_time_iso(v, cache) && v.len() >= 24 {
            seen.time = true;
            "%{%Y-%m-%dT%H:%M:%S%z}t".into()
        } else if c.wrap != Wrap::Bracket && {
            let mut w = v.splitn(3, |&b| b == b' ');
            let m = w.next().unwrap_or_default();
            let p = w.next().unwrap_or_default();
            let proto = w.next();
            is_method(m) && is_path(p) && proto.is_none_or(is_protocol)
        } {
            let proto = v.splitn(3, |&b| b == b' ').nth(2).is_some();
            if proto {
                "%m %r%Q%q %{SERVER_PROTOCOL}e".into()
            } else {
                seen.fpm = true;
                "%m %r%Q%q".into()
            }
        } else if c.wrap == Wrap::Bare && is_method(v) {
            "%m".into()
        } else if is_path(v) && c.wrap != Wrap::Bracket {
            "%r%Q%q".into()
        } else if !seen.client && c.wrap == Wrap::Bare && is_ip(v) {
            seen.client = true;
            "%R".into()
        } else if !seen.status && c.wrap == Wrap::Bare && is_well_known_status(v) {
            seen.status = true;
            "%s".into()
        } else if c.wrap == Wrap::Bare && v.ends_with(b"%") && is_fixed(&v[..v.len() - 1], 2) {
            seen.fpm = true;
            "%C%%".into()
        } else if let Some(f) = (c.wrap == Wrap::Bare).then(|| with_unit(v)).flatten() {
            seen.fpm = true;
            f
        } else if let Some(f) = next
            .filter(|n| c.wrap == Wrap::Bare && n.key.is_empty() && n.wrap == Wrap::Bare)
            .and_then(|n| before_unit(v, n.value))
        {
            seen.fpm = true;
            f.into()
        } else if c.wrap == Wrap::Bare && (v == b"-" || is_unit(v)) {
            lit(v)?
        } else if c.wrap == Wrap::Bare && is_fixed(v, 3) {
            "%d".into()
        } else if c.wrap == Wrap::Quoted && !seen.referer && (v == b"-" || is_url(v)) {
            seen.referer = true;
            "%{HTTP_REFERER}e".into()
        } else if c.wrap == Wrap::Quoted && !seen.user_agent && is_user_agent(v) {
            seen.user_agent = true;
            "%{HTTP_USER_AGENT}e".into()
        } else if c.wrap == Wrap::Bare && is_uint(v) {
            "%l".into()
        } else if !v.is_empty() && !v.contains(&b'%') {
            // anything else: a FastCGI variable read and ignored
            seen.env += 1;
            format!("%{{FIELD{}}}e", seen.env)
        } else {
            return None;
        };
        out.push_str(&frag);
        out.push_str(c.wrap.close());
        k += used;
    }
    out.push_str(&lit(sp.tail)?);
    (seen.time && seen.status && seen.fpm && seen.env <= 2).then_some(out)
}

/// Infer a php-fpm `access.format` from sample lines (without terminators), or say why none
/// fits. `lines_parsed` counts the non-blank lines the compiled format reads: the caller
/// decides whether that is enough (all of a plain file; the rest of a mixed stream).
pub fn infer(lines: &[&[u8]]) -> Result<Inferred, String> {
    let lines: Vec<&[u8]> = lines
        .iter()
        .copied()
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    let mut cache = SecondCache::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in &lines {
        let Some(f) = split(l).and_then(|sp| line_format(&sp, &mut cache)) else {
            continue;
        };
        if let Some((_, n)) = counts.iter_mut().find(|(g, _)| *g == f) {
            *n += 1;
        } else if counts.len() < 64 {
            counts.push((f, 1));
        }
    }
    let Some((format, _)) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, (_, n))| (*n, usize::MAX - i))
        .map(|(_, x)| x.clone())
    else {
        return Err("no line looks like a php-fpm access line".into());
    };
    let mut p = FpmAccessParser::compile(&format)
        .map_err(|e| format!("the inferred access.format does not compile: {e}"))?;
    let mut parsed = 0;
    let mut offset = None;
    for l in &lines {
        if let Ok(r) = p.parse_request(l) {
            if r.ts.wall_us != 0 {
                parsed += 1;
                offset = offset.or(r.ts.offset);
            }
        }
    }
    if parsed < 2 {
        return Err(format!(
            "the inferred access.format '{format}' parses {parsed} of {} lines",
            lines.len()
        ));
    }
    Ok(Inferred {
        format: Format::FpmAccess,
        log_format: format,
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

    #[test]
    fn lab2_format() {
        let i = inf(&[
            r#"127.0.0.1 [05/Dec/2026:15:15:46 +0000] "GET /index.php" 200 19.982 ms 2048 KB 0.00% pool=www pid=8797"#,
            r#"127.0.0.1 [05/Dec/2026:15:15:49 +0000] "GET /api/index.php?v=2" 200 19.687 ms 2048 KB 0.00% pool=api pid=9198"#,
            "NOTICE: PHP message: PHP Fatal error:  Uncaught Error",
        ])
        .unwrap();
        assert_eq!(
            i.log_format,
            r#"%R [%t] "%m %r%Q%q" %s %{mili}d ms %{kilo}M KB %C%% pool=%n pid=%p"#
        );
        assert_eq!((i.lines_parsed, i.lines), (2, 3));
        assert_eq!(i.format, Format::FpmAccess);
        assert_eq!(i.offset, Some(0));
    }

    #[test]
    fn units_attached_and_unbracketed_time() {
        let i = inf(&[
            r#"10.0.0.1 - 05/Dec/2026:15:15:46 +0100 "POST /a.php" 502 1.500s 4096KB 12.50%"#,
            r#"10.0.0.2 - 05/Dec/2026:15:15:47 +0100 "GET /b.php?x=1" 200 0.020s 2048KB 0.00%"#,
        ])
        .unwrap();
        assert_eq!(
            i.log_format,
            r#"%R - %t "%m %r%Q%q" %s %ds %{kilo}MKB %C%%"#
        );
        assert_eq!(i.offset, Some(3600));
    }

    #[test]
    fn nginx_lines_are_not_php_fpm() {
        // a request with its protocol and nothing php-fpm-specific: nginx's to infer
        let e = inf(&[
            r#"10.0.0.1 [05/Dec/2026:15:15:46 +0000] "GET /index.php HTTP/1.1" 200 612 rt=0.010"#,
            r#"10.0.0.2 [05/Dec/2026:15:15:47 +0000] "GET /x HTTP/1.1" 404 12 rt=0.001"#,
        ]);
        assert!(e.is_err(), "{e:?}");
        assert!(inf(&["hello world", "", "[x] 200"]).is_err());
    }
}
