//! Couples and their partners.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::people::parse_stored_zone;
use crate::domain::couple::{Couple, Partner};
use crate::domain::ids::{ChannelId, CoupleId, GuildId, UserId};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    guild_id: i64,
    channel_id: i64,
    created_by: i64,
    created_at: DateTime<Utc>,
    paused_until: Option<DateTime<Utc>>,
    unreachable_since: Option<DateTime<Utc>>,
    user_id: i64,
    seat: i16,
    time_zone: Option<String>,
}

const SELECT: &str =
    "select c.id, c.guild_id, c.channel_id, c.created_by, c.created_at, c.paused_until, c.unreachable_since,
        p.user_id, p.seat, pe.time_zone
     from couples c
     join partners p on p.couple_id = c.id
     join people pe on pe.user_id = p.user_id";

fn assemble(rows: Vec<Row>) -> Option<Couple> {
    let first = rows.first()?;
    let mut couple = Couple {
        id: CoupleId(first.id),
        guild: GuildId::from_i64(first.guild_id),
        channel: ChannelId::from_i64(first.channel_id),
        created_by: UserId::from_i64(first.created_by),
        created_at: first.created_at,
        paused_until: first.paused_until,
        unreachable_since: first.unreachable_since,
        partners: Vec::with_capacity(2),
    };
    for r in rows {
        couple.partners.push(Partner {
            user: UserId::from_i64(r.user_id),
            seat: r.seat,
            zone: r.time_zone.as_deref().and_then(parse_stored_zone),
        });
    }
    couple.partners.sort_by_key(|p| p.seat);
    Some(couple)
}

/// The live couple bound to a channel, if any.
pub async fn live_in_channel(
    ex: impl PgExecutor<'_>,
    channel: ChannelId,
) -> sqlx::Result<Option<Couple>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} where c.channel_id = $1 and c.ended_at is null order by p.seat"
    )))
    .bind(channel.as_i64())
    .fetch_all(ex)
    .await?;
    Ok(assemble(rows))
}

/// A couple by id, live or not (`live_only` filters ended ones out).
pub async fn get(
    ex: impl PgExecutor<'_>,
    id: CoupleId,
    live_only: bool,
) -> sqlx::Result<Option<Couple>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} where c.id = $1 and ($2 = false or c.ended_at is null) order by p.seat"
    )))
    .bind(id.0)
    .bind(live_only)
    .fetch_all(ex)
    .await?;
    Ok(assemble(rows))
}

/// Creates a couple in a channel. Returns `None` when the channel already has a live couple
/// (the unique index settles two accepts racing for one channel).
pub async fn create(
    tx: &mut PgConnection,
    guild: GuildId,
    channel: ChannelId,
    first: UserId,
    second: UserId,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<CoupleId>> {
    let id = CoupleId::new();
    let inserted = sqlx::query(
        "insert into couples (id, guild_id, channel_id, created_by, created_at)
         values ($1, $2, $3, $4, $5)
         on conflict (channel_id) where ended_at is null do nothing",
    )
    .bind(id.0)
    .bind(guild.as_i64())
    .bind(channel.as_i64())
    .bind(first.as_i64())
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    for (seat, user) in [(1i16, first), (2, second)] {
        super::people::ensure(&mut *tx, user, now).await?;
        sqlx::query("insert into partners (couple_id, user_id, seat) values ($1, $2, $3)")
            .bind(id.0)
            .bind(user.as_i64())
            .bind(seat)
            .execute(&mut *tx)
            .await?;
    }
    Ok(Some(id))
}

/// Ends a live couple; false when it was already ended (a second confirm click).
pub async fn end(ex: impl PgExecutor<'_>, id: CoupleId, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let n = sqlx::query("update couples set ended_at = $2 where id = $1 and ended_at is null")
        .bind(id.0)
        .bind(now)
        .execute(ex)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn set_paused_until(
    ex: impl PgExecutor<'_>,
    id: CoupleId,
    until: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let n = sqlx::query("update couples set paused_until = $2 where id = $1 and ended_at is null")
        .bind(id.0)
        .bind(until)
        .execute(ex)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Pauses a couple whose channel answered 403/404, until someone runs `/attune resume`.
pub async fn mark_unreachable(
    ex: impl PgExecutor<'_>,
    id: CoupleId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update couples set unreachable_since = coalesce(unreachable_since, $2) where id = $1",
    )
    .bind(id.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Clears both a timed pause and an unreachable mark.
pub async fn resume(ex: impl PgExecutor<'_>, id: CoupleId) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update couples set paused_until = null, unreachable_since = null where id = $1 and ended_at is null",
    )
    .bind(id.0)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Locks the couple's row until the transaction ends: posts of both partners due at the
/// same instant then open and join one round instead of racing to open two.
pub async fn lock(tx: &mut PgConnection, id: CoupleId) -> sqlx::Result<bool> {
    let row: Option<Uuid> = sqlx::query_scalar("select id from couples where id = $1 for update")
        .bind(id.0)
        .fetch_optional(tx)
        .await?;
    Ok(row.is_some())
}
