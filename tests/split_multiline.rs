//! A multi-line nginx error log split into chunks (src/split.rs) reads as one pass does:
//! every chunk begins at an entry, and the report is the same whatever the chunk size and
//! thread count.

#[path = "../parsers/tests/common/mod.rs"]
mod common;

use gatelog::ingest::pipeline;

fn args(paths: &[&str]) -> gatelog::cli::AnalyzeArgs {
    let mut v = vec!["gatelog", "analyze", "--json"];
    v.extend_from_slice(paths);
    let cli = <gatelog::cli::Cli as clap::Parser>::try_parse_from(v).unwrap();
    let gatelog::cli::Command::Analyze(a) = cli.cmd else {
        panic!("not analyze")
    };
    a
}

/// The JSON reports of `path` read with each (threads, chunk_bytes), and how many jobs the
/// smallest chunk size made.
fn reports(path: &str, chunks: &[u64]) -> (Vec<serde_json::Value>, usize) {
    let a = args(&[path]);
    let mut out = Vec::new();
    let mut most_jobs = 0;
    for &chunk in chunks {
        for threads in [1usize, 2] {
            let mut p = gatelog::cmd::analyze::prepare(&a).unwrap();
            p.threads = threads;
            p.opts.chunk_bytes = chunk;
            p.opts.block_bytes = 4096;
            let o = gatelog::cmd::analyze::analyze(&a.inputs, &p);
            assert!(o.errors.is_empty(), "{path}: {:?}", o.errors);
            out.push(serde_json::to_value(&o.report).unwrap());
            // the jobs that run planned: each chunk after the first starts at an entry
            let (found, _) = gatelog::read::input::discover(&[path.to_string()]);
            let f = gatelog_parsers::Format::NginxError;
            let jobs = pipeline::plan_jobs(&[(found[0].clone(), f)], &p.opts, threads);
            let data = std::fs::read(path).unwrap();
            let parser = gatelog_parsers::build(f, &p.opts.parser_opts).unwrap();
            for j in jobs.iter().skip(1) {
                let s = j.range.map_or(0, |r| r.0) as usize;
                let line = data[s..].split(|&b| b == b'\n').next().unwrap();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                assert!(
                    parser.starts_record(line),
                    "{path}: a chunk starts at byte {s}, inside an entry: {:?}",
                    String::from_utf8_lossy(&line[..line.len().min(80)])
                );
            }
            most_jobs = most_jobs.max(jobs.len());
        }
    }
    (out, most_jobs)
}

#[test]
fn lab_error_log_with_stack_traces_reads_the_same_in_chunks() {
    // written by nginx in front of php-fpm (samples/lab2): 12 entries over 30 lines, six of
    // them with a PHP stack trace on the lines after them
    let path = "samples/lab2/app_error/plain/nginx1/error.log";
    let (r, jobs) = reports(path, &[u64::MAX, 4000, 1500, 700, 300]);
    assert!(jobs >= 5, "the file was split into {jobs} chunks");
    assert_eq!(r[0]["inputs"][0]["format"], "nginx-error");
    assert_eq!(r[0]["inputs"][0]["lines"], 30);
    assert_eq!(r[0]["inputs"][0]["events"], 12);
    assert_eq!(r[0]["totals"]["events"]["php_fatal"], 7);
    assert_eq!(r[0]["totals"]["events"]["fastcgi_stderr"], 5);
    for (k, x) in r.iter().enumerate().skip(1) {
        assert!(
            x == &r[0],
            "configuration {k} differs from one pass at {}",
            first_difference(&r[0], x, "")
        );
    }
}

#[test]
fn corpus_error_logs_read_the_same_in_chunks() {
    let Some(files) = common::corpus_files("split_multiline", "nginx-error") else {
        return;
    };
    for f in files {
        let path = f.to_str().unwrap();
        let size = std::fs::metadata(&f).unwrap().len();
        let (r, _) = reports(path, &[u64::MAX, (size / 5).max(200), 777]);
        for (k, x) in r.iter().enumerate().skip(1) {
            assert!(
                x == &r[0],
                "{path}: configuration {k} differs from one pass at {}",
                first_difference(&r[0], x, "")
            );
        }
    }
}

/// Where two JSON values first differ, for a readable failure.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> String {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, &format!("{at}.{k}")),
                    None => return format!("{at}.{k} missing on the right"),
                }
            }
            format!("{at}: keys differ")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, &format!("{at}[{i}]"));
                }
            }
            format!("{at}: equal")
        }
        _ => format!("{at}: {a} vs {b}"),
    }
}
