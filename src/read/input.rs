//! Input: finding the files named on the command line, opening them (gzip and zstd by magic
//! bytes), and reading them as lines in large blocks without an allocation per line.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use memchr::memchr;

/// How an input's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

/// One input to analyse.
#[derive(Clone, Debug)]
pub struct Input {
    pub id: usize,
    /// As shown in reports (the path as given, or `-`).
    pub name: String,
    pub source: Source,
    /// Named on the command line (an unknown format is then an error), as opposed to found
    /// by recursing into a directory (an unknown format is then skipped).
    pub explicit: bool,
    /// Size on disk (0 for stdin).
    pub size: u64,
    pub compression: Compression,
    /// Set after detection when the input is a container log or mixes formats.
    pub demux: Option<std::sync::Arc<crate::read::plan::Plan>>,
}

/// An input that could not be used, with a message naming it and what to do.
#[derive(Clone, Debug)]
pub struct InputProblem {
    pub name: String,
    pub message: String,
}

/// Whether a command-line argument that names no file is a glob pattern.
pub fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The paths a glob pattern matches (files and directories), in rotation order (oldest
/// first); the problem, one line, when the pattern is invalid or matches nothing. One
/// expansion for `analyze` and `live`.
pub fn glob_paths(arg: &str) -> Result<Vec<PathBuf>, String> {
    let paths = glob::glob(arg).map_err(|e| format!("invalid glob pattern: {e}"))?;
    let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
    if files.is_empty() {
        return Err("the pattern matches no file; check the path and quoting".into());
    }
    sort_rotated(&mut files);
    Ok(files)
}

/// Sniffing: the first bytes of an input that detection looks at, 64 KiB extended (up to
/// [`SNIFF_MAX`]) until they hold a few complete lines, so that one long first line does not
/// leave nothing to sniff. Returns the bytes and whether they are the whole input. The same
/// sample for `analyze` and `live`.
pub fn read_head(r: &mut dyn Read) -> io::Result<(Vec<u8>, bool)> {
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut n = 0;
    loop {
        if n == head.len() {
            let lines = memchr::memchr_iter(b'\n', &head[..n]).take(4).count();
            if lines >= 4 || head.len() >= SNIFF_MAX {
                return Ok((head, false));
            }
            head.resize((head.len() * 2).min(SNIFF_MAX), 0);
        }
        match r.read(&mut head[n..]) {
            Ok(0) => {
                head.truncate(n);
                return Ok((head, true));
            }
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if n == 0 {
                    return Err(e);
                }
                head.truncate(n);
                return Ok((head, true));
            }
        }
    }
}

/// Expand command-line arguments into inputs: `-` is stdin, directories are recursed (in
/// name order, symlink loops broken), globs are expanded when no such file exists. Rotated
/// sets (`x.log.2.gz`, `x.log.1`, `x.log`) come oldest first.
pub fn discover(args: &[String]) -> (Vec<Input>, Vec<InputProblem>) {
    let mut found: Vec<(String, Source, bool)> = Vec::new();
    let mut problems = Vec::new();
    for arg in args {
        if arg == "-" {
            found.push(("-".into(), Source::Stdin, true));
            continue;
        }
        let p = Path::new(arg);
        if p.exists() {
            if p.is_dir() {
                let mut seen = HashSet::new();
                let mut files = Vec::new();
                walk(p, &mut seen, &mut files, &mut problems);
                sort_rotated(&mut files);
                for f in files {
                    found.push((f.display().to_string(), Source::File(f), false));
                }
            } else {
                found.push((arg.clone(), Source::File(p.to_path_buf()), true));
            }
        } else if has_glob_meta(arg) {
            match glob_paths(arg) {
                Ok(files) => {
                    for f in files {
                        if f.is_dir() {
                            let mut seen = HashSet::new();
                            let mut inner = Vec::new();
                            walk(&f, &mut seen, &mut inner, &mut problems);
                            sort_rotated(&mut inner);
                            for g in inner {
                                found.push((g.display().to_string(), Source::File(g), false));
                            }
                        } else {
                            found.push((f.display().to_string(), Source::File(f), true));
                        }
                    }
                }
                Err(message) => problems.push(InputProblem {
                    name: arg.clone(),
                    message,
                }),
            }
        } else {
            problems.push(InputProblem {
                name: arg.clone(),
                message: "no such file or directory; check the path".into(),
            });
        }
    }
    let mut inputs = Vec::new();
    for (name, source, explicit) in found {
        let (size, compression) = match &source {
            Source::Stdin => (0, Compression::None),
            Source::File(p) => match probe(p) {
                Ok(x) => x,
                Err(e) => {
                    problems.push(InputProblem {
                        name: name.clone(),
                        message: format!("cannot read: {e}; check its permissions"),
                    });
                    continue;
                }
            },
        };
        inputs.push(Input {
            id: inputs.len(),
            name,
            source,
            explicit,
            size,
            compression,
            demux: None,
        });
    }
    (inputs, problems)
}

