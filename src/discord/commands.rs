//! The slash commands: each parses what Discord sent into a flow's typed input, calls the
//! flow, and renders its answer. Option descriptions are Discord metadata, registered with
//! the commands.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use poise::serenity_prelude as serenity;

use super::{render, BotError, Ctx, Data};
use crate::domain::schedule::MicroFrequency;
use crate::domain::zones;
use crate::flows::{self, Answer, Here, Reply, Who};

pub fn all() -> Vec<poise::Command<Arc<Data>, BotError>> {
    vec![attune(), checkin(), micro(), recap(), repair()]
}

fn who(ctx: &Ctx<'_>) -> Who {
    super::who(ctx.author())
}

fn here(ctx: &Ctx<'_>) -> Here {
    let permissions = match ctx {
        poise::Context::Application(app) => app.interaction.app_permissions,
        poise::Context::Prefix(_) => None,
    };
    super::here(ctx.channel_id(), ctx.guild_id(), permissions)
}

/// [`here`], with whether everyone in the server can read the channel (for setup and status,
/// which tell the couple so).
async fn here_and_who_reads(ctx: &Ctx<'_>) -> Here {
    let mut h = here(ctx);
    if let Some(guild) = ctx.guild_id() {
        h.open_to_others =
            super::open_to_everyone(&ctx.serenity_context().http, guild, ctx.channel_id()).await;
    }
    h
}

/// Sends a flow's answer as the command's reply (and its followups and posts).
async fn answer(ctx: Ctx<'_>, a: Answer) -> Result<(), BotError> {
    let st = &ctx.data().state;
    flows::showing(st, a.follow_up.as_ref()).await;
    if let Err(e) = reply(ctx, &a).await {
        flows::not_shown(st, a.follow_up.as_ref()).await;
        return Err(e);
    }
    for f in &a.followups {
        ctx.send(render::reply(f, true)).await?;
    }
    super::router::post_after(ctx.data(), &a).await;
    Ok(())
}

