//! The repair flow's scheduled work: planning its jobs when the flow changes (one nudge and
//! an expiry after each change, a return after a break, a revisit after an agreement), and
//! running them. Each job carries the repair version it was planned for, so a job overtaken
//! by anything the couple did is skipped; each post carries a nonce derived from the job id,
//! so a retried post lands once.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::{JobCx, JobError, Outcome};
use crate::config::RepairConfig;
use crate::discord::render::ts;
use crate::discord::repair as view;
use crate::domain::ids::{AgreementId, CoupleId, JobId, RepairId};
use crate::domain::jobs::Job;
use crate::domain::repair::{self as dr, State, Status};
use crate::store::checkins::nonce_for;
use crate::store::{couples, jobs, repairs};

/// How often a revisit that met a paused couple is pushed past the pause before it gives up.
const MAX_REVISIT_ATTEMPTS: u8 = 5;

async fn cancel(tx: &mut PgConnection, couple: CoupleId, kinds: &[&str]) -> sqlx::Result<()> {
    for kind in kinds {
        jobs::cancel_pending(&mut *tx, couple, None, kind).await?;
    }
    Ok(())
}

/// After any activity in an open repair: one nudge after a quiet stretch, then the expiry.
/// The previous pair is cancelled, so the couple gets one reminder per quiet stretch.
pub async fn plan_activity(
    tx: &mut PgConnection,
    cfg: &RepairConfig,
    couple: CoupleId,
    repair: RepairId,
    version: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    cancel(tx, couple, &["repair_remind", "repair_expire"]).await?;
    let (c, r) = (couple.0, repair.0);
    let remind = Job::RepairRemind {
        couple: c,
        repair: r,
        version,
    };
    jobs::schedule_once(&mut *tx, &remind, now + cfg.remind_after, now).await?;
    let expire = Job::RepairExpire {
        couple: c,
        repair: r,
        version,
    };
    jobs::schedule_once(&mut *tx, &expire, now + cfg.expire_after, now).await?;
    Ok(())
}

/// Plans what follows a saved change from `prev` to `next` (now at `version`).
#[allow(clippy::too_many_arguments)]
pub async fn plan_after_change(
    tx: &mut PgConnection,
    cfg: &RepairConfig,
    couple: CoupleId,
    repair: RepairId,
    prev: &State,
    next: &State,
    version: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    match next.status {
        Status::Open => {
            if prev.status == Status::Paused {
                cancel(tx, couple, &["repair_return"]).await?;
            }
            plan_activity(tx, cfg, couple, repair, version, now).await
        }
        Status::Paused => {
            // A break is not inactivity: no nudge or expiry until the couple is back.
            cancel(
                tx,
                couple,
                &["repair_remind", "repair_expire", "repair_return"],
            )
            .await?;
            let at = next.resume_at.unwrap_or(now);
            let back = Job::RepairReturn {
                couple: couple.0,
                repair: repair.0,
                version,
            };
            jobs::schedule_once(&mut *tx, &back, at, now).await
        }
        Status::Completed | Status::Ended | Status::Expired => {
            cancel(
                tx,
                couple,
                &["repair_remind", "repair_expire", "repair_return"],
            )
            .await
        }
    }
}

/// Days after an agreement: ask how it is going.
pub async fn plan_revisit(
    tx: &mut PgConnection,
    cfg: &RepairConfig,
    couple: CoupleId,
    repair: RepairId,
    agreement: AgreementId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let job = Job::AgreementRevisit {
        couple: couple.0,
        repair: repair.0,
        agreement: agreement.0,
        attempt: 0,
    };
    jobs::schedule_once(&mut *tx, &job, now + cfg.revisit_after, now).await
}

