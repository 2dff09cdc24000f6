//! Calendar dates in UTC from Unix time, for the labels and log lines
//! that show a time (no time zone database needed), and the clock live
//! capture runs on.

/// Now, in nanoseconds since the Unix epoch, as a steady clock: the wall
/// clock read once, at the first call, plus the monotonic time since.
/// Live capture stamps frames and closes its windows and intervals by it,
/// so a wall clock stepped back or forward (settimeofday, a jumping NTP
/// client) never stalls an interval or closes one early; the times it
/// shows drift from the wall clock only by the steps since start.
pub fn steady_unix_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    let (wall, mono) = ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (wall, Instant::now())
    });
    wall + mono.elapsed().as_nanos() as u64
}

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
}

impl Utc {
    /// The UTC date and time `secs` seconds after the Unix epoch.
    pub fn from_secs(secs: u64) -> Utc {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Utc {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_across_eras_and_leap_days() {
        let u = |s| {
            let t = Utc::from_secs(s);
            (t.year, t.month, t.day, t.hour, t.minute, t.second)
        };
        assert_eq!(u(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(u(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(u(1_615_987_918), (2021, 3, 17, 13, 31, 58));
        assert_eq!(u(4_107_542_399), (2100, 2, 28, 23, 59, 59));
    }
}
