//! Where each input's reading starts and ends: resuming after the bytes a previous run
//! analysed (`--state`), and finding a `--since/--until` window in a large uncompressed file
//! whose lines are in time order by binary search on line boundaries instead of parsing it
//! from the top. Lines left out by seeking are counted as skipped (outside the window), and
//! line numbers stay those of the whole file, so the report is the one the reading path
//! gives.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use gatelog_parsers::{self as parsers, Format, Framing, LineParser, ParserOptions, Record};
use memchr::memchr;

use crate::ingest::pipeline::{self, Job, RunOptions};
use crate::ingest::tz::{TzChoice, TzResolver};
use crate::read::input::{self, Compression, Input, Source};
use crate::read::progress::{self, Counted};
pub use crate::read::run_ctx::Ends;
use crate::read::run_ctx::RunCtx;

/// Files smaller than this are read from the top: seeking would not pay.
pub const SEEK_MIN: u64 = 1 << 20;
/// Lines may be slightly out of order (nginx logs a request when it ends): the seeked window
/// opens this much early and closes this much late, and the reading path trims exactly.
pub const MARGIN_US: i64 = 300 * 1_000_000;
/// How far one probe reads looking for a line with a timestamp.
const PROBE_BYTES: usize = 256 * 1024;

/// Where one input's reading starts and ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// First byte to read (uncompressed), or decompressed bytes to discard (compressed).
    pub start: u64,
    /// End (exclusive) of what to read in an uncompressed file; `None` = to its end.
    pub end: Option<u64>,
    /// Lines before `start` (analysed by earlier runs): line numbers continue after them.
    pub line_base: u64,
    /// Lines between `start` and the seeked window, counted as skipped.
    pub pre_skipped: u64,
    /// Lines after the seeked window, counted as skipped.
    pub post_skipped: u64,
    /// Bytes of the lines counted as skipped (before and after the window).
    pub skipped_bytes: u64,
    /// Nothing to read (a compressed file analysed in full by an earlier run).
    pub nothing: bool,
}

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

/// Split `[start, end)` of a file into about `n` ranges that begin at line starts.
pub fn split(path: &Path, start: u64, end: u64, n: usize) -> io::Result<Vec<(u64, u64)>> {
    if n <= 1 || end <= start {
        return Ok(vec![(start, end)]);
    }
    let mut f = File::open(path)?;
    let mut starts = vec![start];
    for k in 1..n as u64 {
        let nominal = start + (end - start) * k / n as u64;
        let prev = starts.last().copied().unwrap_or(start);
        if nominal <= prev {
            continue;
        }
        let b = line_start_at(&mut f, nominal, end)?;
        if b > prev && b < end {
            starts.push(b);
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, s) in starts.iter().enumerate() {
        out.push((*s, starts.get(i + 1).copied().unwrap_or(end)));
    }
    Ok(out)
}

/// The first line start at or after `pos` (`limit` if none before it).
fn line_start_at(f: &mut File, pos: u64, limit: u64) -> io::Result<u64> {
    if pos == 0 {
        return Ok(0);
    }
    let mut at = pos - 1;
    let mut buf = vec![0u8; 64 * 1024];
    while at < limit {
        f.seek(SeekFrom::Start(at))?;
        let want = buf.len().min((limit - at) as usize);
        let got = read_full(f, &mut buf[..want])?;
        if got == 0 {
            break;
        }
        if let Some(i) = memchr(b'\n', &buf[..got]) {
            return Ok(at + i as u64 + 1);
        }
        at += got as u64;
    }
    Ok(limit)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Lines in `[from, to)` of a file: its newlines, plus a final unterminated fragment when
/// `to` is the end of the file.
pub fn count_lines(path: &Path, from: u64, to: u64, size: u64) -> io::Result<u64> {
    if to <= from {
        return Ok(0);
    }
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut r = f.take(to - from);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    let mut last = b'\n';
    loop {
        let got = read_full(&mut r, &mut buf)?;
        if got == 0 {
            break;
        }
        n += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
        last = buf[got - 1];
    }
    if to >= size && last != b'\n' {
        n += 1;
    }
    Ok(n)
}

/// The last line boundary at or before `size` (after its last newline; `from` if none
/// after `from`): where an incremental run stops, so a line being written is read whole
/// next time.
pub fn last_boundary(path: &Path, from: u64, size: u64) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut hi = size;
    let mut buf = vec![0u8; 64 * 1024];
    while hi > from {
        let lo = hi.saturating_sub(buf.len() as u64).max(from);
        f.seek(SeekFrom::Start(lo))?;
        let got = read_full(&mut f, &mut buf[..(hi - lo) as usize])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..got]) {
            return Ok(lo + i as u64 + 1);
        }
        hi = lo;
    }
    Ok(from)
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

/// Bytes a job reads from disk (for progress).
pub fn job_bytes(j: &Job) -> u64 {
    match j.range {
        Some((s, e)) => e.saturating_sub(s),
        None => j.input.size,
    }
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

/// Counts the decompressed bytes of one input and records the total at its end.
struct Tally<'c, R> {
    r: R,
    id: usize,
    n: u64,
    ctx: &'c RunCtx,
}