/// The command's first reply.
async fn reply(ctx: Ctx<'_>, a: &Answer) -> Result<(), BotError> {
    match &a.reply {
        Reply::Public(card) => {
            ctx.send(render::reply(card, false)).await?;
        }
        Reply::Private(card) | Reply::Update(card) => {
            ctx.send(render::reply(card, true)).await?;
        }
        Reply::AskText(req) => {
            let poise::Context::Application(app) = ctx else {
                return Err(BotError(flows::Refusal::stale().into()));
            };
            app.interaction
                .create_response(
                    ctx.http(),
                    serenity::CreateInteractionResponse::Modal(render::modal(req)),
                )
                .await?;
            app.has_sent_initial_response.store(true, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// Attune: a practice space for the two of you.
#[poise::command(
    slash_command,
    subcommands(
        "setup", "timezone", "schedule", "care", "pause", "resume", "status", "help", "export",
        "forget", "leave"
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
    let invitee = flows::onboarding::Invitee {
        who: super::who(&partner),
        is_bot: partner.bot,
    };
    let here = here_and_who_reads(&ctx).await;
    let a = flows::onboarding::setup(&ctx.data().state, &who(&ctx), &here, &invitee).await?;
    answer(ctx, a).await
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
    let a = flows::onboarding::set_zone(&ctx.data().state, &who(&ctx), &zone).await?;
    answer(ctx, a).await
}

/// See how Attune is set up in this channel.
#[poise::command(slash_command)]
pub async fn status(ctx: Ctx<'_>) -> Result<(), BotError> {
    let here = here_and_who_reads(&ctx).await;
    let a = flows::onboarding::status(&ctx.data().state, &who(&ctx), &here).await?;
    answer(ctx, a).await
}

/// Choose, privately, how you like to receive care.
#[poise::command(slash_command)]
pub async fn care(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::care::command(&ctx.data().state, &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
}

/// What Attune is and isn't, how to pause or erase, and where to find help (only you see it).
#[poise::command(slash_command)]
pub async fn help(ctx: Ctx<'_>) -> Result<(), BotError> {
    answer(ctx, flows::onboarding::help(&ctx.data().state.content)).await
}

/// Unlink the two of you from this channel (asks first).
#[poise::command(slash_command)]
pub async fn leave(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::onboarding::leave(&ctx.data().state, &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
}

/// Start a check-in for both of you right now.
#[poise::command(slash_command)]
pub async fn checkin(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::checkin::now(&ctx.data().state, &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
}

/// See your week so far: your practice, how you read each other, and a mood chart.
#[poise::command(slash_command)]
pub async fn recap(ctx: Ctx<'_>) -> Result<(), BotError> {
    let st = &ctx.data().state;
    // Refuse before deferring, so a refusal stays a short private answer.
    flows::recap::may_show(st, &who(&ctx), &here(&ctx)).await?;
    // Deferred, because reading the week and drawing the chart may take longer than
    // Discord's 3 s on a busy host.
    ctx.defer().await?;
    let transport = ctx.data().transport.clone();
    let a = flows::recap::now(st, transport.as_ref(), &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
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
pub enum WeeklyChoice {
    #[name = "off"]
    Off,
    #[name = "on the recap's day"]
    RecapDay,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum LivingChoice {
    #[name = "together"]
    Together,
    #[name = "apart (calls and messages)"]
    Apart,
}

fn weekday_of(d: DayChoice) -> chrono::Weekday {
    use chrono::Weekday;
    match d {
        DayChoice::Monday => Weekday::Mon,
        DayChoice::Tuesday => Weekday::Tue,
        DayChoice::Wednesday => Weekday::Wed,
        DayChoice::Thursday => Weekday::Thu,
        DayChoice::Friday => Weekday::Fri,
        DayChoice::Saturday => Weekday::Sat,
        DayChoice::Sunday => Weekday::Sun,
    }
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
    #[description = "The day for your weekly check-in, or off"] weekly: Option<WeeklyChoice>,
    #[description = "The time for your weekly check-in, like 10:00"]
    #[max_length = 10]
    weekly_time: Option<String>,
    #[description = "Do you live together, or apart?"] living: Option<LivingChoice>,
) -> Result<(), BotError> {
    use flows::settings::WeeklyDay;
    let input = flows::settings::ScheduleInput {
        morning,
        evening,
        days,
        waking_start,
        waking_end,
        window_hours,
        reminder_minutes,
        quiet_start,
        quiet_end,
        micro: micro.map(|m| match m {
            MicroChoice::Off => MicroFrequency::Off,
            MicroChoice::Few => MicroFrequency::Few,
            MicroChoice::Daily => MicroFrequency::Daily,
        }),
        recap_day: recap_day.map(weekday_of),
        recap_time,
        weekly: weekly.map(|w| match w {
            WeeklyChoice::Off => WeeklyDay::Off,
            WeeklyChoice::RecapDay => WeeklyDay::RecapDay,
            WeeklyChoice::Monday => WeeklyDay::Day(weekday_of(DayChoice::Monday)),
            WeeklyChoice::Tuesday => WeeklyDay::Day(weekday_of(DayChoice::Tuesday)),
            WeeklyChoice::Wednesday => WeeklyDay::Day(weekday_of(DayChoice::Wednesday)),
            WeeklyChoice::Thursday => WeeklyDay::Day(weekday_of(DayChoice::Thursday)),
            WeeklyChoice::Friday => WeeklyDay::Day(weekday_of(DayChoice::Friday)),
            WeeklyChoice::Saturday => WeeklyDay::Day(weekday_of(DayChoice::Saturday)),
            WeeklyChoice::Sunday => WeeklyDay::Day(weekday_of(DayChoice::Sunday)),
        }),
        weekly_time,
        apart: living.map(|l| matches!(l, LivingChoice::Apart)),
    };
    let a = flows::settings::schedule(&ctx.data().state, &who(&ctx), &here(&ctx), &input).await?;
    answer(ctx, a).await
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
    let a = flows::settings::pause(&ctx.data().state, &who(&ctx), &here(&ctx), days).await?;
    answer(ctx, a).await
}

/// Resume prompts after a pause.
#[poise::command(slash_command)]
pub async fn resume(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::settings::resume(&ctx.data().state, &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
}

/// A small attunement moment for you, right now.
#[poise::command(slash_command)]
pub async fn micro(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::micro::now(&ctx.data().state, &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
}

/// Repair after a misstep: a gentle, guided conversation for the two of you.
#[poise::command(slash_command)]
pub async fn repair(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::repair::command(&ctx.data().state, &who(&ctx), &here(&ctx)).await?;
    answer(ctx, a).await
}

/// Download everything you wrote in Attune, as a file only you see.
#[poise::command(slash_command)]
pub async fn export(ctx: Ctx<'_>) -> Result<(), BotError> {
    // Building the file can take a moment on a long history; Discord allows 3 s to answer.
    ctx.defer_ephemeral().await?;
    let a = flows::privacy::export(&ctx.data().state, &who(&ctx)).await?;
    answer(ctx, a).await
}

/// Delete everything you wrote in Attune and unlink your couple (asks first).
#[poise::command(slash_command)]
pub async fn forget(ctx: Ctx<'_>) -> Result<(), BotError> {
    let a = flows::privacy::forget(&ctx.data().state, &who(&ctx)).await?;
    answer(ctx, a).await
}
