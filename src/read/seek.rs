//! Where each input's reading starts and ends, in bytes: a job's range of an input and its
//! `Bounds` (after the bytes a previous run analysed, `--state`, or a seeked `--since/--until`
//! window), line boundaries and line counts of a file, splitting a range into line-aligned
//! pieces, and opening a job's bytes. Which bytes hold a time window (reading timestamps, in
//! UTC) and the run's job plan are `ingest::jobs`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use gatelog_parsers::Format;
use memchr::memchr;

use crate::read::input::{self, Compression, Input, Source};
use crate::read::progress::Counted;
pub use crate::read::run_ctx::Ends;
use crate::read::run_ctx::RunCtx;

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

/// A unit of parallel work: a whole input or a byte range of one.
#[derive(Clone, Debug)]
pub struct Job {
    pub input: Input,
    pub format: Format,
    pub range: Option<(u64, u64)>,
    /// Lines before this job's first byte (a resumed or seeked start, see `ingest::jobs::plan`):
    /// its line numbers start after them.
    pub line_base: u64,
    /// Decompressed bytes to discard before the first line (resuming a compressed file).
    pub skip: u64,
    /// Lines outside a seeked `--since/--until` window, counted as read and skipped, and
    /// the bytes they hold.
    pub skipped_lines: u64,
    pub skipped_bytes: u64,
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
pub fn line_start_at(f: &mut File, pos: u64, limit: u64) -> io::Result<u64> {
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

pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

/// Bytes a job reads from disk (for progress).
pub fn job_bytes(j: &Job) -> u64 {
    match j.range {
        Some((s, e)) => e.saturating_sub(s),
        None => j.input.size,
    }
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
    let into = ctx.progress().clone();
    into.set_current(&job.input.name);
    if let Some((s, e)) = job.range {
        return Ok(Box::new(Counted {
            r: input::open_range(p, s, e)?,
            into,
        }));
    }
    let f = Counted {
        r: File::open(p)?,
        into,
    };
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
