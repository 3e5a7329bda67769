//! Causes read from where the failures fell and who sent them: one upstream among several,
//! a proxy or a backend looping back to itself, clients retrying at once, more traffic than
//! usual; and `unknown` when nothing above is sure. (A few client networks failing is
//! `client_subset.rs`.)
//!
//! Several look at what the detectors before them found (see [`super::CHAIN`]).

use std::collections::HashMap;

use gatelog_parsers::EventKind::*;
use gatelog_parsers::Layer;

use super::Scene;
use crate::agg::acc::{hash, host_of, ReqRow};
use crate::analysis::report::{display_bytes, Cause, Evidence};
use crate::analysis::{cause, fmt_us, median, plural, share, EVIDENCE_PER_CAUSE};

/// The causes that say why one server fails (saturated, crashing, down): with one of them,
/// `single_backend` only says where.
pub(super) const WHY_ONE_SERVER: &[&str] = &[
    "fpm_max_children",
    "fpm_request_terminate",
    "fpm_worker_crash",
    "fpm_listen_backlog",
    "upstream_refused",
    "upstream_connect_timeout",
    "lb_backend_down",
    "upstream_reset",
    "fpm_oom_kill",
    "upstream_unreachable",
    "lb_health_check_blocked",
    "upstream_read_timeout",
];

/// `single_backend`: one upstream among several, judged within one layer: an LB's targets
/// (nginx nodes) against each other, nginx's upstreams (php-fpm pools) against each other. A
/// request that failed at a pool is also a 5xx at the LB, so the two sets are never summed.
pub(super) fn single_backend(x: &Scene<'_, '_>, out: &[Cause]) -> Option<Cause> {
    let c = x.c;
    let mut per_up: [HashMap<u32, (u64, u64)>; 2] = [HashMap::new(), HashMap::new()];
    for b in &c.tl.buckets[c.s..=c.e] {
        for u in &b.upstreams {
            let g = usize::from(!c.acc.lb_upstreams.contains(&u.0));
            let x = per_up[g].entry(u.0).or_default();
            x.0 += u.1 as u64;
            x.1 += u.2 as u64;
        }
    }
    // (share of the layer's upstream 5xx, upstream, its requests, its 5xx, the layer's 5xx)
    let mut best: Option<(f64, u32, u64, u64, u64)> = None;
    for (g, ups) in per_up.iter().enumerate() {
        if ups.len() < 2 {
            continue;
        }
        let tot5: u64 = ups.values().map(|x| x.1).sum();
        let Some((&worst, &(wr, we))) =
            ups.iter().max_by_key(|x| (x.1 .1, std::cmp::Reverse(*x.0)))
        else {
            continue;
        };
        let others_r: u64 = ups.iter().filter(|x| *x.0 != worst).map(|x| x.1 .0).sum();
        let others_e: u64 = ups.iter().filter(|x| *x.0 != worst).map(|x| x.1 .1).sum();
        let sh = share(we, tot5);
        if we >= 3 && sh >= 0.8 && share(others_e, others_r.max(1)) < 0.05 && others_r > 0 {
            // the inner layer (nginx's upstreams, g = 1) wins a tie: it is the more specific
            if best.is_none_or(|b| sh > b.0 || (sh == b.0 && g == 1)) {
                best = Some((sh, worst, wr, we, tot5));
            }
        }
    }
    let (sh, worst, wr, we, tot5) = best?;
    // a cause found above that says why that server fails (saturated, crashing, down):
    // this one then only says where, and ranks below it
    let why = out
        .iter()
        .filter(|x| x.confidence >= 0.5)
        .map(|x| x.cause.clone())
        .find(|x| WHY_ONE_SERVER.contains(&x.as_str()));
    let mut summary = format!(
        "{} of {} upstream 5xx came from {} ({} of its {} requests failed) while the other upstreams stayed healthy: look at that one server.",
        we,
        tot5,
        (c.up_name)(worst),
        we,
        wr
    );
    let mut conf = 0.4 + 0.5 * sh;
    if let Some(w) = &why {
        summary.push_str(&format!(" It is where the {w} above happened."));
        conf *= 0.8;
    }
    let mut x = cause(
        "single_backend",
        conf,
        summary,
        c.ev_status(&[502, 504, 500, 503], 2),
    );
    // only where, when a cause above says why
    x.explains = if why.is_some() { 0 } else { we };
    if let Some(w) = why {
        x.behind.push(w);
    }
    Some(x)
}

