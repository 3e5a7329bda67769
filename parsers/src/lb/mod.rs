//! Load balancer access logs: AWS ALB and Classic ELB, Alibaba SLB (as exported from Log
//! Service), HAProxy, Envoy and Traefik.
//!
//! Conventions shared by these parsers (layer [`crate::Layer::Lb`]):
//! - `status` is what the LB sent to the client; `upstream_status` the target's status when
//!   the format logs one; `upstream_addr` the target; `route` the LB/listener/frontend/router;
//!   `lb_flags` the LB's own verdict (ALB `error_reason`, HAProxy termination state, Envoy
//!   response flags, SLB [`SLB_LB_GENERATED`] / [`SLB_LB_TRANSLATED`] markers).
//! - `upstream_response_time` keeps the target time exactly as logged; its unit depends on the
//!   format (seconds for ALB/ELB/SLB, milliseconds for HAProxy `Tr` and Envoy
//!   `x-envoy-upstream-service-time`, nanoseconds for Traefik JSON `OriginDuration`). Use
//!   [`upstream_time_us`] to decode it.
//! - Blank lines are [`crate::Record::Ignored`].
pub mod alb;
pub mod elb;
pub mod envoy;
pub mod haproxy;
pub mod json;
pub mod slb;
pub mod traefik;

use crate::fields::find_closing_quote;
use crate::{Format, ParseError};
use memchr::memchr;

pub use slb::{SLB_LB_GENERATED, SLB_LB_TRANSLATED};

/// Decode the raw `upstream_response_time` of a record of `format` into microseconds, using
/// that format's unit (see the module docs). For lists (`a, b`) the last entry is used.
/// `None` for `-`, empty, `-1` or garbage.
#[inline]
pub fn upstream_time_us(format: Format, raw: &[u8]) -> Option<u64> {
    let one = |v: &[u8]| match format {
        Format::Haproxy | Format::Envoy => ms_us(v),
        Format::Traefik => crate::fields::parse_u64(v).map(|ns| ns / 1000),
        _ => crate::time::parse_secs_us(v),
    };
    // The usual single value first: when it parses, it holds no list separator, so it is
    // its own last entry.
    if let Some(us) = one(raw) {
        return Some(us);
    }
    let v = crate::fields::upstream_last(raw);
    if v.len() == raw.len() {
        return None;
    }
    one(v)
}

/// Milliseconds (integer, optional leading `+`) to microseconds. `-1`, `-` → `None`.
#[inline]
pub(crate) fn ms_us(b: &[u8]) -> Option<u64> {
    let b = b.strip_prefix(b"+").unwrap_or(b);
    crate::fields::parse_u64(b)?.checked_mul(1000)
}

/// The address part of `ip:port`, `[v6]:port` or an unbracketed IPv6 `a:b::c:port` as ALB
/// writes it. `-` and empty → empty.
pub(crate) fn strip_port(a: &[u8]) -> &[u8] {
    if a.is_empty() || a == b"-" {
        return &[];
    }
    if let Some(rest) = a.strip_prefix(b"[") {
        if let Some(e) = memchr(b']', rest) {
            return rest.get(..e).unwrap_or(rest);
        }
        return a;
    }
    match memchr::memrchr(b':', a) {
        Some(i) => {
            let port = a.get(i + 1..).unwrap_or(&[]);
            if !port.is_empty() && port.iter().all(u8::is_ascii_digit) {
                a.get(..i).unwrap_or(a)
            } else {
                a
            }
        }
        None => a,
    }
}

/// Split an absolute-form request target `scheme://authority/path?q` into (authority,
/// path-and-query). Anything else is returned as (empty, target).
pub(crate) fn split_url(t: &[u8]) -> (&[u8], &[u8]) {
    let Some(p) = memchr::memmem::find(t, b"://") else {
        return (&[], t);
    };
    let scheme = t.get(..p).unwrap_or(&[]);
    if scheme.is_empty() || scheme.len() > 10 || !scheme.iter().all(u8::is_ascii_alphabetic) {
        return (&[], t);
    }
    let rest = t.get(p + 3..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|&c| c == b'/' || c == b'?')
        .unwrap_or(rest.len());
    (
        rest.get(..end).unwrap_or(&[]),
        rest.get(end..).unwrap_or(&[]),
    )
}

/// `host:port` → `host` for a Host header / URL authority (keeps IPv6 brackets' content).
pub(crate) fn host_only(a: &[u8]) -> &[u8] {
    strip_port(a)
}

/// An AWS processing time (ALB, Classic ELB): seconds with a fraction; `-1` (and `-` where
/// `dash` says the format writes it) → `None`.
pub(crate) fn aws_proc_time(
    b: &[u8],
    field: &'static str,
    pos: usize,
    dash: bool,
) -> Result<Option<u64>, ParseError> {
    if b == b"-1" || (dash && b == b"-") {
        return Ok(None);
    }
    crate::time::parse_secs_us(b)
        .map(Some)
        .ok_or(ParseError::invalid(field, pos))
}

