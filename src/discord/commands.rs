//! Slash commands. Each handler parses what Discord sent, asks `domain/` and `store/`, and
//! replies; anything personal is ephemeral.

use chrono::Duration;
use poise::serenity_prelude as serenity;
use poise::CreateReply;

use super::{no_pings, render, BotError, Ctx};
use crate::domain::ids::{ChannelId, GuildId, InvitationId, UserId};
use crate::domain::schedule::MicroFrequency;
use crate::domain::time::{parse_hhmm, Weekdays};
use crate::domain::zones::{self, ZoneError};
use crate::scheduler::plan;
use crate::store::invitations::{Invitation, InvitationStatus};
use crate::store::{checkins, couples, invitations, jobs, people, schedules};

/// How long an invitation stays open.
pub const INVITATION_TTL_DAYS: i64 = 7;

pub fn all() -> Vec<poise::Command<std::sync::Arc<crate::app::AppState>, BotError>> {
    vec![attune(), checkin(), micro(), recap(), repair()]
}

/// Refuses, with what to fix, when Discord says the bot cannot see or post in this channel
/// (everything a couple does here ends in a post the bot must be able to make).
fn require_post_permission(ctx: &Ctx<'_>) -> Result<(), BotError> {
    if let poise::Context::Application(app) = ctx {
        if let Some(p) = app.interaction.app_permissions {
            let needed = serenity::Permissions::VIEW_CHANNEL | serenity::Permissions::SEND_MESSAGES;
            if !p.contains(needed) {
                return Err(BotError::user(render::CANNOT_POST_HERE));
            }
        }
    }
    Ok(())
}

/// The live couple in this channel, if the caller is one of its partners.
async fn my_couple(ctx: &Ctx<'_>) -> Result<crate::domain::couple::Couple, BotError> {
    let (_, channel) = guild_channel(ctx)?;
    let user = UserId(ctx.author().id.get());
    let Some(couple) = couples::live_in_channel(&ctx.data().pool, channel).await? else {
        return Err(BotError::user(render::NO_COUPLE_HERE));
    };
    if !couple.is_partner(user) {
        return Err(BotError::user(render::NOT_YOUR_SPACE));
    }
    Ok(couple)
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
    subcommands(
        "setup", "timezone", "schedule", "pause", "resume", "status", "export", "forget", "leave"
    ),
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
    require_post_permission(&ctx)?;
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
    let user = UserId(ctx.author().id.get());
    let mut tx = state.pool.begin().await?;
    people::set_zone(&mut *tx, user, tz, now).await?;
    // Prompts follow the person: re-plan them in every couple they belong to.
    for couple in schedules::couples_of(&mut *tx, user).await? {
        plan::plan_partner(&mut tx, state.config.scheduler.seed, couple, user, now).await?;
        // The recap follows the home zone, which may be this person's.
        plan::plan_recap(&mut tx, couple, now).await?;
    }
    tx.commit().await?;
    ctx.send(ephemeral(render::zone_set(tz, now))).await?;
    Ok(())
}

/// See how Attune is set up in this channel.
#[poise::command(slash_command)]
pub async fn status(ctx: Ctx<'_>) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    let state = ctx.data();
    let now = state.clock.now();
    let settings = schedules::couple(&state.pool, couple.id)
        .await?
        .ok_or_else(|| BotError::user(render::NO_COUPLE_HERE))?;
    let upcoming = jobs::upcoming_posts(&state.pool, couple.id).await?;
    ctx.send(render::status(&couple, &settings, &upcoming, now))
        .await?;
    Ok(())
}

/// Unlink the two of you from this channel (asks first).
#[poise::command(slash_command)]
pub async fn leave(ctx: Ctx<'_>) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    ctx.send(render::leave_confirm(couple.id)).await?;
    Ok(())
}

