//! The job table: idempotent scheduling, claiming with `FOR UPDATE SKIP LOCKED` under a
//! lease decided by the shared clock, heartbeats, and completion that only the claim holding
//! the attempt token can perform.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::ids::{CoupleId, JobId, PersonId};
use crate::domain::jobs::Job;

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub job: Option<Job>,
    /// When the job was first due (retries move `due_at`, not this).
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    /// This claim's attempt token: only it can renew, finish or retry the job.
    pub token: Uuid,
    /// The shared time of the claim (the database's clock; a stage's simulated clock).
    pub claimed_at: DateTime<Utc>,
    /// Set when an earlier attempt may have reached the platform without being recorded.
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    payload: serde_json::Value,
    due_at: DateTime<Utc>,
    attempts: i32,
    lease_token: Uuid,
    claimed_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// Schedules a job. An existing pending or cancelled job with the same key is moved to the
/// new time; one that already ran is left alone, so a day can never be posted twice.
/// Returns false in that last case.
pub async fn schedule(
    ex: impl PgExecutor<'_>,
    job: &Job,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "insert into jobs (id, kind, couple_id, person_id, dedupe_key, due_at, payload, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (dedupe_key) do update
            set due_at = excluded.due_at, status = 'pending', attempts = 0, last_error = null,
                first_due_at = null
            where jobs.status in ('pending', 'cancelled')",
    )
    .bind(Uuid::new_v4())
    .bind(job.kind())
    .bind(job.couple().map(|c| c.0))
    .bind(job.user().map(|u| u.0))
    .bind(job.dedupe_key())
    .bind(due_at)
    .bind(serde_json::to_value(job).expect("jobs serialise"))
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Jobs to schedule inside another statement (see `checkins::write_post`): their columns
/// side by side, for `unnest`.
#[derive(Debug, Default)]
pub struct JobRows {
    pub(super) ids: Vec<Uuid>,
    pub(super) kinds: Vec<&'static str>,
    pub(super) couples: Vec<Option<Uuid>>,
    pub(super) persons: Vec<Option<Uuid>>,
    pub(super) keys: Vec<String>,
    pub(super) due: Vec<DateTime<Utc>>,
    pub(super) payloads: Vec<serde_json::Value>,
}

impl JobRows {
    pub fn push(&mut self, job: &Job, due_at: DateTime<Utc>) {
        self.ids.push(Uuid::new_v4());
        self.kinds.push(job.kind());
        self.couples.push(job.couple().map(|c| c.0));
        self.persons.push(job.user().map(|u| u.0));
        self.keys.push(job.dedupe_key());
        self.due.push(due_at);
        self.payloads
            .push(serde_json::to_value(job).expect("jobs serialise"));
    }
}

/// Schedules a job only if none with its key exists yet (never moves an existing one).
pub async fn schedule_once(
    ex: impl PgExecutor<'_>,
    job: &Job,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into jobs (id, kind, couple_id, person_id, dedupe_key, due_at, payload, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (dedupe_key) do nothing",
    )
    .bind(Uuid::new_v4())
    .bind(job.kind())
    .bind(job.couple().map(|c| c.0))
    .bind(job.user().map(|u| u.0))
    .bind(job.dedupe_key())
    .bind(due_at)
    .bind(serde_json::to_value(job).expect("jobs serialise"))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Brings a pending job forward to `at` (used to reveal as soon as both have answered).
pub async fn bring_forward(
    ex: impl PgExecutor<'_>,
    dedupe_key: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set due_at = least(due_at, $2) where dedupe_key = $1 and status = 'pending'",
    )
    .bind(dedupe_key)
    .bind(at)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Cancels the pending job with this key, if any (a follow-up made needless).
pub async fn cancel_by_key(ex: impl PgExecutor<'_>, dedupe_key: &str) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set status = 'cancelled' where dedupe_key = $1 and status = 'pending'",
    )
    .bind(dedupe_key)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Cancels a partner's pending jobs of one kind in a couple (before re-planning them).
pub async fn cancel_pending(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    user: Option<PersonId>,
    kind: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update jobs set status = 'cancelled'
         where couple_id = $1 and ($2::uuid is null or person_id = $2) and kind = $3 and status = 'pending'",
    )
    .bind(couple.0)
    .bind(user.map(|u| u.0))
    .bind(kind)
    .execute(ex)
    .await?
    .rows_affected())
}

