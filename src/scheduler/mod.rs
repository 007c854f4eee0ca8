//! The scheduler: claims due jobs from the Postgres job table under a lease, hands each to
//! its flow, delivers what the flow returns through the transport port, and tells the flow
//! what was delivered. Any number of bot processes can run it against one database.
//!
//! What it promises, as trusted job queues do:
//! - **Nothing dropped.** A job that fails is retried with capped back-off until it succeeds
//!   or stops mattering (found past its grace window it is recorded as missed; a reveal never
//!   stops mattering). A platform's "retry after" is waited out as asked.
//! - **Never twice at once.** Each claim gets its own attempt token; a running job renews
//!   its lease (a heartbeat), and only the claim that holds the token can renew, finish or
//!   retry it. An attempt that lost its lease stops. Every attempt has an overall deadline.
//! - **One clock.** What is due and whose lease has run out are decided by the shared clock
//!   (the database's; a stage's simulated one), never by a process's own.
//! - **Once, even past the platform's deduplication.** Before handing a delivery over, the
//!   attempt notes it on the row; a later attempt that finds the note older than the
//!   platform's nonce window first looks for the message among the room's recent ones.
//! - **Errors by meaning.** A missing permission for an attachment posts without it; a room
//!   that refuses the bot pauses its couple; refused credentials stop the process.
//! - **Shared limits, a supervised loop.** Posts are paced under one budget per token shared
//!   through Postgres; a panic in a job is caught, logged and retried; the retention sweep
//!   runs beside the claim loop, in batches; [`Liveness`] tells `/readyz` when the loop stops
//!   claiming.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::domain::couple::Room;
use crate::domain::ids::{CoupleId, MessageRef, TransportKind};
use crate::domain::jobs::{retry_delay, Job, MAX_ATTEMPTS};
use crate::flows::jobs::{self as fj, Plan};
use crate::flows::FlowError;
use crate::state::AppState;
use crate::store::jobs::{ClaimedJob, SentMark};
use crate::store::{self};
use crate::transport::{Card, PostError, Transport, Transports};

/// How long we trust a platform to deduplicate a re-sent post by its key. Discord documents
/// "a few minutes" for `enforce_nonce`; past this, an attempt looks for the earlier message.
pub const NONCE_TRUST: chrono::Duration = chrono::Duration::minutes(2);

/// How far before the first send an earlier message may be dated: the platform's clock and
/// the database's may differ a little.
const FIND_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// The process must stop: the platform refused its credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

/// Why an attempt did not finish.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("room unreachable ({error})")]
    Gone {
        room: Room,
        error: PostError,
        prior: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("rate limited for {wait:?}")]
    RateLimited {
        wait: Duration,
        prior: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("the platform refused the bot's credentials")]
    Unauthorised {
        prior: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("lost the lease")]
    LeaseLost,
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

/// What an attempt ended with.
enum Outcome {
    Ran(Result<Plan, JobError>),
    Panicked,
    TimedOut,
    LeaseLost,
}

#[derive(Debug, Clone, PartialEq)]
enum LoopState {
    Running,
    Stopping,
    Stopped,
    Fatal(String),
}

struct Live {
    state: LoopState,
    /// The last time the claim loop went round (claimed, or had nothing to claim).
    tick: Instant,
    /// Why the last claim failed, until one succeeds again.
    claim_error: Option<String>,
}

/// How the claim loop is doing: `/readyz` asks it (through [`crate::ops::Readiness`]), and
/// tests count its claims to know it went round.
pub struct Liveness {
    live: Mutex<Live>,
    claims: AtomicU64,
    stale_after: Duration,
}

