//! Alibaba Cloud CLB (`slb_layer7_access_log`) and ALB (`alb_layer7_access_log`) layer-7
//! access records as read back from Log Service: JSON Lines (`pull_log_dump`, OSS shipping),
//! one-line JSON arrays (`aliyunlog log get_log`), concatenated arrays (`get_log_all`), and
//! pretty-printed arrays (`--format-output=json`, one member per line; see
//! [`SlbParser::starts_record`]). `__time__` may be a number or a string. Field table and
//! units: `shared/formats/alibaba-slb.md`.
//!
//! Mapping: `status` = `status` (what the LB sent), `upstream_status` / `upstream_addr` /
//! `upstream_response_time` (seconds, as logged) from the fields of the same names (`-` →
//! empty), `request_time_us` from `request_time` (seconds), `client` = `client_ip`, `host` =
//! `host` (else `http_host`), `path` = `request_uri`, `route` = the instance id (`slbid` or
//! `app_lb_id`), `trace_id` = `request_traceid` when logged. Timestamp from `time` (ISO 8601
//! with offset), else `__time__` (epoch seconds, UTC).
//!
//! `lb_flags` carries Alibaba's LB-vs-backend rule as a static marker:
//! [`SLB_LB_GENERATED`] when no backend answered (`upstream_status` `-`/empty: the LB made
//! the status itself), [`SLB_LB_TRANSLATED`] when both are numeric and differ (the LB turned
//! the backend's answer into another code; the real cause is `upstream_status`), empty when
//! the backend's status was passed through.
//!
//! A line can hold several records (one-line array). [`LineParser::parse`] returns the first;
//! [`LineParser::parse_each`] yields all of them. Lines holding only `[`, `]` or `,` are
//! [`Record::Ignored`].
use super::json::{scan_object, skip_ws, Val};
use crate::fields::{dash_empty, parse_status, parse_u64, upstream_last};
use crate::time::{parse_epoch, parse_secs_us, SecondCache};
use crate::{ErrorKind, Format, Framing, LineParser, ParseError, Record, Request};

/// `lb_flags` marker: the LB generated the status (no backend response).
pub const SLB_LB_GENERATED: &[u8] = b"lb_generated";
/// `lb_flags` marker: the LB translated a different backend status into `status`.
pub const SLB_LB_TRANSLATED: &[u8] = b"lb_translated";

#[derive(Clone, Default)]
pub struct SlbParser {
    cache: SecondCache,
}

impl SlbParser {
    pub fn new() -> Self {
        Self::default()
    }

