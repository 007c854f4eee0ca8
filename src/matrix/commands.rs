//! The text commands of the couple room, parsed before anything runs: `!attune setup
//! @partner:server`, `!attune help|timezone|schedule|care|pause|resume|status|export|forget|
//! leave`, and `!checkin`, `!micro`, `!repair`, `!recap`. A message that is not a command is
//! `None`; a command we cannot read is [`Parsed::Unknown`] or [`Parsed::Malformed`], answered
//! kindly, never run.

use chrono::Weekday;

use crate::domain::schedule::MicroFrequency;
use crate::flows::settings::{ScheduleInput, WeeklyDay};

#[derive(Debug, Clone)]
pub enum Command {
    Setup { partner: String },
    Timezone { zone: Option<String> },
    Schedule(Box<ScheduleInput>),
    Care,
    Pause { days: i64 },
    Resume,
    Status,
    Help,
    Export,
    Forget,
    Leave,
    Checkin,
    Micro,
    Repair,
    Recap,
}

/// What a message in a room says to the bot.
#[derive(Debug, Clone)]
pub enum Parsed {
    Run(Command),
    /// Starts like a command of ours but names none we know.
    Unknown,
    /// A command we know, written so we cannot read it; the example shows how.
    Malformed {
        example: &'static str,
    },
}

pub const SETUP_EXAMPLE: &str = "!attune setup @them:example.org";
pub const PAUSE_EXAMPLE: &str = "!attune pause 7";
pub const SCHEDULE_EXAMPLE: &str = "!attune schedule morning=08:00 evening=21:30 days=weekdays";

fn weekday(s: &str) -> Option<Weekday> {
    s.get(..3)?.parse::<Weekday>().ok()
}

fn schedule(args: &[&str]) -> Option<ScheduleInput> {
    let mut input = ScheduleInput::default();
    if args.is_empty() {
        return None;
    }
    for arg in args {
        let (k, v) = arg.split_once('=')?;
        let v = v.trim();
        let text = Some(v.to_string());
        match k.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "morning" => input.morning = text,
            "evening" => input.evening = text,
            "days" => input.days = text,
            "waking_start" => input.waking_start = text,
            "waking_end" => input.waking_end = text,
            "window_hours" | "window" => input.window_hours = Some(v.parse().ok()?),
            "reminder_minutes" | "reminder" => input.reminder_minutes = Some(v.parse().ok()?),
            "quiet_start" => input.quiet_start = text,
            "quiet_end" => input.quiet_end = text,
            "micro" => {
                input.micro = Some(match v.to_ascii_lowercase().as_str() {
                    "off" => MicroFrequency::Off,
                    "few" => MicroFrequency::Few,
                    "daily" => MicroFrequency::Daily,
                    _ => return None,
                })
            }
            "recap_day" => input.recap_day = Some(weekday(&v.to_ascii_lowercase())?),
            "recap_time" => input.recap_time = text,
            "weekly" => {
                let v = v.to_ascii_lowercase();
                input.weekly = Some(match v.as_str() {
                    "off" => WeeklyDay::Off,
                    "recap" | "recap_day" => WeeklyDay::RecapDay,
                    d => WeeklyDay::Day(weekday(d)?),
                })
            }
            "weekly_time" => input.weekly_time = text,
            "living" => {
                input.apart = Some(match v.to_ascii_lowercase().as_str() {
                    "together" => false,
                    "apart" => true,
                    _ => return None,
                })
            }
            _ => return None,
        }
    }
    Some(input)
}

/// Reads a message body. Only the first line counts; a reply's quoted fallback is ignored
/// by the caller.
pub fn parse(body: &str) -> Option<Parsed> {
    let line = body.trim().lines().next()?.trim();
    if !line.starts_with('!') {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let head = words.first()?.to_ascii_lowercase();
    let simple = |c: Command, rest: &[&str]| {
        if rest.is_empty() {
            Some(Parsed::Run(c))
        } else {
            Some(Parsed::Unknown)
        }
    };
    match head.as_str() {
        "!checkin" => return simple(Command::Checkin, &words[1..]),
        "!micro" => return simple(Command::Micro, &words[1..]),
        "!repair" => return simple(Command::Repair, &words[1..]),
        "!recap" => return simple(Command::Recap, &words[1..]),
        "!attune" => {}
        // Someone else's bot command: not ours to answer.
        _ => return None,
    }
    let Some(sub) = words.get(1).map(|s| s.to_ascii_lowercase()) else {
        return Some(Parsed::Run(Command::Help));
    };
    let rest = &words[2..];
    Some(match sub.as_str() {
        "setup" => match rest {
            [p] if p.starts_with('@') && p.contains(':') => Parsed::Run(Command::Setup {
                partner: p.to_string(),
            }),
            _ => Parsed::Malformed {
                example: SETUP_EXAMPLE,
            },
        },
        "timezone" | "tz" => Parsed::Run(Command::Timezone {
            zone: (!rest.is_empty()).then(|| rest.join(" ")),
        }),
        "schedule" => match schedule(rest) {
            Some(s) => Parsed::Run(Command::Schedule(Box::new(s))),
            None => Parsed::Malformed {
                example: SCHEDULE_EXAMPLE,
            },
        },
        "pause" => match rest {
            [d] if d.parse::<i64>().is_ok_and(|d| (1..=60).contains(&d)) => {
                Parsed::Run(Command::Pause {
                    days: d.parse().unwrap_or(1),
                })
            }
            _ => Parsed::Malformed {
                example: PAUSE_EXAMPLE,
            },
        },
        "care" => return simple(Command::Care, rest),
        "resume" => return simple(Command::Resume, rest),
        "status" => return simple(Command::Status, rest),
        "help" => return simple(Command::Help, rest),
        "export" => return simple(Command::Export, rest),
        "forget" => return simple(Command::Forget, rest),
        "leave" => return simple(Command::Leave, rest),
        _ => Parsed::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_mistakes_are_named() {
        assert!(parse("hello there").is_none());
        assert!(parse("!other thing").is_none());
        assert!(matches!(
            parse("!attune setup @bo:example.org"),
            Some(Parsed::Run(Command::Setup { partner })) if partner == "@bo:example.org"
        ));
        assert!(matches!(
            parse("!attune setup bo"),
            Some(Parsed::Malformed { .. })
        ));
        assert!(matches!(parse("!attune dance"), Some(Parsed::Unknown)));
        assert!(matches!(parse("!attune"), Some(Parsed::Run(Command::Help))));
        assert!(matches!(
            parse("!CHECKIN"),
            Some(Parsed::Run(Command::Checkin))
        ));
        assert!(matches!(
            parse("!attune pause 99"),
            Some(Parsed::Malformed { .. })
        ));
        assert!(matches!(
            parse("!attune pause 3"),
            Some(Parsed::Run(Command::Pause { days: 3 }))
        ));
        match parse("!attune schedule morning=08:00 micro=daily weekly=sun living=apart") {
            Some(Parsed::Run(Command::Schedule(s))) => {
                assert_eq!(s.morning.as_deref(), Some("08:00"));
                assert_eq!(s.micro, Some(MicroFrequency::Daily));
                assert_eq!(s.weekly, Some(WeeklyDay::Day(Weekday::Sun)));
                assert_eq!(s.apart, Some(true));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("!attune schedule morning"),
            Some(Parsed::Malformed { .. })
        ));
        assert!(matches!(
            parse("!attune timezone Europe/Berlin"),
            Some(Parsed::Run(Command::Timezone { zone: Some(z) })) if z == "Europe/Berlin"
        ));
    }
}
