//! How an input is read once its lines are sniffed (`ingest::demux` detects it): a container
//! wrapper and the formats seen on each of its streams. Plain data that `read::input::Input`
//! carries, so reading needs nothing from the layers above it.

use gatelog_parsers::wrap::{Stream, Wrapper};
use gatelog_parsers::Format;

/// How an input is read: its wrapper, and the formats seen on each stream (best first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub wrapper: Option<Wrapper>,
    /// Indexed by `Stream as usize`; an unwrapped mixed file uses stdout's slot only.
    pub streams: [Vec<Format>; 2],
    /// Streams whose sample held klog lines.
    pub klog: [bool; 2],
}

impl Plan {
    /// The format of the input as a whole (the first detected one: stdout's, else stderr's).
    pub fn primary(&self) -> Format {
        self.streams
            .iter()
            .find_map(|s| s.first().copied())
            .unwrap_or(Format::NginxAccess)
    }

    /// `cri: nginx-access (stdout) + nginx-error (stderr)`; `mixed: fpm-error, fpm-access`.
    pub fn describe(&self) -> String {
        let names = |s: usize| {
            let mut v: Vec<&str> = self.streams[s].iter().map(|f| f.id()).collect();
            if self.klog[s] {
                v.push("klog");
            }
            v.join(", ")
        };
        match self.wrapper {
            None => format!("mixed: {}", names(0)),
            Some(Wrapper::Timestamped) => format!("timestamped: {}", names(0)),
            Some(w) => {
                let parts: Vec<String> = [Stream::Stdout, Stream::Stderr]
                    .iter()
                    .filter(|s| !self.streams[**s as usize].is_empty() || self.klog[**s as usize])
                    .map(|s| format!("{} ({})", names(*s as usize), s.id()))
                    .collect();
                format!("{}: {}", w.id(), parts.join(" + "))
            }
        }
    }
}
