//! AWS Application Load Balancer access log.
//!
//! Layout (fields after `user_agent` are optional, so older logs with fewer fields and
//! future logs with more both parse; trailing fields beyond `conn_trace_id` are ignored):
//!
//! ```text
//! type time elb client:port target:port request_processing_time target_processing_time
//! response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//! "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
//! "redirect_url" "error_reason" "target:port_list" "target_status_code_list"
//! "classification" "classification_reason" conn_trace_id
//! ```
//!
//! Mapping: `status` = elb_status_code, `upstream_status` = target_status_code (`-` →
//! empty), `upstream_addr` = target:port, `upstream_response_time` = target_processing_time
//! as logged (seconds; `-1` → empty), `request_time_us` = the sum of the three processing
//! times (`None` when any is `-1`), `lb_flags` = error_reason, `trace_id` = trace_id
//! (`Root=1-...`, as the target sees it in `X-Amzn-Trace-Id`), `route` = the `elb` field
//! (`app/name/id`). `path` is the origin-form target (the absolute URL minus scheme and
//! authority), `host` the URL's host (without port); `request_line` keeps the logged request.
//!
//! The same files can also hold lines of the other ELBv2 logs; they are recognised and
//! [`Record::Ignored`]: NLB TLS access log lines (`tls 2.0 ...`) and ALB connection log lines
//! (`time client_ip client_port listener_port tls_protocol ...`), which carry no HTTP data.
//! Quoted fields and unquoted fields are accepted interchangeably after `user_agent` (early
//! samples wrote `domain_name`/`chosen_cert_arn` bare), and a missing space after a closing
//! quote is tolerated.
use super::{split_url, strip_port, Cur};
use crate::fields::{dash_empty, parse_status, parse_u64, split_request_line};
use crate::time::SecondCache;
use crate::{Format, LineParser, ParseError, Record, Request};

#[derive(Clone, Default)]
pub struct AlbParser {
    cache: SecondCache,
}

impl AlbParser {
    pub fn new() -> Self {
        Self::default()
    }
}

impl AlbParser {
    fn iso_full(&mut self, b: &[u8]) -> Option<crate::Ts> {
        let (ts, used) = self.cache.iso8601(b)?;
        (used == b.len()).then_some(ts)
    }

    /// NLB TLS listener line: `tls 2.0 2018-12-20T02:59:40 net/...`.
    fn nlb<'a>(&mut self, c: &mut Cur<'a>) -> Result<Record<'a>, ParseError> {
        let ver = c.word("version")?;
        if !ver.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
            return Err(ParseError::invalid("version", c.pos));
        }
        let p = c.pos;
        let t = c.word("time")?;
        self.iso_full(t).ok_or(ParseError::invalid("time", p))?;
        let elb = c.word("elb")?;
        if !elb.starts_with(b"net/") {
            return Err(ParseError::not_this_format(p));
        }
        Ok(Record::Ignored)
    }

    /// ALB connection log line: `time client_ip client_port listener_port ...`.
    fn connection_log<'a>(&mut self, c: &mut Cur<'a>) -> Result<Record<'a>, ParseError> {
        c.word("client_ip")?;
        let p = c.pos;
        let cp = c.word("client_port")?;
        let lp = c.word("listener_port")?;
        if parse_u64(cp).is_none() || parse_u64(lp).is_none() {
            return Err(ParseError::not_this_format(p));
        }
        Ok(Record::Ignored)
    }
}