/// Claims up to `limit` due jobs for `owner`: pending ones whose time has come, and running
/// ones whose lease ran out (their holder died or lost touch). `now` is the shared time to
/// decide by: `None` is the database's own clock (production), so processes whose clocks
/// differ agree on what is due and whose lease has run out; a stage passes its simulated
/// clock. Jobs in `running_here` are never taken (this process is running them).
/// Only jobs of couples that live on one of `transports` are claimed: a process serving
/// Matrix alone leaves Discord's jobs to the processes that serve it.
#[allow(clippy::too_many_arguments)]
pub async fn claim(
    ex: impl PgExecutor<'_>,
    owner: Uuid,
    now: Option<DateTime<Utc>>,
    lease: Duration,
    limit: i64,
    transports: &[&str],
    running_here: &[Uuid],
) -> sqlx::Result<Vec<ClaimedJob>> {
    // Candidates come from the two partial indexes in their own order (pending by due time,
    // running by lease end), a window a few times larger than asked for, so a claim reads a
    // handful of rows however large a backlog is: one query with an `or`, or the transport
    // check as a join, reads and sorts every due job on every claim (the planner picks a hash
    // join on the statistics a burst leaves); a lookup per candidate does not. The window is
    // taken before the transport check: a process serving one transport behind a larger
    // backlog of the other claims less until that backlog drains. The lock re-checks each
    // row: another process may have claimed it since. A job of no couple (an erasure) names
    // its transport in its payload.
    let rows: Vec<Row> = sqlx::query_as(
        "with t as (select coalesce($2::timestamptz, now()) as now),
         cand as (
            (select p.id from (
                select j.id, j.couple_id, j.payload from jobs j, t
                 where j.status = 'pending' and j.due_at <= t.now and not (j.id = any($6))
                 order by j.due_at
                 limit $7) p
              where (case when p.couple_id is null then p.payload->>'transport'
                          else (select r.transport from couples c join rooms r on r.id = c.room_id
                                 where c.id = p.couple_id) end) = any($5))
            union all
            (select p.id from (
                select j.id, j.couple_id, j.payload from jobs j, t
                 where j.status = 'running' and j.lease_until < t.now and not (j.id = any($6))
                 order by j.lease_until
                 limit $7) p
              where (case when p.couple_id is null then p.payload->>'transport'
                          else (select r.transport from couples c join rooms r on r.id = c.room_id
                                 where c.id = p.couple_id) end) = any($5))
         ),
         due as (
            select j.id from jobs j, t
            where j.id in (select id from cand)
              and ((j.status = 'pending' and j.due_at <= t.now)
                or (j.status = 'running' and j.lease_until < t.now))
            order by j.due_at
            limit $4
            for update of j skip locked
         )
         update jobs j
            set status = 'running', lease_owner = $1, lease_token = gen_random_uuid(),
                lease_until = t.now + $3, attempts = j.attempts + 1
           from due, t
          where j.id = due.id
         returning j.id, j.payload, coalesce(j.first_due_at, j.due_at) as due_at, j.attempts,
                   j.lease_token, t.now as claimed_at, j.sent_at",
    )
    .bind(owner)
    .bind(now)
    .bind(lease)
    .bind(limit)
    .bind(transports)
    .bind(running_here)
    // Room for rows another process holds locked right now (skipped).
    .bind(limit * 4 + 64)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ClaimedJob {
            id: JobId(r.id),
            job: serde_json::from_value(r.payload).ok(),
            due_at: r.due_at,
            attempts: r.attempts,
            token: r.lease_token,
            claimed_at: r.claimed_at,
            sent_at: r.sent_at,
        })
        .collect())
}

/// Renews a running job's lease (a heartbeat). False means the lease was lost: another claim
/// took the job over, and this attempt must stop.
pub async fn renew(
    ex: impl PgExecutor<'_>,
    id: JobId,
    token: Uuid,
    now: Option<DateTime<Utc>>,
    lease: Duration,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set lease_until = coalesce($3::timestamptz, now()) + $4
         where id = $1 and lease_token = $2 and status = 'running'",
    )
    .bind(id.0)
    .bind(token)
    .bind(now)
    .bind(lease)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Notes that this attempt is about to hand the delivery to the platform. `fresh` restarts
/// the mark (an earlier attempt was looked for and not found); otherwise the earliest mark is
/// kept, since the platform's deduplication counts from the first send.
pub async fn mark_sending(
    ex: impl PgExecutor<'_>,
    id: JobId,
    token: Uuid,
    now: Option<DateTime<Utc>>,
    fresh: bool,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set sent_at = case when $4 then coalesce($3::timestamptz, now())
                                        else coalesce(sent_at, $3::timestamptz, now()) end
         where id = $1 and lease_token = $2 and status = 'running'",
    )
    .bind(id.0)
    .bind(token)
    .bind(now)
    .bind(fresh)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Finishes a claimed job with a final status. Only the claim that holds it can; false means
/// the lease was lost (another claim took the job over).
pub async fn finish(
    ex: impl PgExecutor<'_>,
    id: JobId,
    token: Uuid,
    status: &str,
    note: Option<&str>,
    now: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set status = $3, finished_at = coalesce($5::timestamptz, now()), last_error = $4,
                lease_owner = null, lease_until = null, lease_token = null
         where id = $1 and lease_token = $2 and status = 'running'",
    )
    .bind(id.0)
    .bind(token)
    .bind(status)
    .bind(note)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Ends a claimed job by deleting it, for a job whose row names a person who asked to be
