//! `gatelog live --metrics ADDR`: the live figures in Prometheus text exposition format
//! (version 0.0.4), served over HTTP ([`Server`]; loopback unless an address is given).
//! Counters are cumulative since start; label values from logs are escaped and bounded in
//! number.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use gatelog_parsers::{EventKind, Layer};

use crate::agg::acc::Acc;
use crate::agg::hist::Hist;
use crate::analysis;
use crate::analysis::report::{display_bytes, Incident};

/// Distinct upstream label values in `gatelog_upstream_*_total` before the rest are counted
/// as `(other)` (first come, first labelled).
pub const MAX_UPSTREAM_LABELS: usize = 200;
/// Upstreams with a label of their own in `gatelog_requests_total{layer,status,upstream}`:
/// the busiest ones (decayed request counts); the rest are counted as `(other)`.
pub const TOP_UPSTREAMS: usize = 20;
/// Label value of the upstreams outside the top ones (as `Acc` names its overflow).
pub const OTHER: &str = "(other)";
/// Label value of requests that name no upstream (served by the layer itself, or `-`).
pub const NONE: &str = "-";
/// Per-interval decay of the upstream scores (half-life about 5 minutes at 1 s intervals).
const SCORE_DECAY: f64 = 0.9977;
/// A candidate replaces the least busy labelled upstream when its score is this many times
/// higher (hysteresis: two upstreams of similar volume do not swap back and forth).
const PROMOTE_FACTOR: f64 = 2.0;
/// Upstream scores remembered (the least busy are forgotten beyond this).
const MAX_SCORES: usize = 1000;
/// `gatelog_requests_total` series before new (layer, status) pairs of labelled upstreams
/// are folded into `(other)` too.
const MAX_COMBO_SERIES: usize = 2000;
/// Histogram bucket bounds, seconds.
const LE: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
const LAYERS: [Layer; 3] = [Layer::Lb, Layer::Proxy, Layer::App];

