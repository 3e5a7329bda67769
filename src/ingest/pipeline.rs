//! The analysis pass: inputs → lines → records → normalised requests/events → accumulators,
//! in parallel over files and over chunks of large files, merged in input order.

use std::io::{self, Read};

use gatelog_parsers::{
    self as parsers, detect, Format, Framing, Layer, LineParser, ParserOptions, Record,
};

use crate::agg::acc::{Acc, FileStats, LbVerdict, Sample, REJECTED_SAMPLES};
use crate::ingest::tz::TzChoice;
use crate::read::input::{self, Compression, Input, LineItem, LineReader, Source};
use crate::read::run_ctx::RunCtx;

/// Options of one analysis run, built once from the command line.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Formats forced with `--format FMT` (all inputs) or `--format PATH=FMT`.
    pub force_all: Option<Format>,
    pub force_path: Vec<(String, Format)>,
    pub parser_opts: ParserOptions,
    /// `--tz`; `None` = from `$time_local` offsets seen, else local.
    pub tz: Option<TzChoice>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    pub base_bucket_s: i64,
    pub max_line: usize,
    /// Size of the chunks large uncompressed files are split into (and at least one per
    /// thread above 16 MiB: [`chunk_count`]). Each chunk costs a merge of accumulators
    /// (a few ms on the serial tail), so 512 MiB: measured 2% faster than 256 MiB on 1 GiB.
    pub chunk_bytes: u64,
    pub block_bytes: usize,
    /// The report chooses its own width (no `--bucket`): timelines coarsen as they go
    /// (`Timeline::auto`).
    pub auto_width: bool,
    /// Per-row export (`--parquet`): when set, every job also hands each line to a sink.
    pub rows: Option<std::sync::Arc<dyn crate::sink::export::RowSinkFactory>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            force_all: None,
            force_path: Vec::new(),
            parser_opts: ParserOptions::default(),
            tz: None,
            since_us: None,
            until_us: None,
            base_bucket_s: 1,
            max_line: 1 << 20,
            chunk_bytes: 512 << 20,
            block_bytes: 1 << 20,
            auto_width: false,
            rows: None,
        }
    }
}

/// The outcome of detection for one input.
#[derive(Clone, Debug)]
pub struct Detected {
    pub format: Option<Format>,
    pub reason: String,
    /// Zone offset seen in the sample's timestamps.
    pub offset: Option<i32>,
    /// The sample (stdin only: it cannot be read twice).
    pub head: Option<Vec<u8>>,
    /// The nginx `log_format` inferred for this input (no format matched its sample): the
    /// caller adds it to `ParserOptions::inferred` before reading the input.
    pub log_format: Option<String>,
    /// A container wrapper or several formats in one input (`crate::ingest::demux`): read per stream
    /// and per line instead of with `format` alone.
    pub demux: Option<std::sync::Arc<crate::ingest::demux::Plan>>,
}

const SNIFF_LINES: usize = 200;

pub(crate) fn sample_lines(head: &[u8], complete: bool) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if !complete || lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop(); // a partial last line, or the empty piece after the final newline
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.starts_with(b"# failJSON") && !l.starts_with(b"# filterOptions"))
        .take(SNIFF_LINES)
        .collect()
}

/// Detect the format of a sample of bytes. With `infer`, a sample that no format matches may
/// get an inferred nginx `log_format` (the last element; `gatelog_parsers::infer`): the caller
/// must add it to `ParserOptions::inferred` for the input's lines to parse.
pub fn detect_sample(
    head: &[u8],
    complete: bool,
    opts: &ParserOptions,
    infer: bool,
) -> (Option<Format>, String, Option<i32>, Option<String>) {
    let lines = sample_lines(head, complete);
    let nonblank = lines
        .iter()
        .filter(|l| !l.iter().all(|c| c.is_ascii_whitespace()))
        .count();
    if nonblank == 0 {
        return (None, "empty: no lines to recognise".into(), None, None);
    }
    let mut cands: Vec<Box<dyn LineParser>> = Format::ALL
        .iter()
        .filter_map(|&f| parsers::build(f, opts).ok())
        .collect();
    let ranked = detect::rank(&mut cands, &lines);
    let Some(best) = ranked.first() else {
        return (None, "no parser available".into(), None, None);
    };
    if detect::is_match(best, nonblank) {
        let mut reason = format!(
            "{} of {} sampled lines parse as {}",
            best.lines_parsed, best.lines, best.format
        );
        if let Some(second) = ranked.get(1).filter(|s| s.useful > 0) {
            reason.push_str(&format!(
                " (next best: {}, {} lines)",
                second.format, second.lines_parsed
            ));
        }
        let offset = sample_offset(best.format, opts, &lines);
        (Some(best.format), reason, offset, None)
    } else {
        let why = best.first_error.clone().unwrap_or_default();
        let mut not_inferred = String::new();
        if infer {
            match detect::infer_unmatched(&lines) {
                Ok(i) => {
                    let what = if i.format == Format::FpmAccess {
                        "php-fpm access.format"
                    } else {
                        "log_format"
                    };
                    let reason = format!(
                        "{what} inferred (no built-in layout matches): '{}' parses {} of {} sampled lines; pin it with --log-format",
                        i.log_format, i.lines_parsed, i.lines
                    );
                    return (Some(i.format), reason, i.offset, Some(i.log_format));
                }
                Err(e) => not_inferred = format!("; no nginx log_format could be inferred: {e}"),
            }
        }
        let reason = if best.useful == 0 {
            // no format read a single request or event: naming the "closest" one is noise
            format!("not a log: none of {nonblank} sampled lines is a record of a supported format; run `gatelog formats` to see what is supported, or force one with --format")
        } else {
            format!("no format parses at least half of {nonblank} sampled lines (closest: {} with {} lines; {why}){not_inferred}; run `gatelog formats` to see what is supported, or force one with --format", best.format, best.lines_parsed)
        };
        (None, reason, None, None)
    }
}

