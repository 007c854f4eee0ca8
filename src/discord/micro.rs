//! Micro-prompts as the couple sees them: a quiet public teaser that only the addressed
//! partner can open, the private prompt with "Did it" / "Not now" / "Another one", and
//! `/micro`. What a partner is nudged to notice stays between them and the bot.

use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateButton, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage,
};

use super::render::ping;
use super::{no_pings, render, BotError};
use crate::app::AppState;
use crate::content::{expand, Library};
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CustomId, MicroAction as A};
use crate::domain::ids::{ChannelId, MicroId, UserId};
use crate::store::{couples, micro};

fn id(m: MicroId, a: A) -> String {
    CustomId::Micro(m, a).encode()
}

/// A friendly name for each concept in the library.
pub fn concept_label(concept: &str) -> &'static str {
    match concept {
        "feel_find_reflect" => "Feel, find, reflect",
        "body_cues" => "Noticing cues",
        "listen_or_help" => "Listen or help?",
        "self_attunement" => "You first",
        "gratitude" => "Gratitude",
        "love_languages" => "Ways of caring",
        "bids" => "Bids for connection",
        "screen_free" => "Screen-free time",
        "small_wins" => "Small wins",
        "i_statements" => "Speaking from “I”",
        "curiosity" => "Curiosity",
        "staying_with_emotion" => "Staying with the feeling",
        _ => "A small moment",
    }
}

pub fn teaser(row: MicroId, user: UserId) -> CreateMessage {
    CreateMessage::new()
        .content(format!(
            "🌱 {}, a small moment for today — just for you.",
            user.mention()
        ))
        .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(id(
            row,
            A::Open,
        ))
        .label("Open")
        .style(ButtonStyle::Primary)])])
        .allowed_mentions(ping(&[user]))
}

fn prompt_view(
    lib: &Library,
    row: MicroId,
    prompt_id: &str,
    user: UserId,
    partner: Option<UserId>,
) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(view_content(lib, prompt_id, user, partner))
        .components(view_components(row))
        .allowed_mentions(no_pings())
}

fn closed(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(text)
            .components(vec![])
            .allowed_mentions(no_pings()),
    )
}

/// `/micro`: a prompt now, privately, from the same bag as the scheduled ones.
pub async fn draw_now(
    state: &AppState,
    couple: &Couple,
    user: UserId,
) -> Result<poise::CreateReply, BotError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let Some((prompt, concept)) = crate::scheduler::micro::draw_prompt(
        &mut tx,
        &state.content,
        state.config.scheduler.seed,
        couple.id,
        None,
    )
    .await?
    else {
        return Err(BotError::user("The prompt library is empty right now."));
    };
    let row = MicroId::new();
    micro::insert(
        &mut *tx, row, couple.id, user, &prompt, &concept, "command", None, now,
    )
    .await?;
    tx.commit().await?;
    let partner = couple.other(user).map(|p| p.user);
    // Same text and buttons as the scheduled prompt, as a private reply.
    Ok(poise::CreateReply::default()
        .content(view_content(&state.content, &prompt, user, partner))
        .components(view_components(row))
        .ephemeral(true)
        .allowed_mentions(no_pings()))
}

fn view_content(lib: &Library, prompt: &str, user: UserId, partner: Option<UserId>) -> String {
    let partner = partner.map_or("your partner".to_string(), UserId::mention);
    lib.micro_by_id(prompt).map_or_else(
        || {
            "This prompt is no longer in the library. Press **Another one** for a fresh one."
                .to_string()
        },
        |p| {
            let mut t = format!(
                "**{}** · only you see this\n> {}",
                concept_label(&p.concept),
                expand(&p.text, &partner, &user.mention())
            );
            if let Some(f) = &p.follow_up {
                t.push_str(&format!("\n*{}*", expand(f, &partner, &user.mention())));
            }
            t
        },
    )
}

fn view_components(row: MicroId) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(id(row, A::Done))
            .label("Did it")
            .style(ButtonStyle::Success),
        CreateButton::new(id(row, A::NotNow))
            .label("Not now")
            .style(ButtonStyle::Secondary),
        CreateButton::new(id(row, A::Another))
            .label("Another one")
            .style(ButtonStyle::Secondary),
    ])]
}

pub async fn on_component(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    row_id: MicroId,
    action: A,
) -> Result<CreateInteractionResponse, BotError> {
    let Some(row) = micro::get(&state.pool, row_id).await? else {
        return Err(BotError::user(render::STALE_BUTTON));
    };
    let Some(couple) = couples::get(&state.pool, row.couple(), true).await? else {
        return Err(BotError::user(render::STALE_BUTTON));
    };
    if couple.channel != channel {
        return Err(BotError::user(render::WRONG_CHANNEL));
    }
    if !couple.is_partner(user) {
        return Err(BotError::user(render::NOT_YOUR_SPACE));
    }
    if row.user() != user {
        return Err(BotError::user(format!(
            "This one is for {} — yours will come along too.",
            row.user().mention()
        )));
    }
    let partner = couple.other(user).map(|p| p.user);
    let now = state.clock.now();
    match action {
        A::Open => Ok(CreateInteractionResponse::Message(
            prompt_view(&state.content, row_id, &row.prompt_id, user, partner).ephemeral(true),
        )),
        A::Done | A::NotNow => {
            let mut tx = state.pool.begin().await?;
            let locked = micro::lock(&mut tx, row_id)
                .await?
                .ok_or_else(|| BotError::user(render::STALE_BUTTON))?;
            if locked.outcome.as_deref() == Some("another") {
                return Err(BotError::user(render::STALE_BUTTON));
            }
            let outcome = if action == A::Done { "done" } else { "not_now" };
            micro::set_outcome(&mut *tx, row_id, outcome, now).await?;
            tx.commit().await?;
            Ok(closed(if action == A::Done {
                "Lovely. Small moments like this add up. 💛"
            } else {
                "No problem — another moment will come along."
            }))
        }
        A::Another => {
            let mut tx = state.pool.begin().await?;
            let locked = micro::lock(&mut tx, row_id)
                .await?
                .ok_or_else(|| BotError::user(render::STALE_BUTTON))?;
            if locked.outcome.is_some() {
                return Err(BotError::user(
                    "You've already answered this one. `/micro` brings a fresh prompt any time.",
                ));
            }
            let Some((prompt, concept)) = crate::scheduler::micro::draw_prompt(
                &mut tx,
                &state.content,
                state.config.scheduler.seed,
                couple.id,
                Some(&row.prompt_id),
            )
            .await?
            else {
                return Err(BotError::user("The prompt library is empty right now."));
            };
            micro::set_outcome(&mut *tx, row_id, "another", now).await?;
            let next = MicroId::new();
            micro::insert(
                &mut *tx, next, couple.id, user, &prompt, &concept, "another", None, now,
            )
            .await?;
            tx.commit().await?;
            Ok(CreateInteractionResponse::UpdateMessage(prompt_view(
                &state.content,
                next,
                &prompt,
                user,
                partner,
            )))
        }
    }
}
