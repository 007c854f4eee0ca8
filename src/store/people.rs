//! People and their identities: one row per person Attune knows, holding what belongs to the
//! person (their zone), and the map from each transport's id for them to that row.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::ids::{PersonId, TransportKind};

/// The person behind a transport's id, created on first sight. Two first sights at once
/// settle on one person (the identity's key decides).
pub async fn ensure(
    ex: &mut sqlx::PgConnection,
    transport: TransportKind,
    handle: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<PersonId> {
    if let Some(p) = find(&mut *ex, transport, handle).await? {
        return Ok(p);
    }
    let id = Uuid::new_v4();
    // One statement, so a racing insert of the same identity makes ours a no-op and the
    // select below finds theirs.
    sqlx::query(
        "with person as (
            insert into people (id, created_at, updated_at) values ($1, $4, $4) returning id
         )
         insert into identities (transport, external_id, person_id, created_at)
         select $2, $3, id, $4 from person
         on conflict (transport, external_id) do nothing",
    )
    .bind(id)
    .bind(transport.as_str())
    .bind(handle)
    .bind(now)
    .execute(&mut *ex)
    .await?;
    match find(&mut *ex, transport, handle).await? {
        Some(p) => {
            if p.0 != id {
                // Lost the race: our person row has no identity and nobody refers to it.
                sqlx::query("delete from people where id = $1")
                    .bind(id)
                    .execute(&mut *ex)
                    .await?;
            }
            Ok(p)
        }
        None => Err(sqlx::Error::RowNotFound),
    }
}

/// The person behind a transport's id, if Attune knows them.
pub async fn find(
    ex: impl PgExecutor<'_>,
    transport: TransportKind,
    handle: &str,
) -> sqlx::Result<Option<PersonId>> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "select person_id from identities where transport = $1 and external_id = $2",
    )
    .bind(transport.as_str())
    .bind(handle)
    .fetch_optional(ex)
    .await?;
    Ok(id.map(PersonId))
}

/// The person's id on a transport.
pub async fn handle(
    ex: impl PgExecutor<'_>,
    person: PersonId,
    transport: TransportKind,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select external_id from identities where person_id = $1 and transport = $2")
        .bind(person.0)
        .bind(transport.as_str())
        .fetch_optional(ex)
        .await
}

pub async fn set_zone(
    ex: impl PgExecutor<'_>,
    person: PersonId,
    zone: Tz,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update people set time_zone = $2, updated_at = $3 where id = $1")
        .bind(person.0)
        .bind(zone.name())
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn zone(ex: impl PgExecutor<'_>, person: PersonId) -> sqlx::Result<Option<Tz>> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("select time_zone from people where id = $1")
            .bind(person.0)
            .fetch_optional(ex)
            .await?;
    Ok(name.flatten().and_then(|n| parse_stored_zone(&n)))
}

/// The ways a person likes to receive care (love languages), at most two.
pub async fn care_ways(ex: impl PgExecutor<'_>, person: PersonId) -> sqlx::Result<Vec<String>> {
    let v: Option<Vec<String>> = sqlx::query_scalar("select care_ways from people where id = $1")
        .bind(person.0)
        .fetch_optional(ex)
        .await?;
    Ok(v.unwrap_or_default())
}

pub async fn set_care_ways(
    ex: impl PgExecutor<'_>,
    person: PersonId,
    ways: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update people set care_ways = $2, updated_at = $3 where id = $1")
        .bind(person.0)
        .bind(ways)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
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
