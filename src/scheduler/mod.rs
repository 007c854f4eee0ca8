//! The scheduler: claims due jobs from the Postgres job table under a lease and runs them.
//! Any number of bot processes can run it against one database; `FOR UPDATE SKIP LOCKED`
//! keeps them from taking the same job, and a job whose holder died is taken over once its
//! lease runs out. Time comes from the injected clock.

pub mod checkin;
pub mod micro;
pub mod plan;
pub mod recap;
pub mod repair;

use std::sync::Arc;

use poise::serenity_prelude as serenity;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::ids::{AgreementId, ChannelId, CoupleId, JobId, RepairId};
use crate::domain::jobs::{backoff, Job, MAX_ATTEMPTS};
use crate::store::{self, jobs::ClaimedJob};

/// What a job runner needs.
pub struct JobCx {
    pub state: Arc<AppState>,
    pub http: Arc<serenity::Http>,
}

impl JobCx {
    /// Posts with a nonce (a retry returns the first message, never a second one), paced
    /// under Discord's limit; a channel that is gone for good becomes `JobError::Gone`.
    pub async fn post(
        &self,
        couple: CoupleId,
        channel: ChannelId,
        message: serenity::CreateMessage,
        nonce: &str,
    ) -> Result<crate::domain::ids::MessageId, JobError> {
        crate::discord::post::send(&self.http, &self.state.pacer, channel, message, nonce)
            .await
            .map_err(|e| gone(couple, channel, e))
    }
}

