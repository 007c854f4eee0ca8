//! The component router: every button, menu and modal submit arrives here with a custom id
//! that is parsed strictly, handed to its flow with who pressed and where, and answered
//! within Discord's deadline; then any followups and posts the flow asked for.

use std::sync::Arc;

use poise::serenity_prelude as serenity;
use serenity::{ComponentInteraction, CreateInteractionResponse, FullEvent, Interaction};

use super::{render, BotError, Data};
use crate::domain::custom_id::{CheckinAction, CustomId};
use crate::flows::{self, Answer, FlowError, Here, Reply, Who};
use crate::metrics::{InteractionKind, Outcome};

pub async fn on_event(
    ctx: &serenity::Context,
    event: &FullEvent,
    data: &Arc<Data>,
) -> Result<(), BotError> {
    if let FullEvent::InteractionCreate { interaction } = event {
        match interaction {
            Interaction::Component(ci) => on_component(ctx, ci, data).await,
            Interaction::Modal(mi) => on_modal(ctx, mi, data).await,
            // poise has answered it by the time this handler runs; the interaction id's
            // timestamp is when Discord created it, the closest start poise leaves us.
            Interaction::Autocomplete(ai) => {
                data.state.metrics.interaction(
                    InteractionKind::Autocomplete,
                    Outcome::Ok,
                    super::since(ai.id.created_at()),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// How long a click or modal submit may work before we answer anyway: Discord fails an
/// interaction not answered within 3 s, and the answer itself needs a moment to travel.
pub const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_millis(2500);

/// Runs an interaction's work under [`ANSWER_WITHIN`]. The pool's acquire timeout bounds a
/// database that is down, but not a query that waits (a row lock held elsewhere, a network
/// that went silent mid-query); dropping the work rolls its open transaction back, so "try
/// again" stays true.
async fn within_deadline<T>(
    work: impl std::future::Future<Output = Result<T, FlowError>>,
) -> Result<T, FlowError> {
    tokio::time::timeout(ANSWER_WITHIN, work)
        .await
        .unwrap_or(Err(FlowError::TooSlow(ANSWER_WITHIN)))
}

/// The first answer to an interaction.
fn first_response(a: &Answer) -> CreateInteractionResponse {
    match &a.reply {
        Reply::Public(card) => {
            CreateInteractionResponse::Message(render::response_data(card, false))
        }
        Reply::Private(card) => {
            CreateInteractionResponse::Message(render::response_data(card, true))
        }
        Reply::Update(card) => {
            CreateInteractionResponse::UpdateMessage(render::response_data(card, false))
        }
        Reply::AskText(req) => CreateInteractionResponse::Modal(render::modal(req)),
    }
}

/// The posts a flow asked for after its answer (a notice in the room). The answer is
/// already given, so a failure here is logged, not shown.
pub async fn post_after(data: &Data, a: &Answer) {
    use crate::transport::Transport;
    for p in &a.posts {
        if let Err(e) = data.transport.post(&p.room, &p.card, &p.key).await {
            tracing::warn!(room_id = %p.room.id, error = %e, "could not post a notice after an answer");
        }
    }
}

async fn on_component(ctx: &serenity::Context, ci: &ComponentInteraction, data: &Arc<Data>) {
    let received = std::time::Instant::now();
    let st = &data.state;
    let who = super::who(&ci.user);
    let here = super::here(ci.channel_id, ci.guild_id, ci.app_permissions);
    let values: &[String] = match &ci.data.kind {
        serenity::ComponentInteractionDataKind::StringSelect { values } => values,
        _ => &[],
    };
    let work = route(st, &who, &here, &ci.data.custom_id, values);
    let result = within_deadline(work).await;
    let mut outcome = super::errors::outcome_of(&result);
    let answer = match result {
        Ok(a) => Some(a),
        Err(e) => {
            e.log("component");
            if let Err(e) = ci
                .create_response(&ctx.http, render::ephemeral_response(&e.text(&st.content)))
                .await
            {
                tracing::warn!(error = %super::transport::describe(&e), "could not answer a component interaction");
                outcome = Outcome::Error;
            }
            None
        }
    };
    if let Some(a) = answer {
        flows::showing(st, a.follow_up.as_ref()).await;
        if let Err(e) = ci.create_response(&ctx.http, first_response(&a)).await {
            tracing::warn!(error = %super::transport::describe(&e), "could not answer a component interaction");
            outcome = Outcome::Error;
            flows::not_shown(st, a.follow_up.as_ref()).await;
        }
        st.metrics
            .interaction(InteractionKind::Component, outcome, received.elapsed());
        for f in &a.followups {
            if let Err(e) = ci.create_followup(&ctx.http, render::followup(f)).await {
                tracing::warn!(error = %super::transport::describe(&e), "could not send a followup");
            }
        }
        post_after(data, &a).await;
        return;
    }
    st.metrics
        .interaction(InteractionKind::Component, outcome, received.elapsed());
}

async fn route(
    st: &crate::state::AppState,
    who: &Who,
    here: &Here,
    custom_id: &str,
    values: &[String],
) -> Result<Answer, FlowError> {
    match custom_id.parse::<CustomId>() {
        Err(e) => {
            tracing::info!(reason = %e, "refused a malformed custom id");
            Err(flows::Refusal::stale().into())
        }
        Ok(id) => flows::press(st, who, here, id, values).await,
    }
}

async fn on_modal(ctx: &serenity::Context, mi: &serenity::ModalInteraction, data: &Arc<Data>) {
    let received = std::time::Instant::now();
    let st = &data.state;
    let who = super::who(&mi.user);
    let here = super::here(mi.channel_id, mi.guild_id, mi.app_permissions);
    let work = async {
        match mi.data.custom_id.parse::<CustomId>() {
            Ok(CustomId::Checkin(id, CheckinAction::NoteModal)) => {
                let note = modal_value(&mi.data.components, flows::checkin::NOTE_FIELD)
                    .unwrap_or_default();
                flows::checkin::note(st, &who, &here, id, &note).await
            }
            Ok(CustomId::Checkin(id, CheckinAction::WeeklyModal)) => {
                // Only the boxes the request had come back; a missing one is left as it was.
                let answers: Vec<(&str, String)> = crate::content::WEEKLY_THEMES
                    .iter()
                    .filter_map(|t| modal_value(&mi.data.components, t).map(|v| (*t, v)))
                    .collect();
                flows::weekly::write(st, &who, &here, id, &answers).await
            }
            Ok(CustomId::Repair(id, action)) => {
                let text = modal_value(&mi.data.components, flows::repair::view::INPUT)
                    .unwrap_or_default();
                flows::repair::write(st, &who, &here, id, action, &text).await
            }
            _ => Err(flows::Refusal::stale().into()),
        }
    };
    let result = within_deadline(work).await;
    let outcome = super::errors::outcome_of(&result);
    let answer = match result {
        Ok(a) => a,
        Err(e) => {
            e.log("modal");
            // The form is gone once submitted: what was typed comes back with the answer.
            let typed: Vec<String> = mi
                .data
                .components
                .iter()
                .flat_map(|r| r.components.iter())
                .filter_map(|c| match c {
                    serenity::ActionRowComponent::InputText(t) => t.value.clone(),
                    _ => None,
                })
                .filter(|v| !v.trim().is_empty())
                .collect();
            Answer::from(Reply::Private(flows::unsaved(&st.content, &e, &typed)))
        }
    };
    flows::showing(st, answer.follow_up.as_ref()).await;
    if let Err(e) = mi.create_response(&ctx.http, first_response(&answer)).await {
        tracing::warn!(error = %super::transport::describe(&e), "could not answer a modal");
        flows::not_shown(st, answer.follow_up.as_ref()).await;
        st.metrics
            .interaction(InteractionKind::Modal, Outcome::Error, received.elapsed());
        return;
    }
    st.metrics
        .interaction(InteractionKind::Modal, outcome, received.elapsed());
    // A private followup comes after the public answer (the start of a repair shows the
    // named moment back to its writer only).
    for f in &answer.followups {
        if let Err(e) = mi.create_followup(&ctx.http, render::followup(f)).await {
            tracing::warn!(error = %super::transport::describe(&e), "could not send a modal followup");
        }
    }
    post_after(data, &answer).await;
}

/// The value of a modal's text input, by its custom id.
pub fn modal_value(rows: &[serenity::ActionRow], custom_id: &str) -> Option<String> {
    rows.iter()
        .flat_map(|r| r.components.iter())
        .find_map(|c| match c {
            serenity::ActionRowComponent::InputText(t) if t.custom_id == custom_id => {
                t.value.clone()
            }
            _ => None,
        })
}
