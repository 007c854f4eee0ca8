//! Schedules: each partner's own check-in times and waking window, the couple's shared
//! settings, and when the next post is due.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use strum::{EnumString, IntoStaticStr};

use super::time::{next_local, Weekdays};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Slot {
    Morning,
    Evening,
}

impl Slot {
    pub const ALL: [Slot; 2] = [Slot::Morning, Slot::Evening];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Slot> {
        s.parse().ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum MicroFrequency {
    Off,
    Few,
    Daily,
}

impl MicroFrequency {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// One partner's schedule, in their own zone.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerSchedule {
    pub zone: Tz,
    pub morning: Option<NaiveTime>,
    pub evening: Option<NaiveTime>,
    pub days: Weekdays,
    pub waking_start: NaiveTime,
    pub waking_end: NaiveTime,
}

impl PartnerSchedule {
    pub fn slot_time(&self, slot: Slot) -> Option<NaiveTime> {
        match slot {
            Slot::Morning => self.morning,
            Slot::Evening => self.evening,
        }
    }

    /// The next post of `slot` strictly after `after`, with its local date.
    pub fn next(&self, slot: Slot, after: DateTime<Utc>) -> Option<(NaiveDate, DateTime<Utc>)> {
        next_local(self.zone, self.slot_time(slot)?, self.days, after)
    }
}

/// Settings the two partners share.
#[derive(Debug, Clone, PartialEq)]
pub struct CoupleSettings {
    /// How long a round stays open for answers after its latest post.
    pub window: Duration,
    pub reminder: Option<Duration>,
    pub quiet: Option<(NaiveTime, NaiveTime)>,
    pub recap_weekday: Weekday,
    pub recap_time: NaiveTime,
    pub micro: MicroFrequency,
    /// The weekly check-in: on or off, and its day and time when chosen (otherwise the
    /// recap's day, in the morning).
    pub weekly_on: bool,
    pub weekly_day: Option<Weekday>,
    pub weekly_time: Option<NaiveTime>,
    /// The two live apart: cues for calls and messages, none that need a room together.
    pub apart: bool,
}

/// When the weekly check-in comes by default: the recap's morning, so it is revealed before
/// the recap looks back on the week.
pub const WEEKLY_DEFAULT_TIME: (u32, u32) = (9, 0);

impl CoupleSettings {
    /// The weekly check-in's day and local time (home zone), or `None` when it is off.
    pub fn weekly(&self) -> Option<(Weekday, NaiveTime)> {
        self.weekly_on.then(|| {
            let (h, m) = WEEKLY_DEFAULT_TIME;
            (
                self.weekly_day.unwrap_or(self.recap_weekday),
                self.weekly_time
                    .unwrap_or_else(|| NaiveTime::from_hms_opt(h, m, 0).expect("valid")),
            )
        })
    }

    /// Whether a local time falls in quiet hours (which may wrap past midnight).
    pub fn is_quiet(&self, local: NaiveTime) -> bool {
        match self.quiet {
            None => false,
            Some((start, end)) if start <= end => local >= start && local < end,
            Some((start, end)) => local >= start || local < end,
        }
    }
}

pub fn weekday_from_iso(n: i16) -> Weekday {
    match n {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let s = CoupleSettings {
            window: Duration::hours(12),
            reminder: None,
            quiet: Some((t(22, 0), t(7, 0))),
            recap_weekday: Weekday::Sun,
            recap_time: t(18, 0),
            micro: MicroFrequency::Few,
            weekly_on: true,
            weekly_day: None,
            weekly_time: None,
            apart: false,
        };
        assert_eq!(
            s.weekly(),
            Some((Weekday::Sun, t(9, 0))),
            "the recap's morning"
        );
        assert!(s.is_quiet(t(23, 0)));
        assert!(s.is_quiet(t(6, 59)));
        assert!(!s.is_quiet(t(7, 0)));
        assert!(!s.is_quiet(t(12, 0)));
    }
}
