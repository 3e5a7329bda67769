//! Splitting a multi-line-framed file (nginx error log) into chunks read by separate jobs:
//! each chunk must begin where the one-pass reader would begin a record, so that the chunks'
//! records are exactly those of one pass (a continuation line never lands at a chunk's start).

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use gatelog_parsers::{Format, LineParser};

/// How far past a nominal boundary a record start is searched for; without one there, the
/// two chunks stay one.
const SCAN: u64 = 8 << 20;

/// Multi-line formats whose files may be split: their parser keeps no state from one record
/// to the next that changes what it reads (only caches), so a chunk starting at a record
/// reads it as one pass would.
pub fn splits_multiline(f: Format) -> bool {
    matches!(f, Format::NginxError)
}

/// `ranges` (line-aligned chunks of `path`, in order, from `input::plan_chunks`) with each
/// boundary moved forward to the first line that starts a record for `parser` — or that is
/// longer than `max_line` (the reader rejects it alone, so a record ends before it and
/// another starts after it, as at a record start). A boundary with no such line within
/// [`SCAN`] bytes, or not before the next boundary, is dropped (its chunks are joined).
pub fn record_aligned(
    path: &Path,
    ranges: &[(u64, u64)],
    parser: &dyn LineParser,
    max_line: usize,
) -> io::Result<Vec<(u64, u64)>> {
    let Some(&(first, _)) = ranges.first() else {
        return Ok(Vec::new());
    };
    let end = ranges.last().map_or(first, |r| r.1);
    let mut starts = vec![first];
    let mut f = std::fs::File::open(path)?;
    let mut line = Vec::new();
    for &(nominal, _) in &ranges[1..] {
        let prev = *starts.last().unwrap_or(&first);
        if nominal <= prev {
            continue;
        }
        f.seek(SeekFrom::Start(nominal))?;
        let mut r = BufReader::with_capacity(64 << 10, (&mut f).take(SCAN.min(end - nominal)));
        let mut at = nominal;
        let found = loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                break None; // the end, or a line cut by the scan's limit
            }
            let body = &line[..n - 1];
            if body.len() > max_line {
                break Some(at);
            }
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            if parser.starts_record(body) {
                break Some(at);
            }
            at += n as u64;
        };
        if let Some(b) = found.filter(|&b| b > prev && b < end) {
            starts.push(b);
        }
    }
    Ok(starts
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(end)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> Box<dyn LineParser> {
        gatelog_parsers::build(Format::NginxError, &Default::default()).unwrap()
    }

    #[test]
    fn boundaries_move_to_record_starts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("error.log");
        let e1 = "2026/12/05 10:00:00 [error] 12#12: *1 upstream timed out, client: 10.0.0.1, server: a, request: \"GET / HTTP/1.1\"\n";
        let cont = "Stack trace:\n#0 /var/www/index.php(3): f()\n";
        let e2 =
            "2026/12/05 10:00:01 [error] 12#12: *2 FastCGI sent in stderr: \"PHP message: x\"\r\n";
        let text = format!("{e1}{cont}{e2}{cont}{e1}");
        std::fs::write(&p, &text).unwrap();
        let n = text.len() as u64;
        let l2 = e1.len() as u64; // "Stack trace:"
        let l3 = l2 + 13; // "#0 ..."
        let e2_at = l2 + cont.len() as u64;
        let l5 = e2_at + e2.len() as u64;
        let e3_at = l5 + cont.len() as u64;
        let p_ = parser();
        // boundaries at continuation lines move to the next entry (CRLF stripped); two that
        // land on the same entry make one
        let got = record_aligned(&p, &[(0, l2), (l2, l3), (l3, n)], &*p_, 1 << 20).unwrap();
        assert_eq!(got, vec![(0, e2_at), (e2_at, n)]);
        let got = record_aligned(&p, &[(0, l5), (l5, n)], &*p_, 1 << 20).unwrap();
        assert_eq!(got, vec![(0, e3_at), (e3_at, n)]);
        // at an entry: kept
        let got = record_aligned(&p, &[(0, e2_at), (e2_at, n)], &*p_, 1 << 20).unwrap();
        assert_eq!(got, vec![(0, e2_at), (e2_at, n)]);
        // a line longer than max_line is a boundary
        let got = record_aligned(&p, &[(0, l2), (l2, n)], &*p_, 10).unwrap();
        assert_eq!(got, vec![(0, l2), (l2, n)]);
        // no entry after the boundary: one chunk
        let q = dir.path().join("tail.log");
        std::fs::write(&q, format!("{e1}{cont}")).unwrap();
        let m = (e1.len() + cont.len()) as u64;
        let got = record_aligned(&q, &[(0, l2), (l2, m)], &*p_, 1 << 20).unwrap();
        assert_eq!(got, vec![(0, m)]);
    }
}