    fn object<'a>(&mut self, b: &'a [u8], start: usize) -> Result<(Record<'a>, usize), ParseError> {
        let mut r = Request::default();
        let mut time: Option<&'a [u8]> = None;
        let mut epoch: Option<&'a [u8]> = None;
        let mut status: Option<&'a [u8]> = None;
        let mut http_host: &'a [u8] = &[];
        let mut slb_keys = 0u32;
        let mut rt: &'a [u8] = &[];
        let mut sent: &'a [u8] = &[];
        let end = scan_object(b, start, |k, v| {
            let s = match v {
                Val::Str(s) | Val::Num(s) => s,
                _ => return,
            };
            match k {
                b"time" => time = Some(s),
                b"__time__" => epoch = Some(s),
                b"status" => status = Some(s),
                b"client_ip" => r.client = dash_empty(s),
                b"request_method" => r.method = dash_empty(s),
                b"request_uri" => r.path = dash_empty(s),
                b"server_protocol" => r.protocol = dash_empty(s),
                b"host" => r.host = dash_empty(s),
                b"http_host" => http_host = dash_empty(s),
                b"http_referer" => r.referer = dash_empty(s),
                b"http_user_agent" => r.user_agent = dash_empty(s),
                b"upstream_status" => {
                    slb_keys += 1;
                    r.upstream_status = dash_empty(s)
                }
                b"upstream_addr" => r.upstream_addr = dash_empty(s),
                b"upstream_response_time" => r.upstream_response_time = dash_empty(s),
                b"request_time" => rt = s,
                b"body_bytes_sent" => sent = s,
                b"slbid" | b"app_lb_id" => {
                    slb_keys += 1;
                    r.route = dash_empty(s)
                }
                b"vip_addr" => slb_keys += 1,
                b"__topic__" if s.ends_with(b"_layer7_access_log") => slb_keys += 1,
                b"request_traceid" => r.trace_id = dash_empty(s),
                _ => {}
            }
        })
        .map_err(|p| ParseError::invalid("json", p))?;
        let Some(st) = status else {
            return Err(ParseError::not_this_format(start));
        };
        if slb_keys == 0 {
            return Err(ParseError::not_this_format(start));
        }
        r.status = parse_status(st).ok_or(ParseError::invalid("status", start))?;
        let iso = time.and_then(|t| match self.cache.iso8601(t) {
            Some((ts, used)) if used == t.len() => Some(ts),
            _ => None,
        });
        r.ts = match (iso, time, epoch) {
            (Some(ts), _, _) => ts,
            (None, _, Some(e)) => parse_epoch(e).ok_or(ParseError::invalid("__time__", start))?,
            (None, Some(_), None) => return Err(ParseError::invalid("time", start)),
            (None, None, None) => return Err(ParseError::truncated("time", start)),
        };
        if r.host.is_empty() {
            r.host = super::host_only(http_host);
        }
        r.request_time_us = parse_secs_us(upstream_last(rt));
        r.bytes_sent = parse_u64(sent);
        let last = upstream_last(r.upstream_status);
        r.lb_flags = if last.is_empty() || last == b"-" {
            SLB_LB_GENERATED
        } else if last != st {
            SLB_LB_TRANSLATED
        } else {
            &[]
        };
        Ok((Record::Request(r), end))
    }

    /// Position of the next object at or after `i`, skipping array punctuation; `None` at
    /// the end of the record.
    fn next_object(b: &[u8], mut i: usize) -> Result<Option<usize>, ParseError> {
        loop {
            i = skip_ws(b, i);
            match b.get(i) {
                None => return Ok(None),
                Some(b'[' | b']' | b',') => i += 1,
                Some(b'{') => return Ok(Some(i)),
                Some(_) => return Err(ParseError::new(ErrorKind::NotThisFormat, "line", i)),
            }
        }
    }
}

impl LineParser for SlbParser {
    fn format(&self) -> Format {
        Format::Slb
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let Some(i) = Self::next_object(rec, 0)? else {
            return Ok(Record::Ignored);
        };
        let (r, end) = self.object(rec, i)?;
        // Whatever follows must be more objects or array punctuation.
        let mut j = end;
        while let Some(k) = Self::next_object(rec, j)? {
            j = super::json::value(rec, k)
                .map(|(_, e)| e)
                .ok_or(ParseError::invalid("json", k))?;
        }
        Ok(r)
    }

    fn parse_each<'a>(
        &mut self,
        rec: &'a [u8],
        out: &mut dyn FnMut(&Result<Record<'a>, ParseError>),
    ) {
        let mut i = 0;
        let mut any = false;
        loop {
            match Self::next_object(rec, i) {
                Ok(None) => break,
                Ok(Some(k)) => match self.object(rec, k) {
                    Ok((r, end)) => {
                        any = true;
                        out(&Ok(r));
                        i = end;
                    }
                    Err(e) => {
                        any = true;
                        out(&Err(e));
                        // Skip the bad object if its JSON is sound, else give up on the line.
                        match super::json::value(rec, k) {
                            Some((_, end)) => i = end,
                            None => break,
                        }
                    }
                },
                Err(e) => {
                    any = true;
                    out(&Err(e));
                    break;
                }
            }
        }
        if !any {
            out(&Ok(Record::Ignored));
        }
    }

    fn framing(&self) -> Framing {
        Framing::MultiLine
    }