impl Liveness {
    fn new(poll: Duration) -> Liveness {
        Liveness {
            live: Mutex::new(Live {
                state: LoopState::Running,
                tick: Instant::now(),
                claim_error: None,
            }),
            claims: AtomicU64::new(0),
            // The loop wakes at least every poll; a claim may wait for the pool (2 s) and a
            // lock (2 s). Much longer than that without going round, it is stuck.
            stale_after: (poll * 10).max(Duration::from_secs(30)),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claim queries that succeeded so far (whether or not they found work).
    pub fn claims(&self) -> u64 {
        self.claims.load(Ordering::SeqCst)
    }

    /// Why the process must stop, if the platform refused its credentials.
    pub fn fatal(&self) -> Option<String> {
        match &self.live().state {
            LoopState::Fatal(m) => Some(m.clone()),
            _ => None,
        }
    }

    fn set(&self, state: LoopState) {
        let mut l = self.live();
        if !matches!(l.state, LoopState::Fatal(_)) {
            l.state = state;
        }
    }

    fn tick(&self) {
        self.live().tick = Instant::now();
    }

    fn claimed(&self, result: Result<(), String>) {
        let ok = result.is_ok();
        {
            let mut l = self.live();
            l.tick = Instant::now();
            l.claim_error = result.err();
        }
        if ok {
            self.claims.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl crate::ops::Readiness for Liveness {
    async fn ready(&self) -> Result<(), String> {
        let l = self.live();
        match &l.state {
            LoopState::Fatal(m) => return Err(format!("scheduler: stopped: {m}")),
            LoopState::Stopped => return Err("scheduler: stopped".into()),
            LoopState::Stopping => return Err("scheduler: stopping".into()),
            LoopState::Running => {}
        }
        if let Some(e) = &l.claim_error {
            return Err(format!("scheduler: cannot claim jobs ({e})"));
        }
        let idle = l.tick.elapsed();
        if idle > self.stale_after {
            return Err(format!(
                "scheduler: has not claimed for {} s",
                idle.as_secs()
            ));
        }
        Ok(())
    }
}

pub struct Scheduler {
    state: Arc<AppState>,
    transports: Transports,
    owner: Uuid,
    liveness: Arc<Liveness>,
    /// Jobs this process is running now: its own claims never take them again.
    running: Mutex<HashSet<Uuid>>,
}

impl Scheduler {
    pub fn new(state: Arc<AppState>, transports: Transports) -> Self {
        let poll = state.config.scheduler.poll_interval;
        Scheduler {
            state,
            transports,
            owner: Uuid::new_v4(),
            liveness: Arc::new(Liveness::new(poll)),
            running: Mutex::new(HashSet::new()),
        }
    }

    /// The loop's health, for `/readyz`.
    pub fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
    }

    /// Runs until `stop` turns true; in-flight jobs finish first. Up to `batch_size` jobs
    /// run at once, and freed slots are refilled as jobs finish rather than batch by batch,
    /// so one slow post does not hold up the rest. Ends with [`Fatal`] when the platform
    /// refused the bot's credentials (nothing can work until the host fixes them).
    /// The retention sweep runs in a task of its own beside the loop.
    pub fn spawn(self, stop: watch::Receiver<bool>) -> JoinHandle<Result<(), Fatal>> {
        let sweeper = tokio::spawn(retention_loop(self.state.clone(), stop.clone()));
        let me = Arc::new(self);
        tokio::spawn(async move {
            let result = me.clone().claim_loop(stop).await;
            if result.is_err() {
                // The process is stopping for good without a stop signal: end the sweep
                // too (a batch cut short rolls back).
                sweeper.abort();
            }
            let _ = sweeper.await;
            me.liveness.set(LoopState::Stopped);
            result
        })
    }

    async fn claim_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) -> Result<(), Fatal> {
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
        let mut said_stopping = false;
        let mut fatal: Option<Fatal> = None;
        loop {
            let stopping = *stop.borrow() || fatal.is_some();
            if stopping && !said_stopping {
                said_stopping = true;
                self.liveness.set(LoopState::Stopping);
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
                    inflight.push(self.clone().run_one(job));
                }
                if due_maybe {
                    continue;
                }
            } else {
                self.liveness.tick();
            }
            let poll = st.config.scheduler.poll_interval;
            tokio::select! {
                Some(f) = futures::StreamExt::next(&mut inflight), if !inflight.is_empty() => {
                    due_maybe = true;
                    if let (Some(f), None) = (f, &fatal) {
                        self.liveness.set(LoopState::Fatal(f.0.clone()));
                        fatal = Some(f);
                    }
                }
                _ = tokio::time::sleep(poll) => { due_maybe = true; }
                _ = st.wake.notified() => { due_maybe = true; }
                _ = stop.changed() => {}
            }
        }
        tracing::info!(owner = %self.owner, "scheduler stopped");
        fatal.map_or(Ok(()), Err)
    }

    async fn claim(&self, limit: i64) -> Vec<ClaimedJob> {
        let st = &self.state;
        let cfg = &st.config.scheduler;
        let kinds: Vec<&str> = TransportKind::ALL
            .into_iter()
            .filter(|k| self.transports.get(*k).is_some())
            .map(|k| k.as_str())
            .collect();
        let running: Vec<Uuid> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        let result = store::jobs::claim(
            &st.pool,
            self.owner,
            st.clock.shared(),
            cfg.lease(),
            limit,
            &kinds,
            &running,
        )
        .await;
        match result {
            Ok(b) => {
                self.liveness.claimed(Ok(()));
                b
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not claim jobs");
                self.liveness.claimed(Err(short_db_error(&e)));
                tokio::time::sleep(Duration::from_millis(500)).await;
                Vec::new()
            }
        }
    }

    /// Runs one claimed job to its end, whatever happens inside it. Returns why the process
    /// must stop, if it must.
    async fn run_one(self: Arc<Self>, claimed: ClaimedJob) -> Option<Fatal> {
        let id = claimed.id;
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.0);
        let fatal = self.attempt(&claimed).await;
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.0);
        fatal
    }

