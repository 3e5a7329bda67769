//! `gatelog live`: follow logs (files with `tail -F` semantics, directories, or a pipe with
//! `tail -F` headers) and show the request rate, 5xx rate, latency and the probable cause of
//! the active incident, refreshed every interval: a terminal view on a terminal, one JSON
//! line per interval otherwise; `--alert` rules, `--on-alert` commands and `--metrics`.
//!
//! The figures come from the same code as `analyze`: lines go through
//! [`pipeline::LineFeed`] (the batch worker's framing and normalisation) into accumulators;
//! every interval the accumulator of that interval is merged into a ring of 10-second slots
//! (by arrival time), and the incident and its causes come from
//! [`analysis::build_report`] over the merged slots of the window.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatelog_parsers::{EventKind, Format, Layer};
use serde::Serialize;

use crate::agg::acc::{Acc, FileStats, TopN};
use crate::agg::hist::Hist;
use crate::analysis::report::{self, Incident, Quantiles, Report};
use crate::analysis::{self, AnalysisOptions, InputMeta};
use crate::cli::LiveArgs;
use crate::exit::{Exit, UserError};
use crate::ingest::pipeline::{self, LineFeed, RunOptions};
use crate::ingest::tz::TzChoice;
use crate::read::follow::{Follower, Notice, PipeDemux};
use crate::read::input::{self, LineItem};
use crate::sink::metrics::{self, Metrics};
use crate::sink::tui::{self, View};

/// Width of one slot of the ring, by arrival time.
pub const SLOT_S: i64 = 10;
/// Windows the view offers (keys 1, 5, f).
pub const WINDOWS: [i64; 3] = [60, 300, 900];
/// Error rows (5xx requests, error events) kept per slot for joins and causes; the counts
/// and the timeline are exact regardless.
const SLOT_ROWS: usize = 1000;
/// Heavy-hitter entries kept per slot (clients, paths, upstreams among 5xx).
const SLOT_TOP: usize = 100;
/// Lines sampled from a source before its format is decided.
const SAMPLE_LINES: usize = 50;
const SAMPLE_MIN_LINES: usize = 20;
const SAMPLE_BYTES: usize = 64 * 1024;
/// Shortest time between two reads triggered by change notifications.
const READ_DEBOUNCE: Duration = Duration::from_millis(100);

enum Msg {
    /// Something changed in a watched directory.
    Fs,
    Stdin(Vec<u8>),
    StdinEnd(Option<String>),
    Key(tui::Key),
    Resize,
    /// SIGTERM, SIGINT or SIGHUP arrived: stop (JSON mode: after a last line).
    Signal(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SrcState {
    Sampling,
    Feeding,
    /// No known format: its lines are counted as rejected.
    Unknown,
    /// Found in a directory and not a log: not followed.
    Dropped,
}

struct Source<'o> {
    name: String,
    from_dir: bool,
    follow_id: Option<usize>,
    state: SrcState,
    format: Option<Format>,
    detected: String,
    /// The nginx `log_format` inferred from the sample when no built-in layout matched: every
    /// feed of this source (also after a rotation) parses with it.
    log_format: Option<String>,
    /// A container file or mixed formats (`crate::ingest::demux`), kept across rotations.
    demux: Option<std::sync::Arc<crate::ingest::demux::Plan>>,
    /// The feed of the file at the path now (multi-line records are framed per physical
    /// file), and the generation of that file once a line of it was seen.
    feed: Option<LineFeed<'o>>,
    feed_gen: Option<u64>,
    /// Feeds of rotated-away files still being read: their last record is completed when
    /// the file is finished, never glued to its successor's lines. Dropped once finished
    /// and collected.
    old_feeds: Vec<OldFeed<'o>>,
    sample: Vec<SampleItem>,
    sample_bytes: usize,
    sample_since: Option<Instant>,
    lines_this_tick: u64,
}

/// A line kept while a source's format is not known yet (with its file's generation).
enum SampleItem {
    Line(u64, Vec<u8>, u64, u64),
    TooLong(u64, u64, u64, u64),
    /// The file of that generation was finished (or truncated) meanwhile.
    End(u64),
}

struct OldFeed<'o> {
    gen: u64,
    feed: LineFeed<'o>,
    /// No more lines will come: flushed, dropped after the next collect.
    finished: bool,
}

/// One 10-second slot of arrivals.
struct Slot {
    start_s: i64,
    acc: Acc,
}

/// Per-interval history for sparklines.
#[derive(Clone, Copy, Default)]
struct Tick {
    t_s: i64,
    /// 499, 500, 502, 503, 504
    status: [u64; 5],
}

/// What the window holds, computed cheaply from the slots every interval.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WindowFigures {
    pub seconds: i64,
    pub requests: u64,
    pub status: BTreeMap<String, u64>,
    pub rate_5xx: f64,
    #[serde(skip)]
    pub err5xx: u64,
    #[serde(skip)]
    pub latency: Quantiles,
    pub upstreams_5xx: BTreeMap<String, u64>,
    #[serde(skip)]
    pub upstreams: Vec<(String, u64, u64)>,
    pub events: BTreeMap<String, u64>,
}

/// The JSON line of one interval (SPEC "Live JSON lines").
#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    interval_seconds: f64,
    requests: u64,
    status: BTreeMap<String, u64>,
    total_lines: u64,
    rejected_lines: u64,
    rate_5xx: f64,
    latency: &'a Quantiles,
    window: &'a WindowFigures,
    incident: Option<&'a Incident>,
}

#[derive(Serialize)]
struct AlertLine<'a> {
    time: String,
    alert: &'a str,
    state: &'a str,
    value: Option<f64>,
    detail: &'a str,
}

/// A `--alert` rule and whether it is firing.
struct Alert {
    text: String,
    rule: alert_rules::Parsed,
    firing: bool,
}