/// Start a check-in for both of you right now.
#[poise::command(slash_command)]
pub async fn checkin(ctx: Ctx<'_>) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    require_post_permission(&ctx)?;
    let state = ctx.data();
    let now = state.clock.now();
    let user = UserId(ctx.author().id.get());
    if let Some(open) = checkins::open_round(&state.pool, couple.id).await? {
        return Err(BotError::user(format!(
            "A check-in is already open — answer it above. It closes {}.",
            render::ts(open.closes_at, 'R')
        )));
    }
    let settings = schedules::couple(&state.pool, couple.id)
        .await?
        .ok_or_else(|| BotError::user(render::NO_COUPLE_HERE))?;
    let mut tx = state.pool.begin().await?;
    let round =
        crate::scheduler::checkin::open_now(&mut tx, &state.content, &couple, settings.window, now)
            .await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, checkin_id = %round.id, "check-in opened on request");
    let other = couple.other(user).map_or(user, |p| p.user);
    ctx.send(super::checkin::now_message(&round, user, other))
        .await?;
    Ok(())
}

/// See your week so far: your practice, how you read each other, and a mood chart.
#[poise::command(slash_command)]
pub async fn recap(ctx: Ctx<'_>) -> Result<(), BotError> {
    // Refuse before deferring, so a refusal stays a short private answer.
    let couple = my_couple(&ctx).await?;
    // Public in the couple's own channel: it only shows what both partners have already seen
    // in revealed check-ins, and it is meant to be read together. Deferred, because reading
    // the week and drawing the chart may take longer than Discord's 3 s on a busy host.
    ctx.defer().await?;
    let state = ctx.data();
    let now = state.clock.now();
    let settings = schedules::couple(&state.pool, couple.id)
        .await?
        .ok_or_else(|| BotError::user(render::NO_COUPLE_HERE))?;
    let period =
        crate::domain::recap::current_period(couple.home_zone(), settings.recap_weekday, now);
    let rendered = crate::scheduler::recap::build(
        state,
        ctx.http(),
        &couple,
        period,
        crate::recap::Kind::SoFar,
    )
    .await
    .map_err(|e| match e {
        crate::scheduler::JobError::Db(e) => BotError::from(e),
        other => BotError::internal(other),
    })?;
    tracing::info!(couple_id = %couple.id, "recap shown on request");
    ctx.send(rendered.reply()).await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum MicroChoice {
    #[name = "off"]
    Off,
    #[name = "a few a week"]
    Few,
    #[name = "daily"]
    Daily,
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum DayChoice {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// "HH:MM" or "off"; `Ok(None)` means off.
fn time_or_off(option: &str, v: &str) -> Result<Option<chrono::NaiveTime>, BotError> {
    let t = v.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "off" | "none" | "no") {
        return Ok(None);
    }
    parse_hhmm(&t).map(Some).ok_or_else(|| {
        BotError::user(format!(
            "`{option}` needs a 24-hour time like `08:30`, or `off`. Nothing was changed."
        ))
    })
}

fn time_required(option: &str, v: &str) -> Result<chrono::NaiveTime, BotError> {
    parse_hhmm(v).ok_or_else(|| {
        BotError::user(format!(
            "`{option}` needs a 24-hour time like `21:00`. Nothing was changed."
        ))
    })
}

/// Choose when check-ins reach you, and the rhythms you share.
#[allow(clippy::too_many_arguments)]
#[poise::command(slash_command)]
pub async fn schedule(
    ctx: Ctx<'_>,
    #[description = "Your morning check-in, like 08:00, or off"]
    #[max_length = 10]
    morning: Option<String>,
    #[description = "Your evening check-in, like 21:30, or off"]
    #[max_length = 10]
    evening: Option<String>,
    #[description = "Your check-in days: every day, weekdays, weekends, or mon,wed,fri"]
    #[max_length = 60]
    days: Option<String>,
    #[description = "When your day starts, for small nudges (like 09:00)"]
    #[max_length = 10]
    waking_start: Option<String>,
    #[description = "When your day ends, for small nudges (like 21:00)"]
    #[max_length = 10]
    waking_end: Option<String>,
    #[description = "Hours a check-in stays open before the reveal (1-24)"]
    #[min = 1]
    #[max = 24]
    window_hours: Option<i64>,
    #[description = "Minutes before one gentle reminder, or 0 for none"]
    #[min = 0]
    #[max = 1440]
    reminder_minutes: Option<i64>,
    #[description = "Start of shared quiet hours (like 22:00), or off"]
    #[max_length = 10]
    quiet_start: Option<String>,
    #[description = "End of shared quiet hours (like 07:00)"]
    #[max_length = 10]
    quiet_end: Option<String>,
    #[description = "How often small attunement nudges come"] micro: Option<MicroChoice>,
    #[description = "The day for your weekly recap"] recap_day: Option<DayChoice>,
    #[description = "The time for your weekly recap, like 18:00"]
    #[max_length = 10]
    recap_time: Option<String>,
) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    let state = ctx.data();
    let user = UserId(ctx.author().id.get());
    let now = state.clock.now();
    let mut mine = schedules::partner(&state.pool, couple.id, user)
        .await?
        .ok_or_else(|| BotError::user(render::NOT_YOUR_SPACE))?;
    let mut shared = schedules::couple(&state.pool, couple.id)
        .await?
        .ok_or_else(|| BotError::user(render::NO_COUPLE_HERE))?;
    // Parse everything before writing anything: one bad option changes nothing.
    if let Some(v) = &morning {
        mine.morning = time_or_off("morning", v)?;
    }
    if let Some(v) = &evening {
        mine.evening = time_or_off("evening", v)?;
    }
    if let Some(v) = &days {
        mine.days = Weekdays::parse(v).ok_or_else(|| {
            BotError::user(
                "`days` takes every day, weekdays, weekends, or days like mon,wed,fri. Nothing was changed.",
            )
        })?;
    }
    if let Some(v) = &waking_start {
        mine.waking_start = time_required("waking_start", v)?;
    }
    if let Some(v) = &waking_end {
        mine.waking_end = time_required("waking_end", v)?;
    }
    if mine.waking_start >= mine.waking_end {
        return Err(BotError::user(
            "Your waking window needs to start before it ends (like 09:00 to 21:00). Nothing was changed.",
        ));
    }
    if let Some(h) = window_hours {
        shared.window = Duration::hours(h.clamp(1, 24));
    }
    if let Some(m) = reminder_minutes {
        shared.reminder = match m {
            0 => None,
            m if m < 10 => {
                return Err(BotError::user(
                    "A reminder needs at least 10 minutes, or 0 for none. Nothing was changed.",
                ))
            }
            m => Some(Duration::minutes(m)),
        };
    }
    match (&quiet_start, &quiet_end) {
        (Some(s), e) => match time_or_off("quiet_start", s)? {
            None => shared.quiet = None,
            Some(start) => {
                let end = match e {
                    Some(e) => time_required("quiet_end", e)?,
                    None => shared.quiet.map_or(
                        chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("valid"),
                        |q| q.1,
                    ),
                };
                shared.quiet = Some((start, end));
            }
        },
        (None, Some(e)) => {
            let end = time_required("quiet_end", e)?;
            let start = shared.quiet.map_or(
                chrono::NaiveTime::from_hms_opt(22, 0, 0).expect("valid"),
                |q| q.0,
            );
            shared.quiet = Some((start, end));
        }
        (None, None) => {}
    }
    if let Some(m) = micro {
        shared.micro = match m {
            MicroChoice::Off => MicroFrequency::Off,
            MicroChoice::Few => MicroFrequency::Few,
            MicroChoice::Daily => MicroFrequency::Daily,
        };
    }
    if let Some(d) = recap_day {
        shared.recap_weekday = match d {
            DayChoice::Monday => chrono::Weekday::Mon,
            DayChoice::Tuesday => chrono::Weekday::Tue,
            DayChoice::Wednesday => chrono::Weekday::Wed,
            DayChoice::Thursday => chrono::Weekday::Thu,
            DayChoice::Friday => chrono::Weekday::Fri,
            DayChoice::Saturday => chrono::Weekday::Sat,
            DayChoice::Sunday => chrono::Weekday::Sun,
        };
    }
    if let Some(v) = &recap_time {
        shared.recap_time = time_required("recap_time", v)?;
    }
    let mut tx = state.pool.begin().await?;
    schedules::save_partner(&mut *tx, couple.id, user, &mine).await?;
    schedules::save_couple(&mut *tx, couple.id, &shared).await?;
    // Shared settings (quiet hours, nudges) shape both partners' plans.
    plan::plan_couple(
        &mut tx,
        state.config.scheduler.seed,
        couple.id,
        &couple.partner_ids(),
        now,
    )
    .await?;
    plan::plan_recap(&mut tx, couple.id, now).await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, "schedule updated");
    let upcoming = jobs::upcoming_posts(&state.pool, couple.id).await?;
    ctx.send(render::schedule_saved(
        &couple, user, &mine, &shared, &upcoming,
    ))
    .await?;
    Ok(())
}