    async fn attempt(&self, claimed: &ClaimedJob) -> Option<Fatal> {
        let st = &self.state;
        let cfg = &st.config.scheduler;
        let id = claimed.id;
        let Some(job) = claimed.job.clone() else {
            tracing::error!(job_id = %id, "unreadable job payload");
            st.metrics.job("unreadable", "failed");
            self.finish(claimed, "failed", Some("unreadable payload"))
                .await;
            return None;
        };
        st.metrics.job(job.kind(), "claimed");
        let late = claimed.claimed_at - claimed.due_at > cfg.grace();
        let missed = late && job.expires_after_grace();
        // The attempt runs under its deadline, with its panics caught, while its lease is
        // renewed beside it; losing the lease ends it at once.
        let work = AssertUnwindSafe(self.deliver(claimed, &job, missed)).catch_unwind();
        let outcome = tokio::select! {
            r = tokio::time::timeout(cfg.job_timeout, work) => match r {
                Ok(Ok(r)) => Outcome::Ran(r),
                Ok(Err(_)) => Outcome::Panicked,
                Err(_) => Outcome::TimedOut,
            },
            () = self.heartbeat(claimed) => Outcome::LeaseLost,
        };
        self.conclude(claimed, &job, outcome).await
    }

    /// Renews the lease while the job runs: every third of the lease, by the process's clock
    /// or by real time, whichever moved more. Returns when the lease was lost.
    async fn heartbeat(&self, claimed: &ClaimedJob) {
        let st = &self.state;
        let cfg = &st.config.scheduler;
        let third = cfg.lease / 3;
        let tick = cfg.poll_interval.min(third).max(Duration::from_millis(10));
        let (mut real, mut clock) = (Instant::now(), st.clock.now());
        loop {
            tokio::time::sleep(tick).await;
            let by_clock = (st.clock.now() - clock).to_std().unwrap_or_default();
            if real.elapsed().max(by_clock) < third {
                continue;
            }
            match store::jobs::renew(
                &st.pool,
                claimed.id,
                claimed.token,
                st.clock.shared(),
                cfg.lease(),
            )
            .await
            {
                Ok(true) => (real, clock) = (Instant::now(), st.clock.now()),
                Ok(false) => {
                    tracing::warn!(job_id = %claimed.id, "lease lost while running; stopping this attempt");
                    return;
                }
                // The lease still runs for a while; try again at the next tick.
                Err(e) => {
                    tracing::warn!(job_id = %claimed.id, error = %e, "could not renew the lease")
                }
            }
        }
    }

