//! Times you can trust: the year of year-less syslog timestamps, resolved per input from its
//! dated lines, else its modification time, else the clock (`gatelog_parsers::time::YearHint`).

use std::io::Read;

use gatelog_parsers::time::{first_dated, YearHint};
use gatelog_parsers::Format;

use crate::read::input::{self, Input, Source};

/// How much of an input's head is searched for a dated line.
const HEAD_BYTES: u64 = 256 << 10;

/// Whether `f`'s parser reads timestamps without a year (RFC 3164 syslog prefixes).
pub fn needs_year(f: Format) -> bool {
    matches!(f, Format::Haproxy | Format::FpmError)
}

/// The first line of `head` with a date that carries a year, as wall-clock seconds.
pub fn dated_in(head: &[u8]) -> Option<i64> {
    head.split(|&b| b == b'\n').take(4000).find_map(first_dated)
}

/// The year hint of a file input: near its first dated line (searched in its first 256 KiB),
/// else before its modification time, else before now.
pub fn year_hint(inp: &Input) -> YearHint {
    if let Ok(r) = input::open(inp) {
        let mut head = Vec::new();
        if r.take(HEAD_BYTES).read_to_end(&mut head).is_ok() || !head.is_empty() {
            if let Some(t) = dated_in(&head) {
                return YearHint::Near(t);
            }
        }
    }
    if let Source::File(p) = &inp.source {
        if let Some(secs) = std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        {
            return YearHint::Before(secs.as_secs() as i64);
        }
    }
    YearHint::now()
}

/// The year hint of stdin: near the first dated line of its head, else before now.
pub fn stdin_year_hint(head: &[u8]) -> YearHint {
    dated_in(head).map_or_else(YearHint::now, YearHint::Near)
}

/// What one input's jobs need to know about its time, computed once per input before its
/// jobs run (so the chunks of a file split across threads agree).
#[derive(Clone, Copy, Debug)]
pub struct InputTime {
    /// The year of its year-less timestamps (formats that have them).
    pub year_hint: Option<YearHint>,
    /// The UTC instants (µs, inclusive) its lines may have; a line outside is counted as
    /// rejected ([`OUTSIDE_REASON`]) and not analysed.
    pub span: (i64, i64),
}

impl Default for InputTime {
    fn default() -> Self {
        InputTime {
            year_hint: None,
            span: FULL_SPAN,
        }
    }
}

/// The rejected-line reason of a line outside its input's span.
pub const OUTSIDE_REASON: &str = "time outside the input's span";

/// No limit.
pub const FULL_SPAN: (i64, i64) = (i64::MIN, i64::MAX);

/// Files are sampled by [`BLOCKS`] evenly spaced blocks of [`BLOCK_BYTES`] (whole when they
/// are no larger than that).
const BLOCKS: u64 = 64;
const BLOCK_BYTES: u64 = 64 << 10;
/// How much of a compressed input is decompressed for its sample.
const COMPRESSED_SAMPLE: u64 = 8 << 20;
/// The smallest gap that separates a line from its input's span: a day (error logs are
/// bursty: a real one has a pair of lines two hours before its 3-minute incident).
const MIN_GAP_US: i64 = 86_400 * 1_000_000;
/// With fewer sampled instants than this, the core says little: only a gap of
/// [`FEW_GAP_US`] (a stray 1970 or 2099, a clock years off) separates a line.
const FEW: usize = 10;
const FEW_GAP_US: i64 = 30 * 86_400 * 1_000_000;

/// [`InputTime`] of every input of `jobs`, by input id (computed in parallel, once per
/// input). `stdin_head`: the bytes of stdin read for detection.
pub fn prepare(
    jobs: &[crate::ingest::pipeline::Job],
    opts: &crate::ingest::pipeline::RunOptions,
    tz: &crate::ingest::tz::TzChoice,
    stdin_head: Option<&[u8]>,
) -> std::collections::HashMap<usize, InputTime> {
    use rayon::prelude::*;
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<&crate::ingest::pipeline::Job> =
        jobs.iter().filter(|j| seen.insert(j.input.id)).collect();
    firsts
        .par_iter()
        .map(|j| {
            (
                j.input.id,
                input_time(&j.input, j.format, opts, tz, stdin_head),
            )
        })
        .collect()
}

