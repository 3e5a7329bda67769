//! Container logs and mixed streams: inputs read per stream and per line rather than with
//! one format. A container wrapper (CRI, Docker json-file, `kubectl logs --timestamps`:
//! `gatelog_parsers::wrap`) is removed first and its pieces joined; then each line is read
//! with the format its stream was detected as, else with whichever known format parses it
//! (the official nginx image writes access lines to stdout and error lines to stderr; the php
//! image writes the php-fpm master log and the pool's access log both to stderr). A line of
//! another known format is read with that format, never rejected; klog lines (ingress-nginx's
//! controller) are counted as read, with nothing to analyse.
//!
//! Plain files take the plain path of `pipeline::Worker` untouched: only inputs detected here
//! (a wrapper, or several formats in one sample) come through [`Demux`].

use gatelog_parsers::wrap::{self, Joiner, Stream, Wrapper};
use gatelog_parsers::{
    self as parsers, detect, Format, Framing, LineParser, ParserOptions, Record,
};

use crate::ingest::pipeline::Worker;
use crate::read::input::LineItem;
pub use crate::read::plan::Plan;

fn blank(l: &[u8]) -> bool {
    l.iter().all(|c| c.is_ascii_whitespace())
}

/// Which of `lines` a parser reads as records of their own. The lines a multi-line format
/// would take as the rest of a record (php-fpm worker output) are not counted: the official
/// php image writes its pool's access lines between the master's, and they are access lines.
fn covered(p: &mut dyn LineParser, lines: &[&[u8]]) -> Vec<bool> {
    let multi = p.framing() == Framing::MultiLine;
    lines
        .iter()
        .map(|l| (!multi || p.starts_record(l)) && p.parse(l).is_ok())
        .collect()
}

/// The formats that together read `lines`, best first (each the best on the lines the
/// previous ones left), with the lines they cover. A format is kept only when it reads at
/// least `min_cover` lines; klog lines are set aside (`klog`). Lines left over that a php-fpm
/// `access.format` inferred from them reads (a pool's custom access log beside its master
/// log) make `fpm-access` one of the formats, with that `access.format` (the third value).
fn cover(
    lines: &[&[u8]],
    opts: &ParserOptions,
    min_cover: usize,
    klog: &mut bool,
) -> (Vec<Format>, usize, Option<String>) {
    let mut rest: Vec<&[u8]> = Vec::new();
    for l in lines {
        if blank(l) {
            continue;
        }
        if wrap::is_klog(l) {
            *klog = true;
        } else {
            rest.push(l);
        }
    }
    let mut out = Vec::new();
    let mut total = 0;
    while !rest.is_empty() && out.len() < 4 {
        let mut cands: Vec<Box<dyn LineParser>> = Format::ALL
            .iter()
            .filter(|f| !out.contains(*f))
            .filter_map(|&f| parsers::build(f, opts).ok())
            .collect();
        let ranked = detect::rank(&mut cands, &rest);
        let Some(best) = ranked.first().filter(|s| s.useful > 0) else {
            break;
        };
        let Ok(mut p) = parsers::build(best.format, opts) else {
            break;
        };
        let cov = covered(p.as_mut(), &rest);
        let n = cov.iter().filter(|c| **c).count();
        if n == 0 || n < min_cover {
            break;
        }
        out.push(best.format);
        total += n;
        let mut it = cov.iter();
        rest.retain(|_| !it.next().copied().unwrap_or(false));
    }
    let mut access_format = None;
    if rest.len() >= 2 {
        if let Ok(i) = parsers::fpm_infer::infer(&rest) {
            if i.lines_parsed >= min_cover.max(2) {
                if !out.contains(&Format::FpmAccess) {
                    out.push(Format::FpmAccess);
                }
                total += i.lines_parsed;
                access_format = Some(i.log_format);
            }
        }
    }
    (out, total, access_format)
}

