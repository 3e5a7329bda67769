//! Ingest: framing, per-line stream detection (demux), the worker pipeline, dedup, time span,
//! and time-zone normalisation to UTC.

pub mod dedup;
pub mod demux;
pub mod jobs;
pub mod pipeline;
pub mod span;
pub mod split;
pub mod tz;
