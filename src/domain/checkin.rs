//! The check-in: the mood scale, feeling words, how a guess compares with the partner's own
//! answer, and when a round is ready to be revealed.

use chrono::{Datelike, NaiveDate};

use super::ids::PersonId;
use super::schedule::{PartnerSchedule, Slot};

/// A mood on a small, gentle scale. 1 is heavy, 5 is bright; no value is "bad".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mood(u8);

impl Mood {
    pub const ALL: [Mood; 5] = [Mood(1), Mood(2), Mood(3), Mood(4), Mood(5)];

    pub fn new(v: i64) -> Option<Mood> {
        (1..=5).contains(&v).then_some(Mood(v as u8))
    }

    pub fn value(self) -> u8 {
        self.0
    }
}

pub const MAX_FEELINGS: usize = 3;

/// Keeps only words of `known` (the feeling words in `content/`), at most three, without
/// repeats, in the order given.
pub fn parse_feelings<S: AsRef<str>>(values: &[S], known: &[String]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = v.as_ref();
        if !known.iter().any(|k| k == v) {
            return None;
        }
        if !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    (out.len() <= MAX_FEELINGS).then_some(out)
}

/// Longest private note, in characters (well inside an embed field once quoted).
pub const MAX_NOTE: usize = 600;

/// How well a guess read the partner's own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    SpotOn,
    Close,
    Different,
}

pub fn read(guess: Mood, actual: Mood) -> Read {
    match guess.0.abs_diff(actual.0) {
        0 => Read::SpotOn,
        1 => Read::Close,
        _ => Read::Different,
    }
}

/// Where one partner stands in a round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerState {
    pub submitted: bool,
    pub skipped: bool,
}

impl AnswerState {
    pub fn settled(&self) -> bool {
        self.submitted || self.skipped
    }
}

/// A round is revealed as soon as everyone it was for has answered or stepped back.
pub fn ready_to_reveal(states: &[AnswerState], asked: usize) -> bool {
    asked > 0 && states.len() >= asked && states.iter().all(AnswerState::settled)
}

/// Who a round is for: for a scheduled slot, every partner whose own schedule has that slot
/// on that local date, plus anyone already posted to (their schedule may have changed
/// since); for a round opened with `/checkin`, both partners.
pub fn asked(
    slot: &str,
    date: NaiveDate,
    partners: &[(PersonId, Option<PartnerSchedule>)],
    posted: &[PersonId],
) -> Vec<PersonId> {
    partners
        .iter()
        .filter(|(user, sched)| {
            if posted.contains(user) {
                return true;
            }
            let Some(slot) = Slot::parse(slot) else {
                return true;
            };
            sched
                .as_ref()
                .is_some_and(|s| s.slot_time(slot).is_some() && s.days.contains(date.weekday()))
        })
        .map(|(u, _)| *u)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mood_bounds() {
        assert!(Mood::new(0).is_none());
        assert!(Mood::new(6).is_none());
        assert_eq!(Mood::new(3).unwrap().value(), 3);
    }

    #[test]
    fn reads() {
        let m = |v| Mood::new(v).unwrap();
        assert_eq!(read(m(4), m(4)), Read::SpotOn);
        assert_eq!(read(m(3), m(4)), Read::Close);
        assert_eq!(read(m(1), m(4)), Read::Different);
    }

    #[test]
    fn feelings_are_checked() {
        let known: Vec<String> = ["calm", "tired", "sad", "hurt"].map(String::from).to_vec();
        assert_eq!(
            parse_feelings(&["calm", "calm", "tired"], &known),
            Some(vec!["calm".into(), "tired".into()])
        );
        assert_eq!(parse_feelings(&["calm", "nope"], &known), None);
        assert_eq!(
            parse_feelings(&["calm", "tired", "sad", "hurt"], &known),
            None
        );
    }

    #[test]
    fn reveal_needs_both_settled() {
        let done = AnswerState {
            submitted: true,
            skipped: false,
        };
        let skip = AnswerState {
            submitted: false,
            skipped: true,
        };
        let open = AnswerState::default();
        assert!(ready_to_reveal(&[done.clone(), skip.clone()], 2));
        assert!(!ready_to_reveal(&[done.clone(), open], 2));
        assert!(!ready_to_reveal(&[done], 2));
    }
}

#[cfg(test)]
mod asked_tests {
    use super::*;
    use crate::domain::time::Weekdays;
    use chrono::NaiveTime;
    use chrono_tz::Tz;

    fn sched(evening: bool) -> PartnerSchedule {
        PartnerSchedule {
            zone: Tz::UTC,
            morning: NaiveTime::from_hms_opt(8, 0, 0),
            evening: evening.then(|| NaiveTime::from_hms_opt(21, 0, 0).unwrap()),
            days: Weekdays::ALL,
            waking_start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            waking_end: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        }
    }

    #[test]
    fn only_partners_with_the_slot_are_asked() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let ps = [
            (PersonId(uuid::Uuid::from_u128(1)), Some(sched(false))),
            (PersonId(uuid::Uuid::from_u128(2)), Some(sched(true))),
        ];
        assert_eq!(
            asked("evening", date, &ps, &[]),
            vec![PersonId(uuid::Uuid::from_u128(2))]
        );
        assert_eq!(
            asked("morning", date, &ps, &[]),
            vec![
                PersonId(uuid::Uuid::from_u128(1)),
                PersonId(uuid::Uuid::from_u128(2))
            ]
        );
        assert_eq!(
            asked("now", date, &ps, &[]),
            vec![
                PersonId(uuid::Uuid::from_u128(1)),
                PersonId(uuid::Uuid::from_u128(2))
            ]
        );
        assert_eq!(
            asked("evening", date, &ps, &[PersonId(uuid::Uuid::from_u128(1))]),
            vec![
                PersonId(uuid::Uuid::from_u128(1)),
                PersonId(uuid::Uuid::from_u128(2))
            ]
        );
    }
}
