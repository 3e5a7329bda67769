//! The load balancer's own verdicts: no backend available, a target that did not answer in
//! time.

use gatelog_parsers::EventKind::*;
use gatelog_parsers::Layer;

use super::Scene;
use crate::agg::acc::LbVerdict;
use crate::analysis::report::Cause;
use crate::analysis::{cause, share};

/// `lb_backend_down`: the LB answered 5xx itself, no backend available (and health-check
/// DOWN / no-server lines).
pub(super) fn backend_down(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let c = x.c;
    let nobackend = c.lb(LbVerdict::NoBackend);
    let down = c.events(&[LbServerDown, LbNoServer]);
    if nobackend + down == 0 {
        return None;
    }
    let lb5: u64 = c.tl.buckets[c.s..=c.e]
        .iter()
        .map(|b| b.err5xx_by_layer[Layer::Lb as usize])
        .sum();
    let conf = 0.5 + 0.4 * share(nobackend, lb5.max(1)) + if down > 0 { 0.1 } else { 0.0 };
    let summary = format!(
        "The load balancer answered {} 5xx itself because no backend was available or reachable ({} health-check DOWN / no-server lines): the backend never saw these requests. Check why the health check failed on the backends.",
        nobackend, down
    );
    let mut ev = c.ev_kinds(&[LbServerDown, LbNoServer], 300_000_000);
    ev.extend(c.ev_status(&[503, 502], 2));
    Some(cause("lb_backend_down", conf, summary, ev))
}

/// `lb_target_timeout`: LB 504s, the target accepted the request and did not answer in time.
pub(super) fn target_timeout(x: &Scene<'_, '_>, _: &[Cause]) -> Option<Cause> {
    let c = x.c;
    let lbt = c.lb(LbVerdict::TargetTimeout);
    if lbt == 0 {
        return None;
    }
    let conf = 0.5 + 0.45 * share(lbt, x.n.s504.max(1));
    let summary = format!(
        "{} LB 504s: the target accepted the request but did not answer within the LB's idle/server timeout. Compare the LB timeout with the backend's request time and its own timeouts.",
        lbt
    );
    Some(cause(
        "lb_target_timeout",
        conf,
        summary,
        c.ev_status(&[504], 3),
    ))
}