    /// Prepares, delivers and records one job.
    async fn deliver(
        &self,
        claimed: &ClaimedJob,
        job: &Job,
        missed: bool,
    ) -> Result<Plan, JobError> {
        let st = &self.state;
        let plan = fj::prepare(
            st,
            &self.transports,
            claimed.id,
            claimed.token,
            job,
            missed,
            claimed.claimed_at,
        )
        .await?;
        let Plan::Deliver(d) = plan else {
            return Ok(plan);
        };
        let Some(transport) = self.transports.get(d.room.transport) else {
            return Err(JobError::Transient("no transport for this room".into()));
        };
        let couple_id = Shown(job.couple());
        // An earlier attempt may have posted without being recorded. Within the platform's
        // nonce window a re-send returns that message; past it, look for it first.
        let mut prior = claimed.sent_at;
        let mut fresh = false;
        if let (Some(sent), None) = (claimed.sent_at, &d.to) {
            // Only a room is looked through; a private message relies on its key.
            if claimed.claimed_at - sent >= NONCE_TRUST {
                match transport
                    .find_recent(&d.room, &d.card, &d.key, sent - FIND_MARGIN)
                    .await
                {
                    Ok(Some(message)) => {
                        tracing::info!(job_id = %claimed.id, couple_id = %couple_id,
                            "found the message an earlier attempt posted; not sending again");
                        return self.record(claimed, d, &message).await;
                    }
                    Ok(None) => {
                        prior = None;
                        fresh = true;
                    }
                    Err(PostError::Forbidden { status }) => {
                        // Without Read Message History the bot cannot look. Losing the post
                        // would be worse than a rare repeat: send, and tell the host.
                        tracing::warn!(job_id = %claimed.id, couple_id = %couple_id, status,
                            "cannot read this room's recent messages (grant Read Message History); sending again unchecked");
                    }
                    Err(e) => return Err(sort(e, &d.room, claimed.sent_at)),
                }
            }
        }
        self.pace(transport).await;
        // The flow may have noted the send in its own transaction; a fresh mark (the earlier
        // attempt was looked for and not found) restarts it.
        if (!d.marked || fresh)
            && !store::jobs::mark_sending(
                &st.pool,
                claimed.id,
                claimed.token,
                st.clock.shared(),
                fresh,
            )
            .await?
        {
            return Err(JobError::LeaseLost);
        }
        let message = match send(transport, &d, &d.card).await {
            Ok(m) => m,
            Err(PostError::Forbidden { status })
                if d.card.image.is_some() || d.card.file.is_some() =>
            {
                // One missing permission (Attach Files, say) costs the attachment, not the
                // post: the couple still gets their recap, without its chart.
                tracing::warn!(job_id = %claimed.id, couple_id = %couple_id, kind = job.kind(), status,
                    "the bot may not attach files in this room; posting without the attachment (grant Attach Files to restore it)");
                let mut plain = d.card.clone();
                plain.image = None;
                plain.file = None;
                match send(transport, &d, &plain).await {
                    Ok(m) => m,
                    Err(e) => return Err(sort(e, &d.room, prior)),
                }
            }
            Err(e) => return Err(sort(e, &d.room, prior)),
        };
        self.record(claimed, d, &message).await
    }

    /// Keeps what was delivered and finishes the job, in one statement where it can.
    async fn record(
        &self,
        claimed: &ClaimedJob,
        d: Box<fj::Delivery>,
        message: &crate::domain::ids::MessageRef,
    ) -> Result<Plan, JobError> {
        if fj::record_and_finish(&self.state, &d.record, message, claimed.id, claimed.token).await?
        {
            Ok(Plan::Deliver(d))
        } else {
            Err(JobError::LeaseLost)
        }
    }

    /// Waits for this post's turn under the token's budget, shared by every process through
    /// Postgres; without the database, the transport's own pacing still holds.
    async fn pace(&self, transport: &dyn Transport) {
        let st = &self.state;
        let per_second = st.config.scheduler.max_posts_per_second;
        if per_second == 0 {
            return;
        }
        let step = Duration::from_secs_f64(1.0 / f64::from(per_second));
        match store::pacing::take_slot(&st.pool, transport.kind().as_str(), step).await {
            Ok(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "shared pacing unavailable; pacing locally"),
        }
    }

