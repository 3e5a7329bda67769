//! `client_subset`: 5xx concentrated in a few client networks while the others succeed (the
//! seed's "only some clients or ISPs"), and incident figures that count each request once
//! when several layers logged it.
//!
//! The logs here are generated (edge cases: IPv6, failing alike, a network failing only a
//! little more, the minimum of errors); `samples/client_subset` is the real one (HAProxy and
//! nginx in the lab, one /24 refused with 503 by a geo rule), checked against its ground truth
//! by tests/samples.rs and below; the other lab samples (every client on 127.0.0.1) must never
//! get this cause.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn analyze(inputs: &[PathBuf]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json"])
        .args(inputs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn causes(inc: &Value) -> Vec<&str> {
    inc["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"].as_str().unwrap())
        .collect()
}

fn stamp(s: u32) -> String {
    format!("23/Nov/2026:10:{:02}:{:02}", s / 60, s % 60)
}

/// Networks 10.1.x, 172.16.5.x, 192.0.2.x and 2001:db8:7::/48; two clients each, one request
/// per client per second for 180 s. `status(net, second)` decides each answer.
fn nginx_log(status: impl Fn(usize, u32) -> u16) -> String {
    let nets = ["10.1.1", "172.16.5", "192.0.2", "2001:db8:7:1:"];
    let mut s = String::new();
    for sec in 0..180u32 {
        for (n, net) in nets.iter().enumerate() {
            for host in [7, 42] {
                let addr = if net.contains(':') {
                    format!("{net}:{host:x}")
                } else {
                    format!("{net}.{host}")
                };
                let st = status(n, sec);
                let _ = writeln!(
                    s,
                    "{addr} - - [{} +0000] \"GET /api/items?id={sec} HTTP/1.1\" {st} 12 \"-\" \"app/2.1\"",
                    stamp(sec)
                );
            }
        }
    }
    s
}

