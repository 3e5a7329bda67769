//! Headline figures count each request once (issue 15): TOTALS, the JSON `totals`, the HTML
//! cards and the TOP tables are counted at the outermost layer that logged requests (the
//! load balancer's line of a request that crossed LB → nginx → php-fpm, not all three),
//! as incidents and CAPACITY are; each layer's own figures stay beside them.

use std::collections::BTreeMap;

use crate::agg::acc::Acc;
use crate::analysis::report::{LayerTotals, Top, TopTables, Totals};
use crate::analysis::top_entries;

/// Layers from the outside in (index `Layer as usize` of the accumulator's per-layer tables).
const LAYERS: [&str; 3] = ["lb", "proxy", "app"];

fn class_of(code: usize) -> String {
    if (100..600).contains(&code) {
        format!("{}xx", code / 100)
    } else {
        "other".to_string()
    }
}

fn layer_totals(counts: &[u64; 1000]) -> LayerTotals {
    let mut t = LayerTotals::default();
    for (code, &n) in counts.iter().enumerate() {
        if n > 0 {
            t.requests += n;
            t.status.insert(code.to_string(), n);
            *t.status_class.entry(class_of(code)).or_insert(0) += n;
        }
    }
    t
}

/// Fill `requests`, `status`, `status_class`, `counted_layer` and `layers` of `t`.
pub fn count_once(t: &mut Totals, acc: &Acc) {
    let mut layers: BTreeMap<String, LayerTotals> = BTreeMap::new();
    let mut counted: Option<(String, LayerTotals)> = None;
    for (i, name) in LAYERS.iter().enumerate() {
        let lt = layer_totals(&acc.layer_status_counts[i]);
        if lt.requests == 0 {
            continue;
        }
        if counted.is_none() {
            counted = Some((name.to_string(), lt.clone()));
        }
        layers.insert(name.to_string(), lt);
    }
    match counted {
        Some((name, lt)) => {
            t.requests = lt.requests;
            t.status = lt.status;
            t.status_class = lt.status_class;
            t.counted_layer = Some(name);
        }
        None => {
            // no layer recorded (not expected: every request has one): every line
            let lt = layer_totals(&acc.status_counts);
            t.requests = lt.requests;
            t.status = lt.status;
            t.status_class = lt.status_class;
            t.counted_layer = None;
        }
    }
    t.layers = layers;
}

/// The TOP tables: per layer, and those of `counted` as the headline ones. When the counted
/// layer logged no 5xx (the LB passed them on as something else), the headline tables are
/// those of the outermost layer that has any.
pub fn top(acc: &Acc, counted: Option<&str>, n: usize) -> Top {
    let mut layers = BTreeMap::new();
    let mut error_bound = 0;
    let mut order: Vec<&str> = Vec::new();
    for (i, name) in LAYERS.iter().enumerate() {
        let t = TopTables {
            clients: top_entries(&acc.top_clients[i], n),
            paths: top_entries(&acc.top_paths[i], n),
            upstreams: top_entries(&acc.top_upstreams[i], n),
        };
        error_bound = error_bound
            .max(acc.top_clients[i].error)
            .max(acc.top_paths[i].error)
            .max(acc.top_upstreams[i].error);
        if !t.is_empty() {
            order.push(name);
            layers.insert(name.to_string(), t);
        }
    }
    let head = counted
        .filter(|c| layers.contains_key(*c))
        .or_else(|| order.first().copied());
    let headline = head
        .and_then(|h| layers.get(h))
        .cloned()
        .unwrap_or_default();
    Top {
        clients: headline.clients,
        paths: headline.paths,
        upstreams: headline.upstreams,
        counted_layer: head.map(str::to_string),
        layers,
        error_bound,
    }
}