    async fn conclude(&self, claimed: &ClaimedJob, job: &Job, outcome: Outcome) -> Option<Fatal> {
        let st = &self.state;
        let id = claimed.id;
        let kind = job.kind();
        let couple = job.couple();
        let couple_id = Shown(couple);
        let attempt = claimed.attempts;
        let (error, mark, wait) = match outcome {
            Outcome::Ran(Ok(Plan::Deliver(_))) => {
                // Delivered, recorded and finished by `record`.
                tracing::info!(job_id = %id, couple_id = %couple_id, kind, "job done");
                st.metrics.job(kind, "done");
                return None;
            }
            Outcome::Ran(Ok(Plan::Skipped(why))) => {
                tracing::debug!(job_id = %id, couple_id = %couple_id, kind, why, "job skipped");
                st.metrics.job(kind, "skipped");
                self.finish(claimed, "done", Some(why)).await;
                return None;
            }
            Outcome::Ran(Ok(Plan::Missed)) => {
                tracing::info!(job_id = %id, couple_id = %couple_id, kind, "job missed its grace window");
                st.metrics.job(kind, "missed");
                self.finish(claimed, "missed", Some("outside the grace window"))
                    .await;
                return None;
            }
            Outcome::Ran(Ok(Plan::Later(why))) => {
                tracing::debug!(job_id = %id, couple_id = %couple_id, kind, why, "job waits");
                st.metrics.job(kind, "waiting");
                (why.to_string(), SentMark::Keep, None)
            }
            Outcome::Ran(Err(JobError::LeaseLost))
            | Outcome::Ran(Ok(Plan::Superseded))
            | Outcome::LeaseLost => {
                // Another claim holds the job now; it is that claim's to finish.
                tracing::warn!(job_id = %id, couple_id = %couple_id, kind, "lost the lease; leaving the job to its new holder");
                return None;
            }
            Outcome::Ran(Err(JobError::Gone { error, .. })) if couple.is_none() => {
                // A person's erasure is done; only the word that it is could not reach them
                // (they take no direct messages, say). Nothing is left to retry for.
                tracing::warn!(job_id = %id, kind, %error,
                    "could not tell a person their erasure is done; it is done all the same");
                st.metrics.job(kind, "done");
                match store::jobs::finish_by_deleting(&st.pool, id, claimed.token).await {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(job_id = %id, error = %e, "could not end the job; its lease will expire")
                    }
                }
                return None;
            }
            Outcome::Ran(Err(JobError::Gone { room, error, prior })) => {
                tracing::warn!(job_id = %id, couple_id = %couple_id, room_id = %room.id, %error,
                    "the room refused the bot; pausing the couple until someone runs /attune resume");
                st.metrics.job(kind, "unreachable");
                let paused = match couple {
                    Some(c) => store::couples::mark_unreachable(&st.pool, c, st.clock.now()).await,
                    None => Ok(()),
                };
                if let Err(e) = paused {
                    tracing::warn!(couple_id = %couple_id, error = %e, "could not pause the couple");
                }
                // The next attempt finds the couple paused: a post is skipped, a reveal waits.
                (error.to_string(), SentMark::Set(prior), None)
            }
            Outcome::Ran(Err(JobError::RateLimited { wait, prior })) => {
                tracing::info!(job_id = %id, couple_id = %couple_id, kind, wait_ms = wait.as_millis() as u64,
                    "rate limited; trying again when the platform asked");
                st.metrics.job(kind, "rate_limited");
                (
                    format!("rate limited for {wait:?}"),
                    SentMark::Set(prior),
                    Some(wait),
                )
            }
            Outcome::Ran(Err(JobError::Unauthorised { prior })) => {
                let why = "Discord refused the bot token (401 Unauthorized): reset it in the \
                           developer portal (Bot → Reset Token) and set discord.token; stopping";
                tracing::error!(job_id = %id, "{why}");
                st.metrics.job(kind, "retried");
                self.retry(claimed, "unauthorised", SentMark::Set(prior), None)
                    .await;
                return Some(Fatal(why.to_string()));
            }
            Outcome::Ran(Err(JobError::Transient(msg))) => {
                if attempt >= MAX_ATTEMPTS {
                    tracing::error!(job_id = %id, couple_id = %couple_id, kind, error = %msg, attempt,
                        "job keeps failing; still retrying");
                } else {
                    tracing::warn!(job_id = %id, couple_id = %couple_id, kind, error = %msg, attempt,
                        "job will be retried");
                }
                (msg, SentMark::Keep, None)
            }
            Outcome::Panicked => {
                tracing::error!(job_id = %id, couple_id = %couple_id, kind, attempt,
                    "job panicked (see the panic above); it will be retried");
                ("panicked".to_string(), SentMark::Keep, None)
            }
            Outcome::TimedOut => {
                tracing::warn!(job_id = %id, couple_id = %couple_id, kind, attempt,
                    timeout_s = st.config.scheduler.job_timeout.as_secs(), "job ran past its deadline; abandoned");
                ("ran past its deadline".to_string(), SentMark::Keep, None)
            }
        };
        st.metrics.job(kind, "retried");
        self.retry(claimed, &error, mark, wait).await;
        None
    }

    async fn retry(
        &self,
        claimed: &ClaimedJob,
        error: &str,
        mark: SentMark,
        rate_limited: Option<Duration>,
    ) {
        let st = &self.state;
        let after = retry_delay(claimed.attempts, rate_limited);
        match store::jobs::retry(
            &st.pool,
            claimed.id,
            claimed.token,
            error,
            st.clock.shared(),
            after,
            mark,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job_id = %claimed.id, "lost the lease before rescheduling"),
            Err(e) => {
                tracing::warn!(job_id = %claimed.id, error = %e, "could not reschedule job; its lease will expire")
            }
        }
    }

    async fn finish(&self, claimed: &ClaimedJob, status: &str, note: Option<&str>) {
        let st = &self.state;
        match store::jobs::finish(
            &st.pool,
            claimed.id,
            claimed.token,
            status,
            note,
            st.clock.shared(),
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job_id = %claimed.id, "lost the lease before finishing"),
            Err(e) => {
                tracing::warn!(job_id = %claimed.id, error = %e, "could not finish job; its lease will expire")
            }
        }
    }
}

