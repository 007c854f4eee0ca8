//! What the scheduler can be asked to do. Each job has a dedupe key, so scheduling the same
//! logical job twice is harmless.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::{CheckinId, CoupleId, PersonId, TransportKind};
use super::recap::IsoWeek;
use super::schedule::Slot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Job {
    /// Post a partner's scheduled check-in for one local date.
    CheckinPost {
        couple: Uuid,
        user: PersonId,
        slot: String,
        local_date: NaiveDate,
    },
    /// Nudge a partner who has not answered yet.
    CheckinRemind {
        couple: Uuid,
        checkin: Uuid,
        user: PersonId,
    },
    /// Reveal a round: both answered, or its window closed.
    CheckinReveal { couple: Uuid, checkin: Uuid },
    /// A small attunement prompt for one partner on one local date.
    MicroPost {
        couple: Uuid,
        user: PersonId,
        local_date: NaiveDate,
    },
    /// Open the couple's weekly check-in for one ISO week (in the home zone).
    WeeklyCheckin {
        couple: Uuid,
        iso_year: i32,
        iso_week: u32,
    },
    /// Post the couple's weekly recap for one ISO week (of the recap day, in the home zone).
    WeeklyRecap {
        couple: Uuid,
        iso_year: i32,
        iso_week: u32,
    },
    /// Reopen a paused repair at the return time the couple chose. `version` is the repair's
    /// version once paused: any later change (an early return, an end) makes the job stale.
    RepairReturn {
        couple: Uuid,
        repair: Uuid,
        version: i32,
    },
    /// One gentle nudge after a quiet stretch in an open repair (stale once anything moved).
    RepairRemind {
        couple: Uuid,
        repair: Uuid,
        version: i32,
    },
    /// A repair's card after a step changed it, in case the answer that shows it never
    /// reached the couple (the transport missed its deadline or lost the reply). Cancelled
    /// once the answer was shown; stale once the repair moved on.
    RepairCard {
        couple: Uuid,
        repair: Uuid,
        version: i32,
    },
    /// Close an open repair that rested too long (stale once anything moved).
    RepairExpire {
        couple: Uuid,
        repair: Uuid,
        version: i32,
    },
    /// Days after an agreement: ask how it is going. `attempt` moves on when a paused couple
    /// pushes the revisit past the pause, so the retry gets a key of its own.
    AgreementRevisit {
        couple: Uuid,
        repair: Uuid,
        agreement: Uuid,
        attempt: u8,
        /// Which of the revisits (0: the first, days after; then later ones). Jobs of 0.1
        /// have none: the first.
        #[serde(default)]
        visit: u8,
    },
    /// Erase a person who asked to be forgotten (their couples were unlinked when they
    /// confirmed), then tell them privately that it is done: `handle` on `transport` is
    /// where, and `room`/`space` where they asked. The job belongs to no couple and names
    /// the person only here, so it is deleted, not kept, once done.
    Forget {
        person: PersonId,
        transport: TransportKind,
        handle: String,
        room: String,
        space: Option<String>,
    },
}

impl Job {
    pub fn post(couple: CoupleId, user: PersonId, slot: Slot, local_date: NaiveDate) -> Job {
        Job::CheckinPost {
            couple: couple.0,
            user,
            slot: slot.as_str().to_string(),
            local_date,
        }
    }

    /// The kind as stored in the payload's `kind` tag and shown in metrics.
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    /// The couple the job is for; none for a person's own erasure.
    pub fn couple(&self) -> Option<CoupleId> {
        Some(match self {
            Job::CheckinPost { couple, .. }
            | Job::CheckinRemind { couple, .. }
            | Job::CheckinReveal { couple, .. }
            | Job::MicroPost { couple, .. }
            | Job::WeeklyCheckin { couple, .. }
            | Job::WeeklyRecap { couple, .. }
            | Job::RepairReturn { couple, .. }
            | Job::RepairRemind { couple, .. }
            | Job::RepairCard { couple, .. }
            | Job::RepairExpire { couple, .. }
            | Job::AgreementRevisit { couple, .. } => CoupleId(*couple),
            Job::Forget { .. } => return None,
        })
    }

    pub fn user(&self) -> Option<PersonId> {
        match self {
            Job::CheckinPost { user, .. }
            | Job::CheckinRemind { user, .. }
            | Job::MicroPost { user, .. } => Some(*user),
            Job::CheckinReveal { .. }
            | Job::WeeklyCheckin { .. }
            | Job::WeeklyRecap { .. }
            | Job::RepairReturn { .. }
            | Job::RepairRemind { .. }
            | Job::RepairCard { .. }
            | Job::RepairExpire { .. }
            | Job::AgreementRevisit { .. }
            | Job::Forget { .. } => None,
        }
    }

