//! Progress on stderr (bytes done of total, throughput, ETA, current file) while `analyze`
//! reads its inputs: only when stderr is a terminal, never with `--quiet`, and never when
//! `NO_COLOR` or `TERM=dumb` ask for a plain terminal. Readers count the bytes they take from
//! disk (compressed bytes for compressed files) into the run's [`Counter`] (carried by its
//! `RunCtx`, never a process-wide static: two runs in one process count apart); a ticker
//! thread draws it.

use std::io::{self, IsTerminal, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a run has read so far: bytes taken from disk and the input being read.
#[derive(Debug, Default)]
pub struct Counter {
    done: AtomicU64,
    current: Mutex<String>,
}

impl Counter {
    /// Note that a reader started on `name`.
    pub fn set_current(&self, name: &str) {
        if let Ok(mut c) = self.current.lock() {
            c.clear();
            c.push_str(name);
        }
    }

    /// Bytes counted so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// The input last started (lossy and without control characters: names are user input).
    fn current(&self) -> String {
        self.current
            .lock()
            .map(|c| crate::units::display_bytes(c.as_bytes()))
            .unwrap_or_default()
    }
}

/// Whether progress should be drawn: stderr is a terminal, not `--quiet`, not a dumb one.
pub fn wanted(quiet: bool) -> bool {
    !quiet
        && io::stderr().is_terminal()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("GATELOG_NO_PROGRESS").is_none()
}

/// A reader that counts the bytes it hands out into a run's counter.
pub struct Counted<R> {
    pub r: R,
    pub into: Arc<Counter>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.into.done.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar drawn by its own thread until dropped.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Start drawing `counter` when `enabled`; `total` is the number of bytes the readers
    /// will count into it.
    pub fn start(total: u64, enabled: bool, counter: Arc<Counter>) -> Option<Progress> {
        if !enabled || total == 0 {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let pb = indicatif::ProgressBar::with_draw_target(
                    Some(total),
                    indicatif::ProgressDrawTarget::stderr_with_hz(4),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{bytes:>10}/{total_bytes} {bar:30} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
                ) {
                    pb.set_style(style);
                }
                while !stop2.load(Ordering::Relaxed) {
                    pb.set_position(counter.done().min(total));
                    pb.set_message(counter.current());
                    std::thread::sleep(Duration::from_millis(100));
                }
                pb.finish_and_clear();
            })
            .ok()?;
        Some(Progress {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_reader_counts_what_it_hands_out_into_its_runs_counter() {
        let (a, b) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let mut s = Vec::new();
        Counted {
            r: &b"hello world"[..],
            into: a.clone(),
        }
        .read_to_end(&mut s)
        .unwrap();
        assert_eq!(s, b"hello world");
        Counted {
            r: &b"abc"[..],
            into: b.clone(),
        }
        .read_to_end(&mut s)
        .unwrap();
        // exactly: each run counts its own bytes only
        assert_eq!((a.done(), b.done()), (11, 3));
        a.set_current("x\x1by.log");
        assert_eq!(a.current(), "x\\x1by.log");
        assert_eq!(b.current(), "");
    }

    #[test]
    fn nothing_is_drawn_when_disabled() {
        let c = Arc::new(Counter::default());
        assert!(Progress::start(100, false, c.clone()).is_none());
        assert!(Progress::start(0, true, c).is_none());
    }
}