fn sample_offset(f: Format, opts: &ParserOptions, lines: &[&[u8]]) -> Option<i32> {
    let mut p = parsers::build(f, opts).ok()?;
    for l in lines.iter().take(20) {
        if let Ok(Record::Request(r)) = p.parse(l) {
            if let Some(o) = r.ts.offset {
                return Some(o);
            }
        }
    }
    None
}

/// Detect one input's format from its first bytes ([`input::read_head`]). Stdin's rest
/// (after the head) is kept in `ctx` for the run's job, its head in the answer.
pub fn detect_input(inp: &Input, opts: &RunOptions, ctx: &RunCtx) -> Detected {
    let forced = forced_format(&inp.name, opts);
    let sample = input::open(inp)
        .map_err(|e| format!("cannot open: {e}"))
        .and_then(|mut r| match input::read_head(&mut r) {
            Ok((head, complete)) => Ok((r, head, complete)),
            Err(e) => Err(format!("cannot read: {e}")),
        });
    let (r, head, complete) = match sample {
        Ok(x) => x,
        // forced: the error shows when the input is read
        Err(reason) => {
            return Detected {
                format: forced,
                reason: if forced.is_some() {
                    "forced with --format".into()
                } else {
                    reason
                },
                offset: None,
                head: None,
                log_format: None,
                demux: None,
            }
        }
    };
    let mut d = detect_head(&head, complete, forced, &opts.parser_opts, true);
    if let Source::Stdin = inp.source {
        ctx.set_stdin_rest(r);
        d.head = Some(head);
    }
    d
}

/// Detect a format from a sample of an input's first bytes (`analyze` reads it with
/// [`input::read_head`], `live` too or from the first lines it follows): `forced` (from
/// `--format`; a container wrapper around the lines is still recognised), else a wrapped or
/// mixed input ([`crate::ingest::demux`]), else one format ([`detect_sample`], `infer` as
/// there). One detection for `analyze` and `live`; `head` is left empty.
pub fn detect_head(
    head: &[u8],
    complete: bool,
    forced: Option<Format>,
    popts: &ParserOptions,
    infer: bool,
) -> Detected {
    let lines = sample_lines(head, complete);
    if let Some(f) = forced {
        // a container wrapper is not a format: the forced one is the inner lines'
        let (reason, demux) = match parsers::wrap::sniff(&lines) {
            Some(w) => (
                format!("{}: {f} forced with --format", w.id()),
                Some(std::sync::Arc::new(crate::ingest::demux::Plan {
                    wrapper: Some(w),
                    streams: [vec![f], vec![f]],
                    klog: [false; 2],
                })),
            ),
            None => ("forced with --format".to_string(), None),
        };
        return Detected {
            format: Some(f),
            reason,
            offset: None,
            head: None,
            log_format: None,
            demux,
        };
    }
    if let Some((plan, reason, offset, log_format)) = crate::ingest::demux::detect(&lines, popts) {
        return Detected {
            format: Some(plan.primary()),
            reason,
            offset,
            head: None,
            log_format,
            demux: Some(std::sync::Arc::new(plan)),
        };
    }
    let (format, reason, offset, log_format) = detect_sample(head, complete, popts, infer);
    Detected {
        format,
        reason,
        offset,
        head: None,
        log_format,
        demux: None,
    }
}

/// The format `--format` forces on the input named `name` (`NAME=FORMAT`, else a bare
/// `FORMAT` for all).
pub fn forced_format(name: &str, opts: &RunOptions) -> Option<Format> {
    for (p, f) in &opts.force_path {
        if p == name || std::path::Path::new(p) == std::path::Path::new(name) {
            return Some(*f);
        }
    }
    opts.force_all
}

pub use crate::read::seek::Job;

/// Files up to this size are read by one job (unless `chunk_bytes` is smaller): splitting costs
/// a few milliseconds per chunk, and a file this small takes about that long to read.
const MIN_SPLIT: u64 = 16 << 20;

/// How many jobs `len` bytes of an uncompressed line-format file are read by: one per
/// `chunk_bytes`, and at least one per thread once the file is over [`MIN_SPLIT`] (a 200 MB
/// file uses both cores, not one).
pub fn chunk_count(len: u64, opts: &RunOptions, threads: usize) -> usize {
    if len <= opts.chunk_bytes.min(MIN_SPLIT) {
        return 1;
    }
    ((len / opts.chunk_bytes.max(1)) as usize)
        .max(threads)
        .max(2)
}

/// Split inputs into jobs: large uncompressed single-line-format files become several.
pub fn plan_jobs(inputs: &[(Input, Format)], opts: &RunOptions, threads: usize) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (inp, f) in inputs {
        let splittable = matches!(inp.source, Source::File(_))
            && inp.demux.is_none()
            && inp.compression == Compression::None
            && parsers::build(*f, &opts.parser_opts)
                .map(|p| p.framing() == Framing::Line || crate::ingest::split::splits_multiline(*f))
                .unwrap_or(false)
            && chunk_count(inp.size, opts, threads) > 1;
        if splittable {
            let n = chunk_count(inp.size, opts, threads);
            if let Source::File(p) = &inp.source {
                // a multi-line format's chunks begin at records (split.rs)
                let planned =
                    input::plan_chunks(p, inp.size, n).and_then(|r| {
                        match parsers::build(*f, &opts.parser_opts) {
                            Ok(ps) if ps.framing() == Framing::MultiLine => {
                                crate::ingest::split::record_aligned(p, &r, &*ps, opts.max_line)
                            }
                            _ => Ok(r),
                        }
                    });
                if let Ok(ranges) = planned {
                    for r in ranges {
                        jobs.push(Job {
                            input: inp.clone(),
                            format: *f,
                            range: Some(r),
                            line_base: 0,
                            skip: 0,
                            skipped_lines: 0,
                            skipped_bytes: 0,
                        });
                    }
                    continue;
                }
            }
        }
        jobs.push(Job {
            input: inp.clone(),
            format: *f,
            range: None,
            line_base: 0,
            skip: 0,
            skipped_lines: 0,
            skipped_bytes: 0,
        });
    }
    jobs
}

