//! Shared helpers for tests that read the real-log corpus in place.
//!
//! The corpus lives outside the repository (`GATELOG_CORPUS`, `../shared/corpus` in CI) and
//! is never copied into it. When the variable is unset (a user's fresh clone), corpus tests
//! say plainly that they were skipped; when it is set and files are missing, they fail.
#![allow(dead_code)]

use std::path::PathBuf;

/// The corpus directory, or `None` (after printing a skip notice) when `GATELOG_CORPUS` is
/// unset. Panics when the variable is set but the directory is missing.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("GATELOG_CORPUS") {
        None => {
            eprintln!("SKIPPED {test}: GATELOG_CORPUS is not set (set it to ../shared/corpus to run the corpus tests)");
            None
        }
        Some(d) => {
            let p = PathBuf::from(d);
            assert!(
                p.is_dir(),
                "GATELOG_CORPUS={} is not a directory",
                p.display()
            );
            Some(p)
        }
    }
}

/// Every regular file in `GATELOG_CORPUS/sub`, sorted. `None` when the corpus is not
/// configured; panics when it is configured but `sub` is missing or empty.
pub fn corpus_files(test: &str, sub: &str) -> Option<Vec<PathBuf>> {
    let dir = corpus_dir(test)?.join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} unreadable: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus folder {} is empty",
        dir.display()
    );
    Some(files)
}

/// Split file bytes into lines (without `\n` / `\r\n`), the way the pipeline frames them.
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// One framed record: first line number (1-based), physical lines, and the bytes (lines
/// joined with `\n`).
pub struct Rec {
    pub line_no: usize,
    pub n_lines: usize,
    pub bytes: Vec<u8>,
}

/// Group lines into records with `starts_record` when the framing is multi-line.
pub fn frame(p: &dyn gatelog_parsers::LineParser, lines: &[&[u8]]) -> Vec<Rec> {
    let mut out: Vec<Rec> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let multi = p.framing() == gatelog_parsers::Framing::MultiLine;
        match out.last_mut() {
            Some(r) if multi && !p.starts_record(l) => {
                r.bytes.push(b'\n');
                r.bytes.extend_from_slice(l);
                r.n_lines += 1;
            }
            _ => out.push(Rec {
                line_no: i + 1,
                n_lines: 1,
                bytes: l.to_vec(),
            }),
        }
    }
    out
}
