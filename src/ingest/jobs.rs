//! A run's jobs: where each input's reading starts and ends, in time. Resumes after the
//! bytes a previous run analysed (`--state`, `read::state`), finds a `--since/--until` window
//! in a large uncompressed file whose lines are in time order by binary search on line
//! boundaries (reading timestamps with the input's parser, in UTC by `ingest::tz`) instead of
//! parsing it from the top, and cuts the inputs into jobs (`pipeline::plan_jobs`). Lines left
//! out by seeking are counted as skipped (outside the window), and line numbers stay those of
//! the whole file, so the report is the one the reading path gives. The byte-level part
//! (line boundaries, ranges, opening a job) is `read::seek`.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use gatelog_parsers::{self as parsers, Format, Framing, LineParser, ParserOptions, Record};
use memchr::memchr;

use crate::ingest::pipeline::{self, Job, RunOptions};
use crate::ingest::tz::{TzChoice, TzResolver};
use crate::read::input::{Compression, Input, Source};
use crate::read::run_ctx::RunCtx;
use crate::read::seek::{count_lines, line_start_at, read_full, split, Bounds};

/// Files smaller than this are read from the top: seeking would not pay.
pub const SEEK_MIN: u64 = 1 << 20;
/// Lines may be slightly out of order (nginx logs a request when it ends): the seeked window
/// opens this much early and closes this much late, and the reading path trims exactly.
pub const MARGIN_US: i64 = 300 * 1_000_000;
/// How far one probe reads looking for a line with a timestamp.
const PROBE_BYTES: usize = 256 * 1024;

/// Jobs for inputs, honouring their bounds (`None` = the whole input, planned as usual).
pub fn plan(
    inputs: &[(Input, Format)],
    bounds: &[Option<Bounds>],
    opts: &RunOptions,
    threads: usize,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (i, pair) in inputs.iter().enumerate() {
        let Some(b) = bounds.get(i).cloned().flatten() else {
            jobs.extend(pipeline::plan_jobs(
                std::slice::from_ref(pair),
                opts,
                threads,
            ));
            continue;
        };
        let (inp, f) = pair;
        if b.nothing {
            continue;
        }
        let job = |range, line_base, skipped_lines| Job {
            input: inp.clone(),
            format: *f,
            range,
            line_base,
            skip: 0,
            skipped_lines,
            skipped_bytes: 0,
        };
        if inp.compression != Compression::None {
            let mut j = job(None, b.line_base, 0);
            j.skip = b.start;
            jobs.push(j);
            continue;
        }
        let Source::File(p) = &inp.source else {
            jobs.push(job(None, 0, 0));
            continue;
        };
        let start = b.start;
        let end = b.end.unwrap_or(inp.size).max(start);
        let line = parsers::build(*f, &opts.parser_opts)
            .map(|p| p.framing() == Framing::Line)
            .unwrap_or(false);
        let n = if line {
            pipeline::chunk_count(end - start, opts, threads)
        } else {
            1
        };
        let ranges = split(p, start, end, n).unwrap_or_else(|_| vec![(start, end)]);
        let last = ranges.len().saturating_sub(1);
        for (k, r) in ranges.into_iter().enumerate() {
            // The first job's line numbers start after the lines before it; later jobs are
            // shifted by the merge by the lines of the jobs before them (which include the
            // first job's skipped lines), so they start from the resumed base only.
            let (base, mut skipped) = if k == 0 {
                (b.line_base + b.pre_skipped, b.pre_skipped)
            } else {
                (b.line_base, 0)
            };
            if k == last {
                skipped += b.post_skipped;
            }
            let mut j = job(Some(r), base, skipped);
            if k == 0 {
                j.skipped_bytes = b.skipped_bytes;
            }
            jobs.push(j);
        }
    }
    jobs
}

/// Reads timestamps at byte positions of one file.
struct Probe {
    f: File,
    parser: Box<dyn LineParser>,
    tz: TzResolver,
    buf: Vec<u8>,
}