/// Detect a wrapper or mixed formats in a sample's complete lines. `None`: neither (the
/// caller detects one format as usual). `Some(Err)`: a wrapper whose lines no format reads.
pub fn detect(
    lines: &[&[u8]],
    opts: &ParserOptions,
) -> Option<(Plan, String, Option<i32>, Option<String>)> {
    if let Some(w) = wrap::sniff(lines) {
        let mut bodies: [Vec<Vec<u8>>; 2] = Default::default();
        let mut joiner = Joiner::new(1 << 20);
        let mut scratch = Vec::new();
        let mut wrapped = 0usize;
        for (i, l) in lines.iter().enumerate() {
            if let Ok(p) = wrap::unwrap(w, l, &mut scratch) {
                wrapped += 1;
                joiner.push(&p, i as u64, 0, &mut |j| {
                    bodies[j.stream as usize].push(j.body.to_vec())
                });
            }
        }
        joiner.finish(&mut |j| bodies[j.stream as usize].push(j.body.to_vec()));
        let mut plan = Plan {
            wrapper: Some(w),
            streams: Default::default(),
            klog: [false; 2],
        };
        let mut read = 0;
        let mut inner = 0;
        let mut log_format = None;
        for s in 0..2 {
            let refs: Vec<&[u8]> = bodies[s].iter().map(|b| &b[..]).collect();
            inner += refs.iter().filter(|l| !blank(l)).count();
            let (mut f, mut n, access_format) = cover(&refs, opts, 1, &mut plan.klog[s]);
            let mut opts = opts.clone();
            if let Some(af) = access_format {
                opts.inferred.push(af.clone());
                log_format.get_or_insert(af);
            }
            let opts = &opts;
            // lines no format reads: an nginx log_format inferred from them, as for a plain
            // file no layout matches
            if !f.contains(&Format::NginxAccess) && log_format.is_none() {
                let mut unread: Vec<&[u8]> = refs
                    .iter()
                    .copied()
                    .filter(|l| !blank(l) && !wrap::is_klog(l))
                    .collect();
                for fmt in &f {
                    if let Ok(mut p) = parsers::build(*fmt, opts) {
                        let cov = covered(p.as_mut(), &unread);
                        let mut it = cov.iter();
                        unread.retain(|_| !it.next().copied().unwrap_or(false));
                    }
                }
                if unread.len() >= 2 {
                    if let Ok(i) = detect::infer_unmatched(&unread) {
                        n += i.lines_parsed;
                        f.insert(0, Format::NginxAccess);
                        log_format = Some(i.log_format);
                    }
                }
            }
            plan.streams[s] = f;
            read += n + refs.iter().filter(|l| wrap::is_klog(l)).count();
        }
        if plan.streams.iter().all(|s| s.is_empty()) {
            return None;
        }
        let reason = format!(
            "{} ({} of {} sampled lines are {} lines; {} of the {} non-blank lines inside read)",
            plan.describe(),
            wrapped,
            lines.len(),
            w.id(),
            read,
            inner
        );
        return Some((plan, reason, None, log_format));
    }
    // an unwrapped file that mixes formats (php-fpm's stderr captured to one file)
    let mut klog = false;
    let nonblank = lines.iter().filter(|l| !blank(l)).count();
    let (formats, n, access_format) = cover(lines, &ParserOptions::default(), 2, &mut klog);
    let klog_n = lines.iter().filter(|l| wrap::is_klog(l)).count();
    if formats.len() < 2 || (n + klog_n) * 2 < nonblank {
        return None;
    }
    // the same options as the run for nginx access (configured log_formats)
    let plan = Plan {
        wrapper: None,
        streams: [formats, Vec::new()],
        klog: [klog, false],
    };
    let reason = format!(
        "{} ({} of {} non-blank sampled lines read, each with its own format)",
        plan.describe(),
        n + klog_n,
        nonblank
    );
    Some((plan, reason, None, access_format))
}