/// Live state: sources, the ring of slots, cumulative counters.
struct Live<'o> {
    opts: &'o RunOptions,
    tz_forced: Option<TzChoice>,
    offset_seen: Option<(i32, String)>,
    sources: Vec<Source<'o>>,
    by_follow: HashMap<usize, usize>,
    by_pipe: HashMap<usize, usize>,
    ring: VecDeque<Slot>,
    ring_s: i64,
    history: VecDeque<Tick>,
    total_lines: u64,
    total_rejected: u64,
    unknown_lines: u64,
    metrics: Metrics,
    /// Count requests by (layer, status, upstream) on the feeds (`--metrics`).
    combos: bool,
    min_errors: u64,
    /// Follower ids to stop following (found in a directory, not logs).
    drops: Vec<usize>,
    notices: VecDeque<String>,
    new_notices: Vec<String>,
    /// Last analysis of the window, and when the next may run.
    report: Option<Report>,
    report_window: i64,
    next_report: Instant,
    report_cost: Duration,
    newest: Vec<String>,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl<'o> Live<'o> {
    fn new(
        opts: &'o RunOptions,
        tz_forced: Option<TzChoice>,
        ring_s: i64,
        min_errors: u64,
        window_s: i64,
    ) -> Self {
        Live {
            opts,
            tz_forced,
            offset_seen: None,
            sources: Vec::new(),
            by_follow: HashMap::new(),
            by_pipe: HashMap::new(),
            ring: VecDeque::new(),
            ring_s,
            history: VecDeque::new(),
            total_lines: 0,
            total_rejected: 0,
            unknown_lines: 0,
            metrics: Metrics::new(),
            combos: false,
            min_errors: min_errors.max(1),
            drops: Vec::new(),
            notices: VecDeque::new(),
            new_notices: Vec::new(),
            report: None,
            report_window: window_s,
            next_report: Instant::now(),
            report_cost: Duration::ZERO,
            newest: Vec::new(),
        }
    }

    fn tz_for_new(&self) -> TzChoice {
        TzChoice::for_run(self.tz_forced.as_ref(), self.offset_seen.as_ref())
    }

    fn tz_describe(&self) -> String {
        self.tz_for_new().describe()
    }

    fn add_source(&mut self, name: String, from_dir: bool, follow_id: Option<usize>) -> usize {
        let i = self.sources.len();
        self.sources.push(Source {
            name,
            from_dir,
            follow_id,
            state: SrcState::Sampling,
            format: None,
            detected: String::new(),
            log_format: None,
            demux: None,
            feed: None,
            feed_gen: None,
            old_feeds: Vec::new(),
            sample: Vec::new(),
            sample_bytes: 0,
            sample_since: None,
            lines_this_tick: 0,
        });
        if let Some(f) = follow_id {
            self.by_follow.insert(f, i);
        }
        i
    }

    /// A feed for source `s` in format `f`.
    fn new_feed(&self, f: Format, s: usize) -> Result<LineFeed<'o>, String> {
        let tz = self.tz_for_new();
        let inferred = self.sources.get(s).and_then(|x| x.log_format.clone());
        let demux = self.sources.get(s).and_then(|x| x.demux.clone());
        let mut feed = match (inferred, demux) {
            (lf, Some(plan)) => {
                let mut po = self.opts.parser_opts.clone();
                po.inferred.extend(lf);
                LineFeed::with_demux(s as u32, self.opts, &tz, &po, &plan)?
            }
            (inferred, None) => match inferred {
                Some(lf) => {
                    let mut po = self.opts.parser_opts.clone();
                    po.inferred.push(lf);
                    LineFeed::with_parser_opts(f, s as u32, self.opts, &tz, &po)?
                }
                None => LineFeed::new(f, s as u32, self.opts, &tz)?,
            },
        };
        if self.combos {
            feed.count_combos();
        }
        Ok(feed)
    }

    /// Decide a source's format from a sample of its bytes (or `--format`). Returns false
    /// when undecided (too few lines to say no yet).
    fn decide(&mut self, s: usize, head: &[u8], complete: bool, final_try: bool) -> bool {
        let Some(src) = self.sources.get(s) else {
            return true;
        };
        let name = src.name.clone();
        // The detection of `analyze`: when no built-in layout matches the whole sample,
        // infer the nginx log_format from it (only then: a partial sample waits for more
        // lines first).
        let forced = pipeline::forced_format(&name, self.opts);
        let d = pipeline::detect_head(head, complete, forced, &self.opts.parser_opts, final_try);
        if d.demux.is_some() {
            if let Some(src) = self.sources.get_mut(s) {
                src.demux = d.demux;
            }
        }
        let (format, reason, offset, inferred) = (d.format, d.reason, d.offset, d.log_format);
        if let (Some(_), Some(lf)) = (format, &inferred) {
            if let Some(src) = self.sources.get_mut(s) {
                src.log_format = Some(lf.clone());
            }
            self.note(format!(
                "{name}: no built-in layout matches; read with the nginx log_format inferred from its first lines: '{lf}' (pin it with --log-format)"
            ));
        }
        if self.offset_seen.is_none() {
            if let Some(o) = offset {
                self.offset_seen = Some((o, name.clone()));
            }
        }
        match format {
            Some(f) => {
                match self.new_feed(f, s) {
                    Ok(feed) => {
                        let src = &mut self.sources[s];
                        src.feed = Some(feed);
                        src.format = Some(f);
                        src.detected = reason;
                        src.state = SrcState::Feeding;
                    }
                    Err(e) => {
                        self.sources[s].state = SrcState::Unknown;
                        self.note(format!("{name}: cannot build the {f} parser: {e}"));
                    }
                }
                true
            }
            None if !final_try => false,
            None => {
                let src = &mut self.sources[s];
                if src.from_dir {
                    src.state = SrcState::Dropped;
                    if let Some(f) = src.follow_id {
                        self.drops.push(f);
                    }
                    self.note(format!(
                        "{name}: skipped, not a log of a known format ({reason})"
                    ));
                } else {
                    src.state = SrcState::Unknown;
                    src.detected = reason.clone();
                    self.note(format!(
                        "{name}: unknown format, its lines are counted as rejected: {reason}"
                    ));
                }
                true
            }
        }
    }

    /// Try to decide a sampling source from its sample; replay the sample when decided.
    fn try_sample(&mut self, s: usize, final_try: bool) {
        let Some(src) = self.sources.get_mut(s) else {
            return;
        };
        if src.state != SrcState::Sampling || src.sample.is_empty() {
            return;
        }
        let sample = std::mem::take(&mut src.sample);
        src.sample_bytes = 0;
        src.sample_since = None;
        let mut head = Vec::new();
        for it in &sample {
            if let SampleItem::Line(_, l, _, _) = it {
                head.extend_from_slice(l);
                head.push(b'\n');
            }
        }
        let final_try = final_try || sample.len() >= SAMPLE_MIN_LINES;
        if !self.decide(s, &head, true, final_try) {
            let src = &mut self.sources[s];
            src.sample = sample;
            src.sample_bytes = head.len();
            src.sample_since = Some(Instant::now());
            return;
        }
        let n = sample
            .iter()
            .filter(|x| !matches!(x, SampleItem::End(_)))
            .count() as u64;
        match self.sources[s].state {
            SrcState::Feeding => {
                for it in &sample {
                    match it {
                        SampleItem::Line(gen, l, no, off) => {
                            if let Some(feed) = self.feed_of(s, *gen) {
                                feed.line(l, *no, *off);
                            }
                        }
                        SampleItem::TooLong(gen, no, off, len) => {
                            if let Some(feed) = self.feed_of(s, *gen) {
                                feed.too_long(*no, *off, *len);
                            }
                        }
                        SampleItem::End(gen) => self.end_gen(s, *gen),
                    }
                }
            }
            SrcState::Unknown => self.unknown_lines += n,
            _ => {}
        }
    }

    /// The feed for a line of generation `gen` of source `s` (a feeding source): the
    /// current file's, a rotated-away file's, or — a generation not seen yet is the new
    /// file at the path — a new current feed (the previous one is kept for the old file).
    fn feed_of(&mut self, s: usize, gen: u64) -> Option<&mut LineFeed<'o>> {
        let fresh = {
            let src = self.sources.get(s)?;
            if src.old_feeds.iter().any(|o| o.gen == gen) || src.feed_gen == Some(gen) {
                None
            } else if src.feed_gen.is_none() {
                Some(None)
            } else {
                let f = src.format?;
                Some(Some(self.new_feed(f, s)))
            }
        };
        let src = self.sources.get_mut(s)?;
        match fresh {
            None => {}
            Some(None) => src.feed_gen = Some(gen),
            Some(Some(Ok(feed))) => {
                if let (Some(old), Some(old_gen)) = (src.feed.replace(feed), src.feed_gen) {
                    src.old_feeds.push(OldFeed {
                        gen: old_gen,
                        feed: old,
                        finished: false,
                    });
                }
                src.feed_gen = Some(gen);
            }
            // cannot happen (the same parser was built before): go on in the current feed
            Some(Some(Err(_))) => src.feed_gen = Some(gen),
        }
        if src.feed_gen == Some(gen) {
            return src.feed.as_mut();
        }
        src.old_feeds
            .iter_mut()
            .find(|o| o.gen == gen)
            .map(|o| &mut o.feed)
    }

    /// The file of generation `gen` of source `s` left the path: its feed stops being the
    /// current one (not flushed when quiet; completed when the file is finished).
    fn retire_gen(&mut self, s: usize, gen: u64) {
        let Some(f) = self.sources.get(s).and_then(|x| x.format) else {
            return;
        };
        if self.sources[s].feed_gen != Some(gen) {
            return;
        }
        let Ok(fresh) = self.new_feed(f, s) else {
            return;
        };
        let src = &mut self.sources[s];
        if let Some(old) = src.feed.replace(fresh) {
            src.old_feeds.push(OldFeed {
                gen,
                feed: old,
                finished: false,
            });
        }
        src.feed_gen = None;
    }

    /// No more lines of generation `gen` of source `s`: complete its last record.
    fn end_gen(&mut self, s: usize, gen: u64) {
        let Some(src) = self.sources.get_mut(s) else {
            return;
        };
        match src.state {
            SrcState::Sampling => {
                let has = src.sample.iter().any(|x| match x {
                    SampleItem::Line(g, ..) | SampleItem::TooLong(g, ..) => *g == gen,
                    SampleItem::End(_) => false,
                });
                if has {
                    src.sample.push(SampleItem::End(gen));
                }
            }
            SrcState::Feeding => {
                if src.feed_gen == Some(gen) {
                    self.retire_gen(s, gen);
                }
                let src = &mut self.sources[s];
                if let Some(o) = src.old_feeds.iter_mut().find(|o| o.gen == gen) {
                    o.feed.flush();
                    o.finished = true;
                }
            }
            _ => {}
        }
    }

    /// A line of source `s`, from the file of generation `gen` (0 for a pipe).
    fn on_line(&mut self, s: usize, gen: u64, item: LineItem<'_>) {
        let Some(src) = self.sources.get_mut(s) else {
            return;
        };
        src.lines_this_tick += 1;
        match src.state {
            SrcState::Feeding => {
                if let Some(feed) = self.feed_of(s, gen) {
                    match item {
                        LineItem::Line {
                            bytes,
                            line_no,
                            offset,
                        } => feed.line(bytes, line_no, offset),
                        LineItem::TooLong {
                            line_no,
                            offset,
                            len,
                        } => feed.too_long(line_no, offset, len),
                    }
                }
            }
            SrcState::Sampling => {
                match item {
                    LineItem::Line {
                        bytes,
                        line_no,
                        offset,
                    } => {
                        src.sample_bytes += bytes.len() + 1;
                        src.sample
                            .push(SampleItem::Line(gen, bytes.to_vec(), line_no, offset));
                    }
                    LineItem::TooLong {
                        line_no,
                        offset,
                        len,
                    } => src
                        .sample
                        .push(SampleItem::TooLong(gen, line_no, offset, len)),
                }
                if src.sample_since.is_none() {
                    src.sample_since = Some(Instant::now());
                }
                if src.sample.len() >= SAMPLE_LINES || src.sample_bytes >= SAMPLE_BYTES {
                    self.try_sample(s, true);
                }
            }
            SrcState::Unknown => self.unknown_lines += 1,
            SrcState::Dropped => {}
        }
    }

    fn note(&mut self, s: String) {
        let line = format!("{} {s}", chrono::Utc::now().format("%H:%M:%S"));
        self.new_notices.push(s);
        self.notices.push_back(line);
        while self.notices.len() > 5 {
            self.notices.pop_front();
        }
    }

    fn on_notice(&mut self, n: Notice, follower: &Follower) {
        let path = |p: &Path| p.display().to_string();
        match n {
            Notice::Added(fid, p) => {
                let s = self.add_source(path(&p), true, Some(fid));
                self.note(format!("{}: new file, following it", self.sources[s].name));
            }
            Notice::Rotated(_, p) => {
                // the old file's last record is completed when it is finished (below), not
                // now: a writer that has not reopened its log yet may still be writing it
                self.note(format!(
                    "{}: rotated, finishing the old file and reading the new one",
                    path(&p)
                ));
            }
            Notice::Draining(fid, gen) => {
                if let Some(&s) = self.by_follow.get(&fid) {
                    if self
                        .sources
                        .get(s)
                        .is_some_and(|x| x.state == SrcState::Feeding)
                    {
                        self.retire_gen(s, gen);
                    }
                }
            }
            Notice::Truncated(fid, p, rec, gen) => {
                if let Some(&s) = self.by_follow.get(&fid) {
                    self.end_gen(s, gen);
                }
                self.note(if rec > 0 {
                format!(
                    "{}: truncated (copytruncate); read {rec} bytes from its copy, then the file from its start",
                    path(&p)
                )
            } else {
                format!("{}: truncated; reading it from its start", path(&p))
            })
            }
            Notice::Finished(fid, p, gen) => {
                if let Some(&s) = self.by_follow.get(&fid) {
                    self.end_gen(s, gen);
                }
                self.note(format!("{}: the rotated file went quiet; closed", path(&p)))
            }
            Notice::Gone(_, p) => self.note(format!(
                "{}: no longer there; waiting for it to come back",
                path(&p)
            )),
            Notice::Error(_, p, e) => self.note(format!("{}: cannot read: {e}", path(&p))),
        }
        let _ = follower;
    }

    /// End of an interval: collect what the sources recorded, update the ring, figures and
    /// metrics. Returns the interval's accumulator figures.
    fn collect(&mut self, now_s: i64, final_tick: bool) -> (u64, BTreeMap<String, u64>, u64) {
        // decide sources that sampled long enough; end quiet multi-line records
        for s in 0..self.sources.len() {
            let src = &self.sources[s];
            if src.state == SrcState::Sampling {
                let due = src
                    .sample_since
                    .is_some_and(|t| t.elapsed() >= Duration::from_millis(900));
                if due || final_tick {
                    self.try_sample(s, final_tick);
                }
            }
            // (a source decided just now included: its sample was replayed into the feed)
            let src = &mut self.sources[s];
            if src.state == SrcState::Feeding {
                // the current file's last record when the source went quiet; a
                // rotated-away file's when it is finished (or at the very end)
                let quiet = src.lines_this_tick == 0 || final_tick;
                if let Some(feed) = src.feed.as_mut() {
                    if quiet && feed.has_pending() {
                        feed.flush();
                    }
                }
                if final_tick {
                    for o in &mut src.old_feeds {
                        o.feed.flush();
                    }
                }
            }
            src.lines_this_tick = 0;
        }
        let mut tick = new_acc();
        if self.combos {
            tick.combos = Some(HashMap::new());
        }
        for src in &mut self.sources {
            if let Some(feed) = src.feed.as_mut() {
                merge_live(&mut tick, feed.take());
            }
            for o in &mut src.old_feeds {
                merge_live(&mut tick, o.feed.take());
            }
            src.old_feeds.retain(|o| !o.finished);
        }
        let mut lines = 0;
        let mut rejected = 0;
        for st in tick.files.values() {
            lines += st.lines;
            rejected += st.rejected;
        }
        lines += self.unknown_lines;
        rejected += self.unknown_lines;
        self.unknown_lines = 0;
        self.total_lines += lines;
        self.total_rejected += rejected;
        self.metrics.add_lines(lines, rejected);
        self.metrics.add(&tick);
        let mut status = BTreeMap::new();
        let mut requests = 0;
        let mut err5 = 0;
        for (code, &n) in tick.status_counts.iter().enumerate() {
            if n > 0 {
                requests += n;
                status.insert(code.to_string(), n);
                if (500..600).contains(&code) {
                    err5 += n;
                }
            }
        }
        let mut t = Tick {
            t_s: now_s,
            status: [0; 5],
        };
        for (i, code) in [499usize, 500, 502, 503, 504].iter().enumerate() {
            t.status[i] = tick.status_counts.get(*code).copied().unwrap_or(0);
        }
        self.history.push_back(t);
        while self
            .history
            .front()
            .is_some_and(|h| h.t_s <= now_s - self.ring_s)
        {
            self.history.pop_front();
        }
        // into the ring
        let slot_start = now_s.div_euclid(SLOT_S) * SLOT_S;
        if self.ring.back().is_none_or(|s| s.start_s != slot_start) {
            self.ring.push_back(Slot {
                start_s: slot_start,
                acc: new_acc(),
            });
        }
        if let Some(slot) = self.ring.back_mut() {
            cap_rows(&mut tick, &slot.acc);
            merge_live(&mut slot.acc, tick);
        }
        while self
            .ring
            .front()
            .is_some_and(|s| s.start_s + SLOT_S <= now_s - self.ring_s)
        {
            self.ring.pop_front();
        }
        (requests, status, err5)
    }

    fn slots_in(&self, now_s: i64, window_s: i64) -> impl Iterator<Item = &Slot> {
        let cutoff = now_s - window_s;
        self.ring
            .iter()
            .filter(move |s| s.start_s + SLOT_S > cutoff)
    }

    /// Window figures straight from the slots (cheap: no analysis).
    fn figures(&self, now_s: i64, window_s: i64) -> WindowFigures {
        let mut w = WindowFigures {
            seconds: window_s,
            ..Default::default()
        };
        let mut codes = [0u64; 1000];
        let mut hist = Hist::default();
        let mut ups: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
        let mut events = [0u64; EventKind::COUNT];
        for slot in self.slots_in(now_s, window_s) {
            for (a, b) in codes.iter_mut().zip(slot.acc.status_counts.iter()) {
                *a += b;
            }
            let sums = analysis::fold_buckets(&slot.acc.timeline.buckets);
            hist.merge(&sums.req_time);
            for (id, (r, e)) in sums.upstreams {
                if let Some(n) = slot.acc.upstream_names.get(id as usize) {
                    let x = ups.entry(n.to_vec()).or_insert((0, 0));
                    x.0 += r;
                    x.1 += e;
                }
            }
            for (x, n) in events.iter_mut().zip(sums.events) {
                *x += n;
            }
        }
        for (code, &n) in codes.iter().enumerate() {
            if n > 0 {
                w.requests += n;
                w.status.insert(code.to_string(), n);
                if (500..600).contains(&code) {
                    w.err5xx += n;
                }
            }
        }
        w.rate_5xx = ratio(w.err5xx, w.requests);
        if hist.total() > 0 {
            let q = |p: f64| hist.quantile(p).map(secs);
            w.latency = Quantiles {
                p50: q(0.5),
                p95: q(0.95),
                p99: q(0.99),
            };
        }
        let mut up: Vec<(String, u64, u64)> = ups
            .into_iter()
            .filter(|(_, v)| v.1 > 0)
            .map(|(k, v)| (report::display_bytes(&k), v.1, v.0))
            .collect();
        up.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        up.truncate(10);
        w.upstreams_5xx = up.iter().map(|u| (u.0.clone(), u.1)).collect();
        w.upstreams = up;
        for k in EventKind::ALL {
            let n = events.get(k.index()).copied().unwrap_or(0);
            if n > 0 && k.is_error() {
                w.events.insert(k.id().to_string(), n);
            }
        }
        w
    }

    fn metas(&self) -> Vec<InputMeta> {
        self.sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let f = s.format?;
                Some(InputMeta {
                    id: i as u32,
                    name: s.name.clone(),
                    format: f.id().to_string(),
                    layer: f.layer(),
                    detected: s.detected.clone(),
                })
            })
            .collect()
    }

    /// The merged accumulator of a window's slots.
    fn window_acc(&self, now_s: i64, window_s: i64) -> Acc {
        let mut acc = Acc::new(1);
        for slot in self.slots_in(now_s, window_s) {
            merge_live(&mut acc, slot.acc.clone());
        }
        acc
    }

    /// Run the analysis over a window (the same `build_report` as `analyze`). `width_hint`:
    /// coarsen the timeline to about this bucket width first (alerts with `for`).
    fn analyse(&self, now_s: i64, window_s: i64, width_hint: Option<i64>) -> Report {
        self.analyse_acc(now_s, window_s, width_hint).0
    }

    /// [`Live::analyse`], with the accumulator the report was built from (alerts' `for`
    /// windows merge its buckets' latency histograms).
    fn analyse_acc(&self, now_s: i64, window_s: i64, width_hint: Option<i64>) -> (Report, Acc) {
        let mut acc = self.window_acc(now_s, window_s);
        if let Some(w) = width_hint {
            acc.timeline.coarsen(analysis::ladder_step_at_most(w));
        }
        let r = analysis::report_of(
            &mut acc,
            &self.metas(),
            Vec::new(),
            self.tz_describe(),
            &AnalysisOptions {
                bucket_s: width_hint,
                min_incident_errors: self.min_errors,
                top_n: 5,
                ..Default::default()
            },
            &[],
        );
        (r, acc)
    }

    /// The newest error lines of the window (5xx requests and error events), newest first.
    fn newest_lines(&self, now_s: i64, window_s: i64, n: usize) -> Vec<String> {
        let mut v: Vec<(i64, u32, u64, &[u8])> = Vec::new();
        for slot in self.slots_in(now_s, window_s) {
            for (k, samples) in slot.acc.samples.iter().rev().take(64) {
                let is_err = if k.1 >= 1000 {
                    k.1 >= 1500
                } else {
                    EventKind::ALL
                        .get(k.1 as usize)
                        .is_some_and(|e| e.is_error())
                };
                if !is_err {
                    continue;
                }
                for s in samples {
                    v.push((s.utc_us, s.file, s.line, &s.text));
                }
            }
        }
        v.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.cmp(&a.2)));
        v.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
        v.into_iter()
            .take(n)
            .map(|(_, f, l, t)| {
                let name = self
                    .sources
                    .get(f as usize)
                    .map(|s| s.name.as_str())
                    .unwrap_or("?");
                format!("{name}:{l}: {}", report::display_bytes(t))
            })
            .collect()
    }
}

