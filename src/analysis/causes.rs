//! The causes of an incident (SPEC "Cause vocabulary"): one detector per cause, run in
//! order from one table, [`CHAIN`], by [`attribute`]; then the ranking and chains of SPEC
//! "Which cause comes first, and the chain behind it" ([`rank`]).
//!
//! The detectors live by what they read: [`fpm`] (php-fpm's log), [`nginx`] (nginx's error
//! log), [`lb`] (the load balancer's verdicts), [`spread`] (where the failures fell and who
//! sent them, `unknown` last), and those of this file, which also name causes from partial
//! logs: an nginx access log alone (with its timing fields) or an error log alone.

use gatelog_parsers::{EventKind, Layer};

use crate::agg::acc::ReqRow;
use crate::analysis::report::{Cause, IncidentJoins, Saturation};
use crate::analysis::{cause, fmt_us, plural, share, CauseCtx};

mod client_subset;
mod fpm;
mod lb;
mod nginx;
mod spread;

/// What every detector reads: the incident, the joins of its window, the pool's saturation,
/// and the counts several detectors share (computed once per incident).
pub(crate) struct Scene<'a, 'c> {
    pub(crate) c: &'a CauseCtx<'c>,
    pub(crate) joins: &'a IncidentJoins,
    pub(crate) sat: Option<&'a Saturation>,
    pub(crate) n: Counts,
}

/// Figures of the incident more than one detector uses.
pub(crate) struct Counts {
    pub(crate) s500: u64,
    pub(crate) s502: u64,
    pub(crate) s503: u64,
    pub(crate) s504: u64,
    /// Failed requests, at least 1 (a denominator).
    pub(crate) errs: u64,
    /// How far before the incident php-fpm's max_children lines count (5 minutes, µs).
    pub(crate) five_min: i64,
    /// php-fpm `max_children` and `seems busy` lines (from 5 minutes before).
    pub(crate) maxch: u64,
    pub(crate) busy: u64,
    /// Upstream timeouts reading the header or body, and connecting.
    pub(crate) t_header: u64,
    pub(crate) t_connect: u64,
    /// EAGAIN (11) connecting to a unix socket: a full listen backlog.
    pub(crate) eagain: u64,
    /// Connection resets and premature closes.
    pub(crate) resets: u64,
    /// Connections refused and missing sockets.
    pub(crate) refused: u64,
    /// nginx proxied to itself ([`spread::is_proxy_loop`]).
    pub(crate) self_loop: bool,
}

impl Counts {
    fn of(c: &CauseCtx<'_>) -> Counts {
        use EventKind::*;
        let five_min = 300_000_000;
        Counts {
            s500: c.status(500),
            s502: c.status(502),
            s503: c.status(503),
            s504: c.status(504),
            errs: c.errors.max(1),
            five_min,
            maxch: c.rows(&[FpmMaxChildren], five_min).count() as u64,
            busy: c.rows(&[FpmSeemsBusy], five_min).count() as u64,
            t_header: c.events(&[UpstreamTimeoutHeader, UpstreamTimeoutRead]),
            t_connect: c.events(&[UpstreamTimeoutConnect]),
            eagain: c.events(&[ConnectAgain]),
            resets: c.events(&[RecvReset, UpstreamPrematureClose]),
            refused: c.events(&[ConnectRefused, ConnectNoSocket]),
            self_loop: spread::is_proxy_loop(c),
        }
    }
}

/// A detector: the cause it names in this incident, if any, given the causes found before it.
type Detector = fn(&Scene<'_, '_>, &[Cause]) -> Option<Cause>;

/// Every detector, in the order they run: (what it names, the detector). The order is the
/// order of `causes` before [`rank`] sorts them (ties keep it), and a detector that reads
/// what others found comes after them: the error-log causes first (php-fpm's saturation
/// before the timeouts it explains), then the load balancer's, then the causes of this file
/// (some weigh the ones above), then `single_backend` (says only where when a cause above
/// says why), the loops, `retry_storm`, `client_subset` (stays below a loop, a backend-less
/// LB or a retry storm), `overload` (less sure when a cause above is sure) and `unknown`
/// (only when nothing above reached 0.3). `table_order` in the tests checks these.
pub(crate) const CHAIN: &[(&str, Detector)] = &[
    ("fpm_max_children", fpm::max_children),
    ("upstream_read_timeout", nginx::read_timeout),
    ("upstream_connect_timeout", nginx::connect_timeout),
    ("fpm_request_terminate", fpm::request_terminate),
    ("fpm_worker_crash", fpm::worker_crash),
    ("upstream_refused", nginx::refused),
    ("fpm_listen_backlog", fpm::listen_backlog),
    ("upstream_header_too_big", nginx::header_too_big),
    ("no_live_upstreams", nginx::no_live_upstreams),
    ("rate_limited", nginx::rate_limited),
    ("app_error", nginx::app_error),
    ("lb_backend_down", lb::backend_down),
    ("lb_target_timeout", lb::target_timeout),
    ("fpm_oom_kill", |x, out| fpm_oom_kill(x.c, out)),
    ("upstream_reset", |x, out| upstream_reset(x.c, out)),
    ("proxy_connections_exhausted", |x, out| {
        proxy_connections_exhausted(x.c, out)
    }),
    ("upstream_unreachable", |x, out| {
        upstream_unreachable(x.c, out)
    }),
    ("maintenance", |x, out| maintenance(x.c, out)),
    ("request_header_too_big", |x, out| {
        request_header_too_big(x.c, out)
    }),
    ("lb_health_check_blocked", |x, out| {
        lb_health_check_blocked(x.c, out)
    }),
    ("bandwidth_saturated", |x, out| {
        bandwidth_saturated(x.c, out)
    }),
    ("upstream_read_timeout (access log)", |x, out| {
        access_timeout(x.c, out)
    }),
    ("502 from access fields", |x, out| access_502(x.c, out)),
    ("app_error (access log)", |x, out| access_500(x.c, out)),
    ("single_backend", spread::single_backend),
    ("self_loop (proxy)", spread::proxy_loop),
    ("self_loop (backend through its LB)", spread::lb_loop),
    ("retry_storm", spread::retry_storm),
    ("client_subset", client_subset::client_subset),
    ("overload", spread::overload),
    ("unknown", spread::unknown),
];

/// The causes of one incident, unranked: every detector of [`CHAIN`] in order.
pub(crate) fn attribute(
    c: &CauseCtx<'_>,
    joins: &IncidentJoins,
    sat: Option<&Saturation>,
) -> Vec<Cause> {
    let scene = Scene {
        c,
        joins,
        sat,
        n: Counts::of(c),
    };
    let mut out = Vec::new();
    for (_, d) in CHAIN {
        if let Some(x) = d(&scene, &out) {
            out.push(x);
        }
    }
    out
}

fn has(out: &[Cause], ids: &[&str]) -> bool {
    out.iter().any(|x| ids.contains(&x.cause.as_str()))
}

