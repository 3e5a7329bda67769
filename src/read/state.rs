//! `--state FILE`: incremental runs. Per input file the state remembers its identity (device,
//! inode, and a fingerprint of its first bytes) and how far it was analysed (bytes of its
//! content, lines); the next run reads only what came after. Rotation keeps the place: a
//! file renamed to `.1` keeps its inode, a file compressed to `.2.gz` keeps its first bytes
//! (the fingerprint is taken over the decompressed content). A file that shrank, or whose
//! first bytes changed under the same inode (`copytruncate`), is read from the start.
//!
//! The state is written only after the run's outputs, to a temporary file that is then
//! renamed over the old one: a run killed at any moment leaves the previous state whole, and
//! running again analyses the same bytes again, giving the same report.
//!
//! It also keeps a compact summary of recent timeline buckets (requests and 5xx) so that the
//! incident baseline of a short nightly run is the service's usual error rate of the days
//! before, not only that of the new bytes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use gatelog_parsers::Format;
use serde::{Deserialize, Serialize};

use crate::exit::UserError;
use crate::read::input::{self, Compression, Input, Source};
use crate::read::run_ctx::RunCtx;
use crate::read::seek::{self, Bounds};
use crate::units::rfc3339;

pub const VERSION: u32 = 1;
/// Bytes of a file's (decompressed) beginning that identify it.
pub const FP_LEN: usize = 1024;
/// A fingerprint shorter than this identifies a file only together with its inode.
const FP_MIN_ALONE: u32 = 32;
/// Recent timeline rows kept for baselines.
pub const RECENT_MAX: usize = 2880;
/// Recent rows older than this before the newest are dropped.
const RECENT_SPAN_S: i64 = 8 * 86400;
/// Entries of files not seen for this long are forgotten.
const FORGET_AFTER_S: i64 = 30 * 86400;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    pub updated: Option<String>,
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub recent: Vec<RecentRow>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Where it was last seen (informational: identity is device, inode and fingerprint).
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    /// FNV-1a 64 of the first `fp_len` bytes of the content.
    pub fp: u64,
    pub fp_len: u32,
    /// Bytes of content analysed (decompressed bytes for a compressed file).
    pub offset: u64,
    /// Lines in those bytes.
    pub lines: u64,
    pub compressed: bool,
    /// Size on disk when last read; with `complete`, a compressed file of this size needs
    /// no reading.
    pub disk_size: u64,
    /// A compressed file read to its end.
    pub complete: bool,
    /// Unix seconds when last seen.
    pub seen_s: i64,
}

/// One timeline bucket of an earlier run: start (Unix seconds), width, requests and 5xx.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecentRow {
    pub start_s: i64,
    pub width_s: i64,
    pub requests: u64,
    pub err5xx: u64,
}

fn fnv(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Read a state file; a missing one is an empty state.
pub fn load(path: &Path) -> Result<State, UserError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(State {
                version: VERSION,
                ..Default::default()
            })
        }
        Err(e) => {
            return Err(UserError(format!(
                "{}: cannot read the state file: {e}; check its permissions",
                path.display()
            )))
        }
    };
    let st: State = serde_json::from_slice(&data).map_err(|e| {
        UserError(format!(
            "{}: not a gatelog state file ({e}); remove it to start over (the next run reads every input from the start)",
            path.display()
        ))
    })?;
    if st.version != VERSION {
        return Err(UserError(format!(
            "{}: state version {} is not {VERSION}; remove it to start over",
            path.display(),
            st.version
        )));
    }
    Ok(st)
}

/// Write the state atomically: a temporary file in the same directory, flushed to disk,
/// renamed over the old one.
pub fn save(path: &Path, st: &State) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let data = serde_json::to_vec_pretty(st).map_err(io::Error::other)?;
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&data)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        drop(f);
        if std::env::var_os("GATELOG_CRASH_IN_STATE").is_some() {
            // tests: a crash with the new state half written
            std::process::abort();
        }
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Identity of a file now: device, inode and its first bytes (decompressed).
#[derive(Clone, Debug)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub head: Vec<u8>,
}

pub fn identify(inp: &Input) -> io::Result<Identity> {
    let Source::File(p) = &inp.source else {
        return Err(io::Error::other("stdin has no identity"));
    };
    let meta = std::fs::metadata(p)?;
    let (dev, ino) = dev_ino(&meta);
    let mut r = input::open(inp)?;
    let mut head = vec![0u8; FP_LEN];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if n > 0 => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    head.truncate(n);
    Ok(Identity { dev, ino, head })
}

