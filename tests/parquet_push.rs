//! The Parquet row tables are pushed from the pipeline's one parse (`export::sink`): no second
//! framing or parse. These tests hold them to a reference computed here by re-parsing every
//! line independently (what the export did before), on the lab samples and the real-log
//! corpus (read in place, `GATELOG_CORPUS`): plain inputs with bad lines, multi-line
//! slowlogs and error logs, and container-wrapped (CRI / docker json-file) inputs. They also
//! check that splitting a large file into chunks (the row groups of each chunk are spliced
//! into the table as encoded, and the `line` column of later chunks re-encoded) gives the
//! same rows as one job.

#[path = "../parsers/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use gatelog_parsers::wrap::{self, Joiner, Stream, Wrapper};
use gatelog_parsers::{Format, Framing, LineParser, ParserOptions, Record};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_all(p: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Cell `i` of `a` as text (`None`: null), for the column types of the row tables.
fn cell(a: &dyn Array, i: usize) -> Option<String> {
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::Dictionary(_, _) => {
            let d = a.as_dictionary::<Int32Type>();
            let k = d.keys().value(i) as usize;
            d.values().as_string::<i32>().value(k).to_string()
        }
        DataType::UInt64 => a
            .as_primitive::<arrow_array::types::UInt64Type>()
            .value(i)
            .to_string(),
        DataType::UInt32 => a
            .as_primitive::<arrow_array::types::UInt32Type>()
            .value(i)
            .to_string(),
        DataType::UInt16 => a
            .as_primitive::<arrow_array::types::UInt16Type>()
            .value(i)
            .to_string(),
        DataType::Int64 => a
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(i)
            .to_string(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => a
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>()
            .value(i)
            .to_string(),
        DataType::Duration(TimeUnit::Microsecond) => a
            .as_primitive::<arrow_array::types::DurationMicrosecondType>()
            .value(i)
            .to_string(),
        t => panic!("unexpected column type {t}"),
    })
}

type Row = Vec<Option<String>>;

/// The rows of a table file, restricted to `cols` (in that order).
fn table_rows(p: &Path, cols: &[&str]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in read_all(p) {
        let arrays: Vec<&dyn Array> = cols
            .iter()
            .map(|c| {
                b.column_by_name(c)
                    .unwrap_or_else(|| panic!("{}: no column {c}", p.display()))
                    .as_ref()
            })
            .collect();
        for i in 0..b.num_rows() {
            out.push(arrays.iter().map(|a| cell(*a, i)).collect());
        }
    }
    out
}

fn s(b: &[u8]) -> Option<String> {
    (!b.is_empty()).then(|| String::from_utf8_lossy(b).into_owned())
}
fn n<T: ToString>(v: T) -> Option<String> {
    Some(v.to_string())
}

const REQ_COLS: [&str; 11] = [
    "line",
    "offset",
    "ts",
    "format",
    "status",
    "method",
    "path",
    "client",
    "user_agent",
    "bytes_sent",
    "request_time",
];
const EV_COLS: [&str; 9] = [
    "line", "offset", "ts", "format", "kind", "severity", "pid", "message", "frames",
];
const REJ_COLS: [&str; 6] = ["line", "offset", "lines", "reason", "bytes", "text"];

/// The rows the reference expects of one input.
#[derive(Default, Debug)]
struct Expected {
    req: Vec<Row>,
    ev: Vec<Row>,
    rej: Vec<Row>,
}

/// `ts` is compared unless the format's timestamps carry no year (the run takes the year
/// from the file; the reference would take the clock's).
fn ts_cell(f: Format, wall_us: i64, offset: Option<i32>) -> Option<String> {
    if gatelog::ingest::span::needs_year(f) {
        return None;
    }
    // the runs below are given `--tz UTC`: a zone-less time is UTC
    n(wall_us - offset.unwrap_or(0) as i64 * 1_000_000)
}

