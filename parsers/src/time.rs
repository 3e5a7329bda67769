//! Timestamps: hand-written fixed-width parsers and a one-second cache, so that the calendar
//! arithmetic runs once per distinct second rather than once per line.

/// A point in time as a log wrote it.
///
/// `wall_us` is the wall-clock time the log shows, in microseconds since 1970-01-01 counted as
/// if that wall clock were UTC. `offset` is the zone offset in seconds east of UTC when the log
/// wrote one (`+0800` → 28800), `None` for zone-less formats (nginx error log, php-fpm), whose
/// zone the caller supplies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ts {
    pub wall_us: i64,
    pub offset: Option<i32>,
}

impl Ts {
    pub fn new(wall_us: i64, offset: Option<i32>) -> Ts {
        Ts { wall_us, offset }
    }
    /// The instant in UTC microseconds, using `default_offset` when the log wrote no zone.
    pub fn utc_us(self, default_offset: i32) -> i64 {
        self.wall_us - (self.offset.unwrap_or(default_offset) as i64) * 1_000_000
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `Jan`..`Dec` (case-insensitive on the first letter only as logs write them) → 1..12.
pub fn month_from_abbr(b: &[u8]) -> Option<u32> {
    if b.len() != 3 {
        return None;
    }
    Some(match [b[0] | 0x20, b[1] | 0x20, b[2] | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
}

/// Parse exactly `n` ASCII digits at `b[i..i+n]`.
#[inline]
pub fn digits(b: &[u8], i: usize, n: usize) -> Option<u32> {
    let s = b.get(i..i + n)?;
    let mut v: u32 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u32)?;
    }
    Some(v)
}

#[inline]
fn hms(b: &[u8], i: usize) -> Option<i64> {
    let h = digits(b, i, 2)?;
    let m = digits(b, i + 3, 2)?;
    let s = digits(b, i + 6, 2)?;
    if b[i + 2] != b':' || b[i + 5] != b':' || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h * 3600 + m * 60 + s) as i64)
}

/// Days in month `m` (1..=12) of year `y` (proleptic Gregorian); 0 for a month out of range.
/// Day checks use it so that `31/Feb` is an invalid date, not 3 March.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn ymd_secs(y: u32, mo: u32, d: u32) -> Option<i64> {
    if d == 0 || d > days_in_month(y as i64, mo) || !(1970..=9999).contains(&y) {
        return None;
    }
    Some(days_from_civil(y as i64, mo, d) * 86400)
}

