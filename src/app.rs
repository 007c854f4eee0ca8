//! Wiring: the one function that starts Attune, used alike by `attune run`, `attune sandbox`
//! and the integration tests, so all three exercise the same code.

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::domain::clock::Clock;
use crate::{discord, store};

/// What every handler and job can reach.
pub struct AppState {
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
}

/// A started bot.
pub struct Running {
    pub state: Arc<AppState>,
    shard_manager: Arc<serenity::ShardManager>,
    client: JoinHandle<Result<(), serenity::Error>>,
}

/// Connects to Postgres (creating the database and applying migrations), then starts the
/// Discord client.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let pool = store::connect(&config.database).await?;
    start_with_pool(config, clock, pool).await
}

pub async fn start_with_pool(
    config: Config,
    clock: Arc<dyn Clock>,
    pool: PgPool,
) -> anyhow::Result<Running> {
    let state = Arc::new(AppState {
        pool,
        clock,
        config: Arc::new(config),
    });
    let mut client = discord::client(state.clone()).await?;
    let shard_manager = client.shard_manager.clone();
    let client = tokio::spawn(async move { client.start().await });
    Ok(Running {
        state,
        shard_manager,
        client,
    })
}

impl Running {
    /// Stops the gateway and waits briefly for the client task.
    pub async fn shutdown(self) {
        self.shard_manager.shutdown_all().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client).await;
    }

    /// Runs until the client ends by itself or a shutdown signal arrives.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let Running {
            state,
            shard_manager,
            mut client,
        } = self;
        tokio::select! {
            res = &mut client => {
                match res {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(anyhow::Error::new(e).context("Discord client stopped")),
                    Err(e) => Err(anyhow::Error::new(e).context("Discord client task failed")),
                }
            }
            _ = &mut signal => {
                tracing::info!("shutting down");
                shard_manager.shutdown_all().await;
                let _ = tokio::time::timeout(Duration::from_secs(5), client).await;
                state.pool.close().await;
                Ok(())
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