/// Run all jobs and merge their accumulators in order.
pub fn run_jobs(
    jobs: &[Job],
    opts: &RunOptions,
    tz: &TzChoice,
    stdin_head: Option<Vec<u8>>,
    ctx: &RunCtx,
) -> Acc {
    run_jobs_dedup(jobs, opts, tz, stdin_head, None, ctx)
}

/// [`run_jobs`], counting the same requests in two inputs once (`crate::ingest::dedup`): the kept
/// inputs' jobs run first, then the others, merged in input order all the same.
pub fn run_jobs_dedup(
    jobs: &[Job],
    opts: &RunOptions,
    tz: &TzChoice,
    stdin_head: Option<Vec<u8>>,
    dedup: Option<&crate::ingest::dedup::Run>,
    ctx: &RunCtx,
) -> Acc {
    // each input's year hint and time span, once per input (span.rs)
    let times = crate::ingest::span::prepare(jobs, opts, tz, stdin_head.as_deref());
    let time_of = |j: &Job| times.get(&j.input.id).copied().unwrap_or_default();
    let stdin_rest = ctx.take_stdin_rest();
    let stdin = std::sync::Mutex::new((stdin_head, stdin_rest));
    let mut pre = match dedup {
        Some(d) => crate::ingest::dedup::first_pass(jobs, d, |j| {
            run_job(j, opts, tz, &stdin, Some(d), &time_of(j), ctx)
        }),
        None => Vec::new(),
    };
    pre.resize_with(jobs.len(), || crate::ingest::dedup::Pre::Run);
    use crate::ingest::dedup::Pre;
    let window = (rayon::current_num_threads() * 2).max(2);
    let start = pre
        .into_iter()
        .map(|p| match p {
            Pre::Run => Start::Run,
            Pre::Done(a) => Start::Read(*a),
            Pre::Merged => Start::Nothing,
        })
        .collect();
    let sizes: Vec<u64> = jobs.iter().map(crate::read::seek::job_bytes).collect();
    run_ordered(
        &sizes,
        start,
        window,
        |i| run_job(&jobs[i], opts, tz, &stdin, dedup, &time_of(&jobs[i]), ctx),
        |t, a| t.merge(a),
    )
    .unwrap_or_else(|| Acc::new(opts.base_bucket_s))
}

/// A job's state when [`run_ordered`] starts.
enum Start<T> {
    /// To be read.
    Run,
    /// Read already (by the dedup first pass).
    Read(T),
    /// Nothing to read or merge (merged into another job already).
    Nothing,
}

/// Scheduling state of [`run_ordered`], under its mutex.
struct Ordered<T> {
    /// Each job's accumulator once read (`None` while not read, and for jobs merged by the
    /// dedup first pass into their file's first job).
    slot: Vec<Option<T>>,
    /// Which jobs are read (or need no reading).
    ready: Vec<bool>,
    /// Which jobs a thread has taken.
    taken: Vec<bool>,
    /// Jobs before this one are merged into `total`.
    merged: usize,
    /// A thread is merging (it holds `total` and the slots it took).
    merging: bool,
    /// A thread panicked in a job or merge: the others stop waiting (the panic goes on up).
    failed: bool,
    total: Option<T>,
}

/// Run `jobs` on the pool's threads and merge their accumulators in input order.
///
/// One queue, no rounds: a thread takes the largest job not yet taken among the first
/// `window` jobs not yet merged (so a large chunk does not start last while the other thread
/// idles, and at most `window` accumulators are alive whatever the input size), and whenever
/// the jobs after the merged ones are read, one thread folds them into the running total
/// while the other goes on reading. A directory's small files run beside its large ones, and
/// at the end only the last job's merge is left.
fn run_ordered<T: Send>(
    sizes: &[u64],
    start: Vec<Start<T>>,
    window: usize,
    run: impl Fn(usize) -> T + Sync,
    merge: impl Fn(&mut T, T) + Sync,
) -> Option<T> {
    use std::sync::{Condvar, Mutex};
    let n = sizes.len();
    let mut st = Ordered {
        slot: Vec::with_capacity(n),
        ready: Vec::with_capacity(n),
        taken: Vec::with_capacity(n),
        merged: 0,
        merging: false,
        failed: false,
        total: None,
    };
    for p in start {
        let (slot, ready) = match p {
            Start::Run => (None, false),
            Start::Read(a) => (Some(a), true),
            Start::Nothing => (None, true),
        };
        st.slot.push(slot);
        st.ready.push(ready);
        st.taken.push(ready);
    }
    let state = Mutex::new(st);
    let wake = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let workers = rayon::current_num_threads().max(1).min(n.max(1));
    // wakes the other threads if this one unwinds out of a job or a merge
    struct OnPanic<'a, T>(&'a Mutex<Ordered<T>>, &'a Condvar);
    impl<T> Drop for OnPanic<'_, T> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.lock().unwrap_or_else(|p| p.into_inner()).failed = true;
                self.1.notify_all();
            }
        }
    }
    rayon::scope(|s| {
        for _ in 0..workers {
            s.spawn(|_| {
                let _guard = OnPanic(&state, &wake);
                let mut st = lock();
                loop {
                    // 1. fold the read jobs after the merged ones into the total
                    if !st.merging && st.merged < n && st.ready[st.merged] {
                        let from = st.merged;
                        let mut to = from;
                        while to < n && st.ready[to] {
                            to += 1;
                        }
                        let parts: Vec<T> = (from..to).filter_map(|i| st.slot[i].take()).collect();
                        let mut total = st.total.take();
                        st.merging = true;
                        drop(st);
                        for a in parts {
                            total = match total {
                                Some(mut t) => {
                                    merge(&mut t, a);
                                    Some(t)
                                }
                                None => Some(a),
                            };
                        }
                        st = lock();
                        st.total = total;
                        st.merged = to;
                        st.merging = false;
                        wake.notify_all();
                        continue;
                    }
                    // 2. read the largest job not yet taken within the window
                    let end = (st.merged + window).min(n);
                    let pick = (st.merged..end)
                        .filter(|&i| !st.taken[i])
                        .max_by_key(|&i| (sizes[i], std::cmp::Reverse(i)));
                    if let Some(i) = pick {
                        st.taken[i] = true;
                        drop(st);
                        let a = run(i);
                        st = lock();
                        st.slot[i] = Some(a);
                        st.ready[i] = true;
                        wake.notify_all();
                        continue;
                    }
                    // 3. all merged: done; else wait for another thread's job or merge
                    if (st.merged == n && !st.merging) || st.failed {
                        wake.notify_all();
                        break;
                    }
                    st = wake.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            });
        }
    });
    state.into_inner().unwrap_or_else(|p| p.into_inner()).total
}

