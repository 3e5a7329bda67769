//! `client_subset`: a few client networks (IPv4 /24, IPv6 /48) fail while the others are
//! served; the detector of the table ([`super::CHAIN`]) and the measurement it makes on the
//! incident's kept request rows, network sketch and samples.

use std::collections::HashMap;

use gatelog_parsers::Layer;

use super::Scene;
use crate::analysis::report::{display_bytes, Cause, Evidence};
use crate::analysis::{
    cause, plural, round3, samples_from, share, CauseCtx, EVIDENCE_PER_CAUSE, LAYERS,
};

/// `client_subset`: a few client networks fail while the others succeed ([`measure`]). A
/// backend calling its own LB, an LB without backends and retrying clients also concentrate
/// failures on some clients: when they have evidence, they explain more, and this one stays
/// below them.
pub(super) fn client_subset(x: &Scene<'_, '_>, out: &[Cause]) -> Option<Cause> {
    let mut cs = measure(x.c)?;
    let specific = out
        .iter()
        .filter(|x| {
            matches!(
                x.cause.as_str(),
                "self_loop" | "lb_backend_down" | "retry_storm"
            )
        })
        .map(|x| x.confidence)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    if let Some(best) = specific {
        cs.confidence = round3(cs.confidence.min(best - 0.05).max(0.05));
    }
    Some(cs)
}

/// `client_subset` thresholds (README "Causes"): the fewest networks that carry this share
/// of the incident's 5xx are "the failing networks"...
const SUBSET_COVER: f64 = 0.8;
/// ...they are at most this share of the client networks that sent requests...
const SUBSET_MAX_SHARE: f64 = 0.5;
/// ...they failed at least this share of their own requests...
const SUBSET_MIN_RATE: f64 = 0.25;
/// ...while the other networks failed at most this share of theirs (and several times less),
const SUBSET_OTHERS_MAX_RATE: f64 = 0.1;
/// ...over at least this many requests.
const SUBSET_OTHERS_MIN_REQUESTS: u64 = 10;

/// Distinct keys in one row of a sketch, by linear counting (saturates near m ln m).
fn linear_count(cells: &[u32]) -> f64 {
    let m = cells.len() as f64;
    let zero = cells.iter().filter(|&&c| c == 0).count().max(1) as f64;
    m * (m / zero).ln()
}