/// Parse a `+0800` / `-07:00` / `Z` zone; returns (offset seconds, bytes used).
pub fn parse_zone(b: &[u8]) -> Option<(i32, usize)> {
    match b.first()? {
        b'Z' | b'z' => Some((0, 1)),
        s @ (b'+' | b'-') => {
            let hh = digits(b, 1, 2)?;
            let (mm, used) = if b.get(3) == Some(&b':') {
                (digits(b, 4, 2)?, 6)
            } else {
                (digits(b, 3, 2)?, 5)
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            let off = (hh * 3600 + mm * 60) as i32;
            Some((if *s == b'-' { -off } else { off }, used))
        }
        _ => None,
    }
}

/// Parse `.123` / `,123456` fractional seconds; returns (microseconds, bytes used incl. dot).
pub fn parse_fraction(b: &[u8]) -> (u32, usize) {
    if !matches!(b.first(), Some(b'.') | Some(b',')) {
        return (0, 0);
    }
    let mut us: u32 = 0;
    let mut n = 0;
    let mut i = 1;
    while i < b.len() && b[i].is_ascii_digit() {
        if n < 6 {
            us = us * 10 + (b[i] - b'0') as u32;
            n += 1;
        }
        i += 1;
    }
    if i == 1 {
        return (0, 0);
    }
    while n < 6 {
        us *= 10;
        n += 1;
    }
    (us, i)
}

/// A cache of the last parsed "seconds" prefix: consecutive lines usually share it.
#[derive(Clone, Debug, Default)]
pub struct SecondCache {
    key: [u8; 32],
    key_len: usize,
    secs: i64,
    /// The last `+hhmm` zone seen and its offset (a log's zone rarely changes).
    zone: [u8; 5],
    zone_off: Option<i32>,
    /// CLF: the date and hour (`23/Nov/2026:10`) of the last second parsed in full and the
    /// instant of its `:00:00`, so that a new second of the same hour (a log of a few lines a
    /// second changes second every few lines) costs two digit pairs, not a date.
    clf_hour: [u8; 14],
    clf_hour_secs: Option<i64>,
}

impl SecondCache {
    pub fn new() -> Self {
        Self::default()
    }
    #[inline(always)]
    fn get(&self, k: &[u8]) -> Option<i64> {
        let n = k.len();
        if self.key_len != n {
            return None;
        }
        let kl = self.key.get(..n)?;
        let same = if (16..=24).contains(&n) {
            // the usual 19- or 20-byte keys: three word compares instead of a memcmp call
            let w = |x: &[u8], i: usize| {
                let mut t = [0u8; 8];
                if let Some(s) = x.get(i..i + 8) {
                    t.copy_from_slice(s);
                }
                u64::from_ne_bytes(t)
            };
            w(k, 0) == w(kl, 0) && w(k, 8) == w(kl, 8) && w(k, n - 8) == w(kl, n - 8)
        } else {
            kl == k
        };
        if same {
            Some(self.secs)
        } else {
            None
        }
    }
    #[inline]
    fn put(&mut self, k: &[u8], secs: i64) {
        if k.len() <= 32 {
            self.key[..k.len()].copy_from_slice(k);
            self.key_len = k.len();
            self.secs = secs;
        }
    }

    /// nginx `$time_local` / CLF: `23/Nov/2026:10:00:00 +0000` (26 bytes). Also accepts
    /// HAProxy's `23/Nov/2026:10:00:00.123` (no zone; fraction) when `allow_no_zone`.
    /// Returns the timestamp and the bytes used.
    #[inline]
    pub fn clf(&mut self, b: &[u8]) -> Option<(Ts, usize)> {
        let mut ts = Ts::default();
        let used = self.clf_into(b, &mut ts)?;
        Some((ts, used))
    }

    /// [`SecondCache::clf`] writing the timestamp into `out` (untouched on `None`): the usual
    /// line (the second and the zone of the line before, no fraction) is inlined and stores
    /// straight into the record; returning the pair through the stack stalled the caller.
    #[inline(always)]
    pub fn clf_into(&mut self, b: &[u8], out: &mut Ts) -> Option<usize> {
        if let (Some(head), Some(&b' '), Some(z), Some(off)) =
            (b.get(..20), b.get(20), b.get(21..26), self.zone_off)
        {
            if z == self.zone {
                if let Some(secs) = self.get(head) {
                    *out = Ts::new(s_us(secs, 0), Some(off));
                    return Some(26);
                }
            }
        }
        let (ts, used) = self.clf_slow(b)?;
        *out = ts;
        Some(used)
    }

    #[inline(never)]
    fn clf_slow(&mut self, b: &[u8]) -> Option<(Ts, usize)> {
        let head = b.get(..20)?;
        let secs = match self.get(head) {
            Some(s) => s,
            None => {
                let s = match self.clf_hour_secs {
                    // the same date and hour: what `hms` checks of the minutes and seconds
                    Some(hour) if head.get(..14) == Some(&self.clf_hour[..]) => {
                        let m = digits(b, 15, 2)?;
                        let s = digits(b, 18, 2)?;
                        if b[14] != b':' || b[17] != b':' || m > 59 || s > 60 {
                            return None;
                        }
                        hour + (m * 60 + s) as i64
                    }
                    _ => {
                        let d = digits(b, 0, 2)?;
                        let mo = month_from_abbr(&b[3..6])?;
                        let y = digits(b, 7, 4)?;
                        if b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
                            return None;
                        }
                        let day = ymd_secs(y, mo, d)?;
                        let s = day + hms(b, 12)?;
                        // `hms` read the hour
                        let h = digits(b, 12, 2)? as i64;
                        self.clf_hour.copy_from_slice(&b[..14]);
                        self.clf_hour_secs = Some(day + h * 3600);
                        s
                    }
                };
                self.put(head, s);
                s
            }
        };
        let (us, flen) = parse_fraction(&b[20..]);
        let mut used = 20 + flen;
        let mut offset = None;
        if b.get(used) == Some(&b' ') {
            let z = b.get(used + 1..used + 6);
            match (z, self.zone_off) {
                (Some(z), Some(off)) if z == self.zone => {
                    offset = Some(off);
                    used += 6;
                }
                _ => {
                    if let Some((off, zl)) = parse_zone(&b[used + 1..]) {
                        offset = Some(off);
                        if zl == 5 {
                            if let Some(z) = z {
                                self.zone.copy_from_slice(z);
                                self.zone_off = Some(off);
                            }
                        }
                        used += 1 + zl;
                    }
                }
            }
        }
        Some((Ts::new(s_us(secs, us), offset), used))
    }

    /// nginx error log: `2026/11/23 10:00:00` (19 bytes, zone-less).
    pub fn nginx_error(&mut self, b: &[u8]) -> Option<(Ts, usize)> {
        let head = b.get(..19)?;
        let secs = match self.get(head) {
            Some(s) => s,
            None => {
                let y = digits(b, 0, 4)?;
                let mo = digits(b, 5, 2)?;
                let d = digits(b, 8, 2)?;
                if b[4] != b'/' || b[7] != b'/' || b[10] != b' ' {
                    return None;
                }
                let s = ymd_secs(y, mo, d)? + hms(b, 11)?;
                self.put(head, s);
                s
            }
        };
        Some((Ts::new(secs * 1_000_000, None), 19))
    }

    /// php-fpm: `23-Nov-2026 10:00:00` with optional `.123456` (zone-less).
    pub fn fpm(&mut self, b: &[u8]) -> Option<(Ts, usize)> {
        let head = b.get(..20)?;
        let secs = match self.get(head) {
            Some(s) => s,
            None => {
                let d = digits(b, 0, 2)?;
                let mo = month_from_abbr(&b[3..6])?;
                let y = digits(b, 7, 4)?;
                if b[2] != b'-' || b[6] != b'-' || b[11] != b' ' {
                    return None;
                }
                let s = ymd_secs(y, mo, d)? + hms(b, 12)?;
                self.put(head, s);
                s
            }
        };
        let (us, flen) = parse_fraction(&b[20..]);
        Some((Ts::new(s_us(secs, us), None), 20 + flen))
    }

    /// ISO 8601 / RFC 3339: `2026-11-23T10:00:00[.ffffff][Z|+08:00|+0800]` (also with a
    /// space instead of `T`). Zone optional.
    pub fn iso8601(&mut self, b: &[u8]) -> Option<(Ts, usize)> {
        let head = b.get(..19)?;
        let secs = match self.get(head) {
            Some(s) => s,
            None => {
                let y = digits(b, 0, 4)?;
                let mo = digits(b, 5, 2)?;
                let d = digits(b, 8, 2)?;
                if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
                    return None;
                }
                let s = ymd_secs(y, mo, d)? + hms(b, 11)?;
                self.put(head, s);
                s
            }
        };
        let (us, flen) = parse_fraction(&b[19..]);
        let mut used = 19 + flen;
        let mut offset = None;
        if let Some((off, zl)) = b.get(used..).and_then(parse_zone) {
            offset = Some(off);
            used += zl;
        }
        Some((Ts::new(s_us(secs, us), offset), used))
    }
}