fn req_row(f: Format, line: u64, off: u64, r: &gatelog_parsers::Request<'_>) -> Row {
    vec![
        n(line),
        n(off),
        ts_cell(f, r.ts.wall_us, r.ts.offset),
        n(f.id()),
        n(r.status),
        s(r.method),
        s(if r.path.is_empty() {
            r.request_line
        } else {
            r.path
        }),
        s(r.client),
        s(r.user_agent),
        r.bytes_sent.map(|v| v.to_string()),
        r.request_time_us.map(|v| v.to_string()),
    ]
}

fn ev_row(f: Format, line: u64, off: u64, e: &gatelog_parsers::Event<'_>) -> Row {
    vec![
        n(line),
        n(off),
        ts_cell(f, e.ts.wall_us, e.ts.offset),
        n(f.id()),
        n(e.kind.id()),
        n(e.severity.id()),
        e.pid.map(|v| v.to_string()),
        s(e.message),
        s(e.frames),
    ]
}

/// Physical lines of `data` as the line reader hands them out: (bytes without the
/// terminator, line number, offset).
fn lines(data: &[u8]) -> Vec<(&[u8], u64, u64)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut no = 1u64;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let mut l = &data[start..end];
        if let [rest @ .., b'\r'] = l {
            l = rest;
        }
        out.push((l, no, start as u64));
        no += 1;
        start = end + 1;
    }
    out
}

/// Parse one framed record the way the analysis accounts for it: rows for what parsed, a
/// rejected row when nothing did.
fn reference_record(
    p: &mut dyn LineParser,
    f: Format,
    rec: &[u8],
    n_lines: u64,
    line: u64,
    off: u64,
    x: &mut Expected,
) {
    let (mut ok, mut failed) = (0, None);
    p.parse_each(rec, &mut |res| match res {
        Ok(Record::Request(r)) => {
            ok += 1;
            x.req.push(req_row(f, line, off, r));
        }
        Ok(Record::Event(e)) => {
            ok += 1;
            x.ev.push(ev_row(f, line, off, e));
        }
        Ok(Record::Ignored) => ok += 1,
        Err(e) => {
            if failed.is_none() {
                failed = Some(e.reason());
            }
        }
    });
    if ok == 0 {
        let reason =
            failed.unwrap_or_else(|| gatelog_parsers::ParseError::not_this_format(0).reason());
        x.rej.push(vec![
            n(line),
            n(off),
            n(n_lines),
            Some(reason),
            n(rec.len()),
            Some(String::from_utf8_lossy(rec).into_owned()),
        ]);
    }
}

/// The reference rows of a plain (unwrapped, one-format) input: every line framed (multi-line
/// formats: continuation lines join the record before them) and parsed again.
fn reference_plain(path: &Path, f: Format, opts: &ParserOptions) -> Expected {
    let data = std::fs::read(path).unwrap();
    let mut p = gatelog_parsers::build(f, opts).unwrap();
    let multi = p.framing() == Framing::MultiLine;
    let mut x = Expected::default();
    let mut pending: Option<(Vec<u8>, u64, u64, u64)> = None;
    for (l, no, off) in lines(&data) {
        if !multi {
            reference_record(p.as_mut(), f, l, 1, no, off, &mut x);
            continue;
        }
        if let Some(pd) = pending.as_mut() {
            if !p.starts_record(l) {
                pd.0.push(b'\n');
                pd.0.extend_from_slice(l);
                pd.3 += 1;
                continue;
            }
        }
        if let Some((rec, no, off, k)) = pending.take() {
            reference_record(p.as_mut(), f, &rec, k, no, off, &mut x);
        }
        pending = Some((l.to_vec(), no, off, 1));
    }
    if let Some((rec, no, off, k)) = pending.take() {
        reference_record(p.as_mut(), f, &rec, k, no, off, &mut x);
    }
    x
}

