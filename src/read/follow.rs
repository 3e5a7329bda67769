//! Following logs as they grow (`gatelog live`), with `tail -F` semantics: read what is
//! appended; on rotation by rename finish the old file (kept open until it has been quiet for
//! a while) and open the new one from its start; on truncation start again at 0 (after
//! reading the tail of a `copytruncate` copy we had not read yet); pick up new files in
//! followed directories. No line is lost or counted twice across a rotation.
//!
//! Also the pipe side: [`Splitter`] turns a byte stream into lines (a partial last line waits
//! for its newline) and [`PipeDemux`] follows `tail -F`'s `==> path <==` headers.
//!
//! This module does I/O only: lines go to a callback with the follower's id of their file.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memchr::memchr;

use crate::read::input::LineItem;

/// How long a renamed (rotated-away) file is still read after its last new byte: a writer
/// that has not reopened its log yet keeps appending to it.
pub const DRAIN_QUIET: Duration = Duration::from_secs(5);
/// Bytes read from one file in one pass; the caller comes back at once when more remain.
const READ_BUDGET: usize = 8 << 20;
/// Bytes remembered from just before the read position, to notice a file that was truncated
/// and written past our position between two looks.
const PRINT: usize = 32;

/// Turns a byte stream into lines. Lines are handed out without their terminator (`\n` or
/// `\r\n`); a line longer than `max_line` is reported as [`LineItem::TooLong`] without being
/// buffered whole; an unterminated last line waits for more bytes (or [`Splitter::finish`]).
#[derive(Debug)]
pub struct Splitter {
    partial: Vec<u8>,
    max_line: usize,
    /// (offset, length so far) of an overlong line being skipped.
    overlong: Option<(u64, u64)>,
    /// Number of the next line (1-based).
    pub line_no: u64,
    /// Byte offset of the start of the next (or partial) line.
    pub offset: u64,
}

impl Splitter {
    pub fn new(max_line: usize) -> Self {
        Splitter {
            partial: Vec::new(),
            max_line: max_line.max(1),
            overlong: None,
            line_no: 1,
            offset: 0,
        }
    }

    /// Start numbering at `line_no` and `offset` (a file opened at its end).
    pub fn starting_at(max_line: usize, line_no: u64, offset: u64) -> Self {
        let mut s = Splitter::new(max_line);
        s.line_no = line_no;
        s.offset = offset;
        s
    }

