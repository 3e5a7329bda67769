//! Time zones for formats whose timestamps carry none (nginx error log, php-fpm).

use chrono::{NaiveDateTime, Offset, TimeZone};

/// Where the zone for zone-less timestamps comes from.
#[derive(Clone, Debug)]
pub enum TzChoice {
    /// A fixed offset in seconds east of UTC, with where it came from.
    Fixed(i32, String),
    /// An IANA zone given with `--tz` (offset changes with DST).
    Named(chrono_tz::Tz),
    /// The machine's local zone.
    Local,
}

impl TzChoice {
    /// Parse `--tz`: `UTC`, `Z`, `+08:00`, `-0700`, `Europe/Berlin`, `local`.
    pub fn parse(s: &str) -> Result<TzChoice, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Ok(TzChoice::Fixed(0, "--tz".into()));
        }
        if t.eq_ignore_ascii_case("local") {
            return Ok(TzChoice::Local);
        }
        if t.starts_with(['+', '-']) {
            if let Some((off, used)) = gatelog_parsers::time::parse_zone(t.as_bytes()) {
                if used == t.len() {
                    return Ok(TzChoice::Fixed(off, "--tz".into()));
                }
            }
            return Err(format!("invalid --tz offset '{s}': use +HH:MM, -HHMM, UTC or a zone name such as Europe/Berlin"));
        }
        t.parse::<chrono_tz::Tz>()
            .map(TzChoice::Named)
            .map_err(|_| format!("unknown --tz zone '{s}': use UTC, +08:00 or an IANA name such as Asia/Shanghai"))
    }

    /// The zone of a run's zone-less timestamps: `--tz` (`forced`), else the offset of the
    /// first `$time_local` seen (and the input it was seen in), else the machine's local
    /// zone. One fallback for `analyze` and `live`.
    pub fn for_run(forced: Option<&TzChoice>, offset_seen: Option<&(i32, String)>) -> TzChoice {
        match (forced, offset_seen) {
            (Some(t), _) => t.clone(),
            (None, Some((o, name))) => {
                TzChoice::Fixed(*o, format!("offset of $time_local in {name}"))
            }
            (None, None) => TzChoice::Local,
        }
    }

    /// A human description for reports.
    pub fn describe(&self) -> String {
        match self {
            TzChoice::Fixed(off, src) => format!("{} ({src})", fmt_offset(*off)),
            TzChoice::Named(tz) => format!("{} (--tz)", tz.name()),
            TzChoice::Local => {
                let off = chrono::Local::now().offset().fix().local_minus_utc();
                format!(
                    "local zone, {} now (no --tz and no $time_local offset seen)",
                    fmt_offset(off)
                )
            }
        }
    }

    pub fn resolver(&self) -> TzResolver {
        TzResolver {
            choice: self.clone(),
            cache_hour: i64::MIN,
            cache_off: 0,
        }
    }
}

pub fn fmt_offset(off: i32) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

/// Per-worker resolver with a one-hour cache (offsets change at most on the hour).
#[derive(Clone, Debug)]
pub struct TzResolver {
    choice: TzChoice,
    cache_hour: i64,
    cache_off: i32,
}

impl TzResolver {
    /// Offset (seconds east) for a wall-clock time in µs since the epoch as if UTC.
    #[inline]
    pub fn offset(&mut self, wall_us: i64) -> i32 {
        match &self.choice {
            TzChoice::Fixed(o, _) => *o,
            _ => {
                let hour = wall_us.div_euclid(3_600_000_000);
                if hour != self.cache_hour {
                    self.cache_hour = hour;
                    self.cache_off = self.lookup(hour * 3600);
                }
                self.cache_off
            }
        }
    }

    fn lookup(&self, wall_s: i64) -> i32 {
        let Some(naive) = chrono::DateTime::from_timestamp(wall_s, 0).map(|d| d.naive_utc()) else {
            return 0;
        };
        match &self.choice {
            TzChoice::Fixed(o, _) => *o,
            TzChoice::Named(tz) => off_of(tz, &naive),
            TzChoice::Local => off_of(&chrono::Local, &naive),
        }
    }
}

fn off_of<Z: TimeZone>(z: &Z, naive: &NaiveDateTime) -> i32 {
    match z.offset_from_local_datetime(naive) {
        chrono::LocalResult::Single(o) | chrono::LocalResult::Ambiguous(o, _) => {
            o.fix().local_minus_utc()
        }
        chrono::LocalResult::None => {
            // in a DST gap: use the offset an hour later
            let later = *naive + chrono::Duration::hours(1);
            z.offset_from_local_datetime(&later)
                .earliest()
                .map(|o| o.fix().local_minus_utc())
                .unwrap_or(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_resolve() {
        assert!(matches!(
            TzChoice::parse("+08:00"),
            Ok(TzChoice::Fixed(28800, _))
        ));
        assert!(matches!(
            TzChoice::parse("-0700"),
            Ok(TzChoice::Fixed(-25200, _))
        ));
        assert!(TzChoice::parse("+8").is_err());
        assert!(TzChoice::parse("Mars/Olympus").is_err());
        let mut r = TzChoice::parse("Europe/Berlin").unwrap().resolver();
        // 2026-07-01 12:00 wall → CEST +2; 2026-01-01 → CET +1
        let jul = gatelog_parsers::time::days_from_civil(2026, 7, 1) * 86_400_000_000
            + 12 * 3_600_000_000;
        let jan = gatelog_parsers::time::days_from_civil(2026, 1, 1) * 86_400_000_000;
        assert_eq!(r.offset(jul), 7200);
        assert_eq!(r.offset(jan), 3600);
    }
}