/// The measurement: most 5xx of the incident come from a small share of the client networks
/// (IPv4 /24, IPv6 /48) that sent requests, and the other networks' requests mostly
/// succeeded. Counted at the incident's outermost layer (the one that saw the real clients).
fn measure(c: &CauseCtx<'_>) -> Option<Cause> {
    let l = c.layer?;
    let bs = &c.tl.buckets[c.s..=c.e];
    let req_l: u64 = bs.iter().map(|b| b.requests_by_layer[l]).sum();
    let err_l: u64 = bs.iter().map(|b| b.err5xx_by_layer[l]).sum();
    let mut sketch = crate::agg::acc::NetSketch::default();
    for b in bs {
        if let Some(n) = &b.nets[l] {
            sketch.merge(n);
        }
    }
    // exact 5xx per network from the kept rows: the keys sorted and counted by runs (an
    // incident of tens of thousands of 5xx from as many networks costs a sort, not a hash
    // map of them)
    // a kept 5xx row of this layer in the incident
    let in_incident = |r: &crate::agg::acc::ReqRow| {
        (500..600).contains(&r.status)
            && r.layer as usize == l
            && r.utc_us >= c.start_us
            && r.utc_us < c.end_us
    };
    let mut keys5: Vec<u64> = Vec::new();
    let mut rows5 = 0u64;
    for r in &c.acc.req_rows {
        if in_incident(r) {
            rows5 += 1;
            if r.net != 0 {
                keys5.push(r.net);
            }
        }
    }
    keys5.sort_unstable();
    let mut nets: Vec<(u64, u64)> = Vec::new();
    for k in keys5 {
        match nets.last_mut() {
            Some(x) if x.0 == k => x.1 += 1,
            _ => nets.push((k, 1)),
        }
    }
    nets.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut failing: Vec<(u64, u64)> = Vec::new();
    let mut err_f = 0u64;
    for &(k, n) in &nets {
        if share(err_f, rows5) >= SUBSET_COVER {
            break;
        }
        failing.push((k, n));
        err_f += n;
    }
    let cover = share(err_f, rows5);
    let n_nets = linear_count(&sketch.cells[..crate::agg::acc::NET_CELLS])
        .max(linear_count(&sketch.cells[crate::agg::acc::NET_CELLS..]))
        .round()
        .max(nets.len() as f64);
    if failing.is_empty()
        || err_f < 5
        || cover < SUBSET_COVER
        || n_nets < 2.0
        || failing.len() as f64 > SUBSET_MAX_SHARE * n_nets
    {
        return None;
    }
    let with_req: Vec<(u64, u64, u64)> = failing
        .iter()
        .map(|&(k, n)| (k, n, sketch.estimate(k).max(n)))
        .collect();
    let req_f: u64 = with_req.iter().map(|x| x.2).sum::<u64>().min(req_l);
    // past the cap on kept rows the failing networks' share of the kept 5xx stands for
    // their share of all of them
    let err_f_all = if err_l > rows5 && rows5 > 0 {
        ((err_f as f64 * err_l as f64 / rows5 as f64).round() as u64).min(err_l)
    } else {
        err_f
    };
    let others_req = req_l.saturating_sub(req_f);
    let others_err = err_l.saturating_sub(err_f_all);
    let rate_f = share(err_f_all, req_f);
    let rate_o = share(others_err, others_req);
    if others_req < SUBSET_OTHERS_MIN_REQUESTS
        || rate_o > SUBSET_OTHERS_MAX_RATE
        || rate_f < SUBSET_MIN_RATE
        || rate_f < 5.0 * rate_o
    {
        return None;
    }
    let mut conf = 0.35 + 0.3 * cover + 0.3 * (rate_f - rate_o);
    if (others_req as f64) < 0.2 * req_l as f64 {
        // little traffic from the others: less contrast to go on
        conf *= 0.85;
    }
    // how each listed network is shown: the address of its first kept 5xx row
    let mut shown: HashMap<u64, Option<u64>> =
        with_req.iter().take(5).map(|x| (x.0, None)).collect();
    for r in c.acc.req_rows.iter().filter(|r| in_incident(r)) {
        if let Some(v @ None) = shown.get_mut(&r.net) {
            *v = Some(r.net_ip);
        }
    }
    let listed: Vec<String> = with_req
        .iter()
        .take(5)
        .map(|&(k, n, r)| {
            let name = crate::agg::acc::net_name(shown.get(&k).copied().flatten().unwrap_or(0));
            format!("{name} ({n} 5xx of {r} requests)")
        })
        .collect();
    let more = if failing.len() > listed.len() {
        format!(" and {} more", failing.len() - listed.len())
    } else {
        String::new()
    };
    let kept = if err_l > rows5 {
        format!(" (of the {rows5} 5xx lines kept for analysis; {err_l} in all)")
    } else {
        String::new()
    };
    let summary = format!(
        "{err_f} of {rows5} 5xx{kept} came from {} of about {} client networks that sent requests: {}{more}; they failed {:.0}% of their requests while the other networks' {others_req} requests failed {:.1}% (counted at the {} layer). Only some clients fail: look for blocking (a WAF or security rule, an ISP intercepting them) or routing (a geo/map rule or DNS view sending them to a broken backend) for these networks.",
        plural(failing.len() as u64, "network", "networks"),
        n_nets,
        listed.join(", "),
        rate_f * 100.0,
        rate_o * 100.0,
        LAYERS[l].id()
    );
    // example lines: kept 5xx samples that came from the failing networks
    let keys: std::collections::HashSet<u64> = failing.iter().map(|x| x.0).collect();
    let lines: std::collections::HashSet<(u32, u64)> = c
        .acc
        .req_rows
        .iter()
        .filter(|r| {
            r.layer as usize == l
                && r.utc_us >= c.start_us
                && r.utc_us < c.end_us
                && keys.contains(&r.net)
        })
        .map(|r| (r.file, r.line))
        .collect();
    let mut ev = Vec::new();
    let mut shown_lines: std::collections::HashSet<(u32, u64)> = std::collections::HashSet::new();
    // 5xx samples of any layer (rows of other layers are filtered out by file:line), and the
    // LB's own
    let lo = crate::agg::acc::layer_sample_key(Layer::Lb, 500);
    let keys5 = |k: u16| (1500..1600).contains(&k) || (lo..lo + 100).contains(&k);
    let from = samples_from(c.acc, c.start_us).max(c.start_us - 86_400_000_000);
    for ((bucket, key), v) in c.acc.samples.range((from, 0)..) {
        if *bucket >= c.end_us {
            break;
        }
        for x in v {
            if keys5(*key)
                && x.utc_us < c.end_us
                && x.utc_us >= c.start_us
                && lines.contains(&(x.file, x.line))
                && ev.len() < EVIDENCE_PER_CAUSE
                && shown_lines.insert((x.file, x.line))
            {
                ev.push(Evidence {
                    path: (c.name_of)(x.file),
                    line: x.line,
                    text: display_bytes(&x.text),
                });
            }
        }
        if ev.len() >= EVIDENCE_PER_CAUSE {
            break;
        }
    }
    Some(cause("client_subset", conf.min(0.95), summary, ev))
}