/// An `http://` or `https://` upstream on a loopback address (nginx proxying to itself); a
/// FastCGI pool on 127.0.0.1 is the usual php-fpm, not a loop.
pub(crate) fn http_loopback(u: &[u8]) -> bool {
    let rest = u
        .strip_prefix(b"http://")
        .or_else(|| u.strip_prefix(b"https://"));
    match rest {
        Some(r) => r.starts_with(b"localhost") || r.starts_with(b"127.") || r.starts_with(b"[::1]"),
        None => false,
    }
}

/// Requests of the incident at the proxy layer (nginx) with this status.
fn proxy_rows<'a>(c: &'a CauseCtx<'_>, status: u16) -> impl Iterator<Item = &'a ReqRow> + 'a {
    c.acc.req_rows.iter().filter(move |r| {
        r.status == status
            && r.layer == Layer::Proxy
            && r.utc_us >= c.start_us
            && r.utc_us < c.end_us
    })
}

/// The value most of `v` sit at (within 5% or 50 ms of the median), with how many do; `None`
/// under 5 values or when fewer than 70% cluster.
pub(crate) fn cluster(v: &mut [u64]) -> Option<(u64, usize)> {
    if v.len() < 5 {
        return None;
    }
    v.sort_unstable();
    let m = v[v.len() / 2];
    let tol = (m / 20).max(50_000);
    let k = v.iter().filter(|&&x| x.abs_diff(m) <= tol).count();
    (k * 10 >= v.len() * 7).then_some((m, k))
}

/// `3.001 s` → `3s`, `2.5 s` → `2.5s`: how a timeout setting would be written.
fn setting(us: u64) -> String {
    let s = us as f64 / 1e6;
    if (s - s.round()).abs() < 0.1 || s >= 10.0 {
        format!("{}s", s.round() as u64)
    } else {
        format!("{s:.1}s")
    }
}

fn fpm_log_given(c: &CauseCtx<'_>) -> bool {
    use EventKind::*;
    c.tl.buckets.iter().any(|b| {
        [
            FpmStarting,
            FpmReady,
            FpmChildStarted,
            FpmChildSignal,
            FpmChildExitCode,
            FpmReloading,
        ]
        .iter()
        .any(|k| b.events[k.index()] > 0)
    })
}

/// php-fpm `child N exited on signal 9 (SIGKILL)` with no `execution timed out` for that
/// child: killed from outside, most often by the kernel's OOM killer.
fn fpm_oom_kill(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    let terminated: Vec<Option<u32>> = c
        .rows(&[FpmExecutionTimedOut], 0)
        .map(|r| r.child_pid)
        .collect();
    let kills: Vec<&crate::agg::acc::EventRow> = c
        .rows(&[FpmChildSignal], 0)
        .filter(|r| r.number == Some(9) && !terminated.contains(&r.child_pid))
        .collect();
    if kills.is_empty() {
        return None;
    }
    let resets = c.events(&[RecvReset, UpstreamPrematureClose]);
    let s502 = c.status(502);
    let summary = format!(
        "{} exited on SIGKILL (signal 9) with no 'execution timed out' before it: killed from outside mid-request, most often by the kernel's OOM killer; nginx saw {} resets / premature closes and answered {} 502s. The kernel log (kern.log, dmesg, journalctl -k: 'Out of memory: Killed process N (php-fpm...)') confirms it. Lower pm.max_children or memory_limit, or give the host more memory.",
        plural(kills.len() as u64, "php-fpm worker", "php-fpm workers"),
        resets,
        s502
    );
    let mut x = cause(
        "fpm_oom_kill",
        0.55 + 0.3 * share(s502, c.errors.max(1)),
        summary,
        c.ev_kinds(&[FpmChildSignal, RecvReset, UpstreamPrematureClose], 0),
    );
    x.explains = s502.min(resets.max(kills.len() as u64));
    x.headline = format!("php-fpm workers killed by SIGKILL ({})", kills.len());
    Some(x)
}

/// nginx resets / premature closes with no php-fpm line that says why.
fn upstream_reset(c: &CauseCtx<'_>, out: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    let resets = c.events(&[RecvReset, UpstreamPrematureClose]);
    if resets == 0
        || has(
            out,
            &["fpm_request_terminate", "fpm_worker_crash", "fpm_oom_kill"],
        )
    {
        return None;
    }
    // a proxy loop resets its own connections: self_loop says it
    let wc = c.events(&[WorkerConnectionsNotEnough]);
    if wc > 0
        && c.rows(&[WorkerConnectionsNotEnough, RecvReset, NoLiveUpstreams], 0)
            .any(|r| http_loopback(&r.upstream))
    {
        return None;
    }
    let s502 = c.status(502);
    // how long the failing requests ran before the reset: one value is a timeout's
    let mut times: Vec<u64> = proxy_rows(c, 502)
        .filter_map(|r| r.up_us.or(r.dur_us))
        .collect();
    let after = match cluster(&mut times) {
        Some((m, _)) if m >= 1_000_000 => format!(
            " The 502s came after {} each: a php-fpm request_terminate_timeout (or max_execution_time) of {} is likely.",
            fmt_us(Some(m)),
            setting(m)
        ),
        _ => String::new(),
    };
    let fpm = if fpm_log_given(c) {
        "The php-fpm log given says nothing about these workers (raise log_level to notice); the kernel log (kern.log, dmesg: 'Out of memory: Killed process') would tell an OOM kill."
    } else {
        "The php-fpm master log would tell them apart ('execution timed out ... terminating' for request_terminate_timeout, 'exited on signal 11 (SIGSEGV)' for a crash, 'signal 9 (SIGKILL)' for a kill), and the kernel log (kern.log, dmesg: 'Out of memory: Killed process') an OOM kill."
    };
    let summary = format!(
        "{} from the upstream{}: the backend dropped connections mid-request, because php-fpm's request_terminate_timeout killed the worker, the worker crashed, or it was OOM-killed.{} {}",
        plural(resets, "connection reset / premature close", "connection resets / premature closes"),
        if c.any_requests { format!(" and {s502} 502s") } else { String::new() },
        after,
        fpm
    );
    let mut ev = c.ev_kinds(&[RecvReset, UpstreamPrematureClose], 0);
    ev.extend(c.ev_status(&[502], 1));
    let mut x = cause(
        "upstream_reset",
        0.5 + 0.4 * share(resets.min(s502.max(1)), s502.max(1)),
        summary,
        ev,
    );
    x.explains = resets.min(s502.max(if c.any_requests { 0 } else { resets }));
    x.headline = format!("upstream reset the connection ({resets} lines)");
    Some(x)
}

