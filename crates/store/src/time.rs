//! UTC calendar arithmetic on unix seconds (days, ISO weeks, months), enough for usage windows
//! and activity dates without a date-time dependency.

pub const DAY: i64 = 86_400;

/// (year, month 1–12, day 1–31) of a day number (days since 1970-01-01).
pub fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day number of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn date_string(unix: i64) -> String {
    let (y, m, d) = civil(unix.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Start (unix seconds) of the UTC day, ISO week (Monday) and month containing `unix`.
pub fn window_starts(unix: i64) -> (i64, i64, i64) {
    let day = unix.div_euclid(DAY);
    let monday = day - (day + 3).rem_euclid(7);
    let (y, m, _) = civil(day);
    (day * DAY, monday * DAY, days_from_civil(y, m, 1) * DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(1_795_321_220), "2026-11-22");
        for day in [-1000, 0, 59, 60, 365, 11_000, 20_000, 20_514] {
            let (y, m, d) = civil(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        // 2026-11-22 is a Sunday: its week began Monday 2026-11-16; its month on 2026-11-01.
        let (d, w, m) = window_starts(1_795_321_220);
        assert_eq!(date_string(d), "2026-11-22");
        assert_eq!(date_string(w), "2026-11-16");
        assert_eq!(date_string(m), "2026-11-01");
    }
}

/// ISO 8601 UTC, as OpenRouter writes timestamps: `2026-11-22T04:05:06Z`.
pub fn iso8601(unix: i64) -> String {
    let secs = unix.rem_euclid(DAY);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_string(unix),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS(.fff)Z` (or a bare date) to unix seconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T').unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time
        .split(':')
        .map(|p| p.split('.').next().and_then(|x| x.parse::<i64>().ok()));
    let (hh, mm, ss) = (
        t.next().flatten().unwrap_or(0),
        t.next().flatten().unwrap_or(0),
        t.next().flatten().unwrap_or(0),
    );
    Some(days_from_civil(y, m as u32, day as u32) * DAY + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod iso_tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        assert_eq!(iso8601(1_795_321_220), "2026-11-22T04:20:20Z");
        assert_eq!(parse_iso8601("2026-11-22T04:20:20Z"), Some(1_795_321_220));
        assert_eq!(
            parse_iso8601("2026-11-22T04:20:20.123Z"),
            Some(1_795_321_220)
        );
        assert_eq!(parse_iso8601("2026-11-22"), Some(1_795_305_600));
        assert_eq!(parse_iso8601("yesterday"), None);
    }
}
