//! Everything the couple reads: the words and the Discord builders that carry them.
//! Text is warm, short and plain; it never blames and never pings more than it must.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponse, CreateInteractionResponseMessage, UserId as SUserId,
};

use super::no_pings;
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CustomId, ForgetAction, InviteAction, LeaveAction};
use crate::domain::ids::{CoupleId, UserId};
use crate::domain::schedule::{CoupleSettings, MicroFrequency, PartnerSchedule};
use crate::store::invitations::Invitation;

/// The accent colour of every embed: a soft warm rose.
pub const COLOUR: u32 = 0xE8_8F_A0;

pub const SORRY: &str =
    "Sorry, something went wrong on my side. Nothing you did — please try again in a moment.";
pub const TRY_AGAIN: &str =
    "I couldn't save that just now. Please try again in a moment — nothing was lost.";
pub const BAD_ARGUMENT: &str = "I couldn't read that option. Please try the command again.";
pub const DM_REFUSAL: &str =
    "Attune lives in a channel the two of you share. Please run this in your private server channel.";
pub const SETUP_BOT_PARTNER: &str =
    "Bots make poor partners for this. Please invite the person you want to practise with.";
pub const SETUP_SELF: &str =
    "Attune is for two. Please invite the person you want to practise with.";
pub const SETUP_ALREADY_YOURS: &str =
    "You two are already set up here. `/attune status` shows how things stand.";
pub const SETUP_CHANNEL_TAKEN: &str =
    "This channel already belongs to a couple. Try a private channel of your own.";
pub const NO_COUPLE_HERE: &str =
    "There's no Attune couple in this channel yet. Start with `/attune setup partner:@them`.";
pub const NOT_YOUR_SPACE: &str =
    "This channel is another couple's space, so I can't do that for you here.";
pub const CANNOT_POST_HERE: &str =
    "I can't post in this channel yet. Please let me View Channel, Send Messages, Embed Links and Attach Files here (channel settings → Permissions), then try again.";
pub const STALE_BUTTON: &str = "That button isn't active any more. Nothing was changed.";
pub const WRONG_CHANNEL: &str = "That button belongs to another channel. Nothing was changed.";
pub const ZONE_EMPTY: &str = "Please give a time zone, like `Europe/Berlin` or just `Berlin`.";
pub const ZONE_TOO_LONG: &str =
    "That's longer than any time zone name. Try a city, like `Berlin` or `New York`.";

/// Allowed mentions that notify exactly these people and nobody else.
pub fn ping(users: &[UserId]) -> CreateAllowedMentions {
    no_pings().users(users.iter().map(|u| SUserId::new(u.0)))
}

/// A Discord timestamp; each reader sees it in their own local time.
pub fn ts(at: DateTime<Utc>, style: char) -> String {
    format!("<t:{}:{style}>", at.timestamp())
}

pub fn setup_already_pending(inviter: UserId, invitee: UserId) -> String {
    format!(
        "{} already has an invitation from {} waiting in this channel. It stays open for a week.",
        invitee.mention(),
        inviter.mention()
    )
}

pub fn zone_unknown(suggestions: &[&str]) -> String {
    if suggestions.is_empty() {
        "I don't know that time zone. Try a city near you, like `Berlin`, or a name like `America/New_York`.".into()
    } else {
        let list = suggestions
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("I don't know that time zone. Did you mean one of these? {list}")
    }
}

pub fn zone_set(tz: Tz, now: DateTime<Utc>) -> String {
    let local = now.with_timezone(&tz);
    format!(
        "Your time zone is now **{}** — it's {} there. Prompts will reach you at your own local times.",
        tz.name(),
        local.format("%H:%M on %A")
    )
}

fn button(id: CustomId, label: &str, style: serenity::ButtonStyle) -> CreateButton {
    CreateButton::new(id.encode()).label(label).style(style)
}

pub fn invitation(inv: &Invitation) -> CreateReply {
    let embed = CreateEmbed::new()
        .colour(COLOUR)
        .title("An invitation to practise together")
        .description(format!(
            "{} would like to use this channel for small, regular moments of tuning in to each other: \
             short check-ins, tiny daily nudges, and a gentle way to repair after a misstep.\n\n\
             Your answers stay private until you both choose to share them.",
            inv.inviter.mention()
        ))
        .footer(CreateEmbedFooter::new(
            "Attune is a practice companion, not therapy. This invitation is open for 7 days.",
        ));
    CreateReply::default()
        .content(format!(
            "{}, you're invited by {}.",
            inv.invitee.mention(),
            inv.inviter.mention()
        ))
        .embed(embed)
        .components(vec![CreateActionRow::Buttons(vec![
            button(
                CustomId::Invite(inv.id, InviteAction::Accept),
                "Accept",
                serenity::ButtonStyle::Success,
            ),
            button(
                CustomId::Invite(inv.id, InviteAction::Decline),
                "Not now",
                serenity::ButtonStyle::Secondary,
            ),
        ])])
        .allowed_mentions(ping(&[inv.invitee]))
}