/// One format's parser and multi-line record in progress, while another is in the worker.
struct Lane {
    format: Format,
    parser: Box<dyn LineParser>,
    pending: Vec<u8>,
    pending_line: u64,
    pending_offset: u64,
    pending_lines: u64,
}

/// Swap a lane's parser and pending record with the worker's.
fn swap(w: &mut Worker<'_>, l: &mut Lane) {
    std::mem::swap(&mut w.parser, &mut l.parser);
    std::mem::swap(&mut w.format, &mut l.format);
    std::mem::swap(&mut w.pending, &mut l.pending);
    std::mem::swap(&mut w.pending_line, &mut l.pending_line);
    std::mem::swap(&mut w.pending_offset, &mut l.pending_offset);
    std::mem::swap(&mut w.pending_lines, &mut l.pending_lines);
    w.layer = w.format.layer();
}

/// The zone offset of a zone-less wall time, from the runtime's UTC time of the same line:
/// whole quarter hours, when the two agree to within two minutes.
fn offset_from(wall_us: i64, utc_us: i64) -> Option<i32> {
    let diff = wall_us - utc_us;
    let q = 900 * 1_000_000i64;
    let off = (diff + diff.signum() * q / 2) / q * q;
    ((diff - off).abs() <= 120 * 1_000_000 && off.abs() <= 14 * 3600 * 1_000_000)
        .then_some((off / 1_000_000) as i32)
}

/// Reads one wrapped or mixed input: lines in, records into the worker's accumulator.
pub(crate) struct Demux<'o> {
    w: Worker<'o>,
    lanes: Vec<Lane>,
    /// The lane whose parser is in the worker (its slot in `lanes` holds a stand-in).
    active: usize,
    /// Per stream: lanes to try, detected formats first.
    order: [Vec<usize>; 2],
    /// Per stream: the lane that read its last line.
    last: [usize; 2],
    /// Per stream: the lane with a multi-line record in progress.
    multi: [Option<usize>; 2],
    /// Per stream: the formats detected in the sample.
    detected: [Vec<Format>; 2],
    wrapper: Option<Wrapper>,
    joiner: Joiner,
    scratch: Vec<u8>,
    /// Derive zone offsets from the wrapper's time (no `--tz` given).
    hint: bool,
    /// klog lines read (counted as parsed, nothing to analyse).
    pub klog: u64,
    /// The last record [`Demux::classify`] read had no time.
    notime: bool,
    /// The input's span (`crate::ingest::span`); a wrapped line's own span is its wrapper time
    /// +- [`crate::ingest::span::WRAPPER_GAP_US`] within it.
    base_span: (i64, i64),
}

impl<'o> Demux<'o> {
    /// `w` holds the parser of `plan.primary()`.
    pub(crate) fn new(w: Worker<'o>, plan: &Plan) -> Self {
        let popts = w.opts.parser_opts.clone();
        Self::with_opts(w, plan, &popts)
    }

    /// [`Demux::new`], the other formats' parsers built with `popts` (the run's options with
    /// this input's year hint).
    pub(crate) fn with_opts(w: Worker<'o>, plan: &Plan, popts: &ParserOptions) -> Self {
        let opts = w.opts;
        let mut lanes = Vec::new();
        let mut order: [Vec<usize>; 2] = Default::default();
        let primary = plan.primary();
        let mut active = None;
        for s in 0..2 {
            let mut fs: Vec<Format> = plan.streams[s].clone();
            for f in plan.streams[1 - s].iter().chain(Format::ALL.iter()) {
                if !fs.contains(f) {
                    fs.push(*f);
                }
            }
            for f in fs {
                let parser = if f == primary && active.is_none() {
                    active = Some(lanes.len());
                    w.parser.clone_box() // a stand-in: the real one is in the worker
                } else {
                    match parsers::build(f, popts) {
                        Ok(p) => p,
                        Err(_) => continue,
                    }
                };
                order[s].push(lanes.len());
                lanes.push(Lane {
                    format: f,
                    parser,
                    pending: Vec::new(),
                    pending_line: 0,
                    pending_offset: 0,
                    pending_lines: 0,
                });
            }
        }
        let active = active.unwrap_or(0);
        let base_span = w.span;
        let last = [
            order[0].first().copied().unwrap_or(active),
            order[1].first().copied().unwrap_or(active),
        ];
        Demux {
            hint: opts.tz.is_none(),
            joiner: Joiner::new(opts.max_line),
            w,
            lanes,
            active,
            order,
            last,
            multi: [None, None],
            detected: plan.streams.clone(),
            wrapper: plan.wrapper,
            scratch: Vec::new(),
            klog: 0,
            notime: false,
            base_span,
        }
    }

