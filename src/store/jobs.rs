//! The job table: idempotent scheduling, claiming with `FOR UPDATE SKIP LOCKED` under a
//! lease, and completion that only the lease holder can perform.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::ids::{CoupleId, JobId, PersonId};
use crate::domain::jobs::Job;

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub job: Option<Job>,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    payload: serde_json::Value,
    due_at: DateTime<Utc>,
    attempts: i32,
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
            set due_at = excluded.due_at, status = 'pending', attempts = 0, last_error = null
            where jobs.status in ('pending', 'cancelled')",
    )
    .bind(Uuid::new_v4())
    .bind(job.kind())
    .bind(job.couple().0)
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
    .bind(job.couple().0)
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
/// ones whose lease ran out (their holder died).
/// Only jobs of couples that live on one of `transports` are claimed: a process serving
/// Matrix alone leaves Discord's jobs to the processes that serve it.
pub async fn claim(
    ex: impl PgExecutor<'_>,
    owner: Uuid,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
    transports: &[&str],
) -> sqlx::Result<Vec<ClaimedJob>> {
    let rows: Vec<Row> = sqlx::query_as(
        "with due as (
            select j.id from jobs j
            where ((j.status = 'pending' and j.due_at <= $2)
               or (j.status = 'running' and j.lease_until < $2))
              and exists (select 1 from couples c join rooms r on r.id = c.room_id
                          where c.id = j.couple_id and r.transport = any($5))
            order by j.due_at
            limit $4
            for update of j skip locked
         )
         update jobs j
            set status = 'running', lease_owner = $1, lease_until = $3, attempts = j.attempts + 1
           from due
          where j.id = due.id
         returning j.id, j.payload, j.due_at, j.attempts",
    )
    .bind(owner)
    .bind(now)
    .bind(now + lease)
    .bind(limit)
    .bind(transports)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ClaimedJob {
            id: JobId(r.id),
            job: serde_json::from_value(r.payload).ok(),
            due_at: r.due_at,
            attempts: r.attempts,
        })
        .collect())
}

/// Finishes a claimed job with a final status. Only the lease holder can do it; false means
/// the lease was lost (another process took the job over).
pub async fn finish(
    ex: impl PgExecutor<'_>,
    id: JobId,
    owner: Uuid,
    status: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set status = $3, finished_at = $5, last_error = $4, lease_owner = null, lease_until = null
         where id = $1 and lease_owner = $2 and status = 'running'",
    )
    .bind(id.0)
    .bind(owner)
    .bind(status)
    .bind(note)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Puts a failed job back for another attempt at `retry_at`.
pub async fn retry(
    ex: impl PgExecutor<'_>,
    id: JobId,
    owner: Uuid,
    error: &str,
    retry_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update jobs set status = 'pending', due_at = $4, last_error = $3, lease_owner = null, lease_until = null
         where id = $1 and lease_owner = $2 and status = 'running'",
    )
    .bind(id.0)
    .bind(owner)
    .bind(error)
    .bind(retry_at)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
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