impl<R: Read> Read for Tally<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.r.read(buf)?;
        self.n += k as u64;
        if k == 0 && !buf.is_empty() {
            self.ctx.set_decompressed_len(self.id, self.n);
        }
        Ok(k)
    }
}

/// Open a file job's bytes: its range of an uncompressed file, or the whole decompressed
/// stream after discarding `skip` bytes. Bytes read from disk are counted for progress; a
/// compressed input's decompressed length is recorded in `ctx` at its end.
pub fn open_job<'c>(job: &Job, ctx: &'c RunCtx) -> io::Result<Box<dyn Read + Send + 'c>> {
    let Source::File(p) = &job.input.source else {
        return input::open(&job.input);
    };
    progress::set_current(&job.input.name);
    if let Some((s, e)) = job.range {
        return Ok(Box::new(Counted(input::open_range(p, s, e)?)));
    }
    let f = Counted(File::open(p)?);
    let mut r = input::wrap(Box::new(f), job.input.compression)?;
    if job.skip > 0 {
        let n = io::copy(&mut (&mut r).take(job.skip), &mut io::sink())?;
        if n < job.skip {
            return Err(io::Error::other(format!(
                "it holds only {n} bytes, fewer than the {} the state file says were analysed; remove the state file to start over",
                job.skip
            )));
        }
    }
    if job.input.compression == Compression::None {
        return Ok(r);
    }
    Ok(Box::new(Tally {
        r,
        id: job.input.id,
        n: job.skip,
        ctx,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.log");
        std::fs::write(&p, data).unwrap();
        (d, p)
    }

    /// Two runs in one process, each reading a compressed input that is input 0 in its
    /// own run: each run's state sees its own decompressed length (once a process-wide
    /// map keyed by input id, where the later run overwrote, or a state plan cleared, the
    /// other's).
    #[test]
    fn two_runs_keep_their_own_decompressed_lengths() {
        use std::io::Write as _;
        let d = tempfile::tempdir().unwrap();
        let gz = |name: &str, lines: usize| {
            let p = d.path().join(name);
            let mut e =
                flate2::write::GzEncoder::new(File::create(&p).unwrap(), Default::default());
            for i in 0..lines {
                writeln!(e, "line {i:03}").unwrap();
            }
            e.finish().unwrap();
            p
        };
        let job = |p: std::path::PathBuf| Job {
            input: Input {
                id: 0,
                name: p.display().to_string(),
                size: std::fs::metadata(&p).unwrap().len(),
                source: Source::File(p),
                explicit: true,
                compression: Compression::Gzip,
                demux: None,
            },
            format: Format::NginxAccess,
            range: None,
            line_base: 0,
            skip: 0,
            skipped_lines: 0,
            skipped_bytes: 0,
        };
        let (a, b) = (job(gz("a.log.gz", 50)), job(gz("b.log.gz", 3)));
        let (run_a, run_b) = (RunCtx::new(), RunCtx::new());
        // run A opens its input; run B reads its own to the end; then A finishes
        let mut ra = open_job(&a, &run_a).unwrap();
        let mut first = [0u8; 9];
        ra.read_exact(&mut first).unwrap();
        let mut out = Vec::new();
        open_job(&b, &run_b).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 3 * 9);
        assert_eq!(run_b.decompressed_len(0), Some(27));
        assert_eq!(run_a.decompressed_len(0), None, "A has not reached its end");
        ra.read_to_end(&mut out).unwrap();
        assert_eq!(run_a.decompressed_len(0), Some(50 * 9));
        assert_eq!(run_b.decompressed_len(0), Some(27));
        // stdin's rest and seeked ends are the run's own too
        run_a.set_stdin_rest(Box::new(io::empty()));
        run_a.set_seeked_ends(0, (Some(1), Some(2)));
        assert!(run_b.take_stdin_rest().is_none());
        assert_eq!(run_b.seeked_ends(0), None);
        assert!(run_a.take_stdin_rest().is_some());
        assert!(run_a.take_stdin_rest().is_none(), "taken once");
        assert_eq!(run_a.seeked_ends(0), Some((Some(1), Some(2))));
    }

    #[test]
    fn lines_boundaries_and_splits() {
        let (_d, p) = file(b"aa\nbbb\n\ncccc\ntail");
        assert_eq!(count_lines(&p, 0, 17, 17).unwrap(), 5);
        assert_eq!(count_lines(&p, 0, 13, 17).unwrap(), 4);
        assert_eq!(count_lines(&p, 3, 7, 17).unwrap(), 1);
        assert_eq!(last_boundary(&p, 0, 17).unwrap(), 13);
        assert_eq!(last_boundary(&p, 13, 17).unwrap(), 13);
        assert_eq!(last_boundary(&p, 0, 2).unwrap(), 0);
        let r = split(&p, 0, 17, 3).unwrap();
        assert_eq!(r.first().unwrap().0, 0);
        assert_eq!(r.last().unwrap().1, 17);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
            let b = w[1].0 as usize;
            assert_eq!(b"aa\nbbb\n\ncccc\ntail"[b - 1], b'\n');
        }
        assert_eq!(split(&p, 3, 13, 4).unwrap().last().unwrap().1, 13);
    }
}
