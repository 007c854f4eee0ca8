//! Wiring: the one function that starts Attune, used alike by `attune run`, `attune sandbox`
//! and the integration tests, so all three exercise the same code. This is the top of the
//! layers: it may import everything; nothing imports it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::content::Library;
use crate::discord::gateway::Gateway;
use crate::domain::clock::Clock;
use crate::scheduler::{Fatal, Liveness, Scheduler};
use crate::state::AppState;
use crate::transport::Transports;
use crate::{discord, store};

/// A started bot.
pub struct Running {
    pub state: Arc<AppState>,
    /// The Discord gateway (connected shards), for readiness; none when Discord is off.
    pub gateway: Option<Arc<Gateway>>,
    /// The Matrix transport, when `[matrix]` is on.
    pub matrix: Option<Arc<crate::matrix::MatrixTransport>>,
    /// Where the ops endpoints were bound (`ops.listen`; port 0 picks a free one).
    pub ops_addr: Option<SocketAddr>,
    /// The scheduler's loop, for readiness and for tests that wait for it to go round.
    pub scheduler_liveness: Option<Arc<Liveness>>,
    ops: Option<JoinHandle<()>>,
    discord: Option<discord::gateway::Running>,
    matrix_sync: Option<crate::matrix::Running>,
    scheduler: Option<JoinHandle<Result<(), Fatal>>>,
    stop: watch::Sender<bool>,
}

/// Connects to Postgres (creating the database and applying migrations), then starts the
/// transports and the scheduler.
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
    store::privacy::verify_keys(&pool, &config.privacy.keys).await?;
    // Values from before tags, under an old key, or plain once a key is set are brought to
    // their final form, bound to their place.
    let resealed = store::privacy::reseal(&pool, &config.privacy.keys).await?;
    if resealed != store::privacy::Resealed::default() {
        tracing::info!(
            resealed = resealed.resealed,
            unavailable = resealed.unavailable,
            remaining = resealed.remaining,
            "stored texts re-sealed at start-up"
        );
    }
    if !config.privacy.keys.is_enabled() {
        tracing::warn!(
            "no encryption key: notes and repair texts are stored unencrypted (privacy.plaintext; without it `attune run` makes a key file)"
        );
    }
    crate::process::install_tls_provider();
    let serve_discord = config.discord.token.is_some();
    if !serve_discord && !config.matrix.enabled() {
        anyhow::bail!(config.require_transport().unwrap_err());
    }
    // A refused token or a proxy URL that leads nowhere stops here, before anything runs.
    if serve_discord {
        discord::probe(&config).await?;
    }
    // Likewise a Matrix login the homeserver refuses.
    let matrix_client = match config.matrix.enabled() {
        true => Some(crate::matrix::connect(&config.matrix).await?),
        false => None,
    };
    let per_second = config.scheduler.max_posts_per_second;
    let request_timeout = config.discord.request_timeout;
    let state = Arc::new(AppState::new(pool, clock, config, content));
    let (stop, stop_rx) = watch::channel(false);
    let mut transports = Transports::new();
    let mut parts: Vec<Arc<dyn crate::ops::Readiness>> = Vec::new();
    let (discord, gateway) = if serve_discord {
        let transport = Arc::new(discord::DiscordTransport::new(per_second, request_timeout));
        let data = Arc::new(discord::Data {
            state: state.clone(),
            transport: transport.clone(),
        });
        let discord = discord::gateway::Running::start(data, stop_rx.clone()).await?;
        let gateway = discord.gateway.clone();
        transports.add(transport.clone());
        parts.push(gateway.clone());
        parts.push(transport);
        (Some(discord), Some(gateway))
    } else {
        (None, None)
    };
    let matrix_sync = match matrix_client {
        Some(client) => {
            let m = crate::matrix::Running::start(state.clone(), client, stop_rx.clone()).await?;
            transports.add(m.transport.clone());
            Some(m)
        }
        None => None,
    };
    let matrix = matrix_sync.as_ref().map(|m| m.transport.clone());
    let scheduler = state
        .config
        .scheduler
        .enabled
        .then(|| Scheduler::new(state.clone(), transports));
    let scheduler_liveness = scheduler.as_ref().map(Scheduler::liveness);
    let (ops_addr, ops) = match state.config.ops.listen {
        Some(addr) => {
            if let Some(l) = &scheduler_liveness {
                parts.push(l.clone());
            }
            let (bound, task) = crate::ops::serve(addr, state.clone(), parts).await?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    let scheduler = scheduler.map(|s| s.spawn(stop_rx));
    Ok(Running {
        state,
        gateway,
        matrix,
        scheduler_liveness,
        ops_addr,
        ops,
        discord,
        matrix_sync,
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
        if let Some(d) = self.discord {
            d.shutdown().await;
        }
        if let Some(m) = self.matrix_sync {
            m.shutdown().await;
        }
        if let Some(ops) = self.ops {
            ops.abort();
            let _ = ops.await;
        }
    }

    /// Runs until the client ends by itself or a shutdown signal arrives.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let scheduler = async {
            match &mut self.scheduler {
                Some(s) => s.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            res = async {
                match &mut self.discord {
                    Some(d) => d.ended().await,
                    None => std::future::pending().await,
                }
            } => res,
            ended = scheduler => {
                // The handle is spent; shutdown must not wait on it again.
                self.scheduler = None;
                self.shutdown().await;
                match ended {
                    Ok(Err(fatal)) => Err(anyhow::anyhow!(fatal)),
                    Ok(Ok(())) => Err(anyhow::anyhow!("the scheduler stopped")),
                    Err(e) => Err(anyhow::Error::new(e).context("the scheduler task failed")),
                }
            }
            _ = &mut signal => {
                tracing::info!("shutting down");
                let pool = self.state.pool.clone();
                self.shutdown().await;
                pool.close().await;
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
