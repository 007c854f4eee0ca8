//! Rooms: where couples live, mapped from each transport's room id.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::couple::Room;
use crate::domain::ids::{RoomId, TransportKind};

/// The room behind a transport's room id, created on first sight.
pub async fn ensure(
    ex: impl PgExecutor<'_>,
    transport: TransportKind,
    external: &str,
    space: Option<&str>,
) -> sqlx::Result<Room> {
    // `do update` (a no-op write) so `returning` answers for an existing row too.
    let (id, space): (Uuid, Option<String>) = sqlx::query_as(
        "insert into rooms (id, transport, external_id, space) values ($1, $2, $3, $4)
         on conflict (transport, external_id) do update set space = coalesce(rooms.space, excluded.space)
         returning id, space",
    )
    .bind(Uuid::new_v4())
    .bind(transport.as_str())
    .bind(external)
    .bind(space)
    .fetch_one(ex)
    .await?;
    Ok(Room {
        id: RoomId(id),
        transport,
        external: external.to_string(),
        space,
    })
}

pub async fn get(ex: impl PgExecutor<'_>, id: RoomId) -> sqlx::Result<Option<Room>> {
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("select transport, external_id, space from rooms where id = $1")
            .bind(id.0)
            .fetch_optional(ex)
            .await?;
    Ok(row.and_then(|(t, external, space)| {
        Some(Room {
            id,
            transport: t.parse().ok()?,
            external,
            space,
        })
    }))
}