fn probe(p: &Path) -> io::Result<(u64, Compression)> {
    let mut f = File::open(p)?;
    let size = f.metadata()?.len();
    let mut head = [0u8; 4];
    let n = read_full(&mut f, &mut head)?;
    Ok((size, Compression::sniff(&head[..n])))
}

fn walk(
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<InputProblem>,
) {
    let canon = match dir.canonicalize() {
        Ok(c) => c,
        Err(e) => {
            problems.push(InputProblem {
                name: dir.display().to_string(),
                message: format!("cannot resolve directory: {e}"),
            });
            return;
        }
    };
    if !seen.insert(canon) {
        return; // symlink loop or a directory reached twice
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(InputProblem {
                name: dir.display().to_string(),
                message: format!("cannot list directory: {e}; check its permissions"),
            });
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let ignore = read_ignore(dir);
    for e in entries {
        let name = e
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name == IGNORE_FILE || ignore.iter().any(|p| p.matches(&name)) {
            continue;
        }
        if e.is_dir() {
            walk(&e, seen, out, problems);
        } else if e.is_file() {
            out.push(e);
        }
    }
}

/// A file in a directory that lists names (glob patterns, one per line, `#` comments) that
/// recursion skips there, like ripgrep's `.rgignore`: second copies of the same log in
/// another format, configuration folders, scripts. Files named on the command line are
/// always read.
pub const IGNORE_FILE: &str = ".gatelogignore";

/// What [`read_head`] reads first, and at most.
const SNIFF_BYTES: usize = 64 * 1024;
const SNIFF_MAX: usize = 4 << 20;

fn read_ignore(dir: &Path) -> Vec<glob::Pattern> {
    let Ok(text) = std::fs::read_to_string(dir.join(IGNORE_FILE)) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| glob::Pattern::new(l.trim_end_matches('/')).ok())
        .collect()
}

/// Split `access.log.2.gz` into (`access.log`, 2); `access.log` → (`access.log`, 0). The
/// number grows with age: kubelet's `0.log.20261205-151500[.gz]` (the time it was rotated)
/// gets one above every `.N` that shrinks as the time grows.
pub fn rotation_key(p: &Path) -> (PathBuf, u64) {
    let s = p.to_string_lossy();
    let mut base: &str = &s;
    for suf in [".gz", ".zst", ".zstd"] {
        if let Some(b) = base.strip_suffix(suf) {
            base = b;
            break;
        }
    }
    if let Some(dot) = base.rfind('.') {
        let tail = &base[dot + 1..];
        if !tail.is_empty() && tail.len() <= 4 && tail.bytes().all(|c| c.is_ascii_digit()) {
            if let Ok(n) = tail.parse::<u64>() {
                return (PathBuf::from(&base[..dot]), n);
            }
        }
        // kubelet: YYYYMMDD-HHMMSS
        let t = tail.as_bytes();
        if t.len() == 15
            && t[8] == b'-'
            && t.iter()
                .enumerate()
                .all(|(k, c)| k == 8 || c.is_ascii_digit())
        {
            let n: u64 = t
                .iter()
                .filter(|c| c.is_ascii_digit())
                .fold(0, |n, c| n * 10 + u64::from(c - b'0'));
            return (PathBuf::from(&base[..dot]), 2 * 10u64.pow(14) - n);
        }
    }
    (PathBuf::from(base), 0)
}