/// nginx out of connection slots, file descriptors or local ports.
fn proxy_connections_exhausted(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    let wc = c.events(&[WorkerConnectionsNotEnough]);
    if wc == 0 {
        return None;
    }
    let looped = c
        .rows(
            &[
                WorkerConnectionsNotEnough,
                NoLiveUpstreams,
                RecvReset,
                ConnectRefused,
            ],
            0,
        )
        .any(|r| http_loopback(&r.upstream));
    if looped {
        return None; // self_loop
    }
    let summary = format!(
        "{}: nginx ran out of connection slots (a proxied request holds two: client and upstream), so new connections were dropped or answered 5xx ({} errors in the incident). Raise worker_connections together with worker_rlimit_nofile / ulimit -n, or find what keeps connections open (slow upstreams, long keepalive).",
        plural(wc, "'worker_connections are not enough'", "'worker_connections are not enough' lines"),
        c.errors
    );
    let mut x = cause(
        "proxy_connections_exhausted",
        0.75,
        summary,
        c.ev_kinds(&[WorkerConnectionsNotEnough], 0),
    );
    x.explains = wc.min(c.errors);
    x.headline = format!("nginx out of worker_connections ({wc} lines)");
    Some(x)
}

/// `(113: No route to host)`: a firewall, security group or route between proxy and backend.
fn upstream_unreachable(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    let n = c.events(&[ConnectNoRoute]);
    if n == 0 {
        return None;
    }
    let (s502, s504) = (c.status(502), c.status(504));
    let summary = format!(
        "{} connecting to the upstream ({} 502, {} 504): the backend's host could not be reached from the proxy. Check firewall rules, security groups and routes between them (and that the backend's address did not change).",
        plural(n, "'No route to host' (113)", "'No route to host' (113) errors"),
        s502,
        s504
    );
    let mut x = cause(
        "upstream_unreachable",
        0.6 + 0.35 * share(n.min(s502 + s504), (s502 + s504).max(1)),
        summary,
        c.ev_kinds(&[ConnectNoRoute], 0),
    );
    x.explains = n.min((s502 + s504).max(if c.any_requests { 0 } else { n }));
    x.headline = format!("upstream unreachable (113, {n} lines)");
    Some(x)
}

/// nginx answered 503 itself (`$upstream_addr` `-`) for many different requests: a
/// maintenance switch (`return 503`, a maintenance page), not the backend.
fn maintenance(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    if c.events(&[LimitingRequests, LimitingConnections]) > 0 {
        return None; // limit_req answers 503 without an upstream too
    }
    if c.acc.upstream_names.is_empty() {
        return None; // the format logs no upstream: "no upstream" means nothing
    }
    let rows: Vec<&ReqRow> = proxy_rows(c, 503).collect();
    let own: Vec<&&ReqRow> = rows.iter().filter(|r| r.up_none).collect();
    let s503 = c.status(503);
    if own.len() < 5 || own.len() * 10 < rows.len() * 8 || s503 * 2 < c.errors {
        return None;
    }
    // requests that did reach an upstream meanwhile: a limit lets some through, a
    // maintenance switch none
    let served = served_by_upstream(c);
    if served * 10 > own.len() as u64 {
        return access_limited(c, own.len() as u64, served);
    }
    let mut reqs: Vec<u64> = own.iter().map(|r| r.request).collect();
    reqs.sort_unstable();
    reqs.dedup();
    if reqs.len() < 2 {
        return None;
    }
    let reloads = c.events(&[FpmReloading]);
    let summary = format!(
        "nginx answered {} 503s itself (no upstream contacted, $upstream_addr '-') across {} different requests{}: a maintenance switch or `return 503`, not a failing backend. If this was not planned maintenance, look for the configuration change that turned it on.",
        own.len(),
        reqs.len(),
        if reloads > 0 {
            format!(", around {}", plural(reloads, "php-fpm reload", "php-fpm reloads"))
        } else {
            String::new()
        }
    );
    let mut x = cause(
        "maintenance",
        0.55 + if reloads > 0 { 0.25 } else { 0.0 },
        summary,
        c.ev_status(&[503], 3),
    );
    x.explains = (own.len() as u64).min(s503);
    x.headline = format!("nginx answered 503 itself ({} requests)", own.len());
    Some(x)
}

/// nginx refused requests whose headers exceed its buffers (`client sent too long header
/// line`, `client intended to send too large header`): 400/494.
fn request_header_too_big(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    let n = c.events(&[EventKind::ClientHeaderTooBig]);
    if n == 0 {
        return None;
    }
    let summary = format!(
        "nginx refused {} because the client's request headers did not fit its buffers ('client sent too long header line' / 'too large header': 400/494 without contacting the backend). Usually a cookie or token that grew; raise large_client_header_buffers (and client_header_buffer_size), or the LB's request buffer (HAProxy tune.bufsize answers 400 <BADREQ> itself), or trim the cookie.",
        plural(n, "a request", "requests")
    );
    let mut x = cause(
        "request_header_too_big",
        0.9,
        summary,
        c.ev_kinds(&[EventKind::ClientHeaderTooBig], 0),
    );
    x.explains = n.min(c.errors.max(if c.any_requests { 0 } else { n }));
    x.headline = format!("request headers too big ({n} refused)");
    Some(x)
}

/// The LB's health checks were refused by servers that are up (HAProxy `Server ... is
/// DOWN, reason: Layer7 wrong status, code: 403`, or check requests answered 403/444 in
/// nginx's access log), so the LB took them out while they could serve clients.
fn lb_health_check_blocked(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    let look = 120_000_000;
    let refused: Vec<i64> = c
        .rows(&[EventKind::LbServerDown], look)
        .filter_map(|r| r.number)
        .filter(|n| (400..500).contains(n))
        .collect();
    let from = c.start_us - c.width_us - look;
    let in_win = |r: &&ReqRow| r.utc_us >= from && r.utc_us < c.end_us + c.width_us;
    let denied = c
        .acc
        .side_rows
        .iter()
        .filter(in_win)
        .filter(|r| r.health_check && matches!(r.status, 401 | 403 | 444))
        .count() as u64;
    // requests nginx answered without failing meanwhile (checks included, taken out below)
    let lo = c.s.saturating_sub((look / c.width_us.max(1)) as usize + 1);
    let served = c.tl.buckets[lo..=c.e]
        .iter()
        .map(|b| {
            b.requests_by_layer[Layer::Proxy as usize] - b.err5xx_by_layer[Layer::Proxy as usize]
        })
        .sum::<u64>()
        .saturating_sub(denied);
    if refused.is_empty() && (denied < 3 || served == 0) {
        return None;
    }
    let mut codes = refused.clone();
    codes.sort_unstable();
    codes.dedup();
    let lbf = c.lb(crate::agg::acc::LbVerdict::NoBackend);
    let summary = format!(
        "the load balancer's health checks were refused by servers that were up{}{}: it marked them down and answered {} requests itself (no backend), while the backends served real clients. Security software, a firewall rule or an ACL is answering the checks (no User-Agent, or from the LB's source: Alibaba SLB checks come from 100.64.0.0/10); allow the LB's check requests.",
        if codes.is_empty() {
            String::new()
        } else {
            format!(
                " (HAProxy: Layer7 wrong status, code {})",
                codes
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            )
        },
        if denied > 0 {
            format!(
                "; nginx answered {denied} check requests 403/444 and {served} other requests"
            )
        } else {
            String::new()
        },
        lbf
    );
    let mut x = cause(
        "lb_health_check_blocked",
        if refused.is_empty() { 0.6 } else { 0.85 } + if denied > 0 { 0.1 } else { 0.0 },
        summary,
        c.ev_kinds(&[EventKind::LbServerDown], look),
    );
    x.explains = lbf.max(1).min(c.errors.max(1));
    x.headline = "LB health checks refused (servers marked down)".into();
    Some(x)
}