/// The fields AWS ALB and Classic ELB share after the time: the load balancer's name, the
/// client and the target (`ip:port`), and the request, target and response processing times
/// (their sum is the request time; the target's raw time is kept as the upstream response
/// time). `target` and `target_time` are the format's names for the target's fields.
pub(crate) fn aws_leading<'a>(
    c: &mut Cur<'a>,
    r: &mut crate::Request<'a>,
    target: &'static str,
    target_time: &'static str,
    dash: bool,
) -> Result<(), ParseError> {
    r.route = c.word("elb")?;
    r.client = strip_port(c.word("client")?);
    r.upstream_addr = crate::fields::dash_empty(c.word(target)?);
    let p = c.pos;
    let rq = aws_proc_time(
        c.word("request_processing_time")?,
        "request_processing_time",
        p,
        dash,
    )?;
    let p = c.pos;
    let raw = c.word(target_time)?;
    let tg = aws_proc_time(raw, target_time, p, dash)?;
    if tg.is_some() {
        r.upstream_response_time = raw;
    }
    let p = c.pos;
    let rs = aws_proc_time(
        c.word("response_processing_time")?,
        "response_processing_time",
        p,
        dash,
    )?;
    r.request_time_us = match (rq, tg, rs) {
        (Some(a), Some(b), Some(d)) => Some(a + b + d),
        _ => None,
    };
    Ok(())
}

/// A cursor over a space-separated record with `"quoted"` fields. Every read skips the
/// spaces before the field (so doubled spaces are tolerated) and never panics.
pub(crate) struct Cur<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cur<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Cur { b, pos: 0 }
    }
    #[inline]
    pub fn skip_ws(&mut self) {
        while self.b.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }
    /// The next byte after spaces (does not consume the spaces... it does: harmless).
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.b.get(self.pos).copied()
    }
    #[inline]
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }
    /// A run of non-space bytes.
    pub fn word(&mut self, field: &'static str) -> Result<&'a [u8], ParseError> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let n = memchr(b' ', rest).unwrap_or(rest.len());
        if n == 0 {
            return Err(ParseError::truncated(field, start));
        }
        self.pos += n;
        Ok(rest.get(..n).unwrap_or(&[]))
    }
    /// A `"..."` field (backslash escapes honoured); returns the inside.
    pub fn quoted(&mut self, field: &'static str) -> Result<&'a [u8], ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.b.get(start) {
            Some(b'"') => {}
            Some(_) => return Err(ParseError::expected("\"", field, start)),
            None => return Err(ParseError::truncated(field, start)),
        }
        let inner = self.b.get(start + 1..).unwrap_or(&[]);
        let end =
            find_closing_quote(inner).ok_or(ParseError::expected("closing \"", field, start))?;
        self.pos = start + 1 + end + 1;
        Ok(inner.get(..end).unwrap_or(&[]))
    }
    /// A quoted field if it starts with `"`, else a word.
    pub fn field(&mut self, field: &'static str) -> Result<&'a [u8], ParseError> {
        if self.peek() == Some(b'"') {
            self.quoted(field)
        } else {
            self.word(field)
        }
    }
    /// An optional trailing field: `None` at the end of the record.
    pub fn opt(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, ParseError> {
        if self.at_end() {
            Ok(None)
        } else {
            self.field(field).map(Some)
        }
    }
    /// A `[...]` field; returns the inside.
    pub fn bracket(&mut self, field: &'static str) -> Result<&'a [u8], ParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.b.get(start) != Some(&b'[') {
            return Err(ParseError::expected("[", field, start));
        }
        let inner = self.b.get(start + 1..).unwrap_or(&[]);
        let end = memchr(b']', inner).ok_or(ParseError::expected("]", field, start))?;
        self.pos = start + 1 + end + 1;
        Ok(inner.get(..end).unwrap_or(&[]))
    }
}

/// The whole of `b` is blank (spaces, tabs, CR).
#[inline]
pub(crate) fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(strip_port(b"10.0.0.1:80"), b"10.0.0.1");
        assert_eq!(strip_port(b"[::1]:80"), b"::1");
        assert_eq!(strip_port(b"2601:6bbc::6bbc:50599"), b"2601:6bbc::6bbc");
        assert_eq!(strip_port(b"-"), b"");
        assert_eq!(strip_port(b"host"), b"host");
        assert_eq!(
            split_url(b"http://www.example.com:80/a?b"),
            (&b"www.example.com:80"[..], &b"/a?b"[..])
        );
        assert_eq!(split_url(b"/x"), (&b""[..], &b"/x"[..]));
        assert_eq!(split_url(b"http://h:80-"), (&b"h:80-"[..], &b""[..]));
        assert_eq!(ms_us(b"+30"), Some(30_000));
        assert_eq!(ms_us(b"-1"), None);
        assert_eq!(upstream_time_us(Format::Alb, b"0.048"), Some(48_000));
        assert_eq!(upstream_time_us(Format::Haproxy, b"69"), Some(69_000));
        assert_eq!(upstream_time_us(Format::Traefik, b"204708"), Some(204));
        assert_eq!(upstream_time_us(Format::Slb, b"-"), None);
    }

    #[test]
    fn cursor() {
        let mut c = Cur::new(br#"a  "b \" c" [d e] "unterminated"#);
        assert_eq!(c.word("a").unwrap(), b"a");
        assert_eq!(c.quoted("b").unwrap(), br#"b \" c"#);
        assert_eq!(c.bracket("d").unwrap(), b"d e");
        assert!(c.quoted("x").is_err());
        let mut c = Cur::new(b"");
        assert!(c.word("w").is_err());
        assert_eq!(c.opt("o").unwrap(), None);
    }
}