impl LineParser for AlbParser {
    fn format(&self) -> Format {
        Format::Alb
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        if super::is_blank(rec) {
            return Ok(Record::Ignored);
        }
        let mut c = Cur::new(rec);
        let ty = c.word("type")?;
        match ty {
            b"http" | b"https" | b"h2" | b"grpcs" | b"ws" | b"wss" => {}
            b"tls" => return self.nlb(&mut c),
            _ if ty.first().is_some_and(u8::is_ascii_digit) => {
                self.iso_full(ty).ok_or(ParseError::not_this_format(0))?;
                return self.connection_log(&mut c);
            }
            _ => return Err(ParseError::not_this_format(0)),
        }
        let mut r = Request::default();
        let p = c.pos;
        let t = c.word("time")?;
        r.ts = self.iso_full(t).ok_or(ParseError::invalid("time", p + 1))?;
        super::aws_leading(&mut c, &mut r, "target", "target_processing_time", true)?;
        let p = c.pos;
        let st = c.word("elb_status_code")?;
        r.status = if st == b"-" {
            0
        } else {
            parse_status(st).ok_or(ParseError::invalid("elb_status_code", p + 1))?
        };
        let p = c.pos;
        let ts = dash_empty(c.word("target_status_code")?);
        if !ts.is_empty() && parse_status(ts).is_none() {
            return Err(ParseError::invalid("target_status_code", p + 1));
        }
        r.upstream_status = ts;
        let p = c.pos;
        let rb = c.word("received_bytes")?;
        if rb != b"-" && parse_u64(rb).is_none() {
            return Err(ParseError::invalid("received_bytes", p + 1));
        }
        let p = c.pos;
        let sb = c.word("sent_bytes")?;
        r.bytes_sent = parse_u64(sb);
        if sb != b"-" && r.bytes_sent.is_none() {
            return Err(ParseError::invalid("sent_bytes", p + 1));
        }
        let req = c.quoted("request")?;
        r.request_line = req;
        let (m, target, proto) = split_request_line(req);
        r.method = if m == b"-" { &[] } else { m };
        let (authority, path) = split_url(target);
        r.host = strip_port(authority);
        r.path = if authority.is_empty() {
            dash_empty(target)
        } else {
            path
        };
        r.protocol = if proto == b"-" { &[] } else { proto };
        r.user_agent = dash_empty(c.quoted("user_agent")?);
        // Optional tail, in documented order.
        let mut i = 0;
        while let Some(v) = c.opt("field")? {
            match i {
                3 => r.trace_id = dash_empty(v),                  // trace_id
                4 if r.host.is_empty() => r.host = dash_empty(v), // domain_name (SNI)
                10 => r.lb_flags = dash_empty(v),                 // error_reason
                11 if r.upstream_addr.is_empty() => r.upstream_addr = dash_empty(v),
                12 if r.upstream_status.is_empty() => r.upstream_status = dash_empty(v),
                _ => {}
            }
            i += 1;
        }
        Ok(Record::Request(r))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(Self::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &[u8]) -> Request<'_> {
        match AlbParser::new().parse(line) {
            Ok(Record::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn full_layout() {
        let l = br#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 502 - 0 57 "GET https://www.example.com:443/a?b=1 HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:cert" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "TargetConnectionError" "10.0.0.1:80" "-" "Ambiguous" "SpaceInUri" TID_1 "x" "y""#;
        let r = req(l);
        assert_eq!(r.status, 502);
        assert_eq!(r.upstream_status, b"");
        assert_eq!(r.upstream_addr, b"10.0.0.1:80");
        assert_eq!(r.client, b"192.168.131.39");
        assert_eq!(r.request_time_us, Some(171_000));
        assert_eq!(r.upstream_response_time, b"0.048");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.host, b"www.example.com");
        assert_eq!(r.path, b"/a?b=1");
        assert_eq!(r.protocol, b"HTTP/1.1");
        assert_eq!(r.trace_id, b"Root=1-58337281-1d84f3d73c47ec4e58577259");
        assert_eq!(r.lb_flags, b"TargetConnectionError");
        assert_eq!(r.route, b"app/my-loadbalancer/50dc6c495c0c9188");
        assert_eq!(r.bytes_sent, Some(57));
        assert_eq!(r.ts.offset, Some(0));
        assert_eq!(r.ts.wall_us % 1_000_000, 186_641);
    }

    #[test]
    fn timeouts_and_short_lines() {
        let r = req(br#"http 2019-10-11T15:01:50.492440Z app/x/y 77.227.156.41:56488 10.0.1.107:80 -1 -1 -1 504 - 125 308 "GET http://h:80/ HTTP/1.1" "curl/7.58.0""#);
        assert_eq!(r.status, 504);
        assert_eq!(r.request_time_us, None);
        assert_eq!(r.upstream_response_time, b"");
        let r = req(br#"http 2018-11-30T22:23:00.186641Z app/x/y 1.2.3.4:2817 - -1 -1 -1 400 - 0 0 "- http://www.example.com:80- -" "-" - - - "-" "-" "-" 0 2018-11-30T22:22:48.364000Z "-" "-" "-""#);
        assert_eq!(r.method, b"");
        assert_eq!(r.path, b"");
        assert_eq!(r.upstream_addr, b"");
        assert_eq!(r.user_agent, b"");
    }

    #[test]
    fn rejects_and_ignores() {
        let mut p = AlbParser::new();
        assert!(matches!(p.parse(b""), Ok(Record::Ignored)));
        assert!(p.parse(b"http").is_err());
        assert!(p.parse(b"http 2018-07-02T22:23:00Z app/x 1.2.3.4:1 - x 0 0 200 200 0 0 \"GET / HTTP/1.1\" \"-\"").is_err());
        assert!(p.parse(b"GET / HTTP/1.1").is_err());
        assert!(p.parse(b"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" - -").is_err());
        assert!(matches!(p.parse(b"tls 2.0 2018-12-20T02:59:40 net/nlb/c6e g3d 1.2.3.4:2817 10.0.0.1:80 5 2 98 246 -"), Ok(Record::Ignored)));
        assert!(matches!(
            p.parse(b"2024-11-29T13:45:24.599544Z 172.31.43.26 58206 80 - - - \"-\" - - - TID_1"),
            Ok(Record::Ignored)
        ));
        // never panics on arbitrary bytes
        let l = br#"https 2018-07-02T22:23:00.186641Z app/x 1.2.3.4:1 10.0.0.1:80 0.1 0.1 0.1 200 200 1 2 "GET / HTTP/1.1" "ua" "a\"#;
        for n in 0..l.len() {
            let _ = p.parse(&l[..n]);
        }
    }
}