/// Reopens a paused repair at the time the couple chose, with a gentle welcome.
pub async fn return_after_break(
    cx: &JobCx,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Outcome::Skipped("repair gone"));
    };
    let Some(couple) = couples::get(&st.pool, repair.couple, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    if repair.version == version && repair.state.status == Status::Paused {
        let next = dr::reopen(&repair.state).expect("paused");
        let mut tx = st.pool.begin().await?;
        if !repairs::save(&mut *tx, rid, version, &next, None, now).await? {
            return Ok(Outcome::Skipped("changed meanwhile"));
        }
        plan_after_change(
            &mut tx,
            &st.config.repair,
            couple.id,
            rid,
            &repair.state,
            &next,
            version + 1,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(couple_id = %couple.id, repair_id = %rid, "repair reopened after a break");
    } else if !(repair.version == version + 1 && repair.state.status == Status::Open) {
        // They came back early, or ended it: nothing to do. (Exactly one version later and
        // open is this job's own reopen, retried because the post failed.)
        return Ok(Outcome::Skipped("overtaken"));
    }
    if couple.is_paused(now) {
        // The flow waits, open, until they return from their pause; `/repair` shows it.
        return Ok(Outcome::Skipped("couple paused"));
    }
    post_card(
        cx,
        &couple,
        rid,
        "Welcome back, you two. 🌿 Take a slow breath before you begin.",
        job_id,
    )
    .await
}

/// Posts the repair's current step under a lead line, with the job's nonce.
async fn post_card(
    cx: &JobCx,
    couple: &crate::domain::couple::Couple,
    rid: RepairId,
    lead: &str,
    job_id: JobId,
) -> Result<Outcome, JobError> {
    let Some((_, card)) = view::scheduled_card(&cx.state, rid, lead).await? else {
        return Ok(Outcome::Skipped("repair gone"));
    };
    cx.post(
        couple.id,
        couple.channel,
        card.message(),
        &nonce_for(job_id.0),
    )
    .await?;
    Ok(Outcome::Done)
}

/// One gentle nudge after a quiet stretch.
pub async fn remind(
    cx: &JobCx,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Outcome::Skipped("repair gone"));
    };
    if repair.state.status != Status::Open || repair.version != version {
        return Ok(Outcome::Skipped("moved on since"));
    }
    let Some(couple) = couples::get(&st.pool, repair.couple, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    if couple.is_paused(now) {
        return Ok(Outcome::Skipped("couple paused"));
    }
    let closes = repair.updated_at + st.config.repair.expire_after;
    let lead = format!(
        "A gentle nudge: your repair is still open. No rush — a small step is plenty. If it rests, \
         I'll close it {}.",
        ts(closes, 'R')
    );
    post_card(cx, &couple, rid, &lead, job_id).await
}

/// Closes a repair that rested too long, with a kind note (or completes one that only
/// waited for the closing ratings).
pub async fn expire(
    cx: &JobCx,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Outcome::Skipped("repair gone"));
    };
    let Some(couple) = couples::get(&st.pool, repair.couple, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    let expired_by_us = |r: &repairs::Repair| {
        r.version == version + 1
            && r.closed_by.is_none()
            && matches!(r.state.status, Status::Expired | Status::Completed)
    };
    if repair.version == version {
        let Some(next) = dr::expire(&repair.state) else {
            return Ok(Outcome::Skipped("not open"));
        };
        let mut tx = st.pool.begin().await?;
        if !repairs::save(&mut *tx, rid, version, &next, None, now).await? {
            return Ok(Outcome::Skipped("changed meanwhile"));
        }
        plan_after_change(
            &mut tx,
            &st.config.repair,
            couple.id,
            rid,
            &repair.state,
            &next,
            version + 1,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(couple_id = %couple.id, repair_id = %rid, status = next.status.as_str(), "repair closed after resting");
    } else if !expired_by_us(&repair) {
        return Ok(Outcome::Skipped("moved on since"));
    }
    if couple.is_paused(now) {
        return Ok(Outcome::Skipped("couple paused"));
    }
    let Some((_, card)) = view::scheduled_card(st, rid, "").await? else {
        return Ok(Outcome::Skipped("repair gone"));
    };
    cx.post(
        couple.id,
        couple.channel,
        card.message(),
        &nonce_for(job_id.0),
    )
    .await?;
    Ok(Outcome::Done)
}

/// Days after an agreement: "how is it going with …?", with simple buttons.
pub async fn revisit(
    cx: &JobCx,
    job_id: JobId,
    rid: RepairId,
    agreement: AgreementId,
    attempt: u8,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(snap) = view::Snapshot::load(&st.pool, &st.config.privacy.keys, rid).await? else {
        return Ok(Outcome::Skipped("repair gone"));
    };
    if snap.agreement.as_ref().map(|a| a.id) != Some(agreement) {
        return Ok(Outcome::Skipped("agreement gone"));
    }
    let Some(couple) = couples::get(&st.pool, snap.repair.couple, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    if couple.unreachable_since.is_some() {
        return Ok(Outcome::Skipped("channel unreachable"));
    }
    if let Some(until) = couple.paused_until.filter(|t| *t > now) {
        // Nothing is posted during a pause; ask shortly after it instead.
        if attempt < MAX_REVISIT_ATTEMPTS {
            let later = Job::AgreementRevisit {
                couple: couple.id.0,
                repair: rid.0,
                agreement: agreement.0,
                attempt: attempt + 1,
            };
            jobs::schedule_once(&st.pool, &later, until + Duration::hours(1), now).await?;
        }
        return Ok(Outcome::Skipped(
            "couple paused; asked again after the pause",
        ));
    }
    let Some(card) = view::revisit_card(&snap, &st.content) else {
        return Ok(Outcome::Skipped("agreement gone"));
    };
    cx.post(
        couple.id,
        couple.channel,
        card.message(),
        &nonce_for(job_id.0),
    )
    .await?;
    tracing::info!(couple_id = %couple.id, repair_id = %rid, agreement_id = %agreement, "agreement revisit posted");
    Ok(Outcome::Done)
}