type StdinParts = std::sync::Mutex<(Option<Vec<u8>>, Option<Box<dyn Read + Send>>)>;

fn run_job<'o>(
    job: &Job,
    opts: &'o RunOptions,
    tz: &TzChoice,
    stdin: &StdinParts,
    dedup: Option<&'o crate::ingest::dedup::Run>,
    time: &crate::ingest::span::InputTime,
    ctx: &RunCtx,
) -> Acc {
    let mut acc = Acc::new(opts.base_bucket_s);
    acc.timeline.auto = opts.auto_width;
    let file = job.input.id as u32;
    acc.stats(file);
    let (first_line, first_offset) = (
        1 + job.line_base,
        job.range.map(|r| r.0).unwrap_or(job.skip),
    );
    let reader: io::Result<Box<dyn Read + Send + '_>> = match (&job.input.source, job.range) {
        (Source::Stdin, _) => {
            let mut g = match stdin.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let head = g.0.take().unwrap_or_default();
            let rest: Box<dyn Read + Send> = g.1.take().unwrap_or_else(|| Box::new(io::empty()));
            Ok(Box::new(io::Cursor::new(head).chain(rest)))
        }
        (Source::File(_), _) => crate::read::seek::open_job(job, ctx),
    };
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            acc.stats(file)
                .errors
                .push(format!("{}: cannot read: {e}", job.input.name));
            return acc;
        }
    };
    // year-less syslog timestamps: the year from this input's dated lines or mtime (span.rs);
    // a wrapped or mixed input's parsers all get it (HAProxy's syslog lines inside a
    // container's stream)
    let popts = time.year_hint.map(|y| ParserOptions {
        year_hint: Some(y),
        ..opts.parser_opts.clone()
    });
    let built = parsers::build(job.format, popts.as_ref().unwrap_or(&opts.parser_opts));
    let parser = match built {
        Ok(p) => p,
        Err(e) => {
            acc.stats(file)
                .errors
                .push(format!("{}: {e}", job.input.name));
            return acc;
        }
    };
    let mut w = Worker::new(acc, parser, job.format, file, opts, tz);
    w.span = time.span;
    w.dedup = dedup.and_then(|d| d.hook(file));
    let mut lr = LineReader::new(opts.block_bytes, opts.max_line);
    let multiline = w.parser.framing() == Framing::MultiLine;
    // --parquet: the worker pushes each record it reads to this job's row sink
    w.rows = opts.rows.as_ref().map(|f| f.open(job, opts, tz));
    if let Some(plan) = &job.input.demux {
        // a container wrapper or mixed formats: its own loop, so the plain one stays as is
        let mut d = crate::ingest::demux::Demux::with_opts(
            w,
            plan,
            popts.as_ref().unwrap_or(&opts.parser_opts),
        );
        let (lines, bytes, err) = lr.run(reader, first_line, first_offset, |item| d.item(&item));
        let mut w = d.finish();
        end_rows(&mut w, lines);
        return finish_job(job, w, bytes, err);
    }
    let (lines, bytes, err) = lr.run(reader, first_line, first_offset, |item| match item {
        LineItem::Line {
            bytes,
            line_no,
            offset,
        } => {
            if multiline {
                w.frame(bytes, line_no, offset);
            } else {
                w.record(bytes, 1, line_no, offset);
            }
        }
        LineItem::TooLong {
            line_no,
            offset,
            len,
        } => {
            if multiline {
                w.flush();
            }
            w.reject_too_long(line_no, offset, len);
        }
    });
    if multiline {
        w.flush();
    }
    end_rows(&mut w, lines);
    finish_job(job, w, bytes, err)
}

/// End the job's row sink (`--parquet`): it learns how many lines the job read, and closes.
fn end_rows(w: &mut Worker<'_>, lines: u64) {
    if let Some(mut s) = w.rows.take() {
        s.end(lines);
    }
}

