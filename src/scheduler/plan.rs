//! Planning: turning schedules into pending jobs. Every function is idempotent, so calling it
//! again after any change simply re-plans.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::ids::{CoupleId, UserId};
use crate::domain::jobs::Job;
use crate::domain::schedule::{PartnerSchedule, Slot};
use crate::store::{jobs, schedules};

/// Schedules the next post of `slot` after `after`. A day whose post already ran is passed
/// over, so re-planning never posts the same day twice.
pub async fn schedule_next(
    tx: &mut PgConnection,
    couple: CoupleId,
    user: UserId,
    sched: &PartnerSchedule,
    slot: Slot,
    mut after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    for _ in 0..4 {
        let Some((date, at)) = sched.next(slot, after) else {
            return Ok(None);
        };
        let job = Job::post(couple, user, slot, date);
        if jobs::schedule(&mut *tx, &job, at, now).await? {
            return Ok(Some(at));
        }
        after = at;
    }
    Ok(None)
}

/// Replaces a partner's pending check-in posts and micro-prompt with ones from their
/// current schedule.
pub async fn plan_partner(
    tx: &mut PgConnection,
    seed: u64,
    couple: CoupleId,
    user: UserId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    super::micro::plan(tx, seed, couple, user, now).await?;
    jobs::cancel_pending(&mut *tx, couple, Some(user), "checkin_post").await?;
    let Some(sched) = schedules::partner(&mut *tx, couple, user).await? else {
        return Ok(());
    };
    for slot in Slot::ALL {
        schedule_next(tx, couple, user, &sched, slot, now, now).await?;
    }
    Ok(())
}

pub async fn plan_couple(
    tx: &mut PgConnection,
    seed: u64,
    couple: CoupleId,
    partners: &[UserId],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    for p in partners {
        plan_partner(tx, seed, couple, *p, now).await?;
    }
    Ok(())
}