/// True when nginx (or the LB) proxied to itself: 'worker_connections are not enough' with
/// an upstream on a loopback address (without one, it is the proxy's connections running
/// out: `proxy_connections_exhausted`).
pub(super) fn is_proxy_loop(c: &crate::analysis::CauseCtx<'_>) -> bool {
    c.events(&[WorkerConnectionsNotEnough]) > 0
        && c.rows(
            &[
                WorkerConnectionsNotEnough,
                NoLiveUpstreams,
                RecvReset,
                ConnectRefused,
            ],
            0,
        )
        .any(|r| super::http_loopback(&r.upstream))
}

/// `self_loop`, a proxy loop: nginx (or the LB) forwarding to itself exhausts its
/// connections; the loop produced every failure.
pub(super) fn proxy_loop(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let c = x.c;
    if !x.n.self_loop {
        return None;
    }
    let wc = c.events(&[WorkerConnectionsNotEnough]);
    let summary = format!(
        "{} with upstream on a loopback address: the server proxied requests back to itself, so every request spawned another until worker_connections ran out and the 502s followed. Point proxy_pass / the backend's API calls at the real backend, not at this server or its load balancer.",
        plural(wc, "'worker_connections are not enough'", "'worker_connections are not enough' lines"),
    );
    let mut ev = c.ev_kinds(&[WorkerConnectionsNotEnough], 0);
    ev.extend(c.ev_kinds(&[NoLiveUpstreams], 0).into_iter().take(1));
    let mut x = cause("self_loop", 0.85, summary, ev);
    x.explains = c.errors;
    Some(x)
}

/// `self_loop`, a backend calling its own load balancer: a target's address among the LB's
/// clients (not named when the proxy loop above was).
pub(super) fn lb_loop(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let c = x.c;
    if x.n.self_loop {
        return None;
    }
    let looped: Vec<(String, u64)> = c
        .acc
        .lb_upstreams
        .iter()
        .filter_map(|&id| {
            let name = c.acc.upstream_names.get(id as usize)?;
            let h = hash(host_of(name));
            c.acc
                .lb_clients
                .contains(&h)
                .then(|| (display_bytes(host_of(name)), h))
        })
        .collect();
    if looped.is_empty() {
        return None;
    }
    let hosts: Vec<u64> = looped.iter().map(|x| x.1).collect();
    let from_backend = c
        .acc
        .req_rows
        .iter()
        .filter(|r| {
            r.layer == Layer::Lb
                && r.utc_us >= c.start_us
                && r.utc_us < c.end_us
                && hosts.contains(&r.client_host)
        })
        .count() as u64;
    let names: Vec<&str> = looped.iter().map(|x| x.0.as_str()).take(3).collect();
    let conf = if from_backend > 0 {
        0.5 + 0.45 * share(from_backend, c.errors.max(1))
    } else {
        0.35
    };
    let summary = format!(
        "Backend {} also appears as a client of the load balancer ({} failing requests in the incident came from it): the application calls its own public address, so each request holds a worker while waiting for another. Call the service directly, not through the load balancer.",
        names.join(", "),
        from_backend
    );
    let ev: Vec<Evidence> = c
        .ev_status(&[500, 502, 503, 504], 12)
        .into_iter()
        .filter(|e| {
            names
                .iter()
                .any(|n| e.text.starts_with(n) || e.text.contains(&format!(" {n}:")))
        })
        .take(EVIDENCE_PER_CAUSE)
        .collect();
    let mut x = cause("self_loop", conf, summary, ev);
    x.explains = from_backend.min(c.errors);
    Some(x)
}