fn secs(us: u64) -> f64 {
    (us as f64 / 1000.0).round() / 1000.0
}

fn ratio(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        ((n as f64 / of as f64) * 10000.0).round() / 10000.0
    }
}

fn new_acc() -> Acc {
    let mut a = Acc::new(1);
    a.top_clients = std::array::from_fn(|_| TopN::new(SLOT_TOP));
    a.top_paths = std::array::from_fn(|_| TopN::new(SLOT_TOP));
    a.top_upstreams = std::array::from_fn(|_| TopN::new(SLOT_TOP));
    a
}

/// Keep at most [`SLOT_ROWS`] error rows per slot (counts stay exact).
fn cap_rows(tick: &mut Acc, slot: &Acc) {
    let room = SLOT_ROWS.saturating_sub(slot.req_rows.len());
    if tick.req_rows.len() > room {
        tick.rows_dropped += (tick.req_rows.len() - room) as u64;
        tick.req_rows.truncate(room);
    }
    let room = SLOT_ROWS.saturating_sub(slot.event_rows.len());
    if tick.event_rows.len() > room {
        tick.rows_dropped += (tick.event_rows.len() - room) as u64;
        tick.event_rows.truncate(room);
    }
}

/// Merge `src` into `dst` keeping line numbers as they are: live line numbers are already
/// the files' own (`Acc::merge` would shift them as if `src` were a later chunk of a file).
fn merge_live(dst: &mut Acc, mut src: Acc) {
    let files = std::mem::take(&mut src.files);
    dst.merge(src);
    for (f, st) in files {
        add_stats(dst.stats(f), st);
    }
}

