//! Units shared by every layer: the duration grammar of `--bucket`, `--interval`,
//! `--since 1h` and the rules' `for 5m`; log bytes as text and instants as RFC 3339.

/// Parse a duration such as `10s`, `1m`, `2h`, `1d`, `500ms` into seconds (at least 1).
pub fn parse_duration_s(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| {
        format!("invalid duration '{s}': use a number and a unit, e.g. 10s, 5m, 1h")
    })?;
    let mult = match unit {
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid duration unit in '{s}': use s, m, h or d")),
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| format!("duration '{s}' is too large"))?;
    if v <= 0 {
        return Err(format!("duration '{s}' must be positive"));
    }
    Ok(v)
}

/// A positive whole number of seconds, parsed from the duration grammar above: what
/// `--bucket`, `--interval`, `--window` and `--since 2h` hold once clap has read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Duration {
    /// Parse `10s`, `5m`, `2h`, `1d` (see [`parse_duration_s`]).
    pub fn parse(s: &str) -> Result<Duration, String> {
        parse_duration_s(s).map(Duration)
    }

    /// A duration of `s` seconds; `None` unless positive.
    pub fn from_secs(s: i64) -> Option<Duration> {
        (s > 0).then_some(Duration(s))
    }

    /// Whole seconds, at least 1.
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Duration, String> {
        Duration::parse(s)
    }
}

/// The shortest spelling the grammar reads back: `90s`, `5m`, `2h`, `1d`.
impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        if s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3600 == 0 {
            write!(f, "{}h", s / 3600)
        } else if s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

/// Lossy text of log bytes for reports: invalid UTF-8 replaced, control characters escaped
/// (`\x1b`) so no log line can drive a terminal.
pub fn display_bytes(b: &[u8]) -> String {
    // printable ASCII (most log text) shows as itself
    if b.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        if let Ok(s) = std::str::from_utf8(b) {
            return s.to_owned();
        }
    }
    let s = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            if c == '\n' {
                out.push_str("\\n");
            } else if c == '\t' {
                out.push_str("\\t");
            } else {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{n:x}}}"));
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 3339 with offset (UTC, `Z` written as `+00:00`) for µs since the epoch.
pub fn rfc3339(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(d) => {
            if us % 1_000_000 == 0 {
                d.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
            } else {
                d.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
            }
        }
        None => us.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_written() {
        for (s, secs, shown) in [
            ("10s", 10, "10s"),
            ("90", 90, "90s"),
            ("5m", 300, "5m"),
            ("120min", 7200, "2h"),
            ("1d", 86_400, "1d"),
        ] {
            let d = Duration::parse(s).unwrap();
            assert_eq!(d.secs(), secs, "{s}");
            assert_eq!(d.to_string(), shown, "{s}");
            assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }
        assert!(Duration::parse("0s").is_err());
        assert!(Duration::parse("5x").is_err());
        assert!(Duration::parse("").is_err());
        assert_eq!(Duration::from_secs(0), None);
    }
}
