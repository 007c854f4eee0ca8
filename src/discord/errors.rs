//! Errors on Discord: a refusal is shown as written (ephemeral); anything internal shows a
//! generic apology and logs the whole chain. Also the command counters behind `/metrics`.

use poise::serenity_prelude as serenity;
use poise::CreateReply;

use super::{render, Data};
use crate::flows::FlowError;
use crate::metrics::{InteractionKind, Outcome};

/// A flow's error, or one of Discord's own.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BotError(pub FlowError);

impl From<FlowError> for BotError {
    fn from(e: FlowError) -> Self {
        BotError(e)
    }
}

impl From<serenity::Error> for BotError {
    fn from(e: serenity::Error) -> Self {
        BotError(FlowError::internal(e))
    }
}

impl From<sqlx::Error> for BotError {
    fn from(e: sqlx::Error) -> Self {
        BotError(FlowError::from(e))
    }
}

/// How a result counts in the metrics.
pub fn outcome_of<T>(result: &Result<T, FlowError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(FlowError::Refused(_)) => Outcome::Refused,
        Err(_) => Outcome::Error,
    }
}

pub async fn on_error(err: poise::FrameworkError<'_, std::sync::Arc<Data>, BotError>) {
    match err {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let error = error.0;
            error.log(&ctx.command().qualified_name);
            let lib = &ctx.data().state.content;
            let reply = CreateReply::default()
                .content(render::text(&error.text(lib)))
                .ephemeral(true)
                .allowed_mentions(render::no_pings());
            let mut outcome = outcome_of::<()>(&Err(error));
            if let Err(e) = ctx.send(reply).await {
                tracing::warn!(error = %super::transport::describe(&e), "could not send the error reply");
                outcome = Outcome::Error;
            }
            count_command(ctx, outcome).await;
        }
        poise::FrameworkError::ArgumentParse { ctx, .. } => {
            let lib = &ctx.data().state.content;
            let reply = CreateReply::default()
                .content(lib.s(crate::content::copy::keys::common::BAD_ARGUMENT))
                .ephemeral(true)
                .allowed_mentions(render::no_pings());
            let outcome = match ctx.send(reply).await {
                Ok(_) => Outcome::Refused,
                Err(_) => Outcome::Error,
            };
            count_command(ctx, outcome).await;
        }
        poise::FrameworkError::EventHandler { error, .. } => error.0.log("event"),
        poise::FrameworkError::Setup { error, .. } => error.0.log("setup"),
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %super::transport::describe(&e), "poise error handler failed");
            }
        }
    }
}

/// Counts a finished slash command, timed from `pre_command` (or, for one that never got
/// that far, from when Discord created the interaction).
pub async fn count_command(ctx: super::Ctx<'_>, outcome: Outcome) {
    let started = ctx
        .invocation_data::<std::time::Instant>()
        .await
        .map(|i| *i);
    let took = match started {
        Some(i) => i.elapsed(),
        None => super::since(ctx.created_at()),
    };
    ctx.data()
        .state
        .metrics
        .interaction(InteractionKind::Command, outcome, took);
}
