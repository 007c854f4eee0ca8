//! Scheduled work, as the flows see it: a claimed job becomes a [`Plan`] (what to deliver,
//! or why nothing), the scheduler delivers it through the transport port, and [`record`]
//! keeps what was delivered so the same post is never made twice.

pub use super::delivery::{Delivery, Plan, Record};
use chrono::{DateTime, Utc};

use super::FlowError;
use crate::domain::ids::{CheckinId, CoupleId, JobId, MessageRef, RepairId};
use crate::domain::jobs::Job;
use crate::domain::recap::IsoWeek;
use crate::state::AppState;
use crate::store::{checkins, micro, recap};
use crate::transport::Transports;

/// The plan for a claimed job (`token` is the attempt's lease token). `missed` says it was found past its grace window; `now` is the
/// shared time of the claim, so a round opened by a process whose clock runs ahead does not
/// close late.
pub async fn prepare(
    st: &AppState,
    transports: &Transports,
    id: JobId,
    token: uuid::Uuid,
    job: &Job,
    missed: bool,
    now: DateTime<Utc>,
) -> Result<Plan, FlowError> {
    match job {
        Job::CheckinPost {
            couple,
            user,
            slot,
            local_date,
        } => {
            super::checkin::prepare_post(
                st,
                id,
                token,
                CoupleId(*couple),
                *user,
                slot,
                *local_date,
                missed,
                now,
            )
            .await
        }
        Job::CheckinRemind { checkin, user, .. } => {
            if missed {
                Ok(Plan::Missed)
            } else {
                super::checkin::prepare_reminder(st, id, CheckinId(*checkin), *user).await
            }
        }
        Job::CheckinReveal { checkin, .. } => {
            super::checkin::prepare_reveal(st, CheckinId(*checkin)).await
        }
        Job::MicroPost {
            couple,
            user,
            local_date,
        } => {
            super::micro::prepare_post(st, id, CoupleId(*couple), *user, *local_date, missed, now)
                .await
        }
        Job::WeeklyCheckin {
            couple,
            iso_year,
            iso_week,
        } => match IsoWeek::new(*iso_year, *iso_week) {
            Some(week) => {
                super::weekly::prepare_post(st, id, CoupleId(*couple), week, missed, now).await
            }
            None => Ok(Plan::Skipped("not a real ISO week")),
        },
        Job::WeeklyRecap {
            couple,
            iso_year,
            iso_week,
        } => match IsoWeek::new(*iso_year, *iso_week) {
            Some(week) => {
                super::recap::prepare(st, transports, id, CoupleId(*couple), week, missed).await
            }
            None => Ok(Plan::Skipped("not a real ISO week")),
        },
        Job::RepairReturn {
            repair, version, ..
        } => super::repair::prepare_return(st, id, RepairId(*repair), *version).await,
        Job::RepairRemind {
            repair, version, ..
        } => {
            if missed {
                Ok(Plan::Missed)
            } else {
                super::repair::prepare_reminder(st, id, RepairId(*repair), *version).await
            }
        }
        Job::RepairCard {
            repair, version, ..
        } => super::repair::prepare_card(st, id, RepairId(*repair), *version).await,
        Job::RepairExpire {
            repair, version, ..
        } => super::repair::prepare_expiry(st, id, RepairId(*repair), *version).await,
        Job::AgreementRevisit {
            repair,
            agreement,
            attempt,
            visit,
            ..
        } => {
            super::repair::prepare_revisit(
                st,
                id,
                RepairId(*repair),
                crate::domain::ids::AgreementId(*agreement),
                *attempt,
                *visit,
            )
            .await
        }
        Job::Forget {
            person,
            transport,
            handle,
            room,
            space,
        } => {
            super::privacy::prepare_erasure(
                st,
                *person,
                *transport,
                handle,
                room,
                space.as_deref(),
                id,
            )
            .await
        }
    }
}

/// Keeps what was delivered.
pub async fn record(st: &AppState, record: &Record, message: &MessageRef) -> sqlx::Result<()> {
    let now = st.clock.now();
    match record {
        Record::Nothing | Record::Erased => Ok(()),
        Record::CheckinPost {
            couple,
            person,
            slot,
            date,
        } => checkins::mark_posted(&st.pool, *couple, *person, slot, *date, message, now).await,
        Record::WeeklyPost(id) => checkins::set_post_message(&st.pool, *id, message).await,
        Record::Reveal(id) => {
            checkins::set_reveal_message(&st.pool, *id, message).await?;
            tracing::info!(checkin_id = %id, "round revealed");
            Ok(())
        }
        Record::Micro(id) => micro::set_message(&st.pool, *id, message).await,
        Record::Recap { couple, week } => {
            recap::mark_posted(&st.pool, *couple, *week, message, now).await?;
            tracing::info!(couple_id = %couple, week = %week, "weekly recap posted");
            Ok(())
        }
    }
}

/// Keeps what was delivered and finishes the job (status `done`), in one statement where the
/// record allows. False when the attempt no longer held its lease: what was delivered is
/// kept all the same, and the job is left to its new holder.
pub async fn record_and_finish(
    st: &AppState,
    record: &Record,
    message: &MessageRef,
    id: JobId,
    token: uuid::Uuid,
) -> sqlx::Result<bool> {
    let shared = st.clock.shared();
    if let Record::CheckinPost {
        couple,
        person,
        slot,
        date,
    } = record
    {
        return checkins::mark_posted_finishing(
            &st.pool,
            *couple,
            *person,
            slot,
            *date,
            message,
            st.clock.now(),
            id,
            token,
            shared,
        )
        .await;
    }
    if *record == Record::Erased {
        return crate::store::jobs::finish_by_deleting(&st.pool, id, token).await;
    }
    self::record(st, record, message).await?;
    crate::store::jobs::finish(&st.pool, id, token, "done", None, shared).await
}
