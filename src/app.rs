//! Wiring: the one function that starts Attune, used alike by `attune run`, `attune sandbox`
//! and the integration tests, so all three exercise the same code.

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::content::Library;
use crate::domain::clock::Clock;
use crate::scheduler::Scheduler;
use crate::{discord, store};

/// What every handler and job can reach.
pub struct AppState {
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// The prompt library, loaded and checked at start-up.
    pub content: Arc<Library>,
    /// Paces scheduled posts under Discord's global rate limit.
    pub pacer: crate::discord::post::Pacer,
    /// Wakes this process's scheduler early (e.g. a reveal that is due right now).
    pub wake: tokio::sync::Notify,
}

/// A started bot.
pub struct Running {
    pub state: Arc<AppState>,
    shard_manager: Arc<serenity::ShardManager>,
    client: JoinHandle<Result<(), serenity::Error>>,
    scheduler: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
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
    let content = match &config.content.dir {
        Some(dir) => Library::load_dir(dir)
            .map_err(|e| anyhow::anyhow!("content.dir {}: {e}", dir.display()))?,
        None => Library::builtin(),
    };
    crate::store::privacy::verify_keys(&pool, &config.privacy.keys).await?;
    if !config.privacy.keys.is_enabled() {
        tracing::warn!(
            "privacy.encryption_key is not set: notes and repair texts are stored unencrypted (run `attune keygen`)"
        );
    }
    let state = Arc::new(AppState {
        content: Arc::new(content),
        pool,
        clock,
        pacer: crate::discord::post::Pacer::new(config.scheduler.max_posts_per_second),
        config: Arc::new(config),
        wake: tokio::sync::Notify::new(),
    });
    let mut client = discord::client(state.clone()).await?;
    let shard_manager = client.shard_manager.clone();
    let (stop, stop_rx) = watch::channel(false);
    let scheduler = state
        .config
        .scheduler
        .enabled
        .then(|| Scheduler::new(state.clone(), client.http.clone()).spawn(stop_rx));
    let client = tokio::spawn(async move { client.start().await });
    Ok(Running {
        state,
        shard_manager,
        client,
        scheduler,
        stop,
    })
}

impl Running {
    /// Stops claiming jobs, lets in-flight jobs finish, then closes the gateway.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(s) = self.scheduler {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
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
            scheduler,
            stop,
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
                let _ = stop.send(true);
                if let Some(s) = scheduler {
                    let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
                }
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
