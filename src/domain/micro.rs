//! Micro-attunement: which days get a small prompt, at what moment inside a partner's waking
//! window, and the shuffle bag that decides which prompt comes next. All randomness comes
//! from a seeded generator, so a run can be repeated exactly.

use chrono::{NaiveTime, Timelike};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::schedule::MicroFrequency;

/// A generator seeded from a base seed and some labels (couple, partner, date …), with a
/// stable hash (FNV-1a), so the same inputs always give the same choices.
pub fn rng_for(seed: u64, parts: &[&[u8]]) -> StdRng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    StdRng::seed_from_u64(h)
}

/// Whether a day gets a prompt: every day, or about three days in seven.
pub fn day_has_prompt(freq: MicroFrequency, rng: &mut StdRng) -> bool {
    match freq {
        MicroFrequency::Off => false,
        MicroFrequency::Daily => true,
        MicroFrequency::Few => rng.random_bool(3.0 / 7.0),
    }
}

/// How often a scheduled nudge brings back a recent agreement instead of a prompt.
pub const AGREEMENT_CHANCE: f64 = 0.2;
/// How recent an agreement must be to come back, and how far apart its returns are.
pub const AGREEMENT_FRESH_DAYS: i64 = 60;
pub const AGREEMENT_GAP_DAYS: i64 = 14;

/// The prompt id of a nudge that brings back an agreement (not a library prompt).
pub const AGREEMENT_PREFIX: &str = "agreement:";

/// Whether today's nudge brings back the couple's latest agreement: now and then, never
/// within two weeks of the last time, and only while the agreement is recent.
pub fn brings_back_agreement(
    rng: &mut StdRng,
    agreed_days_ago: i64,
    last_brought_days_ago: Option<i64>,
) -> bool {
    (1..=AGREEMENT_FRESH_DAYS).contains(&agreed_days_ago)
        && last_brought_days_ago.is_none_or(|d| d >= AGREEMENT_GAP_DAYS)
        && rng.random_bool(AGREEMENT_CHANCE)
}

/// How far a prompt keeps from a check-in, so the two never stack.
pub const CHECKIN_GAP_MINUTES: i64 = 60;

fn minutes(t: NaiveTime) -> i64 {
    i64::from(t.hour() * 60 + t.minute())
}

/// Whether a local time is allowed: inside the waking window, outside quiet hours, and at
/// least an hour from every check-in slot.
pub fn allowed(
    t: NaiveTime,
    window: (NaiveTime, NaiveTime),
    quiet: Option<(NaiveTime, NaiveTime)>,
    checkins: &[NaiveTime],
) -> bool {
    if t < window.0 || t >= window.1 {
        return false;
    }
    if let Some((qs, qe)) = quiet {
        let in_quiet = if qs <= qe {
            t >= qs && t < qe
        } else {
            t >= qs || t < qe
        };
        if in_quiet {
            return false;
        }
    }
    checkins.iter().all(|c| {
        let d = (minutes(t) - minutes(*c)).abs();
        // Distance on a 24-hour circle, for check-ins near midnight.
        d.min(24 * 60 - d) >= CHECKIN_GAP_MINUTES
    })
}

/// A random allowed local time on a five-minute grid, or `None` when the window leaves no
/// room (then that day simply has no prompt).
pub fn pick_time(
    rng: &mut StdRng,
    window: (NaiveTime, NaiveTime),
    quiet: Option<(NaiveTime, NaiveTime)>,
    checkins: &[NaiveTime],
) -> Option<NaiveTime> {
    let candidates: Vec<NaiveTime> = (0..24 * 12)
        .filter_map(|i| NaiveTime::from_hms_opt(i / 12, (i % 12) * 5, 0))
        .filter(|t| allowed(*t, window, quiet, checkins))
        .collect();
    candidates
        .get(rng.random_range(0..candidates.len().max(1)))
        .copied()
}

/// A fresh shuffle of the whole pool.
pub fn shuffled(ids: &[String], rng: &mut StdRng) -> Vec<String> {
    let mut v = ids.to_vec();
    v.shuffle(rng);
    v
}

/// Takes the next prompt from the bag: the first whose concept differs from the last one
/// shown, which is not `exclude` and which `fits`. Returns `None` when no such prompt is left
/// in the bag (the caller then tops the bag up with a fresh shuffle and draws again).
pub fn draw<'a>(
    remaining: &mut Vec<String>,
    last_concept: Option<&str>,
    exclude: Option<&str>,
    concept_of: impl Fn(&str) -> Option<&'a str>,
    fits: impl Fn(&str) -> bool,
) -> Option<String> {
    let pos = remaining.iter().position(|id| {
        Some(id.as_str()) != exclude
            && concept_of(id).is_some()
            && concept_of(id) != last_concept
            && fits(id)
    })?;
    Some(remaining.remove(pos))
}

/// What a prompt is, for deciding whether it fits a person today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tags<'a> {
    /// light or deeper.
    pub tier: &'a str,
    /// any, together or apart.
    pub setting: &'a str,
    /// For love-language prompts: the way of caring it draws on.
    pub care: Option<&'a str>,
}

/// What fits the person a prompt goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fit {
    /// They marked today as a light day: light prompts only.
    pub light: bool,
    /// The couple lives apart: nothing that needs a room together; otherwise nothing made
    /// for calls and messages.
    pub apart: bool,
    /// How their partner likes to receive care (empty: not said, any way fits).
    pub partner_care: Vec<String>,
}

