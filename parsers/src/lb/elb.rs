//! AWS Classic ELB access log.
//!
//! ```text
//! time elb client:port backend:port request_processing_time backend_processing_time
//! response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol
//! ```
//!
//! Mapping as for ALB: `status` = elb_status_code, `upstream_status` = backend_status_code,
//! `upstream_addr` = backend:port, `upstream_response_time` = backend_processing_time
//! (seconds as logged, `-1` → empty), `request_time_us` = sum of the three times, `route` =
//! the LB name. `user_agent` and the SSL fields are optional (older logs end after the
//! request). TCP and SSL listener lines (status `-`, request `"- - - "`) carry no HTTP and
//! are [`Record::Ignored`].
use super::{split_url, strip_port, Cur};
use crate::fields::{dash_empty, parse_status, parse_u64, split_request_line};
use crate::time::SecondCache;
use crate::{Format, LineParser, ParseError, Record, Request};

#[derive(Clone, Default)]
pub struct ElbParser {
    cache: SecondCache,
}

impl ElbParser {
    pub fn new() -> Self {
        Self::default()
    }
}

impl LineParser for ElbParser {
    fn format(&self) -> Format {
        Format::Elb
    }

    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        if super::is_blank(rec) {
            return Ok(Record::Ignored);
        }
        let mut c = Cur::new(rec);
        let t = c.word("time")?;
        let ts = match self.cache.iso8601(t) {
            Some((ts, used)) if used == t.len() => ts,
            _ => return Err(ParseError::not_this_format(0)),
        };
        let mut r = Request {
            ts,
            ..Default::default()
        };
        super::aws_leading(&mut c, &mut r, "backend", "backend_processing_time", false)?;
        let p = c.pos;
        let st = c.word("elb_status_code")?;
        let p2 = c.pos;
        let bs = dash_empty(c.word("backend_status_code")?);
        let rb = c.word("received_bytes")?;
        let p3 = c.pos;
        let sb = c.word("sent_bytes")?;
        if parse_u64(rb).is_none() {
            return Err(ParseError::invalid("received_bytes", p3));
        }
        r.bytes_sent = Some(parse_u64(sb).ok_or(ParseError::invalid("sent_bytes", p3 + 1))?);
        let req = c.quoted("request")?;
        let ua = c.opt("user_agent")?;
        c.opt("ssl_cipher")?;
        c.opt("ssl_protocol")?;
        if st == b"-" {
            // TCP/SSL listener: no HTTP status, request "- - - ".
            if req.iter().all(|&b| b == b'-' || b == b' ') {
                return Ok(Record::Ignored);
            }
            return Err(ParseError::invalid("elb_status_code", p + 1));
        }
        r.status = parse_status(st).ok_or(ParseError::invalid("elb_status_code", p + 1))?;
        if !bs.is_empty() && parse_status(bs).is_none() {
            return Err(ParseError::invalid("backend_status_code", p2 + 1));
        }
        r.upstream_status = bs;
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
        r.user_agent = dash_empty(ua.unwrap_or(&[]));
        Ok(Record::Request(r))
    }

    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(Self::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_tcp_and_503() {
        let mut p = ElbParser::new();
        let Ok(Record::Request(r)) = p.parse(br#"2015-05-13T23:39:43.945958Z my-lb 192.168.131.39:2817 - -1 -1 -1 503 - 0 0 "GET http://www.example.com:80/x HTTP/1.1" "curl/7.38.0" - -"#) else { panic!() };
        assert_eq!(r.status, 503);
        assert_eq!(r.upstream_addr, b"");
        assert_eq!(r.upstream_status, b"");
        assert_eq!(r.request_time_us, None);
        assert_eq!(r.path, b"/x");
        assert_eq!(r.route, b"my-lb");
        let Ok(Record::Request(r)) = p.parse(br#"2019-10-14T12:01:41.918996Z lb 81.2.69.143:54001 10.0.0.169:80 0.000041 0.00491 0.000027 200 200 0 612 "GET http://h:80/ HTTP/1.1" "ua" - -"#) else { panic!() };
        assert_eq!(r.request_time_us, Some(41 + 4910 + 27));
        assert_eq!(r.upstream_response_time, b"0.00491");
        assert!(matches!(p.parse(br#"2015-05-13T23:39:43.945958Z my-lb 192.168.131.39:2817 - -1 -1 -1 - - 82 0 "- - - " "-" - -"#), Ok(Record::Ignored)));
        // An ALB line is not an ELB line.
        assert!(p.parse(br#"http 2018-07-02T22:23:00.186641Z app/x/y 1.2.3.4:1 - 0.0 0.0 0.0 200 200 1 2 "GET / HTTP/1.1" "-""#).is_err());
        let l = br#"2019-10-14T12:01:41.918996Z lb 81.2.69.143:54001 10.0.0.169:80 0.000041 0.00491 0.000027 200 200 0 612 "GET http://h:80/ HTTP/1.1" "ua" - -"#;
        for n in 0..l.len() {
            let _ = p.parse(&l[..n]);
        }
    }
}