impl Probe {
    /// The first line starting at or after `pos` (before `limit`) that carries a timestamp:
    /// (its start, its UTC instant).
    fn stamp_after(&mut self, pos: u64, limit: u64) -> io::Result<Option<(u64, i64)>> {
        let ls = line_start_at(&mut self.f, pos, limit)?;
        if ls >= limit {
            return Ok(None);
        }
        self.f.seek(SeekFrom::Start(ls))?;
        let want = PROBE_BYTES.min((limit - ls) as usize);
        self.buf.resize(want, 0);
        let got = read_full(&mut self.f, &mut self.buf)?;
        let data = &self.buf[..got];
        let mut at = 0usize;
        while at < data.len() {
            let Some(nl) = memchr(b'\n', &data[at..]) else {
                break; // a line cut by the probe's end
            };
            let mut line = &data[at..at + nl];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            let mut ts = None;
            let tz = &mut self.tz;
            self.parser.parse_each(line, &mut |res| {
                if ts.is_some() {
                    return;
                }
                let t = match res {
                    Ok(Record::Request(r)) => r.ts,
                    Ok(Record::Event(e)) => e.ts,
                    _ => return,
                };
                let off = t.offset.unwrap_or_else(|| tz.offset(t.wall_us));
                ts = Some(t.wall_us - off as i64 * 1_000_000);
            });
            if let Some(t) = ts {
                return Ok(Some((ls + at as u64, t)));
            }
            at += nl + 1;
        }
        Ok(None)
    }

    /// The instant of the last line of `[pos, limit)` (from the first line start at or after
    /// `pos`) that carries a timestamp.
    fn last_stamp(&mut self, pos: u64, limit: u64) -> io::Result<Option<i64>> {
        let ls = line_start_at(&mut self.f, pos, limit)?;
        if ls >= limit {
            return Ok(None);
        }
        self.f.seek(SeekFrom::Start(ls))?;
        self.buf.resize((limit - ls) as usize, 0);
        let got = read_full(&mut self.f, &mut self.buf)?;
        let mut last = None;
        let tz = &mut self.tz;
        for line in self.buf[..got].split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let mut ts = None;
            self.parser.parse_each(line, &mut |res| {
                let t = match res {
                    Ok(Record::Request(r)) => r.ts,
                    Ok(Record::Event(e)) => e.ts,
                    _ => return,
                };
                let off = t.offset.unwrap_or_else(|| tz.offset(t.wall_us));
                ts = Some(t.wall_us - off as i64 * 1_000_000);
            });
            if ts.is_some() {
                last = ts;
            }
        }
        Ok(last)
    }
}

/// A seeked window of `[start, end)` in an uncompressed file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
    pub pre_lines: u64,
    pub post_lines: u64,
    /// Instants of the first and of the last timestamped line of `[start, end)` (where the
    /// file's records begin and end, also when the window holds none of them).
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
}