    fn activate(&mut self, k: usize) {
        if k == self.active {
            return;
        }
        swap(&mut self.w, &mut self.lanes[self.active]);
        swap(&mut self.w, &mut self.lanes[k]);
        self.active = k;
    }

    /// Whether lane `k` reads `body` as a record of its own; with the zone offset the
    /// wrapper's time implies for a zone-less timestamp.
    fn classify(&mut self, k: usize, body: &[u8], utc: Option<i64>) -> Option<Option<i32>> {
        let p: &mut dyn LineParser = if k == self.active {
            self.w.parser.as_mut()
        } else {
            self.lanes[k].parser.as_mut()
        };
        if p.framing() == Framing::MultiLine && !p.starts_record(body) {
            return None;
        }
        let ts = match p.parse(body).ok()? {
            Record::Request(r) => Some(r.ts),
            Record::Event(e) => Some(e.ts),
            Record::Ignored => None,
        };
        // a record with no time of its own (HAProxy's stderr `[WARNING] (pid) : ...`)
        self.notime = ts.is_some_and(|t| t.wall_us == 0 && t.offset.is_none());
        Some(match (ts, utc) {
            (Some(t), Some(u)) if t.offset.is_none() && self.hint => offset_from(t.wall_us, u),
            _ => None,
        })
    }

    fn line(&mut self, body: &[u8], s: Stream, utc: Option<i64>, ln: u64, off: u64, n: u64) {
        let si = s as usize;
        if blank(body) {
            self.w.ignored(n);
            return;
        }
        if let Some(u) = utc {
            // a wrapped line: its own time must be near the runtime's time of it
            self.w.span = crate::ingest::span::wrapper_span(self.base_span, u);
        }
        let mut hit = None;
        let last = self.last[si];
        if let Some(h) = self.classify(last, body, utc) {
            hit = Some((last, h));
        } else {
            for i in 0..self.order[si].len() {
                let k = self.order[si][i];
                if k == last {
                    continue;
                }
                if let Some(h) = self.classify(k, body, utc) {
                    hit = Some((k, h));
                    break;
                }
            }
        }
        match hit {
            Some((k, _))
                if self.notime
                    && utc.is_some()
                    && self.timeless(body, s, utc.unwrap_or(0), ln, off, n) =>
            {
                self.last[si] = k;
            }
            Some((k, h)) => {
                self.last[si] = k;
                // a one-line record between a multi-line record's lines (the official php
                // image: the pool's access lines between the master's entries and the
                // workers' output) leaves that record open
                let multi_k = if k == self.active {
                    self.w.parser.framing() == Framing::MultiLine
                } else {
                    self.lanes[k].parser.framing() == Framing::MultiLine
                };
                if let Some(m) = self.multi[si].filter(|m| *m != k && multi_k) {
                    self.activate(m);
                    self.w.flush();
                    self.multi[si] = None;
                }
                self.activate(k);
                self.w.offset_hint = h;
                if self.w.parser.framing() == Framing::MultiLine {
                    self.w.frame(body, ln, off);
                    self.w.pending_lines += n - 1;
                    self.multi[si] = Some(k);
                } else {
                    self.w.record(body, n, ln, off);
                }
            }
            None if utc.is_some() && self.timeless(body, s, utc.unwrap_or(0), ln, off, n) => {}
            None if wrap::is_klog(body) => {
                self.klog += n;
                self.w.ignored(n);
            }
            None => match self.multi[si] {
                Some(m) => {
                    // the next line of a multi-line record (a stack trace, worker output)
                    self.activate(m);
                    self.w.frame(body, ln, off);
                    self.w.pending_lines += n - 1;
                }
                None => {
                    // nothing reads it: rejected with the reason of the stream's format
                    let k = self.order[si].first().copied().unwrap_or(self.active);
                    self.activate(k);
                    self.w.offset_hint = None;
                    self.w.record(body, n, ln, off);
                }
            },
        }
    }