/// Large responses slowed down many times per byte while the bytes sent per second stayed
/// at a ceiling: the link (a bandwidth cap) is full.
fn bandwidth_saturated(c: &CauseCtx<'_>, _: &[Cause]) -> Option<Cause> {
    const BIG: u64 = 64 * 1024;
    let before_from = c.start_us - 300_000_000;
    let big = |r: &&ReqRow| {
        r.layer == Layer::Proxy
            && (200..300).contains(&r.status)
            && r.bytes.unwrap_or(0) >= BIG
            && r.dur_us.unwrap_or(0) > 0
    };
    let rate = |r: &ReqRow| r.bytes.unwrap_or(0) as f64 / (r.dur_us.unwrap_or(1) as f64 / 1e6);
    let mut before: Vec<f64> = c
        .acc
        .side_rows
        .iter()
        .filter(|r| r.utc_us >= before_from && r.utc_us < c.start_us)
        .filter(big)
        .map(rate)
        .collect();
    let inside_rows: Vec<&ReqRow> = c
        .acc
        .side_rows
        .iter()
        .filter(|r| r.utc_us >= c.start_us && r.utc_us < c.end_us + c.width_us)
        .filter(big)
        .collect();
    let mut inside: Vec<f64> = inside_rows.iter().map(|r| rate(r)).collect();
    if before.len() < 3 || inside.len() < 5 {
        return None;
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v[v.len() / 2]
    };
    let (rb, ri) = (med(&mut before), med(&mut inside));
    if ri * 4.0 > rb {
        return None;
    }
    // the bytes per second the large responses moved together, spread over their durations
    let secs = ((c.end_us - c.start_us) / 1_000_000).max(1) as usize;
    let mut per_s = vec![0f64; secs];
    for r in &inside_rows {
        let (end, dur) = (r.utc_us, r.dur_us.unwrap_or(1) as i64);
        let begin = end - dur;
        let bps = r.bytes.unwrap_or(0) as f64 / (dur as f64 / 1e6);
        for (i, slot) in per_s.iter_mut().enumerate() {
            let t0 = c.start_us + i as i64 * 1_000_000;
            let ov = (end.min(t0 + 1_000_000) - begin.max(t0)).max(0);
            *slot += bps * ov as f64 / 1e6;
        }
    }
    let mut busy: Vec<f64> = per_s.into_iter().filter(|&x| x > 0.0).collect();
    if busy.len() < 3 {
        return None;
    }
    let ceiling = med(&mut busy) * 8.0 / 1e6;
    let failed = c.status(503) + c.status(504);
    let summary = format!(
        "large responses (>= 64 KB) moved at {:.2} Mbit/s each during the incident against {:.1} Mbit/s before ({:.0}x slower), while together they sent a steady ~{:.1} Mbit/s: the link is at a bandwidth ceiling, so requests queue behind the transfers and time out ({} 503/504). Raise the bandwidth cap (instance, SLB/EIP or tc limit) or move large downloads to a CDN / object storage.",
        ri * 8.0 / 1e6,
        rb * 8.0 / 1e6,
        rb / ri.max(1.0),
        ceiling,
        failed
    );
    let mut x = cause(
        "bandwidth_saturated",
        0.75,
        summary,
        c.ev_status(&[503, 504], 3),
    );
    x.explains = failed.min(c.errors);
    x.headline = format!("bandwidth ceiling (~{ceiling:.1} Mbit/s)");
    Some(x)
}

/// Requests of the incident that reached one of nginx's upstreams (not the LB's targets) and
/// did not fail.
fn served_by_upstream(c: &CauseCtx<'_>) -> u64 {
    c.tl.buckets[c.s..=c.e]
        .iter()
        .flat_map(|b| b.upstreams.iter())
        .filter(|u| !c.acc.lb_upstreams.contains(&u.0))
        .map(|u| (u.1 - u.2) as u64)
        .sum()
}

/// nginx answered 503 itself while other requests reached the upstream, and no error log
/// says why: limit_req / limit_conn most likely.
fn access_limited(c: &CauseCtx<'_>, own: u64, served: u64) -> Option<Cause> {
    if c.events(&[EventKind::LimitingRequests, EventKind::LimitingConnections]) > 0 {
        return None;
    }
    // what the error log says: nothing was given (it would tell), or one was given and has no
    // limiting line in the window (limit_req logs at `error` unless told otherwise)
    let error_log = match c.error_logs {
        [] => "the nginx error log would say 'limiting requests, excess: ... by zone'".to_string(),
        logs => {
            let names: Vec<&str> = logs.iter().map(|l| l.name.as_str()).collect();
            let how = if logs.iter().all(|l| l.empty) {
                "is empty"
            } else {
                "has no 'limiting requests' or 'limiting connections' line in this window"
            };
            format!(
                "the nginx error log given ({}) {how}: either the limit logs below the error_log's level (limit_req_log_level / limit_conn_log_level), or a rule of nginx's own answered the 503s (`return 503` from a geo or map block, a WAF), or that is not the error log of the nginx that answered",
                names.join(", ")
            )
        }
    };
    let summary = format!(
        "nginx answered {own} 503s itself (no upstream contacted) while {served} requests reached the upstream and succeeded in the same window: a limit rejected the excess, most likely limit_req or limit_conn ({error_log}). The load balancer's log would tell whether the 503s came from a few client networks while others were served (client_subset): nginx behind a load balancer sees only the LB as its client."
    );
    let mut x = cause("rate_limited", 0.45, summary, c.ev_status(&[503], 3));
    x.explains = own.min(c.status(503));
    x.headline = format!("nginx rejected {own} requests itself (a limit, access log)");
    Some(x)
}