/// [`FileStats::add`], keeping at most ten I/O errors per file over a long `live` run.
fn add_stats(t: &mut FileStats, st: FileStats) {
    t.add(st);
    t.errors.truncate(10);
}

/// The incident still going on at the end of a report's timeline (its last bucket is one
/// of the last three), if any.
pub fn active_incident(r: &Report) -> Option<&Incident> {
    let width = r.timeline.bucket_seconds.max(1) * 1_000_000;
    let last_end = r.timeline.rows.last()?.start_us + width;
    r.incidents
        .iter()
        .rev()
        .find(|i| i.end_us >= last_end - 3 * width)
}

/// Write to stdout; true when stdout was closed (a pipe whose reader went away).
fn emit_closed(s: &str) -> Result<bool, UserError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(UserError(format!("cannot write to stdout: {e}"))),
    }
}

/// `--metrics` value: a bare port (or `:port`) listens on loopback.
pub fn metrics_addr(s: &str) -> Result<String, UserError> {
    let t = s.trim();
    let addr = if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
        format!("127.0.0.1:{t}")
    } else if let Some(p) = t.strip_prefix(':') {
        format!("127.0.0.1:{p}")
    } else {
        t.to_string()
    };
    use std::net::ToSocketAddrs;
    match addr.to_socket_addrs().map(|mut it| it.next()) {
        Ok(Some(_)) => Ok(addr),
        _ => Err(UserError(format!(
            "--metrics '{s}': not an address to listen on; use a port (9464, on 127.0.0.1) or HOST:PORT"
        ))),
    }
}

