//! Progress on stderr (bytes done of total, throughput, ETA, current file) while `analyze`
//! reads its inputs: only when stderr is a terminal, never with `--quiet`, and never when
//! `NO_COLOR` or `TERM=dumb` ask for a plain terminal. Readers count the bytes they take from
//! disk (compressed bytes for compressed files) into one counter; a ticker thread draws it.

use std::io::{self, IsTerminal, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

static DONE: AtomicU64 = AtomicU64::new(0);
static CURRENT: Mutex<String> = Mutex::new(String::new());

/// Whether progress should be drawn: stderr is a terminal, not `--quiet`, not a dumb one.
pub fn wanted(quiet: bool) -> bool {
    !quiet
        && io::stderr().is_terminal()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("GATELOG_NO_PROGRESS").is_none()
}

/// Note that a reader started on `name`.
pub fn set_current(name: &str) {
    if let Ok(mut c) = CURRENT.lock() {
        c.clear();
        c.push_str(name);
    }
}

/// A reader that counts the bytes it hands out.
pub struct Counted<R>(pub R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        DONE.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar drawn by its own thread until dropped.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Start drawing when `enabled`; `total` is the number of bytes the readers will count.
    pub fn start(total: u64, enabled: bool) -> Option<Progress> {
        if !enabled || total == 0 {
            return None;
        }
        DONE.store(0, Ordering::Relaxed);
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
                    pb.set_position(DONE.load(Ordering::Relaxed).min(total));
                    if let Ok(c) = CURRENT.lock() {
                        // file names are user input: show them without control characters
                        pb.set_message(crate::units::display_bytes(c.as_bytes()));
                    }
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
    fn counted_reader_counts_what_it_hands_out() {
        let before = DONE.load(Ordering::Relaxed);
        let mut r = Counted(&b"hello world"[..]);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        assert_eq!(s, b"hello world");
        assert!(DONE.load(Ordering::Relaxed) >= before + 11);
    }

    #[test]
    fn nothing_is_drawn_when_disabled() {
        assert!(Progress::start(100, false).is_none());
        assert!(Progress::start(0, true).is_none());
    }
}