#[inline]
fn s_us(secs: i64, us: u32) -> i64 {
    secs * 1_000_000 + us as i64
}

/// nginx `$msec`: `1700000000.123` (seconds since the epoch, UTC).
pub fn parse_epoch(b: &[u8]) -> Option<Ts> {
    let dot = b.iter().position(|&c| c == b'.').unwrap_or(b.len());
    if dot == 0 || dot > 12 {
        return None;
    }
    let mut secs: i64 = 0;
    for &c in &b[..dot] {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        secs = secs * 10 + d as i64; // at most 12 digits: no overflow
    }
    let (us, used) = parse_fraction(&b[dot..]);
    if dot + used != b.len() {
        return None;
    }
    Some(Ts::new(s_us(secs, us), Some(0)))
}

/// [`parse_secs_us`] with its fast path (nginx's `D+.DDD`) inlined at the caller (the
/// once-a-line `$request_time`); the other shapes go to [`parse_secs_us`].
#[inline(always)]
pub fn parse_secs_us_inline(b: &[u8]) -> Option<u64> {
    let n = b.len();
    if let (true, Some(b'.')) = ((5..=8).contains(&n), b.get(n.wrapping_sub(4))) {
        let mut whole: u64 = 0;
        for &c in b.get(..n - 4)? {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            whole = whole * 10 + d as u64;
        }
        let d = |i: usize| b.get(i).map_or(10, |c| c.wrapping_sub(b'0'));
        let (d1, d2, d3) = (d(n - 3), d(n - 2), d(n - 1));
        if d1 > 9 || d2 > 9 || d3 > 9 {
            return None;
        }
        return Some(whole * 1_000_000 + (d1 as u64 * 100 + d2 as u64 * 10 + d3 as u64) * 1000);
    }
    parse_secs_us(b)
}

