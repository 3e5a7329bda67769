//! gatelog: input, analysis, reports and exports. The binary (`src/main.rs`) is a thin
//! shell over [`cmd`].

pub mod acc;
pub mod analysis;
pub(crate) mod causes;
pub mod cli;
pub mod cmd;
pub mod dedup;
pub mod demux;
pub mod exit;
pub mod export;
pub mod fine;
pub mod follow;
pub mod hist;
pub mod input;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod rules;
pub mod seek;
pub mod span;
pub mod split;
pub mod state;
pub mod state_lock;
pub mod summary;
pub mod text;
pub mod topkey;
pub mod totals;
pub mod tui;
pub mod tz;