    /// The key under which this job exists at most once.
    pub fn dedupe_key(&self) -> String {
        match self {
            Job::CheckinPost {
                couple,
                user,
                slot,
                local_date,
            } => format!("post:{couple}:{user}:{slot}:{local_date}"),
            Job::CheckinRemind { checkin, user, .. } => format!("remind:{checkin}:{user}"),
            Job::CheckinReveal { checkin, .. } => format!("reveal:{checkin}"),
            Job::MicroPost {
                couple,
                user,
                local_date,
            } => format!("micro:{couple}:{user}:{local_date}"),
            Job::WeeklyCheckin {
                couple,
                iso_year,
                iso_week,
            } => format!("weekly:{couple}:{iso_year}-W{iso_week:02}"),
            Job::WeeklyRecap {
                couple,
                iso_year,
                iso_week,
            } => format!("recap:{couple}:{iso_year}-W{iso_week:02}"),
            Job::RepairReturn {
                repair, version, ..
            } => format!("repair-return:{repair}:{version}"),
            Job::RepairRemind {
                repair, version, ..
            } => format!("repair-remind:{repair}:{version}"),
            Job::RepairCard {
                repair, version, ..
            } => format!("repair-card:{repair}:{version}"),
            Job::RepairExpire {
                repair, version, ..
            } => format!("repair-expire:{repair}:{version}"),
            Job::AgreementRevisit {
                agreement,
                attempt,
                visit: 0,
                ..
            } => format!("revisit:{agreement}:{attempt}"),
            Job::AgreementRevisit {
                agreement,
                attempt,
                visit,
                ..
            } => format!("revisit:{agreement}:v{visit}:{attempt}"),
            Job::Forget { person, .. } => format!("forget:{person}"),
        }
    }

    /// Whether a job found this late should be dropped rather than run. Reveals always run:
    /// late is better than losing what the couple answered. So do a repair's return (else a
    /// paused flow would never reopen), its expiry, and the agreement's revisit. A recap found
    /// late is recorded as missed, like a check-in post: a week's look back arriving days
    /// later helps nobody. A repair's card is what the partner needs to go on, however late.
    pub fn expires_after_grace(&self) -> bool {
        !matches!(
            self,
            Job::CheckinReveal { .. }
                | Job::RepairReturn { .. }
                | Job::RepairCard { .. }
                | Job::RepairExpire { .. }
                | Job::AgreementRevisit { .. }
                | Job::Forget { .. }
        )
    }

    pub fn checkin(&self) -> Option<CheckinId> {
        match self {
            Job::CheckinRemind { checkin, .. } | Job::CheckinReveal { checkin, .. } => {
                Some(CheckinId(*checkin))
            }
            Job::CheckinPost { .. }
            | Job::MicroPost { .. }
            | Job::WeeklyCheckin { .. }
            | Job::WeeklyRecap { .. }
            | Job::RepairReturn { .. }
            | Job::RepairRemind { .. }
            | Job::RepairCard { .. }
            | Job::RepairExpire { .. }
            | Job::AgreementRevisit { .. }
            | Job::Forget { .. } => None,
        }
    }

    pub fn weekly_checkin(couple: CoupleId, week: IsoWeek) -> Job {
        Job::WeeklyCheckin {
            couple: couple.0,
            iso_year: week.year(),
            iso_week: week.week(),
        }
    }

    pub fn weekly_recap(couple: CoupleId, week: IsoWeek) -> Job {
        Job::WeeklyRecap {
            couple: couple.0,
            iso_year: week.year(),
            iso_week: week.week(),
        }
    }
}

/// The wait before retrying a job after its `attempt`-th failure (the one back-off policy).
pub fn backoff(attempt: i32) -> Duration {
    let d = super::backoff::Policy::DEFAULT.delay(u32::try_from(attempt).unwrap_or(1));
    Duration::from_std(d).unwrap_or(Duration::minutes(10))
}

/// Attempts after which the host is told loudly that a job keeps failing. It is still
/// retried: a job that matters is never dropped for failing. One that stops mattering (found
/// past its grace window, see [`Job::expires_after_grace`]) is recorded as missed at its next
/// claim instead.
pub const MAX_ATTEMPTS: i32 = 8;

