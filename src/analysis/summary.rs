//! The report's answer first: when, how long, how bad at the counted layer, the chain of
//! causes and the setting to change, built from the finished report so that every sink
//! (text, JSON `summary`, the HTML card, live) says the same thing.

use serde::Serialize;

use crate::analysis::report::{fmt_duration_s, Incident, Report};

/// What the report found, in a few figures. The incident summarised is the one with the
/// most errors (the first of them on a tie).
#[derive(Clone, Debug, Serialize, Default, PartialEq)]
pub struct Summary {
    /// Number of incidents in the report.
    pub incidents: usize,
    /// Id of the incident summarised (`None`: no incident).
    pub incident: Option<usize>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub duration_seconds: Option<i64>,
    /// The layer whose log lines the figures count (each request once): `lb`, `proxy`, `app`.
    pub counted_layer: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// The most frequent 5xx status of the incident (`"504"`).
    pub status: Option<String>,
    /// Cause ids and roots, the actionable cause first, then what it stems from.
    pub chain: Vec<String>,
    /// The setting (or the thing) to change for the first cause, when the cause has one.
    pub setting: Option<String>,
    /// The first cause's advice, from its summary.
    pub advice: Option<String>,
    /// The whole answer in one paragraph: `lines` joined with "; ".
    pub text: String,
    /// What the text report and the HTML card print, one line each.
    #[serde(skip)]
    pub lines: Vec<String>,
}

/// The setting a cause points at (SPEC cause vocabulary).
pub fn setting_of(cause: &str) -> Option<&'static str> {
    Some(match cause {
        "fpm_max_children" => "pm.max_children (php-fpm pool)",
        "upstream_read_timeout" => "fastcgi_read_timeout / proxy_read_timeout (nginx)",
        "upstream_connect_timeout" => "fastcgi_connect_timeout / proxy_connect_timeout (nginx)",
        "fpm_request_terminate" => "request_terminate_timeout (php-fpm pool)",
        "fpm_listen_backlog" => "listen.backlog (php-fpm pool) and net.core.somaxconn",
        "upstream_header_too_big" => "fastcgi_buffer_size / proxy_buffer_size (nginx)",
        "no_live_upstreams" => "max_fails / fail_timeout of the nginx upstream",
        "rate_limited" => "limit_req rate and burst (nginx)",
        "lb_backend_down" => "the load balancer's health check and the backend it marked down",
        "lb_target_timeout" => "the load balancer's target / server timeout",
        "request_header_too_big" => {
            "large_client_header_buffers (nginx; HAProxy tune.bufsize)"
        }
        "proxy_connections_exhausted" => {
            "worker_connections / worker_rlimit_nofile (nginx), net.ipv4.ip_local_port_range + upstream keepalive"
        }
        "fpm_oom_kill" => {
            "memory_limit / pm.max_children × worker RSS against the host's RAM (php-fpm pool)"
        }
        "lb_health_check_blocked" => {
            "allow the load balancer's check source (100.64.0.0/10 for SLB) in what answered 403/444"
        }
        "upstream_reset" => {
            "read the php-fpm master log and the kernel log to tell request_terminate_timeout, a crash or an OOM kill apart"
        }
        "upstream_unreachable" => "the firewall / security group / route between proxy and backend",
        "maintenance" => "the maintenance switch (the `return 503` / maintenance page)",
        "bandwidth_saturated" => "the bandwidth cap (instance, SLB/EIP), or serve large files from a CDN",
        "fpm_worker_crash" => "the crashing extension or code (php-fpm core dumps)",
        "app_error" => "the application code (PHP error log)",
        "upstream_refused" => "the backend's listener (is it running, on that socket?)",
        _ => return None,
    })
}

/// The sentence of a cause summary that says what to do (names the setting, or starts with
/// an imperative), if any.
fn advice_of(summary: &str, setting: Option<&str>) -> Option<String> {
    let key = setting.and_then(|s| s.split([' ', '/']).next());
    let verbs = [
        "Raise", "Lower", "Compare", "Check", "Look", "Make", "Increase", "Fix", "Add", "Allow",
        "Give", "Find", "Reduce", "Set",
    ];
    summary
        .split(". ")
        .map(|s| s.trim().trim_end_matches('.'))
        .find(|s| verbs.iter().any(|v| s.starts_with(v)) || key.is_some_and(|k| s.starts_with(k)))
        .map(|s| format!("{s}."))
}

fn main_incident(r: &Report) -> Option<&Incident> {
    r.incidents
        .iter()
        .fold(None, |best: Option<&Incident>, i| match best {
            Some(b) if b.errors >= i.errors => Some(b),
            _ => Some(i),
        })
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / of as f64)
    }
}

/// `2026-11-23T20:01:31+00:00` → `2026-11-23 20:01:31`.
fn when(rfc: &str) -> String {
    rfc.get(..19).unwrap_or(rfc).replacen('T', " ", 1)
}

