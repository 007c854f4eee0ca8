//! The weekly recap, as pure logic: which seven local days a recap covers, when it is due,
//! how a week's revealed check-ins and practice counts add up, and which kind of suggestion
//! fits the week.
//!
//! The recap reflects practice and accuracy, never a grade of the relationship: everything
//! here counts what the couple did; nothing scores how they are.
//!
//! Days are each partner's own local calendar days: the seven dates are the same for both
//! partners, and each date runs from local midnight to local midnight in that partner's zone.
//! A week with a DST change therefore still has seven days; one of them lasts 23 or 25 hours.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::checkin::{read, Mood, Read};
use super::ids::PersonId;
use super::time::{local_date, local_instant};

/// An ISO 8601 week (of the recap day, in the couple's home zone): the key that lets a
/// scheduled recap post only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IsoWeek {
    year: i32,
    week: u32,
}

impl IsoWeek {
    /// A real ISO week, or `None` (week 53 exists only in some years).
    pub fn new(year: i32, week: u32) -> Option<IsoWeek> {
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).map(|_| IsoWeek { year, week })
    }

    /// The ISO week a date belongs to.
    pub fn of(date: NaiveDate) -> IsoWeek {
        let w = date.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn week(self) -> u32 {
        self.week
    }

    /// The date of `weekday` in this week.
    pub fn day(self, weekday: Weekday) -> NaiveDate {
        // The fields are only ever set from a valid week (see `new` and `of`).
        NaiveDate::from_isoywd_opt(self.year, self.week, weekday).unwrap_or(NaiveDate::MIN)
    }

    pub fn next(self) -> IsoWeek {
        IsoWeek::of(self.day(Weekday::Mon) + Duration::days(7))
    }

    pub fn prev(self) -> IsoWeek {
        IsoWeek::of(self.day(Weekday::Mon) - Duration::days(7))
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// The seven local dates a recap covers: the recap day and the six before it. With the
/// default Sunday recap this is exactly the ISO week, Monday to Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    first: NaiveDate,
}

impl Period {
    pub fn ending_on(last: NaiveDate) -> Period {
        Period {
            first: last - Duration::days(6),
        }
    }

    pub fn first(self) -> NaiveDate {
        self.first
    }

    pub fn last(self) -> NaiveDate {
        self.first + Duration::days(6)
    }

    pub fn days(self) -> [NaiveDate; 7] {
        std::array::from_fn(|i| self.first + Duration::days(i as i64))
    }

    /// Which of the seven days `date` is, if any.
    pub fn index(self, date: NaiveDate) -> Option<usize> {
        let i = (date - self.first).num_days();
        (0..7).contains(&i).then_some(i as usize)
    }

    /// The ISO week that keys this period's recap (the week of its last day).
    pub fn week(self) -> IsoWeek {
        IsoWeek::of(self.last())
    }

    /// The instants a partner in `zone` lives these seven days: from local midnight of the
    /// first day to local midnight after the last. Calendar arithmetic, never 7 × 24 hours.
    pub fn window(self, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            local_instant(zone, self.first, NaiveTime::MIN),
            local_instant(zone, self.first + Duration::days(7), NaiveTime::MIN),
        )
    }

    /// The span covering every partner's window (what the store reads).
    pub fn span(self, zones: &[Tz]) -> (DateTime<Utc>, DateTime<Utc>) {
        let zones = if zones.is_empty() {
            &[Tz::UTC][..]
        } else {
            zones
        };
        let windows: Vec<_> = zones.iter().map(|z| self.window(*z)).collect();
        (
            windows.iter().map(|w| w.0).min().unwrap_or_default(),
            windows.iter().map(|w| w.1).max().unwrap_or_default(),
        )
    }
}

/// The period a scheduled recap of `week` covers.
pub fn period_of(week: IsoWeek, weekday: Weekday) -> Period {
    Period::ending_on(week.day(weekday))
}

/// The period in progress at `now` ("the week so far" for `/recap`): the one that ends on the
/// next recap day, today included, in the home zone.
pub fn current_period(home: Tz, weekday: Weekday, now: DateTime<Utc>) -> Period {
    let today = local_date(home, now);
    let ahead = (7 + i64::from(weekday.num_days_from_monday())
        - i64::from(today.weekday().num_days_from_monday()))
        % 7;
    Period::ending_on(today + Duration::days(ahead))
}

