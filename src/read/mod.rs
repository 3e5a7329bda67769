//! Reading inputs: discovery (globs, directories, `.gatelogignore`, rotation order), opening
//! (gz/zst/stdin), following, seeking and state, progress. One path for `analyze` and `live`.

pub mod follow;
pub mod input;
pub mod plan;
pub mod progress;
pub mod run_ctx;
pub mod seek;
pub mod state;
pub mod state_lock;