impl Fit {
    pub fn admits(&self, t: Tags<'_>) -> bool {
        if self.light && t.tier != "light" {
            return false;
        }
        let setting_ok = match t.setting {
            "together" => !self.apart,
            "apart" => self.apart,
            _ => true,
        };
        let care_ok = match t.care {
            Some(c) => self.partner_care.is_empty() || self.partner_care.iter().any(|x| x == c),
            None => true,
        };
        setting_ok && care_ok
    }

    /// The same fit without the day's and the partner's preferences (setting kept): what is
    /// drawn when nothing stricter is left in the library.
    pub fn relaxed(&self) -> Fit {
        Fit {
            apart: self.apart,
            ..Fit::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn times_respect_window_quiet_hours_and_checkins_over_a_year() {
        let window = (t(7, 0), t(23, 0));
        let quiet = Some((t(22, 0), t(7, 30)));
        let checkins = [t(8, 0), t(21, 0)];
        for day in 0..365u32 {
            let mut rng = rng_for(42, &[b"couple", &day.to_le_bytes()]);
            let at = pick_time(&mut rng, window, quiet, &checkins).expect("room in the day");
            assert!(at >= t(7, 30) && at < t(22, 0), "{at}");
            assert!(
                (minutes(at) - 8 * 60).abs() >= 60 && (minutes(at) - 21 * 60).abs() >= 60,
                "{at}"
            );
        }
    }

    #[test]
    fn no_room_means_no_prompt() {
        let mut rng = rng_for(1, &[]);
        assert_eq!(
            pick_time(&mut rng, (t(8, 0), t(8, 30)), None, &[t(8, 15)]),
            None
        );
    }

    #[test]
    fn seeded_choices_repeat() {
        let a: Vec<bool> = (0..50)
            .map(|d: u32| day_has_prompt(MicroFrequency::Few, &mut rng_for(9, &[&d.to_le_bytes()])))
            .collect();
        let b: Vec<bool> = (0..50)
            .map(|d: u32| day_has_prompt(MicroFrequency::Few, &mut rng_for(9, &[&d.to_le_bytes()])))
            .collect();
        assert_eq!(a, b);
        let share = a.iter().filter(|x| **x).count();
        assert!(
            (10..=35).contains(&share),
            "about three days in seven: {share}/50"
        );
    }

    #[test]
    fn agreements_come_back_now_and_then_while_recent() {
        let hits = (0..1000u32)
            .filter(|d| brings_back_agreement(&mut rng_for(5, &[&d.to_le_bytes()]), 10, None))
            .count();
        assert!((120..=280).contains(&hits), "about one in five: {hits}");
        let mut rng = rng_for(5, &[]);
        assert!(
            !(0..50).any(|_| brings_back_agreement(&mut rng, 90, None)),
            "too old"
        );
        assert!(
            !(0..50).any(|_| brings_back_agreement(&mut rng, 10, Some(3))),
            "too soon"
        );
    }

    #[test]
    fn fit_follows_the_day_the_distance_and_the_partner() {
        let tags = |tier, setting, care| Tags {
            tier,
            setting,
            care,
        };
        let usual = Fit::default();
        assert!(usual.admits(tags("deeper", "together", None)));
        assert!(
            !usual.admits(tags("light", "apart", None)),
            "calls are for couples apart"
        );
        let light = Fit {
            light: true,
            ..Fit::default()
        };
        assert!(!light.admits(tags("deeper", "any", None)));
        assert!(light.admits(tags("light", "any", None)));
        let apart = Fit {
            apart: true,
            ..Fit::default()
        };
        assert!(!apart.admits(tags("light", "together", None)));
        assert!(apart.admits(tags("light", "apart", None)));
        let words = Fit {
            partner_care: vec!["words".into()],
            ..Fit::default()
        };
        assert!(words.admits(tags("light", "any", Some("words"))));
        assert!(!words.admits(tags("light", "any", Some("gifts"))));
        assert!(
            usual.admits(tags("light", "any", Some("gifts"))),
            "not said: any way"
        );
        assert_eq!(light.relaxed(), Fit::default());
    }

    #[test]
    fn bag_never_repeats_and_never_stacks_a_concept() {
        let ids: Vec<String> = (0..24).map(|i| format!("p{i}")).collect();
        let concept = |id: &str| -> Option<&'static str> {
            let n: usize = id[1..].parse().ok()?;
            Some(["a", "b", "c", "d"][n % 4])
        };
        let mut rng = rng_for(3, &[]);
        let mut bag = shuffled(&ids, &mut rng);
        let mut last: Option<&str> = None;
        let mut seen = HashSet::new();
        for _ in 0..ids.len() {
            let id = match draw(&mut bag, last, None, concept, |_| true) {
                Some(id) => id,
                None => {
                    bag.extend(shuffled(&ids, &mut rng));
                    draw(&mut bag, last, None, concept, |_| true).unwrap()
                }
            };
            assert_ne!(concept(&id), last);
            last = concept(&id);
            seen.insert(id);
        }
        assert!(
            seen.len() >= ids.len() - 2,
            "almost the whole pool before any repeat: {}",
            seen.len()
        );
    }
}
