//! Invitations from one person to another to become a couple in a channel.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::ids::{ChannelId, CoupleId, GuildId, InvitationId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

impl InvitationStatus {
    fn parse(s: &str) -> Self {
        match s {
            "accepted" => Self::Accepted,
            "declined" => Self::Declined,
            "cancelled" => Self::Cancelled,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub guild: GuildId,
    pub channel: ChannelId,
    pub inviter: UserId,
    pub invitee: UserId,
    pub status: InvitationStatus,
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    guild_id: i64,
    channel_id: i64,
    inviter_id: i64,
    invitee_id: i64,
    status: String,
    expires_at: DateTime<Utc>,
}

impl From<Row> for Invitation {
    fn from(r: Row) -> Self {
        Invitation {
            id: InvitationId(r.id),
            guild: GuildId::from_i64(r.guild_id),
            channel: ChannelId::from_i64(r.channel_id),
            inviter: UserId::from_i64(r.inviter_id),
            invitee: UserId::from_i64(r.invitee_id),
            status: InvitationStatus::parse(&r.status),
            expires_at: r.expires_at,
        }
    }
}

const COLS: &str = "id, guild_id, channel_id, inviter_id, invitee_id, status, expires_at";

pub async fn create(
    ex: impl PgExecutor<'_>,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into invitations (id, guild_id, channel_id, inviter_id, invitee_id, status, created_at, expires_at)
         values ($1, $2, $3, $4, $5, 'pending', $6, $7)",
    )
    .bind(inv.id.0)
    .bind(inv.guild.as_i64())
    .bind(inv.channel.as_i64())
    .bind(inv.inviter.as_i64())
    .bind(inv.invitee.as_i64())
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

/// A pending, unexpired invitation for `invitee` in `channel`.
pub async fn pending_for(
    ex: impl PgExecutor<'_>,
    channel: ChannelId,
    invitee: UserId,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Invitation>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from invitations
         where channel_id = $1 and invitee_id = $2 and status = 'pending' and expires_at > $3
         limit 1"
    )))
    .bind(channel.as_i64())
    .bind(invitee.as_i64())
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
    let text = match status {
        InvitationStatus::Accepted => "accepted",
        InvitationStatus::Declined => "declined",
        InvitationStatus::Cancelled => "cancelled",
        InvitationStatus::Pending => "pending",
    };
    let n = sqlx::query(
        "update invitations set status = $2, decided_at = $3, couple_id = $4
         where id = $1 and status = 'pending'",
    )
    .bind(id.0)
    .bind(text)
    .bind(now)
    .bind(couple.map(|c| c.0))
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Cancels the other pending invitations in a channel once it has a couple.
pub async fn cancel_pending_in_channel(
    ex: impl PgExecutor<'_>,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update invitations set status = 'cancelled', decided_at = $2
         where channel_id = $1 and status = 'pending'",
    )
    .bind(channel.as_i64())
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected())
}