/// Cumulative figures since start.
pub struct Metrics {
    lines: u64,
    rejected: u64,
    layer_req: [u64; 3],
    layer_5xx: [u64; 3],
    upstreams: HashMap<String, (u64, u64)>,
    /// Requests by (layer, status, upstream label) since start (or since the upstream got
    /// its label).
    combos: BTreeMap<(Layer, u16, String), u64>,
    /// Upstreams with a label of their own in `combos`.
    labelled: Vec<String>,
    /// Decayed request counts per upstream (labelled or not), bounded.
    scores: HashMap<String, f64>,
    req_time: Hist,
    up_time: Hist,
    events: [u64; EventKind::COUNT],
    /// Active incident: ranked (cause, confidence).
    causes: Option<Vec<(String, f64)>>,
    window_rate_5xx: f64,
    window_requests: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            lines: 0,
            rejected: 0,
            layer_req: [0; 3],
            layer_5xx: [0; 3],
            upstreams: HashMap::new(),
            combos: BTreeMap::new(),
            labelled: Vec::new(),
            scores: HashMap::new(),
            req_time: Hist::default(),
            up_time: Hist::default(),
            events: [0; EventKind::COUNT],
            causes: None,
            window_rate_5xx: 0.0,
            window_requests: 0,
        }
    }

    pub fn add_lines(&mut self, lines: u64, rejected: u64) {
        self.lines += lines;
        self.rejected += rejected;
    }

    /// Add one interval's accumulator. Its `combos` (enabled on the live feeds when
    /// `--metrics` is on) make `gatelog_requests_total{layer,status,upstream}`.
    pub fn add(&mut self, acc: &Acc) {
        if let Some(c) = &acc.combos {
            self.add_combos(acc, c);
        }
        let sums = analysis::fold_buckets(&acc.timeline.buckets);
        for i in 0..3 {
            self.layer_req[i] += sums.requests_by_layer[i];
            self.layer_5xx[i] += sums.err5xx_by_layer[i];
        }
        self.req_time.merge(&sums.req_time);
        self.up_time.merge(&sums.up_time);
        for (x, n) in self.events.iter_mut().zip(sums.events) {
            *x += n;
        }
        // by name (first seen first labelled: ids in the order the interval met them)
        let mut ups: Vec<(u32, (u64, u64))> = sums.upstreams.into_iter().collect();
        ups.sort_unstable_by_key(|u| u.0);
        for (id, (r, e)) in ups {
            let Some(name) = acc.upstream_names.get(id as usize) else {
                continue;
            };
            let mut key = display_bytes(name);
            if !self.upstreams.contains_key(&key) && self.upstreams.len() >= MAX_UPSTREAM_LABELS {
                key = OTHER.into();
            }
            let x = self.upstreams.entry(key).or_insert((0, 0));
            x.0 += r;
            x.1 += e;
        }
    }

    /// One interval of (layer, status, upstream id) counts: update the upstream scores,
    /// re-rank the labelled upstreams, then count under the labels.
    fn add_combos(&mut self, acc: &Acc, c: &HashMap<(Layer, u16, u32), u64>) {
        let name = |id: u32| -> String {
            if id == crate::agg::acc::NO_UPSTREAM {
                return NONE.to_string();
            }
            match acc.upstream_names.get(id as usize) {
                Some(n) => display_bytes(n),
                None => OTHER.to_string(),
            }
        };
        let mut per_up: HashMap<u32, u64> = HashMap::new();
        for (&(_, _, u), &n) in c {
            if u != crate::agg::acc::NO_UPSTREAM {
                *per_up.entry(u).or_insert(0) += n;
            }
        }
        for v in self.scores.values_mut() {
            *v *= SCORE_DECAY;
        }
        let mut seen: Vec<(String, f64)> = Vec::new();
        for (&u, &n) in &per_up {
            let k = name(u);
            if k == OTHER {
                continue;
            }
            let v = self.scores.entry(k.clone()).or_insert(0.0);
            *v += n as f64;
            seen.push((k, *v));
        }
        // the busiest unlabelled upstreams of this interval first
        seen.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (k, score) in seen {
            if self.labelled.contains(&k) {
                continue;
            }
            if self.labelled.len() < TOP_UPSTREAMS {
                self.labelled.push(k);
                continue;
            }
            let Some((i, low)) = self
                .labelled
                .iter()
                .enumerate()
                .map(|(i, l)| (i, self.scores.get(l).copied().unwrap_or(0.0)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
            else {
                continue;
            };
            if score > low * PROMOTE_FACTOR {
                // the evicted upstream's series end (its later requests count as
                // (other)); the promoted one's start at 0: every series stays monotonic
                let gone = std::mem::replace(&mut self.labelled[i], k);
                self.combos.retain(|key, _| key.2 != gone);
            }
        }
        if self.scores.len() > MAX_SCORES {
            let mut v: Vec<(String, f64)> = self.scores.drain().collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v.truncate(MAX_SCORES / 2);
            self.scores = v.into_iter().collect();
            for l in &self.labelled {
                self.scores.entry(l.clone()).or_insert(0.0);
            }
        }
        for (&(layer, status, u), &n) in c {
            let mut up = name(u);
            if up != NONE && !self.labelled.contains(&up) {
                up = OTHER.to_string();
            }
            let mut key = (layer, status, up);
            if !self.combos.contains_key(&key) && self.combos.len() >= MAX_COMBO_SERIES {
                key.2 = OTHER.to_string();
            }
            *self.combos.entry(key).or_insert(0) += n;
        }
    }

    pub fn set_incident(
        &mut self,
        inc: Option<&Incident>,
        window_rate_5xx: f64,
        window_requests: u64,
    ) {
        self.causes = inc.map(|i| {
            i.causes
                .iter()
                .map(|c| (c.cause.clone(), c.confidence))
                .collect()
        });
        self.window_rate_5xx = window_rate_5xx;
        self.window_requests = window_requests;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        head(
            &mut o,
            "gatelog_lines_total",
            "counter",
            "Lines read from all inputs since start.",
        );
        let _ = writeln!(o, "gatelog_lines_total {}", self.lines);
        head(
            &mut o,
            "gatelog_rejected_lines_total",
            "counter",
            "Lines that could not be parsed since start.",
        );
        let _ = writeln!(o, "gatelog_rejected_lines_total {}", self.rejected);

        head(
            &mut o,
            "gatelog_requests_total",
            "counter",
            "Requests logged, by layer (lb, proxy, app), status code and upstream (the busiest upstreams by address, the rest as (other), - for none); sum by (status) for the status alone.",
        );
        for ((layer, code, up), n) in &self.combos {
            let _ = writeln!(
                o,
                "gatelog_requests_total{{layer=\"{}\",status=\"{code}\",upstream=\"{}\"}} {n}",
                layer.id(),
                esc(up)
            );
        }
        head(
            &mut o,
            "gatelog_layer_requests_total",
            "counter",
            "Requests logged, by layer (lb, proxy, app).",
        );
        for (i, l) in LAYERS.iter().enumerate() {
            let _ = writeln!(
                o,
                "gatelog_layer_requests_total{{layer=\"{}\"}} {}",
                l.id(),
                self.layer_req[i]
            );
        }
        head(
            &mut o,
            "gatelog_layer_5xx_total",
            "counter",
            "Requests answered with a 5xx, by layer.",
        );
        for (i, l) in LAYERS.iter().enumerate() {
            let _ = writeln!(
                o,
                "gatelog_layer_5xx_total{{layer=\"{}\"}} {}",
                l.id(),
                self.layer_5xx[i]
            );
        }
        let mut ups: Vec<(&String, &(u64, u64))> = self.upstreams.iter().collect();
        ups.sort();
        head(
            &mut o,
            "gatelog_upstream_requests_total",
            "counter",
            "Requests by upstream address.",
        );
        for (u, (r, _)) in &ups {
            let _ = writeln!(
                o,
                "gatelog_upstream_requests_total{{upstream=\"{}\"}} {r}",
                esc(u)
            );
        }
        head(
            &mut o,
            "gatelog_upstream_5xx_total",
            "counter",
            "Requests answered with a 5xx, by upstream address.",
        );
        for (u, (_, e)) in &ups {
            let _ = writeln!(
                o,
                "gatelog_upstream_5xx_total{{upstream=\"{}\"}} {e}",
                esc(u)
            );
        }
        histogram(
            &mut o,
            "gatelog_request_duration_seconds",
            "Request time as logged by each layer.",
            &self.req_time,
        );
        histogram(
            &mut o,
            "gatelog_upstream_response_seconds",
            "Upstream response time as logged.",
            &self.up_time,
        );
        head(
            &mut o,
            "gatelog_error_events_total",
            "counter",
            "Error-log events, by kind.",
        );
        for k in EventKind::ALL {
            let n = self.events.get(k.index()).copied().unwrap_or(0);
            if n > 0 {
                let _ = writeln!(o, "gatelog_error_events_total{{kind=\"{}\"}} {n}", k.id());
            }
        }
        head(
            &mut o,
            "gatelog_window_5xx_ratio",
            "gauge",
            "Share of 5xx among the requests of the current window.",
        );
        let _ = writeln!(o, "gatelog_window_5xx_ratio {}", self.window_rate_5xx);
        head(
            &mut o,
            "gatelog_window_requests",
            "gauge",
            "Requests in the current window.",
        );
        let _ = writeln!(o, "gatelog_window_requests {}", self.window_requests);
        head(
            &mut o,
            "gatelog_incident_active",
            "gauge",
            "1 while an incident (5xx spike) is going on.",
        );
        let _ = writeln!(
            o,
            "gatelog_incident_active {}",
            u8::from(self.causes.is_some())
        );
        head(&mut o, "gatelog_incident_cause_confidence", "gauge", "Probable causes of the active incident and their confidence (rank 1 is the most likely).");
        if let Some(c) = &self.causes {
            for (i, (cause, conf)) in c.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "gatelog_incident_cause_confidence{{cause=\"{}\",rank=\"{}\"}} {conf}",
                    esc(cause),
                    i + 1
                );
            }
        }
        o
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Escape a label value (backslash, double quote, newline).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Requests at or under `us` microseconds.
fn at_most(h: &Hist, us: u64) -> u64 {
    h.total().saturating_sub(h.count_above(us))
}

fn histogram(o: &mut String, name: &str, help: &str, h: &Hist) {
    head(o, name, "histogram", help);
    for le in LE {
        let n = at_most(h, (le * 1e6) as u64);
        let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {}", h.total());
    // the sum, from the histogram's own resolution (quarter-octave steps)
    let mut sum = 0.0f64;
    let mut prev_v = 0u64;
    let mut prev_n = at_most(h, 0);
    for k in 1..=176u32 {
        let v = (2f64.powf(k as f64 / 4.0)) as u64;
        if v <= prev_v {
            continue;
        }
        let n = at_most(h, v);
        sum += (n - prev_n.min(n)) as f64 * (prev_v + v) as f64 / 2.0;
        prev_v = v;
        prev_n = n;
    }
    let _ = writeln!(o, "{name}_sum {}", (sum / 1e3).round() / 1e3);
    let _ = writeln!(o, "{name}_count {}", h.total());
}

/// Connections served at once (one thread each); one more is answered 503 and closed.
const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a whole request head once it has sent its first byte.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle connection (kept alive, or opened without a word) is closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time to write one answer (a client that does not read is dropped after it).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait in one read, so that a connection notices [`Server::shutdown`] promptly.
const POLL: Duration = Duration::from_millis(250);
/// Largest request head (request line and headers), and most headers.
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// Largest request body read and discarded (a larger or chunked one closes the connection).
const MAX_BODY: u64 = 64 * 1024;
/// Wait after a failed `accept()` (out of file descriptors, say) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long [`Server::shutdown`] waits for the scrapes being answered.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Content type of the exposition text (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The server's bounds (constants above; smaller in the tests).
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_connections: usize,
    head_timeout: Duration,
    idle_timeout: Duration,
    write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            head_timeout: HEAD_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// State shared by the accept loop and the connections.
struct Shared {
    text: Arc<Mutex<String>>,
    limits: Limits,
    stop: AtomicBool,
    /// Connections being served.
    active: AtomicUsize,
}

/// The `--metrics` HTTP endpoint: `GET`/`HEAD /metrics` (a query string is ignored) answer
/// the latest exposition text; another path is 404, another method 405, a malformed request
/// 400 (and the connection closed). HTTP/1.1 connections are kept alive.
///
/// Request heads are parsed by `httparse`; the accept loop is ours, because the server it
/// replaces (`tiny_http` 0.12) can neither time out a connection nor keep accepting after a
/// failed `accept()`, and let stalled clients starve scrapes under load. Each connection has
/// a thread of its own, at most [`MAX_CONNECTIONS`] at once (one more is answered 503), with
/// read and write deadlines: an idle connection is closed after [`IDLE_TIMEOUT`], a request
/// head must arrive within [`HEAD_TIMEOUT`] of its first byte, an answer be taken within
/// [`WRITE_TIMEOUT`]. A failed `accept()` is retried after [`ACCEPT_BACKOFF`]. Listening
/// stops when the server is shut down or dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Says when the accept loop has ended (and so closed the listener).
    accept_ended: mpsc::Receiver<()>,
}

/// Listen on `addr` and serve `GET /metrics` with the latest text. [`Server::addr`] is the
/// address actually bound (port 0 picks a free one).
pub fn serve(addr: &str, text: Arc<Mutex<String>>) -> Result<Server, String> {
    serve_with(addr, text, Limits::default())
}

fn serve_with(addr: &str, text: Arc<Mutex<String>>, limits: Limits) -> Result<Server, String> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| format!("cannot listen: {e}; choose another address or port"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen: {e}; choose another address or port"))?;
    let shared = Arc::new(Shared {
        text,
        limits,
        stop: AtomicBool::new(false),
        active: AtomicUsize::new(0),
    });
    let (tx, accept_ended) = mpsc::channel();
    let sh = shared.clone();
    std::thread::Builder::new()
        .name("metrics-accept".into())
        .spawn(move || {
            accept_loop(|| listener.accept().map(|(s, _)| s), &sh);
            drop(listener);
            let _ = tx.send(());
        })
        .map_err(|e| format!("cannot start the metrics server: {e}"))?;
    Ok(Server {
        addr: local,
        shared,
        accept_ended,
    })
}

impl Server {
    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop: the listener is closed, the scrapes being answered finish (waiting at most
    /// [`SHUTDOWN_GRACE`] for them), idle connections are closed.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        // wake the accept loop with a connection of our own
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(200));
        let _ = self
            .accept_ended
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Accept connections until told to stop, each served on a thread of its own; errors of
/// `accept` are waited out, never the end.
fn accept_loop(mut accept: impl FnMut() -> io::Result<TcpStream>, sh: &Arc<Shared>) {
    while !sh.stop.load(Ordering::SeqCst) {
        let s = match accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        if sh.active.fetch_add(1, Ordering::SeqCst) >= sh.limits.max_connections {
            sh.active.fetch_sub(1, Ordering::SeqCst);
            busy(s);
            continue;
        }
        let guard = Active(sh.clone());
        // (if no thread can be had, the closure is dropped: the connection closes and the
        // guard gives its place back)
        let _ = std::thread::Builder::new()
            .name("metrics-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let guard = guard;
                connection(s, &guard.0);
            });
    }
}

/// A place among the connections served, given back when dropped.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Over the bound: a 503 and the connection closed (from the accept loop: it never waits).
fn busy(mut s: TcpStream) {
    let _ = s.set_nonblocking(true);
    let body = "gatelog live: too many metrics connections, retry\n";
    let _ = s.write_all(
        answer_head(
            503,
            "text/plain",
            body.len(),
            false,
            &[("Retry-After", "1")],
        )
        .as_bytes(),
    );
    let _ = s.write_all(body.as_bytes());
    let _ = s.shutdown(Shutdown::Write);
}

/// What is needed of a parsed request head.
struct Head {
    ok_method: bool,
    path: String,
    head_only: bool,
    keep_alive: bool,
    /// Content-Length, or None for a chunked body.
    body: Option<u64>,
}

/// Why a connection ends before a request.
enum Gone {
    /// Closed, idle for too long, reset, or the server stopping: nothing to answer.
    Quiet,
    /// A malformed, too large or too slow request head: answer 400 and close.
    Bad(&'static str),
}

/// Serve one connection: requests in turn until it is closed, idle too long, or a request
/// asks for the close.
fn connection(mut s: TcpStream, sh: &Shared) {
    let _ = s.set_nodelay(true);
    let _ = s.set_write_timeout(Some(sh.limits.write_timeout));
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let (h, used) = match read_head(&mut s, &mut buf, sh) {
            Ok(x) => x,
            Err(Gone::Quiet) => return,
            Err(Gone::Bad(why)) => {
                let body = format!("bad request: {why}\n");
                let _ =
                    s.write_all(answer_head(400, "text/plain", body.len(), false, &[]).as_bytes());
                let _ = s.write_all(body.as_bytes());
                linger_close(s);
                return;
            }
        };
        buf.drain(..used);
        let mut keep_alive = h.keep_alive && !sh.stop.load(Ordering::SeqCst);
        match h.body {
            Some(0) => {}
            Some(n) if n <= MAX_BODY => {
                if !discard(&mut s, &mut buf, n as usize, sh) {
                    return;
                }
            }
            _ => keep_alive = false,
        }
        let (status, ctype, body) = if !h.ok_method {
            (405, "text/plain", "use GET /metrics\n".to_string())
        } else if h.path == "/metrics" || h.path.starts_with("/metrics?") {
            let body = sh.text.lock().map(|g| g.clone()).unwrap_or_default();
            (200, CONTENT_TYPE, body)
        } else {
            (
                404,
                "text/plain",
                "gatelog live: metrics are at /metrics\n".to_string(),
            )
        };
        let allow: &[(&str, &str)] = if status == 405 {
            &[("Allow", "GET, HEAD")]
        } else {
            &[]
        };
        let mut out = answer_head(status, ctype, body.len(), keep_alive, allow).into_bytes();
        if !h.head_only {
            out.extend_from_slice(body.as_bytes());
        }
        if s.write_all(&out).is_err() {
            return;
        }
        if !keep_alive {
            linger_close(s);
            return;
        }
    }
}

/// Read until `buf` holds a whole request head; the head and its length.
fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>, sh: &Shared) -> Result<(Head, usize), Gone> {
    let opened = Instant::now();
    let mut first_byte = (!buf.is_empty()).then(Instant::now);
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut rq = httparse::Request::new(&mut headers);
            match rq.parse(buf) {
                Ok(httparse::Status::Complete(n)) => return Ok((head_of(&rq)?, n)),
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(Gone::Bad("too many headers")),
                Err(_) => return Err(Gone::Bad("malformed request head")),
            }
            if buf.len() > MAX_HEAD {
                return Err(Gone::Bad("request head too large"));
            }
        }
        let deadline = match first_byte {
            Some(t) => t + sh.limits.head_timeout,
            None => opened + sh.limits.idle_timeout,
        };
        match read_some(s, buf, deadline, sh) {
            Ok(0) => return Err(Gone::Quiet),
            Ok(_) => {
                first_byte.get_or_insert_with(Instant::now);
            }
            Err(_) if first_byte.is_some() && !sh.stop.load(Ordering::SeqCst) => {
                return Err(Gone::Bad("request head not sent in time"))
            }
            Err(_) => return Err(Gone::Quiet),
        }
    }
}

