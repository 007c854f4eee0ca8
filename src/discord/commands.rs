//! Slash commands. Each handler parses what Discord sent, asks `domain/` and `store/`, and
//! replies; anything personal is ephemeral.

use chrono::Duration;
use poise::serenity_prelude as serenity;
use poise::CreateReply;

use super::{no_pings, render, BotError, Ctx};
use crate::domain::ids::{ChannelId, GuildId, InvitationId, UserId};
use crate::domain::zones::{self, ZoneError};
use crate::store::invitations::{Invitation, InvitationStatus};
use crate::store::{couples, invitations, people};

/// How long an invitation stays open.
pub const INVITATION_TTL_DAYS: i64 = 7;

pub fn all() -> Vec<poise::Command<std::sync::Arc<crate::app::AppState>, BotError>> {
    vec![attune()]
}

fn ephemeral(text: impl Into<String>) -> CreateReply {
    CreateReply::default()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(no_pings())
}

/// Where the command was run, or a kind refusal for DMs.
fn guild_channel(ctx: &Ctx<'_>) -> Result<(GuildId, ChannelId), BotError> {
    let guild = ctx
        .guild_id()
        .ok_or_else(|| BotError::user(render::DM_REFUSAL))?;
    Ok((GuildId(guild.get()), ChannelId(ctx.channel_id().get())))
}

/// Attune: a practice space for the two of you.
#[poise::command(
    slash_command,
    subcommands("setup", "timezone", "status", "leave"),
    subcommand_required
)]
pub async fn attune(_ctx: Ctx<'_>) -> Result<(), BotError> {
    Ok(())
}

/// Invite your partner to practise with you in this channel.
#[poise::command(slash_command)]
pub async fn setup(
    ctx: Ctx<'_>,
    #[description = "The person you want to practise with"] partner: serenity::User,
) -> Result<(), BotError> {
    let (guild, channel) = guild_channel(&ctx)?;
    let inviter = UserId(ctx.author().id.get());
    let invitee = UserId(partner.id.get());
    if partner.bot {
        return Err(BotError::user(render::SETUP_BOT_PARTNER));
    }
    if invitee == inviter {
        return Err(BotError::user(render::SETUP_SELF));
    }
    let state = ctx.data();
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if let Some(c) = couples::live_in_channel(&mut *tx, channel).await? {
        return Err(BotError::user(if c.is_partner(inviter) {
            render::SETUP_ALREADY_YOURS
        } else {
            render::SETUP_CHANNEL_TAKEN
        }));
    }
    if let Some(p) = invitations::pending_for(&mut *tx, channel, invitee, now).await? {
        return Err(BotError::user(render::setup_already_pending(
            p.inviter, invitee,
        )));
    }
    let inv = Invitation {
        id: InvitationId::new(),
        guild,
        channel,
        inviter,
        invitee,
        status: InvitationStatus::Pending,
        expires_at: now + Duration::days(INVITATION_TTL_DAYS),
    };
    invitations::create(&mut *tx, &inv, now).await?;
    tx.commit().await?;
    tracing::info!(invitation_id = %inv.id, "invitation created");
    ctx.send(render::invitation(&inv)).await?;
    Ok(())
}

async fn autocomplete_zone(_ctx: Ctx<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let choices = zones::suggest(partial, 25)
        .into_iter()
        .map(|name| serenity::AutocompleteChoice::new(name, name))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Set your own time zone, so prompts reach you at your local time.
#[poise::command(slash_command)]
pub async fn timezone(
    ctx: Ctx<'_>,
    #[description = "Your time zone, like Europe/Berlin or a city such as Berlin"]
    #[autocomplete = "autocomplete_zone"]
    #[max_length = 100]
    zone: String,
) -> Result<(), BotError> {
    let tz = match zones::parse_zone(&zone) {
        Ok(tz) => tz,
        Err(ZoneError::Empty) => return Err(BotError::user(render::ZONE_EMPTY)),
        Err(ZoneError::TooLong) => return Err(BotError::user(render::ZONE_TOO_LONG)),
        Err(ZoneError::Unknown { suggestions }) => {
            return Err(BotError::user(render::zone_unknown(&suggestions)))
        }
    };
    let state = ctx.data();
    let now = state.clock.now();
    people::set_zone(&state.pool, UserId(ctx.author().id.get()), tz, now).await?;
    ctx.send(ephemeral(render::zone_set(tz, now))).await?;
    Ok(())
}

/// See how Attune is set up in this channel.
#[poise::command(slash_command)]
pub async fn status(ctx: Ctx<'_>) -> Result<(), BotError> {
    let (_, channel) = guild_channel(&ctx)?;
    let state = ctx.data();
    let user = UserId(ctx.author().id.get());
    let Some(couple) = couples::live_in_channel(&state.pool, channel).await? else {
        return Err(BotError::user(render::NO_COUPLE_HERE));
    };
    if !couple.is_partner(user) {
        return Err(BotError::user(render::NOT_YOUR_SPACE));
    }
    let now = state.clock.now();
    ctx.send(render::status(&couple, now)).await?;
    Ok(())
}

/// Unlink the two of you from this channel (asks first).
#[poise::command(slash_command)]
pub async fn leave(ctx: Ctx<'_>) -> Result<(), BotError> {
    let (_, channel) = guild_channel(&ctx)?;
    let state = ctx.data();
    let user = UserId(ctx.author().id.get());
    let Some(couple) = couples::live_in_channel(&state.pool, channel).await? else {
        return Err(BotError::user(render::NO_COUPLE_HERE));
    };
    if !couple.is_partner(user) {
        return Err(BotError::user(render::NOT_YOUR_SPACE));
    }
    ctx.send(render::leave_confirm(couple.id)).await?;
    Ok(())
}