fn finish_job(job: &Job, mut w: Worker<'_>, bytes: u64, err: Option<io::Error>) -> Acc {
    if let Some(h) = w.dedup.take() {
        h.finish();
    }
    let file = w.file;
    let name = job.input.name.clone();
    let fs = std::mem::take(&mut w.st);
    let st = w.acc.stats(file);
    *st = fs;
    st.lines += job.skipped_lines;
    st.skipped += job.skipped_lines;
    st.bytes += job.skipped_bytes;
    st.bytes += if job.input.compression == Compression::None {
        bytes
    } else {
        0
    };
    if let Some(e) = err {
        st.errors.push(format!(
            "{name}: read error after {bytes} bytes: {e}; the lines before it were analysed (a truncated or corrupt file?)"
        ));
    }
    if job.input.compression != Compression::None && job.range.is_none() {
        st.bytes += job.input.size;
    }
    w.acc
}

/// A record's instant in UTC µs when it is to be counted (its own zone offset, else `hint`,
/// else the run's zone); else it is counted here: in `outside` when it falls outside its
/// input's `span` (`crate::ingest::span`), in `skipped` (and the run's out-of-window range) when it
/// falls outside `--since/--until`. One place for requests and events alike.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn admit(
    ts: gatelog_parsers::time::Ts,
    hint: Option<i32>,
    tz: &mut crate::ingest::tz::TzResolver,
    (span_lo, span_hi): (i64, i64),
    opts: &RunOptions,
    st: &mut FileStats,
    outside: &mut u32,
    skipped: &mut u32,
) -> Option<i64> {
    let off = match ts.offset {
        Some(o) => o,
        None => match hint {
            Some(o) => o,
            None => tz.offset(ts.wall_us),
        },
    };
    let utc = ts.wall_us - off as i64 * 1_000_000;
    if utc < span_lo || utc > span_hi {
        *outside += 1;
        return None;
    }
    if opts.since_us.is_some_and(|s| utc < s) || opts.until_us.is_some_and(|u| utc >= u) {
        *skipped += 1;
        st.outside_first_us = Some(st.outside_first_us.map_or(utc, |f| f.min(utc)));
        st.outside_last_us = Some(st.outside_last_us.map_or(utc, |l| l.max(utc)));
        return None;
    }
    Some(utc)
}

pub(crate) struct Worker<'o> {
    pub(crate) acc: Acc,
    /// This job's file statistics (moved into `acc` at the end).
    pub(crate) st: FileStats,
    pub(crate) parser: Box<dyn LineParser>,
    pub(crate) opts: &'o RunOptions,
    tz: crate::ingest::tz::TzResolver,
    pub(crate) file: u32,
    pub(crate) layer: Layer,
    pub(crate) format: Format,
    pub(crate) pending: Vec<u8>,
    pub(crate) pending_line: u64,
    pub(crate) pending_offset: u64,
    pub(crate) pending_lines: u64,
    /// The zone offset of a zone-less timestamp when something better than `tz` knows it
    /// (a container runtime's UTC time of the same line: `crate::ingest::demux`).
    pub(crate) offset_hint: Option<i32>,
    /// The instants (UTC µs, inclusive) this input's lines may have (`crate::ingest::span`): a line
    /// outside is rejected as [`crate::ingest::span::OUTSIDE_REASON`].
    pub(crate) span: (i64, i64),
    /// This input's part in counting the same requests of two inputs once (`crate::ingest::dedup`).
    pub(crate) dedup: Option<crate::ingest::dedup::Hook<'o>>,
    /// `--parquet`: where each record read and each line rejected also goes
    /// (`crate::sink::export::sink`); `None` otherwise.
    pub(crate) rows: Option<Box<dyn crate::sink::export::RowSink>>,
}

impl<'o> Worker<'o> {
    pub(crate) fn new(
        acc: Acc,
        parser: Box<dyn LineParser>,
        format: Format,
        file: u32,
        opts: &'o RunOptions,
        tz: &TzChoice,
    ) -> Self {
        Worker {
            acc,
            st: FileStats::default(),
            parser,
            opts,
            tz: tz.resolver(),
            file,
            layer: format.layer(),
            format,
            pending: Vec::new(),
            pending_line: 0,
            pending_offset: 0,
            pending_lines: 0,
            offset_hint: None,
            span: crate::ingest::span::FULL_SPAN,
            dedup: None,
            rows: None,
        }
    }

    /// Count `n_lines` lines read as well-formed lines with nothing to analyse.
    pub(crate) fn ignored(&mut self, n_lines: u64) {
        self.st.lines += n_lines;
        self.st.parsed += n_lines;
    }

    /// Count `n_lines` lines as rejected for `reason` (`detail`: the sample's explanation).
    pub(crate) fn reject_as(
        &mut self,
        rec: &[u8],
        n_lines: u64,
        line_no: u64,
        offset: u64,
        reason: String,
        detail: String,
    ) {
        if let Some(s) = self.rows.as_mut() {
            let at = crate::sink::export::RowAt {
                format: self.format,
                line: line_no,
                offset,
            };
            let text = (!rec.is_empty()).then_some(rec);
            s.reject(at, n_lines, &reason, rec.len() as u64, text);
        }
        let st = &mut self.st;
        st.lines += n_lines;
        st.rejected += n_lines;
        if st.rejected_samples.len() < REJECTED_SAMPLES {
            st.rejected_samples.push(Sample {
                utc_us: 0,
                file: self.file,
                line: line_no,
                text: crate::agg::acc::clip(rec),
            });
            st.rejected_reason_of_samples.push(detail);
        }
        *st.rejected_reasons.entry(reason).or_insert(0) += n_lines;
    }