/// `retry_storm`: clients repeating failed requests at once (within 1 s, no back-off), from
/// several clients (one address sending everything is a proxy or a load generator in front,
/// not a crowd retrying). Not with a proxy loop, which repeats requests by itself.
pub(super) fn retry_storm(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let c = x.c;
    if x.n.self_loop {
        return None;
    }
    // the failures sorted by (client and request, time) as one 128-bit key each (a single
    // compare per step: an incident has tens of thousands), each compared with the one
    // before it of the same client and request
    let in_window = |r: &&ReqRow| {
        r.status >= 500
            && r.utc_us >= c.start_us
            && r.utc_us < c.end_us
            && c.layer.is_none_or(|l| r.layer as usize == l)
    };
    let pair = |r: &ReqRow| {
        let h = (r.client.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ r.request)
            .wrapping_mul(0xD6E8_FEB8_6659_FD93);
        h ^ (h >> 32)
    };
    let mut fails_by_key: Vec<u128> = c
        .acc
        .req_rows
        .iter()
        .filter(in_window)
        .map(|r| (pair(r) as u128) << 64 | (r.utc_us as u64 ^ (1 << 63)) as u128)
        .collect();
    fails_by_key.sort_unstable();
    let fails = fails_by_key.len() as u64;
    let (mut repeats, mut keys) = (0u64, 0usize);
    let mut prev: Option<u128> = None;
    for &x in &fails_by_key {
        match prev {
            Some(p) if p >> 64 == x >> 64 => {
                if (x as u64).wrapping_sub(p as u64) <= 1_000_000 {
                    repeats += 1;
                }
            }
            _ => keys += 1,
        }
        prev = Some(x);
    }
    if !(repeats >= 10 && share(repeats, fails) >= 0.3 && keys < fails as usize / 2) {
        return None;
    }
    // distinct clients: counted only when the rest of the test holds
    let clients = {
        let mut v: Vec<u64> = c
            .acc
            .req_rows
            .iter()
            .filter(in_window)
            .map(|r| r.client)
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    if clients < 5 {
        return None;
    }
    let summary = format!(
        "{repeats} of {fails} failed requests were repeats of a request the same client had just seen fail (within 1 s, no back-off), from {clients} clients: retries multiplied the load during the incident. Make clients back off exponentially."
    );
    let mut x = cause(
        "retry_storm",
        0.3 + 0.3 * share(repeats, fails),
        summary,
        c.ev_status(&[502, 503, 504], 2),
    );
    x.explains = repeats;
    Some(x)
}

/// `overload`: more traffic than usual with latency rising, nothing specific (less sure when
/// a cause above is).
pub(super) fn overload(x: &Scene<'_, '_>, out: &[Cause]) -> Option<Cause> {
    let c = x.c;
    if !c.any_requests {
        return None;
    }
    let rate_in: f64 = c.tl.buckets[c.s..=c.e]
        .iter()
        .map(|b| b.requests as f64)
        .sum::<f64>()
        / (c.e - c.s + 1) as f64;
    let mut outside: Vec<f64> =
        c.tl.buckets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < c.s || *i > c.e)
            .map(|(_, b)| b.requests as f64)
            .collect();
    let base = median(&mut outside);
    let lat_in = c.p95(false, true);
    let lat_out = c.p95(false, false);
    let rising =
        matches!((lat_in, lat_out), (Some(a), Some(b)) if a as f64 > 1.5 * b.max(1000) as f64);
    if !(base > 0.0 && rate_in > 1.5 * base && rising) {
        return None;
    }
    let best = out.iter().map(|c| c.confidence).fold(0.0, f64::max);
    let conf = if best >= 0.5 { 0.3 } else { 0.5 };
    let summary = format!(
        "Request rate rose to {:.1}× its usual level ({:.0} vs {:.0} per bucket) and request time p95 rose from {} to {}: more load than the backend serves. Add capacity or shed load.{}",
        rate_in / base, rate_in, base, fmt_us(lat_out), fmt_us(lat_in),
        if c.tl.buckets.iter().all(|b| b.events.iter().all(|&n| n == 0)) {
            " No error log was given: nginx's would tell whether nginx itself ran out of connections ('worker_connections are not enough', errno 24 or 99: proxy_connections_exhausted), which the access log cannot show (dropped connections are never logged)."
        } else {
            ""
        }
    );
    Some(cause(
        "overload",
        conf,
        summary,
        c.ev_status(&[503, 504], 2),
    ))
}

/// `unknown`: no cause above reached 0.3; says what was looked at, and to add the error logs
/// when no error-log line matched a failing request.
pub(super) fn unknown(x: &Scene<'_, '_>, out: &[Cause]) -> Option<Cause> {
    let c = x.c;
    if !out.iter().all(|c| c.confidence < 0.3) {
        return None;
    }
    let looked = "nginx error-log timeouts, refused/reset connections, no live upstreams, header size, rate limits, PHP fatals, php-fpm max_children/terminate/crash lines, LB health checks, per-upstream and per-client-network concentration and traffic level";
    let summary = format!(
        "Nothing in the logs given explains these {} errors (looked at: {looked}). {}",
        c.errors,
        if x.joins.total_5xx > 0 && x.joins.explained == 0 {
            "No error-log line matches the failing requests: add the error logs of the failing layer (nginx error.log, php-fpm log) to the run."
        } else {
            ""
        }
    );
    Some(cause(
        "unknown",
        0.2,
        summary.trim_end().to_string(),
        c.ev_status(&[500, 502, 503, 504], 3),
    ))
}