/// When the recap of `week` is due: the couple's weekday and time, in the home zone.
pub fn due(home: Tz, week: IsoWeek, weekday: Weekday, time: NaiveTime) -> DateTime<Utc> {
    local_instant(home, week.day(weekday), time)
}

/// The first recap due strictly after `after`.
pub fn next_due(
    home: Tz,
    weekday: Weekday,
    time: NaiveTime,
    after: DateTime<Utc>,
) -> (IsoWeek, DateTime<Utc>) {
    // Start a week early: near midnight the home zone's week can lag the UTC one.
    let mut week = IsoWeek::of(local_date(home, after)).prev();
    loop {
        let at = due(home, week, weekday, time);
        if at > after {
            return (week, at);
        }
        week = week.next();
    }
}

/// A partner as the recap sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerInput {
    pub user: PersonId,
    pub zone: Tz,
}

/// One partner's submitted answer in a round that has been revealed. Unrevealed answers are
/// private and never reach the recap.
#[derive(Debug, Clone, PartialEq)]
pub struct RevealedAnswer {
    pub user: PersonId,
    /// When it was answered.
    pub at: DateTime<Utc>,
    /// The local date of this partner's own scheduled post in the round, in their zone: an
    /// evening check-in answered just after midnight still belongs to the evening's day.
    /// `None` for a round opened with `/checkin`; then the day is the local date of `at`.
    pub day: Option<NaiveDate>,
    pub mood: Mood,
    /// The partner's guess of the other's mood, if they made one.
    pub guess: Option<Mood>,
}

/// A revealed round: the answers submitted in it (skips are not answers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevealedRound {
    pub answers: Vec<RevealedAnswer>,
}

/// Practice outside check-ins: micro-moments, repairs and agreements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PracticeExtras {
    pub micro_done: Vec<(PersonId, u32)>,
    pub repairs_started: u32,
    pub repairs_completed: u32,
    pub agreements_made: u32,
    pub agreements_revisited: u32,
}

impl PracticeExtras {
    pub fn micro_for(&self, user: PersonId) -> u32 {
        self.micro_done
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, n)| *n)
            .sum()
    }
}

/// Everything a recap is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekData {
    pub period: Period,
    pub partners: Vec<PartnerInput>,
    pub rounds: Vec<RevealedRound>,
    pub extras: PracticeExtras,
}

/// How a partner's guesses compared with the other's own answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadTally {
    pub spot_on: u32,
    pub close: u32,
    pub different: u32,
}

impl ReadTally {
    pub fn compared(self) -> u32 {
        self.spot_on + self.close + self.different
    }

    fn add(&mut self, r: Read) {
        match r {
            Read::SpotOn => self.spot_on += 1,
            Read::Close => self.close += 1,
            Read::Different => self.different += 1,
        }
    }

    fn plus(self, o: ReadTally) -> ReadTally {
        ReadTally {
            spot_on: self.spot_on + o.spot_on,
            close: self.close + o.close,
            different: self.different + o.different,
        }
    }
}

/// One local day of one partner.
#[derive(Debug, Clone, PartialEq)]
pub struct DayMood {
    pub date: NaiveDate,
    /// The day's length in that partner's zone: 24, or 23/25 on a DST change.
    pub hours: i64,
    pub answers: u32,
    /// The mean of the day's moods (1.0–5.0), if they answered that day.
    pub mean: Option<f64>,
}

/// Which way a partner's mood went over the week, for the chart's alt text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    NoData,
    Once(Mood),
    Rising { from: Mood, to: Mood },
    Easing { from: Mood, to: Mood },
    Steady(Mood),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRecap {
    pub user: PersonId,
    pub zone: Tz,
    /// Always seven, in date order.
    pub days: Vec<DayMood>,
    pub checkins: u32,
    /// Days with at least one answer: forgiving, no streaks.
    pub days_practised: u32,
    pub micro_done: u32,
    /// This partner's guesses about the other.
    pub reads: ReadTally,
}

fn mood_near(v: f64) -> Mood {
    Mood::new(v.round().clamp(1.0, 5.0) as i64).unwrap_or(Mood::ALL[2])
}