    pub(crate) fn frame(&mut self, line: &[u8], line_no: u64, offset: u64) {
        if self.pending_lines > 0 && !self.parser.starts_record(line) {
            if self.pending.len() < self.opts.max_line {
                self.pending.push(b'\n');
                self.pending
                    .extend_from_slice(&line[..line.len().min(self.opts.max_line)]);
            }
            self.pending_lines += 1;
            return;
        }
        self.flush();
        self.pending.clear();
        self.pending.extend_from_slice(line);
        self.pending_line = line_no;
        self.pending_offset = offset;
        self.pending_lines = 1;
    }

    pub(crate) fn flush(&mut self) {
        if self.pending_lines == 0 {
            return;
        }
        let rec = std::mem::take(&mut self.pending);
        let n = self.pending_lines;
        self.pending_lines = 0;
        self.record(&rec, n, self.pending_line, self.pending_offset);
        self.pending = rec;
        self.pending.clear();
    }

    pub(crate) fn reject_too_long(&mut self, line_no: u64, offset: u64, len: u64) {
        let max = self.opts.max_line;
        let st = &mut self.st;
        st.lines += 1;
        st.rejected += 1;
        let reason = format!("line longer than --max-line ({max} bytes)");
        if let Some(s) = self.rows.as_mut() {
            let at = crate::sink::export::RowAt {
                format: self.format,
                line: line_no,
                offset,
            };
            s.reject(at, 1, &reason, len, None);
        }
        *st.rejected_reasons.entry(reason.clone()).or_insert(0) += 1;
        if st.rejected_samples.len() < REJECTED_SAMPLES {
            st.rejected_samples.push(Sample {
                utc_us: 0,
                file: self.file,
                line: line_no,
                text: format!("<{len} bytes at offset {offset}>")
                    .into_bytes()
                    .into(),
            });
            st.rejected_reason_of_samples.push(reason);
        }
    }

    /// Parse one framed record (one physical line, or several for multi-line formats) and
    /// account for its `n_lines` lines: parsed when at least one record in it parsed (a
    /// Log Service array line holds many), skipped when all fell outside `--since/--until`,
    /// else rejected.
    #[inline]
    pub(crate) fn record(&mut self, rec: &[u8], n_lines: u64, line_no: u64, offset: u64) {
        let Worker {
            acc,
            st,
            parser,
            opts,
            tz,
            file,
            layer,
            format,
            offset_hint,
            span,
            dedup,
            rows,
            ..
        } = self;
        let hint = *offset_hint;
        let (span_lo, span_hi) = *span;
        let (file, layer, format) = (*file, *layer, *format);
        let (mut ok, mut skipped, mut failed): (u32, u32, Option<gatelog_parsers::ParseError>) =
            (0, 0, None);
        let mut outside = 0u32;
        let mut dup = 0u32;
        parser.parse_each(rec, &mut |res| match &res {
            Ok(Record::Request(r)) => {
                let Some(utc) = admit(
                    r.ts,
                    hint,
                    tz,
                    (span_lo, span_hi),
                    opts,
                    st,
                    &mut outside,
                    &mut skipped,
                ) else {
                    return;
                };
                if let Some(h) = dedup.as_mut() {
                    if h.duplicate(utc, r) {
                        skipped += 1;
                        dup += 1;
                        return;
                    }
                }
                ok += 1;
                st.requests += 1;
                if st.offset_seen.is_none() {
                    st.offset_seen = r.ts.offset;
                }
                st.first_us = Some(st.first_us.map_or(utc, |f| f.min(utc)));
                st.last_us = Some(st.last_us.map_or(utc, |l| l.max(utc)));
                let lb = if layer == Layer::Lb && r.status >= 500 {
                    Some(lb_verdict(format, r))
                } else {
                    None
                };
                let up_us = match r.upstream_response_time {
                    [] => None,
                    t => gatelog_parsers::lb::upstream_time_us(format, t),
                };
                acc.add_request(
                    utc,
                    layer,
                    r.status,
                    r.request_time_us,
                    up_us,
                    r,
                    lb,
                    file,
                    line_no,
                    rec,
                );
                if let Some(s) = rows.as_mut() {
                    let at = crate::sink::export::RowAt {
                        format,
                        line: line_no,
                        offset,
                    };
                    s.request(at, utc, r, up_us);
                }
            }
            Ok(Record::Event(e)) => {
                let Some(utc) = admit(
                    e.ts,
                    hint,
                    tz,
                    (span_lo, span_hi),
                    opts,
                    st,
                    &mut outside,
                    &mut skipped,
                ) else {
                    return;
                };
                ok += 1;
                st.events += 1;
                st.first_us = Some(st.first_us.map_or(utc, |f| f.min(utc)));
                st.last_us = Some(st.last_us.map_or(utc, |l| l.max(utc)));
                acc.add_event(utc, e, file, line_no, rec);
                if let Some(s) = rows.as_mut() {
                    let at = crate::sink::export::RowAt {
                        format,
                        line: line_no,
                        offset,
                    };
                    s.event(at, utc, e);
                }
            }
            Ok(Record::Ignored) => ok += 1,
            Err(e) => {
                if failed.is_none() {
                    failed = Some(e.clone());
                }
            }
        });
        st.lines += n_lines;
        if ok > 0 {
            st.parsed += n_lines;
        } else if skipped > 0 {
            st.skipped += n_lines;
            if dup > 0 {
                st.duplicates += n_lines;
            }
        } else if outside > 0 {
            st.rejected += n_lines;
            if let Some(s) = rows.as_mut() {
                let at = crate::sink::export::RowAt {
                    format,
                    line: line_no,
                    offset,
                };
                let reason = crate::ingest::span::OUTSIDE_REASON;
                s.reject(at, n_lines, reason, rec.len() as u64, Some(rec));
            }
            if st.rejected_samples.len() < REJECTED_SAMPLES {
                st.rejected_samples.push(Sample {
                    utc_us: 0,
                    file,
                    line: line_no,
                    text: crate::agg::acc::clip(rec),
                });
                st.rejected_reason_of_samples
                    .push(crate::ingest::span::OUTSIDE_REASON.to_string());
            }
            *st.rejected_reasons
                .entry(crate::ingest::span::OUTSIDE_REASON.to_string())
                .or_insert(0) += n_lines;
        } else {
            st.rejected += n_lines;
            let e = failed.unwrap_or_else(|| gatelog_parsers::ParseError::not_this_format(0));
            if st.rejected_samples.len() < REJECTED_SAMPLES {
                st.rejected_samples.push(Sample {
                    utc_us: 0,
                    file,
                    line: line_no,
                    text: crate::agg::acc::clip(rec),
                });
                st.rejected_reason_of_samples.push(format!("{e}"));
            }
            let reason = e.reason();
            if let Some(s) = rows.as_mut() {
                let at = crate::sink::export::RowAt {
                    format,
                    line: line_no,
                    offset,
                };
                s.reject(at, n_lines, &reason, rec.len() as u64, Some(rec));
            }
            match st.rejected_reasons.get_mut(&reason) {
                Some(n) => *n += n_lines,
                None => {
                    st.rejected_reasons.insert(reason, n_lines);
                }
            }
        }
    }
}

