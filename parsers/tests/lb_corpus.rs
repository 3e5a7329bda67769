//! Load-balancer parsers against the real-log corpus (read in place from `GATELOG_CORPUS`),
//! plus invented edge cases.
//!
//! For every file of the `alb`, `elb-classic`, `slb`, `haproxy`, `envoy` and `traefik`
//! folders: every line parses, except the lines listed in [`EXCLUDED`] with the reason a real
//! server could not have written them. The 5xx count of each file is checked against a count
//! made independently with a naive split of the line.
mod common;

use gatelog_parsers::lb::{alb::AlbParser, elb::ElbParser, envoy::EnvoyParser};
use gatelog_parsers::lb::{haproxy::HaproxyParser, slb::SlbParser, traefik::TraefikParser};
use gatelog_parsers::{EventKind, Framing, LineParser, Record, Request};
use std::collections::BTreeMap;

/// (file name, 1-based line number, why a real server could not have written it).
const EXCLUDED: &[(&str, usize, &str)] = &[
    (
        "beats-traefik-access.log",
        2,
        "hand-edited by Elastic: the router name's closing quote is missing (`\"Host-host1 \"http://...`); Traefik always quotes it",
    ),
    (
        "integrations-traefik-test-format-common.log",
        7,
        "an Apache CLF example line (no referer, user agent, count, router, server, duration); Traefik's CLF always writes them",
    ),
];

#[derive(Default, Debug)]
struct Stats {
    lines: usize,
    requests: usize,
    events: usize,
    ignored: usize,
    excluded: usize,
    rejected: Vec<(usize, String, String)>,
    s5xx: usize,
}

fn is_excluded(file: &str, line: usize) -> bool {
    EXCLUDED.iter().any(|(f, l, _)| *f == file && *l == line)
}

