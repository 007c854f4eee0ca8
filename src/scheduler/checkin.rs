//! Running check-in jobs: the scheduled post (which opens or joins a round), the reminder,
//! and the reveal. Each is safe to run twice: unique keys and nonces make the second run a
//! no-op or a re-send Discord recognises.

use chrono::{Duration, NaiveDate, Timelike};

use super::{plan, JobCx, JobError, Outcome};
use crate::discord::checkin as view;
use crate::domain::ids::{CheckinId, CoupleId, JobId, UserId};
use crate::domain::jobs::Job;
use crate::domain::schedule::Slot;
use crate::domain::time::local_instant;
use crate::store::checkins::Checkin;
use crate::store::{checkins, couples, jobs, schedules};

/// Opens (or joins) a round and schedules its reveal and reminder, then posts.
pub async fn post(
    cx: &JobCx,
    job_id: JobId,
    couple_id: CoupleId,
    user: UserId,
    slot_name: &str,
    local_date: NaiveDate,
    missed: bool,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(slot) = Slot::parse(slot_name) else {
        return Ok(Outcome::Skipped("unknown slot"));
    };
    let Some(couple) = couples::get(&st.pool, couple_id, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    let mut tx = st.pool.begin().await?;
    couples::lock(&mut tx, couple_id).await?;
    let Some(sched) = schedules::partner(&mut *tx, couple_id, user).await? else {
        return Ok(Outcome::Skipped("not a partner any more"));
    };
    // Chain the next day first, so a skipped or missed day never breaks the schedule.
    if let Some(time) = sched.slot_time(slot) {
        let this = local_instant(sched.zone, local_date, time);
        plan::schedule_next(&mut tx, couple_id, user, &sched, slot, this, now).await?;
    }
    if missed {
        tx.commit().await?;
        return Ok(Outcome::Missed);
    }
    if couple.is_paused(now) {
        tx.commit().await?;
        return Ok(Outcome::Skipped("paused"));
    }
    let settings = schedules::couple(&mut *tx, couple_id)
        .await?
        .ok_or_else(|| JobError::Transient("couple settings missing".into()))?;
    let (round, nonce) =
        match checkins::claim_post(&mut tx, couple_id, user, slot.as_str(), local_date).await? {
            checkins::PostSlot::Posted => {
                tx.commit().await?;
                return Ok(Outcome::Skipped("already posted"));
            }
            checkins::PostSlot::Unconfirmed { checkin, nonce } => {
                let round = checkins::get(&mut *tx, checkin)
                    .await?
                    .ok_or_else(|| JobError::Transient("round vanished".into()))?;
                (round, nonce)
            }
            checkins::PostSlot::New => {
                let closes = now + settings.window;
                let round = match checkins::joinable(
                    &mut *tx,
                    couple_id,
                    slot.as_str(),
                    local_date,
                    user,
                    now,
                )
                .await?
                {
                    Some(r) => {
                        checkins::extend(&mut *tx, r.id, closes).await?;
                        r
                    }
                    None => {
                        let q =
                            question_of_the_day(&st.content, slot.as_str(), couple_id, local_date);
                        checkins::create(
                            &mut *tx,
                            couple_id,
                            slot.as_str(),
                            local_date,
                            now,
                            closes,
                            q.as_deref(),
                        )
                        .await?
                    }
                };
                let closes = closes.max(round.closes_at);
                let reveal = Job::CheckinReveal {
                    couple: couple_id.0,
                    checkin: round.id.0,
                };
                jobs::schedule(&mut *tx, &reveal, closes, now).await?;
                if let Some(delay) = settings.reminder {
                    // A reminder only makes sense while the round is still open.
                    if now + delay < closes {
                        let remind = Job::CheckinRemind {
                            couple: couple_id.0,
                            checkin: round.id.0,
                            user: user.0,
                        };
                        jobs::schedule_once(&mut *tx, &remind, now + delay, now).await?;
                    }
                }
                let nonce = checkins::nonce_for(job_id.0);
                checkins::insert_post(
                    &mut *tx,
                    couple_id,
                    user,
                    slot.as_str(),
                    local_date,
                    round.id,
                    &nonce,
                )
                .await?;
                let round = Checkin {
                    closes_at: closes,
                    ..round
                };
                (round, nonce)
            }
        };
    tx.commit().await?;
    let other = couple.other(user).map(|p| p.user);
    let message = view::post_message(&round, user, other);
    let mid = cx.post(couple_id, couple.channel, message, &nonce).await?;
    checkins::mark_posted(
        &st.pool,
        couple_id,
        user,
        slot.as_str(),
        local_date,
        mid.0,
        now,
    )
    .await?;
    Ok(Outcome::Done)
}

/// A rotating question for the slot: each couple walks the list in its own order, one step
/// a day, so the same question does not come back until the list is used up.
pub fn question_of_the_day(
    lib: &crate::content::Library,
    slot: &str,
    couple: CoupleId,
    date: NaiveDate,
) -> Option<String> {
    let pool: Vec<&str> = lib
        .questions
        .iter()
        .filter(|q| q.slot == slot)
        .map(|q| q.text.as_str())
        .collect();
    if pool.is_empty() {
        return None;
    }
    let n = pool.len() as i64;
    let offset = (couple.0.as_u128() % n as u128) as i64;
    let day = i64::from(chrono::Datelike::num_days_from_ce(&date));
    Some(pool[((day + offset).rem_euclid(n)) as usize].to_string())
}

/// One gentle nudge to a partner who has not answered yet.
pub async fn remind(
    cx: &JobCx,
    job_id: JobId,
    checkin: CheckinId,
    user: UserId,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(round) = checkins::get(&st.pool, checkin).await? else {
        return Ok(Outcome::Skipped("round gone"));
    };
    if round.revealed || round.closes_at <= now {
        return Ok(Outcome::Skipped("round closed"));
    }
    let Some(couple) = couples::get(&st.pool, round.couple, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    if couple.is_paused(now) {
        return Ok(Outcome::Skipped("paused"));
    }
    if let Some(a) = checkins::answer(&st.pool, &st.config.privacy.keys, checkin, user).await? {
        if a.submitted || a.skipped {
            return Ok(Outcome::Skipped("already answered"));
        }
    }
    let message = view::reminder_message(&round, user);
    cx.post(
        round.couple,
        couple.channel,
        message,
        &checkins::nonce_for(job_id.0),
    )
    .await?;
    Ok(Outcome::Done)
}

/// Reveals a round: flips it once, then posts both answers (a note only if shared).
pub async fn reveal(cx: &JobCx, checkin: CheckinId) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    let Some(round) = checkins::lock(&mut tx, checkin).await? else {
        return Ok(Outcome::Skipped("round gone"));
    };
    if round.revealed && round.reveal_message_id.is_some() {
        return Ok(Outcome::Skipped("already revealed"));
    }
    checkins::mark_revealed(&mut *tx, checkin, now).await?;
    let answers = checkins::answers(&mut *tx, &st.config.privacy.keys, checkin).await?;
    let Some(couple) = couples::get(&mut *tx, round.couple, true).await? else {
        tx.commit().await?;
        return Ok(Outcome::Skipped("couple ended"));
    };
    let asked = checkins::asked(&mut tx, &round, &couple.partner_ids()).await?;
    tx.commit().await?;
    if couple.unreachable_since.is_some() {
        // The channel refused us; the answers stay stored and visible to each writer.
        return Ok(Outcome::Skipped("channel unreachable"));
    }
    let message = view::reveal_message(&round, &couple, &answers, &asked);
    let mid = cx
        .post(round.couple, couple.channel, message, &round.reveal_nonce)
        .await?;
    checkins::set_reveal_message(&st.pool, checkin, mid.0).await?;
    tracing::info!(couple_id = %round.couple, checkin_id = %checkin, "round revealed");
    Ok(Outcome::Done)
}

/// Opens a round right now for both partners (`/checkin`), with its reveal scheduled.
pub async fn open_now(
    tx: &mut sqlx::PgConnection,
    lib: &crate::content::Library,
    couple: &crate::domain::couple::Couple,
    window: Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<checkins::Checkin> {
    let zone = couple.home_zone();
    let today = crate::domain::time::local_date(zone, now);
    let slot = if now.with_timezone(&zone).hour() < 15 {
        "morning"
    } else {
        "evening"
    };
    let q = question_of_the_day(lib, slot, couple.id, today);
    let round = checkins::create(
        &mut *tx,
        couple.id,
        "now",
        today,
        now,
        now + window,
        q.as_deref(),
    )
    .await?;
    let reveal = Job::CheckinReveal {
        couple: couple.id.0,
        checkin: round.id.0,
    };
    jobs::schedule(&mut *tx, &reveal, round.closes_at, now).await?;
    Ok(round)
}
