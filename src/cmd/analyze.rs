//! `gatelog analyze`: read every input, build the report, render it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use gatelog_parsers::{Format, Layer};

use crate::analysis::report::{Report, SkippedInput};
use crate::analysis::{self, AnalysisOptions, InputMeta};
use crate::cli::{AnalyzeArgs, ColorChoice};
use crate::exit::{Exit, UserError};
use crate::ingest::pipeline::{self, RunOptions};
use crate::ingest::tz::TzChoice;
use crate::read::input::{self, Input, Source};

/// Everything needed to run one analysis, built once from the options.
#[derive(Clone)]
pub struct Prepared {
    pub opts: RunOptions,
    pub analysis: AnalysisOptions,
    pub threads: usize,
    /// `--fail-on` rules.
    pub rules: Vec<crate::analysis::rules::Rule>,
    /// `--state FILE`.
    pub state: Option<PathBuf>,
    /// Find `--since/--until` windows in large time-ordered files by seeking (off with
    /// `GATELOG_NO_SEEK=1`, to compare with reading from the top).
    pub seek: bool,
    /// Draw progress on stderr.
    pub progress: bool,
}

pub fn prepare(a: &AnalyzeArgs) -> Result<Prepared, UserError> {
    let (force_all, force_path) = super::parse_formats(&a.fmt.format);
    let parser_opts = super::parser_options(&a.fmt)?;
    let tz = a.read.tz.clone();
    let now_us = chrono::Utc::now().timestamp_micros();
    let since_us = a.since.as_ref().map(|b| b.resolve_us(now_us));
    let until_us = a.until.as_ref().map(|b| b.resolve_us(now_us));
    if let (Some(s), Some(u)) = (since_us, until_us) {
        if s >= u {
            return Err(UserError("--since must be earlier than --until".into()));
        }
    }
    let bucket_s = a.bucket.fixed_s();
    if a.max_line_too_small() {
        return Err(UserError("--max-line must be at least 256 bytes".into()));
    }
    let rules = a.fail_on.clone();
    if a.state.is_some() && a.inputs.iter().any(|i| i == "-") {
        return Err(UserError(
            "--state reads files only: stdin cannot be resumed; name the log files instead".into(),
        ));
    }
    let threads = a
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    Ok(Prepared {
        opts: RunOptions {
            force_all,
            force_path,
            parser_opts,
            tz,
            since_us,
            until_us,
            base_bucket_s: bucket_s.unwrap_or(1),
            auto_width: bucket_s.is_none(),
            max_line: a.fmt.max_line,
            ..Default::default()
        },
        analysis: AnalysisOptions {
            bucket_s,
            min_incident_errors: a.read.min_errors.max(1),
            top_n: 10,
        },
        threads,
        rules,
        state: a.state.clone(),
        seek: std::env::var_os("GATELOG_NO_SEEK").is_none_or(|v| v.is_empty() || v == "0"),
        progress: crate::read::progress::wanted(a.quiet),
    })
}

impl AnalyzeArgs {
    fn max_line_too_small(&self) -> bool {
        self.fmt.max_line < 256
    }
}

/// The result of an analysis run.
pub struct Outcome {
    pub report: Report,
    /// Errors that make the run fail (exit 1) after the report: unreadable inputs, inputs
    /// named on the command line whose format is unknown.
    pub errors: Vec<String>,
    /// With `--state`: the new state, to commit once the outputs are written.
    pub state: Option<crate::read::state::Plan>,
    /// Inputs read with an inferred nginx `log_format`: (input name, log_format).
    pub inferred: Vec<(String, String)>,
    /// With `--since/--until`: the first and last instants of the records outside the
    /// window (read, or found by seeking), to say where the logs are when it holds nothing.
    pub outside: (Option<i64>, Option<i64>),
}