#[cfg(unix)]
fn dev_ino(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn dev_ino(_m: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

impl FileEntry {
    fn fp_matches(&self, head: &[u8]) -> bool {
        (self.fp_len as usize) <= head.len() && fnv(&head[..self.fp_len as usize]) == self.fp
    }
}

/// What the state says about one chosen input.
#[derive(Clone, Debug)]
struct InputPlan {
    ident: Identity,
    /// Index of the matched entry.
    matched: Option<usize>,
    bounds: Bounds,
}

/// The state of an incremental run: loaded before, committed after the outputs.
pub struct Plan {
    path: PathBuf,
    state: State,
    chosen: Vec<Input>,
    inputs: Vec<Option<InputPlan>>,
    /// What the reader should know (files read from the start after truncation...).
    pub notes: Vec<String>,
    /// The run's reading state: how far compressed inputs were decompressed.
    ctx: std::sync::Arc<RunCtx>,
}

/// Match every chosen input to the state and decide where its reading starts.
pub fn plan(
    path: &Path,
    chosen: &[(Input, Format)],
    ctx: std::sync::Arc<RunCtx>,
) -> Result<Plan, UserError> {
    let state = load(path)?;
    let mut used = vec![false; state.files.len()];
    let mut inputs = Vec::with_capacity(chosen.len());
    let mut notes = Vec::new();
    for (inp, _) in chosen {
        let Source::File(p) = &inp.source else {
            return Err(UserError(
                "--state reads files only: stdin cannot be resumed; name the log files instead"
                    .into(),
            ));
        };
        let ident = match identify(inp) {
            Ok(i) => i,
            Err(_) => {
                // unreadable now: the run reports it; nothing to plan
                inputs.push(None);
                continue;
            }
        };
        let compressed = inp.compression != Compression::None;
        // the same inode with the same first bytes, else the same first bytes anywhere
        // (a renamed or compressed rotation), preferring the same path
        let by_inode = state.files.iter().enumerate().position(|(i, e)| {
            !used[i] && e.dev == ident.dev && e.ino == ident.ino && e.fp_matches(&ident.head)
        });
        let by_fp = || {
            let cands = state.files.iter().enumerate().filter(|(i, e)| {
                !used[*i] && e.fp_len >= FP_MIN_ALONE && e.fp_matches(&ident.head)
            });
            let mut best = None;
            for (i, e) in cands {
                if best.is_none() || e.path == inp.name {
                    best = Some(i);
                }
            }
            best
        };
        let matched = by_inode.or_else(by_fp);
        if matched.is_none()
            && state
                .files
                .iter()
                .any(|e| e.dev == ident.dev && e.ino == ident.ino && e.offset > 0 && !e.compressed)
        {
            notes.push(format!(
                "{}: its first bytes changed since the last run (truncated by copytruncate, or replaced): read from the start",
                inp.name
            ));
        }
        let mut bounds = Bounds::default();
        if let Some(i) = matched {
            used[i] = true;
            let e = &state.files[i];
            if compressed {
                if e.compressed && e.complete && e.disk_size == inp.size {
                    bounds.nothing = true;
                }
                bounds.start = e.offset;
                bounds.line_base = e.lines;
            } else if inp.size < e.offset {
                notes.push(format!(
                    "{}: shorter than the {} bytes analysed before (truncated by copytruncate?): read from the start",
                    inp.name, e.offset
                ));
            } else {
                bounds.start = e.offset;
                bounds.line_base = e.lines;
            }
        }
        if !compressed {
            // stop after the last complete line: a line being written is read next time
            bounds.end =
                Some(seek::last_boundary(p, bounds.start, inp.size).unwrap_or(bounds.start));
        }
        inputs.push(Some(InputPlan {
            ident,
            matched,
            bounds,
        }));
    }
    Ok(Plan {
        path: path.to_path_buf(),
        state,
        chosen: chosen.iter().map(|(i, _)| i.clone()).collect(),
        inputs,
        notes,
        ctx,
    })
}

/// What a run read, as the state needs it to advance (the report's inputs and timeline,
/// without the report: reading sits below analysis).
#[derive(Clone, Debug, Default)]
pub struct RunRead {
    pub inputs: Vec<InputRead>,
    /// Width of the timeline's buckets, seconds.
    pub bucket_seconds: i64,
    pub rows: Vec<RowRead>,
}

/// One input of a run: its lines, and whether it was read without error.
#[derive(Clone, Debug)]
pub struct InputRead {
    pub path: String,
    pub lines: u64,
    pub ok: bool,
}

/// One timeline bucket of a run.
#[derive(Clone, Copy, Debug)]
pub struct RowRead {
    pub start_us: i64,
    pub requests: u64,
    pub err5xx: u64,
}

impl Plan {
    /// Bounds for each chosen input, in order.
    pub fn bounds(&self) -> Vec<Option<Bounds>> {
        self.inputs
            .iter()
            .map(|p| p.as_ref().map(|p| p.bounds.clone()))
            .collect()
    }

    /// Error signal of recent buckets of earlier runs (5xx, requests), for baselines.
    pub fn prior(&self) -> Vec<(u64, u64)> {
        self.state
            .recent
            .iter()
            .map(|r| (r.err5xx, r.requests))
            .collect()
    }

    /// After the outputs are written: advance every input read without error and write
    /// the state atomically.
    pub fn commit(self, read: &RunRead) -> Result<(), UserError> {
        let path = self.path.clone();
        self.commit_io(read).map_err(|e| {
            UserError(format!(
                "{}: cannot write the state file: {e}; the next run reads the same bytes again",
                path.display()
            ))
        })
    }

    fn commit_io(self, read: &RunRead) -> io::Result<()> {
        if std::env::var_os("GATELOG_CRASH_BEFORE_STATE").is_some() {
            // tests: a crash after the outputs were written, before the state was
            std::process::abort();
        }
        let now_s = chrono::Utc::now().timestamp();
        let Plan {
            path,
            mut state,
            inputs,
            chosen,
            ctx,
            ..
        } = self;
        let mut fresh: Vec<FileEntry> = Vec::new();
        let mut replaced = vec![false; state.files.len()];
        for (inp, plan) in chosen.iter().zip(inputs) {
            let Some(plan) = plan else { continue };
            let rep = read.inputs.iter().find(|r| r.path == inp.name);
            let ok = rep.is_some_and(|r| r.ok);
            let lines = rep.map_or(0, |r| r.lines);
            let compressed = inp.compression != Compression::None;
            let old = plan.matched.and_then(|i| state.files.get(i).cloned());
            if !ok {
                continue; // keep the old entry, if any: this file is read again next time
            }
            let offset = if plan.bounds.nothing {
                old.as_ref().map_or(0, |e| e.offset)
            } else if compressed {
                match ctx.decompressed_len(inp.id) {
                    Some(n) => n,
                    None => continue,
                }
            } else {
                plan.bounds.end.unwrap_or(inp.size)
            };
            if offset == 0 {
                continue;
            }
            if let Some(i) = plan.matched {
                if let Some(r) = replaced.get_mut(i) {
                    *r = true;
                }
            }
            let fp_len = plan.ident.head.len().min(FP_LEN);
            fresh.push(FileEntry {
                path: inp.name.clone(),
                dev: plan.ident.dev,
                ino: plan.ident.ino,
                fp: fnv(&plan.ident.head[..fp_len]),
                fp_len: fp_len as u32,
                offset,
                lines: if plan.bounds.nothing {
                    old.as_ref().map_or(0, |e| e.lines)
                } else {
                    plan.bounds.line_base + lines
                },
                compressed,
                disk_size: inp.size,
                complete: compressed,
                seen_s: now_s,
            });
        }
        let mut files: Vec<FileEntry> = state
            .files
            .into_iter()
            .zip(replaced)
            .filter(|(e, r)| !r && now_s - e.seen_s < FORGET_AFTER_S)
            .map(|(e, _)| e)
            .collect();
        files.extend(fresh);
        state.files = files;
        // recent buckets
        let w = read.bucket_seconds;
        for row in &read.rows {
            if row.requests > 0 {
                state.recent.push(RecentRow {
                    start_s: row.start_us.div_euclid(1_000_000),
                    width_s: w,
                    requests: row.requests,
                    err5xx: row.err5xx,
                });
            }
        }
        state.recent.sort_by_key(|r| r.start_s);
        if let Some(newest) = state.recent.last().map(|r| r.start_s) {
            state.recent.retain(|r| r.start_s >= newest - RECENT_SPAN_S);
        }
        let extra = state.recent.len().saturating_sub(RECENT_MAX);
        state.recent.drain(..extra);
        state.version = VERSION;
        state.updated = Some(rfc3339(now_s * 1_000_000));
        save(&path, &state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_is_atomic_and_load_reads_it_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("gatelog.state");
        assert_eq!(load(&p).unwrap().files.len(), 0);
        let st = State {
            version: VERSION,
            updated: None,
            files: vec![FileEntry {
                path: "a.log".into(),
                dev: 1,
                ino: 2,
                fp: fnv(b"abc"),
                fp_len: 3,
                offset: 10,
                lines: 2,
                compressed: false,
                disk_size: 10,
                complete: false,
                seen_s: 0,
            }],
            recent: vec![],
        };
        save(&p, &st).unwrap();
        assert_eq!(load(&p).unwrap(), st);
        // no temporary file is left behind
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::write(&p, b"{not json").unwrap();
        let e = load(&p).unwrap_err().0;
        assert!(e.contains("remove it to start over"), "{e}");
    }

    #[test]
    fn fingerprints_match_prefixes() {
        let e = FileEntry {
            path: String::new(),
            dev: 0,
            ino: 0,
            fp: fnv(b"hello"),
            fp_len: 5,
            offset: 0,
            lines: 0,
            compressed: false,
            disk_size: 0,
            complete: false,
            seen_s: 0,
        };
        assert!(e.fp_matches(b"hello world"));
        assert!(!e.fp_matches(b"hell"));
        assert!(!e.fp_matches(b"jello world"));
    }
}