/// The summary of a finished report.
pub fn of(r: &Report) -> Summary {
    let mut s = Summary {
        incidents: r.incidents.len(),
        ..Summary::default()
    };
    let Some(inc) = main_incident(r) else {
        // no incident: the run's own figures at its outermost layer
        let outer = ["lb", "proxy", "app"].iter().find_map(|l| {
            r.totals
                .by_layer
                .get(*l)
                .filter(|c| c.requests > 0)
                .map(|c| (*l, c))
        });
        let (layer, req, err) = match outer {
            Some((l, c)) => (Some(l.to_string()), c.requests, c.err5xx),
            None => (
                None,
                r.totals.requests,
                r.totals.status_class.get("5xx").copied().unwrap_or(0),
            ),
        };
        s.counted_layer = layer.clone();
        s.requests = req;
        s.errors = err;
        s.error_rate = if req > 0 {
            round3(err as f64 / req as f64)
        } else {
            0.0
        };
        s.from = r.window.from.clone();
        s.to = r.window.to.clone();
        s.text = if r.totals.lines == 0 {
            "nothing to analyse: no lines were read".into()
        } else {
            format!(
                "no incident: {req} requests, {err} 5xx ({}){}; the 5xx rate never rose well above its baseline",
                pct(err, req),
                layer.map(|l| format!(" at the {l} layer")).unwrap_or_default()
            )
        };
        s.lines = vec![s.text.clone()];
        return s;
    };
    s.incident = Some(inc.id);
    s.from = Some(inc.start.clone());
    s.to = Some(inc.end.clone());
    let dur = (inc.end_us - inc.start_us) / 1_000_000;
    s.duration_seconds = Some(dur);
    s.counted_layer = inc.counted_layer.clone();
    s.requests = inc.requests;
    s.errors = inc.errors;
    s.error_rate = inc.error_rate;
    s.status = inc
        .status
        .iter()
        .filter(|(k, _)| k.starts_with('5'))
        .max_by_key(|(_, v)| **v)
        .map(|(k, _)| k.clone());
    if let Some(c) = inc.causes.first() {
        // the chain behind the first cause, as `causes[].behind` links it
        s.chain.push(c.cause.clone());
        let mut cur = c;
        while let Some(next) = cur.behind.iter().find_map(|id| {
            inc.causes
                .iter()
                .find(|x| x.cause == *id && !s.chain.contains(&x.cause))
        }) {
            s.chain.push(next.cause.clone());
            cur = next;
        }
        if s.chain.iter().any(|x| x == "fpm_max_children") {
            if let Some(sat) = &inc.saturation {
                if let Some((frame, _)) = sat.top_frames.first() {
                    s.chain.push(format!("slowlog: {frame}"));
                }
            }
        }
        s.setting = setting_of(&c.cause).map(str::to_string);
        s.advice = advice_of(&c.summary, s.setting.as_deref());
    }
    let mut lines = vec![format!(
        "{} → {} ({}){}",
        when(&inc.start),
        inc.end.get(11..19).unwrap_or(&inc.end),
        fmt_duration_s(dur.max(1)),
        if r.incidents.len() > 1 {
            format!(
                ", incident #{}, the largest of {}",
                inc.id,
                r.incidents.len()
            )
        } else {
            String::new()
        }
    )];
    lines.push(format!(
        "{} of {} requests failed ({}){}{}",
        inc.errors,
        inc.requests,
        pct(inc.errors, inc.requests),
        inc.counted_layer
            .as_deref()
            .map(|l| format!(" at the {l} layer"))
            .unwrap_or_default(),
        s.status
            .as_deref()
            .map(|st| format!(", mostly {st}"))
            .unwrap_or_default()
    ));
    if s.chain.is_empty() {
        lines.push("cause: none found".into());
    } else {
        lines.push(format!("cause: {}", s.chain.join(" ← ")));
    }
    match (&s.setting, &s.advice) {
        (Some(set), Some(a)) => lines.push(format!("change: {set}: {a}")),
        (Some(set), None) => lines.push(format!("change: {set}")),
        (None, Some(a)) => lines.push(format!("change: {a}")),
        (None, None) => {}
    }
    s.text = lines.join("; ");
    s.lines = lines;
    s
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_is_the_imperative_sentence() {
        let s = "php-fpm pool www reached pm.max_children = 8 (1 line); requests queued. Raise pm.max_children (if memory allows) or make the slow scripts faster. 70 of 70 slow traces.";
        assert_eq!(
            advice_of(s, setting_of("fpm_max_children")).as_deref(),
            Some("Raise pm.max_children (if memory allows) or make the slow scripts faster.")
        );
        assert_eq!(advice_of("nothing to do here", None), None);
    }

    #[test]
    fn every_new_cause_has_a_setting() {
        for (id, word) in [
            ("fpm_oom_kill", "memory_limit"),
            ("proxy_connections_exhausted", "ip_local_port_range"),
            ("upstream_unreachable", "security group"),
            ("request_header_too_big", "large_client_header_buffers"),
            ("lb_health_check_blocked", "100.64.0.0/10"),
            ("bandwidth_saturated", "CDN"),
            ("maintenance", "maintenance switch"),
            ("upstream_reset", "kernel log"),
        ] {
            let s = setting_of(id).unwrap_or_else(|| panic!("{id}"));
            assert!(s.contains(word), "{id}: {s}");
        }
    }
}
