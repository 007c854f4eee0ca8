//! Local wall-clock times to instants, under the DST policy in DESIGN.md:
//! a local time that does not exist (spring forward) fires at the first valid instant after the
//! gap; an ambiguous one (fall back) fires once, at the earlier instant; the next day is found by
//! calendar date, never by adding 24 hours.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// The instant at which `time` happens on local `date` in `tz`.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Inside a gap. Transitions fall on whole minutes, and no gap is longer than a day,
            // so walking forward minute by minute finds the first valid local time.
            let mut probe = naive;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return t.with_timezone(&Utc),
                    LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            // Unreachable for real zones; fall back to reading the time as UTC.
            Utc.from_utc_datetime(&naive)
        }
    }
}

/// The local calendar date of an instant in a zone.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// A set of weekdays, as a bit mask (Monday = bit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(pub u8);

impl Weekdays {
    pub const ALL: Weekdays = Weekdays(0b111_1111);

    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 & 0b111_1111 == 0
    }

    /// Parses "mon,tue,fri", "weekdays", "weekends", "every day"/"daily"/"all".
    pub fn parse(s: &str) -> Option<Weekdays> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "all" | "daily" | "every day" | "everyday" => return Some(Weekdays::ALL),
            "weekdays" => return Some(Weekdays(0b001_1111)),
            "weekends" => return Some(Weekdays(0b110_0000)),
            _ => {}
        }
        let mut mask = 0u8;
        for part in s.split([',', ' ']).filter(|p| !p.is_empty()) {
            let d: Weekday = part.parse().ok()?;
            mask |= 1 << d.num_days_from_monday();
        }
        (mask != 0).then_some(Weekdays(mask))
    }

    pub fn describe(self) -> String {
        if self == Weekdays::ALL {
            return "every day".into();
        }
        if self == Weekdays(0b001_1111) {
            return "weekdays".into();
        }
        if self == Weekdays(0b110_0000) {
            return "weekends".into();
        }
        const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        (0..7)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| NAMES[i])
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The next occurrence strictly after `after` of local `time` on an allowed weekday, with the
/// local date it belongs to (the key that makes a daily post unique).
pub fn next_local(
    tz: Tz,
    time: NaiveTime,
    days: Weekdays,
    after: DateTime<Utc>,
) -> Option<(NaiveDate, DateTime<Utc>)> {
    if days.is_empty() {
        return None;
    }
    // Start a day early: `after` may fall before today's slot on the previous local date's
    // terms near midnight in far-off zones.
    let mut date = local_date(tz, after).pred_opt()?;
    for _ in 0..10 {
        if days.contains(date.weekday()) {
            let at = local_instant(tz, date, time);
            if at > after {
                return Some((date, at));
            }
        }
        date = date.succ_opt()?;
    }
    None
}

/// Parses "HH:MM" (24-hour).
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }
    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn spring_forward_gap_fires_after_gap() {
        // New York 2026-03-08: 02:00 -> 03:00.
        let at = local_instant(Tz::America__New_York, d(2026, 3, 8), t(2, 30));
        assert_eq!(at, utc("2026-03-08T07:00:00Z"));
        // Lord Howe 2026-10-04: 02:00 -> 02:30 (a 30-minute shift).
        let at = local_instant(Tz::Australia__Lord_Howe, d(2026, 10, 4), t(2, 10));
        assert_eq!(at.with_timezone(&Tz::Australia__Lord_Howe).time(), t(2, 30));
    }

    #[test]
    fn fall_back_overlap_fires_at_earlier() {
        // London 2026-10-25: 01:00-02:00 happens twice; the earlier is BST (UTC+1).
        let at = local_instant(Tz::Europe__London, d(2026, 10, 25), t(1, 30));
        assert_eq!(at, utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn next_day_by_calendar_not_24h() {
        let tz = Tz::America__New_York;
        let (date, first) =
            next_local(tz, t(8, 0), Weekdays::ALL, utc("2026-03-07T12:00:00Z")).unwrap();
        assert_eq!(date, d(2026, 3, 7));
        let (date2, second) = next_local(tz, t(8, 0), Weekdays::ALL, first).unwrap();
        assert_eq!(date2, d(2026, 3, 8));
        // 23 hours across spring-forward, still 08:00 local.
        assert_eq!(second - first, Duration::hours(23));
        assert_eq!(second.with_timezone(&tz).time(), t(8, 0));
    }

    #[test]
    fn odd_offsets() {
        let at = local_instant(Tz::Asia__Kathmandu, d(2026, 6, 1), t(8, 0));
        assert_eq!(at, utc("2026-06-01T02:15:00Z"));
        let at = local_instant(Tz::Pacific__Chatham, d(2026, 1, 10), t(8, 0));
        assert_eq!(at, utc("2026-01-09T18:15:00Z"));
    }

    #[test]
    fn weekdays_parse_and_skip() {
        let wd = Weekdays::parse("mon, wed").unwrap();
        assert!(wd.contains(Weekday::Mon) && !wd.contains(Weekday::Tue));
        assert_eq!(Weekdays::parse("weekdays"), Some(Weekdays(0b001_1111)));
        assert_eq!(Weekdays::parse("funday"), None);
        // 2026-11-25 is a Wednesday; next Monday slot is the 30th.
        let (date, _) = next_local(
            Tz::UTC,
            t(9, 0),
            Weekdays::parse("mon").unwrap(),
            utc("2026-11-25T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(date, d(2026, 11, 30));
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("08:30"), Some(t(8, 30)));
        assert_eq!(parse_hhmm("8:05"), Some(t(8, 5)));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("08:60"), None);
        assert_eq!(parse_hhmm("0830"), None);
        assert_eq!(parse_hhmm("8:5"), None);
    }
}