fn write(dir: &Path, name: &str, data: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn one_network_failing_while_the_others_succeed_is_named() {
    let d = tempfile::tempdir().unwrap();
    // 10.1.1.0/24 gets 502 from second 60 to 119; everyone else keeps getting 200
    let log = write(
        d.path(),
        "access.log",
        &nginx_log(|n, s| {
            if n == 0 && (60..120).contains(&s) {
                502
            } else {
                200
            }
        }),
    );
    let r = analyze(std::slice::from_ref(&log));
    let incs = r["incidents"].as_array().unwrap();
    assert_eq!(incs.len(), 1, "{incs:?}");
    let inc = &incs[0];
    assert_eq!(inc["errors"], 120);
    assert_eq!(inc["counted_layer"], "proxy");
    let c = &inc["causes"][0];
    assert_eq!(c["cause"], "client_subset", "{:?}", causes(inc));
    let conf = c["confidence"].as_f64().unwrap();
    assert!(conf >= 0.85, "{c}");
    let summary = c["summary"].as_str().unwrap();
    // the network, its 5xx and requests, and the others' success
    assert!(
        summary.contains("10.1.1.0/24 (120 5xx of 120 requests)"),
        "{summary}"
    );
    assert!(summary.contains("1 network of about 4"), "{summary}");
    assert!(summary.contains("failed 0.0%"), "{summary}");
    // evidence: real lines of the failing network, with their line numbers
    let text = std::fs::read_to_string(&log).unwrap();
    let ev = c["evidence"].as_array().unwrap();
    assert!(!ev.is_empty());
    for e in ev {
        let n = e["line"].as_u64().unwrap() as usize;
        let line = text.lines().nth(n - 1).unwrap();
        assert_eq!(e["text"], line);
        assert!(
            line.starts_with("10.1.1.") && line.contains("\" 502 "),
            "{line}"
        );
    }
}

#[test]
fn an_ipv6_network_is_named_by_its_48() {
    let d = tempfile::tempdir().unwrap();
    let log = write(
        d.path(),
        "access.log",
        &nginx_log(|n, s| {
            if n == 3 && (60..120).contains(&s) {
                503
            } else {
                200
            }
        }),
    );
    let r = analyze(&[log]);
    let c = &r["incidents"][0]["causes"][0];
    assert_eq!(c["cause"], "client_subset", "{c}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("2001:db8:7::/48 (120 5xx of 120 requests)"),
        "{c}"
    );
}

#[test]
fn every_network_failing_alike_is_not_a_client_subset() {
    let d = tempfile::tempdir().unwrap();
    // from second 60 to 119 every network fails half of its requests
    let log = write(
        d.path(),
        "access.log",
        &nginx_log(|_, s| {
            if (60..120).contains(&s) && s % 2 == 0 {
                502
            } else {
                200
            }
        }),
    );
    let r = analyze(&[log]);
    let incs = r["incidents"].as_array().unwrap();
    assert!(!incs.is_empty());
    for inc in incs {
        assert!(!causes(inc).contains(&"client_subset"), "{inc}");
    }
}

#[test]
fn a_network_failing_a_little_more_than_the_others_is_not_a_client_subset() {
    let d = tempfile::tempdir().unwrap();
    // everyone fails every other second; 10.1.1.0/24 fails every second: it carries most
    // 5xx but the others did not succeed
    let log = write(
        d.path(),
        "access.log",
        &nginx_log(|n, s| {
            if (60..120).contains(&s) && (n == 0 || s % 3 == 0) {
                502
            } else {
                200
            }
        }),
    );
    let r = analyze(&[log]);
    for inc in r["incidents"].as_array().unwrap() {
        assert!(!causes(inc).contains(&"client_subset"), "{inc}");
    }
}

/// The failing network's clients also retry at once (the same request again within a second):
/// `retry_storm` is the more specific story and `client_subset` ranks below it.
#[test]
fn retrying_clients_outrank_the_network_they_are_in() {
    let d = tempfile::tempdir().unwrap();
    let mut s = String::new();
    for sec in 0..180u32 {
        for (n, net) in ["10.1.1", "172.16.5", "192.0.2", "198.51.100"]
            .iter()
            .enumerate()
        {
            for host in 1..=6 {
                let failing = n == 0 && (60..120).contains(&sec);
                // failing clients repeat one request; the others browse
                let (path, st) = if failing {
                    (format!("/checkout/{host}"), 502)
                } else {
                    (format!("/item/{sec}/{host}"), 200)
                };
                for _ in 0..if failing { 2 } else { 1 } {
                    let _ = writeln!(
                        s,
                        "{net}.{host} - - [{} +0000] \"POST {path} HTTP/1.1\" {st} 12 \"-\" \"app/2.1\"",
                        stamp(sec)
                    );
                }
            }
        }
    }
    let log = write(d.path(), "access.log", &s);
    let r = analyze(std::slice::from_ref(&log));
    let inc = &r["incidents"][0];
    let names = causes(inc);
    let pos = |c: &str| names.iter().position(|x| *x == c);
    let (Some(retry), Some(subset)) = (pos("retry_storm"), pos("client_subset")) else {
        panic!("want both retry_storm and client_subset: {names:?}");
    };
    assert!(retry < subset, "{names:?}");
    let conf = |i: usize| inc["causes"][i]["confidence"].as_f64().unwrap();
    assert!(conf(subset) < conf(retry), "{inc}");
}

/// HAProxy and nginx logs of the same requests: clients 198.51.100.x, 203.0.113.x and
/// 192.0.2.x (three each, one request per second for 180 s) as the LB saw them; nginx sees
/// only the LB (127.0.0.1). `status(net, second)` decides each answer.
fn lb_and_nginx(status: impl Fn(usize, u32) -> u16) -> (String, String) {
    let nets = ["198.51.100", "203.0.113", "192.0.2"];
    let mut lb = String::new();
    let mut ngx = String::new();
    let mut port = 40000;
    for sec in 0..180u32 {
        for (n, net) in nets.iter().enumerate() {
            for host in [11, 12, 13] {
                port += 1;
                let st = status(n, sec);
                let _ = writeln!(
                    lb,
                    "Nov 23 10:{:02}:{:02} lab haproxy[22794]: {net}.{host}:{port} [{}.250] fe_lab be_nginx/n1 0/0/0/3/3 {st} 125 - - ---- 3/3/1/0/0 0/0 \"GET /cart HTTP/1.1\"",
                    sec / 60,
                    sec % 60,
                    stamp(sec)
                );
                let _ = writeln!(
                    ngx,
                    "127.0.0.1 - - [{} +0000] \"GET /cart HTTP/1.1\" {st} 12 \"-\" \"app/2.1\"",
                    stamp(sec)
                );
            }
        }
    }
    (lb, ngx)
}

/// HAProxy in front of nginx: the LB sees the real clients, nginx sees only the LB (127.0.0.1).
/// The incident counts each failed request once (at the LB), keeps both layers' own counts,
/// and finds the failing network among the LB's clients.
#[test]
fn behind_a_load_balancer_requests_count_once_and_networks_are_the_lbs_clients() {
    let d = tempfile::tempdir().unwrap();
    let (lb, ngx) = lb_and_nginx(|n, s| {
        if n == 0 && (60..120).contains(&s) {
            502
        } else {
            200
        }
    });
    let lb = write(d.path(), "haproxy.log", &lb);
    let ngx = write(d.path(), "access.log", &ngx);
    let r = analyze(&[lb, ngx]);
    let incs = r["incidents"].as_array().unwrap();
    assert_eq!(incs.len(), 1, "{incs:?}");
    let inc = &incs[0];
    // 180 failed requests, logged twice
    assert_eq!(inc["by_layer"]["lb"]["5xx"], 180);
    assert_eq!(inc["by_layer"]["proxy"]["5xx"], 180);
    assert_eq!(inc["errors"], 180, "{inc}");
    assert_eq!(inc["status"]["502"], 180, "{inc}");
    assert_eq!(inc["counted_layer"], "lb");
    let req = inc["requests"].as_u64().unwrap();
    assert_eq!(req, inc["by_layer"]["lb"]["requests"].as_u64().unwrap());
    let c = &inc["causes"][0];
    assert_eq!(c["cause"], "client_subset", "{:?}", causes(inc));
    let summary = c["summary"].as_str().unwrap();
    assert!(
        summary.contains("198.51.100.0/24 (180 5xx of 180 requests)")
            && summary.contains("at the lb layer"),
        "{summary}"
    );
    // evidence: the LB's lines of the failing network (not nginx's, which all say 127.0.0.1)
    let ev = c["evidence"].as_array().unwrap();
    assert!(!ev.is_empty());
    for e in ev {
        assert!(
            e["path"].as_str().unwrap().ends_with("haproxy.log")
                && e["text"].as_str().unwrap().contains(": 198.51.100."),
            "{e}"
        );
    }
    // the text report says how the headline was counted
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--color", "never"])
        .arg(d.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("180 errors of") && text.contains("as the lb layer logged it"),
        "{text}"
    );
    assert!(text.contains("status  502: 180"), "{text}");
}

/// `--min-errors` counts failed requests, not log lines: three requests that failed, logged by
/// HAProxy and by nginx, are not an incident (default minimum 5).
#[test]
fn the_minimum_errors_count_requests_not_log_lines() {
    let d = tempfile::tempdir().unwrap();
    let (lb, ngx) = lb_and_nginx(|n, s| if n == 1 && s == 100 { 502 } else { 200 });
    let lb = write(d.path(), "haproxy.log", &lb);
    let ngx = write(d.path(), "access.log", &ngx);
    let r = analyze(&[lb.clone(), ngx.clone()]);
    // three requests, each logged by HAProxy and by nginx: counted once, at the LB
    assert_eq!(r["totals"]["status"]["502"], 3);
    assert_eq!(r["totals"]["layers"]["lb"]["status"]["502"], 3);
    assert_eq!(r["totals"]["layers"]["proxy"]["status"]["502"], 3);
    assert_eq!(
        r["incidents"].as_array().unwrap().len(),
        0,
        "{}",
        r["incidents"]
    );
    // with --min-errors 3 the same logs make one incident of 3 errors
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json", "--min-errors", "3"])
        .args([&lb, &ngx])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let incs = r["incidents"].as_array().unwrap();
    assert_eq!(incs.len(), 1, "{incs:?}");
    assert_eq!(incs[0]["errors"], 3);
}

/// The lab samples other than `client_subset`: every client is 127.0.0.1, so no incident may
/// blame client networks; and the incident's headline figures are each request once (the
/// LB's), not the sum of layers.
#[test]
fn lab_samples_never_blame_client_networks_and_count_requests_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut seen = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let dir = e.unwrap().path();
        // client_subset is the one scenario with several client networks (tests/samples.rs
        // checks its attribution against the ground truth)
        if !dir.join("ground_truth.json").is_file() || dir.ends_with("client_subset") {
            continue;
        }
        seen += 1;
        let r = analyze(std::slice::from_ref(&dir));
        for inc in r["incidents"].as_array().unwrap() {
            assert!(
                !causes(inc).contains(&"client_subset"),
                "{}: {inc}",
                dir.display()
            );
            let layer = inc["counted_layer"].as_str().unwrap();
            assert_eq!(
                inc["errors"],
                inc["by_layer"][layer]["5xx"],
                "{}",
                dir.display()
            );
            let status5: u64 = inc["status"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with('5'))
                .map(|(_, v)| v.as_u64().unwrap())
                .sum();
            assert_eq!(
                status5,
                inc["errors"].as_u64().unwrap(),
                "{}",
                dir.display()
            );
        }
    }
    assert!(seen >= 8);
    // the real one: 127.0.2.0/24 refused by nginx's geo rule, seen through HAProxy
    let r = analyze(&[root.join("client_subset")]);
    let incs = r["incidents"].as_array().unwrap();
    assert_eq!(incs.len(), 1, "{incs:?}");
    let inc = &incs[0];
    assert_eq!(
        (inc["errors"].as_u64(), inc["counted_layer"].as_str()),
        (Some(80), Some("lb"))
    );
    let c = &inc["causes"][0];
    assert_eq!(c["cause"], "client_subset");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("127.0.2.0/24 (80 5xx of 80 requests)"),
        "{c}"
    );
    for e in c["evidence"].as_array().unwrap() {
        assert!(e["text"].as_str().unwrap().contains(": 127.0.2."), "{e}");
    }
    // samples/incident: 913 requests failed; HAProxy and nginx both logged them, so the
    // layers' sum (1824) is not the headline
    let r = analyze(&[root.join("incident")]);
    let inc = &r["incidents"][0];
    assert_eq!(inc["counted_layer"], "lb");
    let e = inc["errors"].as_u64().unwrap();
    assert!((905..=913).contains(&e), "{inc}");
    assert_eq!(inc["status"]["504"].as_u64(), Some(e));
}

