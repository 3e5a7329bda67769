//! Times you can trust: the year of year-less syslog timestamps, resolved per input from its
//! dated lines, else its modification time, else the clock (`gatelog_parsers::time::YearHint`).

use std::io::Read;

use gatelog_parsers::time::{first_dated, YearHint};
use gatelog_parsers::Format;

use crate::input::{self, Input, Source};

/// How much of an input's head is searched for a dated line.
const HEAD_BYTES: u64 = 256 << 10;

/// Whether `f`'s parser reads timestamps without a year (RFC 3164 syslog prefixes).
pub fn needs_year(f: Format) -> bool {
    matches!(f, Format::Haproxy | Format::FpmError)
}

/// The first line of `head` with a date that carries a year, as wall-clock seconds.
pub fn dated_in(head: &[u8]) -> Option<i64> {
    head.split(|&b| b == b'\n').take(4000).find_map(first_dated)
}

/// The year hint of a file input: near its first dated line (searched in its first 256 KiB),
/// else before its modification time, else before now.
pub fn year_hint(inp: &Input) -> YearHint {
    if let Ok(r) = input::open(inp) {
        let mut head = Vec::new();
        if r.take(HEAD_BYTES).read_to_end(&mut head).is_ok() || !head.is_empty() {
            if let Some(t) = dated_in(&head) {
                return YearHint::Near(t);
            }
        }
    }
    if let Source::File(p) = &inp.source {
        if let Some(secs) = std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        {
            return YearHint::Before(secs.as_secs() as i64);
        }
    }
    YearHint::now()
}

/// The year hint of stdin: near the first dated line of its head, else before now.
pub fn stdin_year_hint(head: &[u8]) -> YearHint {
    dated_in(head).map_or_else(YearHint::now, YearHint::Near)
}
