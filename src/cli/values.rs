//! The values of the command line, typed at the edge: clap runs these parsers while it reads
//! the arguments, so a bad value is a usage error naming the flag and the value
//! (`error: invalid value '10x' for '--bucket <DUR>': ...`, exit status 1) and `cmd/` only ever
//! sees the types.
//!
//! Durations are [`crate::units::Duration`] (shared with the rules' `for 5m`); time zones are
//! [`crate::ingest::tz::TzChoice`].

use std::fmt;

use gatelog_parsers::Format;

pub use crate::analysis::rules::Rule;
pub use crate::ingest::tz::TzChoice;
pub use crate::sink::export::Partition;
pub use crate::units::Duration;

/// `--since` / `--until`: an instant, or a duration before now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeBound {
    /// As given on the command line (messages quote it back).
    text: String,
    at: At,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// UTC microseconds.
    Instant(i64),
    /// Relative to now: `2h` is two hours before the run starts.
    Ago(Duration),
}

impl TimeBound {
    /// RFC 3339 (`2026-11-23T10:00:00+08:00`), a date-time without zone (UTC), or a duration
    /// before now (`2h`, `30m`).
    pub fn parse(s: &str) -> Result<TimeBound, String> {
        let t = s.trim();
        let at = if let Ok(d) = Duration::parse(t) {
            At::Ago(d)
        } else if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
            At::Instant(d.timestamp_micros())
        } else {
            let mut c = gatelog_parsers::time::SecondCache::new();
            match c.iso8601(t.as_bytes()) {
                Some((ts, used)) if used == t.len() => At::Instant(ts.utc_us(0)),
                _ => return Err(format!("invalid time '{s}': use RFC 3339 (2026-11-23T10:00:00+08:00) or a relative time such as 2h")),
            }
        };
        Ok(TimeBound {
            text: s.to_string(),
            at,
        })
    }

    /// The instant in UTC microseconds, relative forms counted back from `now_us`.
    pub fn resolve_us(&self, now_us: i64) -> i64 {
        match self.at {
            At::Instant(us) => us,
            At::Ago(d) => now_us - d.secs() * 1_000_000,
        }
    }

    /// True for the forms relative to now (`2h`).
    pub fn is_relative(&self) -> bool {
        matches!(self.at, At::Ago(_))
    }
}

/// The value as it was given.
impl fmt::Display for TimeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `--bucket`: the timeline's width, or `auto` (the default: chosen from the span).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BucketWidth {
    #[default]
    Auto,
    Fixed(Duration),
}

impl BucketWidth {
    /// `auto`, or a duration (`1s`, `10s`, `1m`, ...).
    pub fn parse(s: &str) -> Result<BucketWidth, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(BucketWidth::Auto);
        }
        Duration::parse(s).map(BucketWidth::Fixed)
    }

    /// The width asked for, in seconds; `None` for `auto`.
    pub fn fixed_s(self) -> Option<i64> {
        match self {
            BucketWidth::Auto => None,
            BucketWidth::Fixed(d) => Some(d.secs()),
        }
    }
}

impl fmt::Display for BucketWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketWidth::Auto => f.write_str("auto"),
            BucketWidth::Fixed(d) => d.fmt(f),
        }
    }
}

/// `live --window`: a duration of at most 15 minutes (live keeps no more).
pub fn live_window(s: &str) -> Result<Duration, String> {
    let d = Duration::parse(s)?;
    if d.secs() > LIVE_WINDOW_MAX_S {
        return Err(
            "at most 15m (live keeps the last 15 minutes; use `gatelog analyze` for longer)".into(),
        );
    }
    Ok(d)
}

/// The longest `live --window`.
pub const LIVE_WINDOW_MAX_S: i64 = 900;

/// One `--partition` key, `date` or `host` (clap splits `date,host` at the comma).
pub fn partition_key(s: &str) -> Result<Partition, String> {
    match crate::sink::export::parse_partition(&[s.to_string()])?.as_slice() {
        [p] => Ok(*p),
        _ => Err(format!(
            "invalid --partition '{s}': use date, host or date,host"
        )),
    }
}

/// `live --alert`: a `--fail-on` rule whose `for` window is at most an hour (live keeps no
/// more history).
pub fn alert_rule(s: &str) -> Result<Rule, String> {
    let r = crate::analysis::rules::parse(s)?;
    if r.for_s().unwrap_or(0) > ALERT_FOR_MAX_S {
        return Err("'for' is at most 1h in live mode".into());
    }
    Ok(r)
}