/// How a job ended when it did not fail.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Nothing to do (already posted, paused, answered …); the reason is kept on the row.
    Skipped(&'static str),
    /// Found too late to be useful; recorded, not posted.
    Missed,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("channel unreachable (HTTP {status})")]
    Gone {
        couple: CoupleId,
        channel: ChannelId,
        status: u16,
    },
    #[error("{0}")]
    Transient(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<crate::discord::post::PostError> for JobError {
    fn from(e: crate::discord::post::PostError) -> Self {
        JobError::Transient(e.to_string())
    }
}

/// Sorts a failed post: a channel that is gone for good pauses its couple; anything else is
/// retried with back-off.
fn gone(couple: CoupleId, channel: ChannelId, e: crate::discord::post::PostError) -> JobError {
    match e {
        crate::discord::post::PostError::Gone { status } => JobError::Gone {
            couple,
            channel,
            status,
        },
        other => other.into(),
    }
}

pub struct Scheduler {
    cx: JobCx,
    owner: Uuid,
}

impl Scheduler {
    pub fn new(state: Arc<AppState>, http: Arc<serenity::Http>) -> Self {
        Scheduler {
            cx: JobCx { state, http },
            owner: Uuid::new_v4(),
        }
    }

    /// Runs until `stop` turns true; in-flight jobs finish first. Up to `batch_size` jobs
    /// run at once, and freed slots are refilled as jobs finish rather than batch by batch,
    /// so one slow post does not hold up the rest.
    pub fn spawn(self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            tracing::info!(owner = %self.owner, "scheduler started");
            let st = self.cx.state.clone();
            // A job holds a database connection for most of its run: more jobs in flight than
            // connections would only queue on the pool, and leave none for people's clicks.
            let pool_room = (st.config.database.max_connections as usize)
                .saturating_sub(2)
                .max(1);
            let limit = (st.config.scheduler.batch_size.max(1) as usize).min(pool_room);
            let mut inflight = futures::stream::FuturesUnordered::new();
            let mut due_maybe = true;
            let mut last_sweep: Option<chrono::DateTime<chrono::Utc>> = None;
            let mut said_stopping = false;
            loop {
                self.retention_sweep(&mut last_sweep).await;
                let stopping = *stop.borrow();
                if stopping && !said_stopping {
                    said_stopping = true;
                    tracing::info!(owner = %self.owner, in_flight = inflight.len(),
                        "stopped claiming jobs; letting running ones finish");
                }
                if stopping && inflight.is_empty() {
                    break;
                }
                let free = limit - inflight.len().min(limit);
                if !stopping && due_maybe && free >= (limit / 4).max(1) {
                    let claimed = self.claim(free as i64).await;
                    // A full claim means more may be waiting; otherwise wait for a tick.
                    due_maybe = claimed.len() == free;
                    for job in claimed {
                        inflight.push(self.run_one(job));
                    }
                    if due_maybe {
                        continue;
                    }
                }
                let poll = st.config.scheduler.poll_interval;
                tokio::select! {
                    Some(()) = futures::StreamExt::next(&mut inflight), if !inflight.is_empty() => {
                        due_maybe = true;
                    }
                    _ = tokio::time::sleep(poll) => { due_maybe = true; }
                    _ = st.wake.notified() => { due_maybe = true; }
                    _ = stop.changed() => {}
                }
            }
            tracing::info!(owner = %self.owner, "scheduler stopped");
        })
    }

    /// Deletes raw answers past `privacy.retention_days`, at most once an hour of clock time.
    /// Every process may sweep; the deletes are idempotent.
    async fn retention_sweep(&self, last: &mut Option<chrono::DateTime<chrono::Utc>>) {
        let st = &self.cx.state;
        let Some(days) = st.config.privacy.retention_days else {
            return;
        };
        let now = st.clock.now();
        if last.is_some_and(|t| now - t < chrono::Duration::hours(1)) {
            return;
        }
        *last = Some(now);
        let before = now - chrono::Duration::days(i64::from(days));
        match store::privacy::apply_retention(&st.pool, before).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "retention removed old answers"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; will try again"),
        }
    }

    async fn claim(&self, limit: i64) -> Vec<ClaimedJob> {
        let st = &self.cx.state;
        let cfg = &st.config.scheduler;
        let now = st.clock.now();
        match store::jobs::claim(&st.pool, self.owner, now, cfg.lease, limit).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim jobs");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                Vec::new()
            }
        }
    }

    async fn run_one(&self, claimed: ClaimedJob) {
        let st = &self.cx.state;
        let id = claimed.id;
        let Some(job) = claimed.job.clone() else {
            tracing::error!(job_id = %id, "unreadable job payload");
            st.metrics.job("unreadable", "failed");
            self.finish(id, "failed", Some("unreadable payload")).await;
            return;
        };
        st.metrics.job(job.kind(), "claimed");
        let now = st.clock.now();
        let late = now - claimed.due_at > st.config.scheduler.grace;
        let missed = late && job.expires_after_grace();
        let result = match &job {
            Job::CheckinPost {
                couple,
                user,
                slot,
                local_date,
            } => {
                checkin::post(
                    &self.cx,
                    id,
                    CoupleId(*couple),
                    crate::domain::ids::UserId(*user),
                    slot,
                    *local_date,
                    missed,
                )
                .await
            }
            Job::CheckinRemind { checkin, user, .. } => {
                if missed {
                    Ok(Outcome::Missed)
                } else {
                    checkin::remind(
                        &self.cx,
                        id,
                        crate::domain::ids::CheckinId(*checkin),
                        crate::domain::ids::UserId(*user),
                    )
                    .await
                }
            }
            Job::CheckinReveal { checkin, .. } => {
                checkin::reveal(&self.cx, crate::domain::ids::CheckinId(*checkin)).await
            }
            Job::MicroPost {
                couple,
                user,
                local_date,
            } => {
                micro::post(
                    &self.cx,
                    id,
                    CoupleId(*couple),
                    crate::domain::ids::UserId(*user),
                    *local_date,
                    missed,
                )
                .await
            }
            Job::WeeklyRecap {
                couple,
                iso_year,
                iso_week,
            } => match crate::domain::recap::IsoWeek::new(*iso_year, *iso_week) {
                Some(week) => recap::run(&self.cx, id, CoupleId(*couple), week, missed).await,
                None => Ok(Outcome::Skipped("not a real ISO week")),
            },
            Job::RepairReturn {
                repair, version, ..
            } => repair::return_after_break(&self.cx, id, RepairId(*repair), *version).await,
            Job::RepairRemind {
                repair, version, ..
            } => {
                if missed {
                    Ok(Outcome::Missed)
                } else {
                    repair::remind(&self.cx, id, RepairId(*repair), *version).await
                }
            }
            Job::RepairExpire {
                repair, version, ..
            } => repair::expire(&self.cx, id, RepairId(*repair), *version).await,
            Job::AgreementRevisit {
                repair,
                agreement,
                attempt,
                ..
            } => {
                repair::revisit(
                    &self.cx,
                    id,
                    RepairId(*repair),
                    AgreementId(*agreement),
                    *attempt,
                )
                .await
            }
        };
        let couple_id = job.couple();
        match result {
            Ok(Outcome::Done) => {
                tracing::info!(job_id = %id, couple_id = %couple_id, kind = job.kind(), "job done");
                st.metrics.job(job.kind(), "done");
                self.finish(id, "done", None).await;
            }
            Ok(Outcome::Skipped(why)) => {
                tracing::debug!(job_id = %id, couple_id = %couple_id, kind = job.kind(), why, "job skipped");
                st.metrics.job(job.kind(), "skipped");
                self.finish(id, "done", Some(why)).await;
            }
            Ok(Outcome::Missed) => {
                tracing::info!(job_id = %id, couple_id = %couple_id, kind = job.kind(), "job missed its grace window");
                st.metrics.job(job.kind(), "missed");
                self.finish(id, "missed", Some("outside the grace window"))
                    .await;
            }
            Err(JobError::Gone {
                couple,
                channel,
                status,
            }) => {
                tracing::warn!(job_id = %id, couple_id = %couple, channel_id = %channel, status,
                    "channel unreachable; pausing the couple");
                st.metrics.job(job.kind(), "failed");
                if let Err(e) = store::couples::mark_unreachable(&st.pool, couple, now).await {
                    tracing::warn!(couple_id = %couple, error = %e, "could not pause the couple");
                }
                self.finish(id, "failed", Some("channel unreachable")).await;
            }
            Err(e) => {
                let msg = e.to_string();
                if claimed.attempts >= MAX_ATTEMPTS {
                    tracing::error!(job_id = %id, couple_id = %couple_id, error = %msg, "job failed for good");
                    st.metrics.job(job.kind(), "failed");
                    self.finish(id, "failed", Some(&msg)).await;
                } else {
                    let at = now + backoff(claimed.attempts);
                    tracing::warn!(job_id = %id, couple_id = %couple_id, error = %msg, attempt = claimed.attempts, "job will be retried");
                    st.metrics.job(job.kind(), "retried");
                    if let Err(e) = store::jobs::retry(&st.pool, id, self.owner, &msg, at).await {
                        tracing::warn!(job_id = %id, error = %e, "could not reschedule job; its lease will expire");
                    }
                }
            }
        }
    }

    async fn finish(&self, id: JobId, status: &str, note: Option<&str>) {
        let st = &self.cx.state;
        match store::jobs::finish(&st.pool, id, self.owner, status, note, st.clock.now()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job_id = %id, "lost the lease before finishing"),
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "could not finish job; its lease will expire")
            }
        }
    }
}
