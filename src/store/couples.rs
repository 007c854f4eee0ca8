//! Couples and their partners, with the room they share and each partner's id on the room's
//! transport.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::people::parse_stored_zone;
use crate::domain::couple::{Couple, Partner, Room};
use crate::domain::ids::{CoupleId, PersonId, RoomId, TransportKind};
use crate::domain::schedule::{CoupleSettings, PartnerSchedule};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    room_id: Uuid,
    transport: String,
    external_id: String,
    space: Option<String>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    paused_until: Option<DateTime<Utc>>,
    unreachable_since: Option<DateTime<Utc>>,
    person_id: Uuid,
    seat: i16,
    time_zone: Option<String>,
    handle: Option<String>,
}

const SELECT: &str =
    "select c.id, c.room_id, r.transport, r.external_id, r.space, c.created_by, c.created_at,
        c.paused_until, c.unreachable_since, p.person_id, p.seat, pe.time_zone, i.external_id as handle
     from couples c
     join rooms r on r.id = c.room_id
     join partners p on p.couple_id = c.id
     join people pe on pe.id = p.person_id
     left join identities i on i.person_id = p.person_id and i.transport = r.transport";

fn assemble(rows: Vec<Row>) -> Option<Couple> {
    let first = rows.first()?;
    let mut couple = Couple {
        id: CoupleId(first.id),
        room: Room {
            id: RoomId(first.room_id),
            transport: first.transport.parse().unwrap_or(TransportKind::Discord),
            external: first.external_id.clone(),
            space: first.space.clone(),
        },
        created_by: first.created_by.map(PersonId),
        created_at: first.created_at,
        paused_until: first.paused_until,
        unreachable_since: first.unreachable_since,
        partners: Vec::with_capacity(2),
    };
    for r in rows {
        couple.partners.push(Partner {
            person: PersonId(r.person_id),
            handle: r.handle.unwrap_or_default(),
            seat: r.seat,
            zone: r.time_zone.as_deref().and_then(parse_stored_zone),
        });
    }
    couple.partners.sort_by_key(|p| p.seat);
    Some(couple)
}

/// The live couple in a room, if any.
pub async fn live_in_room(
    ex: impl PgExecutor<'_>,
    transport: TransportKind,
    external: &str,
) -> sqlx::Result<Option<Couple>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} where r.transport = $1 and r.external_id = $2 and c.ended_at is null order by p.seat"
    )))
    .bind(transport.as_str())
    .bind(external)
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

/// A live couple locked for the rest of the transaction, with every partner's schedule and
/// the couple's settings, in one statement (a scheduled post's first read).
pub async fn lock_with_schedules(
    tx: &mut PgConnection,
    id: CoupleId,
) -> sqlx::Result<Option<(Couple, Vec<(PersonId, PartnerSchedule)>, CoupleSettings)>> {
    #[derive(sqlx::FromRow)]
    struct Full {
        #[sqlx(flatten)]
        couple: Row,
        #[sqlx(flatten)]
        schedule: super::schedules::PartnerRow,
        #[sqlx(flatten)]
        settings: super::schedules::CoupleRow,
    }
    let rows: Vec<Full> = sqlx::query_as(
        "select c.id, c.room_id, r.transport, r.external_id, r.space, c.created_by, c.created_at,
                c.paused_until, c.unreachable_since, p.person_id, p.seat, pe.time_zone,
                i.external_id as handle,
                p.morning_time, p.evening_time, p.days, p.waking_start, p.waking_end,
                c.window_minutes, c.reminder_minutes, c.quiet_start, c.quiet_end, c.recap_weekday,
                c.recap_time, c.micro_frequency, c.weekly_enabled, c.weekly_weekday,
                c.weekly_time, c.apart
         from couples c
         join rooms r on r.id = c.room_id
         join partners p on p.couple_id = c.id
         join people pe on pe.id = p.person_id
         left join identities i on i.person_id = p.person_id and i.transport = r.transport
         where c.id = $1 and c.ended_at is null
         order by p.seat
         for update of c",
    )
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await?;
    let mut schedules = Vec::with_capacity(rows.len());
    let mut couple_rows = Vec::with_capacity(rows.len());
    let mut settings = None;
    for r in rows {
        schedules.push((PersonId(r.couple.person_id), r.schedule.into_schedule()));
        settings.get_or_insert(r.settings);
        couple_rows.push(r.couple);
    }
    let (Some(couple), Some(settings)) = (assemble(couple_rows), settings) else {
        return Ok(None);
    };
    Ok(Some((couple, schedules, settings.into_settings())))
}

/// Creates a couple in a room. Returns `None` when the room already has a live couple (the
/// unique index settles two accepts racing for one room).
pub async fn create(
    tx: &mut PgConnection,
    room: RoomId,
    first: PersonId,
    second: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<CoupleId>> {
    let id = CoupleId::new();
    let inserted = sqlx::query(
        "insert into couples (id, room_id, created_by, created_at)
         values ($1, $2, $3, $4)
         on conflict (room_id) where ended_at is null do nothing",
    )
    .bind(id.0)
    .bind(room.0)
    .bind(first.0)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    for (seat, person) in [(1i16, first), (2, second)] {
        sqlx::query("insert into partners (couple_id, person_id, seat) values ($1, $2, $3)")
            .bind(id.0)
            .bind(person.0)
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

/// Pauses a couple whose room refused our posts for good, until someone resumes.
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