/// Discover, detect, read and analyse: the whole pass, independent of how it is rendered.
pub fn analyze(inputs: &[String], p: &Prepared) -> Outcome {
    let (found, problems) = input::discover(inputs);
    let mut errors: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.name, p.message))
        .collect();
    let mut skipped = Vec::new();
    let mut chosen: Vec<(Input, Format)> = Vec::new();
    let mut metas = Vec::new();
    let mut offset_seen: Option<(i32, String)> = None;
    let mut stdin_head = None;
    // this run's reading state (stdin's rest, seeked ends, decompressed lengths)
    let ctx = std::sync::Arc::new(crate::read::run_ctx::RunCtx::new());
    let mut inferred: Vec<(String, String)> = Vec::new();
    for mut inp in found {
        let d = pipeline::detect_input(&inp, &p.opts, &ctx);
        inp.demux = d.demux.clone();
        if matches!(inp.source, Source::Stdin) {
            stdin_head = d.head.clone();
        }
        if let (Some(_), Some(lf)) = (d.format, &d.log_format) {
            inferred.push((inp.name.clone(), lf.clone()));
        }
        match d.format {
            Some(f) => {
                if offset_seen.is_none() {
                    if let Some(o) = d.offset {
                        offset_seen = Some((o, inp.name.clone()));
                    }
                }
                metas.push(InputMeta {
                    id: inp.id as u32,
                    name: inp.name.clone(),
                    format: f.id().to_string(),
                    layer: f.layer(),
                    detected: d.reason,
                });
                chosen.push((inp, f));
            }
            None if inp.size == 0 && matches!(inp.source, Source::File(_)) => {
                // an empty file is not an error: there is nothing in it to misread
                metas.push(InputMeta {
                    id: inp.id as u32,
                    name: inp.name.clone(),
                    format: "empty".into(),
                    layer: Layer::Proxy,
                    detected: "empty file".into(),
                });
            }
            None if inp.explicit => {
                errors.push(format!("{}: unknown format: {}", inp.name, d.reason));
            }
            None => skipped.push(SkippedInput {
                path: inp.name.clone(),
                reason: d.reason,
            }),
        }
    }
    // An inferred nginx log_format is tried by every nginx-access parser of the run, after
    // the configured (or built-in) formats.
    let with_inferred;
    let p = if inferred.is_empty() {
        p
    } else {
        let mut q = p.clone();
        for (_, lf) in &inferred {
            if !q.opts.parser_opts.inferred.contains(lf) {
                q.opts.parser_opts.inferred.push(lf.clone());
            }
        }
        with_inferred = q;
        &with_inferred
    };
    let tz = TzChoice::for_run(p.opts.tz.as_ref(), offset_seen.as_ref());
    let (jobs, state, prior) = match crate::ingest::jobs::plan_run(
        &chosen,
        p.state.as_deref(),
        &p.opts,
        p.seek,
        p.threads,
        &tz,
        &ctx,
    ) {
        Ok(x) => x,
        Err(e) => {
            errors.push(e.0);
            let acc = crate::agg::acc::Acc::new(p.opts.base_bucket_s);
            let report = analysis::build_report(acc, &[], skipped, tz.describe(), &p.analysis);
            return Outcome {
                report,
                errors,
                state: None,
                inferred,
                outside: (None, None),
            };
        }
    };
    let total = jobs.iter().map(crate::read::seek::job_bytes).sum();
    let bar = crate::read::progress::Progress::start(total, p.progress, ctx.progress().clone());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.threads)
        .build();
    // the same requests in two inputs are counted once (crate::ingest::dedup)
    let dedup = crate::ingest::dedup::plan(&chosen, &p.opts, &tz);
    let run = || pipeline::run_jobs_dedup(&jobs, &p.opts, &tz, stdin_head, dedup.as_ref(), &ctx);
    let acc = match &pool {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    drop(bar);
    let mut outside: (Option<i64>, Option<i64>) = (None, None);
    for (id, st) in &acc.files {
        errors.extend(st.errors.iter().cloned());
        let (f, l) = ctx.seeked_ends(*id as usize).unwrap_or((None, None));
        for t in [st.outside_first_us, f].into_iter().flatten() {
            outside.0 = Some(outside.0.map_or(t, |x: i64| x.min(t)));
        }
        for t in [st.outside_last_us, l].into_iter().flatten() {
            outside.1 = Some(outside.1.map_or(t, |x: i64| x.max(t)));
        }
    }
    let mut acc = acc;
    // the report's parallel parts (joins, incidents) on the run's threads
    let report_of = |acc: &mut crate::agg::acc::Acc| {
        analysis::report_of(acc, &metas, skipped, tz.describe(), &p.analysis, &prior)
    };
    let mut report = match &pool {
        Ok(pool) => pool.install(|| report_of(&mut acc)),
        Err(_) => report_of(&mut acc),
    };
    if let Some(d) = &dedup {
        report.mark_duplicates(d.duplicates(&acc));
    }
    // `for` windows of quantile rules merge the buckets' latency histograms
    report.rules = crate::analysis::rules::eval_all_with(&p.rules, &report, Some(&acc.timeline)).1;
    // Freeing the accumulator (its samples and rows are many small allocations) takes
    // milliseconds of a large run: do it beside the output instead of before it.
    std::thread::spawn(move || drop(acc));
    if let Some(plan) = &state {
        report.notes.extend(plan.notes.iter().cloned());
    }
    for (name, lf) in &inferred {
        report.notes.push(if gatelog_parsers::fpm_access::is_access_format(lf) {
            format!("{name}: no built-in layout matches its php-fpm access lines; read with the access.format inferred from its first lines: '{lf}' (pin it with --format fpm-access --log-format)")
        } else {
            format!("{name}: no built-in layout matches; read with the nginx log_format inferred from its first lines: '{lf}' (pin it with --log-format)")
        });
    }
    Outcome {
        report,
        errors,
        state,
        inferred,
        outside,
    }
}

