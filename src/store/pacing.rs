//! Pacing shared by every process that posts with one bot token: one row per token (per
//! transport) holds the next free slot, so however many processes post, together they stay
//! under the platform's global rate limit. The database's own clock decides, so processes
//! whose clocks differ still space their posts correctly.

use std::time::Duration;

use sqlx::PgExecutor;

/// Takes the next slot for `key`, `interval` after the previous one, and returns how long to
/// wait before using it (zero when the slot is free now).
pub async fn take_slot(
    ex: impl PgExecutor<'_>,
    key: &str,
    interval: Duration,
) -> sqlx::Result<Duration> {
    let step = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    // One statement: the row lock serialises concurrent takers, and each gets its own slot.
    let wait_ms: f64 = sqlx::query_scalar(
        "insert into post_pacing (key, next_at) values ($1, clock_timestamp() + $2)
         on conflict (key) do update
            set next_at = greatest(post_pacing.next_at, clock_timestamp()) + $2
         returning greatest(0, extract(epoch from (next_at - $2 - clock_timestamp())) * 1000)::float8",
    )
    .bind(key)
    .bind(step)
    .fetch_one(ex)
    .await?;
    Ok(Duration::from_millis(wait_ms.max(0.0) as u64))
}