pub fn invitation_accepted(inviter: UserId, invitee: UserId) -> CreateInteractionResponse {
    let embed = CreateEmbed::new()
        .colour(COLOUR)
        .title("You're linked here 💛")
        .description(format!(
            "{} and {} now share this channel for practice.\n\n\
             Next, each of you sets your own time zone with `/attune timezone`, so prompts \
             arrive at a good moment for each of you. `/attune status` shows everything.",
            inviter.mention(),
            invitee.mention()
        ));
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content("")
            .embed(embed)
            .components(vec![])
            .allowed_mentions(no_pings()),
    )
}

pub fn invitation_declined(invitee: UserId) -> CreateInteractionResponse {
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(format!(
                "{} said not now, and that's okay. This invitation is closed.",
                invitee.mention()
            ))
            .embeds(vec![])
            .components(vec![])
            .allowed_mentions(no_pings()),
    )
}

pub fn invitation_withdrawn(inviter: UserId) -> CreateInteractionResponse {
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(format!("{} withdrew this invitation.", inviter.mention()))
            .embeds(vec![])
            .components(vec![])
            .allowed_mentions(no_pings()),
    )
}

pub fn invitation_not_for_you(invitee: UserId) -> String {
    format!(
        "This invitation is for {}, so only they can answer it. Nothing was changed.",
        invitee.mention()
    )
}

pub fn invitation_expired(inviter: UserId) -> String {
    format!(
        "This invitation has expired. {} can send a fresh one with `/attune setup`.",
        inviter.mention()
    )
}

pub const INVITATION_ANSWERED: &str = "This invitation has already been answered.";
pub const INVITATION_OWN_ACCEPT: &str =
    "This is your own invitation — it's waiting for your partner to accept.";