/// nginx access log alone: 504s whose request time sits at one value are a read timeout of
/// that value.
fn access_timeout(c: &CauseCtx<'_>, out: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    if has(
        out,
        &[
            "upstream_read_timeout",
            "upstream_connect_timeout",
            "lb_target_timeout",
        ],
    ) || c.events(&[
        UpstreamTimeoutHeader,
        UpstreamTimeoutRead,
        UpstreamTimeoutConnect,
    ]) > 0
    {
        return None;
    }
    let mut times: Vec<u64> = proxy_rows(c, 504).filter_map(|r| r.dur_us).collect();
    let n = times.len();
    let (m, k) = cluster(&mut times)?;
    if m < 500_000 {
        return None;
    }
    let summary = format!(
        "{k} of {n} 504s took {} at nginx (request time clustered at one value, no nginx error-log line about them): an upstream read timeout; fastcgi_read_timeout (or proxy_read_timeout) is probably {}. The nginx error log would confirm it ('upstream timed out (110) while reading response header'), the php-fpm log and slowlog would say why the backend was slow.",
        fmt_us(Some(m)),
        setting(m)
    );
    let mut x = cause(
        "upstream_read_timeout",
        0.45 + 0.4 * share(k as u64, n as u64),
        summary,
        c.ev_status(&[504], 3),
    );
    x.explains = (k as u64).min(c.status(504));
    x.headline = format!("upstream read timeout at {} (access log)", setting(m));
    Some(x)
}

/// nginx access log alone: 502s with an upstream but ~0 s upstream time were refused or
/// unavailable; 502s after one long upstream time were dropped (a terminate timeout).
fn access_502(c: &CauseCtx<'_>, out: &[Cause]) -> Option<Cause> {
    use EventKind::*;
    if has(
        out,
        &[
            "upstream_refused",
            "fpm_listen_backlog",
            "upstream_reset",
            "fpm_request_terminate",
            "fpm_worker_crash",
            "fpm_oom_kill",
            "upstream_header_too_big",
            "upstream_unreachable",
            "no_live_upstreams",
        ],
    ) || c.events(&[
        ConnectRefused,
        ConnectNoSocket,
        ConnectAgain,
        ConnectNoRoute,
        ConnectFailedOther,
        RecvReset,
        UpstreamPrematureClose,
        UpstreamHeaderTooBig,
    ]) > 0
    {
        return None;
    }
    let rows: Vec<&ReqRow> = proxy_rows(c, 502)
        .filter(|r| !r.up_none && r.up_us.is_some())
        .collect();
    let n = rows.len() as u64;
    if n < 5 {
        return None;
    }
    let quick = rows
        .iter()
        .filter(|r| r.up_us.unwrap_or(0) < 10_000)
        .count() as u64;
    let connected = rows
        .iter()
        .filter(|r| r.up_us.unwrap_or(0) < 10_000 && r.up_connected)
        .count() as u64;
    if quick * 10 >= n * 7 && connected * 10 >= quick * 7 {
        let summary = format!(
            "{connected} of {n} 502s connected to the upstream (an $upstream_connect_time was logged) and failed within ~0 s with no response header (access log, no error log): nginx could not accept the upstream's response header (too big for fastcgi_buffer_size / proxy_buffer_size, or invalid), or the upstream closed at once. The nginx error log says which ('upstream sent too big header')."
        );
        let mut x = cause(
            "upstream_header_too_big",
            0.45,
            summary,
            c.ev_status(&[502], 3),
        );
        x.explains = connected.min(c.status(502));
        x.headline = format!("upstream response header rejected ({connected} 502s, access log)");
        return Some(x);
    }
    if quick * 10 >= n * 7 {
        let summary = format!(
            "{quick} of {n} 502s had an upstream but ~0 s upstream time (access log, no nginx error-log line about them): the upstream refused or could not take the connection (backend stopped, socket missing, listen backlog full). The nginx error log says which: (111) refused, (2) no socket, (11) backlog full, (113) unreachable."
        );
        let mut x = cause(
            "upstream_refused",
            0.45 + 0.35 * share(quick, n),
            summary,
            c.ev_status(&[502], 3),
        );
        x.explains = quick.min(c.status(502));
        x.headline = format!("upstream refused or unavailable ({quick} 502s at ~0 s)");
        return Some(x);
    }
    let mut times: Vec<u64> = rows.iter().filter_map(|r| r.up_us).collect();
    let Some((m, k)) = cluster(&mut times) else {
        // connected, then dropped after varying times with no response: no timeout's
        // value, so a crash or a kill mid-request (issue 15's fpm_oom_kill, access log alone)
        let dropped = rows
            .iter()
            .filter(|r| r.up_connected && r.up_us.unwrap_or(0) >= 10_000)
            .count() as u64;
        if dropped * 10 < n * 7 {
            return None;
        }
        let (lo, hi) = (times[0], times[times.len() - 1]);
        let summary = format!(
            "{dropped} of {n} 502s connected to the upstream and ended after {} to {} of upstream time with no response (access log, no error log): the backend dropped the connection mid-request at no one time, so not a timeout (request_terminate_timeout would end them all at one value) but a crash or a kill (the OOM killer, a SIGKILL). The nginx error log would show the resets ('recv() failed (104)'); the php-fpm master log ('exited on signal 9 (SIGKILL)' / 'signal 11 (SIGSEGV)') and the kernel log (kern.log, dmesg: 'Out of memory: Killed process') tell a kill, a crash and an OOM kill apart.",
            fmt_us(Some(lo)),
            fmt_us(Some(hi))
        );
        let mut x = cause(
            "upstream_reset",
            0.35 + 0.2 * share(dropped, n),
            summary,
            c.ev_status(&[502], 3),
        );
        x.explains = dropped.min(c.status(502));
        x.headline =
            format!("upstream dropped connections mid-request ({dropped} 502s, access log)");
        return Some(x);
    };
    if m < 1_000_000 {
        // dropped at once after it connected, at no timeout value: a reset, not a limit
        let summary = format!(
            "{k} of {n} 502s ended after ~{} of upstream time with no response (access log, no error log): the backend closed or reset the connection mid-request (a crash, a kill, or the application dropping it). The nginx error log would show the resets ('recv() failed (104)'), the php-fpm master log and the kernel log would tell a terminate, a crash or an OOM kill apart.",
            fmt_us(Some(m))
        );
        let mut x = cause(
            "upstream_reset",
            0.4 + 0.2 * share(k as u64, n),
            summary,
            c.ev_status(&[502], 3),
        );
        x.explains = (k as u64).min(c.status(502));
        x.headline = format!("upstream dropped connections after ~{}", fmt_us(Some(m)));
        return Some(x);
    }
    let summary = format!(
        "{k} of {n} 502s came after {} of upstream time each (access log, no error log): the backend dropped the connection at one fixed time, most likely php-fpm's request_terminate_timeout = {}. The nginx error log would show the resets, the php-fpm log whether the worker was terminated, crashed or killed.",
        fmt_us(Some(m)),
        setting(m)
    );
    let mut x = cause(
        "upstream_reset",
        0.45 + 0.3 * share(k as u64, n),
        summary,
        c.ev_status(&[502], 3),
    );
    x.explains = (k as u64).min(c.status(502));
    x.headline = format!("upstream dropped connections after {}", setting(m));
    Some(x)
}