/// nginx behind a load balancer with the stock `main` format: `$remote_addr` is the
/// balancer for every line, and `$http_x_forwarded_for` carries the real client (its last
/// entry, the one the balancer appended; an earlier entry a client sent is not trusted). The
/// failing network is found from the forwarded addresses.
#[test]
fn behind_a_load_balancer_networks_come_from_x_forwarded_for() {
    let d = tempfile::tempdir().unwrap();
    let mut s = String::new();
    for sec in 0..180u32 {
        for (n, net) in ["10.1.1", "172.16.5", "192.0.2"].iter().enumerate() {
            for host in [7, 42] {
                let st = if n == 1 && (60..120).contains(&sec) {
                    503
                } else {
                    200
                };
                // a client-supplied entry first (forged: it claims the healthy network)
                let xff = if host == 42 {
                    format!("10.1.1.99, {net}.{host}")
                } else {
                    format!("{net}.{host}")
                };
                let _ = writeln!(
                    s,
                    "10.0.0.2 - - [{} +0000] \"GET /api/items?id={sec} HTTP/1.1\" {st} 12 \"-\" \"app/2.1\" \"{xff}\"",
                    stamp(sec)
                );
            }
        }
    }
    let log = write(d.path(), "access.log", &s);
    let r = analyze(std::slice::from_ref(&log));
    assert_eq!(r["inputs"][0]["rejected"], 0, "{}", r["inputs"][0]);
    let inc = &r["incidents"][0];
    assert_eq!(inc["errors"], 120);
    let c = &inc["causes"][0];
    assert_eq!(c["cause"], "client_subset", "{:?}", causes(inc));
    let summary = c["summary"].as_str().unwrap();
    assert!(summary.contains("172.16.5.0/24"), "{summary}");
    assert!(!summary.contains("10.0.0.0/24"), "{summary}");
    // without the forwarded addresses every request comes from the balancer: one network,
    // no client_subset
    let plain: String = s
        .lines()
        .map(|l| format!("{}\n", &l[..l.rfind(" \"").unwrap()]))
        .collect();
    let log2 = write(d.path(), "plain.log", &plain);
    let r2 = analyze(std::slice::from_ref(&log2));
    assert!(
        !causes(&r2["incidents"][0]).contains(&"client_subset"),
        "{:?}",
        causes(&r2["incidents"][0])
    );
}
