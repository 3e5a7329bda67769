//! Issue 13: imports run one way. Reads every `src/<layer>/**/*.rs` and fails when a lower
//! layer names a higher one through `crate::` (outside `#[cfg(test)]` code):
//!
//! read < ingest < agg < analysis < sink < cli < cmd (< main)
//!
//! `cli` (clap definitions and the values typed at the edge) sits below `cmd`, which
//! orchestrates with them; root modules such as `exit` (exit statuses and the user error) are
//! shared by every layer. Nothing but `main` reaches into `cmd`.
//!
//! `KNOWN` lists the edges that still run the wrong way, each to be removed; an edge missing
//! from it fails, and so does an entry that no longer occurs (the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ORDER: &[&str] = &["read", "ingest", "agg", "analysis", "sink", "cli", "cmd"];

/// (file under src/, module it names): upward edges not yet removed.
const KNOWN: &[(&str, &str)] = &[
    // Ingest folds into the accumulators.
    ("ingest/dedup.rs", "acc"),
    ("ingest/pipeline.rs", "acc"),
    // The Parquet row hook's trait lives with the sink.
    ("ingest/pipeline.rs", "export"),
];

/// Module name -> layer, from the files: `src/<layer>/<name>.rs` and `src/<layer>/<name>/`.
fn layer_of_modules(src: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for l in ORDER {
        m.insert(l.to_string(), l.to_string());
        let Ok(rd) = fs::read_dir(src.join(l)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = if p.is_dir() {
                p.file_name().unwrap().to_string_lossy().into_owned()
            } else if p.extension().is_some_and(|x| x == "rs") {
                p.file_stem().unwrap().to_string_lossy().into_owned()
            } else {
                continue;
            };
            if name != "mod" {
                m.insert(name, l.to_string());
            }
        }
    }
    m
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without its `#[cfg(test)]` items (tests may use anything).
fn without_tests(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // Skip the item: to the end of its first balanced `{...}` block, or its `;`.
        let mut depth = 0usize;
        let mut end = after.len();
        for (k, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The entries of a path tail: `a::x` is one entry, `{a, b::y}` its top-level items.
fn entries(rest: &str) -> Vec<&str> {
    let Some(group) = rest.strip_prefix('{') else {
        return vec![rest];
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(&group[start..k]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&group[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let n = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..n]
}

/// Every module named through `crate::`: `crate::a::x`, `crate::{a, b::y}`. A layer's
/// module is named with its layer, `layer/module` (`crate::agg::acc::X` gives `agg/acc`,
/// `crate::agg::{acc, fine}` both), so edges keep naming the module, not only its layer.
fn crate_names(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        for e in entries(&code[i + "crate::".len()..]) {
            let head = ident(e);
            if head.is_empty() {
                continue;
            }
            let tail = e.trim_start()[head.len()..].trim_start();
            match tail.strip_prefix("::") {
                Some(sub) if ORDER.contains(&head) => {
                    for s in entries(sub.trim_start()) {
                        names.insert(format!("{head}/{}", ident(s)));
                    }
                }
                _ => {
                    names.insert(head.to_string());
                }
            }
        }
    }
    names
}

/// Upward edges of the tree at `root`: (file under src/, module named, its layer).
fn upward_edges(root: &Path) -> Vec<(String, String, String)> {
    let src = root.join("src");
    let layers = layer_of_modules(&src);
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut out = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Some(own) = rel.split('/').next().filter(|l| ORDER.contains(l)) else {
            continue; // main.rs, lib.rs and the shared root modules
        };
        if !rel.contains('/') {
            continue;
        }
        let own_rank = ORDER.iter().position(|l| *l == own).unwrap();
        let code = without_tests(&fs::read_to_string(&f).unwrap());
        for named in crate_names(&code) {
            // `layer/module`: the module when it is one of the layer's, else the layer itself.
            let name = match named.split_once('/') {
                Some((l, m)) if layers.get(m).is_some_and(|x| x == l) => m.to_string(),
                Some((l, _)) => l.to_string(),
                None => named,
            };
            if let Some(l) = layers.get(&name) {
                let rank = ORDER.iter().position(|x| x == l).unwrap();
                if rank > own_rank {
                    out.push((rel.clone(), name, l.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn imports_run_one_way() {
    let edges = upward_edges(Path::new(env!("CARGO_MANIFEST_DIR")));
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(f, m)| (f.to_string(), m.to_string()))
        .collect();
    let found: BTreeSet<(String, String)> = edges
        .iter()
        .map(|(f, m, _)| (f.clone(), m.clone()))
        .collect();
    let new: Vec<_> = edges
        .iter()
        .filter(|(f, m, _)| !known.contains(&(f.clone(), m.clone())))
        .map(|(f, m, l)| format!("src/{f} names crate::{m} (layer {l}, higher)"))
        .collect();
    assert!(
        new.is_empty(),
        "imports must run {}:\n{}",
        ORDER.join(" < "),
        new.join("\n")
    );
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "remove these edges from KNOWN in tests/architecture.rs, they no longer occur: {gone:?}"
    );
}

#[test]
fn nothing_reaches_into_cmd() {
    let edges = upward_edges(Path::new(env!("CARGO_MANIFEST_DIR")));
    let into_cmd: Vec<_> = edges.iter().filter(|(_, _, l)| l == "cmd").collect();
    assert!(into_cmd.is_empty(), "{into_cmd:?}");
}

/// The checker itself: a tree where `read` names `analysis` and `agg` (flat and through the
/// layer) and `sink` names `cmd`.
#[test]
fn checker_finds_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("gatelog-arch-{}", std::process::id()));
    let w = |p: &str, s: &str| {
        let p = dir.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    };
    w("src/lib.rs", "pub mod read;");
    w("src/read/mod.rs", "pub mod input;");
    w(
        "src/read/input.rs",
        "use crate::{exit::UserError, rules::{Rule, parse}};\nuse crate::follow;\n\
         #[cfg(test)]\nmod tests { use crate::cmd::x; }\n",
    );
    w(
        "src/read/follow.rs",
        "use crate::agg::{self, acc::Acc};\nfn f() { crate::sink::Sink::new(); }\n",
    );
    w("src/agg/acc.rs", "");
    w("src/analysis/rules.rs", "use crate::read::input;");
    w("src/sink/text.rs", "fn f() { crate::cmd::analyze::run(); }");
    w("src/cmd/analyze.rs", "use crate::analysis;");
    let mut got = upward_edges(&dir);
    got.sort();
    fs::remove_dir_all(&dir).ok();
    let want = vec![
        (
            "read/follow.rs".to_string(),
            "acc".to_string(),
            "agg".to_string(),
        ),
        (
            "read/follow.rs".to_string(),
            "agg".to_string(),
            "agg".to_string(),
        ),
        (
            "read/follow.rs".to_string(),
            "sink".to_string(),
            "sink".to_string(),
        ),
        (
            "read/input.rs".to_string(),
            "rules".to_string(),
            "analysis".to_string(),
        ),
        (
            "sink/text.rs".to_string(),
            "analyze".to_string(),
            "cmd".to_string(),
        ),
    ];
    assert_eq!(got, want);
}

/// lib.rs declares the layers; it re-exports nothing (the flat paths such as `crate::acc` are
/// gone: every `use` names the layer, `crate::agg::acc`).
#[test]
fn lib_rs_reexports_no_flat_paths() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let reexports: Vec<_> = lib
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("pub use") || l.starts_with("pub(crate) use")
        })
        .collect();
    assert!(reexports.is_empty(), "src/lib.rs re-exports: {reexports:?}");
}

/// Values are typed at the edge (`src/cli/`): the flags below reach `cmd/` as `TimeBound`,
/// `BucketWidth`, `Duration`, `TzChoice`, `ColorChoice`, `Partition`, `FormatChoice` and
/// `Rule` (`--fail-on`, `--alert`), never as a `String` to parse later.
#[test]
fn typed_flags_reach_cmd_typed() {
    const TYPED: &[&str] = &[
        "since",
        "until",
        "bucket",
        "tz",
        "interval",
        "window",
        "color",
        "partition",
        "format",
        "fail_on",
        "alert",
    ];
    let cli =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli/mod.rs")).unwrap();
    let mut seen = BTreeSet::new();
    for line in cli.lines() {
        let Some(field) = line.trim().strip_prefix("pub ") else {
            continue;
        };
        let Some((name, ty)) = field.split_once(':') else {
            continue;
        };
        if TYPED.contains(&name.trim()) {
            assert!(
                !ty.contains("String") && !ty.contains("str"),
                "src/cli/mod.rs: --{} is `{}`: parse it with a value_parser into its type",
                name.trim(),
                ty.trim().trim_end_matches(',')
            );
            seen.insert(name.trim().to_string());
        }
    }
    assert_eq!(seen.len(), TYPED.len(), "flags found: {seen:?}");
}

/// The rules' `for` window is the typed `Duration` of `src/units.rs`, read by the same
/// grammar as `--bucket`: `analysis/rules.rs` parses no duration of its own.
#[test]
fn rules_for_windows_are_typed_durations() {
    let rules =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/analysis/rules.rs"))
            .unwrap();
    let code = without_tests(&rules);
    assert!(
        code.contains("pub window: Option<Duration>"),
        "Rule::window"
    );
    assert!(
        !code.contains("parse_duration_s"),
        "rules.rs parses durations itself"
    );
}

/// A run's reading state (stdin's rest, seeked ends, decompressed lengths, progress) is
/// carried by its `RunCtx`, never by a process-wide static: no `static` in `src/read/` or
/// `src/ingest/` outside tests (a constant is a `const`).
#[test]
fn reading_keeps_no_process_wide_statics() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src.join("read"), &mut files);
    rs_files(&src.join("ingest"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let code = without_tests(&fs::read_to_string(&f).unwrap());
        for l in code.lines() {
            let t = l.trim_start();
            let t = t
                .strip_prefix("pub(crate) ")
                .or(t.strip_prefix("pub "))
                .unwrap_or(t);
            if t.starts_with("static ") || t.starts_with("thread_local!") {
                found.push(format!("{}: {}", f.display(), l.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