/// The reference request rows of a container-wrapped input: each line unwrapped, split
/// pieces joined, and the body read by the formats detected in its stream.
fn reference_wrapped(
    path: &Path,
    w: Wrapper,
    streams: [Vec<Format>; 2],
    opts: &ParserOptions,
) -> Vec<Row> {
    let data = std::fs::read(path).unwrap();
    let mut parsers: [Vec<(Format, Box<dyn LineParser>)>; 2] = Default::default();
    for (si, fs) in streams.iter().enumerate() {
        for f in fs {
            parsers[si].push((*f, gatelog_parsers::build(*f, opts).unwrap()));
        }
    }
    let mut req = Vec::new();
    let mut joiner = Joiner::new(1 << 20);
    let mut scratch = Vec::new();
    let mut take = |j: wrap::Joined<'_>, req: &mut Vec<Row>| {
        let si = match j.stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        };
        for (f, p) in parsers[si].iter_mut() {
            if let Ok(Record::Request(r)) = p.parse(j.body) {
                req.push(req_row(*f, j.line_no, j.offset, &r));
                return;
            }
        }
    };
    for (l, no, off) in lines(&data) {
        if let Ok(piece) = wrap::unwrap(w, l, &mut scratch) {
            joiner.push(&piece, no, off, &mut |j| take(j, &mut req));
        }
    }
    joiner.finish(&mut |j| take(j, &mut req));
    req
}

/// `cri: nginx-access (stdout) + nginx-error (stderr) (...)` → the wrapper and the formats
/// of each stream; `None` for another kind of input.
fn wrapped_plan(detected: &str) -> Option<(Wrapper, [Vec<Format>; 2])> {
    let (w, rest) = detected.split_once(": ")?;
    let w = match w {
        "cri" => Wrapper::Cri,
        "docker-json" => Wrapper::Docker,
        _ => return None,
    };
    let plan = rest.split(" (").collect::<Vec<_>>();
    let mut streams: [Vec<Format>; 2] = Default::default();
    // "nginx-access (stdout) + nginx-error (stderr) (200 of ...": pairs of formats and stream
    let mut formats: Vec<Format> = Vec::new();
    for part in plan {
        if let Some(stream) = part
            .strip_prefix("stdout)")
            .map(|r| (0, r))
            .or_else(|| part.strip_prefix("stderr)").map(|r| (1, r)))
        {
            streams[stream.0].append(&mut formats);
            let next = stream.1.trim_start_matches(" + ");
            formats = next.split(", ").filter_map(Format::from_id).collect();
        } else if formats.is_empty() {
            formats = part.split(", ").filter_map(Format::from_id).collect();
        }
    }
    (!streams[0].is_empty() || !streams[1].is_empty()).then_some((w, streams))
}

/// Runs `gatelog analyze --tz UTC --parquet` on one file; the report's entry for it, and the
/// parser options of the run (the `log_format` it inferred, from the report's note).
fn run_one(file: &Path, out: &Path) -> (Value, ParserOptions) {
    let _ = std::fs::remove_dir_all(out);
    let o = Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(["analyze", "--json", "--quiet", "--tz", "UTC", "--parquet"])
        .arg(out)
        .arg(file)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "{}: gatelog failed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut opts = ParserOptions::default();
    for note in report["notes"].as_array().into_iter().flatten() {
        let note = note.as_str().unwrap_or("");
        if let Some((_, lf)) = note.split_once("inferred from its first lines: '") {
            if let Some((lf, _)) = lf.rsplit_once("' (pin it") {
                opts.inferred.push(lf.to_string());
            }
        }
    }
    (report["inputs"][0].clone(), opts)
}

#[derive(Default, Debug)]
struct Tally {
    plain: usize,
    wrapped: usize,
    other: usize,
    multiline: usize,
    with_rejected: usize,
    rows: usize,
}