/// What the state file needs of the report: each input's lines and errors, the timeline.
fn run_read(r: &analysis::report::Report) -> crate::read::state::RunRead {
    use crate::read::state::{InputRead, RowRead, RunRead};
    RunRead {
        inputs: r
            .inputs
            .iter()
            .map(|i| InputRead {
                path: i.path.clone(),
                lines: i.lines,
                ok: i.errors.is_empty(),
            })
            .collect(),
        bucket_seconds: r.timeline.bucket_seconds,
        rows: r
            .timeline
            .rows
            .iter()
            .map(|row| RowRead {
                start_us: row.start_us,
                requests: row.requests,
                err5xx: row.err5xx,
            })
            .collect(),
    }
}

/// With `--since/--until`, a window that holds no record of the lines read: say how many
/// lines fell outside it and where the logs begin and end.
fn empty_window(a: &AnalyzeArgs, out: &Outcome) -> Option<String> {
    if a.since.is_none() && a.until.is_none() {
        return None;
    }
    let r = &out.report;
    let inside: u64 = r.inputs.iter().map(|i| i.requests + i.events).sum();
    if inside > 0 || r.totals.lines == 0 {
        return None;
    }
    let bounds = match (&a.since, &a.until) {
        (Some(s), Some(u)) => format!("--since {s} --until {u}"),
        (Some(s), None) => format!("--since {s}"),
        (None, Some(u)) => format!("--until {u}"),
        (None, None) => unreachable!(),
    };
    let ends = match out.outside {
        (Some(f), Some(l)) => format!(
            "; the logs run from {} to {}",
            crate::analysis::report::rfc3339(f),
            crate::analysis::report::rfc3339(l)
        ),
        _ => "; no line outside it had a timestamp either".into(),
    };
    Some(format!(
        "{bounds}: the window holds no record: all {} lines fell outside it{ends}",
        r.totals.lines
    ))
}