/// nginx access log alone: 500s that the upstream answered are the application's.
fn access_500(c: &CauseCtx<'_>, out: &[Cause]) -> Option<Cause> {
    if has(out, &["app_error"]) {
        return None;
    }
    let n = proxy_rows(c, 500).filter(|r| r.up_status == 500).count() as u64;
    let s500 = c.status(500);
    if n < 3 || n * 2 < s500 {
        return None;
    }
    let summary = format!(
        "{n} 500s were answered by the upstream itself ($upstream_status 500): an application error, not the gateway. The PHP error log or the nginx error log ('FastCGI sent in stderr') would show the message."
    );
    let mut x = cause(
        "app_error",
        0.45 + 0.3 * share(n, c.errors.max(1)),
        summary,
        c.ev_status(&[500], 3),
    );
    x.explains = n;
    x.headline = format!("application answered 500 ({n})");
    Some(x)
}

// ---------------------------------------------------------------------------------------
// Ranking and chains

/// Failed requests each cause found in `analysis::attribute` explains, when it did not say,
/// with the few words chains show.
fn explain(c: &CauseCtx<'_>, causes: &mut [Cause], sat: Option<&Saturation>) {
    use EventKind::*;
    let (s500, s502, s503, s504) = (c.status(500), c.status(502), c.status(503), c.status(504));
    let eagain = c.events(&[ConnectAgain]);
    let t_connect = c.events(&[UpstreamTimeoutConnect]);
    let t_read = c.events(&[UpstreamTimeoutHeader, UpstreamTimeoutRead]);
    let ids: Vec<String> = causes.iter().map(|x| x.cause.clone()).collect();
    let present = |id: &str| ids.iter().any(|x| x == id);
    // (a saturation inferred from queueing alone, with no max_children line, is a guess)
    let saturated = causes
        .iter()
        .any(|x| x.cause == "fpm_max_children" && x.confidence >= 0.5);
    // without access logs, an error-log line is a failure
    let cap = |n: u64, of: u64| if c.any_requests { n.min(of) } else { n };
    let backlog = cap(eagain + if eagain > 0 { t_connect } else { 0 }, s502 + s504);
    let retries = causes
        .iter()
        .find(|x| x.cause == "retry_storm")
        .map(|x| x.explains)
        .unwrap_or(0);
    for x in causes.iter_mut() {
        if !x.headline.is_empty() {
            continue; // a detector of this file said it already
        }
        let fill = x.explains == 0;
        match x.cause.as_str() {
            "fpm_max_children" => {
                if fill {
                    x.explains = (s504 + s502).min(c.errors).saturating_sub(backlog);
                }
                let pools: Vec<String> = {
                    let mut v: Vec<String> = c
                        .rows(&[FpmMaxChildren], 300_000_000)
                        .map(|r| crate::analysis::report::display_bytes(&r.pool))
                        .collect();
                    v.sort();
                    v.dedup();
                    v
                };
                let n = c
                    .rows(&[FpmMaxChildren], 300_000_000)
                    .find_map(|r| r.number);
                x.headline = format!(
                    "{} saturated{}",
                    if pools.is_empty() {
                        "php-fpm pool".to_string()
                    } else {
                        format!("pool {}", pools.join(", "))
                    },
                    n.map(|n| format!(" (max_children={n})"))
                        .unwrap_or_default()
                );
            }
            "fpm_listen_backlog" => {
                x.explains = backlog;
                x.headline = format!("listen backlog full (EAGAIN, {eagain} lines)");
            }
            "upstream_read_timeout" if fill => {
                // under a saturated pool the timeout is a symptom: raising it lengthens queues
                x.explains = if saturated { 0 } else { cap(t_read, s504) };
                x.headline = format!("upstream read timeout ({t_read} lines)");
            }
            "upstream_connect_timeout" => {
                x.explains = if eagain > 0 || saturated {
                    0
                } else {
                    cap(t_connect, s504)
                };
                x.headline = format!("upstream connect timeout ({t_connect} lines)");
            }
            "fpm_request_terminate" => {
                let n = c.events(&[FpmExecutionTimedOut]);
                x.explains = cap(n.max(c.events(&[RecvReset, UpstreamPrematureClose])), s502);
                x.headline = format!("php-fpm request_terminate_timeout killed {n} workers");
            }
            "fpm_worker_crash" => {
                x.explains = cap(c.events(&[RecvReset, UpstreamPrematureClose]).max(1), s502);
                x.headline = "php-fpm workers crashed".into();
            }
            "upstream_refused" if fill => {
                let n = c.events(&[ConnectRefused, ConnectNoSocket]);
                x.explains = cap(n, s502);
                x.headline = format!("upstream refused connections ({n} lines)");
            }
            "upstream_header_too_big" => {
                let n = c.events(&[UpstreamHeaderTooBig]);
                x.explains = cap(n, s502);
                x.headline = format!("upstream sent too big header ({n} lines)");
            }
            "no_live_upstreams" => {
                x.explains = 0; // a consequence
                x.headline = "no live upstreams".into();
            }
            "rate_limited" => {
                let n = c.events(&[LimitingRequests, LimitingConnections]);
                let s429 = c.status(429);
                x.explains = cap(n, s503 + s429).saturating_sub(retries);
                x.headline = format!("rate limited by limit_req/limit_conn ({n} lines)");
            }
            "app_error" if fill => {
                let n = c.events(&[FastcgiPhpFatal]);
                x.explains = cap(n, s500);
                x.headline = format!("PHP fatal errors ({n})");
            }
            "lb_backend_down" => {
                // a consequence when something above says why the LB had no backend
                x.explains = if present("lb_health_check_blocked") || present("bandwidth_saturated")
                {
                    0
                } else {
                    c.lb(crate::agg::acc::LbVerdict::NoBackend).max(1)
                };
                x.headline = "load balancer had no backend up".into();
            }
            "lb_target_timeout" => {
                x.explains = c.lb(crate::agg::acc::LbVerdict::TargetTimeout);
                x.headline = "load balancer timed out waiting for the target".into();
            }
            "retry_storm" => {
                x.headline = format!("clients retried without back-off ({retries} repeats)")
            }
            "self_loop" => x.headline = "proxy loop".into(),
            "single_backend" => x.headline = "errors on one upstream".into(),
            "client_subset" => x.headline = "errors in a few client networks".into(),
            "overload" => x.headline = "more load than usual".into(),
            _ => {}
        }
        if x.headline.is_empty() {
            x.headline = x.cause.replace('_', " ");
        }
    }
    // `where` causes explain what is left when nothing says why
    let why = causes.iter().any(|x| {
        x.confidence >= 0.5
            && x.explains > 0
            && !matches!(
                x.cause.as_str(),
                "single_backend" | "client_subset" | "overload"
            )
    });
    for x in causes.iter_mut() {
        if matches!(x.cause.as_str(), "client_subset" | "overload") {
            x.explains = if why { 0 } else { c.errors };
        }
    }
    let _ = sat;
}

