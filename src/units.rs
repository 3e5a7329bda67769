//! Units shared by every layer: the duration grammar of `--bucket`, `--interval`,
//! `--since 1h` and the rules' `for 5m`.

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
