//! Planning: turning schedules into pending jobs (check-in posts, micro-prompts, weekly
//! recaps). Every function is idempotent, so calling it again after any change simply
//! re-plans; each runs inside the caller's transaction.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use crate::domain::ids::{CoupleId, PersonId};
use crate::domain::jobs::Job;
use crate::domain::micro::{day_has_prompt, pick_time, rng_for};
use crate::domain::recap;
use crate::domain::schedule::{CoupleSettings, PartnerSchedule, Slot};
use crate::domain::time::{local_date, local_instant};
use crate::store::{couples, jobs, schedules};

/// Schedules the next post of `slot` after `after`. A day whose post already ran is passed
/// over, so re-planning never posts the same day twice.
pub async fn schedule_next(
    tx: &mut PgConnection,
    couple: CoupleId,
    user: PersonId,
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
    user: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    plan_micro(tx, seed, couple, user, now).await?;
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
    partners: &[PersonId],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    for p in partners {
        plan_partner(tx, seed, couple, *p, now).await?;
    }
    plan_recap(tx, couple, now).await?;
    Ok(())
}

/// Schedules the first weekly recap due after `after`. A week whose recap already ran (or is
/// running) is passed over, so re-planning never gives a week two recaps.
pub async fn schedule_recap_after(
    tx: &mut PgConnection,
    couple: CoupleId,
    home: Tz,
    settings: &CoupleSettings,
    mut after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    for _ in 0..4 {
        let (week, at) = recap::next_due(home, settings.recap_weekday, settings.recap_time, after);
        if jobs::schedule(&mut *tx, &Job::weekly_recap(couple, week), at, now).await? {
            return Ok(Some(at));
        }
        after = at;
    }
    Ok(None)
}

/// Replaces the couple's pending weekly jobs (the weekly check-in and the recap) with ones
/// from the current settings and home zone (after setup, a schedule change, or a zone
/// change). Returns when the recap is due.
pub async fn plan_recap(
    tx: &mut PgConnection,
    couple: CoupleId,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    jobs::cancel_pending(&mut *tx, couple, None, "weekly_recap").await?;
    jobs::cancel_pending(&mut *tx, couple, None, "weekly_checkin").await?;
    let Some(c) = couples::get(&mut *tx, couple, true).await? else {
        return Ok(None);
    };
    let Some(settings) = schedules::couple(&mut *tx, couple).await? else {
        return Ok(None);
    };
    schedule_weekly_after(tx, couple, c.home_zone(), &settings, now, now).await?;
    schedule_recap_after(tx, couple, c.home_zone(), &settings, now, now).await
}

/// Schedules the partner's next micro-prompt strictly after `after`, looking up to two
/// weeks ahead. The day and moment come from the seed, so re-planning is stable.
#[allow(clippy::too_many_arguments)]
pub async fn schedule_next_micro(
    tx: &mut PgConnection,
    seed: u64,
    couple: CoupleId,
    user: PersonId,
    sched: &PartnerSchedule,
    settings: &CoupleSettings,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let checkin_times: Vec<NaiveTime> = [sched.morning, sched.evening]
        .into_iter()
        .flatten()
        .collect();
    let mut date = local_date(sched.zone, after);
    for _ in 0..14 {
        let mut rng = rng_for(
            seed,
            &[
                couple.0.as_bytes(),
                user.0.as_bytes(),
                date.to_string().as_bytes(),
            ],
        );
        if day_has_prompt(settings.micro, &mut rng) {
            if let Some(t) = pick_time(
                &mut rng,
                (sched.waking_start, sched.waking_end),
                settings.quiet,
                &checkin_times,
            ) {
                let at = local_instant(sched.zone, date, t);
                if at > after {
                    let job = Job::MicroPost {
                        couple: couple.0,
                        user,
                        local_date: date,
                    };
                    if jobs::schedule(&mut *tx, &job, at, now).await? {
                        return Ok(Some(at));
                    }
                }
            }
        }
        date = match date.succ_opt() {
            Some(d) => d,
            None => return Ok(None),
        };
    }
    Ok(None)
}

/// Replaces a partner's pending micro-prompt with one from the current settings.
pub async fn plan_micro(
    tx: &mut PgConnection,
    seed: u64,
    couple: CoupleId,
    user: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    jobs::cancel_pending(&mut *tx, couple, Some(user), "micro_post").await?;
    let (Some(sched), Some(settings)) = (
        schedules::partner(&mut *tx, couple, user).await?,
        schedules::couple(&mut *tx, couple).await?,
    ) else {
        return Ok(());
    };
    schedule_next_micro(tx, seed, couple, user, &sched, &settings, now, now).await?;
    Ok(())
}

/// Schedules the first weekly check-in due after `after`; a week whose round already ran is
/// passed over.
pub async fn schedule_weekly_after(
    tx: &mut sqlx::PgConnection,
    couple: CoupleId,
    home: chrono_tz::Tz,
    settings: &crate::domain::schedule::CoupleSettings,
    mut after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let Some((day, time)) = settings.weekly() else {
        return Ok(None);
    };
    for _ in 0..4 {
        let (week, at) = recap::next_due(home, day, time, after);
        if jobs::schedule(&mut *tx, &Job::weekly_checkin(couple, week), at, now).await? {
            return Ok(Some(at));
        }
        after = at;
    }
    Ok(None)
}