/// forgotten (see `Job::Forget`): nothing of them stays behind for the pruning to find.
/// Only the claim that holds it can; false means the lease was lost.
pub async fn finish_by_deleting(
    ex: impl PgExecutor<'_>,
    id: JobId,
    token: Uuid,
) -> sqlx::Result<bool> {
    let n =
        sqlx::query("delete from jobs where id = $1 and lease_token = $2 and status = 'running'")
            .bind(id.0)
            .bind(token)
            .execute(ex)
            .await?
            .rows_affected();
    Ok(n == 1)
}

/// What a retry does with the "may have been sent" mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentMark {
    /// Keep it: this attempt may have reached the platform.
    Keep,
    /// Set it to this (the platform said for sure nothing was posted by this attempt).
    Set(Option<DateTime<Utc>>),
}

/// Puts a failed job back for another attempt `after` from now (the shared clock). Its first
/// due time is kept, so lateness is still measured from when it was meant to happen.
pub async fn retry(
    ex: impl PgExecutor<'_>,
    id: JobId,
    token: Uuid,
    error: &str,
    now: Option<DateTime<Utc>>,
    after: Duration,
    sent: SentMark,
) -> sqlx::Result<bool> {
    let (keep, value) = match sent {
        SentMark::Keep => (true, None),
        SentMark::Set(v) => (false, v),
    };
    let n = sqlx::query(
        "update jobs set status = 'pending', first_due_at = coalesce(first_due_at, due_at),
                due_at = coalesce($4::timestamptz, now()) + $5, last_error = $3,
                lease_owner = null, lease_until = null, lease_token = null,
                sent_at = case when $6 then sent_at else $7 end
         where id = $1 and lease_token = $2 and status = 'running'",
    )
    .bind(id.0)
    .bind(token)
    .bind(error)
    .bind(now)
    .bind(after)
    .bind(keep)
    .bind(value)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Brings a couple's jobs of one kind that were already due and now wait in back-off forward
/// to `at` (a resumed couple's waiting reveals go out now rather than at their next retry).
/// Jobs not yet due (a round still open) keep their time.
pub async fn bring_forward_waiting(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    kind: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update jobs set due_at = least(due_at, $3)
         where couple_id = $1 and kind = $2 and status = 'pending' and first_due_at is not null",
    )
    .bind(couple.0)
    .bind(kind)
    .bind(at)
    .execute(ex)
    .await?
    .rows_affected())
}

/// The earliest pending job, for status displays and simulations.
pub async fn next_due(ex: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("select min(due_at) from jobs where status = 'pending'")
        .fetch_one(ex)
        .await
}

/// Jobs that are due or running at `now`: zero means the scheduler has caught up.
pub async fn outstanding(ex: impl PgExecutor<'_>, now: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from jobs where (status = 'pending' and due_at <= $1) or status = 'running'",
    )
    .bind(now)
    .fetch_one(ex)
    .await
}

/// A couple's upcoming check-in posts: (user, slot, due_at).
pub async fn upcoming_posts(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
) -> sqlx::Result<Vec<(PersonId, String, DateTime<Utc>)>> {
    let rows: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "select person_id, payload->>'slot', due_at from jobs
         where couple_id = $1 and kind = 'checkin_post' and status = 'pending'
         order by due_at",
    )
    .bind(couple.0)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, s, d)| (PersonId(u), s, d))
        .collect())
}

/// Cancels every pending job of a couple (when it is unlinked).
pub async fn cancel_all_pending(ex: impl PgExecutor<'_>, couple: CoupleId) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update jobs set status = 'cancelled' where couple_id = $1 and status = 'pending'",
    )
    .bind(couple.0)
    .execute(ex)
    .await?
    .rows_affected())
}

/// Finished jobs one pruning batch deletes at most.
pub const PRUNE_BATCH: i64 = 1000;

/// Deletes at most `limit` finished jobs (done, missed, failed, cancelled) that ended before
/// `before`, oldest first; a cancelled job, which has no end time, counts from its creation.
/// Pending and running jobs are never touched, and a row someone is changing right now (a
/// cancelled job being scheduled again) is left for the next batch.
pub async fn prune_finished(
    ex: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "delete from jobs where id in (
            select id from jobs
            where status in ('done', 'missed', 'failed', 'cancelled')
              and coalesce(finished_at, created_at) < $1
            order by coalesce(finished_at, created_at)
            limit $2
            for update skip locked)",
    )
    .bind(before)
    .bind(limit)
    .execute(ex)
    .await?
    .rows_affected())
}
