//! The component router: every button, select and modal submit arrives here with a custom id
//! that is parsed strictly, then checked against the database (who clicked, which channel,
//! what state the item is in) before anything is written.

use std::sync::Arc;

use poise::serenity_prelude as serenity;
use serenity::{ComponentInteraction, CreateInteractionResponse, FullEvent, Interaction};

use super::{render, BotError};
use crate::app::AppState;
use crate::domain::custom_id::{CustomId, InviteAction, LeaveAction};
use crate::domain::ids::{ChannelId, CoupleId, InvitationId, UserId};
use crate::ops::{InteractionKind, Outcome};
use crate::store::invitations::InvitationStatus;
use crate::store::{couples, invitations};

pub async fn on_event(
    ctx: &serenity::Context,
    event: &FullEvent,
    state: &Arc<AppState>,
) -> Result<(), BotError> {
    if let FullEvent::InteractionCreate { interaction } = event {
        match interaction {
            Interaction::Component(ci) => on_component(ctx, ci, state).await,
            Interaction::Modal(mi) => on_modal(ctx, mi, state).await,
            // poise has answered it by the time this handler runs; the interaction id's
            // timestamp is when Discord created it, the closest start poise leaves us.
            Interaction::Autocomplete(ai) => {
                state.metrics.interaction(
                    InteractionKind::Autocomplete,
                    Outcome::Ok,
                    crate::ops::since(ai.id.created_at()),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// Who pressed what, where: the parsed facts every handler starts from.
pub struct Press<'a> {
    pub ctx: &'a serenity::Context,
    pub interaction: &'a ComponentInteraction,
    pub state: &'a Arc<AppState>,
    pub user: UserId,
    pub channel: ChannelId,
}

async fn on_component(ctx: &serenity::Context, ci: &ComponentInteraction, state: &Arc<AppState>) {
    let received = std::time::Instant::now();
    let press = Press {
        ctx,
        interaction: ci,
        state,
        user: UserId(ci.user.id.get()),
        channel: ChannelId(ci.channel_id.get()),
    };
    let work = async {
        match ci.data.custom_id.parse::<CustomId>() {
            Err(e) => {
                tracing::info!(reason = %e, "refused a malformed custom id");
                Err(BotError::user(render::STALE_BUTTON))
            }
            Ok(CustomId::Invite(id, action)) => on_invite(&press, id, action).await,
            Ok(CustomId::Leave(id, action)) => on_leave(&press, id, action).await,
            Ok(CustomId::Checkin(id, action)) => {
                let values: &[String] = match &ci.data.kind {
                    serenity::ComponentInteractionDataKind::StringSelect { values } => values,
                    _ => &[],
                };
                super::checkin::on_component(state, press.user, press.channel, id, action, values)
                    .await
            }
            Ok(CustomId::Forget(_, action)) => on_forget(&press, action).await,
            Ok(CustomId::Micro(id, action)) => {
                super::micro::on_component(state, press.user, press.channel, id, action).await
            }
            Ok(CustomId::Repair(id, action)) => {
                super::repair::on_component(state, press.user, press.channel, id, action).await
            }
        }
    };
    let result = within_deadline(work).await;
    let mut outcome = outcome_of(&result);
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            e.log("component");
            render::ephemeral_response(e.user_text())
        }
    };
    if let Err(e) = ci.create_response(&ctx.http, response).await {
        tracing::warn!(error = %e, "could not answer a component interaction");
        outcome = Outcome::Error;
    }
    state
        .metrics
        .interaction(InteractionKind::Component, outcome, received.elapsed());
}

/// How a handler's result counts in the metrics.
pub fn outcome_of<T>(result: &Result<T, BotError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(BotError::User(_)) => Outcome::Refused,
        Err(_) => Outcome::Error,
    }
}

/// How long a click or modal submit may work before we answer anyway: Discord fails an
/// interaction not answered within 3 s, and the answer itself needs a moment to travel.
pub const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_millis(2500);

/// Runs an interaction's work under [`ANSWER_WITHIN`]. The pool's acquire timeout bounds a
/// database that is down, but not a query that waits (a row lock held elsewhere, a network
/// that went silent mid-query); dropping the work rolls its open transaction back, so "try
/// again" stays true.
async fn within_deadline<T>(
    work: impl std::future::Future<Output = Result<T, BotError>>,
) -> Result<T, BotError> {
    tokio::time::timeout(ANSWER_WITHIN, work)
        .await
        .unwrap_or(Err(BotError::TooSlow(ANSWER_WITHIN)))
}

async fn on_invite(
    p: &Press<'_>,
    id: InvitationId,
    action: InviteAction,
) -> Result<CreateInteractionResponse, BotError> {
    let now = p.state.clock.now();
    let Some(inv) = invitations::get(&p.state.pool, id).await? else {
        return Err(BotError::user(render::STALE_BUTTON));
    };
    if inv.channel != p.channel {
        return Err(BotError::user(render::WRONG_CHANNEL));
    }
    if inv.status != InvitationStatus::Pending {
        return Err(BotError::user(render::INVITATION_ANSWERED));
    }
    // The inviter may withdraw their own invitation but not accept it.
    if p.user == inv.inviter && p.user != inv.invitee {
        return match action {
            InviteAction::Decline => {
                if invitations::decide(&p.state.pool, id, InvitationStatus::Cancelled, None, now)
                    .await?
                {
                    Ok(render::invitation_withdrawn(inv.inviter))
                } else {
                    Err(BotError::user(render::INVITATION_ANSWERED))
                }
            }
            InviteAction::Accept => Err(BotError::user(render::INVITATION_OWN_ACCEPT)),
        };
    }
    if p.user != inv.invitee {
        return Err(BotError::user(render::invitation_not_for_you(inv.invitee)));
    }
    if now >= inv.expires_at {
        return Err(BotError::user(render::invitation_expired(inv.inviter)));
    }
    match action {
        InviteAction::Decline => {
            if invitations::decide(&p.state.pool, id, InvitationStatus::Declined, None, now).await?
            {
                tracing::info!(invitation_id = %id, "invitation declined");
                Ok(render::invitation_declined(inv.invitee))
            } else {
                Err(BotError::user(render::INVITATION_ANSWERED))
            }
        }
        InviteAction::Accept => {
            let mut tx = p.state.pool.begin().await?;
            let Some(couple) = couples::create(
                &mut tx,
                inv.guild,
                inv.channel,
                inv.inviter,
                inv.invitee,
                now,
            )
            .await?
            else {
                return Err(BotError::user(render::SETUP_CHANNEL_TAKEN));
            };
            if !invitations::decide(&mut *tx, id, InvitationStatus::Accepted, Some(couple), now)
                .await?
            {
                // Rolled back on drop: the other click won.
                return Err(BotError::user(render::INVITATION_ANSWERED));
            }
            invitations::cancel_pending_in_channel(&mut *tx, inv.channel, now).await?;
            crate::scheduler::plan::plan_couple(
                &mut tx,
                p.state.config.scheduler.seed,
                couple,
                &[inv.inviter, inv.invitee],
                now,
            )
            .await?;
            tx.commit().await?;
            tracing::info!(couple_id = %couple, invitation_id = %id, "couple created");
            Ok(render::invitation_accepted(inv.inviter, inv.invitee))
        }
    }
}

async fn on_leave(
    p: &Press<'_>,
    id: CoupleId,
    action: LeaveAction,
) -> Result<CreateInteractionResponse, BotError> {
    let Some(couple) = couples::get(&p.state.pool, id, true).await? else {
        return Err(BotError::user(render::STALE_BUTTON));
    };
    if couple.channel != p.channel {
        return Err(BotError::user(render::WRONG_CHANNEL));
    }
    if !couple.is_partner(p.user) {
        return Err(BotError::user(render::NOT_YOUR_SPACE));
    }
    match action {
        LeaveAction::Cancel => Ok(render::update_text("Okay — nothing changed. 💛")),
        LeaveAction::Confirm => {
            let now = p.state.clock.now();
            let mut tx = p.state.pool.begin().await?;
            if !couples::end(&mut *tx, id, now).await? {
                return Err(BotError::user(render::STALE_BUTTON));
            }
            crate::store::jobs::cancel_all_pending(&mut *tx, id).await?;
            tx.commit().await?;
            tracing::info!(couple_id = %id, "couple unlinked");
            let notice = render::left_notice(p.user);
            if let Err(e) = p
                .interaction
                .channel_id
                .send_message(&p.ctx.http, notice)
                .await
            {
                tracing::warn!(couple_id = %id, error = %e, "could not post the unlink notice");
            }
            Ok(render::update_text(
                "Done — this channel is unlinked. Take good care of each other.",
            ))
        }
    }
}

async fn on_modal(ctx: &serenity::Context, mi: &serenity::ModalInteraction, state: &Arc<AppState>) {
    let received = std::time::Instant::now();
    let user = UserId(mi.user.id.get());
    let channel = ChannelId(mi.channel_id.get());
    let work = async {
        match mi.data.custom_id.parse::<CustomId>() {
            Ok(CustomId::Checkin(id, crate::domain::custom_id::CheckinAction::NoteModal)) => {
                let note = modal_value(&mi.data.components, "note").unwrap_or_default();
                super::checkin::on_note(state, user, channel, id, &note)
                    .await
                    .map(|r| (r, None))
            }
            Ok(CustomId::Repair(id, action)) => {
                let text =
                    modal_value(&mi.data.components, super::repair::INPUT).unwrap_or_default();
                super::repair::on_modal(state, user, channel, id, action, &text).await
            }
            _ => Err(BotError::user(render::STALE_BUTTON)),
        }
    };
    let result = within_deadline(work).await;
    let outcome = outcome_of(&result);
    let (response, followup) = match result {
        Ok(r) => r,
        Err(e) => {
            e.log("modal");
            (render::ephemeral_response(e.user_text()), None)
        }
    };
    if let Err(e) = mi.create_response(&ctx.http, response).await {
        tracing::warn!(error = %e, "could not answer a modal");
        state
            .metrics
            .interaction(InteractionKind::Modal, Outcome::Error, received.elapsed());
        return;
    }
    state
        .metrics
        .interaction(InteractionKind::Modal, outcome, received.elapsed());
    // A private followup comes after the public answer (the start of a repair shows the
    // named moment back to its writer only).
    if let Some(f) = followup {
        if let Err(e) = mi.create_followup(&ctx.http, f).await {
            tracing::warn!(error = %e, "could not send a modal followup");
        }
    }
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

async fn on_forget(
    p: &Press<'_>,
    action: crate::domain::custom_id::ForgetAction,
) -> Result<CreateInteractionResponse, BotError> {
    use crate::domain::custom_id::ForgetAction;
    if action == ForgetAction::Cancel {
        return Ok(render::update_text("Okay — nothing was deleted. 💛"));
    }
    let now = p.state.clock.now();
    let mut tx = p.state.pool.begin().await?;
    let couples = crate::store::schedules::couples_of(&mut *tx, p.user).await?;
    let mut notices = Vec::new();
    for id in couples {
        if let Some(c) = couples::get(&mut *tx, id, true).await? {
            couples::end(&mut *tx, id, now).await?;
            crate::store::jobs::cancel_all_pending(&mut *tx, id).await?;
            let remaining: Vec<UserId> = c
                .partner_ids()
                .into_iter()
                .filter(|u| *u != p.user)
                .collect();
            notices.push((c.channel, remaining));
        }
    }
    let rows = crate::store::privacy::forget(&mut tx, p.user).await?;
    tx.commit().await?;
    tracing::info!(rows, "a person was forgotten");
    for (channel, remaining) in notices {
        let msg = render::forgotten_notice(&remaining);
        if let Err(e) = serenity::ChannelId::new(channel.0)
            .send_message(&p.ctx.http, msg)
            .await
        {
            // The channel may be gone too; the forgetting itself is already done.
            tracing::warn!(channel_id = %channel, error = %e, "could not post the forget notice");
        }
    }
    Ok(render::update_text(
        "Done. Everything you wrote in Attune has been deleted. Thank you for the practice you did here.",
    ))
}