/// Hands a delivery to the transport: to one person, or into the room.
async fn send(
    transport: &dyn Transport,
    d: &fj::Delivery,
    card: &Card,
) -> Result<MessageRef, PostError> {
    match &d.to {
        Some(person) => transport.post_private(&d.room, person, card, &d.key).await,
        None => transport.post(&d.room, card, &d.key).await,
    }
}

/// A job's couple in a log line (an erasure has none).
struct Shown(Option<CoupleId>);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(c) => c.fmt(f),
            None => f.write_str("none"),
        }
    }
}

/// Sorts a post's failure by what it means for the job. `prior` is the "may have been
/// sent" mark to keep when the platform said for sure that this attempt posted nothing.
fn sort(e: PostError, room: &Room, prior: Option<chrono::DateTime<chrono::Utc>>) -> JobError {
    match e {
        PostError::Gone { .. } | PostError::Forbidden { .. } => JobError::Gone {
            room: room.clone(),
            error: e,
            prior,
        },
        PostError::RateLimited { retry_after } => JobError::RateLimited {
            wait: retry_after,
            prior,
        },
        PostError::Unauthorised => JobError::Unauthorised { prior },
        PostError::Transient(msg) => JobError::Transient(msg),
    }
}

/// A database error in a few words, for `/readyz` (never a query or its values).
fn short_db_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) if code == "55P03" => "a lock is held elsewhere".into(),
            Some(code) => format!("database error {code}"),
            None => "database error".into(),
        },
        sqlx::Error::PoolTimedOut => "no database connection".into(),
        _ => "database unreachable".into(),
    }
}

/// Deletes raw answers past `privacy.retention_days` (when set) and finished jobs past
/// `scheduler.keep_finished_days`, at most once an hour of clock time, in batches, in a task
/// of its own: a slow sweep (a big backlog, a row someone is changing) never holds up the
/// claim loop. Every process may sweep; the deletes are idempotent.
async fn retention_loop(st: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let mut last: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let now = st.clock.now();
        if last.is_none_or(|t| now - t >= chrono::Duration::hours(1)) {
            last = Some(now);
            if let Some(days) = st.config.privacy.retention_days {
                let before = now - chrono::Duration::days(i64::from(days));
                let Some(removed) = in_batches(&stop, "retention sweep", || {
                    store::privacy::apply_retention_batch(
                        &st.pool,
                        before,
                        store::privacy::RETENTION_BATCH,
                    )
                })
                .await
                else {
                    return;
                };
                if removed > 0 {
                    tracing::info!(rows = removed, "retention removed old answers");
                }
            }
            let days = st.config.scheduler.keep_finished_days;
            let before = now - chrono::Duration::days(i64::from(days));
            let Some(pruned) = in_batches(&stop, "pruning finished jobs", || {
                store::jobs::prune_finished(&st.pool, before, store::jobs::PRUNE_BATCH)
            })
            .await
            else {
                return;
            };
            if pruned > 0 {
                tracing::info!(jobs = pruned, "pruned finished jobs");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(st.config.scheduler.poll_interval) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Runs `batch` until it removes nothing (or fails: logged, tried again at the next sweep),
/// letting everything else have the database between batches. Returns the rows removed, or
/// `None` when asked to stop.
async fn in_batches<F, Fut>(stop: &watch::Receiver<bool>, what: &str, mut batch: F) -> Option<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<u64>>,
{
    let mut removed = 0;
    loop {
        match batch().await {
            Ok(0) => return Some(removed),
            Ok(n) => removed += n,
            Err(e) => {
                tracing::warn!(error = %e, "{what} failed; will try again");
                return Some(removed);
            }
        }
        if *stop.borrow() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
