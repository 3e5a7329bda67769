//! The push-style row sink: the pipeline's one parse hands every record it keeps (and every
//! line it rejects) to a [`RowSink`], so a per-row export (`--parquet`) never frames or parses
//! a line again.
//!
//! A job's [`crate::ingest::pipeline::Worker`] holds `Option<Box<dyn RowSink>>`: `None` (no
//! `--parquet`) costs one predictable branch per record. With a sink, each call gets the
//! record the analysis just read, already normalised (UTC microseconds, `--since/--until`
//! and duplicates already dropped), with borrowed fields; the sink copies what its schema
//! needs.

use gatelog_parsers::{Event, Format, Request};

use crate::ingest::pipeline::{Job, RunOptions};
use crate::ingest::tz::TzChoice;

/// Where a row comes from: the format that read it (a wrapped or mixed input reads lines
/// with several), the first physical line of its record and that line's byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowAt {
    pub format: Format,
    pub line: u64,
    pub offset: u64,
}

/// Opens one [`RowSink`] per pipeline job (a whole input, or a byte range of one).
pub trait RowSinkFactory: Send + Sync + std::fmt::Debug {
    fn open(&self, job: &Job, opts: &RunOptions, tz: &TzChoice) -> Box<dyn RowSink>;
}

/// Receives the rows of one job, in input order. Dropping it ends the job.
pub trait RowSink: Send {
    /// A request the analysis counted, at `utc_us`; `upstream_us` is its upstream time as the
    /// analysis read it.
    fn request(&mut self, at: RowAt, utc_us: i64, r: &Request<'_>, upstream_us: Option<u64>);
    /// An event the analysis counted, at `utc_us`.
    fn event(&mut self, at: RowAt, utc_us: i64, e: &Event<'_>);
    /// `lines` physical lines rejected for `reason`; `bytes` long, `text` when it is known
    /// (not for a line longer than `--max-line`).
    fn reject(&mut self, at: RowAt, lines: u64, reason: &str, bytes: u64, text: Option<&[u8]>);
    /// The job read `lines` physical lines in all (the line numbers of a later chunk of the
    /// same file continue after them).
    fn end(&mut self, lines: u64);
}