/// Order files so that each rotated set reads oldest first (`.3.gz`, `.2.gz`, `.1`, base).
pub fn sort_rotated(files: &mut [PathBuf]) {
    files.sort_by(|a, b| {
        let (ba, na) = rotation_key(a);
        let (bb, nb) = rotation_key(b);
        ba.cmp(&bb).then(nb.cmp(&na)).then(a.cmp(b))
    });
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

/// Open an input as a byte stream (decompressing as needed). For stdin the compression is
/// sniffed from the first bytes.
pub fn open(input: &Input) -> io::Result<Box<dyn Read + Send>> {
    match &input.source {
        Source::Stdin => {
            let mut stdin = io::stdin();
            let mut head = [0u8; 4];
            let n = read_full(&mut stdin, &mut head)?;
            let comp = Compression::sniff(&head[..n]);
            let chained = io::Cursor::new(head[..n].to_vec()).chain(stdin);
            wrap(Box::new(chained), comp)
        }
        Source::File(p) => {
            let f = File::open(p)?;
            wrap(Box::new(f), input.compression)
        }
    }
}

/// Decompress a byte stream as `comp` says.
pub fn wrap(r: Box<dyn Read + Send>, comp: Compression) -> io::Result<Box<dyn Read + Send>> {
    Ok(match comp {
        Compression::None => r,
        // bufread: zlib-rs reads straight from our buffer (the read:: decoder would add its
        // own 32 KiB buffer and a copy)
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(
            io::BufReader::with_capacity(256 * 1024, r),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    })
}

/// Open a byte range `[start, end)` of an uncompressed file.
pub fn open_range(path: &Path, start: u64, end: u64) -> io::Result<impl Read + Send> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    Ok(f.take(end.saturating_sub(start)))
}

/// Split an uncompressed file into about `n` ranges that start at line boundaries.
pub fn plan_chunks(path: &Path, size: u64, n: usize) -> io::Result<Vec<(u64, u64)>> {
    if n <= 1 || size == 0 {
        return Ok(vec![(0, size)]);
    }
    let mut f = File::open(path)?;
    let mut starts = vec![0u64];
    let mut buf = vec![0u8; 64 * 1024];
    for k in 1..n {
        let nominal = size * k as u64 / n as u64;
        let prev = *starts.last().unwrap_or(&0);
        if nominal <= prev {
            continue;
        }
        // find the first newline at or after nominal-1
        let mut pos = nominal - 1;
        let mut boundary = None;
        while pos < size {
            f.seek(SeekFrom::Start(pos))?;
            let got = read_full(&mut f, &mut buf)?;
            if got == 0 {
                break;
            }
            if let Some(i) = memchr(b'\n', &buf[..got]) {
                boundary = Some(pos + i as u64 + 1);
                break;
            }
            pos += got as u64;
        }
        match boundary {
            Some(b) if b < size && b > prev => starts.push(b),
            _ => break,
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(size);
        out.push((*s, e));
    }
    Ok(out)
}

/// One framed physical line handed to the consumer.
pub enum LineItem<'a> {
    /// A line without its terminator (`\n` or `\r\n`).
    Line {
        bytes: &'a [u8],
        line_no: u64,
        offset: u64,
    },
    /// A line longer than the limit: its bytes were not kept.
    TooLong { line_no: u64, offset: u64, len: u64 },
}

/// Reads a stream in large blocks and hands out lines that borrow the block. The unread tail
/// of a block rolls forward; a line longer than `max_line` is reported as [`LineItem::TooLong`]
/// without being buffered whole.
pub struct LineReader {
    buf: Vec<u8>,
    block: usize,
    max_line: usize,
}

impl LineReader {
    pub fn new(block: usize, max_line: usize) -> Self {
        let block = block.max(16);
        let max_line = max_line.max(1);
        LineReader {
            buf: Vec::with_capacity(block + max_line.min(block)),
            block,
            max_line,
        }
    }

    /// Feed every line of `r` to `f`. `first_line` and `first_offset` number the first line
    /// (1-based line numbers; absolute byte offsets). Returns the number of lines and bytes
    /// read. An I/O error (for example a truncated gzip) ends the stream after every complete
    /// line before it was handed out, and a final unterminated fragment is handed out too.
    pub fn run<R: Read, F: FnMut(LineItem<'_>)>(
        &mut self,
        mut r: R,
        first_line: u64,
        first_offset: u64,
        mut f: F,
    ) -> (u64, u64, Option<io::Error>) {
        let mut line_no = first_line;
        let mut offset = first_offset; // absolute offset of buf[0]
        let mut skipping: Option<(u64, u64)> = None; // (offset, len so far) of an overlong line
                                                     // `buf` only grows (zero-filled once); `filled` is how much of it holds data
        let mut filled = 0usize;
        let mut err = None;
        loop {
            // fill
            let old = filled;
            let need = old + self.block;
            if self.buf.len() < need {
                self.buf.resize(need, 0);
            }
            let got = loop {
                match r.read(&mut self.buf[old..need]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        err = Some(e);
                        break 0;
                    }
                }
            };
            filled = old + got;
            let eof = got == 0;
            // hand out complete lines
            let mut start = 0usize;
            let data = &self.buf[..filled];
            let mut search_from = old;
            loop {
                let Some(i) = memchr(b'\n', &data[search_from..]) else {
                    break;
                };
                let nl = search_from + i;
                if let Some((off, len)) = skipping.take() {
                    f(LineItem::TooLong {
                        line_no,
                        offset: off,
                        len: len + (nl - start) as u64,
                    });
                } else if nl - start > self.max_line {
                    f(LineItem::TooLong {
                        line_no,
                        offset: offset + start as u64,
                        len: (nl - start) as u64,
                    });
                } else {
                    let mut line = &data[start..nl];
                    if let [rest @ .., b'\r'] = line {
                        line = rest;
                    }
                    f(LineItem::Line {
                        bytes: line,
                        line_no,
                        offset: offset + start as u64,
                    });
                }
                line_no += 1;
                start = nl + 1;
                search_from = start;
            }
            if eof {
                if start < filled || skipping.is_some() {
                    let tail = &self.buf[start..filled];
                    if let Some((off, len)) = skipping.take() {
                        f(LineItem::TooLong {
                            line_no,
                            offset: off,
                            len: len + tail.len() as u64,
                        });
                    } else if tail.len() > self.max_line {
                        f(LineItem::TooLong {
                            line_no,
                            offset: offset + start as u64,
                            len: tail.len() as u64,
                        });
                    } else {
                        let mut line = tail;
                        if let [rest @ .., b'\r'] = line {
                            line = rest;
                        }
                        f(LineItem::Line {
                            bytes: line,
                            line_no,
                            offset: offset + start as u64,
                        });
                    }
                    line_no += 1;
                }
                offset += filled as u64;
                break;
            }
            // roll the tail forward
            let tail_len = filled - start;
            if skipping.is_some() || tail_len > self.max_line {
                // overlong: drop what we have, remember where it started
                let (off, len) = skipping.unwrap_or((offset + start as u64, 0));
                skipping = Some((off, len + tail_len as u64));
                offset += filled as u64;
                filled = 0;
            } else {
                self.buf.copy_within(start..filled, 0);
                filled = tail_len;
                offset += start as u64;
            }
        }
        (line_no - first_line, offset - first_offset, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glob expansion `analyze` and `live` share: rotation order, one-line problems.
    #[test]
    fn glob_paths_in_rotation_order_or_a_one_line_problem() {
        let d = tempfile::tempdir().unwrap();
        for n in ["x.log", "x.log.1", "x.log.2.gz", "y.log"] {
            std::fs::write(d.path().join(n), "a\n").unwrap();
        }
        let pat = format!("{}/x.log*", d.path().display());
        let got: Vec<String> = glob_paths(&pat)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["x.log.2.gz", "x.log.1", "x.log"]);
        let none = format!("{}/z*.log", d.path().display());
        assert_eq!(
            glob_paths(&none).unwrap_err(),
            "the pattern matches no file; check the path and quoting"
        );
        let bad = glob_paths("a[").unwrap_err();
        assert!(bad.starts_with("invalid glob pattern: "), "{bad}");
        assert!(!has_glob_meta("access.log") && has_glob_meta("access.log.*"));
    }

    /// The sample detection sniffs: the whole of a short input; 64 KiB of a long one, more
    /// when its first lines are long.
    #[test]
    fn read_head_extends_over_long_first_lines() {
        let short = b"a\nb\n".to_vec();
        assert_eq!(read_head(&mut &short[..]).unwrap(), (short.clone(), true));
        let many = "x\n".repeat(100_000);
        let (h, complete) = read_head(&mut many.as_bytes()).unwrap();
        assert_eq!((h.len(), complete), (SNIFF_BYTES, false));
        let long = format!("{}\n", "y".repeat(300_000)).repeat(7);
        let (h, complete) = read_head(&mut long.as_bytes()).unwrap();
        assert!(!complete);
        assert!(memchr::memchr_iter(b'\n', &h).count() >= 4, "{}", h.len());
    }

    fn collect(data: &[u8], block: usize, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut lr = LineReader::new(block, max);
        lr.run(data, 1, 0, |it| match it {
            LineItem::Line {
                bytes,
                line_no,
                offset,
            } => out.push(format!(
                "{line_no}@{offset}:{}",
                String::from_utf8_lossy(bytes)
            )),
            LineItem::TooLong {
                line_no,
                offset,
                len,
            } => out.push(format!("{line_no}@{offset}:TOOLONG{len}")),
        });
        out
    }

    #[test]
    fn same_lines_whatever_the_block_size() {
        let data = b"a\r\nbb\n\nccc\nlast";
        let want = collect(data, 1 << 20, 1 << 20);
        assert_eq!(
            want,
            vec!["1@0:a", "2@3:bb", "3@6:", "4@7:ccc", "5@11:last"]
        );
        for block in [16, 17, 19, 23] {
            assert_eq!(collect(data, block, 1 << 20), want, "block {block}");
        }
    }

    #[test]
    fn overlong_lines_are_reported_not_buffered() {
        let mut data = Vec::new();
        data.extend_from_slice(b"ok\n");
        data.extend(std::iter::repeat_n(b'x', 100));
        data.extend_from_slice(b"\nfine\n");
        for block in [16, 32, 1000] {
            let got = collect(&data, block, 40);
            assert_eq!(
                got,
                vec!["1@0:ok", "2@3:TOOLONG100", "3@104:fine"],
                "block {block}"
            );
        }
    }

    #[test]
    fn rotation_order() {
        let mut v: Vec<PathBuf> = [
            "a/access.log",
            "a/access.log.1",
            "a/access.log.2.gz",
            "a/access.log.10.gz",
            "a/error.log",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        sort_rotated(&mut v);
        let s: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            s,
            vec![
                "a/access.log.10.gz",
                "a/access.log.2.gz",
                "a/access.log.1",
                "a/access.log",
                "a/error.log"
            ]
        );
        // kubelet's rotated container logs: the time of rotation in the name
        let mut v: Vec<PathBuf> = [
            "pods/p/c/0.log",
            "pods/p/c/0.log.20261205-151500",
            "pods/p/c/0.log.20261204-235959.gz",
            "pods/p/c/0.log.20261205-090000.gz",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        sort_rotated(&mut v);
        let s: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            s,
            vec![
                "pods/p/c/0.log.20261204-235959.gz",
                "pods/p/c/0.log.20261205-090000.gz",
                "pods/p/c/0.log.20261205-151500",
                "pods/p/c/0.log",
            ]
        );
    }
}