/// Parse a duration written in seconds with optional fraction (`0.123`, `12`) into
/// microseconds. `-` or empty → `None`. The common nginx shape (`D+.DDD`) takes a fast path.
#[inline]
pub fn parse_secs_us(b: &[u8]) -> Option<u64> {
    let n = b.len();
    if (5..=8).contains(&n) && b[n - 4] == b'.' {
        // fast path: up to 4 integer digits and exactly 3 decimals (nginx $request_time)
        let mut whole: u64 = 0;
        for &c in &b[..n - 4] {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            whole = whole * 10 + d as u64;
        }
        let (d1, d2, d3) = (
            b[n - 3].wrapping_sub(b'0'),
            b[n - 2].wrapping_sub(b'0'),
            b[n - 1].wrapping_sub(b'0'),
        );
        if d1 > 9 || d2 > 9 || d3 > 9 {
            return None;
        }
        return Some(whole * 1_000_000 + (d1 as u64 * 100 + d2 as u64 * 10 + d3 as u64) * 1000);
    }
    let mut whole: u64 = 0;
    let mut i = 0;
    while i < n && b[i].is_ascii_digit() {
        whole = whole.checked_mul(10)?.checked_add((b[i] - b'0') as u64)?;
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let (us, used) = parse_fraction(&b[i..]);
    if i + used != n {
        return None;
    }
    whole.checked_mul(1_000_000)?.checked_add(us as u64)
}

/// How to give a year to a timestamp written without one (RFC 3164 syslog `Nov 23 17:21:06`).
/// The parsers do no I/O: the caller resolves the hint from the input (its dated lines, else
/// its modification time, else the clock) and passes it in [`crate::ParserOptions::year_hint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YearHint {
    /// The input was last written at this wall-clock time (seconds since 1970): its lines are
    /// before it (up to two days of slack for zones and clocks), so a `Dec 31` line read with
    /// a January reference belongs to the year before.
    Before(i64),
    /// A dated line of the same input was written at this wall-clock time: the year that puts
    /// the line nearest to it (a `Jan 1` line after a dated `Dec 31` one is in the next year).
    Near(i64),
}

impl YearHint {
    /// The clock's "now" as a [`YearHint::Before`] (live input, stdin without dated lines).
    pub fn now() -> Self {
        YearHint::Before(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        )
    }

    /// Wall-clock seconds of month `mo`, day `d`, `sod` seconds into the day, in the year this
    /// hint chooses.
    pub fn resolve(self, mo: u32, d: u32, sod: i64) -> i64 {
        let at = |y: i64| days_from_civil(y, mo, d) * 86400 + sod;
        match self {
            YearHint::Before(r) => {
                let (y, _, _) = civil_from_days(r.div_euclid(86400));
                let s = at(y);
                if s > r + 2 * 86400 {
                    at(y - 1)
                } else {
                    s
                }
            }
            YearHint::Near(r) => {
                let (y, _, _) = civil_from_days(r.div_euclid(86400));
                [y - 1, y, y + 1]
                    .into_iter()
                    .map(at)
                    .min_by_key(|s| (s - r).abs())
                    .unwrap_or_else(|| at(y))
            }
        }
    }
}

