//! What one run learns while reading and needs again later in the same run: the rest of
//! stdin after its sniffed head, where seeked inputs' records begin and end, how long
//! compressed inputs were once decompressed, how many bytes it has read (progress). Made by
//! the command for each run and passed
//! down explicitly (never a process-wide static), so two runs in one process never see
//! each other's.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::read::progress::Counter;

/// First and last record instants of an input.
pub type Ends = (Option<i64>, Option<i64>);

/// Per-run reading state, shared by detection (main thread), planning, the jobs (rayon's
/// workers) and the state file's commit; input ids are those of this run's discovery.
#[derive(Default)]
pub struct RunCtx {
    /// The rest of stdin after its sniffed head (stdin can be read only once).
    stdin_rest: Mutex<Option<Box<dyn Read + Send>>>,
    /// Where the records of seeked inputs begin and end, by input id: an empty
    /// `--since/--until` window says where the logs are, though the lines outside were not
    /// parsed.
    seeked_ends: Mutex<BTreeMap<usize, Ends>>,
    /// Decompressed lengths of compressed inputs read to their end, by input id (an
    /// incremental run records how far it got).
    decompressed: Mutex<BTreeMap<usize, u64>>,
    /// Bytes read from disk and the input being read, for the progress bar.
    progress: Arc<Counter>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunCtx {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep the rest of stdin (after the head detection read) for the job that reads it.
    pub fn set_stdin_rest(&self, r: Box<dyn Read + Send>) {
        *lock(&self.stdin_rest) = Some(r);
    }

    /// The rest of stdin, once.
    pub fn take_stdin_rest(&self) -> Option<Box<dyn Read + Send>> {
        lock(&self.stdin_rest).take()
    }

    pub fn set_seeked_ends(&self, id: usize, ends: Ends) {
        lock(&self.seeked_ends).insert(id, ends);
    }

    pub fn seeked_ends(&self, id: usize) -> Option<Ends> {
        lock(&self.seeked_ends).get(&id).copied()
    }

    pub fn set_decompressed_len(&self, id: usize, n: u64) {
        lock(&self.decompressed).insert(id, n);
    }

    pub fn decompressed_len(&self, id: usize) -> Option<u64> {
        lock(&self.decompressed).get(&id).copied()
    }

    /// The run's progress counter (readers count into it, `progress::Progress` draws it).
    pub fn progress(&self) -> &Arc<Counter> {
        &self.progress
    }
}

impl std::fmt::Debug for RunCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCtx")
            .field("stdin_rest", &lock(&self.stdin_rest).is_some())
            .field("seeked_ends", &*lock(&self.seeked_ends))
            .field("decompressed", &*lock(&self.decompressed))
            .field("progress", &self.progress.done())
            .finish()
    }
}