    /// Whether an unterminated line is waiting.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty() || self.overlong.is_some()
    }

    pub fn push(&mut self, data: &[u8], f: &mut dyn FnMut(LineItem<'_>)) {
        let mut rest = data;
        while let Some(i) = memchr(b'\n', rest) {
            let piece = &rest[..i];
            let len = match self.overlong {
                Some((_, n)) => n + piece.len() as u64,
                None => (self.partial.len() + piece.len()) as u64,
            };
            if let Some((off, _)) = self.overlong.take() {
                f(LineItem::TooLong {
                    line_no: self.line_no,
                    offset: off,
                    len,
                });
            } else if self.partial.is_empty() {
                if piece.len() > self.max_line {
                    f(LineItem::TooLong {
                        line_no: self.line_no,
                        offset: self.offset,
                        len,
                    });
                } else {
                    f(LineItem::Line {
                        bytes: strip_cr(piece),
                        line_no: self.line_no,
                        offset: self.offset,
                    });
                }
            } else if self.partial.len() + piece.len() > self.max_line {
                self.partial.clear();
                f(LineItem::TooLong {
                    line_no: self.line_no,
                    offset: self.offset,
                    len,
                });
            } else {
                self.partial.extend_from_slice(piece);
                f(LineItem::Line {
                    bytes: strip_cr(&self.partial),
                    line_no: self.line_no,
                    offset: self.offset,
                });
                self.partial.clear();
            }
            self.line_no += 1;
            self.offset += len + 1;
            rest = &rest[i + 1..];
        }
        if rest.is_empty() {
            return;
        }
        if let Some((_, n)) = &mut self.overlong {
            *n += rest.len() as u64;
        } else if self.partial.len() + rest.len() > self.max_line {
            let n = (self.partial.len() + rest.len()) as u64;
            self.partial.clear();
            self.overlong = Some((self.offset, n));
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// Hand out an unterminated last line (end of stream, or a file that was rotated away).
    pub fn finish(&mut self, f: &mut dyn FnMut(LineItem<'_>)) {
        if let Some((off, n)) = self.overlong.take() {
            f(LineItem::TooLong {
                line_no: self.line_no,
                offset: off,
                len: n,
            });
            self.line_no += 1;
            self.offset += n;
        } else if !self.partial.is_empty() {
            let n = self.partial.len() as u64;
            f(LineItem::Line {
                bytes: strip_cr(&self.partial),
                line_no: self.line_no,
                offset: self.offset,
            });
            self.partial.clear();
            self.line_no += 1;
            self.offset += n;
        }
    }
}

fn strip_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// The header `tail` writes when its output switches to another file: `==> path <==`.
pub fn tail_header(line: &[u8]) -> Option<&[u8]> {
    let inner = line.strip_prefix(b"==> ")?.strip_suffix(b" <==")?;
    if inner.is_empty() {
        None
    } else {
        Some(inner)
    }
}

/// Splits a pipe into lines and follows `tail -F` headers: each line is handed out with the
/// name of the file it came from (`-` before any header) and that file's own line numbers.
pub struct PipeDemux {
    split: Splitter,
    current: usize,
    /// (name, next line number, next offset) per file seen.
    names: Vec<(String, u64, u64)>,
    /// `tail` writes an empty line before every header but the first: held until the next
    /// line shows whether it was one.
    held_blank: Option<u64>,
}

impl PipeDemux {
    pub fn new(max_line: usize) -> Self {
        PipeDemux {
            split: Splitter::new(max_line),
            current: 0,
            names: vec![("-".to_string(), 1, 0)],
            held_blank: None,
        }
    }

    /// Name of a stream index handed to the callback.
    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map(|n| n.0.as_str()).unwrap_or("-")
    }

    pub fn push(&mut self, data: &[u8], f: &mut dyn FnMut(usize, LineItem<'_>)) {
        let PipeDemux {
            split,
            current,
            names,
            held_blank,
        } = self;
        split.push(data, &mut |item| {
            Self::route(current, names, held_blank, item, f)
        });
    }

    pub fn finish(&mut self, f: &mut dyn FnMut(usize, LineItem<'_>)) {
        let PipeDemux {
            split,
            current,
            names,
            held_blank,
        } = self;
        split.finish(&mut |item| Self::route(current, names, held_blank, item, f));
        if held_blank.take().is_some() {
            Self::emit(
                current,
                names,
                LineItem::Line {
                    bytes: b"",
                    line_no: 0,
                    offset: 0,
                },
                f,
            );
        }
    }

    fn route(
        current: &mut usize,
        names: &mut Vec<(String, u64, u64)>,
        held_blank: &mut Option<u64>,
        item: LineItem<'_>,
        f: &mut dyn FnMut(usize, LineItem<'_>),
    ) {
        if let LineItem::Line { bytes, .. } = &item {
            if let Some(h) = tail_header(bytes) {
                // the blank line before a header is tail's, not the file's
                *held_blank = None;
                let name = String::from_utf8_lossy(h).into_owned();
                *current = match names.iter().position(|n| n.0 == name) {
                    Some(i) => i,
                    None => {
                        names.push((name, 1, 0));
                        names.len() - 1
                    }
                };
                return;
            }
            if bytes.is_empty() && held_blank.is_none() {
                *held_blank = Some(0);
                return;
            }
        }
        if held_blank.take().is_some() {
            Self::emit(
                current,
                names,
                LineItem::Line {
                    bytes: b"",
                    line_no: 0,
                    offset: 0,
                },
                f,
            );
        }
        Self::emit(current, names, item, f);
    }

    /// Hand out a line renumbered in its own file's numbering.
    fn emit(
        current: &usize,
        names: &mut [(String, u64, u64)],
        item: LineItem<'_>,
        f: &mut dyn FnMut(usize, LineItem<'_>),
    ) {
        let Some(n) = names.get_mut(*current) else {
            return;
        };
        let (line_no, offset) = (n.1, n.2);
        match item {
            LineItem::Line { bytes, .. } => {
                n.1 += 1;
                n.2 += bytes.len() as u64 + 1;
                f(
                    *current,
                    LineItem::Line {
                        bytes,
                        line_no,
                        offset,
                    },
                );
            }
            LineItem::TooLong { len, .. } => {
                n.1 += 1;
                n.2 += len + 1;
                f(
                    *current,
                    LineItem::TooLong {
                        line_no,
                        offset,
                        len,
                    },
                );
            }
        }
    }
}

/// Identity of a file: (device, inode).
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(m: &fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_m: &fs::Metadata) -> FileId {
    (0, 0)
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    f.read_at(buf, at)
}

#[cfg(not(unix))]
fn read_at(_f: &File, _buf: &mut [u8], _at: u64) -> io::Result<usize> {
    Ok(0)
}

/// One open file being read.
struct Open {
    file: File,
    id: FileId,
    /// Which physical file (or, after a truncation, which content) of the followed path this
    /// is: lines are handed out with it, so multi-line records are framed per file and a
    /// rotated file's last record is never glued to the first lines of its successor.
    gen: u64,
    pos: u64,
    split: Splitter,
    /// The last bytes read (up to [`PRINT`]), ending at `pos`.
    print: Vec<u8>,
    last_data: Instant,
}

impl Open {
    fn new(file: File, id: FileId, gen: u64, pos: u64, split: Splitter) -> Self {
        Open {
            file,
            id,
            gen,
            pos,
            split,
            print: Vec::new(),
            last_data: Instant::now(),
        }
    }

    /// Read what is there (up to the budget). Returns (bytes read, more may remain).
    fn read_some(
        &mut self,
        buf: &mut [u8],
        f: &mut dyn FnMut(LineItem<'_>),
    ) -> io::Result<(u64, bool)> {
        if self.file.stream_position()? != self.pos {
            self.file.seek(SeekFrom::Start(self.pos))?;
        }
        let mut total = 0usize;
        loop {
            let n = match self.file.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            let data = &buf[..n];
            self.split.push(data, f);
            self.pos += n as u64;
            total += n;
            if n >= PRINT {
                self.print.clear();
                self.print.extend_from_slice(&data[n - PRINT..]);
            } else {
                self.print.extend_from_slice(data);
                let cut = self.print.len().saturating_sub(PRINT);
                self.print.drain(..cut);
            }
            if total >= READ_BUDGET {
                self.last_data = Instant::now();
                return Ok((total as u64, true));
            }
        }
        if total > 0 {
            self.last_data = Instant::now();
        }
        Ok((total as u64, false))
    }

    /// Whether the bytes before `pos` are still the ones we read (else the file was
    /// truncated and written again past our position).
    fn still_same(&self) -> bool {
        if self.print.is_empty() {
            return true;
        }
        let mut b = vec![0u8; self.print.len()];
        let at = self.pos - self.print.len() as u64;
        match read_at(&self.file, &mut b, at) {
            Ok(n) => n == b.len() && b == self.print,
            Err(_) => true,
        }
    }
}

/// What happened to a followed file, for the status line and stderr, and for framing
/// (the `gen` of a physical file's lines, see [`Follower::poll`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A new file appeared in a followed directory (id, path): read from its start.
    Added(usize, PathBuf),
    /// The file at the path was replaced (rotation by rename); the old one is drained.
    Rotated(usize, PathBuf),
    /// The file of generation `gen` left the path (renamed or deleted): it is read on until
    /// quiet, and no more lines of it are expected at the path (id, gen).
    Draining(usize, u64),
    /// The file was truncated (`copytruncate`); `recovered` bytes were read from the copy;
    /// the content of generation `gen` ended there (its last line has been handed out), the
    /// content written since comes under a new generation.
    Truncated(usize, PathBuf, u64, u64),
    /// A renamed file (generation `gen`) was quiet long enough and is closed: its last line
    /// has been handed out, no more lines of that generation will come.
    Finished(usize, PathBuf, u64),
    /// The path disappeared (waiting for it to come back).
    Gone(usize, PathBuf),
    /// The path could not be read.
    Error(usize, PathBuf, String),
}

/// A followed path.
struct Tracked {
    path: PathBuf,
    /// Found in a directory (as opposed to named on the command line).
    from_dir: bool,
    open: Option<Open>,
    /// Rotated-away files still read until quiet.
    draining: Vec<Open>,
    /// Stopped following (not a log).
    dropped: bool,
    /// Reported as gone already.
    gone: bool,
    error_reported: bool,
}

/// Follows files and directories.
pub struct Follower {
    files: Vec<Tracked>,
    dirs: Vec<PathBuf>,
    max_line: usize,
    buf: Vec<u8>,
    /// Identities of files that belong to a followed path (current or draining) or were
    /// dropped, so a renamed file showing up under a new name in a followed directory is
    /// not read twice.
    known: HashSet<FileId>,
    /// Paths in followed directories decided against (rotated names, compressed, not logs).
    ignored: HashSet<PathBuf>,
    /// Generation of the next file opened (unique across all followed paths).
    next_gen: u64,
}

/// Whether a file name looks like a rotated or compressed copy (`x.log.1`, `x.log.2.gz`,
/// `x.log-20261123`): those are another file's past, not a log to follow.
pub fn is_rotated_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if [".gz", ".zst", ".zstd", ".bz2", ".xz", ".lz4"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return true;
    }
    if crate::read::input::rotation_key(p).1 > 0 {
        return true;
    }
    // logrotate dateext: -YYYYMMDD (optionally -HH...)
    if let Some(i) = name.rfind('-') {
        let tail = &name[i + 1..];
        let digits = tail.bytes().take_while(|c| c.is_ascii_digit()).count();
        if digits >= 8 && (digits == tail.len() || tail[digits..].starts_with('.')) {
            return true;
        }
    }
    false
}

impl Follower {
    pub fn new(max_line: usize) -> Self {
        Follower {
            files: Vec::new(),
            dirs: Vec::new(),
            max_line,
            buf: vec![0u8; 256 * 1024],
            known: HashSet::new(),
            ignored: HashSet::new(),
            next_gen: 0,
        }
    }

    /// Directories watched for new files.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Directories that hold followed files (for change notifications).
    pub fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.dirs.clone();
        for t in &self.files {
            let parent = match t.path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !v.contains(&parent) {
                v.push(parent);
            }
        }
        v
    }

    pub fn path(&self, id: usize) -> Option<&Path> {
        self.files.get(id).map(|t| t.path.as_path())
    }

    /// Follow a file. `from_end`: start at the end of what is there now (`tail -F -n 0`);
    /// else read it from its start. A path that does not exist yet is waited for. Returns
    /// the follower's id of the file.
    pub fn add_file(&mut self, path: &Path, from_end: bool, from_dir: bool) -> usize {
        let id = self.files.len();
        let mut t = Tracked {
            path: path.to_path_buf(),
            from_dir,
            open: None,
            draining: Vec::new(),
            dropped: false,
            gone: false,
            error_reported: false,
        };
        if let Ok(file) = File::open(path) {
            if let Ok(m) = file.metadata() {
                let fid = file_id(&m);
                self.known.insert(fid);
                let (pos, line_no) = if from_end {
                    start_of_last_line(&file, m.len())
                } else {
                    (0, 1)
                };
                let split = Splitter::starting_at(self.max_line, line_no, pos);
                let gen = self.next_gen;
                self.next_gen += 1;
                let mut o = Open::new(file, fid, gen, pos, split);
                if pos > 0 {
                    let n = (pos as usize).min(PRINT);
                    let mut b = vec![0u8; n];
                    if let Ok(k) = read_at(&o.file, &mut b, pos - n as u64) {
                        b.truncate(k);
                        if k == n {
                            o.print = b;
                        }
                    }
                }
                t.open = Some(o);
            }
        }
        self.files.push(t);
        id
    }

    /// Follow a directory: its log files now (from their end, or start), and new ones as
    /// they appear (from their start). Returns the ids of the files found now.
    pub fn add_dir(&mut self, dir: &Path, from_end: bool) -> Vec<(usize, PathBuf)> {
        if !self.dirs.iter().any(|d| d == dir) {
            self.dirs.push(dir.to_path_buf());
        }
        let mut out = Vec::new();
        for p in list_dir(dir) {
            if let Some(id) = self.consider(&p, from_end) {
                out.push((id, p));
            }
        }
        out
    }

    /// A file found in a directory: follow it unless it is a rotated copy, already followed
    /// (under this or another name), or was decided against.
    fn consider(&mut self, p: &Path, from_end: bool) -> Option<usize> {
        if self.ignored.contains(p) || self.files.iter().any(|t| t.path == p) {
            return None;
        }
        if is_rotated_name(p) {
            self.ignored.insert(p.to_path_buf());
            return None;
        }
        let m = fs::metadata(p).ok()?;
        if !m.is_file() {
            return None;
        }
        if self.known.contains(&file_id(&m)) {
            // a followed file that was renamed into this name
            self.ignored.insert(p.to_path_buf());
            return None;
        }
        Some(self.add_file(p, from_end, true))
    }

    /// Stop following a file (not a log); it is not picked up again.
    pub fn drop_file(&mut self, id: usize) {
        if let Some(t) = self.files.get_mut(id) {
            t.dropped = true;
            if let Some(o) = t.open.take() {
                self.known.insert(o.id);
            }
            t.draining.clear();
            self.ignored.insert(t.path.clone());
        }
    }

    /// Look for new files in followed directories.
    pub fn rescan(&mut self, notices: &mut Vec<Notice>) {
        let dirs = self.dirs.clone();
        for d in dirs {
            for p in list_dir(&d) {
                if let Some(id) = self.consider(&p, false) {
                    notices.push(Notice::Added(id, p));
                }
            }
        }
    }

    /// Read everything appended to every followed file, handling rotation and truncation.
    /// Lines go to `f(id, gen, line)`: `gen` names the physical file (a rotated file and its
    /// successor are read side by side for a while, so their lines may interleave); the
    /// end of a generation is told by [`Notice::Finished`] or [`Notice::Truncated`].
    /// Returns true when some file has more to read right away (a budget was reached).
    pub fn poll(
        &mut self,
        notices: &mut Vec<Notice>,
        f: &mut dyn FnMut(usize, u64, LineItem<'_>),
    ) -> bool {
        let mut more = false;
        let now = Instant::now();
        let max_line = self.max_line;
        for id in 0..self.files.len() {
            let Follower {
                files,
                buf,
                known,
                next_gen,
                ..
            } = self;
            let Some(t) = files.get_mut(id) else {
                continue;
            };
            if t.dropped {
                continue;
            }
            // renamed files: read on until quiet
            let mut k = 0;
            while k < t.draining.len() {
                let o = &mut t.draining[k];
                let gen = o.gen;
                let r = o.read_some(buf, &mut |item| f(id, gen, item));
                if let Ok((_, m)) = r {
                    more |= m;
                }
                if r.is_err() || now.duration_since(o.last_data) >= DRAIN_QUIET {
                    let mut o = t.draining.remove(k);
                    o.split.finish(&mut |item| f(id, gen, item));
                    notices.push(Notice::Finished(id, t.path.clone(), gen));
                } else {
                    k += 1;
                }
            }
            // the current file: truncated since we last looked? then read what was added
            if let Some(o) = &mut t.open {
                let len = o.file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
                if len < o.pos || !o.still_same() {
                    // first the bytes of a copytruncate copy we had not read, then the file
                    // from its start, as a new generation
                    let gen = o.gen;
                    let rec = recover_copy(&t.path, o, buf, &mut |item| f(id, gen, item));
                    o.split.finish(&mut |item| f(id, gen, item));
                    o.split = Splitter::new(max_line);
                    o.pos = 0;
                    o.print.clear();
                    o.gen = *next_gen;
                    *next_gen += 1;
                    notices.push(Notice::Truncated(id, t.path.clone(), rec, gen));
                }
                let gen = o.gen;
                match o.read_some(buf, &mut |item| f(id, gen, item)) {
                    Ok((_, m)) => more |= m,
                    Err(e) => {
                        if !t.error_reported {
                            notices.push(Notice::Error(id, t.path.clone(), e.to_string()));
                            t.error_reported = true;
                        }
                    }
                }
            }
            // what is at the path now?
            match fs::metadata(&t.path) {
                Err(_) => {
                    if let Some(o) = t.open.take() {
                        // renamed away (or deleted): drain it like a rotated file
                        notices.push(Notice::Draining(id, o.gen));
                        t.draining.push(o);
                    }
                    if !t.gone {
                        t.gone = true;
                        notices.push(Notice::Gone(id, t.path.clone()));
                    }
                }
                Ok(m) if !m.is_file() => {}
                Ok(m) => {
                    let fid = file_id(&m);
                    t.gone = false;
                    let replaced = t.open.as_ref().is_some_and(|o| o.id != fid);
                    if replaced {
                        if let Some(o) = t.open.take() {
                            notices.push(Notice::Draining(id, o.gen));
                            t.draining.push(o);
                        }
                        notices.push(Notice::Rotated(id, t.path.clone()));
                    }
                    if t.open.is_none() {
                        let Ok(file) = File::open(&t.path) else {
                            continue;
                        };
                        // a new file at the path (after a rotation, or it appeared): from 0
                        let fid = file.metadata().map(|m| file_id(&m)).unwrap_or(fid);
                        known.insert(fid);
                        t.error_reported = false;
                        let gen = *next_gen;
                        *next_gen += 1;
                        let mut o = Open::new(file, fid, gen, 0, Splitter::new(max_line));
                        if let Ok((_, m)) = o.read_some(buf, &mut |item| f(id, gen, item)) {
                            more |= m;
                        }
                        t.open = Some(o);
                    }
                }
            }
        }
        more
    }

    /// Whether a tracked file came from a directory (as opposed to the command line).
    pub fn from_dir(&self, id: usize) -> bool {
        self.files.get(id).is_some_and(|t| t.from_dir)
    }
}

/// Files directly in a directory or below it, in name order (`.gatelogignore` honoured as
/// in `analyze`).
fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let (found, _) = crate::read::input::discover(&[dir.display().to_string()]);
    found
        .into_iter()
        .filter_map(|i| match i.source {
            crate::read::input::Source::File(p) => Some(p),
            crate::read::input::Source::Stdin => None,
        })
        .collect()
}

/// Where the last complete line of a file ends, and the number of the line after it.
fn start_of_last_line(file: &File, len: u64) -> (u64, u64) {
    // count lines so evidence keeps real line numbers
    let mut lines = 0u64;
    let mut last_nl: Option<u64> = None;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = match read_at(file, &mut buf, at) {
            Ok(0) | Err(_) => break,
            Ok(n) => n.min((len - at) as usize),
        };
        let chunk = &buf[..n];
        for i in memchr::memchr_iter(b'\n', chunk) {
            lines += 1;
            last_nl = Some(at + i as u64);
        }
        at += n as u64;
    }
    match last_nl {
        Some(p) => (p + 1, lines + 1),
        None => (0, 1),
    }
}

/// After a truncation: find the copy `copytruncate` made (a sibling named after the file,
/// such as `access.log.1` or `access.log-20261123`, whose bytes before our position are the
/// ones we read) and read what it holds past our position. Returns the bytes recovered.
fn recover_copy(path: &Path, o: &mut Open, buf: &mut [u8], f: &mut dyn FnMut(LineItem<'_>)) -> u64 {
    if o.print.is_empty() || o.pos == 0 {
        return 0;
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.to_string_lossy().into_owned();
    let Ok(rd) = fs::read_dir(dir) else {
        return 0;
    };
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n == name || !n.starts_with(&name) {
            continue;
        }
        let p = e.path();
        let Ok(m) = fs::metadata(&p) else { continue };
        if !m.is_file() || m.len() < o.pos || file_id(&m) == o.id {
            continue;
        }
        let Ok(file) = File::open(&p) else { continue };
        let mut b = vec![0u8; o.print.len()];
        let at = o.pos - o.print.len() as u64;
        if !matches!(read_at(&file, &mut b, at), Ok(k) if k == b.len() && b == o.print) {
            continue;
        }
        let t = m.modified().unwrap_or(std::time::UNIX_EPOCH);
        if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
            best = Some((t, p));
        }
    }
    let Some((_, p)) = best else { return 0 };
    let Ok(file) = File::open(&p) else { return 0 };
    let mut total = 0u64;
    let mut at = o.pos;
    loop {
        match read_at(&file, buf, at) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let data = &buf[..n];
                o.split.push(data, f);
                at += n as u64;
                total += n as u64;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut s = Splitter::new(max);
        let mut out = Vec::new();
        let mut f = |it: LineItem<'_>| match it {
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
            } => out.push(format!("{line_no}@{offset}:<{len}>")),
        };
        for c in chunks {
            s.push(c, &mut f);
        }
        s.finish(&mut f);
        out
    }

    #[test]
    fn splitter_waits_for_newlines_and_numbers_lines() {
        assert_eq!(
            lines_of(&[b"ab", b"c\nde\r\n", b"f"], 100),
            vec!["1@0:abc", "2@4:de", "3@8:f"]
        );
        // an overlong line split over pushes is reported once, not buffered
        assert_eq!(
            lines_of(&[b"0123", b"456789", b"ab\nok\n"], 5),
            vec!["1@0:<12>", "2@13:ok"]
        );
        assert_eq!(lines_of(&[b"0123456\nx"], 5), vec!["1@0:<7>", "2@8:x"]);
    }

    #[test]
    fn demux_follows_tail_headers() {
        let mut d = PipeDemux::new(1000);
        let mut out = Vec::new();
        let input: &[&[u8]] = &[
            b"==> a.log <==\nA1\nA2\n",
            b"\n==> b.log <==\nB1\n\n",
            b"B3\n\n==> a.log <==\nA3",
            b"\n",
        ];
        for c in input {
            d.push(c, &mut |i, it| {
                if let LineItem::Line { bytes, line_no, .. } = it {
                    out.push((i, line_no, String::from_utf8_lossy(bytes).into_owned()));
                }
            });
        }
        d.finish(&mut |_, _| {});
        let named: Vec<(String, u64, String)> = out
            .into_iter()
            .map(|(i, n, s)| (d.name(i).to_string(), n, s))
            .collect();
        let want: Vec<(String, u64, String)> = [
            ("a.log", 1, "A1"),
            ("a.log", 2, "A2"),
            ("b.log", 1, "B1"),
            ("b.log", 2, ""),
            ("b.log", 3, "B3"),
            ("a.log", 3, "A3"),
        ]
        .iter()
        .map(|(a, b, c)| (a.to_string(), *b, c.to_string()))
        .collect();
        assert_eq!(named, want);
    }

    #[test]
    fn rotated_names() {
        for n in [
            "a.log.1",
            "a.log.2.gz",
            "a.log-20261123",
            "a.log-20261123.gz",
            "x.zst",
        ] {
            assert!(is_rotated_name(Path::new(n)), "{n}");
        }
        for n in ["a.log", "error.log", "php8.2-fpm.log", "access-2.log"] {
            assert!(!is_rotated_name(Path::new(n)), "{n}");
        }
    }
}