    /// A record starts at a line that opens an object at the top level (JSON Lines `{`, or
    /// `  {` inside a pretty-printed array with indent ≤ 2) or at a `[`/`]` line; member lines
    /// of a pretty-printed object (`    "status": "502",`) and its closing `  },` continue it.
    fn starts_record(&self, line: &[u8]) -> bool {
        match line.first() {
            Some(b'{' | b'[' | b']') => true,
            Some(b' ') => {
                matches!(line.get(1..3), Some(b"{" | b" {")) || line.get(1) == Some(&b'{')
            }
            Some(_) => true,
            None => false,
        }
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(Self::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = br#"{"client_ip":"59.82.83.112","time":"2026-08-20T21:17:13+08:00","request_method":"-","request_uri":"","server_protocol":"-","status":"502","request_time":"4.205","upstream_addr":"-","upstream_response_time":"-","upstream_status":"-","host":"","http_host":"a.example:8080","app_lb_id":"alb-1","__topic__":"alb_layer7_access_log","body_bytes_sent":"0"}"#;

    fn one(p: &mut SlbParser, l: &[u8]) -> Request<'static> {
        let l: &'static [u8] = Box::leak(l.to_vec().into_boxed_slice());
        match p.parse(l) {
            Ok(Record::Request(r)) => r,
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn lb_generated_502() {
        let mut p = SlbParser::new();
        let r = one(&mut p, A);
        assert_eq!(r.status, 502);
        assert_eq!(r.lb_flags, SLB_LB_GENERATED);
        assert_eq!(r.upstream_addr, b"");
        assert_eq!(r.request_time_us, Some(4_205_000));
        assert_eq!(r.host, b"a.example");
        assert_eq!(r.route, b"alb-1");
        assert_eq!(r.ts.offset, Some(28800));
        assert_eq!(r.method, b"");
    }

    #[test]
    fn translated_and_epoch_and_arrays() {
        let mut p = SlbParser::new();
        let l = br#"[{"__time__":1700000000,"slbid":"lb-1","status":"502","upstream_status":"504","upstream_response_time":"60.001","upstream_addr":"10.0.0.1:80","request_time":"60.002"},{"__time__":"1700000001","slbid":"lb-1","status":"200","upstream_status":"200"}]"#;
        let r = one(&mut p, l);
        assert_eq!(r.lb_flags, SLB_LB_TRANSLATED);
        assert_eq!(r.ts.wall_us, 1_700_000_000_000_000);
        assert_eq!(r.upstream_response_time, b"60.001");
        let mut n = Vec::new();
        p.parse_each(l, &mut |x| {
            n.push(match x {
                Ok(Record::Request(r)) => (r.status, r.lb_flags.to_vec()),
                o => panic!("{o:?}"),
            })
        });
        assert_eq!(n, vec![(502, b"lb_translated".to_vec()), (200, vec![])]);
        for l in [&b"["[..], b"]", b"],", b"  ]", b""] {
            assert!(matches!(p.parse(l), Ok(Record::Ignored)), "{l:?}");
        }
        // trailing comma inside an array, object one per line
        let r = one(&mut p, &[A, b","].concat());
        assert_eq!(r.status, 502);
        // pretty-printed object framed into one record
        let pretty = b"  {\n    \"__time__\": \"1651840532\",\n    \"slbid\": \"lb-2\",\n    \"status\": \"503\",\n    \"upstream_status\": \"503\"\n  },";
        let r = one(&mut p, pretty);
        assert_eq!((r.status, r.lb_flags), (503, &b""[..]));
        assert!(p.starts_record(b"  {"));
        assert!(p.starts_record(b"{\"a\":1}"));
        assert!(p.starts_record(b"]"));
        assert!(!p.starts_record(b"    \"status\": \"503\","));
        assert!(!p.starts_record(b"  },"));
        assert!(!p.starts_record(b"    ]"));
    }

    #[test]
    fn rejects() {
        let mut p = SlbParser::new();
        assert!(p.parse(br#"{"status":"200"}"#).is_err()); // no SLB keys
        assert!(p
            .parse(br#"{"slbid":"x","status":"abc","__time__":"1"}"#)
            .is_err());
        assert!(p.parse(br#"{"slbid":"x","status":"200"}"#).is_err()); // no time
        assert!(p.parse(b"hello").is_err());
        assert!(p
            .parse(br#"{"slbid":"x","status":"200","__time__":"1"} junk"#)
            .is_err());
        for n in 0..A.len() {
            let _ = p.parse(&A[..n]);
        }
    }
}
