//! People: one row per Discord user, holding what belongs to the person (their zone).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgExecutor;

use crate::domain::ids::UserId;

pub async fn ensure(ex: impl PgExecutor<'_>, user: UserId, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into people (user_id, created_at, updated_at) values ($1, $2, $2)
         on conflict (user_id) do nothing",
    )
    .bind(user.as_i64())
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn set_zone(
    ex: impl PgExecutor<'_>,
    user: UserId,
    zone: Tz,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into people (user_id, time_zone, created_at, updated_at) values ($1, $2, $3, $3)
         on conflict (user_id) do update set time_zone = excluded.time_zone, updated_at = excluded.updated_at",
    )
    .bind(user.as_i64())
    .bind(zone.name())
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn zone(ex: impl PgExecutor<'_>, user: UserId) -> sqlx::Result<Option<Tz>> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("select time_zone from people where user_id = $1")
            .bind(user.as_i64())
            .fetch_optional(ex)
            .await?;
    Ok(name.flatten().and_then(|n| parse_stored_zone(&n)))
}

/// Zones are written only from a parsed `Tz`, but a chrono-tz upgrade could drop a name.
pub(crate) fn parse_stored_zone(name: &str) -> Option<Tz> {
    match name.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            tracing::warn!(zone = name, "stored time zone no longer known");
            None
        }
    }
}
