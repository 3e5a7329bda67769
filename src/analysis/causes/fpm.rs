//! php-fpm's causes, from its master log (and nginx's view of the pool): a saturated pool,
//! workers killed for running too long, crashed workers, a full listen backlog.

use gatelog_parsers::EventKind::*;

use super::Scene;
use crate::agg::acc::EventRow;
use crate::analysis::report::{display_bytes, Cause};
use crate::analysis::{cause, fmt_us, plural, share};

/// `fpm_max_children`: the pool reached pm.max_children (or, with pm = static, which logs
/// nothing, upstream header time climbed with header timeouts or a full backlog).
pub(super) fn max_children(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    if n.maxch + n.busy > 0 {
        let pools: Vec<String> = {
            let mut v: Vec<String> = c
                .rows(&[FpmMaxChildren], n.five_min)
                .map(|r| display_bytes(&r.pool))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let setting = c.rows(&[FpmMaxChildren], n.five_min).find_map(|r| r.number);
        let mut summary = format!(
            "php-fpm {} reached pm.max_children{} ({}{}); requests queued behind busy workers: {} 504 and {} 502 in the incident, {} upstream timeouts. Raise pm.max_children (if memory allows) or make the slow scripts faster.",
            if pools.is_empty() { "pool".to_string() } else { format!("pool {}", pools.join(", ")) },
            setting.map(|n| format!(" = {n}")).unwrap_or_default(),
            plural(n.maxch, "max_children line", "max_children lines"),
            if n.busy > 0 { format!(", {}", plural(n.busy, "'seems busy' line", "'seems busy' lines")) } else { String::new() },
            n.s504,
            n.s502,
            n.t_header + n.t_connect
        );
        if let Some(s) = x.sat {
            summary.push(' ');
            summary.push_str(&s.summary);
        }
        let conf = 0.6
            + 0.25 * share(n.s504 + n.s502, n.errs)
            + if n.t_header + n.eagain > 0 { 0.1 } else { 0.0 };
        let mut ev = c.ev_kinds(&[FpmMaxChildren, FpmSeemsBusy], n.five_min);
        ev.extend(c.ev_kinds(&[UpstreamTimeoutHeader], 0).into_iter().take(1));
        ev.extend(c.ev_status(&[504, 502], 1));
        return Some(cause("fpm_max_children", conf, summary, ev));
    }
    if !((n.t_header > 0 || n.eagain > 0) && c.any_requests) {
        return None;
    }
    let up_p95_in = c.p95(true, true);
    let up_p95_out = c.p95(true, false);
    let climbing = matches!((up_p95_in, up_p95_out), (Some(a), Some(b)) if a > 3 * b.max(1000));
    if !climbing {
        return None;
    }
    // pm = static logs nothing: infer from queueing
    let summary = format!(
        "No max_children line (pm = static logs none), but upstream header time climbed (p95 {} vs {} before) with {} header timeouts and {} backlog errors: php-fpm workers were probably all busy. Check pm.max_children and the slowlog.",
        fmt_us(up_p95_in), fmt_us(up_p95_out), n.t_header, n.eagain
    );
    Some(cause(
        "fpm_max_children",
        0.45,
        summary,
        c.ev_kinds(&[UpstreamTimeoutHeader, ConnectAgain], 0),
    ))
}

/// The workers php-fpm killed for running past request_terminate_timeout.
fn terminated<'a>(x: &Scene<'a, '_>) -> Vec<&'a EventRow> {
    x.c.rows(&[FpmExecutionTimedOut], 0).collect()
}

/// `fpm_request_terminate`: workers killed past request_terminate_timeout, with resets.
pub(super) fn request_terminate(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    let term_rows = terminated(x);
    if term_rows.is_empty() {
        return None;
    }
    let secs = term_rows.iter().find_map(|r| r.number);
    let conf = 0.6 + 0.3 * share(n.s502, n.errs) + if n.resets > 0 { 0.1 } else { 0.0 };
    let summary = format!(
        "php-fpm killed {} that ran past request_terminate_timeout{}; nginx saw {} connection resets / premature closes and answered {} 502s. Raise request_terminate_timeout above the slowest legitimate request, or fix the slow script.",
        plural(term_rows.len() as u64, "worker", "workers"),
        secs.map(|s| format!(" ({s} s)")).unwrap_or_default(),
        n.resets,
        n.s502
    );
    let mut ev = c.ev_kinds(&[FpmExecutionTimedOut, FpmChildSignal], 0);
    ev.extend(
        c.ev_kinds(&[RecvReset, UpstreamPrematureClose], 0)
            .into_iter()
            .take(2),
    );
    Some(cause("fpm_request_terminate", conf, summary, ev))
}

/// `fpm_worker_crash`: workers that exited on a signal without having been terminated for a
/// timeout (SIGKILL and SIGTERM are someone's decision, not a crash).
pub(super) fn worker_crash(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    let terminated: Vec<Option<u32>> = terminated(x).iter().map(|r| r.child_pid).collect();
    let crashes: Vec<&EventRow> = c
        .rows(&[FpmChildSignal], 0)
        .filter(|r| {
            !terminated.contains(&r.child_pid) && r.number != Some(9) && r.number != Some(15)
        })
        .collect();
    if crashes.is_empty() {
        return None;
    }
    let sig = crashes.iter().find_map(|r| r.number);
    let conf = 0.45 + 0.3 * share(n.s502, n.errs) + if n.resets > 0 { 0.15 } else { 0.0 };
    let summary = format!(
        "{} exited on a signal{} without having been terminated for a timeout, with {} resets / premature closes: the PHP worker crashed. Look for a core dump or an extension bug.",
        plural(crashes.len() as u64, "php-fpm worker", "php-fpm workers"),
        sig.map(|s| format!(" ({s})")).unwrap_or_default(),
        n.resets
    );
    Some(cause(
        "fpm_worker_crash",
        conf,
        summary,
        c.ev_kinds(&[FpmChildSignal, RecvReset], 0),
    ))
}

/// `fpm_listen_backlog`: EAGAIN (11) connecting to the pool's unix socket.
pub(super) fn listen_backlog(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let (c, n) = (x.c, &x.n);
    if n.eagain == 0 {
        return None;
    }
    let conf = 0.55 + 0.4 * share(n.eagain, n.s502.max(1));
    let summary = format!(
        "{} connecting to the php-fpm unix socket: its listen backlog was full because every worker was busy. Raise listen.backlog (and net.core.somaxconn) only together with pm.max_children or faster scripts.",
        plural(n.eagain, "'Resource temporarily unavailable' (11)", "'Resource temporarily unavailable' (11) errors")
    );
    Some(cause(
        "fpm_listen_backlog",
        conf,
        summary,
        c.ev_kinds(&[ConnectAgain], 0),
    ))
}