    /// A line with no time of its own that its stream's format knows (HAProxy's `Server
    /// b/s is DOWN` and `Proxy ... stopped` with `log stdout format raw`: the time was in the
    /// syslog header it no longer has): read with the wrapper's time, as an RFC 5424 header
    /// (the evidence shows that header).
    fn timeless(&mut self, body: &[u8], s: Stream, utc: i64, ln: u64, off: u64, n: u64) -> bool {
        let si = s as usize;
        let Some(k) = self.order[si]
            .iter()
            .copied()
            .find(|&k| self.lane_format(k) == Format::Haproxy)
        else {
            return false;
        };
        // HAProxy in any stream of the file: its stderr `[WARNING] (pid) : ...` lines carry no
        // time at all, so that stream alone is never detected as HAProxy
        if !(0..self.detected.len()).any(|i| self.plan_has(i, Format::Haproxy)) {
            return false;
        }
        let secs = utc.div_euclid(1_000_000);
        let (y, mo, d) = gatelog_parsers::time::civil_from_days(secs.div_euclid(86400));
        let t = secs.rem_euclid(86400);
        let mut rec = format!(
            "<134>1 {y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z - haproxy - - - ",
            t / 3600,
            t / 60 % 60,
            t % 60,
            utc.rem_euclid(1_000_000)
        )
        .into_bytes();
        rec.extend_from_slice(body);
        if self.classify(k, &rec, None).is_none() {
            return false;
        }
        if let Some(m) = self.multi[si].take() {
            self.activate(m);
            self.w.flush();
        }
        self.activate(k);
        self.w.offset_hint = None;
        self.w.record(&rec, n, ln, off);
        true
    }

    fn lane_format(&self, k: usize) -> Format {
        if k == self.active {
            self.w.format
        } else {
            self.lanes[k].format
        }
    }

    fn plan_has(&self, si: usize, f: Format) -> bool {
        self.detected[si].contains(&f)
    }

    /// One physical line of the input (as the line reader hands it out).
    pub(crate) fn item(&mut self, item: &LineItem<'_>) {
        match *item {
            LineItem::Line {
                bytes,
                line_no,
                offset,
            } => {
                let Some(w) = self.wrapper else {
                    self.line(bytes, Stream::Stdout, None, line_no, offset, 1);
                    return;
                };
                let mut scratch = std::mem::take(&mut self.scratch);
                let mut joiner = std::mem::replace(&mut self.joiner, Joiner::new(0));
                match wrap::unwrap(w, bytes, &mut scratch) {
                    Ok(p) => joiner.push(&p, line_no, offset, &mut |j| {
                        self.joined(&j);
                    }),
                    Err(_) if blank(bytes) => self.w.ignored(1),
                    Err(e) => self.w.reject_as(
                        bytes,
                        1,
                        line_no,
                        offset,
                        format!("not a {} line: {}", w.id(), e.reason()),
                        format!("not a {} line: {e}", w.id()),
                    ),
                }
                self.joiner = joiner;
                self.scratch = scratch;
            }
            LineItem::TooLong {
                line_no,
                offset,
                len,
            } => self.w.reject_too_long(line_no, offset, len),
        }
    }

