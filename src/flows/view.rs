//! Small builders the journeys' cards share, and the words for times, days and the couple's
//! rhythm that several journeys show.

use chrono::{DateTime, Duration, Utc, Weekday};

use crate::content::copy::keys::{common as kc, onboarding as ko, settings as ks, time as kt};
use crate::content::copy::Arg;
use crate::content::Library;
use crate::domain::couple::Couple;
use crate::domain::custom_id::CustomId;
use crate::domain::ids::PersonId;
use crate::domain::schedule::{CoupleSettings, MicroFrequency};
use crate::domain::time::Weekdays;
use crate::transport::{Button, Field, Panel, Text, TimeStyle, Tone};

pub fn button(id: CustomId, label: impl Into<String>, tone: Tone) -> Button {
    Button {
        id,
        label: label.into(),
        tone,
    }
}

pub fn panel(title: impl Into<Text>, body: impl Into<Text>) -> Panel {
    Panel {
        title: title.into(),
        body: body.into(),
        fields: Vec::new(),
        footer: None,
    }
}

/// Whitespace only: trims, and keeps at most one blank line in a row. Words are never cut;
/// over-long text is refused instead.
pub fn tidy(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.trim().lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_some_and(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

pub fn field(name: Text, value: Text) -> Field {
    Field {
        name,
        value,
        inline: false,
    }
}
/// "alice · morning — Wed 08:00 (in 3 hours)", one line per upcoming check-in.
pub fn upcoming_lines(
    lib: &Library,
    couple: &Couple,
    upcoming: &[(PersonId, String, DateTime<Utc>)],
    max: usize,
) -> Text {
    if upcoming.is_empty() {
        return lib.t(ko::NO_CHECKINS_SCHEDULED, &[]);
    }
    let mut out = Text::new();
    for (person, slot, at) in upcoming.iter().take(max) {
        let Some(p) = couple.person_ref(*person) else {
            continue;
        };
        let slot = match slot.as_str() {
            "morning" => lib.s(ko::SLOT_MORNING),
            "evening" => lib.s(ko::SLOT_EVENING),
            "weekly" => lib.s(ko::SLOT_WEEKLY),
            other => other.to_string(),
        };
        out = out.line(lib.t(
            ko::UPCOMING_LINE,
            &[
                ("person", p.into()),
                ("slot", slot.into()),
                ("at", Arg::Instant(*at, TimeStyle::Full)),
                ("in", Arg::Instant(*at, TimeStyle::Relative)),
            ],
        ));
    }
    out
}
pub fn weekday_long(lib: &Library, d: Weekday) -> String {
    lib.s(match d {
        Weekday::Mon => kt::MON,
        Weekday::Tue => kt::TUE,
        Weekday::Wed => kt::WED,
        Weekday::Thu => kt::THU,
        Weekday::Fri => kt::FRI,
        Weekday::Sat => kt::SAT,
        Weekday::Sun => kt::SUN,
    })
}
pub fn weekday_short(lib: &Library, d: Weekday) -> String {
    lib.s(match d {
        Weekday::Mon => kt::MON_SHORT,
        Weekday::Tue => kt::TUE_SHORT,
        Weekday::Wed => kt::WED_SHORT,
        Weekday::Thu => kt::THU_SHORT,
        Weekday::Fri => kt::FRI_SHORT,
        Weekday::Sat => kt::SAT_SHORT,
        Weekday::Sun => kt::SUN_SHORT,
    })
}
/// "every day", "weekdays", "weekends" or "Mon, Wed".
pub fn describe_days(lib: &Library, days: Weekdays) -> String {
    if days == Weekdays::ALL {
        return lib.s(kt::EVERY_DAY);
    }
    if days == Weekdays(0b001_1111) {
        return lib.s(kt::WEEKDAYS);
    }
    if days == Weekdays(0b110_0000) {
        return lib.s(kt::WEEKENDS);
    }
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .filter(|d| days.contains(*d))
    .map(|d| weekday_short(lib, d))
    .collect::<Vec<_>>()
    .join(", ")
}
/// "3 h" or "90 min".
pub fn duration_words(lib: &Library, d: Duration) -> String {
    let m = d.num_minutes();
    if m % 60 == 0 {
        lib.sf(kt::HOURS, &[("n", &(m / 60).to_string())])
    } else {
        lib.sf(kt::MINUTES, &[("n", &m.to_string())])
    }
}
/// The couple's shared rhythm in two lines.
pub fn shared_line(lib: &Library, couple: &Couple, s: &CoupleSettings) -> Text {
    let reminder = match s.reminder {
        None => lib.s(ks::NO_REMINDER),
        Some(d) => lib.sf(ks::REMINDER_AFTER, &[("after", &duration_words(lib, d))]),
    };
    let quiet = match s.quiet {
        None => lib.s(ks::NO_QUIET),
        Some((a, b)) => lib.sf(
            ks::QUIET,
            &[
                ("start", &a.format("%H:%M").to_string()),
                ("end", &b.format("%H:%M").to_string()),
            ],
        ),
    };
    let micro = lib.s(match s.micro {
        MicroFrequency::Off => ks::MICRO_OFF,
        MicroFrequency::Few => ks::MICRO_FEW,
        MicroFrequency::Daily => ks::MICRO_DAILY,
    });
    let home = couple.home_partner().map(|p| p.person_ref());
    let mut args: Vec<(&str, Arg)> = vec![
        ("window", duration_words(lib, s.window).into()),
        ("reminder", reminder.into()),
        ("quiet", quiet.into()),
        ("micro", micro.into()),
        ("days", weekday_long(lib, s.recap_weekday).into()),
        ("time", s.recap_time.format("%H:%M").to_string().into()),
        ("zone", couple.home_zone().name().into()),
    ];
    match home {
        Some(p) => args.push(("person", p.into())),
        None => args.push(("person", lib.s(kc::YOUR_PARTNER).into())),
    }
    let mut t = lib.t(ks::RHYTHM, &args);
    t = t.line(match s.weekly() {
        Some((day, time)) => lib.t(
            ks::WEEKLY_LINE,
            &[
                ("day", weekday_long(lib, day).into()),
                ("time", time.format("%H:%M").to_string().into()),
            ],
        ),
        None => lib.t(ks::WEEKLY_OFF, &[]),
    });
    if s.apart {
        t = t.line(lib.t(ks::APART_LINE, &[]));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_trims_and_keeps_words() {
        assert_eq!(tidy("  hello \n\n\n\nworld  "), "hello\n\nworld");
        assert_eq!(tidy(" \n "), "");
    }
}