/// What an LB 5xx says about its backend.
pub fn lb_verdict(f: Format, r: &gatelog_parsers::Request<'_>) -> LbVerdict {
    let flags = r.lb_flags;
    let target_status = gatelog_parsers::fields::upstream_last(r.upstream_status);
    let no_target = target_status.is_empty() || target_status == b"-";
    match f {
        Format::Haproxy => {
            if r.route.ends_with(b"<NOSRV>") || r.upstream_addr == b"<NOSRV>" {
                return LbVerdict::NoBackend;
            }
            match flags {
                [b's', b'H', ..] | [b's', b'D', ..] | [b's', b'Q', ..] => LbVerdict::TargetTimeout,
                [b's', b'C', ..] | [b'S', b'C', ..] | [_, b'Q', ..] => LbVerdict::NoBackend,
                // HAProxy logs no server status: a 5xx with a server and no LB-side
                // termination came from the backend itself
                _ => LbVerdict::BackendError,
            }
        }
        Format::Envoy => {
            let has = |x: &[u8]| flags.split(|&c| c == b',').any(|t| t == x);
            if has(b"UT") {
                LbVerdict::TargetTimeout
            } else if has(b"UF") || has(b"UH") || has(b"NR") || has(b"UO") || has(b"URX") {
                LbVerdict::NoBackend
            } else {
                LbVerdict::BackendError
            }
        }
        _ => {
            if r.status == 504 && no_target {
                LbVerdict::TargetTimeout
            } else if no_target {
                LbVerdict::NoBackend
            } else {
                LbVerdict::BackendError
            }
        }
    }
}

/// A worker fed one line at a time (`gatelog live`): the same framing and normalisation as a
/// batch job ([`Worker::record`]), with its accumulator taken out at each refresh.
pub struct LineFeed<'o> {
    w: Worker<'o>,
    /// A container file or mixed formats (`crate::ingest::demux`): lines go through it, and `w` is a
    /// stand-in while it holds the worker.
    d: Option<Box<crate::ingest::demux::Demux<'o>>>,
}

impl<'o> LineFeed<'o> {
    pub fn new(
        format: Format,
        file: u32,
        opts: &'o RunOptions,
        tz: &TzChoice,
    ) -> Result<Self, String> {
        Self::with_parser_opts(format, file, opts, tz, &opts.parser_opts)
    }

    /// [`LineFeed::new`] with the parser built from `parser_opts` (an input's own inferred
    /// nginx `log_format`) instead of the run's.
    pub fn with_parser_opts(
        format: Format,
        file: u32,
        opts: &'o RunOptions,
        tz: &TzChoice,
        parser_opts: &ParserOptions,
    ) -> Result<Self, String> {
        let parser = parsers::build(format, parser_opts).map_err(|e| e.to_string())?;
        Ok(LineFeed {
            w: Worker::new(Acc::new(opts.base_bucket_s), parser, format, file, opts, tz),
            d: None,
        })
    }

    /// A feed reading a container file or a file of mixed formats as `plan` says.
    pub fn with_demux(
        file: u32,
        opts: &'o RunOptions,
        tz: &TzChoice,
        parser_opts: &ParserOptions,
        plan: &crate::ingest::demux::Plan,
    ) -> Result<Self, String> {
        let f = plan.primary();
        let parser = parsers::build(f, parser_opts).map_err(|e| e.to_string())?;
        let stand_in = parser.clone_box();
        let w = Worker::new(Acc::new(opts.base_bucket_s), parser, f, file, opts, tz);
        let d = crate::ingest::demux::Demux::new(w, plan);
        Ok(LineFeed {
            w: Worker::new(Acc::new(opts.base_bucket_s), stand_in, f, file, opts, tz),
            d: Some(Box::new(d)),
        })
    }