/// Frame and parse a whole file the way the pipeline does; `visit` sees every request.
fn run_file(
    parser: &mut dyn LineParser,
    name: &str,
    data: &[u8],
    mut visit: impl FnMut(usize, &Request<'_>),
    mut visit_event: impl FnMut(usize, &gatelog_parsers::Event<'_>),
) -> Stats {
    let mut st = Stats::default();
    let all = common::lines(data);
    // fail2ban test files: `# failJSON` / `# filterOptions` annotations are test markup.
    let fail2ban = name.starts_with("fail2ban-");
    let mut recs: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, l) in all.iter().enumerate() {
        let n = i + 1;
        st.lines += 1;
        if fail2ban && l.starts_with(b"#") {
            st.excluded += 1;
            continue;
        }
        if is_excluded(name, n) {
            st.excluded += 1;
            continue;
        }
        if parser.framing() == Framing::MultiLine && !recs.is_empty() && !parser.starts_record(l) {
            let last = recs.last_mut().unwrap();
            last.1.push(b'\n');
            last.1.extend_from_slice(l);
        } else {
            recs.push((n, l.to_vec()));
        }
    }
    for (n, rec) in &recs {
        let mut outs = Vec::new();
        parser.parse_each(rec, &mut |r| {
            outs.push(match r {
                Ok(Record::Request(q)) => {
                    visit(*n, q);
                    Ok(Some(q.status))
                }
                Ok(Record::Event(e)) => {
                    visit_event(*n, e);
                    Ok(None)
                }
                Ok(Record::Ignored) => Err(None),
                Err(e) => Err(Some(e.to_string())),
            })
        });
        for o in outs {
            match o {
                Ok(Some(s)) => {
                    st.requests += 1;
                    if (500..600).contains(&s) {
                        st.s5xx += 1;
                    }
                }
                Ok(None) => st.events += 1,
                Err(None) => st.ignored += 1,
                Err(Some(e)) => st.rejected.push((
                    *n,
                    e,
                    String::from_utf8_lossy(&rec[..rec.len().min(160)]).into_owned(),
                )),
            }
        }
        // parse() agrees with the first record of parse_each
        let _ = parser.parse(rec);
    }
    st
}

/// Parse every file of a corpus folder; returns per-file stats. Panics with the list of
/// rejected lines if any.
fn run_folder(
    sub: &str,
    mk: &dyn Fn() -> Box<dyn LineParser>,
    mut visit: impl FnMut(&str, usize, &Request<'_>),
    mut visit_event: impl FnMut(&str, usize, &gatelog_parsers::Event<'_>),
) -> Option<BTreeMap<String, (Stats, Vec<u8>)>> {
    let files = common::corpus_files(&format!("lb_corpus::{sub}"), sub)?;
    let mut out = BTreeMap::new();
    let mut bad = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&f).unwrap();
        let mut p = mk();
        let st = run_file(
            p.as_mut(),
            &name,
            &data,
            |n, r| visit(&name, n, r),
            |n, e| visit_event(&name, n, e),
        );
        eprintln!(
            "{sub}/{name}: lines={} requests={} events={} ignored={} excluded={} rejected={} 5xx={}",
            st.lines,
            st.requests,
            st.events,
            st.ignored,
            st.excluded,
            st.rejected.len(),
            st.s5xx
        );
        for (n, e, l) in &st.rejected {
            bad.push(format!("{sub}/{name}:{n}: {e}: {l}"));
        }
        out.insert(name, (st, data));
    }
    assert!(bad.is_empty(), "rejected lines:\n{}", bad.join("\n"));
    Some(out)
}

/// Naive 5xx count: the whitespace-separated token at `idx` starts with `5` and is 3 digits.
fn naive_5xx_at(
    data: &[u8],
    keep: impl Fn(&[&[u8]]) -> bool,
    idx: impl Fn(&[&[u8]]) -> Option<usize>,
) -> usize {
    common::lines(data)
        .iter()
        .filter(|l| {
            let t: Vec<&[u8]> = l.split(|&c| c == b' ').filter(|t| !t.is_empty()).collect();
            keep(&t)
                && idx(&t).and_then(|i| t.get(i)).is_some_and(|s| {
                    s.len() == 3 && s[0] == b'5' && s.iter().all(u8::is_ascii_digit)
                })
        })
        .count()
}

#[test]
fn alb_corpus() {
    let mut nones = 0;
    let mut dash_target_status = 0;
    let mut flags = Vec::new();
    let Some(files) = run_folder(
        "alb",
        &|| Box::new(AlbParser::new()),
        |_, _, r| {
            if r.status == 504 && r.upstream_response_time.is_empty() {
                assert_eq!(r.request_time_us, None);
                nones += 1;
            }
            if r.upstream_status.is_empty() {
                dash_target_status += 1;
            }
            if !r.lb_flags.is_empty() {
                flags.push(String::from_utf8_lossy(r.lb_flags).into_owned());
            }
        },
        |_, _, _| panic!("no events in ALB logs"),
    ) else {
        return;
    };
    for (name, (st, data)) in &files {
        let naive = naive_5xx_at(
            data,
            |t| {
                matches!(
                    t.first().copied(),
                    Some(b"http" | b"https" | b"h2" | b"ws" | b"wss" | b"grpcs")
                )
            },
            |_| Some(8),
        );
        assert_eq!(st.s5xx, naive, "{name}");
    }
    // beats-application-lb-http.log: six `-1 -1 -1 504 -` target timeouts.
    assert_eq!(files["beats-application-lb-http.log"].0.s5xx, 6);
    assert_eq!(nones, 6);
    assert!(dash_target_status >= 10);
    assert_eq!(
        flags
            .iter()
            .filter(|f| *f == "LambdaInvalidResponse")
            .count(),
        2
    );
    // integrations file: 2 ALB requests, 4 NLB + 3 connection-log lines ignored.
    let (st, _) = &files["integrations-aws-elb_logs-test-alb.log"];
    assert_eq!((st.requests, st.ignored), (3, 7));
}

#[test]
fn alb_spot_checks() {
    let mut p = AlbParser::new();
    let l = br#"http 2019-10-11T15:01:50.492440Z app/filebeat-aws-elb-test/c86a326e7dc14222 77.227.156.41:56488 10.0.1.107:80 -1 -1 -1 504 - 125 308 "GET http://filebeat-aws-elb-test-12030537.eu-central-1.elb.amazonaws.com:80/ HTTP/1.1" "curl/7.58.0" - - arn:aws:elasticloadbalancing:eu-central-1:627959692251:targetgroup/test-lb-instances/8f04c4fe71f5f794 "Root=1-5da09954-2c342a443bfb96249aa50ed7" "-" "-" 0 2019-10-11T15:01:40.491000Z "forward" "-" "-""#;
    let Ok(Record::Request(r)) = p.parse(l) else {
        panic!()
    };
    assert_eq!(r.status, 504);
    assert_eq!(r.upstream_status, b"");
    assert_eq!(r.upstream_response_time, b"");
    assert_eq!(r.request_time_us, None);
    assert_eq!(r.upstream_addr, b"10.0.1.107:80");
    assert_eq!(r.trace_id, b"Root=1-5da09954-2c342a443bfb96249aa50ed7");
    assert_eq!(r.path, b"/");
    assert_eq!(
        r.host,
        b"filebeat-aws-elb-test-12030537.eu-central-1.elb.amazonaws.com"
    );
}

#[test]
fn elb_corpus() {
    let mut no_backend_503 = 0;
    let Some(files) = run_folder(
        "elb-classic",
        &|| Box::new(ElbParser::new()),
        |_, _, r| {
            if r.status == 503 && r.upstream_addr.is_empty() {
                no_backend_503 += 1;
            }
        },
        |_, _, _| panic!("no events in ELB logs"),
    ) else {
        return;
    };
    for (name, (st, data)) in &files {
        let naive = naive_5xx_at(data, |_| true, |_| Some(7));
        assert_eq!(st.s5xx, naive, "{name}");
    }
    assert_eq!(no_backend_503, 1);
    assert_eq!(files["beats-example-tcp.log"].0.ignored, 3); // 2 TCP lines + blank
    assert_eq!(files["beats-example-ssl.log"].0.requests, 0);
    assert_eq!(files["beats-elb-http.log"].0.requests, 5);
}

#[test]
fn slb_corpus() {
    let mut gen400 = 0;
    let Some(files) = run_folder(
        "slb",
        &|| Box::new(SlbParser::new()),
        |_, _, r| {
            if r.status == 400 {
                assert_eq!(r.lb_flags, gatelog_parsers::lb::SLB_LB_GENERATED);
                assert_eq!(r.path, b"");
                assert_eq!(r.upstream_addr, b"");
                gen400 += 1;
            } else {
                assert_eq!(r.lb_flags, b"");
                assert!(!r.upstream_addr.is_empty());
            }
            assert_eq!(r.ts.offset, Some(8 * 3600));
        },
        |_, _, _| panic!("no events in SLB records"),
    ) else {
        return;
    };
    let (st, data) = &files["alibaba-alb-sls-records.jsonl"];
    assert_eq!(st.requests, 6);
    let naive = common::lines(data)
        .iter()
        .filter(|l| l.windows(10).any(|w| w == b"\"status\":\"5"))
        .count();
    assert_eq!(st.s5xx, naive);
    assert_eq!(gen400, 2);
}

/// Token index of the status in an httplog line: right after the 5-part timers.
fn haproxy_status_idx(t: &[&[u8]]) -> Option<usize> {
    t.iter()
        .position(|w| {
            let parts: Vec<&[u8]> = w.split(|&c| c == b'/').collect();
            parts.len() == 5
                && parts.iter().all(|p| {
                    let p = p.strip_prefix(b"+").unwrap_or(p);
                    p == b"-1" || (!p.is_empty() && p.iter().all(u8::is_ascii_digit))
                })
        })
        .map(|i| i + 1)
}

#[test]
fn haproxy_corpus() {
    let mut nosrv_sc = 0;
    let mut sh = 0;
    let mut term: BTreeMap<String, usize> = BTreeMap::new();
    let mut other_events = 0;
    let Some(files) = run_folder(
        "haproxy",
        &|| Box::new(HaproxyParser::new()),
        |_, _, r| {
            if r.route.ends_with(b"/<NOSRV>") {
                assert!(r.upstream_addr.is_empty());
                if r.lb_flags == b"SC--" {
                    nosrv_sc += 1;
                    assert_eq!(r.status, 503);
                    assert_eq!(r.upstream_response_time, b"");
                }
            }
            if r.lb_flags.starts_with(b"sH") || r.lb_flags.starts_with(b"SH") {
                sh += 1;
            }
            *term
                .entry(String::from_utf8_lossy(r.lb_flags).into_owned())
                .or_default() += 1;
        },
        |_, _, e| {
            assert_eq!(e.kind, EventKind::Other);
            other_events += 1;
        },
    ) else {
        return;
    };
    for (name, (st, data)) in files.iter().filter(|(n, _)| !n.contains("-json")) {
        let naive = naive_5xx_at(
            data,
            |t| !t.first().is_some_and(|f| f.starts_with(b"#")),
            haproxy_status_idx,
        );
        assert_eq!(st.s5xx, naive, "{name}");
    }
    // beats-httplog-no-headers.log: three `<NOSRV> 0/-1/-1/-1/0 503 ... SC--`.
    assert_eq!(nosrv_sc, 3);
    assert!(sh > 0);
    let (st, _) = &files["haproxylogparser-haproxy.log"];
    assert_eq!(st.requests, 17211);
    // SOURCES.md: 7,858 `PR--` 401 (stats page auth), 48x 500, 2x 502.
    let (st, data) = &files["haproxylogparser-haproxy.log"];
    let pr = common::lines(data)
        .iter()
        .filter(|l| l.windows(6).any(|w| w == b" PR-- "))
        .count();
    assert_eq!(pr, 7858);
    assert_eq!(st.s5xx, 50);
    assert!(term["PR--"] >= pr);
    assert!(term["----"] > 1000);
    let (st, _) = &files["no7dw-haproxy.log"];
    assert_eq!(st.requests + st.ignored, 5402);
    assert_eq!(
        files["rsa_nw_log_haproxy-tcplog-sanitized.log"].0.ignored,
        100
    );
    // lnav: 3 startup lines + 1 SSL handshake failure; samples: 3 life-cycle + 1 SSL.
    assert_eq!(files["lnav-logfile_haproxy.0"].0.events, 4);
    assert_eq!(files["lnav-haproxy_log-format-samples.log"].0.events, 4);
    assert!(other_events >= 8);
    // custom JSON log-format with HAProxy's field names: 11 requests, three of them 503
    // (counted by the naive split as 0: no timers token), 3 `<STATS>` with no server.
    let (st, data) = &files["haproxy-log-into-mysql-json.log"];
    assert_eq!((st.requests, st.events), (11, 0));
    let naive = common::lines(data)
        .iter()
        .filter(|l| l.windows(16).any(|w| w == b"\"status_code\":\"5"))
        .count();
    assert_eq!((st.s5xx, naive), (3, 3));
}

#[test]
fn haproxy_spot_checks() {
    let mut p = HaproxyParser::new();
    let l = b"Dec 10 12:01:46 voyager haproxy[19312]: 127.0.0.1:35982 [10/Dec/2018:12:01:46.395] http-webservices http-webservices/<NOSRV> 0/-1/-1/-1/0 503 213 - - SC-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";
    let Ok(Record::Request(r)) = p.parse(l) else {
        panic!()
    };
    assert_eq!((r.status, r.lb_flags), (503, &b"SC--"[..]));
    assert_eq!(r.upstream_addr, b"");
    assert_eq!(r.route, b"http-webservices http-webservices/<NOSRV>");
    assert_eq!(r.request_time_us, Some(0));
}

#[test]
fn envoy_corpus() {
    let mut uf = 0;
    let mut nr = 0;
    let mut istio_routes = 0;
    let Some(files) = run_folder(
        "envoy",
        &|| Box::new(EnvoyParser::new()),
        |_, _, r| {
            if r.lb_flags == b"UF,URX" {
                assert_eq!(r.status, 0);
                assert_eq!(r.upstream_addr, b"127.0.0.1:9200");
                uf += 1;
            }
            if r.lb_flags == b"NR" {
                assert_eq!((r.status, r.upstream_addr), (404, &b""[..]));
                nr += 1;
            }
            if r.route.starts_with(b"outbound|") || r.route.starts_with(b"inbound|") {
                istio_routes += 1;
            }
        },
        |_, _, e| assert_eq!(e.kind, EventKind::Other),
    ) else {
        return;
    };
    for (name, (st, data)) in &files {
        // status = first token after the quoted request line (plain or `\"`-escaped)
        let naive = common::lines(data)
            .iter()
            .filter(|l| {
                let s = String::from_utf8_lossy(l);
                let s = s.replace("\\\"", "\"");
                let Some(i) = s.find("] \"") else {
                    return false;
                };
                let rest = &s[i + 3..];
                let Some(close) = rest.find('"') else {
                    return false;
                };
                let after = rest[close + 1..].trim_start();
                after.starts_with('5') && after.as_bytes().get(3) == Some(&b' ')
            })
            .count();
        assert_eq!(st.s5xx, naive, "{name}");
    }
    assert_eq!(uf, 2); // beats-envoy.log and the wrapped line of the integrations file
    assert_eq!(nr, 1);
    assert_eq!(istio_routes, 2);
    assert_eq!(files["integrations-envoyproxy-test-log.log"].0.s5xx, 1); // wrapped 501
    assert_eq!(
        files["gloo-docs-access_logging-json-format.log"].0.ignored,
        6
    );
    assert_eq!(
        files["gloo-docs-access_logging-default-format.log"]
            .0
            .requests,
        8
    );
    assert_eq!(files["datadog-envoy_tests-samples.log"].0.events, 1);
}

#[test]
fn traefik_corpus() {
    let mut origin_differs = 0;
    let Some(files) = run_folder(
        "traefik",
        &|| Box::new(TraefikParser::new()),
        |_, _, r| {
            if !r.upstream_status.is_empty() && r.upstream_status != r.status.to_string().as_bytes()
            {
                origin_differs += 1;
            }
            assert!(r.ts.wall_us > 0);
        },
        |_, _, e| assert_eq!(e.kind, EventKind::Other),
    ) else {
        return;
    };
    for (name, (st, data)) in &files {
        let naive = common::lines(data)
            .iter()
            .enumerate()
            .filter(|(i, l)| !is_excluded(name, i + 1) && !l.starts_with(b"#"))
            .filter(|(_, l)| {
                if l.starts_with(b"{") {
                    l.windows(20).any(|w| {
                        w.starts_with(b"\"DownstreamStatus\":") && w.get(19) == Some(&b'5')
                    }) || l
                        .windows(21)
                        .any(|w| w.starts_with(b"\"DownstreamStatus\": 5"))
                } else {
                    let s = String::from_utf8_lossy(l);
                    s.split("\" ").nth(1).is_some_and(|r| r.starts_with('5'))
                }
            })
            .count();
        assert_eq!(st.s5xx, naive, "{name}");
    }
    // crowdsec scan: DownstreamStatus 404 while the origin answered 200 (79 lines).
    assert!(origin_differs >= 79);
    let (st, _) = &files["keycloak-nextcloud-grafana-traefik-access-clf.log"];
    assert_eq!(st.requests, 207);
    assert_eq!(files["crowdsec-traefik_json.log"].0.events, 1); // plugin DEBUG line
    assert_eq!(files["fail2ban-traefik-auth.log"].0.requests, 6);
}