/// Pause all prompts for a while (a trip, a busy week).
#[poise::command(slash_command)]
pub async fn pause(
    ctx: Ctx<'_>,
    #[description = "For how many days (1-60)"]
    #[min = 1]
    #[max = 60]
    days: i64,
) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    let state = ctx.data();
    let until = state.clock.now() + Duration::days(days.clamp(1, 60));
    couples::set_paused_until(&state.pool, couple.id, Some(until)).await?;
    tracing::info!(couple_id = %couple.id, "paused");
    ctx.send(
        CreateReply::default()
            .content(format!(
                "⏸️ {} paused Attune until {}. Nothing will be posted until then — enjoy the time. `/attune resume` picks up earlier.",
                UserId(ctx.author().id.get()).mention(),
                render::ts(until, 'F')
            ))
            .allowed_mentions(no_pings()),
    )
    .await?;
    Ok(())
}

/// Resume prompts after a pause.
#[poise::command(slash_command)]
pub async fn resume(ctx: Ctx<'_>) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    let state = ctx.data();
    let was_paused = couple.is_paused(state.clock.now());
    couples::resume(&state.pool, couple.id).await?;
    tracing::info!(couple_id = %couple.id, "resumed");
    let text = if was_paused {
        format!(
            "▶️ {} resumed Attune. Check-ins pick up at your next scheduled times.",
            UserId(ctx.author().id.get()).mention()
        )
    } else {
        "Attune wasn't paused — everything is running as usual.".to_string()
    };
    ctx.send(
        CreateReply::default()
            .content(text)
            .allowed_mentions(no_pings()),
    )
    .await?;
    Ok(())
}

