//! User-facing errors are separate from internal ones: a `User` error is shown as written
//! (ephemeral); anything internal shows a generic apology and logs the whole chain.

use poise::serenity_prelude as serenity;
use poise::CreateReply;

use super::render;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// Something the person should know or can fix; the text is shown to them.
    #[error("{0}")]
    User(String),
    /// The database is away for the moment; the person is asked to try again.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl BotError {
    pub fn user(text: impl Into<String>) -> Self {
        BotError::User(text.into())
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        BotError::Internal(e.into())
    }

    /// What the person sees.
    pub fn user_text(&self) -> String {
        match self {
            BotError::User(t) => t.clone(),
            BotError::Unavailable(_) => render::TRY_AGAIN.to_string(),
            BotError::Internal(_) => render::SORRY.to_string(),
        }
    }

    /// Logs what the host needs (never user text: `User` messages may quote input).
    pub fn log(&self, what: &str) {
        match self {
            BotError::User(_) => tracing::debug!(what, "refused with a user message"),
            BotError::Unavailable(e) => tracing::warn!(what, error = %e, "database unavailable"),
            BotError::Internal(e) => {
                tracing::error!(what, error = format!("{e:#}"), "internal error")
            }
        }
    }
}

impl From<sqlx::Error> for BotError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                BotError::Unavailable(e)
            }
            other => BotError::Internal(other.into()),
        }
    }
}

impl From<serenity::Error> for BotError {
    fn from(e: serenity::Error) -> Self {
        BotError::Internal(e.into())
    }
}

pub async fn on_error(
    err: poise::FrameworkError<'_, std::sync::Arc<crate::app::AppState>, BotError>,
) {
    match err {
        poise::FrameworkError::Command { error, ctx, .. } => {
            error.log(&ctx.command().qualified_name);
            let reply = CreateReply::default()
                .content(error.user_text())
                .ephemeral(true)
                .allowed_mentions(super::no_pings());
            let mut outcome = super::components::outcome_of::<()>(&Err(error));
            if let Err(e) = ctx.send(reply).await {
                tracing::warn!(error = %e, "could not send the error reply");
                outcome = crate::ops::Outcome::Error;
            }
            count_command(ctx, outcome).await;
        }
        poise::FrameworkError::ArgumentParse { ctx, .. } => {
            let reply = CreateReply::default()
                .content(render::BAD_ARGUMENT)
                .ephemeral(true)
                .allowed_mentions(super::no_pings());
            let outcome = match ctx.send(reply).await {
                Ok(_) => crate::ops::Outcome::Refused,
                Err(_) => crate::ops::Outcome::Error,
            };
            count_command(ctx, outcome).await;
        }
        poise::FrameworkError::EventHandler { error, .. } => error.log("event"),
        poise::FrameworkError::Setup { error, .. } => error.log("setup"),
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %e, "poise error handler failed");
            }
        }
    }
}

/// Counts a finished slash command, timed from `pre_command` (or, for one that never got
/// that far, from when Discord created the interaction).
pub async fn count_command(ctx: super::Ctx<'_>, outcome: crate::ops::Outcome) {
    let started = ctx
        .invocation_data::<std::time::Instant>()
        .await
        .map(|i| *i);
    let took = match started {
        Some(i) => i.elapsed(),
        None => crate::ops::since(ctx.created_at()),
    };
    ctx.data()
        .metrics
        .interaction(crate::ops::InteractionKind::Command, outcome, took);
}
