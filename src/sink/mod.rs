//! Sinks render, never compute: text, exports (json, html, csv, parquet), the live view,
//! metrics.

pub mod export;
pub mod metrics;
pub mod metrics_http;
pub mod text;
pub mod tui;

/// The line the reports print under their inputs table for an input that duplicates another
/// (`ingest::dedup`).
pub fn duplicate_note(i: &crate::analysis::report::InputReport) -> Option<String> {
    let d = i.duplicate_of.as_ref()?;
    Some(format!(
        "{}: {} lines skipped as duplicates: the same requests as {} (counted once, from the record with more fields)",
        i.path,
        d.lines,
        d.paths.join(", ")
    ))
}