/// The wall-clock seconds of the first date written with a year in `line` (its first 256
/// bytes): `[23/Nov/2026:17:21:06`, `2026-11-23T17:21:06`, `2026-11-23 17:21:06`,
/// `2026/11/23 17:21:06`, `23-Nov-2026 17:21:06`. Used to give a year to an input's
/// year-less syslog timestamps ([`YearHint::Near`]).
pub fn first_dated(line: &[u8]) -> Option<i64> {
    let b = line.get(..line.len().min(256))?;
    let mut i = 0;
    while i + 4 <= b.len() {
        let Some(y) = digits(b, i, 4) else {
            i += 1;
            continue;
        };
        if !(1990..=2100).contains(&y) || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let y64 = y as i64;
        // yyyy-mm-dd[T ]hh:mm:ss, yyyy/mm/dd hh:mm:ss
        let sep = b.get(i + 4).copied();
        if matches!(sep, Some(b'-') | Some(b'/')) && b.get(i + 7).copied() == sep {
            if let (Some(mo), Some(d), Some(b'T' | b' ')) =
                (digits(b, i + 5, 2), digits(b, i + 8, 2), b.get(i + 10))
            {
                if (1..=12).contains(&mo) && d >= 1 && d <= days_in_month(y64, mo) {
                    if let Some(sod) = b.get(..i + 19).and_then(|_| hms(b, i + 11)) {
                        return Some(days_from_civil(y64, mo, d) * 86400 + sod);
                    }
                }
            }
        }
        // dd/Mon/yyyy:hh:mm:ss and dd-Mon-yyyy hh:mm:ss
        if i >= 7 {
            let s = b[i - 1];
            if (s == b'/' && b.get(i + 4) == Some(&b':'))
                || (s == b'-' && b.get(i + 4) == Some(&b' '))
            {
                if b[i - 5] == s {
                    if let (Some(mo), Some(d)) =
                        (month_from_abbr(&b[i - 4..i - 1]), digits(b, i - 7, 2))
                    {
                        if d >= 1 && d <= days_in_month(y64, mo) {
                            if let Some(sod) = b.get(..i + 13).and_then(|_| hms(b, i + 5)) {
                                return Some(days_from_civil(y64, mo, d) * 86400 + sod);
                            }
                        }
                    }
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A warm cache (its inlined fast path) reads every `$time_local` exactly as a cold one
    /// (the full parse), whatever came before: same second, new second, new zone, a fraction,
    /// a short or malformed tail.
    #[test]
    fn clf_fast_path_agrees_with_full_parse() {
        let inputs: &[&[u8]] = &[
            b"23/Nov/2026:10:00:00 +0000] \"GET",
            b"23/Nov/2026:10:00:00 +0000] \"GET",
            b"23/Nov/2026:10:00:01 +0000]",
            b"23/Nov/2026:10:00:01 +0100]",
            b"23/Nov/2026:10:00:01 +0100]",
            b"23/Nov/2026:10:00:01 -0530",
            b"23/Nov/2026:10:00:01 +0000",
            b"23/Nov/2026:10:00:01.250 +0000]",
            b"23/Nov/2026:10:00:01",
            b"23/Nov/2026:10:00:01 +00",
            b"23/Nov/2026:10:00:01 zzzzz]",
            b"23/Nov/2026:10:00:01  +0000]",
            b"23/Nov/2026:10:00:01 +0000]",
            b"24/Nov/2026:10:00:01 +0000]",
            b"24/Xyz/2026:10:00:01 +0000]",
            // new seconds of a cached date and hour (and what that hour's cache must refuse)
            b"24/Nov/2026:10:00:01 +0000]",
            b"24/Nov/2026:10:59:60 +0000]",
            b"24/Nov/2026:10:59:59 +0000]",
            b"24/Nov/2026:10:07:09 +0000]",
            b"24/Nov/2026:10:60:00 +0000]",
            b"24/Nov/2026:10:00:61 +0000]",
            b"24/Nov/2026:10:0x:00 +0000]",
            b"24/Nov/2026:10:00:x0 +0000]",
            b"24/Nov/2026:10-00:00 +0000]",
            b"24/Nov/2026:10:00-00 +0000]",
            b"24/Nov/2026:10:00:02.5 +0000]",
            b"24/Nov/2026:11:00:02 +0000]",
            b"24/Nov/2026:10:00:03 +0000]",
            b"25/Nov/2026:10:00:03 +0000]",
            b"31/Dec/2026:23:59:59 +0000]",
            b"31/Dec/2026:23:00:00 +0000]",
            b"01/Jan/2027:00:00:00 +0000]",
        ];
        let mut warm = SecondCache::new();
        for (i, b) in inputs.iter().enumerate() {
            let got = warm.clf(b);
            let want = SecondCache::new().clf(b);
            assert_eq!(got, want, "input {i}: {}", String::from_utf8_lossy(b));
        }
        // and the values themselves, from the hour's cache
        let mut c = SecondCache::new();
        let day = 20781 * 86400; // 24 Nov 2026
        for (b, s) in [
            (&b"24/Nov/2026:10:00:01 +0000"[..], 36001),
            (b"24/Nov/2026:10:59:60 +0000", 36000 + 3600),
            (b"24/Nov/2026:10:07:09 +0000", 36000 + 429),
            (b"24/Nov/2026:11:00:00 +0000", 39600),
        ] {
            let (ts, _) = c.clf(b).unwrap();
            assert_eq!(ts.wall_us, (day + s) * 1_000_000);
        }
    }

    #[test]
    fn civil_roundtrip() {
        for z in [-1000i64, 0, 1, 59, 60, 365, 10_000, 20_415, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2026, 11, 23), 20780);
    }

    #[test]
    fn clf_with_zone_and_cache() {
        let mut c = SecondCache::new();
        let (ts, used) = c.clf(b"23/Nov/2026:10:00:01 +0800] rest").unwrap();
        assert_eq!(used, 26);
        assert_eq!(ts.offset, Some(28800));
        assert_eq!(ts.wall_us, (20780 * 86400 + 36001) * 1_000_000);
        assert_eq!(ts.utc_us(0), (20780 * 86400 + 36001 - 28800) * 1_000_000);
        // cached second, other zone
        let (ts2, _) = c.clf(b"23/Nov/2026:10:00:01 -0130").unwrap();
        assert_eq!(ts2.offset, Some(-5400));
        // cached zone, then a new one, then a colon form
        let (ts3, u3) = c.clf(b"23/Nov/2026:10:00:02 -0130]").unwrap();
        assert_eq!((ts3.offset, u3), (Some(-5400), 26));
        let (ts4, _) = c.clf(b"23/Nov/2026:10:00:02 +0100]").unwrap();
        assert_eq!(ts4.offset, Some(3600));
        let (ts5, u5) = c.clf(b"23/Nov/2026:10:00:02 +01:30]").unwrap();
        assert_eq!((ts5.offset, u5), (Some(5400), 27));
        assert!(c.clf(b"23/Nov/2026:10:00:02 +0100").is_some());
        assert!(c.clf(b"23/Foo/2026:10:00:01 +0000").is_none());
        assert!(c.clf(b"23/Nov/2026:25:00:01 +0000").is_none());
    }

    #[test]
    fn fpm_and_nginx_error() {
        let mut c = SecondCache::new();
        let (ts, used) = c.fpm(b"23-Nov-2026 10:00:00.123456] x").unwrap();
        assert_eq!(used, 27);
        assert_eq!(ts.wall_us % 1_000_000, 123456);
        assert_eq!(ts.offset, None);
        let (ts, used) = c.nginx_error(b"2026/11/23 10:00:00 [error]").unwrap();
        assert_eq!(used, 19);
        assert_eq!(ts.wall_us, (20780 * 86400 + 36000) * 1_000_000);
    }

    #[test]
    fn iso_and_epoch() {
        let mut c = SecondCache::new();
        let (ts, used) = c.iso8601(b"2022-06-23T05:01:29-07:00 - x").unwrap();
        assert_eq!(used, 25);
        assert_eq!(ts.offset, Some(-25200));
        let (ts, used) = c.iso8601(b"2022-06-23T05:01:29.5Z").unwrap();
        assert_eq!(used, 22);
        assert_eq!(ts.wall_us % 1_000_000, 500_000);
        let ts = parse_epoch(b"1700000000.123").unwrap();
        assert_eq!(ts.wall_us, 1_700_000_000_123_000);
        assert!(parse_epoch(b"17x").is_none());
        // found by fuzzing (parse_nginx_access, $msec): ten or more digits overflowed u32
        assert_eq!(
            parse_epoch(b"9999999999.5").map(|t| t.wall_us),
            Some(9_999_999_999_500_000)
        );
        assert_eq!(
            parse_epoch(b"999999999999").map(|t| t.wall_us),
            Some(999_999_999_999_000_000)
        );
        assert_eq!(digits(b"99999999999", 0, 11), None);
        assert_eq!(parse_secs_us(b"0.004"), Some(4000));
        assert_eq!(parse_secs_us(b"-"), None);
        assert_eq!(parse_secs_us(b"12"), Some(12_000_000));
        assert_eq!(parse_secs_us(b"60.001"), Some(60_001_000));
        assert_eq!(parse_secs_us(b"1234.567"), Some(1_234_567_000));
        assert_eq!(parse_secs_us(b"12345.678"), Some(12_345_678_000));
        assert_eq!(parse_secs_us(b"0.5"), Some(500_000));
        assert_eq!(parse_secs_us(b"0.a00"), None);
        assert_eq!(parse_secs_us(b"x.000"), None);
        assert_eq!(parse_secs_us(b"1.0000001"), Some(1_000_000));
        // the inlined fast path is the same function
        for b in [
            &b"0.004"[..],
            b"-",
            b"",
            b"12",
            b"60.001",
            b"1234.567",
            b"12345.678",
            b"0.5",
            b"0.a00",
            b"x.000",
            b"1.0000001",
            b".000",
            b"1.00x",
            b"1-.000",
            b"99999999999999999999.000",
            b"\xff.000",
        ] {
            assert_eq!(
                parse_secs_us_inline(b),
                parse_secs_us(b),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
    }
    #[test]
    fn year_hints() {
        let day = |y, m, d| days_from_civil(y, m, d) * 86400;
        // a file modified on 2 January: its `Dec 31` lines are from the year before
        let jan2 = YearHint::Before(day(2027, 1, 2) + 3600);
        assert_eq!(jan2.resolve(12, 31, 60), day(2026, 12, 31) + 60);
        assert_eq!(jan2.resolve(1, 1, 60), day(2027, 1, 1) + 60);
        assert_eq!(jan2.resolve(1, 3, 0), day(2027, 1, 3), "two days of slack");
        assert_eq!(jan2.resolve(1, 5, 0), day(2026, 1, 5));
        // near a dated line: the nearest year, rolling forward across New Year
        let dec31 = YearHint::Near(day(2026, 12, 31) + 86000);
        assert_eq!(dec31.resolve(1, 1, 10), day(2027, 1, 1) + 10);
        assert_eq!(dec31.resolve(12, 30, 10), day(2026, 12, 30) + 10);
        let jan1 = YearHint::Near(day(2027, 1, 1));
        assert_eq!(jan1.resolve(12, 31, 0), day(2026, 12, 31));
        assert_eq!(jan1.resolve(2, 25, 0), day(2027, 2, 25));
    }

    #[test]
    fn first_dated_forms() {
        let at = |y, m, d, s: i64| days_from_civil(y, m, d) * 86400 + s;
        let t = 17 * 3600 + 21 * 60 + 6;
        assert_eq!(
            first_dated(
                b"Nov 23 17:21:06 vm haproxy[7]: 1.2.3.4:5 [23/Nov/2026:17:21:06.123] fe be/s"
            ),
            Some(at(2026, 11, 23, t))
        );
        assert_eq!(
            first_dated(b"2026-11-23T17:21:06.1Z host x: y"),
            Some(at(2026, 11, 23, t))
        );
        assert_eq!(
            first_dated(b"2026/11/23 17:21:06 [error] 1#1: x"),
            Some(at(2026, 11, 23, t))
        );
        assert_eq!(
            first_dated(b"[23-Nov-2026 17:21:06] WARNING: x"),
            Some(at(2026, 11, 23, t))
        );
        assert_eq!(
            first_dated(b"1.2.3.4 - - [23/Nov/2026:17:21:06 +0000] \"GET /"),
            Some(at(2026, 11, 23, t))
        );
        // no year, or not a date
        assert_eq!(
            first_dated(b"Nov 23 17:21:06 vm haproxy[7]: Health check for server be/s1 failed"),
            None
        );
        assert_eq!(
            first_dated(b"GET /2026-11-99 2026 12026-01-01T00:00:00"),
            None
        );
        assert_eq!(first_dated(b"31/Feb/2026:00:00:00"), None);
    }
}
