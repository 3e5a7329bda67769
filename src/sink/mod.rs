//! Sinks render, never compute: text, exports (json, html, csv, parquet), the live view,
//! metrics.

pub mod export;
pub mod metrics;
pub mod metrics_http;
pub mod text;
pub mod tui;
