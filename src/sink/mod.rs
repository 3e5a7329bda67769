//! Sinks render, never compute: text, exports (json, html, csv, parquet), the live view,
//! metrics.

pub mod export;
pub mod metrics;
pub mod text;
pub mod tui;
