//! gatelog: input, analysis, reports and exports. The binary (`src/main.rs`) is a thin
//! shell over [`cmd`].
//!
//! Layers (imports run one way, lower to higher; `tests/architecture.rs`): [`read`] <
//! [`ingest`] < [`agg`] < [`analysis`] < [`sink`] < [`cli`] < [`cmd`]. [`exit`] (exit statuses
//! and the user error) and [`units`] are shared by all.

pub mod agg;
pub mod analysis;
pub mod cli;
pub mod cmd;
pub mod exit;
pub mod ingest;
pub mod read;
pub mod sink;
pub mod units;