/// Links causes that stem from each other (`behind` / `led_to`).
fn link(c: &CauseCtx<'_>, causes: &mut [Cause]) {
    let ids: Vec<String> = causes.iter().map(|x| x.cause.clone()).collect();
    let present = |id: &str| ids.iter().any(|x| x == id);
    let mut pairs: Vec<(&str, &str)> = Vec::new(); // (effect, root)
    if present("fpm_max_children") {
        for e in [
            "fpm_listen_backlog",
            "upstream_read_timeout",
            "upstream_connect_timeout",
        ] {
            pairs.push((e, "fpm_max_children"));
        }
    }
    if present("fpm_listen_backlog") && c.events(&[EventKind::ConnectAgain]) > 0 {
        pairs.push(("upstream_connect_timeout", "fpm_listen_backlog"));
        pairs.retain(|p| *p != ("upstream_connect_timeout", "fpm_max_children"));
    }
    for root in ["lb_health_check_blocked", "bandwidth_saturated"] {
        pairs.push(("lb_backend_down", root));
    }
    if present("retry_storm") {
        pairs.push(("rate_limited", "retry_storm"));
    }
    if present("no_live_upstreams") {
        // what marked the servers failed: the cause with most failures among these
        let root = causes
            .iter()
            .filter(|x| {
                matches!(
                    x.cause.as_str(),
                    "upstream_refused"
                        | "upstream_reset"
                        | "upstream_read_timeout"
                        | "upstream_connect_timeout"
                        | "fpm_listen_backlog"
                        | "upstream_unreachable"
                        | "fpm_request_terminate"
                        | "fpm_worker_crash"
                        | "fpm_oom_kill"
                        | "self_loop"
                        | "proxy_connections_exhausted"
                )
            })
            .max_by_key(|x| x.explains)
            .map(|x| x.cause.clone());
        if let Some(r) = root {
            if let Some(r) = ids.iter().find(|x| **x == r) {
                pairs.push(("no_live_upstreams", r.as_str()));
            }
        }
    }
    for (effect, root) in pairs {
        if !present(effect) || !present(root) || effect == root {
            continue;
        }
        for x in causes.iter_mut() {
            if x.cause == effect && !x.behind.iter().any(|b| b == root) {
                x.behind.push(root.to_string());
            }
            if x.cause == root && !x.led_to.iter().any(|b| b == effect) {
                x.led_to.push(effect.to_string());
            }
        }
    }
    // single_backend's `behind` (set in attribute) gets its `led_to` back
    let sb: Vec<String> = causes
        .iter()
        .filter(|x| x.cause == "single_backend")
        .flat_map(|x| x.behind.clone())
        .collect();
    for x in causes.iter_mut() {
        if sb.contains(&x.cause) && !x.led_to.iter().any(|b| b == "single_backend") {
            x.led_to.push("single_backend".into());
        }
    }
}

/// The slowlog root of a saturation: the innermost application function and the builtin it
/// waits in (`db_query() waiting in usleep()`).
fn slow_root(sat: &Saturation) -> Option<String> {
    let (f, _) = sat.top_frames.first()?;
    Some(format!("slow {f} (slowlog)"))
}

/// `502: listen backlog full (EAGAIN, 1889 lines) ← pool www saturated (max_children=1) ←
/// slow db_query() waiting in usleep() (slowlog)`, from a cause's effects through itself to
/// its roots.
fn chain_of(
    causes: &[Cause],
    i: usize,
    c: &CauseCtx<'_>,
    sat: Option<&Saturation>,
) -> Option<String> {
    let find = |id: &str| causes.iter().find(|x| x.cause == id);
    let x = &causes[i];
    let mut parts: Vec<String> = Vec::new();
    // effects first (what it led to), then itself, then its roots, one path each way
    let mut effects: Vec<String> = Vec::new();
    let mut cur = x;
    let mut seen = vec![x.cause.clone()];
    while let Some(e) = cur
        .led_to
        .iter()
        .filter_map(|id| find(id))
        .find(|e| !seen.contains(&e.cause) && e.cause != "single_backend")
    {
        effects.push(e.headline.clone());
        seen.push(e.cause.clone());
        cur = e;
    }
    effects.reverse();
    parts.extend(effects);
    parts.push(x.headline.clone());
    let mut cur = x;
    while let Some(r) = cur
        .behind
        .iter()
        .filter_map(|id| find(id))
        .find(|r| !seen.contains(&r.cause))
    {
        parts.push(r.headline.clone());
        seen.push(r.cause.clone());
        cur = r;
    }
    if seen.iter().any(|s| s == "fpm_max_children") {
        if let Some(root) = sat.and_then(slow_root) {
            parts.push(root);
        }
    }
    if parts.len() < 2 {
        return None;
    }
    let statuses: Vec<String> = [500u16, 502, 503, 504, 429]
        .iter()
        .filter(|&&s| c.status(s) > 0)
        .map(|s| s.to_string())
        .collect();
    let head = if statuses.is_empty() {
        String::new()
    } else {
        format!("{}: ", statuses.join("/"))
    };
    Some(format!("{head}{}", parts.join(" ← ")))
}

/// Ranks the causes (SPEC "Which cause comes first"): by the failed requests each explains,
/// then by confidence; a guess (confidence under 0.4) never outranks evidence. Then links
/// and writes the chains.
pub(crate) fn rank(c: &CauseCtx<'_>, causes: &mut Vec<Cause>, sat: Option<&Saturation>) {
    explain(c, causes, sat);
    link(c, causes);
    causes.sort_by(|a, b| {
        let ka = (a.confidence >= 0.4, a.explains);
        let kb = (b.confidence >= 0.4, b.explains);
        kb.cmp(&ka).then(
            b.confidence
                .partial_cmp(&a.confidence)
                .unwrap_or(std::cmp::Ordering::Equal),
        )
    });
    let chains: Vec<Option<String>> = (0..causes.len())
        .map(|i| {
            if causes[i].behind.is_empty() && causes[i].led_to.is_empty() {
                None
            } else {
                chain_of(causes, i, c, sat)
            }
        })
        .collect();
    for (x, ch) in causes.iter_mut().zip(chains) {
        x.chain = ch;
    }
    health_check_green(c, causes);
}