impl PartnerRecap {
    pub fn trend(&self) -> Trend {
        let means: Vec<f64> = self.days.iter().filter_map(|d| d.mean).collect();
        match means.as_slice() {
            [] => Trend::NoData,
            [one] => Trend::Once(mood_near(*one)),
            all => {
                // Compare the first and last thirds, so one odd day does not set the tone.
                let k = all.len().div_ceil(3);
                let avg = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
                let (from, to) = (avg(&all[..k]), avg(&all[all.len() - k..]));
                let (f, t) = (mood_near(from), mood_near(to));
                if to - from >= 0.5 && f != t {
                    Trend::Rising { from: f, to: t }
                } else if from - to >= 0.5 && f != t {
                    Trend::Easing { from: f, to: t }
                } else {
                    Trend::Steady(mood_near(avg(all)))
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recap {
    pub period: Period,
    pub partners: Vec<PartnerRecap>,
    /// Rounds with at least one answer in the period, and those both partners answered:
    /// what the two of you did together, for the public recap.
    pub rounds: u32,
    pub rounds_together: u32,
    pub repairs_started: u32,
    pub repairs_completed: u32,
    pub agreements_made: u32,
    pub agreements_revisited: u32,
}

impl Recap {
    pub fn checkins(&self) -> u32 {
        self.partners.iter().map(|p| p.checkins).sum()
    }

    pub fn days_practised(&self) -> u32 {
        self.partners.iter().map(|p| p.days_practised).sum()
    }

    pub fn micro_done(&self) -> u32 {
        self.partners.iter().map(|p| p.micro_done).sum()
    }

    pub fn reads(&self) -> ReadTally {
        self.partners
            .iter()
            .fold(ReadTally::default(), |acc, p| acc.plus(p.reads))
    }

    /// Nothing at all happened: the recap says so kindly instead of showing zeros.
    pub fn is_quiet(&self) -> bool {
        self.checkins() == 0
            && self.micro_done() == 0
            && self.repairs_started == 0
            && self.repairs_completed == 0
            && self.agreements_made == 0
            && self.agreements_revisited == 0
    }
}

/// Adds up a week. Each answer counts on its writer's own local day (see
/// [`RevealedAnswer::day`]) when that day is one of the period's seven; a guess counts when
/// the other partner answered the same revealed round.
pub fn aggregate(data: &WeekData) -> Recap {
    let dates = data.period.days();
    let partners = data
        .partners
        .iter()
        .map(|p| {
            let mut sums = [(0u32, 0u32); 7];
            let mut reads = ReadTally::default();
            for round in &data.rounds {
                for a in round.answers.iter().filter(|a| a.user == p.user) {
                    let day = a.day.unwrap_or_else(|| local_date(p.zone, a.at));
                    let Some(i) = data.period.index(day) else {
                        continue;
                    };
                    sums[i].0 += 1;
                    sums[i].1 += u32::from(a.mood.value());
                    if let Some(guess) = a.guess {
                        if let Some(other) = round.answers.iter().find(|o| o.user != p.user) {
                            reads.add(read(guess, other.mood));
                        }
                    }
                }
            }
            let days: Vec<DayMood> = dates
                .iter()
                .zip(sums)
                .map(|(date, (n, sum))| {
                    let from = local_instant(p.zone, *date, NaiveTime::MIN);
                    let to = local_instant(p.zone, *date + Duration::days(1), NaiveTime::MIN);
                    DayMood {
                        date: *date,
                        hours: (to - from).num_hours(),
                        answers: n,
                        mean: (n > 0).then(|| f64::from(sum) / f64::from(n)),
                    }
                })
                .collect();
            PartnerRecap {
                user: p.user,
                zone: p.zone,
                checkins: days.iter().map(|d| d.answers).sum(),
                days_practised: days.iter().filter(|d| d.answers > 0).count() as u32,
                days,
                micro_done: data.extras.micro_for(p.user),
                reads,
            }
        })
        .collect();
    let in_period = |a: &RevealedAnswer| {
        let zone = data
            .partners
            .iter()
            .find(|p| p.user == a.user)
            .map_or(Tz::UTC, |p| p.zone);
        data.period
            .index(a.day.unwrap_or_else(|| local_date(zone, a.at)))
            .is_some()
    };
    let mut rounds = 0;
    let mut rounds_together = 0;
    for round in &data.rounds {
        let mut who: Vec<PersonId> = Vec::new();
        for a in round.answers.iter().filter(|a| in_period(a)) {
            if !who.contains(&a.user) {
                who.push(a.user);
            }
        }
        if !who.is_empty() {
            rounds += 1;
        }
        if who.len() >= 2 {
            rounds_together += 1;
        }
    }
    Recap {
        period: data.period,
        partners,
        rounds,
        rounds_together,
        repairs_started: data.extras.repairs_started,
        repairs_completed: data.extras.repairs_completed,
        agreements_made: data.extras.agreements_made,
        agreements_revisited: data.extras.agreements_revisited,
    }
}

/// Fewer practised days than this, across both partners, suggests a lighter ritual.
pub const FEW_DAYS: u32 = 5;
/// Guesses needed before the recap comments on how well they landed.
pub const MIN_COMPARED: u32 = 3;

/// The content-library category (see `content::SUGGESTION_CATEGORIES`) that fits the week,
/// in order of what matters most: nothing happened; a repair happened (revisit the
/// agreement); few check-ins (a lighter ritual); reading each other well (celebrate);
/// reads that often missed (ask instead of guessing); otherwise keep going.
pub fn choose_suggestion_category(recap: &Recap) -> &'static str {
    if recap.is_quiet() {
        return "quiet_week";
    }
    if recap.repairs_started > 0 || recap.repairs_completed > 0 || recap.agreements_made > 0 {
        return "after_repair";
    }
    if recap.days_practised() < FEW_DAYS {
        return "few_checkins";
    }
    let r = recap.reads();
    let n = r.compared();
    if n >= MIN_COMPARED {
        // At least 60% spot on.
        if r.spot_on * 5 >= n * 3 {
            return "many_matches";
        }
        // Fewer than half even close.
        if (r.spot_on + r.close) * 2 < n {
            return "few_matches";
        }
    }
    "steady"
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PersonId = PersonId(uuid::Uuid::from_u128(1));
    const B: PersonId = PersonId(uuid::Uuid::from_u128(2));

    fn m(v: i64) -> Mood {
        Mood::new(v).unwrap()
    }
    fn d(y: i32, mo: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, day).unwrap()
    }
    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn ans(user: PersonId, at: &str, mood: i64, guess: Option<i64>) -> RevealedAnswer {
        RevealedAnswer {
            user,
            at: utc(at),
            day: None,
            mood: m(mood),
            guess: guess.map(m),
        }
    }
    fn posted(day: NaiveDate, a: RevealedAnswer) -> RevealedAnswer {
        RevealedAnswer {
            day: Some(day),
            ..a
        }
    }
    fn round(answers: Vec<RevealedAnswer>) -> RevealedRound {
        RevealedRound { answers }
    }

    /// Week 48 of 2026 (Mon 23 – Sun 29 November); alice in Berlin, bob in New York.
    fn fixed_week() -> WeekData {
        WeekData {
            period: period_of(IsoWeek::new(2026, 48).unwrap(), Weekday::Sun),
            partners: vec![
                PartnerInput {
                    user: A,
                    zone: Tz::Europe__Berlin,
                },
                PartnerInput {
                    user: B,
                    zone: Tz::America__New_York,
                },
            ],
            rounds: vec![
                // Mon: both answer; alice guesses spot on, bob close.
                round(vec![
                    ans(A, "2026-11-23T07:10:00Z", 3, Some(4)),
                    ans(B, "2026-11-23T13:05:00Z", 4, Some(2)),
                ]),
                // Tue: two rounds for alice (morning and evening) → one day, mean 3.5.
                round(vec![
                    ans(A, "2026-11-24T07:10:00Z", 3, Some(4)),
                    ans(B, "2026-11-24T13:05:00Z", 4, Some(3)),
                ]),
                round(vec![ans(A, "2026-11-24T20:00:00Z", 4, Some(5))]),
                // Wed: only bob; his guess has nothing to compare with.
                round(vec![ans(B, "2026-11-25T13:05:00Z", 5, Some(4))]),
                // Sat 23:30 in New York is Sunday 04:30 UTC: bob's Saturday, not Sunday.
                round(vec![
                    ans(A, "2026-11-28T09:00:00Z", 5, Some(1)),
                    ans(B, "2026-11-29T04:30:00Z", 5, Some(5)),
                ]),
                // alice's Sunday evening post, answered at 00:30 on Monday: still Sunday.
                round(vec![posted(
                    d(2026, 11, 29),
                    ans(A, "2026-11-29T23:30:00Z", 4, None),
                )]),
                // Mon 30th: outside the week for both.
                round(vec![ans(A, "2026-11-30T07:00:00Z", 1, None)]),
                // Sunday 22nd, the week before.
                round(vec![ans(B, "2026-11-22T15:00:00Z", 1, None)]),
            ],
            extras: PracticeExtras {
                micro_done: vec![(A, 2), (B, 1)],
                ..Default::default()
            },
        }
    }

    #[test]
    fn aggregates_a_fixed_week() {
        let r = aggregate(&fixed_week());
        assert_eq!(r.period.first(), d(2026, 11, 23));
        assert_eq!(r.period.last(), d(2026, 11, 29));
        let (a, b) = (&r.partners[0], &r.partners[1]);
        assert_eq!(a.days.len(), 7);
        assert_eq!(b.days.len(), 7);

        assert_eq!(a.checkins, 5);
        assert_eq!(a.days_practised, 4);
        let means: Vec<Option<f64>> = a.days.iter().map(|d| d.mean).collect();
        assert_eq!(
            means,
            vec![Some(3.0), Some(3.5), None, None, None, Some(5.0), Some(4.0)]
        );
        // alice guessed 4 (bob 4: spot on), 4 (bob 4: spot on), 5 with no answer from bob
        // in that round, 1 (bob 5: different).
        assert_eq!(
            a.reads,
            ReadTally {
                spot_on: 2,
                close: 0,
                different: 1
            }
        );

        assert_eq!(b.checkins, 4);
        assert_eq!(b.days_practised, 4);
        assert_eq!(b.days[5].date, d(2026, 11, 28));
        assert_eq!(b.days[5].mean, Some(5.0), "bob's Saturday, in his own zone");
        assert_eq!(b.days[6].mean, None);
        // bob guessed 2 (alice 3: close), 3 (alice 3: spot on), 5 (alice 5: spot on).
        assert_eq!(
            b.reads,
            ReadTally {
                spot_on: 2,
                close: 1,
                different: 0
            }
        );
        assert_eq!((a.micro_done, b.micro_done), (2, 1));
        assert_eq!(r.checkins(), 9);
        assert_eq!(r.reads().compared(), 6);
        assert!(!r.is_quiet());
        assert_eq!(
            a.trend(),
            Trend::Rising {
                from: m(3),
                to: m(5)
            }
        );
    }

    #[test]
    fn dst_week_still_has_seven_local_days() {
        // Berlin falls back on Sunday 2026-10-25: that day has 25 hours.
        let week = IsoWeek::of(d(2026, 10, 25));
        assert_eq!(week, IsoWeek::new(2026, 43).unwrap());
        let data = WeekData {
            period: period_of(week, Weekday::Sun),
            partners: vec![
                PartnerInput {
                    user: A,
                    zone: Tz::Europe__Berlin,
                },
                PartnerInput {
                    user: B,
                    zone: Tz::America__New_York,
                },
            ],
            rounds: vec![
                // 23:30 CET on Sunday 25th (22:30Z): still Sunday, the long day.
                round(vec![ans(A, "2026-10-25T22:30:00Z", 4, None)]),
                // 00:30 CET on Monday 26th: next week.
                round(vec![ans(A, "2026-10-25T23:30:00Z", 1, None)]),
                // 00:30 CEST on Monday 19th (22:30Z on the 18th): the first day.
                round(vec![ans(A, "2026-10-18T22:30:00Z", 2, None)]),
            ],
            extras: PracticeExtras::default(),
        };
        let r = aggregate(&data);
        let a = &r.partners[0];
        assert_eq!(a.days.len(), 7);
        let hours: Vec<i64> = a.days.iter().map(|d| d.hours).collect();
        assert_eq!(hours, vec![24, 24, 24, 24, 24, 24, 25]);
        assert_eq!(a.days[0].mean, Some(2.0));
        assert_eq!(a.days[6].mean, Some(4.0));
        assert_eq!(a.checkins, 2);
        let (start, end) = r.period.window(Tz::Europe__Berlin);
        assert_eq!(end - start, Duration::hours(7 * 24 + 1));
        // New York changes a week later: its week is plain.
        assert_eq!(r.partners[1].days.len(), 7);
        assert!(r.partners[1].days.iter().all(|d| d.hours == 24));
        // The spring-forward week in New York has a 23-hour Sunday.
        let spring = period_of(IsoWeek::of(d(2026, 3, 8)), Weekday::Sun);
        let (s, e) = spring.window(Tz::America__New_York);
        assert_eq!(e - s, Duration::hours(7 * 24 - 1));
    }

    #[test]
    fn recap_days_and_due_times() {
        let berlin = Tz::Europe__Berlin;
        let six = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        // Wednesday 25 Nov: the next Sunday 18:00 Berlin is 17:00Z on the 29th.
        let (week, at) = next_due(berlin, Weekday::Sun, six, utc("2026-11-25T10:00:00Z"));
        assert_eq!(week, IsoWeek::new(2026, 48).unwrap());
        assert_eq!(at, utc("2026-11-29T17:00:00Z"));
        // Exactly at the due time, the next one is a week later.
        let (week2, at2) = next_due(berlin, Weekday::Sun, six, at);
        assert_eq!(week2, week.next());
        assert_eq!(at2, utc("2026-12-06T17:00:00Z"));
        // Across the year boundary: 2026 has 53 ISO weeks.
        assert_eq!(
            IsoWeek::new(2026, 53).unwrap().next(),
            IsoWeek::new(2027, 1).unwrap()
        );
        assert!(IsoWeek::new(2027, 53).is_none());
        assert_eq!(IsoWeek::new(2026, 5).unwrap().to_string(), "2026-W05");
        // A Wednesday recap covers Thursday to Wednesday.
        let p = period_of(week, Weekday::Wed);
        assert_eq!((p.first(), p.last()), (d(2026, 11, 19), d(2026, 11, 25)));
        // "The week so far" on a Wednesday, with a Sunday recap: Monday to Sunday.
        let now = current_period(berlin, Weekday::Sun, utc("2026-11-25T10:00:00Z"));
        assert_eq!(
            (now.first(), now.last()),
            (d(2026, 11, 23), d(2026, 11, 29))
        );
        // On the recap day itself, it is this week still.
        let sun = current_period(berlin, Weekday::Sun, utc("2026-11-29T20:00:00Z"));
        assert_eq!(sun.first(), d(2026, 11, 23));
        assert_eq!(sun.week(), week);
    }

    fn recap_with(f: impl FnOnce(&mut Recap)) -> Recap {
        let mut r = aggregate(&fixed_week());
        f(&mut r);
        r
    }

    #[test]
    fn suggestion_follows_the_week() {
        let quiet = aggregate(&WeekData {
            rounds: vec![],
            extras: PracticeExtras::default(),
            ..fixed_week()
        });
        assert!(quiet.is_quiet());
        assert_eq!(choose_suggestion_category(&quiet), "quiet_week");

        // Micro-moments alone are not a quiet week.
        let micro_only = aggregate(&WeekData {
            rounds: vec![],
            ..fixed_week()
        });
        assert!(!micro_only.is_quiet());
        assert_eq!(choose_suggestion_category(&micro_only), "few_checkins");

        let repair = recap_with(|r| r.repairs_completed = 1);
        assert_eq!(choose_suggestion_category(&repair), "after_repair");

        // The fixed week: 8 practised days, 4 of 6 guesses spot on.
        let r = aggregate(&fixed_week());
        assert_eq!(choose_suggestion_category(&r), "many_matches");

        let missed = recap_with(|r| {
            for p in &mut r.partners {
                p.reads = ReadTally {
                    spot_on: 0,
                    close: 1,
                    different: 3,
                };
            }
        });
        assert_eq!(choose_suggestion_category(&missed), "few_matches");

        let steady = recap_with(|r| {
            for p in &mut r.partners {
                p.reads = ReadTally {
                    spot_on: 1,
                    close: 2,
                    different: 1,
                };
            }
        });
        assert_eq!(choose_suggestion_category(&steady), "steady");

        let few = recap_with(|r| r.partners[1].days_practised = 0);
        assert_eq!(choose_suggestion_category(&few), "few_checkins");

        for r in [&quiet, &repair, &r, &missed, &steady, &few] {
            assert!(crate::content::SUGGESTION_CATEGORIES.contains(&choose_suggestion_category(r)));
        }
    }

    #[test]
    fn trends_read_gently() {
        let mut p = aggregate(&fixed_week()).partners[0].clone();
        for (day, mean) in p.days.iter_mut().zip([4.0, 4.0, 3.0, 3.0, 2.0, 2.0, 2.0]) {
            day.mean = Some(mean);
        }
        assert_eq!(
            p.trend(),
            Trend::Easing {
                from: m(4),
                to: m(2)
            }
        );
        for day in &mut p.days {
            day.mean = Some(4.0);
        }
        assert_eq!(p.trend(), Trend::Steady(m(4)));
        for day in &mut p.days {
            day.mean = None;
        }
        assert_eq!(p.trend(), Trend::NoData);
        p.days[3].mean = Some(2.4);
        assert_eq!(p.trend(), Trend::Once(m(2)));
    }
}