/// Check one file's tables against the reference; returns what kind of input it was.
fn check_file(file: &Path, out: &Path, t: &mut Tally) {
    let (inp, opts) = run_one(file, out);
    let name = file.display();
    let req = table_rows(&out.join("requests.parquet"), &REQ_COLS);
    let ev = table_rows(&out.join("events.parquet"), &EV_COLS);
    let rej = table_rows(&out.join("rejected.parquet"), &REJ_COLS);
    // every number of the report's input entry is in the tables
    assert_eq!(
        req.len() as u64,
        inp["requests"].as_u64().unwrap(),
        "{name}: requests"
    );
    assert_eq!(
        ev.len() as u64,
        inp["events"].as_u64().unwrap(),
        "{name}: events"
    );
    let rej_lines: u64 = rej
        .iter()
        .map(|r| r[2].as_deref().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        rej_lines,
        inp["rejected"].as_u64().unwrap(),
        "{name}: rejected lines"
    );
    t.rows += req.len() + ev.len() + rej.len();
    if !rej.is_empty() {
        t.with_rejected += 1;
    }
    let detected = inp["detected"].as_str().unwrap_or("");
    let Some(format) = inp["format"].as_str().and_then(Format::from_id) else {
        // not read at all (no format detected): nothing in the tables
        assert!(req.is_empty() && ev.is_empty(), "{name}");
        t.other += 1;
        return;
    };
    let plain = detected.starts_with(|c: char| c.is_ascii_digit())
        || detected.starts_with("log_format inferred");
    if plain && !file.to_string_lossy().ends_with(".gz") {
        t.plain += 1;
        let mut x = reference_plain(file, format, &opts);
        // lines outside the input's time span (span.rs) are rejected by the analysis
        let outside: Vec<&Row> = rej
            .iter()
            .filter(|r| r[3].as_deref() == Some(gatelog::ingest::span::OUTSIDE_REASON))
            .collect();
        if !outside.is_empty() {
            let gone: Vec<&str> = outside.iter().map(|r| r[0].as_deref().unwrap()).collect();
            x.req.retain(|r| !gone.contains(&r[0].as_deref().unwrap()));
            x.ev.retain(|r| !gone.contains(&r[0].as_deref().unwrap()));
        }
        let rej_parse: Vec<Row> = rej
            .iter()
            .filter(|r| r[3].as_deref() != Some(gatelog::ingest::span::OUTSIDE_REASON))
            .cloned()
            .collect();
        if gatelog_parsers::build(format, &opts).unwrap().framing() == Framing::MultiLine {
            t.multiline += 1;
        }
        compare(&name.to_string(), "requests", &REQ_COLS, &req, &x.req);
        compare(&name.to_string(), "events", &EV_COLS, &ev, &x.ev);
        compare(&name.to_string(), "rejected", &REJ_COLS, &rej_parse, &x.rej);
    } else if let Some((w, streams)) = wrapped_plan(detected) {
        t.wrapped += 1;
        let want = reference_wrapped(file, w, streams, &opts);
        compare(&name.to_string(), "requests", &REQ_COLS, &req, &want);
    } else {
        t.other += 1;
    }
}

fn compare(name: &str, table: &str, cols: &[&str], got: &[Row], want: &[Row]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for (c, (a, b)) in cols.iter().zip(g.iter().zip(w)) {
            // the reference leaves `ts` out where it cannot know the year
            if *c == "ts" && b.is_none() {
                continue;
            }
            assert_eq!(
                a, b,
                "{name}: {table} row {i}, column {c}\n got  {g:?}\n want {w:?}"
            );
        }
    }
    assert_eq!(got.len(), want.len(), "{name}: {table} rows");
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut es: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    es.sort();
    for p in es {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "conf") {
                continue;
            }
            files_under(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "log" || e == "gz" || e == "0" || e == "1")
        {
            out.push(p);
        }
    }
}

#[test]
fn rows_equal_a_reparse_of_every_lab_sample_file() {
    let mut files = Vec::new();
    files_under(&root().join("samples"), &mut files);
    assert!(files.len() > 50, "lab samples: {} files", files.len());
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Tally::default();
    for f in &files {
        check_file(f, &tmp.path().join("out"), &mut t);
    }
    println!("{t:?}");
    assert!(t.plain > 40 && t.wrapped >= 10 && t.multiline >= 5, "{t:?}");
}