fn upcoming_lines(upcoming: &[(UserId, String, DateTime<Utc>)], max: usize) -> String {
    if upcoming.is_empty() {
        return "No check-ins scheduled — `/attune schedule` sets them.".into();
    }
    upcoming
        .iter()
        .take(max)
        .map(|(u, slot, at)| {
            format!(
                "{} · {slot} — {} ({})",
                u.mention(),
                ts(*at, 'F'),
                ts(*at, 'R')
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn shared_line(couple: &Couple, s: &CoupleSettings) -> String {
    let hours = |d: chrono::Duration| {
        let m = d.num_minutes();
        if m % 60 == 0 {
            format!("{} h", m / 60)
        } else {
            format!("{m} min")
        }
    };
    let reminder = s.reminder.map_or("no reminder".into(), |d| {
        format!("one reminder after {}", hours(d))
    });
    let quiet = s.quiet.map_or("no quiet hours".into(), |(a, b)| {
        format!("quiet {}–{}", a.format("%H:%M"), b.format("%H:%M"))
    });
    let micro = match s.micro {
        MicroFrequency::Off => "nudges off",
        MicroFrequency::Few => "nudges a few times a week",
        MicroFrequency::Daily => "a nudge a day",
    };
    format!(
        "Answers open for {} · {reminder} · {quiet} · {micro}\nWeekly recap: {}s at {} ({}'s time, {})",
        hours(s.window),
        s.recap_weekday,
        s.recap_time.format("%H:%M"),
        couple.created_by.mention(),
        couple.home_zone().name()
    )
}

pub fn status(
    couple: &Couple,
    settings: &CoupleSettings,
    upcoming: &[(UserId, String, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> CreateReply {
    let mut embed = CreateEmbed::new()
        .colour(COLOUR)
        .title("Attune in this channel");
    for p in &couple.partners {
        let value = match p.zone {
            Some(tz) => format!(
                "{}\n{} — {} there now",
                p.user.mention(),
                tz.name(),
                now.with_timezone(&tz).format("%H:%M, %a")
            ),
            None => format!(
                "{}\nNo time zone yet, so times follow UTC — `/attune timezone` sets it",
                p.user.mention()
            ),
        };
        embed = embed.field(if p.seat == 1 { "Partner" } else { "And" }, value, true);
    }
    let state = if couple.unreachable_since.is_some() {
        "Paused: I couldn't post in this channel. Check that I can view and send messages here, then `/attune resume`.".to_string()
    } else {
        match couple.paused_until {
            Some(t) if t > now => format!("Paused until {} ({})", ts(t, 'F'), ts(t, 'R')),
            _ => "Active".to_string(),
        }
    };
    embed = embed
        .field("State", state, false)
        .field("Next check-ins", upcoming_lines(upcoming, 4), false)
        .field("Shared rhythm", shared_line(couple, settings), false)
        .footer(CreateEmbedFooter::new(format!(
            "Together here since {}",
            couple.created_at.format("%Y-%m-%d")
        )));
    CreateReply::default()
        .embed(embed)
        .ephemeral(true)
        .allowed_mentions(no_pings())
}

pub fn schedule_saved(
    couple: &Couple,
    user: UserId,
    mine: &PartnerSchedule,
    shared: &CoupleSettings,
    upcoming: &[(UserId, String, DateTime<Utc>)],
) -> CreateReply {
    let t =
        |v: Option<chrono::NaiveTime>| v.map_or("off".into(), |t| t.format("%H:%M").to_string());
    let embed = CreateEmbed::new()
        .colour(COLOUR)
        .title("Schedule saved")
        .description(format!(
            "{}: morning {}, evening {}, {} ({}) · nudges between {} and {}",
            user.mention(),
            t(mine.morning),
            t(mine.evening),
            mine.days.describe(),
            mine.zone.name(),
            mine.waking_start.format("%H:%M"),
            mine.waking_end.format("%H:%M"),
        ))
        .field("Next check-ins", upcoming_lines(upcoming, 4), false)
        .field("Shared rhythm", shared_line(couple, shared), false);
    CreateReply::default()
        .embed(embed)
        .ephemeral(true)
        .allowed_mentions(no_pings())
}

pub fn leave_confirm(couple: CoupleId) -> CreateReply {
    CreateReply::default()
        .content(
            "Unlink the two of you from this channel? Scheduled prompts stop for both of you. \
             You can set up again any time.",
        )
        .components(vec![CreateActionRow::Buttons(vec![
            button(
                CustomId::Leave(couple, LeaveAction::Confirm),
                "Yes, unlink us",
                serenity::ButtonStyle::Danger,
            ),
            button(
                CustomId::Leave(couple, LeaveAction::Cancel),
                "Keep us linked",
                serenity::ButtonStyle::Secondary,
            ),
        ])])
        .ephemeral(true)
        .allowed_mentions(no_pings())
}

pub fn update_text(text: impl Into<String>) -> CreateInteractionResponse {
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(text)
            .embeds(vec![])
            .components(vec![])
            .allowed_mentions(no_pings()),
    )
}

pub fn left_notice(by: UserId) -> serenity::CreateMessage {
    serenity::CreateMessage::new()
        .content(format!(
            "{} unlinked Attune from this channel. Thank you both for the practice you did here. \
             `/attune setup` starts again whenever you like.",
            by.mention()
        ))
        .allowed_mentions(no_pings())
}

pub fn ephemeral_response(text: impl Into<String>) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(no_pings()),
    )
}

pub fn forget_confirm() -> CreateReply {
    let id = uuid::Uuid::new_v4();
    CreateReply::default()
        .content(
            "This deletes everything you wrote in Attune — check-in answers and notes, small \
             moments, repair texts and agreements — and your settings, and unlinks you from your \
             couple. Your partner's own answers stay theirs. It can't be undone; \
             `/attune export` first if you'd like a copy.",
        )
        .components(vec![CreateActionRow::Buttons(vec![
            CreateButton::new(CustomId::Forget(id, ForgetAction::Confirm).encode())
                .label("Yes, forget me")
                .style(serenity::ButtonStyle::Danger),
            CreateButton::new(CustomId::Forget(id, ForgetAction::Cancel).encode())
                .label("Keep my data")
                .style(serenity::ButtonStyle::Secondary),
        ])])
        .ephemeral(true)
        .allowed_mentions(no_pings())
}

/// Posted where a couple was linked, after one partner chose to be forgotten.
pub fn forgotten_notice(remaining: &[UserId]) -> serenity::CreateMessage {
    let who = remaining
        .iter()
        .map(|u| u.mention())
        .collect::<Vec<_>>()
        .join(" ");
    serenity::CreateMessage::new()
        .content(format!(
            "{who} Your partner has chosen to remove their Attune data, so Attune is no longer \
             linked here. Your own answers are still yours: `/attune export` shows them, and \
             `/attune forget` removes them. Take good care of yourself. 💛"
        ))
        .allowed_mentions(ping(remaining))
}
