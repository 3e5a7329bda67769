//! One `--state` file, one run at a time: nightly runs that overlap (a slow run still going
//! when cron starts the next) would otherwise both read the bytes after the same saved
//! offsets and count them twice. A run takes an exclusive `flock` on `<state>.lock` before it
//! looks at its inputs and holds it until the new state is written; a second run waits for
//! it (saying so on stderr) and then reads only what the first left, or gives up with an
//! error after a bounded wait (`GATELOG_STATE_LOCK_WAIT` seconds, default 600).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::exit::UserError;

/// Default bound of the wait for another run (seconds).
pub const WAIT_S: u64 = 600;

/// Held for the whole run; the lock is released when this is dropped (or the process ends,
/// also by SIGKILL: the kernel drops `flock` locks with the file descriptor).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

pub fn lock_path(state: &Path) -> PathBuf {
    let mut s = state.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

fn wait_bound() -> Duration {
    let s = std::env::var("GATELOG_STATE_LOCK_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(WAIT_S);
    Duration::from_secs(s)
}

/// Take the lock of `state`, waiting (bounded) for another run that holds it.
pub fn lock(state: &Path, quiet: bool) -> Result<StateLock, UserError> {
    let path = lock_path(state);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            UserError(format!(
                "{}: cannot open the state lock: {e}; check the state directory's permissions",
                path.display()
            ))
        })?;
    let bound = wait_bound();
    let start = Instant::now();
    let mut said = false;
    loop {
        match try_lock(&file) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(UserError(format!("{}: cannot lock: {e}", path.display()))),
        }
        if start.elapsed() >= bound {
            return Err(UserError(format!(
                "{}: another gatelog run with --state {} has held this lock for {}s; not reading, so no bytes are counted twice (rerun when it ends; GATELOG_STATE_LOCK_WAIT sets the wait)",
                path.display(),
                state.display(),
                bound.as_secs()
            )));
        }
        if !said && !quiet {
            eprintln!(
                "gatelog: waiting for another run with --state {} to finish (it holds {}; up to {}s)",
                state.display(),
                path.display(),
                bound.as_secs()
            );
            said = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if said && !quiet {
        eprintln!(
            "gatelog: the other run finished after {:.1}s; reading what it left",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(StateLock { _file: file, path })
}

#[cfg(unix)]
fn try_lock(f: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        Some(libc::EINTR) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(unix))]
fn try_lock(_f: &File) -> std::io::Result<bool> {
    Ok(true)
}