/// The longest `for` of a `live --alert` rule.
pub const ALERT_FOR_MAX_S: i64 = 3600;

/// One `--format` value: `FMT` for every input, or `PATH=FMT` for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatChoice {
    /// The input it is forced on; `None` for every input.
    pub path: Option<String>,
    pub format: Format,
}

impl FormatChoice {
    /// `FMT` or `PATH=FMT` (the last `=` splits: paths may hold one).
    pub fn parse(s: &str) -> Result<FormatChoice, String> {
        let (path, id) = match s.rsplit_once('=') {
            Some((p, f)) => (Some(p.to_string()), f),
            None => (None, s),
        };
        let format = Format::from_id(id).ok_or_else(|| {
            let ids: Vec<&str> = Format::ALL.iter().map(|f| f.id()).collect();
            format!("unknown format '{id}'; known formats: {}", ids.join(", "))
        })?;
        Ok(FormatChoice { path, format })
    }
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is unset or empty
    #[default]
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_keep_their_spelling_and_resolve_against_now() {
        let b = TimeBound::parse("2h").unwrap();
        assert!(b.is_relative());
        assert_eq!(b.resolve_us(10_000_000_000), 10_000_000_000 - 7_200_000_000);
        assert_eq!(b.to_string(), "2h");
        let b = TimeBound::parse("1970-01-01T01:00:10+01:00").unwrap();
        assert!(!b.is_relative());
        assert_eq!(b.resolve_us(123), 10_000_000);
        assert_eq!(b.to_string(), "1970-01-01T01:00:10+01:00");
        // no zone: UTC
        assert_eq!(
            TimeBound::parse("1970-01-01T00:00:10")
                .unwrap()
                .resolve_us(0),
            10_000_000
        );
        let e = TimeBound::parse("yesterday").unwrap_err();
        assert!(
            e.starts_with("invalid time 'yesterday': use RFC 3339"),
            "{e}"
        );
        assert!(TimeBound::parse("2026-11-23T10:00:00Zjunk").is_err());
    }

    #[test]
    fn bucket_widths() {
        assert_eq!(BucketWidth::parse("auto"), Ok(BucketWidth::Auto));
        assert_eq!(BucketWidth::parse("10s").unwrap().fixed_s(), Some(10));
        assert_eq!(BucketWidth::parse("1m").unwrap().fixed_s(), Some(60));
        assert_eq!(BucketWidth::Auto.fixed_s(), None);
        assert!(BucketWidth::parse("10x").is_err());
        assert!(BucketWidth::parse("0s").is_err());
    }

    #[test]
    fn partition_keys() {
        assert_eq!(partition_key("date"), Ok(Partition::Date));
        assert_eq!(partition_key(" host"), Ok(Partition::Host));
        let e = partition_key("month").unwrap_err();
        assert_eq!(
            e,
            "invalid --partition 'month': use date, host or date,host"
        );
        assert!(partition_key("").is_err());
    }

    #[test]
    fn format_choices() {
        let c = FormatChoice::parse("nginx-access").unwrap();
        assert_eq!((c.path, c.format), (None, Format::NginxAccess));
        let c = FormatChoice::parse("a=b.log=fpm-slow").unwrap();
        assert_eq!(
            (c.path.as_deref(), c.format),
            (Some("a=b.log"), Format::FpmSlow)
        );
        let e = FormatChoice::parse("x.log=nginx-acces").unwrap_err();
        assert!(
            e.starts_with("unknown format 'nginx-acces'; known formats: nginx-access, "),
            "{e}"
        );
    }

    #[test]
    fn alert_rules_keep_at_most_an_hour() {
        assert_eq!(
            alert_rule("rate(5xx) > 5% for 1h").unwrap().for_s(),
            Some(3600)
        );
        assert_eq!(
            alert_rule("rate(5xx) > 5% for 61m").unwrap_err(),
            "'for' is at most 1h in live mode"
        );
        let e = alert_rule("rate(5xx) > 5x").unwrap_err();
        assert!(e.contains("at '5x' (column 13)"), "{e}");
    }

    #[test]
    fn live_windows_stop_at_15m() {
        assert_eq!(live_window("15m").unwrap().secs(), 900);
        assert_eq!(live_window("1m").unwrap().secs(), 60);
        assert!(live_window("16m").unwrap_err().starts_with("at most 15m"));
        assert!(live_window("0m").is_err());
    }
}