pub fn run(a: LiveArgs) -> Result<Exit, UserError> {
    let (force_all, force_path) = super::parse_formats(&a.fmt.format);
    let parser_opts = super::parser_options(&a.fmt)?;
    let tz_forced = a.read.tz.clone();
    if a.fmt.max_line < 256 {
        return Err(UserError("--max-line must be at least 256 bytes".into()));
    }
    let interval_s = a.interval.secs();
    let window_s = a.window.secs();
    let mut alerts = Vec::new();
    for r in &a.alert {
        alerts.push(Alert {
            text: r.text.clone(),
            rule: alert_rules::Parsed(r.clone()),
            firing: false,
        });
    }
    if a.on_alert.is_some() && alerts.is_empty() {
        return Err(UserError(
            "--on-alert needs at least one --alert RULE".into(),
        ));
    }
    let metrics_at = a.metrics.as_deref().map(metrics_addr).transpose()?;
    let tui_mode = !a.json && std::io::stdout().is_terminal();
    let opts = RunOptions {
        force_all,
        force_path,
        parser_opts,
        tz: tz_forced.clone(),
        base_bucket_s: 1,
        max_line: a.fmt.max_line,
        ..Default::default()
    };
    let ring_s = alerts
        .iter()
        .map(|x| alert_rules::for_s(&x.rule).unwrap_or(60) + 2 * SLOT_S)
        .max()
        .unwrap_or(0)
        .max(WINDOWS[2]);
    let mut live = Live::new(&opts, tz_forced, ring_s, a.read.min_errors, window_s);
    live.combos = metrics_at.is_some();

    // inputs
    let mut follower = Follower::new(a.fmt.max_line);
    let mut use_stdin = false;
    let mut startup: Vec<(usize, PathBuf)> = Vec::new();
    for arg in &a.inputs {
        if arg == "-" {
            if use_stdin {
                return Err(UserError("- (stdin) is given twice".into()));
            }
            use_stdin = true;
            continue;
        }
        let p = Path::new(arg);
        if p.is_dir() {
            for (fid, path) in follower.add_dir(p, !a.from_start) {
                let s = live.add_source(path.display().to_string(), true, Some(fid));
                startup.push((s, path));
            }
        } else if p.exists() {
            let fid = follower.add_file(p, !a.from_start, false);
            let s = live.add_source(arg.clone(), false, Some(fid));
            startup.push((s, p.to_path_buf()));
        } else if input::has_glob_meta(arg) {
            // the expansion of `analyze` (rotation order), files only: a directory matched
            // is not followed
            let paths: Vec<PathBuf> = input::glob_paths(arg)
                .map_err(|e| UserError(format!("{arg}: {e}")))?
                .into_iter()
                .filter(|p| p.is_file())
                .collect();
            if paths.is_empty() {
                return Err(UserError(format!(
                    "{arg}: the pattern matches no file; check the path and quoting"
                )));
            }
            for p in paths {
                let fid = follower.add_file(&p, !a.from_start, false);
                let s = live.add_source(p.display().to_string(), false, Some(fid));
                startup.push((s, p));
            }
        } else {
            let parent_ok = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.is_dir(),
                _ => true,
            };
            if !parent_ok {
                return Err(UserError(format!(
                    "{arg}: no such file or directory; check the path"
                )));
            }
            // like tail -F: wait for it to appear
            let fid = follower.add_file(p, false, false);
            live.add_source(arg.clone(), false, Some(fid));
            live.note(format!("{arg}: does not exist yet; waiting for it"));
        }
    }
    // formats of the files there now, from their first bytes
    for (s, p) in &startup {
        // the sample `analyze` sniffs (the raw bytes: live follows files as they are)
        let Ok((head, complete)) =
            std::fs::File::open(p).and_then(|mut f| input::read_head(&mut f))
        else {
            continue;
        };
        if head.is_empty() {
            continue; // decided from its first lines
        }
        live.decide(*s, &head, complete, true);
        if live.sources[*s].state == SrcState::Unknown {
            return Err(UserError(format!(
                "{}: unknown format: {}",
                live.sources[*s].name, live.sources[*s].detected
            )));
        }
    }
    for f in std::mem::take(&mut live.drops) {
        follower.drop_file(f);
    }
    if live.sources.is_empty() && !use_stdin {
        return Err(UserError(
            "nothing to follow: the directories hold no log files yet; name a file (it is waited for) or a directory with logs".into(),
        ));
    }

    let (tx, rx) = mpsc::channel::<Msg>();
    // SIGTERM, SIGINT, SIGHUP: restore the terminal / print a last line, then end by the
    // signal (see `stop_signals`)
    if let Err(e) = stop_signals::watch(tx.clone()) {
        live.note(format!(
            "cannot watch for SIGTERM/SIGINT/SIGHUP ({e}); they end gatelog at once"
        ));
    }
    // change notifications, with a once-per-interval poll as fallback
    let dirty = Arc::new(AtomicBool::new(false));
    let _watcher = {
        let tx = tx.clone();
        let dirty = dirty.clone();
        let w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok() && !dirty.swap(true, Ordering::AcqRel) {
                let _ = tx.send(Msg::Fs);
            }
        });
        match w {
            Ok(mut w) => {
                use notify::Watcher;
                let dirs = follower.dirs().to_vec();
                for d in follower.watch_dirs() {
                    let mode = if dirs.contains(&d) {
                        notify::RecursiveMode::Recursive
                    } else {
                        notify::RecursiveMode::NonRecursive
                    };
                    if let Err(e) = w.watch(&d, mode) {
                        live.note(format!(
                            "{}: no change notifications ({e}); polling every interval",
                            d.display()
                        ));
                    }
                }
                Some(w)
            }
            Err(e) => {
                live.note(format!(
                    "change notifications unavailable ({e}); polling every interval"
                ));
                None
            }
        }
    };
    if use_stdin {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => {
                        let _ = tx.send(Msg::StdinEnd(None));
                        return;
                    }
                    Ok(n) => {
                        if tx.send(Msg::Stdin(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Msg::StdinEnd(Some(e.to_string())));
                        return;
                    }
                }
            }
        });
    }
    let metrics_text = Arc::new(std::sync::Mutex::new(String::new()));
    let mut metrics_server = None;
    if let Some(addr) = &metrics_at {
        let server = metrics::serve(addr, metrics_text.clone())
            .map_err(|e| UserError(format!("--metrics {addr}: {e}")))?;
        if !a.quiet || !tui_mode {
            eprintln!("gatelog: metrics at http://{}/metrics", server.addr());
        }
        metrics_server = Some(server);
    }
    let mut screen = if tui_mode {
        let s = tui::Screen::start().map_err(|e| {
            UserError(format!(
                "cannot start the terminal view ({e}); use --json for JSON lines"
            ))
        })?;
        let keys_tx = tx.clone();
        std::thread::spawn(move || {
            tui::read_keys(|k| match k {
                Some(k) => keys_tx.send(Msg::Key(k)).is_ok(),
                None => keys_tx.send(Msg::Resize).is_ok(),
            })
        });
        // SIGTSTP from outside (`kill -TSTP`; Ctrl-Z itself is a key in raw mode): suspend
        // with the terminal given back, as for Ctrl-Z
        if let Err(e) = stop_signals::watch_tstp(tx.clone()) {
            live.note(format!(
                "cannot watch for SIGTSTP ({e}); a SIGTSTP stops gatelog without restoring the terminal"
            ));
        }
        Some(s)
    } else {
        None
    };
    if !tui_mode && !a.quiet {
        for n in live.new_notices.drain(..) {
            eprintln!("gatelog: {n}");
        }
    }
    live.new_notices.clear();

    let interval = Duration::from_secs(interval_s as u64);
    let mut demux = PipeDemux::new(a.fmt.max_line);
    let mut stdin_open = use_stdin;
    let mut next_tick = Instant::now() + interval;
    let mut last_tick = Instant::now();
    let mut next_read: Option<Instant> = Some(Instant::now());
    let mut last_read = Instant::now()
        .checked_sub(READ_DEBOUNCE)
        .unwrap_or_else(Instant::now);
    let mut more = false;
    let mut window_s = window_s;
    let mut paused = false;
    let mut frozen: Option<View> = None;
    let mut quit = false;
    let mut stop: Option<i32> = None;
    let mut view: Option<View> = None;
    let follows_files = !live.sources.is_empty() || !follower.dirs().is_empty();
    let on_alert = a.on_alert.clone();
    loop {
        let now = Instant::now();
        let mut deadline = next_tick;
        if let Some(r) = next_read {
            deadline = deadline.min(r);
        }
        if more {
            deadline = now;
        }
        let mut redraw = false;
        let mut final_tick = false;
        match rx.recv_timeout(deadline.saturating_duration_since(now)) {
            Ok(Msg::Fs) => {
                let at = (last_read + READ_DEBOUNCE).max(now);
                next_read = Some(next_read.map_or(at, |r| r.min(at)));
            }
            Ok(Msg::Stdin(b)) => {
                let lr = &mut live;
                demux.push(&b, &mut |i, item| {
                    let s = pipe_source(lr, i);
                    lr.on_line(s, 0, item);
                });
                sync_pipe_names(&mut live, &demux);
            }
            Ok(Msg::StdinEnd(err)) => {
                let live_ref = &mut live;
                demux.finish(&mut |i, item| {
                    let s = pipe_source(live_ref, i);
                    live_ref.on_line(s, 0, item);
                });
                sync_pipe_names(&mut live, &demux);
                if let Some(e) = err {
                    live.note(format!("-: read error: {e}"));
                }
                stdin_open = false;
                if !tui_mode && !follows_files {
                    final_tick = true;
                }
            }
            Ok(Msg::Key(k)) => match k {
                tui::Key::Quit => quit = true,
                tui::Key::Pause => {
                    paused = !paused;
                    frozen = if paused { view.clone() } else { None };
                    redraw = true;
                }
                tui::Key::Resumed => {
                    if let Some(sc) = screen.as_mut() {
                        if let Err(e) = sc.clear() {
                            live.note(format!("cannot redraw the terminal view: {e}"));
                        }
                    }
                    redraw = true;
                }
                tui::Key::Window(w) => {
                    window_s = w;
                    live.next_report = Instant::now();
                    live.report = None;
                    if let Some(v) = view.as_mut() {
                        v.window_label = tui::window_label(w);
                    }
                    redraw = true;
                }
            },
            Ok(Msg::Resize) => redraw = true,
            Ok(Msg::Signal(sig)) => {
                stop = Some(sig);
                if tui_mode {
                    quit = true;
                } else {
                    // read what is there, print the interval so far, then end
                    final_tick = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => quit = true,
        }
        if quit {
            break;
        }
        let now = Instant::now();
        let tick_due = now >= next_tick || final_tick;
        if more || tick_due || next_read.is_some_and(|r| now >= r) {
            dirty.store(false, Ordering::Release);
            let mut notices = Vec::new();
            if tick_due {
                follower.rescan(&mut notices);
                for n in notices.drain(..) {
                    live.on_notice(n, &follower);
                }
            }
            let lr = &mut live;
            more = follower.poll(&mut notices, &mut |fid, gen, item| {
                if let Some(&s) = lr.by_follow.get(&fid) {
                    lr.on_line(s, gen, item);
                }
            });
            for n in notices {
                live.on_notice(n, &follower);
            }
            for f in std::mem::take(&mut live.drops) {
                follower.drop_file(f);
            }
            last_read = now;
            next_read = None;
        }
        if tick_due {
            let now_s = now_us().div_euclid(1_000_000);
            let elapsed = last_tick.elapsed().as_secs_f64();
            last_tick = Instant::now();
            let (requests, status, err5) = live.collect(now_s, final_tick);
            let fig = live.figures(now_s, window_s);
            // the analysis of the window, no more often than its cost allows
            if Instant::now() >= live.next_report || live.report_window != window_s || final_tick {
                let t0 = Instant::now();
                let r = live.analyse(now_s, window_s, None);
                live.newest = live.newest_lines(now_s, window_s, 6);
                live.report = Some(r);
                live.report_window = window_s;
                live.report_cost = t0.elapsed();
                live.next_report = Instant::now() + live.report_cost * 4;
            }
            let incident = live.report.as_ref().and_then(active_incident).cloned();
            live.metrics
                .set_incident(incident.as_ref(), fig.rate_5xx, fig.requests);
            if metrics_at.is_some() {
                let text = live.metrics.render();
                if let Ok(mut g) = metrics_text.lock() {
                    *g = text;
                }
            }
            // alerts
            let mut alert_lines = Vec::new();
            for i in 0..alerts.len() {
                let for_s = alert_rules::for_s(&alerts[i].rule);
                let w = for_s.map(|f| f + SLOT_S).unwrap_or(60);
                let hint = for_s.map(|f| (f / 10).max(1));
                let (mut r, acc) = live.analyse_acc(now_s, w, hint);
                if alert_rules::is_cause(&alerts[i].rule) {
                    let keep = active_incident(&r).map(|x| x.id);
                    r.incidents.retain(|x| Some(x.id) == keep);
                }
                let (held, value, detail) = alert_rules::eval(&alerts[i].rule, &r, &acc.timeline);
                if held != alerts[i].firing {
                    alerts[i].firing = held;
                    let state = if held { "firing" } else { "resolved" };
                    alert_lines.push((i, state, value, detail));
                }
            }
            let time = report::rfc3339(now_s * 1_000_000);
            for (i, state, value, detail) in &alert_lines {
                let al = &alerts[*i];
                if let Some(cmd) = &on_alert {
                    run_on_alert(
                        cmd,
                        &al.text,
                        state,
                        &time,
                        *value,
                        detail,
                        incident.as_ref(),
                        tui_mode,
                    );
                }
                live.note(format!("alert {state}: {} ({detail})", al.text));
            }
            if tui_mode {
                let firing: Vec<String> = alerts
                    .iter()
                    .filter(|x| x.firing)
                    .map(|x| x.text.clone())
                    .collect();
                // no incident going on: show the last one of the window, marked as ended
                let shown = incident.clone().map(|i| (i, false)).or_else(|| {
                    live.report
                        .as_ref()
                        .and_then(|r| r.incidents.last().cloned())
                        .map(|i| (i, true))
                });
                let v = build_view(
                    &live,
                    &fig,
                    shown.as_ref().map(|(i, ended)| (i, *ended)),
                    requests,
                    err5,
                    elapsed,
                    now_s,
                    window_s,
                    firing,
                );
                view = Some(v);
                redraw = true;
            } else {
                let mut out = String::new();
                for (i, state, value, detail) in &alert_lines {
                    let line = AlertLine {
                        time: time.clone(),
                        alert: &alerts[*i].text,
                        state,
                        value: *value,
                        detail,
                    };
                    if let Ok(s) = serde_json::to_string(&line) {
                        out.push_str(&s);
                        out.push('\n');
                    }
                }
                let line = JsonLine {
                    time,
                    interval_seconds: (elapsed * 1000.0).round() / 1000.0,
                    requests,
                    status,
                    total_lines: live.total_lines,
                    rejected_lines: live.total_rejected,
                    rate_5xx: ratio(err5, requests),
                    latency: &fig.latency,
                    window: &fig,
                    incident: incident.as_ref(),
                };
                match serde_json::to_string(&line) {
                    Ok(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    Err(e) => return Err(UserError(format!("cannot encode a JSON line: {e}"))),
                }
                if emit_closed(&out)? {
                    drop(metrics_server.take());
                    if let Some(sig) = stop {
                        stop_signals::die(sig);
                    }
                    return Ok(Exit::Ok); // stdout closed
                }
                if !a.quiet {
                    for n in live.new_notices.drain(..) {
                        eprintln!("gatelog: {n}");
                    }
                }
            }
            live.new_notices.clear();
            next_tick += interval;
            if next_tick <= Instant::now() {
                next_tick = Instant::now() + interval;
            }
            if final_tick {
                break;
            }
        }
        // (not while suspended: the shell has the terminal; Key::Resumed redraws)
        if redraw && tui::active() {
            if let (Some(s), Some(v)) = (screen.as_mut(), frozen.as_ref().or(view.as_ref())) {
                let mut v = v.clone();
                v.paused = paused;
                v.window_label = tui::window_label(window_s);
                if let Err(e) = s.draw(&v) {
                    drop(screen.take());
                    return Err(UserError(format!("cannot draw the terminal view: {e}")));
                }
            }
        }
        let _ = stdin_open;
    }
    drop(screen);
    // (before `die`, which runs no destructor)
    drop(metrics_server.take());
    if let Some(sig) = stop {
        stop_signals::die(sig);
    }
    Ok(Exit::Ok)
}

/// SIGTERM, SIGINT and SIGHUP (a terminal closing, `kill`, systemd stopping a unit): the
/// main loop gets a [`Msg::Signal`], restores the terminal (terminal view) or prints the
/// interval's last JSON line (JSON mode), then gatelog ends *by that signal* (the default
/// action is re-raised), so a shell sees the conventional status 128+signo (143, 130, 129)
/// and a service manager sees a clean stop. A signal that was ignored when gatelog started
/// (`nohup`, a background job's SIGINT) stays ignored. A second signal, or a main loop that
/// has not ended 3 s after the first, ends gatelog at once (restoring the terminal first).
/// In the terminal view Ctrl-C is a key (raw mode), not a signal: it quits with status 0.
#[cfg(unix)]
mod stop_signals {
    use super::Msg;
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use std::sync::mpsc;
    use std::time::Duration;

    /// How long the main loop has after the first signal.
    const GRACE: Duration = Duration::from_secs(3);

    pub fn watch(tx: mpsc::Sender<Msg>) -> Result<(), String> {
        let wanted: Vec<i32> = [SIGTERM, SIGINT, SIGHUP]
            .into_iter()
            .filter(|&s| !ignored(s))
            .collect();
        let mut signals =
            signal_hook::iterator::Signals::new(&wanted).map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            let mut first = true;
            for sig in signals.forever() {
                if !first {
                    die(sig);
                }
                first = false;
                if tx.send(Msg::Signal(sig)).is_err() {
                    die(sig);
                }
                std::thread::spawn(move || {
                    std::thread::sleep(GRACE);
                    die(sig);
                });
            }
        });
        Ok(())
    }

    /// SIGTSTP while the terminal view is up: [`crate::sink::tui::suspend`], then a redraw.
    pub fn watch_tstp(tx: mpsc::Sender<Msg>) -> Result<(), String> {
        use signal_hook::consts::SIGTSTP;
        if ignored(SIGTSTP) {
            return Ok(()); // started without job control: nothing to do
        }
        let mut signals =
            signal_hook::iterator::Signals::new([SIGTSTP]).map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            for _ in signals.forever() {
                crate::sink::tui::suspend();
                if tx.send(Msg::Key(crate::sink::tui::Key::Resumed)).is_err() {
                    return;
                }
            }
        });
        Ok(())
    }

    /// Whether `sig` is ignored (SIG_IGN inherited from the parent).
    fn ignored(sig: i32) -> bool {
        // SAFETY: sigaction with a null new action only reads the current disposition into
        // `old`, a zeroed plain-data struct of the right type.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        }
    }

    /// Restore the terminal if the view is up, then end by `sig`'s default action.
    pub fn die(sig: i32) -> ! {
        if crate::sink::tui::active() {
            crate::sink::tui::restore_terminal();
        }
        let _ = signal_hook::low_level::emulate_default_handler(sig);
        std::process::exit(128 + sig)
    }
}