pub fn run(a: AnalyzeArgs) -> Result<Exit, UserError> {
    let mut p = prepare(&a)?;
    let parquet = super::exports::start_parquet(&a)?;
    p.opts.rows = parquet
        .clone()
        .map(|x| x as std::sync::Arc<dyn crate::sink::export::RowSinkFactory>);
    // one run per state file, from before its inputs are looked at until the state is saved
    let _lock = match &p.state {
        Some(s) => Some(crate::read::state_lock::lock(s, a.quiet)?),
        None => None,
    };
    let out = analyze(&a.inputs, &p);
    if !a.quiet {
        for (name, lf) in &out.inferred {
            let what = if gatelog_parsers::fpm_access::is_access_format(lf) {
                "php-fpm access.format (pin it with --format fpm-access"
            } else {
                "nginx log_format (pin it with"
            };
            eprintln!("gatelog: note: {name}: no built-in layout matches; read with an inferred {what} --log-format '{lf}'; check it with `gatelog detect`)");
        }
    }
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    if out.report.inputs.is_empty() && !out.errors.is_empty() {
        for e in &out.errors {
            eprintln!("gatelog: error: {e}");
        }
        return Ok(Exit::Error);
    }
    let rendered = if a.json {
        let mut s = serde_json::to_string_pretty(&out.report)
            .map_err(|e| UserError(format!("cannot encode the JSON report: {e}")))?;
        s.push('\n');
        s
    } else {
        crate::sink::text::render(&out.report, color)
    };
    let export_errors = super::exports::write_all(&a, parquet.as_deref(), &out.report);
    super::emit(&rendered)?;
    for e in out.errors.iter().chain(&export_errors) {
        eprintln!("gatelog: error: {e}");
    }
    if !export_errors.is_empty() {
        return Ok(Exit::Error);
    }
    let empty = empty_window(&a, &out);
    // the state advances only now that every output is written
    if let Some(plan) = out.state {
        if let Err(e) = plan.commit(&run_read(&out.report)) {
            eprintln!("gatelog: error: {e}");
            return Ok(Exit::Error);
        }
    }
    if let Some(msg) = &empty {
        eprintln!("gatelog: error: {msg}");
        return Ok(Exit::Error);
    }
    if !out.errors.is_empty() {
        return Ok(Exit::Error);
    }
    let held: Vec<&crate::analysis::rules::RuleResult> =
        out.report.rules.iter().filter(|r| r.held).collect();
    if !held.is_empty() {
        if !a.quiet {
            for r in held {
                eprintln!("gatelog: rule held: {}: {}", r.rule, r.detail);
            }
        }
        return Ok(Exit::RuleHeld);
    }
    if a.strict && out.report.totals.rejected > 0 {
        eprintln!(
            "gatelog: {} lines could not be parsed (--strict); see the rejected samples in the report",
            out.report.totals.rejected
        );
        return Ok(Exit::Rejected);
    }
    Ok(Exit::Ok)
}

/// Read every `log_format` of an nginx configuration, following `include` relative to the
/// configuration's directory (never outside what the configuration names).
pub fn nginx_conf_formats(conf: &Path) -> Result<Vec<String>, UserError> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let base = conf
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    read_conf(conf, &base, &mut out, &mut seen, 0)?;
    if out.is_empty() {
        return Err(UserError(format!(
            "{}: no log_format directive found; pass the format with --log-format instead",
            conf.display()
        )));
    }
    Ok(out)
}

fn read_conf(
    path: &Path,
    base: &Path,
    out: &mut Vec<String>,
    seen: &mut std::collections::HashSet<PathBuf>,
    depth: usize,
) -> Result<(), UserError> {
    if depth > 16 {
        return Err(UserError(format!(
            "{}: includes nested more than 16 deep (an include loop?)",
            path.display()
        )));
    }
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(canon) {
        return Ok(());
    }
    let text = std::fs::read(path).map_err(|e| {
        UserError(format!(
            "{}: cannot read nginx configuration: {e}",
            path.display()
        ))
    })?;
    // scan's errors start with LINE:COL: `FILE:LINE:COL: why`
    let scan = gatelog_parsers::nginx_conf::scan(&text)
        .map_err(|e| UserError(format!("{}:{e}", path.display())))?;
    // (with the `escape=` of the directive: `escape=none` changes how quoted values end)
    out.extend(scan.log_formats.iter().map(|f| f.option_string()));
    let base_canon = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    for inc in scan.includes {
        // Includes resolve inside the configuration's own directory: an absolute include is
        // re-rooted there (`/etc/nginx/conf.d/*.conf` from /etc/nginx/nginx.conf stays
        // /etc/nginx/conf.d/*.conf; from elsewhere it becomes <dir>/conf.d/*.conf only if it
        // lies under <dir>), so no configuration can make gatelog read other files.
        let pattern = if Path::new(&inc).is_absolute() {
            PathBuf::from(&inc)
        } else {
            base.join(&inc)
        };
        let pat = pattern.to_string_lossy().to_string();
        let paths: Vec<PathBuf> = match glob::glob(&pat) {
            Ok(g) => g.filter_map(Result::ok).collect(),
            Err(_) => vec![pattern.clone()],
        };
        for p in paths {
            let inside = p
                .canonicalize()
                .map(|c| c.starts_with(&base_canon))
                .unwrap_or(false);
            if !inside {
                eprintln!(
                    "gatelog: warning: {}: include {} is outside {}; not read",
                    path.display(),
                    p.display(),
                    base.display()
                );
                continue;
            }
            read_conf(&p, base, out, seen, depth + 1)?;
        }
    }
    Ok(())
}
