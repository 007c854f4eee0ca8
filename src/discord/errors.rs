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
    /// The work did not finish within the time Discord gives us to answer (a lock held
    /// elsewhere, a silent network); the person is asked to try again.
    #[error("no answer within {0:?}")]
    TooSlow(std::time::Duration),
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
            BotError::Unavailable(_) | BotError::TooSlow(_) => render::TRY_AGAIN.to_string(),
            BotError::Internal(_) => render::SORRY.to_string(),
        }
    }

    /// Logs what the host needs (never user text: `User` messages may quote input).
    pub fn log(&self, what: &str) {
        match self {
            BotError::User(_) => tracing::debug!(what, "refused with a user message"),
            BotError::Unavailable(e) => tracing::warn!(what, error = %e, "database unavailable"),
            BotError::TooSlow(d) => tracing::warn!(what, after = ?d, "gave up to answer in time"),
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
            // What sqlx reports when the server (or a proxy in front of it) closes a new
            // connection during the handshake, e.g. "unexpected response from SSLRequest".
            sqlx::Error::Protocol(_) => BotError::Unavailable(e),
            // The server closed our connection (restart, failover, pg_terminate_backend) or a
            // lock stayed taken past the lock timeout: the transaction was rolled back, so
            // "try again" is both kind and true.
            sqlx::Error::Database(ref d) if d.code().as_deref().is_some_and(try_again_later) => {
                BotError::Unavailable(e)
            }
            other => BotError::Internal(other.into()),
        }
    }
}

/// SQLSTATEs that mean "not now" rather than the query being wrong: class 08 (connection
/// exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now) and 55P03
/// (lock not available, see `store::LOCK_TIMEOUT`).
fn try_again_later(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "55P03")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_asks_to_try_again() {
        for code in ["08006", "08003", "57P01", "57P02", "57P03", "55P03"] {
            assert!(try_again_later(code), "{code}");
        }
        // A constraint violation or a syntax error is our bug, not an outage.
        for code in ["23505", "42601", "57014"] {
            assert!(!try_again_later(code), "{code}");
        }
        let e = BotError::from(sqlx::Error::Protocol("unexpected response".into()));
        assert_eq!(e.user_text(), render::TRY_AGAIN);
        let e = BotError::from(sqlx::Error::RowNotFound);
        assert_eq!(e.user_text(), render::SORRY);
        assert_eq!(
            BotError::TooSlow(std::time::Duration::from_secs(2)).user_text(),
            render::TRY_AGAIN
        );
    }
}