    fn joined(&mut self, j: &wrap::Joined<'_>) {
        if j.too_long {
            let max = self.w.opts.max_line;
            self.w.reject_as(
                b"",
                j.pieces,
                j.line_no,
                j.offset,
                format!("line longer than --max-line ({max} bytes)"),
                format!(
                    "line longer than --max-line ({max} bytes): {} pieces from offset {}",
                    j.pieces, j.offset
                ),
            );
            return;
        }
        self.line(
            j.body,
            j.stream,
            Some(j.utc_us),
            j.line_no,
            j.offset,
            j.pieces,
        );
    }

    /// Whether a record or a line's pieces wait for more input.
    pub(crate) fn has_pending(&self) -> bool {
        self.joiner.has_open() || self.multi.iter().any(|m| m.is_some())
    }

    /// End what is in progress: lines waiting for their last piece, multi-line records.
    pub(crate) fn flush(&mut self) {
        let mut joiner = std::mem::replace(&mut self.joiner, Joiner::new(0));
        joiner.finish(&mut |j| self.joined(&j));
        self.joiner = joiner;
        for si in 0..2 {
            if let Some(m) = self.multi[si].take() {
                self.activate(m);
                self.w.flush();
            }
        }
    }

    pub(crate) fn worker(&mut self) -> &mut Worker<'o> {
        &mut self.w
    }

    /// End the input; the worker holds everything read.
    pub(crate) fn finish(mut self) -> Worker<'o> {
        self.flush();
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_from_the_runtime_time() {
        let s = 1_000_000i64;
        let utc = 1_795_454_466 * s;
        assert_eq!(offset_from(utc, utc), Some(0));
        assert_eq!(offset_from(utc - 300_000, utc), Some(0), "second precision");
        assert_eq!(offset_from(utc + 3600 * s, utc), Some(3600));
        assert_eq!(offset_from(utc - 5 * 3600 * s - s, utc), Some(-18000));
        assert_eq!(offset_from(utc + 19800 * s, utc), Some(19800), "+05:30");
        assert_eq!(offset_from(utc + 3 * 86400 * s, utc), None, "a stale line");
        assert_eq!(
            offset_from(utc + 450 * s, utc),
            None,
            "between quarter hours"
        );
    }

    fn lines(s: &str) -> Vec<&[u8]> {
        s.lines().map(|l| l.as_bytes()).collect()
    }

    #[test]
    fn detects_streams_of_a_cri_file() {
        let s = "2026-11-23T17:21:06.1Z stdout F 10.0.0.1 - - [23/Nov/2026:17:21:06 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n\
                 2026-11-23T17:21:06.2Z stderr F 2026/11/23 17:21:06 [error] 29#29: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://10.0.0.9:9000\", host: \"x\"\n\
                 2026-11-23T17:21:06.3Z stdout F 10.0.0.1 - - [23/Nov/2026:17:21:06 +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"curl/8\"\n";
        let (plan, reason, _, _) = detect(&lines(s), &ParserOptions::default()).unwrap();
        assert_eq!(plan.wrapper, Some(Wrapper::Cri));
        assert_eq!(plan.streams[0], vec![Format::NginxAccess]);
        assert_eq!(plan.streams[1], vec![Format::NginxError]);
        assert_eq!(
            plan.describe(),
            "cri: nginx-access (stdout) + nginx-error (stderr)"
        );
        assert!(
            reason.contains("3 of 3 sampled lines are cri lines"),
            "{reason}"
        );
    }

    #[test]
    fn plain_single_format_files_are_not_mixed() {
        let s = "2026/11/23 17:21:06 [error] 29#29: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://10.0.0.9:9000\", host: \"x\"\n\
                 2026/11/23 17:21:07 [error] 29#29: *2 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://10.0.0.9:9000\", host: \"x\"\n";
        assert_eq!(detect(&lines(s), &ParserOptions::default()), None);
    }
}