/// The wait before the next attempt of a job whose `attempt`-th attempt did not finish: the
/// platform's own "retry after" when it rate-limited us (honoured as asked; a tenth of a
/// second at least, so a zero never spins), otherwise the capped back-off.
pub fn retry_delay(attempt: i32, rate_limited: Option<std::time::Duration>) -> Duration {
    match rate_limited {
        Some(wait) => Duration::from_std(wait.max(std::time::Duration::from_millis(100)))
            .unwrap_or(Duration::minutes(10)),
        None => backoff(attempt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let j = Job::post(
            CoupleId(Uuid::nil()),
            PersonId(Uuid::from_u128(7)),
            Slot::Morning,
            NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
        );
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["kind"], "checkin_post");
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), j);
        assert_eq!(
            j.dedupe_key(),
            "post:00000000-0000-0000-0000-000000000000:00000000-0000-0000-0000-000000000007:morning:2026-03-08"
        );
    }

    #[test]
    fn weekly_recap_round_trips_with_an_iso_week_key() {
        let j = Job::weekly_recap(CoupleId(Uuid::nil()), IsoWeek::new(2026, 5).unwrap());
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["kind"], "weekly_recap");
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), j);
        assert_eq!(
            j.dedupe_key(),
            "recap:00000000-0000-0000-0000-000000000000:2026-W05"
        );
        assert!(j.expires_after_grace());
        assert_eq!(j.user(), None);
    }

    #[test]
    fn repair_jobs_round_trip_with_distinct_keys() {
        let (c, r, a) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let jobs = [
            Job::RepairReturn {
                couple: c,
                repair: r,
                version: 3,
            },
            Job::RepairRemind {
                couple: c,
                repair: r,
                version: 3,
            },
            Job::RepairExpire {
                couple: c,
                repair: r,
                version: 3,
            },
            Job::RepairCard {
                couple: c,
                repair: r,
                version: 3,
            },
            Job::AgreementRevisit {
                couple: c,
                repair: r,
                agreement: a,
                attempt: 0,
                visit: 0,
            },
            Job::AgreementRevisit {
                couple: c,
                repair: r,
                agreement: a,
                attempt: 0,
                visit: 1,
            },
            Job::WeeklyCheckin {
                couple: c,
                iso_year: 2026,
                iso_week: 49,
            },
        ];
        let mut keys = std::collections::HashSet::new();
        for j in &jobs {
            let v = serde_json::to_value(j).unwrap();
            assert_eq!(v["kind"], j.kind());
            assert_eq!(serde_json::from_value::<Job>(v).unwrap(), *j);
            assert_eq!(j.couple(), Some(CoupleId(c)));
            assert!(keys.insert(j.dedupe_key()), "{}", j.dedupe_key());
        }
        assert!(jobs[1].expires_after_grace(), "a late nudge is dropped");
        assert!(!jobs[0].expires_after_grace(), "a return always runs");
        assert!(
            !jobs[3].expires_after_grace(),
            "a lost repair card is posted however late"
        );
    }

    #[test]
    fn an_erasure_belongs_to_no_couple_never_expires_and_says_where_it_is_served() {
        let person = PersonId(Uuid::new_v4());
        let j = Job::Forget {
            person,
            transport: TransportKind::Matrix,
            handle: "@ann:example.org".into(),
            room: "!dm:example.org".into(),
            space: None,
        };
        let v = serde_json::to_value(&j).unwrap();
        // The claim reads the transport straight from the payload (no couple to look it up).
        assert_eq!(v["transport"], "matrix");
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), j);
        assert_eq!((j.couple(), j.user()), (None, None));
        assert_eq!(j.dedupe_key(), format!("forget:{person}"));
        assert!(!j.expires_after_grace(), "an erasure found late still runs");
    }

    #[test]
    fn a_rate_limit_is_waited_out_as_asked_and_failures_back_off() {
        let secs = std::time::Duration::from_secs;
        assert_eq!(retry_delay(1, Some(secs(30))), Duration::seconds(30));
        assert_eq!(retry_delay(7, Some(secs(2))), Duration::seconds(2));
        assert_eq!(
            retry_delay(1, Some(std::time::Duration::from_millis(500))),
            Duration::milliseconds(500)
        );
        assert_eq!(
            retry_delay(1, Some(std::time::Duration::ZERO)),
            Duration::milliseconds(100)
        );
        assert_eq!(retry_delay(3, None), Duration::seconds(20));
        // However long an outage lasts, the next attempt is at most ten minutes away.
        assert_eq!(retry_delay(500, None), Duration::seconds(600));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(5));
        assert_eq!(backoff(2), Duration::seconds(10));
        assert_eq!(backoff(20), Duration::seconds(600));
    }
}