/// The parts of a complete request head that decide the answer.
fn head_of(rq: &httparse::Request) -> Result<Head, Gone> {
    let method = rq.method.unwrap_or("");
    let version = rq.version.unwrap_or(1);
    let mut close = version == 0;
    let mut body = Some(0);
    for h in rq.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for t in String::from_utf8_lossy(h.value).split(',') {
                let t = t.trim();
                if t.eq_ignore_ascii_case("close") {
                    close = true;
                } else if t.eq_ignore_ascii_case("keep-alive") && version == 0 {
                    close = false;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(Gone::Bad("bad Content-Length"))?;
            body = body.map(|_| n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            body = None;
        }
    }
    Ok(Head {
        ok_method: method == "GET" || method == "HEAD",
        path: rq.path.unwrap_or("").to_string(),
        head_only: method == "HEAD",
        keep_alive: !close,
        body,
    })
}

/// Read what is there into `buf`, waiting until `deadline` at most (in short waits, so that
/// a stop is noticed); `Err` on the deadline, an error, or the server stopping while idle.
fn read_some(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    sh: &Shared,
) -> io::Result<usize> {
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        if sh.stop.load(Ordering::SeqCst) && buf.is_empty() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        s.set_read_timeout(Some(left.min(POLL)))?;
        match s.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Read and drop a request body of `n` bytes (some may be in `buf` already); false when the
/// connection is to be dropped.
fn discard(s: &mut TcpStream, buf: &mut Vec<u8>, mut n: usize, sh: &Shared) -> bool {
    let deadline = Instant::now() + sh.limits.head_timeout;
    loop {
        let k = n.min(buf.len());
        buf.drain(..k);
        n -= k;
        if n == 0 {
            return true;
        }
        match read_some(s, buf, deadline, sh) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// Close after an answer: our side first, then what the client still sends is read (a
/// second at most) so that the close does not reset the connection before it has read
/// the answer.
fn linger_close(mut s: TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut chunk = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Status line and headers of an answer.
fn answer_head(
    status: u16,
    ctype: &str,
    len: usize,
    keep_alive: bool,
    extra: &[(&str, &str)],
) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut h = format!(
        "HTTP/1.1 {status} {reason}\r\nServer: gatelog\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n"
    );
    for (k, v) in extra {
        let _ = write!(h, "{k}: {v}\r\n");
    }
    if !keep_alive {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_sum_close() {
        let mut h = Hist::default();
        for _ in 0..90 {
            h.add(10_000); // 10 ms
        }
        for _ in 0..10 {
            h.add(2_000_000); // 2 s
        }
        let mut o = String::new();
        histogram(&mut o, "x_seconds", "x", &h);
        assert!(o.contains("x_seconds_bucket{le=\"0.005\"} 0\n"), "{o}");
        assert!(o.contains("x_seconds_bucket{le=\"0.025\"} 90\n"), "{o}");
        assert!(o.contains("x_seconds_bucket{le=\"2.5\"} 100\n"), "{o}");
        assert!(o.contains("x_seconds_count 100\n"));
        let sum: f64 = o
            .lines()
            .find_map(|l| l.strip_prefix("x_seconds_sum "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!((sum - 20.9).abs() < 2.0, "sum {sum}");
    }

    /// One interval: `counts` of (upstream or None, status) for the proxy layer.
    fn interval(m: &mut Metrics, counts: &[(Option<&str>, u16, u64)]) {
        let mut acc = Acc::new(1);
        let mut c = HashMap::new();
        for &(u, st, n) in counts {
            let id = match u {
                Some(u) => acc.upstream_id(u.as_bytes()),
                None => crate::agg::acc::NO_UPSTREAM,
            };
            *c.entry((Layer::Proxy, st, id)).or_insert(0) += n;
        }
        acc.combos = Some(c);
        m.add(&acc);
    }

    fn series(m: &Metrics) -> BTreeMap<(String, String), u64> {
        let text = m.render();
        let mut out = BTreeMap::new();
        for l in text.lines() {
            let Some(rest) = l.strip_prefix("gatelog_requests_total{layer=\"proxy\",status=\"")
            else {
                continue;
            };
            let (status, rest) = rest.split_once("\",upstream=\"").unwrap();
            let (up, n) = rest.split_once("\"} ").unwrap();
            out.insert((status.to_string(), up.to_string()), n.parse().unwrap());
        }
        out
    }

    #[test]
    fn requests_by_layer_status_and_upstream_keep_the_busiest_upstreams() {
        let mut m = Metrics::new();
        let names: Vec<String> = (0..25).map(|i| format!("10.0.0.{i}:9000")).collect();
        // 25 upstreams, upstream i with 100 + i requests (half of them 502), and some
        // requests with no upstream
        let mut counts: Vec<(Option<&str>, u16, u64)> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            counts.push((Some(n), 200, 50 + i as u64));
            counts.push((Some(n), 502, 50));
        }
        counts.push((None, 404, 7));
        interval(&mut m, &counts);
        let s = series(&m);
        // the 20 busiest (5..25) by name, the 5 least busy as (other)
        assert_eq!(s[&("502".into(), "10.0.0.24:9000".into())], 50);
        assert_eq!(s[&("200".into(), "10.0.0.24:9000".into())], 74);
        assert!(!s.contains_key(&("200".into(), "10.0.0.4:9000".into())));
        assert_eq!(s[&("200".into(), OTHER.into())], 50 + 51 + 52 + 53 + 54);
        assert_eq!(s[&("502".into(), OTHER.into())], 5 * 50);
        assert_eq!(s[&("404".into(), NONE.into())], 7);
        assert_eq!(s.len(), 20 * 2 + 2 + 1);
        // every request counted once
        assert_eq!(
            s.values().sum::<u64>(),
            counts.iter().map(|c| c.2).sum::<u64>()
        );

        // a new upstream far busier than the least busy labelled one takes its label: the
        // evicted series ends, the new one starts at this interval's count
        interval(&mut m, &[(Some("10.9.9.9:9000"), 503, 1000)]);
        let s = series(&m);
        assert_eq!(s[&("503".into(), "10.9.9.9:9000".into())], 1000);
        assert!(!s.keys().any(|k| k.1 == "10.0.0.5:9000"), "{s:?}");
        assert_eq!(s[&("200".into(), "10.0.0.6:9000".into())], 56);
        // one slightly busier than the least busy labelled upstream does not (hysteresis)
        interval(&mut m, &[(Some("10.8.8.8:9000"), 200, 120)]);
        let s = series(&m);
        assert!(!s.keys().any(|k| k.1 == "10.8.8.8:9000"), "{s:?}");
        assert_eq!(
            s[&("200".into(), OTHER.into())],
            50 + 51 + 52 + 53 + 54 + 120
        );
        // bounded: at most TOP_UPSTREAMS upstream labels besides (other) and -
        let ups: std::collections::BTreeSet<&String> = s.keys().map(|k| &k.1).collect();
        assert_eq!(ups.len(), TOP_UPSTREAMS + 2);
    }

    /// A server on a free loopback port with small limits, serving "text\n".
    fn small_server(max_connections: usize) -> Server {
        let limits = Limits {
            max_connections,
            head_timeout: Duration::from_millis(600),
            idle_timeout: Duration::from_millis(600),
            write_timeout: Duration::from_secs(2),
        };
        serve_with("127.0.0.1:0", Arc::new(Mutex::new("text\n".into())), limits).unwrap()
    }

    /// Send `req` on `s` and read until the server closes (10 s at most).
    fn exchange(s: &mut TcpStream, req: &[u8]) -> String {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(req).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn idle_and_slow_connections_time_out() {
        let srv = small_server(8);
        // kept alive after an answer, then closed when idle for the idle timeout
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let t0 = Instant::now();
        let r = exchange(&mut s, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let took = t0.elapsed();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\ntext\n"), "{r}");
        assert!(!r.contains("Connection: close"), "{r}");
        assert!(took >= Duration::from_millis(500), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // half a request head: 400 once the head timeout is over
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let t0 = Instant::now();
        let r = exchange(&mut s, b"GET /met");
        assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
        assert!(
            r.ends_with("bad request: request head not sent in time\n"),
            "{r}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5));
        // a connection that never says a word is closed without an answer
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        assert_eq!(exchange(&mut s, b""), "");
        assert!(t0.elapsed() < Duration::from_secs(8));
        // and every connection gave its place back
        let deadline = Instant::now() + Duration::from_secs(5);
        while srv.shared.active.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "places not given back");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn connections_over_the_bound_get_503_and_the_others_are_served() {
        let srv = small_server(2);
        let mut held: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut s = TcpStream::connect(srv.addr()).unwrap();
                s.write_all(b"GET").unwrap();
                s
            })
            .collect();
        // both places taken (the accept loop counts them as it takes them)
        let deadline = Instant::now() + Duration::from_secs(5);
        while srv.shared.active.load(Ordering::SeqCst) < 2 {
            assert!(
                Instant::now() < deadline,
                "the held connections were not taken"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let r = exchange(&mut s, b"");
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
        assert!(r.contains("\r\nRetry-After: 1\r\n"), "{r}");
        // a held connection finishes its request and is answered
        let r = exchange(&mut held[0], b" /metrics HTTP/1.0\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
        drop(held);
        // places given back: served again
        let deadline = Instant::now() + Duration::from_secs(5);
        while srv.shared.active.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "places not given back");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let r = exchange(&mut s, b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    }

    #[test]
    fn failed_accepts_do_not_stop_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sh = Arc::new(Shared {
            text: Arc::new(Mutex::new("text\n".into())),
            limits: Limits::default(),
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        });
        let sh2 = sh.clone();
        let failures = Arc::new(AtomicUsize::new(0));
        let f = failures.clone();
        let t = std::thread::spawn(move || {
            // every other accept fails as when out of file descriptors
            let mut n = 0;
            accept_loop(
                || {
                    n += 1;
                    if n % 2 == 1 {
                        f.fetch_add(1, Ordering::SeqCst);
                        return Err(io::Error::from_raw_os_error(24)); // EMFILE
                    }
                    listener.accept().map(|(s, _)| s)
                },
                &sh2,
            )
        });
        for _ in 0..3 {
            let mut s = TcpStream::connect(addr).unwrap();
            let r = exchange(
                &mut s,
                b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
            );
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        }
        assert!(failures.load(Ordering::SeqCst) >= 3);
        sh.stop.store(true, Ordering::SeqCst);
        drop(TcpStream::connect(addr));
        t.join().unwrap();
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