fn input_time(
    inp: &Input,
    format: Format,
    opts: &crate::ingest::pipeline::RunOptions,
    tz: &crate::ingest::tz::TzChoice,
    stdin_head: Option<&[u8]>,
) -> InputTime {
    let is_stdin = matches!(inp.source, Source::Stdin);
    // a wrapped or mixed input's parsers all get it (HAProxy's syslog lines inside a
    // container's stream)
    let year_hint = (needs_year(format) || inp.demux.is_some()).then(|| {
        if is_stdin {
            stdin_year_hint(stdin_head.unwrap_or(&[]))
        } else {
            year_hint(inp)
        }
    });
    let popts = gatelog_parsers::ParserOptions {
        year_hint,
        ..opts.parser_opts.clone()
    };
    // the formats its lines are read with: a file of mixed formats (`crate::ingest::demux`) has
    // several, each line's instant is that of the first that reads it
    let formats: Vec<Format> = match inp.demux.as_deref() {
        // a container file: each line's span is its wrapper time's (`wrapper_span`, applied
        // per line by `crate::ingest::demux`); the runtime's clock is the one to trust
        Some(plan) if plan.wrapper.is_some() => {
            return InputTime {
                year_hint,
                span: FULL_SPAN,
            }
        }
        Some(plan) => {
            let mut v = Vec::new();
            for f in plan.streams.iter().flatten() {
                if !v.contains(f) {
                    v.push(*f);
                }
            }
            v
        }
        None => vec![format],
    };
    let parsers: Vec<_> = formats
        .iter()
        .filter_map(|f| gatelog_parsers::build(*f, &popts).ok())
        .collect();
    let span = if parsers.is_empty() {
        FULL_SPAN
    } else {
        let (blocks, two_sided) = if is_stdin {
            (vec![stdin_head.unwrap_or(&[]).to_vec()], false)
        } else {
            sample(inp).unwrap_or_default()
        };
        let mut ts = instants(parsers, &blocks, tz);
        core_span(&mut ts, two_sided, now_us())
    };
    InputTime { year_hint, span }
}

/// How far a wrapped line's own time may be from its wrapper's (the container runtime's
/// UTC time of the line): a day (a zone-less time read in the wrong zone is at most 14 h
/// off; a line the runtime got days after its own time is a stale or replayed one).
pub const WRAPPER_GAP_US: i64 = MIN_GAP_US;

