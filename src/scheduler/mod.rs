//! The scheduler: claims due jobs from the Postgres job table under a lease, hands each to
//! its flow, delivers what the flow returns through the transport port, and tells the flow
//! what was delivered. Any number of bot processes can run it against one database;
//! `FOR UPDATE SKIP LOCKED` keeps them from taking the same job, and a job whose holder died
//! is taken over once its lease runs out. Time comes from the injected clock.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::domain::couple::Room;
use crate::domain::ids::{CoupleId, JobId};
use crate::domain::jobs::{backoff, MAX_ATTEMPTS};
use crate::flows::jobs::{self as fj, Plan};
use crate::flows::FlowError;
use crate::state::AppState;
use crate::store::{self, jobs::ClaimedJob};
use crate::transport::{PostError, Transports};

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("room unreachable ({error})")]
    Gone { room: Room, error: PostError },
    #[error("{0}")]
    Transient(String),
}

impl From<FlowError> for JobError {
    fn from(e: FlowError) -> Self {
        // Never the error's text for refusals: they are not expected here and may quote input.
        JobError::Transient(match e {
            FlowError::Refused(r) => format!("refused: {}", r.key.name),
            other => format!("{other:#}"),
        })
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Transient(format!("database: {e}"))
    }
}

pub struct Scheduler {
    state: Arc<AppState>,
    transports: Transports,
    owner: Uuid,
}

impl Scheduler {
    pub fn new(state: Arc<AppState>, transports: Transports) -> Self {
        Scheduler {
            state,
            transports,
            owner: Uuid::new_v4(),
        }
    }

    /// Runs until `stop` turns true; in-flight jobs finish first. Up to `batch_size` jobs
    /// run at once, and freed slots are refilled as jobs finish rather than batch by batch,
    /// so one slow post does not hold up the rest.
    pub fn spawn(self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            tracing::info!(owner = %self.owner, "scheduler started");
            let st = self.state.clone();
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
        let st = &self.state;
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
        let st = &self.state;
        let cfg = &st.config.scheduler;
        let now = st.clock.now();
        let kinds: Vec<&str> = crate::domain::ids::TransportKind::ALL
            .into_iter()
            .filter(|k| self.transports.get(*k).is_some())
            .map(|k| k.as_str())
            .collect();
        match store::jobs::claim(&st.pool, self.owner, now, cfg.lease(), limit, &kinds).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim jobs");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                Vec::new()
            }
        }
    }

    /// Prepares, delivers and records one job.
    async fn deliver(
        &self,
        claimed: &ClaimedJob,
        job: &crate::domain::jobs::Job,
        missed: bool,
    ) -> Result<Plan, JobError> {
        let st = &self.state;
        let plan = fj::prepare(st, &self.transports, claimed.id, job, missed).await?;
        let Plan::Deliver(d) = plan else {
            return Ok(plan);
        };
        let Some(transport) = self.transports.get(d.room.transport) else {
            return Err(JobError::Transient("no transport for this room".into()));
        };
        let message = match transport.post(&d.room, &d.card, &d.key).await {
            Ok(m) => m,
            Err(e @ (PostError::Gone { .. } | PostError::Forbidden { .. })) => {
                return Err(JobError::Gone {
                    room: d.room.clone(),
                    error: e,
                })
            }
            Err(e) => return Err(JobError::Transient(e.to_string())),
        };
        fj::record(st, &d.record, &message).await?;
        Ok(Plan::Deliver(d))
    }

    async fn run_one(&self, claimed: ClaimedJob) {
        let st = &self.state;
        let id = claimed.id;
        let Some(job) = claimed.job.clone() else {
            tracing::error!(job_id = %id, "unreadable job payload");
            st.metrics.job("unreadable", "failed");
            self.finish(id, "failed", Some("unreadable payload")).await;
            return;
        };
        st.metrics.job(job.kind(), "claimed");
        let now = st.clock.now();
        let late = now - claimed.due_at > st.config.scheduler.grace();
        let missed = late && job.expires_after_grace();
        let couple_id: CoupleId = job.couple();
        match self.deliver(&claimed, &job, missed).await {
            Ok(Plan::Deliver(_)) => {
                tracing::info!(job_id = %id, couple_id = %couple_id, kind = job.kind(), "job done");
                st.metrics.job(job.kind(), "done");
                self.finish(id, "done", None).await;
            }
            Ok(Plan::Skipped(why)) => {
                tracing::debug!(job_id = %id, couple_id = %couple_id, kind = job.kind(), why, "job skipped");
                st.metrics.job(job.kind(), "skipped");
                self.finish(id, "done", Some(why)).await;
            }
            Ok(Plan::Missed) => {
                tracing::info!(job_id = %id, couple_id = %couple_id, kind = job.kind(), "job missed its grace window");
                st.metrics.job(job.kind(), "missed");
                self.finish(id, "missed", Some("outside the grace window"))
                    .await;
            }
            Err(JobError::Gone { room, error }) => {
                tracing::warn!(job_id = %id, couple_id = %couple_id, room_id = %room.id, %error,
                    "room unreachable; pausing the couple");
                st.metrics.job(job.kind(), "failed");
                if let Err(e) = store::couples::mark_unreachable(&st.pool, couple_id, now).await {
                    tracing::warn!(couple_id = %couple_id, error = %e, "could not pause the couple");
                }
                self.finish(id, "failed", Some("room unreachable")).await;
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
        let st = &self.state;
        match store::jobs::finish(&st.pool, id, self.owner, status, note, st.clock.now()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job_id = %id, "lost the lease before finishing"),
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "could not finish job; its lease will expire")
            }
        }
    }
}