    fn worker(&mut self) -> &mut Worker<'o> {
        match self.d.as_mut() {
            Some(d) => d.worker(),
            None => &mut self.w,
        }
    }

    pub fn format(&self) -> Format {
        self.w.format
    }

    /// One physical line (without its terminator).
    pub fn line(&mut self, bytes: &[u8], line_no: u64, offset: u64) {
        if let Some(d) = self.d.as_mut() {
            let item = LineItem::Line {
                bytes,
                line_no,
                offset,
            };
            d.item(&item);
            return;
        }
        if self.w.parser.framing() == Framing::MultiLine {
            self.w.frame(bytes, line_no, offset);
        } else {
            self.w.record(bytes, 1, line_no, offset);
        }
    }

    /// A line longer than `--max-line`.
    pub fn too_long(&mut self, line_no: u64, offset: u64, len: u64) {
        if let Some(d) = self.d.as_mut() {
            d.item(&LineItem::TooLong {
                line_no,
                offset,
                len,
            });
            return;
        }
        self.w.flush();
        self.w.reject_too_long(line_no, offset, len);
    }

    /// Whether a multi-line record is waiting for the line that starts the next one.
    pub fn has_pending(&self) -> bool {
        match self.d.as_ref() {
            Some(d) => d.has_pending(),
            None => self.w.pending_lines > 0,
        }
    }

    /// End the multi-line record in progress (the source went quiet or rotated).
    pub fn flush(&mut self) {
        match self.d.as_mut() {
            Some(d) => d.flush(),
            None => self.w.flush(),
        }
    }

    /// Also count requests by (layer, status, upstream): `Acc::combos` (live `--metrics`).
    pub fn count_combos(&mut self) {
        self.worker().acc.combos = Some(Default::default());
    }

    /// Everything recorded since the last call; this source's line counts are in
    /// `files[file]`.
    pub fn take(&mut self) -> Acc {
        let w = self.worker();
        let mut acc = std::mem::replace(&mut w.acc, Acc::new(w.opts.base_bucket_s));
        if acc.combos.is_some() {
            self.count_combos();
        }
        let w = self.worker();
        let st = std::mem::take(&mut w.st);
        *acc.stats(w.file) = st;
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// run_ordered on a pool of `threads`: every job read once, the parts merged in input
    /// order (a merge that appends shows the order), at most `window` parts alive at once,
    /// first-pass parts kept in place, and the largest job of the window taken first.
    fn ordered(threads: usize, sizes: &[u64], start: Vec<Start<Vec<usize>>>, window: usize) {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let runs: Vec<AtomicUsize> = sizes.iter().map(|_| AtomicUsize::new(0)).collect();
        let (alive, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let expect: Vec<usize> = start
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s, Start::Nothing))
            .map(|(i, _)| i)
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let out = pool.install(|| {
            run_ordered(
                sizes,
                start,
                window,
                |i| {
                    runs[i].fetch_add(1, SeqCst);
                    let now = alive.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    // uneven work: later, smaller jobs finish first
                    std::thread::sleep(std::time::Duration::from_micros(sizes[i] * 50));
                    vec![i]
                },
                |t, mut a| {
                    alive.fetch_sub(1, SeqCst);
                    t.append(&mut a)
                },
            )
        });
        let out = out.unwrap_or_default();
        let ran: Vec<usize> = runs.iter().map(|r| r.load(SeqCst)).collect();
        assert_eq!(out, expect, "merged in input order");
        for (i, r) in ran.iter().enumerate() {
            assert!(*r <= 1, "job {i} read {r} times");
        }
        // the first part read becomes the running total (never merged into anything)
        assert!(
            peak.load(SeqCst) <= window + 1,
            "{} parts alive at once, window {window} and the total",
            peak.load(SeqCst)
        );
    }

    #[test]
    fn ordered_runs_each_job_once_and_merges_in_input_order() {
        let sizes: Vec<u64> = vec![40, 5, 60, 1, 1, 30, 2, 80, 3, 3, 10, 1];
        for threads in [1, 2, 3] {
            for window in [2, 4, 100] {
                let start = sizes.iter().map(|_| Start::Run).collect();
                ordered(threads, &sizes, start, window);
            }
        }
        // the dedup first pass read some jobs already; one was merged into another
        let start = vec![
            Start::Run,
            Start::Read(vec![1]),
            Start::Nothing,
            Start::Run,
            Start::Read(vec![4]),
        ];
        ordered(2, &[9, 9, 9, 9, 9], start, 2);
        assert!(run_ordered::<Vec<usize>>(&[], vec![], 4, |_| vec![], |_, _| {}).is_none());
    }

    #[test]
    fn ordered_takes_the_largest_job_of_the_window_first() {
        let order = std::sync::Mutex::new(Vec::new());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| {
            run_ordered(
                &[1, 7, 3, 7, 50],
                (0..5).map(|_| Start::Run).collect(),
                4,
                |i| order.lock().unwrap().push(i),
                |_, _| {},
            )
        });
        // one thread: the window is jobs 0-3, largest (first of equals) first; job 4 enters
        // the window once job 0 is merged
        assert_eq!(*order.lock().unwrap(), vec![1, 3, 2, 0, 4]);
    }

    #[test]
    fn medium_files_use_every_thread() {
        let o = RunOptions::default();
        let mb = 1u64 << 20;
        assert_eq!(chunk_count(10 * mb, &o, 2), 1, "small: one job");
        assert_eq!(chunk_count(16 * mb, &o, 2), 1);
        assert_eq!(chunk_count(200 * mb, &o, 2), 2, "one per thread");
        assert_eq!(chunk_count(200 * mb, &o, 8), 8);
        assert_eq!(chunk_count(1024 * mb, &o, 2), 2, "one per thread");
        assert_eq!(chunk_count(4096 * mb, &o, 2), 8, "one per chunk_bytes");
        // tests force chunking of small files with a small chunk_bytes
        let small = RunOptions {
            chunk_bytes: 10_000,
            ..RunOptions::default()
        };
        assert_eq!(chunk_count(9_000, &small, 2), 1);
        assert_eq!(chunk_count(100_000, &small, 2), 10);
    }
}
