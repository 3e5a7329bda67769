//! Causes nginx's error log names: upstream timeouts, refused connections, oversized
//! response headers, no live upstreams, rate limits, PHP fatals in FastCGI stderr.

use gatelog_parsers::EventKind::*;

use super::Scene;
use crate::analysis::report::{display_bytes, Cause};
use crate::analysis::{cause, plural, share, truncate};

/// `upstream_read_timeout`: timeouts reading the upstream's response header or body.
pub(super) fn read_timeout(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    if n.t_header == 0 {
        return None;
    }
    let symptom = n.maxch + n.busy > 0;
    let conf = (0.5 + 0.4 * share(n.t_header, n.s504.max(1))) * if symptom { 0.8 } else { 1.0 };
    let summary = format!(
        "{} while reading the response header or body from the upstream, against {} 504s{}. Compare fastcgi_read_timeout / proxy_read_timeout with how long the backend really takes.",
        plural(n.t_header, "upstream timeout", "upstream timeouts"),
        n.s504,
        if symptom { " (a consequence of the php-fpm saturation above)" } else { "" }
    );
    let mut ev = c.ev_kinds(&[UpstreamTimeoutHeader, UpstreamTimeoutRead], 0);
    ev.extend(c.ev_status(&[504], 1));
    Some(cause("upstream_read_timeout", conf, summary, ev))
}

/// `upstream_connect_timeout`: timeouts connecting to the upstream.
pub(super) fn connect_timeout(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    if n.t_connect == 0 {
        return None;
    }
    let conf = 0.5 + 0.4 * share(n.t_connect, n.s504.max(1));
    let summary = format!(
        "{} while connecting to the upstream ({} 504s): the backend did not accept connections in time (down host, full TCP backlog, firewall). Check the upstream's listen queue and proxy_connect_timeout / fastcgi_connect_timeout.",
        plural(n.t_connect, "timeout", "timeouts"),
        n.s504
    );
    Some(cause(
        "upstream_connect_timeout",
        conf,
        summary,
        c.ev_kinds(&[UpstreamTimeoutConnect], 0),
    ))
}

/// `upstream_refused`: connection refused (111) or a missing unix socket (2).
pub(super) fn refused(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    if n.refused == 0 {
        return None;
    }
    let ups: Vec<String> = c.row_upstreams(&[ConnectRefused, ConnectNoSocket], 0, 3);
    let (refused, s502) = (n.refused, n.s502);
    let conf = 0.55
        + 0.4
            * share(refused.min(s502.max(refused)), s502.max(1)).min(1.0)
            * share(s502, n.errs).max(0.5);
    let summary = format!(
        "{} to {}: nothing was listening (backend stopped, crashed or still starting; a missing unix socket). Start or restart the backend and check its own log.",
        plural(refused, "connection refused / socket missing", "connections refused / sockets missing"),
        if ups.is_empty() { "the upstream".to_string() } else { ups.join(", ") }
    );
    let mut ev = c.ev_kinds(&[ConnectRefused, ConnectNoSocket], 0);
    ev.extend(c.ev_status(&[502], 1));
    Some(cause("upstream_refused", conf, summary, ev))
}

/// `upstream_header_too_big`: the upstream's response headers did not fit the buffer.
pub(super) fn header_too_big(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    let big = c.events(&[UpstreamHeaderTooBig]);
    if big == 0 {
        return None;
    }
    let conf = 0.6 + 0.35 * share(big, n.s502.max(1));
    let summary = format!(
        "{}: the upstream's response headers (cookies, debug headers) did not fit the buffer, so nginx answered 502. Raise fastcgi_buffer_size / proxy_buffer_size (and *_buffers), or send smaller headers.",
        plural(big, "'upstream sent too big header'", "'upstream sent too big header' lines")
    );
    Some(cause(
        "upstream_header_too_big",
        conf,
        summary,
        c.ev_kinds(&[UpstreamHeaderTooBig], 0),
    ))
}

/// `no_live_upstreams`: nginx had marked every server of the group failed; names the most
/// frequent failure before it.
pub(super) fn no_live_upstreams(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    let nolive = c.events(&[NoLiveUpstreams]);
    if nolive == 0 {
        return None;
    }
    let mut before: Vec<(u64, &str)> = [
        (n.refused, "connections refused"),
        (n.t_header + n.t_connect, "timeouts"),
        (n.resets, "connection resets"),
        (n.eagain, "full backlogs"),
    ]
    .into_iter()
    .filter(|x| x.0 > 0)
    .collect();
    before.sort_by_key(|x| std::cmp::Reverse(x.0));
    let why = before
        .first()
        .map(|x| format!(" after {} {}", x.0, x.1))
        .unwrap_or_default();
    let conf = 0.45 + 0.3 * share(nolive, n.s502.max(1));
    let summary = format!(
        "{}: nginx had marked every server of the upstream group failed{} (max_fails / fail_timeout); the 502s are a consequence, fix what failed first.",
        plural(nolive, "'no live upstreams'", "'no live upstreams' lines"),
        why
    );
    Some(cause(
        "no_live_upstreams",
        conf,
        summary,
        c.ev_kinds(&[NoLiveUpstreams], 0),
    ))
}

/// `rate_limited`: limit_req / limit_conn rejections with 503 and 429 answers.
pub(super) fn rate_limited(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    let limited = c.events(&[LimitingRequests, LimitingConnections]);
    if limited == 0 {
        return None;
    }
    let s429 = c.status(429);
    let conf = 0.6 + 0.35 * share(limited.min(n.s503 + s429), (n.s503 + s429).max(1));
    let summary = format!(
        "{} (limit_req / limit_conn) with {} 503 and {} 429 answers: nginx rejected clients over the configured rate. If the traffic is legitimate raise rate/burst of the zone; otherwise this is the limit working.",
        plural(limited, "request limited by zone", "requests limited by zone"),
        n.s503,
        s429
    );
    let mut ev = c.ev_kinds(&[LimitingRequests, LimitingConnections], 0);
    ev.extend(c.ev_status(&[503, 429], 1));
    Some(cause("rate_limited", conf, summary, ev))
}

/// `app_error`: PHP fatal errors in FastCGI stderr, with 500s.
pub(super) fn app_error(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    let fatal = c.events(&[FastcgiPhpFatal]);
    if fatal == 0 {
        return None;
    }
    let s500 = n.s500;
    let conf =
        0.5 + 0.45 * share(fatal.min(s500.max(1)), s500.max(1)) * share(s500, n.errs).max(0.3);
    let msg = c
        .rows(&[FastcgiPhpFatal], 0)
        .next()
        .map(|r| display_bytes(&r.detail))
        .unwrap_or_default();
    let summary = format!(
        "{} from PHP (FastCGI stderr) with {} 500s: an application error, not the gateway. First: {}",
        plural(fatal, "fatal error", "fatal errors"),
        s500,
        truncate(&msg, 160)
    );
    Some(cause(
        "app_error",
        conf,
        summary,
        c.ev_kinds(&[FastcgiPhpFatal], 0),
    ))
}