#[test]
fn rows_equal_a_reparse_of_every_corpus_file() {
    let Some(dir) = common::corpus_dir("parquet rows of the corpus") else {
        return;
    };
    let mut files = Vec::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for d in folders {
        let mut fs: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        fs.sort();
        files.extend(fs);
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Tally::default();
    for f in &files {
        check_file(f, &tmp.path().join("out"), &mut t);
    }
    println!("{t:?}");
    assert!(
        t.plain > 50 && t.with_rejected > 5 && t.multiline >= 3,
        "{t:?}"
    );
}

/// Runs the analysis through the library with `threads` and `chunk` bytes per job.
fn tables_with(input: &Path, threads: usize, chunk: u64, dir: &Path) {
    use clap::Parser;
    let argv = ["gatelog", "analyze", input.to_str().unwrap()];
    let cli = gatelog::cli::Cli::try_parse_from(argv).unwrap();
    let gatelog::cli::Command::Analyze(args) = cli.cmd else {
        panic!("not analyze")
    };
    let mut p = gatelog::cmd::analyze::prepare(&args).unwrap();
    p.threads = threads;
    p.opts.chunk_bytes = chunk;
    let px = gatelog::sink::export::parquet::ParquetExport::new(dir, vec![], None).unwrap();
    p.opts.rows = Some(px.clone() as std::sync::Arc<dyn gatelog::sink::export::RowSinkFactory>);
    let out = gatelog::cmd::analyze::analyze(&args.inputs, &p);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    px.finish(&out.report).unwrap();
}

#[test]
fn a_split_file_gives_the_rows_of_one_job() {
    // 60 000 lines (invented: the chunking is the subject here, the formats are tested on
    // real logs above), a bad line every 5 000, split into 2 MB chunks of ~16 000 lines:
    // each chunk's row groups are spliced as encoded, later chunks' `line` re-encoded
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    let mut text = String::new();
    for i in 0..60_000u64 {
        if i % 5_000 == 4_999 {
            text.push_str("garbage that is no access line\n");
            continue;
        }
        let (m, s) = ((i / 60) % 60, i % 60);
        text.push_str(&format!(
            "10.0.{}.{} - - [23/Nov/2026:10:{m:02}:{s:02} +0000] \"GET /item/{} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/{}\"\n",
            i % 200,
            i % 250,
            i * 7 % 1000,
            if i % 17 == 0 { 502 } else { 200 },
            i * 13 % 9000,
            i % 120
        ));
    }
    std::fs::write(&log, &text).unwrap();
    let one = tmp.path().join("one");
    let split = tmp.path().join("split");
    tables_with(&log, 1, u64::MAX, &one);
    tables_with(&log, 2, 2 << 20, &split);
    let cols: Vec<&str> = REQ_COLS.to_vec();
    let a = table_rows(&one.join("requests.parquet"), &cols);
    let b = table_rows(&split.join("requests.parquet"), &cols);
    assert_eq!(a.len(), 60_000 - 12);
    assert!(a == b, "a split file gives other rows than one job");
    let ra = table_rows(&one.join("rejected.parquet"), &REJ_COLS);
    let rb = table_rows(&split.join("rejected.parquet"), &REJ_COLS);
    assert_eq!(ra.len(), 12);
    assert_eq!(ra, rb);
    assert_eq!(rb[0][0].as_deref(), Some("5000"));
    assert_eq!(rb[11][0].as_deref(), Some("60000"));
    // line numbers run on across chunks; offsets are the file's
    let lines: Vec<u64> = b
        .iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();
    let want: Vec<u64> = (1..=60_000u64).filter(|l| l % 5_000 != 0).collect();
    assert_eq!(lines, want);
    // the split run really spliced several chunks' row groups
    let f = std::fs::File::open(split.join("requests.parquet")).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    assert!(
        meta.metadata().num_row_groups() >= 3,
        "{}",
        meta.metadata().num_row_groups()
    );
}