/// The span of a wrapped line whose wrapper time is `utc_us`, within its input's `base`.
pub fn wrapper_span(base: (i64, i64), utc_us: i64) -> (i64, i64) {
    (
        base.0.max(utc_us.saturating_sub(WRAPPER_GAP_US)),
        base.1.min(utc_us.saturating_add(WRAPPER_GAP_US)),
    )
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Complete lines sampled from an input, and whether they cover it from end to end (else
/// they are its head).
fn sample(inp: &Input) -> std::io::Result<(Vec<Vec<u8>>, bool)> {
    use std::io::{Seek, SeekFrom};
    let Source::File(p) = &inp.source else {
        return Ok((Vec::new(), false));
    };
    if inp.compression != crate::read::input::Compression::None || inp.size <= BLOCKS * BLOCK_BYTES
    {
        let mut r = input::open(inp)?;
        let mut b = Vec::new();
        (&mut r).take(COMPRESSED_SAMPLE).read_to_end(&mut b)?;
        let complete = (b.len() as u64) < COMPRESSED_SAMPLE || {
            let mut one = [0u8; 1];
            r.read(&mut one)? == 0
        };
        if !complete {
            let end = memchr::memrchr(b'\n', &b).map_or(0, |i| i + 1);
            b.truncate(end);
        }
        return Ok((vec![b], complete));
    }
    let mut f = std::fs::File::open(p)?;
    let mut out = Vec::new();
    for k in 0..BLOCKS {
        let off = (inp.size - BLOCK_BYTES) * k / (BLOCKS - 1);
        f.seek(SeekFrom::Start(off))?;
        let mut b = Vec::with_capacity(BLOCK_BYTES as usize);
        (&mut f).take(BLOCK_BYTES).read_to_end(&mut b)?;
        let start = if off == 0 {
            0
        } else {
            memchr::memchr(b'\n', &b).map_or(b.len(), |i| i + 1)
        };
        let end = if off + BLOCK_BYTES >= inp.size {
            b.len()
        } else {
            memchr::memrchr(b'\n', &b).map_or(0, |i| i + 1)
        };
        if start < end {
            out.push(b[start..end].to_vec());
        }
    }
    Ok((out, true))
}

/// The UTC instants (µs) of the records in `blocks`, as the analysis reads them.
/// A line is read by the first of `ps` that reads it with a time.
fn instants(
    mut ps: Vec<Box<dyn gatelog_parsers::LineParser>>,
    blocks: &[Vec<u8>],
    tz: &crate::ingest::tz::TzChoice,
) -> Vec<i64> {
    use gatelog_parsers::Record;
    let mut tz = tz.resolver();
    let mut ts = Vec::new();
    for b in blocks {
        for line in split_lines(b) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            for p in ps.iter_mut() {
                let before = ts.len();
                // the header's time when the parser can tell it alone (the nginx error log)
                if let Some(t) = p.instant(line) {
                    if let Some(t) = t.filter(|t| t.wall_us != 0 || t.offset.is_some()) {
                        let off = t.offset.unwrap_or_else(|| tz.offset(t.wall_us));
                        ts.push(t.wall_us - off as i64 * 1_000_000);
                        break;
                    }
                    continue;
                }
                p.parse_each(line, &mut |r| {
                    let t = match r {
                        Ok(Record::Request(r)) => r.ts,
                        Ok(Record::Event(e)) => e.ts,
                        _ => return,
                    };
                    // a record with no time of its own (HAProxy's `[WARNING] (pid) : ...`)
                    if t.wall_us == 0 && t.offset.is_none() {
                        return;
                    }
                    let off = t.offset.unwrap_or_else(|| tz.offset(t.wall_us));
                    ts.push(t.wall_us - off as i64 * 1_000_000);
                });
                if ts.len() > before {
                    break;
                }
            }
        }
    }
    ts
}

/// The pieces of `b` between newlines, as `b.split(|&c| c == b'\n')` gives them (the last
/// one, after the last newline, even when empty), found with `memchr`.
fn split_lines(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', b)
        .map(Some)
        .chain(std::iter::once(None))
        .map(move |end| {
            let end = end.unwrap_or(b.len());
            let line = &b[start..end];
            start = end + 1;
            line
        })
}

/// The span (UTC µs, inclusive) of an input whose sampled instants are `ts`: from its dense
/// core (the middle half) outwards, across gaps of at most `G` = max(1 day, 4 × the core's
/// width) (30 days when fewer than [`FEW`] instants were sampled); a gap wider than `G` ends
/// the span when at most max(2, 0.5 %) of the sample lies beyond it. The span reaches `G`
/// past its outermost sampled instants (unsampled lines near them). A head-only sample
/// (`two_sided` false) bounds the future only at two days past now (and past its last
/// instant).
pub fn core_span(ts: &mut [i64], two_sided: bool, now_us: i64) -> (i64, i64) {
    let n = ts.len();
    if n < 3 {
        return FULL_SPAN;
    }
    ts.sort_unstable();
    let (q1, q3) = ((n + 2) / 4, (3 * (n - 1)) / 4);
    let min_gap = if n < FEW { FEW_GAP_US } else { MIN_GAP_US };
    let gap = min_gap.max(4i64.saturating_mul(ts[q3].saturating_sub(ts[q1])));
    let small = 2.max(n / 200);
    let mut hi = ts[n - 1];
    for i in q3 + 1..n {
        if ts[i].saturating_sub(ts[i - 1]) > gap && n - i <= small {
            hi = ts[i - 1];
            break;
        }
    }
    let mut lo = ts[0];
    for i in (0..q1).rev() {
        if ts[i + 1].saturating_sub(ts[i]) > gap && i < small {
            lo = ts[i + 1];
            break;
        }
    }
    let lo = lo.saturating_sub(gap);
    let hi = if two_sided {
        hi.saturating_add(gap)
    } else {
        hi.saturating_add(gap)
            .max(now_us.saturating_add(2 * 86_400_000_000))
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;
    const DAY: i64 = 86_400_000_000;

    #[test]
    fn lines_split_as_slice_split_does() {
        for b in [
            &b""[..],
            b"\n",
            b"a",
            b"a\n",
            b"a\nb",
            b"\n\na\r\n\nbc\n",
            b"x\xff\n\xfe",
        ] {
            let want: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
            assert_eq!(split_lines(b).collect::<Vec<_>>(), want, "{b:?}");
        }
    }

    #[test]
    fn strays_far_from_the_core_are_outside() {
        let t0 = 1_795_000_000_000_000; // 2026
        let mut ts: Vec<i64> = (0..1000).map(|i| t0 + i * 600_000).collect(); // 10 min
        ts.push(5_000_000); // 1970
        ts.push(4_070_908_800_000_000); // 2099
        ts.push(t0 - 3 * DAY);
        let (lo, hi) = core_span(&mut ts, true, t0);
        assert_eq!(lo, t0 - DAY, "a day before the first line of the core");
        assert_eq!(hi, t0 + 999 * 600_000 + DAY);
    }

    #[test]
    fn a_large_share_far_away_is_part_of_the_span() {
        let t0 = 1_795_000_000_000_000;
        // 90 % today, 10 % three days earlier: both belong
        let mut ts: Vec<i64> = (0..900).map(|i| t0 + i * 1_000_000).collect();
        ts.extend((0..100).map(|i| t0 - 3 * DAY + i * 1_000_000));
        let (lo, hi) = core_span(&mut ts, true, t0);
        assert!(lo <= t0 - 3 * DAY && hi >= t0 + 899_000_000, "{lo} {hi}");
    }

    #[test]
    fn few_instants_keep_days_apart_but_not_decades() {
        let t0 = 1_795_000_000_000_000;
        let mut ts = vec![t0, t0 + DAY, t0 + 2 * DAY, t0 + 3 * DAY];
        let (lo, hi) = core_span(&mut ts, true, t0);
        assert!(lo < t0 && hi > t0 + 3 * DAY);
        let mut ts = vec![5_000_000, t0, t0 + MIN, t0 + 2 * MIN];
        let (lo, _) = core_span(&mut ts, true, t0);
        assert!(lo > 5_000_000 && lo < t0);
        assert_eq!(core_span(&mut [t0, 5], true, t0), FULL_SPAN);
    }

    #[test]
    fn a_head_bounds_the_past_and_the_far_future() {
        let t0 = 1_795_000_000_000_000;
        let mut ts: Vec<i64> = (0..100).map(|i| t0 + i * 1_000_000).collect();
        let (lo, hi) = core_span(&mut ts, false, t0 + DAY);
        assert_eq!(lo, t0 - DAY);
        assert_eq!(hi, t0 + 3 * DAY);
    }
}