#[cfg(not(unix))]
mod stop_signals {
    use super::Msg;
    use std::sync::mpsc;

    pub fn watch(_tx: mpsc::Sender<Msg>) -> Result<(), String> {
        Ok(())
    }

    pub fn watch_tstp(_tx: mpsc::Sender<Msg>) -> Result<(), String> {
        Ok(())
    }

    pub fn die(sig: i32) -> ! {
        if crate::sink::tui::active() {
            crate::sink::tui::restore_terminal();
        }
        std::process::exit(128 + sig)
    }
}

/// The source of a pipe stream index (created on first sight; names are filled in by
/// [`sync_pipe_names`]).
fn pipe_source(live: &mut Live<'_>, i: usize) -> usize {
    if let Some(&s) = live.by_pipe.get(&i) {
        return s;
    }
    let s = live.add_source(String::new(), false, None);
    live.by_pipe.insert(i, s);
    s
}

fn sync_pipe_names(live: &mut Live<'_>, demux: &PipeDemux) {
    for (&i, &s) in &live.by_pipe {
        if let Some(src) = live.sources.get_mut(s) {
            if src.name.is_empty() {
                src.name = demux.name(i).to_string();
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_view(
    live: &Live<'_>,
    fig: &WindowFigures,
    incident: Option<(&Incident, bool)>,
    requests: u64,
    err5: u64,
    elapsed: f64,
    now_s: i64,
    window_s: i64,
    firing: Vec<String>,
) -> View {
    let codes = [499u16, 500, 502, 503, 504];
    let hist: Vec<&Tick> = live
        .history
        .iter()
        .filter(|t| t.t_s > now_s - window_s)
        .collect();
    let status = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                *c,
                fig.status.get(&c.to_string()).copied().unwrap_or(0),
                hist.iter().map(|t| t.status[i]).collect::<Vec<u64>>(),
            )
        })
        .collect();
    let feeding = live
        .sources
        .iter()
        .filter(|s| s.state == SrcState::Feeding)
        .count();
    let inc = incident.map(|(i, ended)| tui::IncidentView {
        ended: ended.then(|| i.end.clone()),
        since: i.start.clone(),
        status: i
            .status
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(" "),
        errors: i.errors,
        causes: i
            .causes
            .iter()
            .take(3)
            .map(|c| {
                // the chain first: "502: listen backlog full ← pool www saturated ← ..."
                let summary = match &c.chain {
                    Some(ch) => format!("{ch}. {}", c.summary),
                    None => c.summary.clone(),
                };
                (c.cause.clone(), c.confidence, summary)
            })
            .collect(),
        evidence: i
            .causes
            .first()
            .map(|c| {
                c.evidence
                    .iter()
                    .map(|e| format!("{}:{}: {}", e.path, e.line, e.text))
                    .collect()
            })
            .unwrap_or_default(),
    });
    View {
        title: format!(
            "{} input{} ({} recognised)",
            live.sources.len(),
            if live.sources.len() == 1 { "" } else { "s" },
            feeding
        ),
        time: chrono::DateTime::from_timestamp(now_s, 0)
            .map(|d| d.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default(),
        window_label: tui::window_label(window_s),
        paused: false,
        rps: if elapsed > 0.0 {
            requests as f64 / elapsed
        } else {
            0.0
        },
        rate_5xx: ratio(err5, requests),
        window_requests: fig.requests,
        window_rate_5xx: fig.rate_5xx,
        latency: fig.latency.clone(),
        total_lines: live.total_lines,
        rejected_lines: live.total_rejected,
        status,
        upstreams: fig.upstreams.clone(),
        events: fig.events.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        incident: inc,
        newest: live.newest.clone(),
        alerts: firing,
        notices: live.notices.iter().cloned().collect(),
    }
}

/// Run `--on-alert CMD` with `sh -c`: the details are in environment variables, never
/// spliced into the command line.
#[allow(clippy::too_many_arguments)]
fn run_on_alert(
    cmd: &str,
    rule: &str,
    state: &str,
    time: &str,
    value: Option<f64>,
    detail: &str,
    incident: Option<&Incident>,
    quiet_output: bool,
) {
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(cmd);
    c.env("GATELOG_ALERT_RULE", rule)
        .env("GATELOG_ALERT_STATE", state)
        .env("GATELOG_ALERT_TIME", time)
        .env(
            "GATELOG_ALERT_VALUE",
            value.map(|v| v.to_string()).unwrap_or_default(),
        )
        .env("GATELOG_ALERT_DETAIL", detail);
    let top = incident.and_then(|i| i.causes.first());
    c.env(
        "GATELOG_INCIDENT_CAUSE",
        top.map(|x| x.cause.as_str()).unwrap_or(""),
    )
    .env(
        "GATELOG_INCIDENT_SUMMARY",
        top.map(|x| x.summary.as_str()).unwrap_or(""),
    )
    .env(
        "GATELOG_INCIDENT_START",
        incident.map(|i| i.start.as_str()).unwrap_or(""),
    );
    c.stdin(std::process::Stdio::null());
    if quiet_output {
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    } else {
        // stdout carries the JSON lines: the command's output goes to stderr
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            match std::io::stderr().as_fd().try_clone_to_owned() {
                Ok(fd) => c.stdout(std::process::Stdio::from(fd)),
                Err(_) => c.stdout(std::process::Stdio::null()),
            };
        }
    }
    match c.spawn() {
        Ok(mut child) => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(e) => {
            if !quiet_output {
                eprintln!("gatelog: --on-alert: cannot run sh: {e}");
            }
        }
    }
}

/// The `--alert` side of the `--fail-on` rules (`crate::analysis::rules`).
mod alert_rules {
    use crate::analysis::report::Report;
    use crate::analysis::rules;

    /// A rule as clap typed it (`--alert`, its `for` at most an hour: the ring keeps
    /// that much history).
    pub struct Parsed(pub rules::Rule);

    pub fn for_s(p: &Parsed) -> Option<i64> {
        p.0.for_s()
    }

    pub fn is_cause(p: &Parsed) -> bool {
        matches!(p.0.metric, rules::Metric::Cause(_))
    }

    /// Whether the rule holds now (its latest `for` window), its value and a sentence.
    pub fn eval(
        p: &Parsed,
        r: &Report,
        tl: &crate::agg::acc::Timeline,
    ) -> (bool, Option<f64>, String) {
        let x = rules::eval_latest(&p.0, r, Some(tl));
        (x.held, x.value, x.detail)
    }
}

/// Layers in metric order.
pub const LAYERS: [Layer; 3] = [Layer::Lb, Layer::Proxy, Layer::App];

#[cfg(test)]
mod tests {
    use super::*;

    fn line(live: &mut Live<'_>, s: usize, gen: u64, no: u64, text: &str) {
        live.on_line(
            s,
            gen,
            LineItem::Line {
                bytes: text.as_bytes(),
                line_no: no,
                offset: 0,
            },
        );
    }

    /// A rotated-away file still being written (its last record unfinished) and the new
    /// file at the path, read side by side: each file's records are framed on their own.
    #[test]
    fn a_rotated_file_and_its_successor_are_framed_apart() {
        let opts = RunOptions {
            force_all: Some(Format::FpmSlow),
            base_bucket_s: 1,
            max_line: 64 * 1024,
            ..Default::default()
        };
        let tz = TzChoice::Fixed(0, "test".into());
        let mut live = Live::new(&opts, Some(tz), 900, 1, 300);
        let follower = Follower::new(4096);
        let s = live.add_source("php-fpm-slow.log".into(), false, Some(0));
        assert!(live.decide(s, b"", true, true));
        assert_eq!(live.sources[s].state, SrcState::Feeding);
        // the file (generation 0): record A begins
        line(&mut live, s, 0, 1, "");
        line(
            &mut live,
            s,
            0,
            2,
            "[23-Nov-2026 10:00:00]  [pool www] pid 11",
        );
        line(&mut live, s, 0, 3, "script_filename = /srv/a.php");
        // renamed away; the new file (generation 1) holds record B
        live.on_notice(Notice::Draining(0, 0), &follower);
        line(&mut live, s, 1, 1, "");
        line(
            &mut live,
            s,
            1,
            2,
            "[23-Nov-2026 10:00:05]  [pool www] pid 12",
        );
        line(&mut live, s, 1, 3, "script_filename = /srv/b.php");
        line(&mut live, s, 1, 4, "[0x00007f0000000002] b() /srv/b.php:7");
        // A's last frame comes late, into the renamed file, which is then finished
        line(&mut live, s, 0, 4, "[0x00007f0000000001] a() /srv/a.php:3");
        let now = now_us() / 1_000_000;
        live.collect(now, false);
        // A is complete once its file is finished; B (current file) when quiet
        live.on_notice(Notice::Finished(0, "php-fpm-slow.log".into(), 0), &follower);
        live.collect(now, false);
        live.collect(now + 1, false);
        assert_eq!(live.total_lines, 8);
        assert_eq!(live.total_rejected, 0);
        let rows: Vec<(String, String)> = live
            .ring
            .iter()
            .flat_map(|sl| sl.acc.event_rows.iter())
            .filter(|r| r.kind == EventKind::FpmSlowTrace)
            .map(|r| {
                (
                    String::from_utf8_lossy(&r.detail).into_owned(),
                    String::from_utf8_lossy(&r.frames).into_owned(),
                )
            })
            .collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let a = rows.iter().find(|r| r.0.contains("a.php")).expect("A");
        let b = rows.iter().find(|r| r.0.contains("b.php")).expect("B");
        assert!(a.1.contains("a()"), "{rows:?}");
        assert!(b.1.contains("b()") && !b.1.contains("a()"), "{rows:?}");
        assert!(live.sources[s].old_feeds.is_empty());
    }
}