/// Find the part of `[start, end)` (both line boundaries; `end` may be the file size) that
/// can hold records in `[since, until)`, when the file's lines are in time order. `None`
/// when seeking does not apply (a small file, a multi-line format, lines out of order).
#[allow(clippy::too_many_arguments)]
pub fn window(
    path: &Path,
    size: u64,
    start: u64,
    end: u64,
    format: Format,
    popts: &ParserOptions,
    tz: &TzChoice,
    since_us: Option<i64>,
    until_us: Option<i64>,
) -> io::Result<Option<Window>> {
    if end.saturating_sub(start) < SEEK_MIN || (since_us.is_none() && until_us.is_none()) {
        return Ok(None);
    }
    let Ok(parser) = parsers::build(format, popts) else {
        return Ok(None);
    };
    if parser.framing() != Framing::Line {
        return Ok(None);
    }
    let mut p = Probe {
        f: File::open(path)?,
        parser,
        tz: tz.resolver(),
        buf: Vec::new(),
    };
    // time order, checked on a sample of points
    let mut prev: Option<i64> = None;
    let mut stamped = 0;
    let mut first_us = None;
    for k in 0..=16u64 {
        let pos = start + (end - start) * k / 16;
        if let Some((_, t)) = p.stamp_after(pos, end)? {
            if k == 0 {
                first_us = Some(t);
            }
            stamped += 1;
            if prev.is_some_and(|q| t + MARGIN_US < q) {
                return Ok(None);
            }
            prev = Some(prev.map_or(t, |q| q.max(t)));
        }
    }
    if stamped < 2 {
        return Ok(None);
    }
    let mut new_start = start;
    if let Some(since) = since_us {
        let target = since.saturating_sub(MARGIN_US);
        let (mut lo, mut hi) = (start, end);
        while hi - lo > 64 * 1024 {
            let mid = lo + (hi - lo) / 2;
            match p.stamp_after(mid, hi)? {
                Some((_, t)) if t < target => lo = mid,
                _ => hi = mid,
            }
        }
        new_start = if lo == start {
            start
        } else {
            line_start_at(&mut p.f, lo, end)?
        };
    }
    let mut new_end = end;
    if let Some(until) = until_us {
        let target = until.saturating_add(MARGIN_US);
        let (mut lo, mut hi) = (new_start, end);
        while hi - lo > 64 * 1024 {
            let mid = lo + (hi - lo) / 2;
            match p.stamp_after(mid, hi)? {
                Some((_, t)) if t >= target => hi = mid,
                _ => lo = mid,
            }
        }
        new_end = if hi == end {
            end
        } else {
            line_start_at(&mut p.f, hi, end)?
        };
    }
    if new_start == start && new_end == end {
        return Ok(None);
    }
    // the last timestamped line: the last block of the file, read back further if needed
    let mut last_us;
    let mut back = 64 * 1024u64;
    loop {
        let from = end.saturating_sub(back).max(start);
        last_us = p.last_stamp(from, end)?;
        if last_us.is_some() || from == start || back >= 1 << 22 {
            break;
        }
        back *= 4;
    }
    Ok(Some(Window {
        start: new_start,
        end: new_end,
        pre_lines: count_lines(path, start, new_start, size)?,
        post_lines: count_lines(path, new_end, end, size)?,
        first_us,
        last_us,
    }))
}

/// Plan the jobs of a run: resume from `--state`, then narrow large time-ordered files to
/// the `--since/--until` window. Also returns the state plan (to commit after the outputs)
/// and earlier runs' recent buckets for the baseline. Seeked inputs' record ends go to `ctx`.
#[allow(clippy::type_complexity)]
pub fn plan_run(
    chosen: &[(Input, Format)],
    state_path: Option<&std::path::Path>,
    opts: &RunOptions,
    seek: bool,
    threads: usize,
    tz: &TzChoice,
    ctx: &std::sync::Arc<RunCtx>,
) -> Result<(Vec<Job>, Option<crate::read::state::Plan>, Vec<(u64, u64)>), crate::exit::UserError> {
    let state = match state_path {
        Some(path) => Some(crate::read::state::plan(path, chosen, ctx.clone())?),
        None => None,
    };
    let mut bounds = match &state {
        Some(s) => s.bounds(),
        None => vec![None; chosen.len()],
    };
    let (since, until) = (opts.since_us, opts.until_us);
    if seek && (since.is_some() || until.is_some()) {
        for (i, (inp, f)) in chosen.iter().enumerate() {
            let Source::File(path) = &inp.source else {
                continue;
            };
            if inp.compression != Compression::None || inp.demux.is_some() {
                continue;
            }
            let mut b = bounds.get(i).cloned().flatten().unwrap_or_default();
            if b.nothing {
                continue;
            }
            let end = b.end.unwrap_or(inp.size);
            let w = window(
                path,
                inp.size,
                b.start,
                end,
                *f,
                &opts.parser_opts,
                tz,
                since,
                until,
            );
            if let Ok(Some(w)) = w {
                ctx.set_seeked_ends(inp.id, (w.first_us, w.last_us));
                b.skipped_bytes = (w.start - b.start) + (end - w.end);
                b.start = w.start;
                b.end = Some(w.end);
                b.pre_skipped = w.pre_lines;
                b.post_skipped = w.post_lines;
                if let Some(slot) = bounds.get_mut(i) {
                    *slot = Some(b);
                }
            }
        }
    }
    let prior = state.as_ref().map(|s| s.prior()).unwrap_or_default();
    Ok((plan(chosen, &bounds, opts, threads), state, prior))
}
