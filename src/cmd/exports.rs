//! The exports asked for on the command line (`--parquet`, `--html`, `--csv`): started
//! before the analysis, written after it. The sinks themselves live in `crate::sink::export`.

/// Prepare `--parquet DIR` before the analysis (its rows are written during it).
pub fn start_parquet(
    a: &crate::cli::AnalyzeArgs,
) -> Result<
    Option<std::sync::Arc<crate::sink::export::parquet::ParquetExport>>,
    crate::exit::UserError,
> {
    // date first, then host, whatever the order given: one layout per table
    let mut partition = a.partition.clone();
    partition.sort_by_key(|p| *p as u8);
    partition.dedup();
    match &a.parquet {
        None => Ok(None),
        Some(dir) => {
            crate::sink::export::parquet::ParquetExport::new(dir, partition, a.host.clone())
                .map(Some)
                .map_err(crate::exit::UserError)
        }
    }
}

/// Write every export asked for (`--parquet`, `--html`, `--csv`) from the finished report;
/// returns the errors (each naming its file). Notes go to stderr unless `--quiet`.
pub fn write_all(
    a: &crate::cli::AnalyzeArgs,
    parquet: Option<&crate::sink::export::parquet::ParquetExport>,
    report: &crate::analysis::report::Report,
) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(px) = parquet {
        match px.finish(report) {
            Ok(w) => {
                if !a.quiet {
                    let counts: Vec<String> =
                        w.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
                    eprintln!(
                        "gatelog: wrote {} Parquet file(s) under {} (rows: {})",
                        w.files.len(),
                        px.dir().display(),
                        counts.join(", ")
                    );
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(path) = &a.html {
        let page = crate::sink::export::html::render(report);
        if let Err(e) = std::fs::write(path, page) {
            errors.push(format!(
                "--html {}: cannot write: {e}; check the path and permissions",
                path.display()
            ));
        } else if !a.quiet {
            eprintln!("gatelog: wrote the HTML report to {}", path.display());
        }
    }
    if let Some(dir) = &a.csv {
        match crate::sink::export::csv::write(dir, report) {
            Ok(_) => {
                if !a.quiet {
                    eprintln!(
                        "gatelog: wrote timeline.csv and incidents.csv under {}",
                        dir.display()
                    );
                }
            }
            Err(e) => errors.push(e),
        }
    }
    errors
}
