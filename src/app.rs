//! Wiring: the one function that starts Attune, used alike by `attune run`, `attune sandbox`
//! and the integration tests, so all three exercise the same code.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poise::serenity_prelude as serenity;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Shards};
use crate::content::Library;
use crate::domain::clock::Clock;
use crate::ops::{Backoff, Gateway, Metrics};
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
    /// Counters behind `/metrics`.
    pub metrics: Metrics,
}

/// A started bot.
pub struct Running {
    pub state: Arc<AppState>,
    /// The shard manager of the current client (the restart loop replaces the client).
    pub gateway: Arc<Gateway>,
    /// Where the ops endpoints were bound (`ops.listen`; port 0 picks a free one).
    pub ops_addr: Option<SocketAddr>,
    ops: Option<JoinHandle<()>>,
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
        metrics: Metrics::default(),
    });
    let client = discord::client(state.clone()).await?;
    let gateway = Arc::new(Gateway::new(state.config.discord.shards.count()));
    gateway.set(client.shard_manager.clone());
    let (ops_addr, ops) = match state.config.ops.listen {
        Some(addr) => {
            let (bound, task) = crate::ops::serve(addr, state.clone(), gateway.clone()).await?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    let (stop, stop_rx) = watch::channel(false);
    let scheduler = state
        .config
        .scheduler
        .enabled
        .then(|| Scheduler::new(state.clone(), client.http.clone()).spawn(stop_rx.clone()));
    let client = tokio::spawn(run_client(
        state.clone(),
        client,
        gateway.clone(),
        stop_rx,
        Backoff::default(),
    ));
    Ok(Running {
        state,
        gateway,
        ops_addr,
        ops,
        client,
        scheduler,
        stop,
    })
}

/// Starts the shards this process owns (`discord.shards`).
async fn start_shards(client: &mut serenity::Client, shards: Shards) -> serenity::Result<()> {
    match shards {
        Shards::All => client.start().await,
        Shards::Range { first, last, total } => {
            client.start_shard_range(first..last + 1, total).await
        }
    }
}

/// Runs the client; when it stops with an error, builds a new one and starts again after a
/// growing pause, so a crash loop cannot burn through Discord's daily identify allowance.
/// Ends when the client stops cleanly (shutdown) or `stop` turns true.
async fn run_client(
    state: Arc<AppState>,
    mut client: serenity::Client,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
    mut backoff: Backoff,
) -> Result<(), serenity::Error> {
    let shards = state.config.discord.shards;
    loop {
        let started = Instant::now();
        let err = match start_shards(&mut client, shards).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if *stop.borrow() {
            return Err(err);
        }
        let delay = backoff.after_failure(started.elapsed());
        tracing::error!(error = %err, retry_in_secs = delay.as_secs(), "Discord client stopped; restarting after a pause");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return Err(err),
        }
        client = loop {
            match discord::client(state.clone()).await {
                Ok(c) => break c,
                Err(e) => {
                    let delay = backoff.after_failure(Duration::ZERO);
                    tracing::error!(error = %e, retry_in_secs = delay.as_secs(), "could not build the Discord client");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => return Err(err),
                    }
                }
            }
        };
        gateway.set(client.shard_manager.clone());
    }
}

impl Running {
    /// Stops claiming jobs, lets in-flight jobs finish, then closes the gateway.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(s) = self.scheduler {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
        if let Some(m) = self.gateway.manager() {
            m.shutdown_all().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client).await;
        if let Some(ops) = self.ops {
            ops.abort();
            let _ = ops.await;
        }
    }

    /// Runs until the client ends by itself or a shutdown signal arrives.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let Running {
            state,
            gateway,
            ops,
            mut client,
            scheduler,
            stop,
            ..
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
                if let Some(m) = gateway.manager() {
                    m.shutdown_all().await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), client).await;
                if let Some(ops) = ops {
                    ops.abort();
                }
                state.pool.close().await;
                tracing::info!("stopped");
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
