//! Invitations from one person to another to become a couple in a room.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::ids::{CoupleId, InvitationId, PersonId, RoomId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

impl InvitationStatus {
    /// A status this build does not know reads as still pending: it changes nothing.
    fn parse(s: &str) -> Self {
        s.parse().unwrap_or(Self::Pending)
    }

    fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub room: RoomId,
    pub inviter: PersonId,
    pub invitee: PersonId,
    pub status: InvitationStatus,
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    room_id: Uuid,
    inviter: Uuid,
    invitee: Uuid,
    status: String,
    expires_at: DateTime<Utc>,
}

impl From<Row> for Invitation {
    fn from(r: Row) -> Self {
        Invitation {
            id: InvitationId(r.id),
            room: RoomId(r.room_id),
            inviter: PersonId(r.inviter),
            invitee: PersonId(r.invitee),
            status: InvitationStatus::parse(&r.status),
            expires_at: r.expires_at,
        }
    }
}

const COLS: &str = "id, room_id, inviter, invitee, status, expires_at";

pub async fn create(
    ex: impl PgExecutor<'_>,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into invitations (id, room_id, inviter, invitee, status, created_at, expires_at)
         values ($1, $2, $3, $4, 'pending', $5, $6)",
    )
    .bind(inv.id.0)
    .bind(inv.room.0)
    .bind(inv.inviter.0)
    .bind(inv.invitee.0)
    .bind(now)
    .bind(inv.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get(ex: impl PgExecutor<'_>, id: InvitationId) -> sqlx::Result<Option<Invitation>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from invitations where id = $1"
    )))
    .bind(id.0)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Into::into))
}

/// A pending, unexpired invitation for `invitee` in `room`.
pub async fn pending_for(
    ex: impl PgExecutor<'_>,
    room: RoomId,
    invitee: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Invitation>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from invitations
         where room_id = $1 and invitee = $2 and status = 'pending' and expires_at > $3
         limit 1"
    )))
    .bind(room.0)
    .bind(invitee.0)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Into::into))
}

/// Moves a pending invitation to `status`. False when it was no longer pending: a double
/// click, or the other button pressed first.
pub async fn decide(
    ex: impl PgExecutor<'_>,
    id: InvitationId,
    status: InvitationStatus,
    couple: Option<CoupleId>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update invitations set status = $2, decided_at = $3, couple_id = $4
         where id = $1 and status = 'pending'",
    )
    .bind(id.0)
    .bind(status.as_str())
    .bind(now)
    .bind(couple.map(|c| c.0))
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Cancels the other pending invitations in a room once it has a couple.
pub async fn cancel_pending_in_room(
    ex: impl PgExecutor<'_>,
    room: RoomId,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update invitations set status = 'cancelled', decided_at = $2
         where room_id = $1 and status = 'pending'",
    )
    .bind(room.0)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected())
}
