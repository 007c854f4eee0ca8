//! Micro-prompt jobs and draws: planning a partner's next prompt day and moment, drawing
//! from the couple's shuffle bag, and posting the quiet "a small moment for you" teaser.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sqlx::PgConnection;

use super::{JobCx, JobError, Outcome};
use crate::content::Library;
use crate::discord::micro as view;
use crate::domain::ids::{CoupleId, JobId, MicroId, UserId};
use crate::domain::jobs::Job;
use crate::domain::micro::{day_has_prompt, draw, pick_time, rng_for, shuffled};
use crate::domain::schedule::{CoupleSettings, PartnerSchedule};
use crate::domain::time::{local_date, local_instant};
use crate::store::{checkins, couples, jobs, micro, schedules};

/// Schedules the partner's next micro-prompt strictly after `after`, looking up to two
/// weeks ahead. The day and moment come from the seed, so re-planning is stable.
#[allow(clippy::too_many_arguments)]
pub async fn schedule_next(
    tx: &mut PgConnection,
    seed: u64,
    couple: CoupleId,
    user: UserId,
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
                &user.0.to_le_bytes(),
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
                        user: user.0,
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
pub async fn plan(
    tx: &mut PgConnection,
    seed: u64,
    couple: CoupleId,
    user: UserId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    jobs::cancel_pending(&mut *tx, couple, Some(user), "micro_post").await?;
    let (Some(sched), Some(settings)) = (
        schedules::partner(&mut *tx, couple, user).await?,
        schedules::couple(&mut *tx, couple).await?,
    ) else {
        return Ok(());
    };
    schedule_next(tx, seed, couple, user, &sched, &settings, now, now).await?;
    Ok(())
}

/// Draws the next prompt id from the couple's bag: no repeat until the pool is used up,
/// never the same concept twice in a row, never `exclude` ("another one").
pub async fn draw_prompt(
    tx: &mut PgConnection,
    lib: &Library,
    seed: u64,
    couple: CoupleId,
    exclude: Option<&str>,
) -> sqlx::Result<Option<(String, String)>> {
    let mut bag = micro::lock_bag(tx, couple).await?;
    let concept_of = |id: &str| lib.micro_by_id(id).map(|p| p.concept.as_str());
    // Prompts a host removed from the library simply drop out of the bag.
    bag.remaining.retain(|id| concept_of(id).is_some());
    let mut picked = draw(
        &mut bag.remaining,
        bag.last_concept.as_deref(),
        exclude,
        concept_of,
    );
    if picked.is_none() {
        let fresh: Vec<String> = lib
            .micro
            .iter()
            .map(|p| p.id.clone())
            .filter(|id| !bag.remaining.contains(id))
            .collect();
        let mut rng = rng_for(seed, &[couple.0.as_bytes(), &bag.refills.to_le_bytes()]);
        bag.refills += 1;
        bag.remaining.extend(shuffled(&fresh, &mut rng));
        picked = draw(
            &mut bag.remaining,
            bag.last_concept.as_deref(),
            exclude,
            concept_of,
        );
    }
    let Some(id) = picked else {
        return Ok(None);
    };
    let concept = concept_of(&id).unwrap_or_default().to_string();
    bag.last_concept = Some(concept.clone());
    micro::save_bag(&mut *tx, couple, &bag).await?;
    Ok(Some((id, concept)))
}

/// The scheduled prompt: chain the next day, then post a teaser only the partner can open.
pub async fn post(
    cx: &JobCx,
    job_id: JobId,
    couple_id: CoupleId,
    user: UserId,
    date: NaiveDate,
    missed: bool,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let seed = st.config.scheduler.seed;
    let Some(couple) = couples::get(&st.pool, couple_id, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    let mut tx = st.pool.begin().await?;
    couples::lock(&mut tx, couple_id).await?;
    let (Some(sched), Some(settings)) = (
        schedules::partner(&mut *tx, couple_id, user).await?,
        schedules::couple(&mut *tx, couple_id).await?,
    ) else {
        return Ok(Outcome::Skipped("not a partner any more"));
    };
    // Chain from the end of this local day, so the next prompt lands on a later day.
    let day_end = local_instant(sched.zone, date, NaiveTime::MIN) + Duration::days(1);
    schedule_next(
        &mut tx,
        seed,
        couple_id,
        user,
        &sched,
        &settings,
        day_end.max(now),
        now,
    )
    .await?;
    if missed {
        tx.commit().await?;
        return Ok(Outcome::Missed);
    }
    if couple.is_paused(now) {
        tx.commit().await?;
        return Ok(Outcome::Skipped("paused"));
    }
    let nonce = checkins::nonce_for(job_id.0);
    let row = match micro::by_nonce(&mut *tx, &nonce).await? {
        Some(r) if r.message_id.is_some() => {
            tx.commit().await?;
            return Ok(Outcome::Skipped("already posted"));
        }
        Some(r) => r.micro_id(),
        None => {
            let Some((prompt, concept)) =
                draw_prompt(&mut tx, &st.content, seed, couple_id, None).await?
            else {
                tx.commit().await?;
                return Ok(Outcome::Skipped("empty library"));
            };
            let id = MicroId::new();
            micro::insert(
                &mut *tx,
                id,
                couple_id,
                user,
                &prompt,
                &concept,
                "scheduled",
                Some(&nonce),
                now,
            )
            .await?;
            id
        }
    };
    tx.commit().await?;
    let mid = cx
        .post(couple_id, couple.channel, view::teaser(row, user), &nonce)
        .await?;
    micro::set_message(&st.pool, row, mid.0).await?;
    Ok(Outcome::Done)
}