/// When the LB's health checks stayed green while dynamic requests failed, the top cause
/// says so: the check tests a static page, not PHP (SPEC, issue 15).
fn health_check_green(c: &CauseCtx<'_>, causes: &mut [Cause]) {
    let Some(top) = causes.first_mut() else {
        return;
    };
    if top.cause.starts_with("lb_")
        || matches!(
            top.cause.as_str(),
            "rate_limited"
                | "request_header_too_big"
                | "client_subset"
                | "maintenance"
                | "unknown"
                | "bandwidth_saturated"
        )
        || c.errors == 0
    {
        return;
    }
    let (from, to) = (c.start_us - c.width_us, c.end_us + c.width_us);
    let checks: Vec<&ReqRow> = c
        .acc
        .side_rows
        .iter()
        .chain(c.acc.req_rows.iter())
        .filter(|r| r.health_check && r.utc_us >= from && r.utc_us < to)
        .collect();
    let ok = checks
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .count();
    let down = c.events(&[EventKind::LbServerDown, EventKind::LbNoServer]);
    let lb_logged = c.layer == Some(Layer::Lb as usize);
    if down > 0 || ok < checks.len() || (ok == 0 && !lb_logged) {
        return;
    }
    let what = if ok > 0 {
        format!(
            "the load balancer's health check (GET /health) stayed green: it tests a static page, not PHP ({ok} checks answered 2xx while requests failed); check a PHP page that touches the backend instead"
        )
    } else {
        "the load balancer's health checks stayed green (no server marked DOWN): they test a static page, not PHP; check a PHP page that touches the backend instead".to_string()
    };
    top.summary = format!("{} Note: {what}.", top.summary.trim_end());
}

/// Findings: causes the logs show with no incident to hang them on (SPEC's JSON shape has no
/// place for them; the report's top-level `findings` array, documented in docs/causes.md).
///
/// `lb_health_check_blocked` from nginx's access log alone: the LB's check requests (a
/// health-check path) answered 401/403/444 while other requests were served. The LB's 503s
/// are in the LB's log only, so without it there is no incident; the finding says so.
pub(crate) fn findings(
    acc: &crate::agg::acc::Acc,
    incidents: &[crate::analysis::report::Incident],
    name_of: &dyn Fn(u32) -> String,
) -> Vec<Cause> {
    let mut out = Vec::new();
    if incidents.iter().any(|i| {
        i.causes
            .iter()
            .any(|c| c.cause == "lb_health_check_blocked")
    }) {
        return out;
    }
    let denied: Vec<&ReqRow> = acc
        .side_rows
        .iter()
        .filter(|r| {
            r.layer == Layer::Proxy && r.health_check && matches!(r.status, 401 | 403 | 444)
        })
        .collect();
    if denied.len() < 3 {
        return out;
    }
    let from = denied.iter().map(|r| r.utc_us).min().unwrap_or(0);
    let to = denied.iter().map(|r| r.utc_us).max().unwrap_or(0);
    let tl = &acc.timeline;
    let w = tl.width_s() * 1_000_000;
    let p = Layer::Proxy as usize;
    let served = tl
        .buckets
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let s = tl.bucket_start_us(*i);
            s + w > from && s <= to
        })
        .map(|(_, b)| b.requests_by_layer[p] - b.err5xx_by_layer[p])
        .sum::<u64>()
        .saturating_sub(denied.len() as u64);
    if served < 3 {
        return out;
    }
    let lb_log = acc
        .timeline
        .buckets
        .iter()
        .any(|b| b.requests_by_layer[Layer::Lb as usize] > 0);
    let mut codes: Vec<u16> = denied.iter().map(|r| r.status).collect();
    codes.sort_unstable();
    codes.dedup();
    let codes = codes
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("/");
    let summary = format!(
        "nginx answered {} health-check requests {codes} between {} and {} while it served {served} other requests: something in front of the application (security software, a firewall rule, an ACL, a rule on the User-Agent or the source address: Alibaba SLB checks come from 100.64.0.0/10, AWS ELB's carry 'ELB-HealthChecker') refuses the load balancer's checks, so the LB marks the servers down and answers clients 502/503 itself. {}",
        denied.len(),
        crate::analysis::report::rfc3339(from),
        crate::analysis::report::rfc3339(to),
        if lb_log {
            "The load balancer's log given shows no incident from it."
        } else {
            "Those 502/503s are in the load balancer's log only (not given): it would show the servers marked down and the requests it answered itself."
        }
    );
    let ev = denied
        .iter()
        .take(3)
        .map(|r| crate::analysis::report::Evidence {
            path: name_of(r.file),
            line: r.line,
            text: format!("health-check request answered {}", r.status),
        })
        .collect();
    let mut x = cause(
        "lb_health_check_blocked",
        if lb_log { 0.4 } else { 0.6 },
        summary,
        ev,
    );
    x.headline = format!("LB health checks refused by nginx ({})", denied.len());
    out.push(x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_and_settings() {
        let mut v = vec![
            3_001_000, 3_002_000, 3_000_500, 3_010_000, 3_003_000, 120_000,
        ];
        assert_eq!(cluster(&mut v).map(|x| x.1), Some(5));
        let mut spread = vec![100_000, 900_000, 2_000_000, 3_500_000, 5_000_000];
        assert_eq!(cluster(&mut spread), None);
        assert_eq!(setting(3_001_000), "3s");
        assert_eq!(setting(2_500_000), "2.5s");
        assert!(http_loopback(b"http://127.0.0.1:80/favicon.ico"));
        assert!(!http_loopback(b"fastcgi://127.0.0.1:9000"));
    }
}

#[cfg(test)]
mod chain_tests {
    use super::CHAIN;

    /// The cause id a table entry names (`upstream_read_timeout (access log)` names
    /// `upstream_read_timeout`).
    fn id(label: &str) -> &str {
        label.split(" (").next().unwrap()
    }

    fn last_of(id_: &str) -> usize {
        CHAIN
            .iter()
            .rposition(|(l, _)| id(l) == id_)
            .unwrap_or_else(|| panic!("{id_} is not in CHAIN"))
    }

    fn first_of(id_: &str) -> usize {
        CHAIN.iter().position(|(l, _)| id(l) == id_).unwrap()
    }

    /// A detector that reads what others found runs after every detector of those causes.
    #[test]
    fn table_order() {
        let after = |later: &str, earlier: &[&str]| {
            for e in earlier {
                assert!(
                    last_of(e) < first_of(later),
                    "{later} reads {e}: it must run after it in CHAIN"
                );
            }
        };
        after("single_backend", super::spread::WHY_ONE_SERVER);
        after("retry_storm", &["self_loop"]);
        after(
            "client_subset",
            &["self_loop", "lb_backend_down", "retry_storm"],
        );
        // overload weighs every cause above it, unknown needs them all
        let others: Vec<&str> = CHAIN
            .iter()
            .map(|(l, _)| id(l))
            .filter(|x| !["overload", "unknown"].contains(x))
            .collect();
        after("overload", &others);
        assert_eq!(CHAIN.last().map(|x| x.0), Some("unknown"));
        // php-fpm's saturation comes before the read timeouts it explains
        after("upstream_read_timeout", &["fpm_max_children"]);
        let mut labels: Vec<&str> = CHAIN.iter().map(|x| x.0).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), CHAIN.len(), "labels are unique");
    }
}