/// A small attunement moment for you, right now.
#[poise::command(slash_command)]
pub async fn micro(ctx: Ctx<'_>) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    let state = ctx.data();
    let user = UserId(ctx.author().id.get());
    let reply = super::micro::draw_now(state, &couple, user).await?;
    ctx.send(reply).await?;
    Ok(())
}

/// Repair after a misstep: a gentle, guided conversation for the two of you.
#[poise::command(slash_command)]
pub async fn repair(ctx: Ctx<'_>) -> Result<(), BotError> {
    let couple = my_couple(&ctx).await?;
    require_post_permission(&ctx)?;
    super::repair::command(ctx, &couple).await
}

/// Download everything you wrote in Attune, as a file only you see.
#[poise::command(slash_command)]
pub async fn export(ctx: Ctx<'_>) -> Result<(), BotError> {
    let state = ctx.data();
    let user = UserId(ctx.author().id.get());
    // Building the file can take a moment on a long history; Discord allows 3 s to answer.
    ctx.defer_ephemeral().await?;
    let doc = crate::store::export::export(
        &state.pool,
        &state.config.privacy.keys,
        user,
        state.clock.now(),
    )
    .await?;
    let bytes = serde_json::to_vec_pretty(&doc).map_err(BotError::internal)?;
    tracing::info!(bytes = bytes.len(), "export sent");
    ctx.send(
        CreateReply::default()
            .content(
                "Here is everything Attune holds that you wrote or set — only you can see this. \
                 Your partner's answers are theirs to export.",
            )
            .attachment(serenity::CreateAttachment::bytes(
                bytes,
                "attune-export.json",
            ))
            .ephemeral(true)
            .allowed_mentions(no_pings()),
    )
    .await?;
    Ok(())
}

/// Delete everything you wrote in Attune and unlink your couple (asks first).
#[poise::command(slash_command)]
pub async fn forget(ctx: Ctx<'_>) -> Result<(), BotError> {
    ctx.send(render::forget_confirm()).await?;
    Ok(())
}
