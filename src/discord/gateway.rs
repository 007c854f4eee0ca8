//! The gateway: starts the shards this process owns (`discord.shards`), restarts a client
//! that stopped with an error after a growing pause (one back-off policy, shared with job
//! retries), and reports readiness (every owned shard connected).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use poise::serenity_prelude as serenity;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Data;
use crate::config::Shards;
use crate::domain::backoff::Restarts;

/// The shard manager of the client that is running now; the restart loop swaps it.
#[derive(Default)]
pub struct Gateway {
    current: Mutex<Option<Arc<serenity::ShardManager>>>,
    /// Gateway connections this process should hold (`discord.shards`).
    expected: AtomicU64,
}

impl Gateway {
    pub fn new(expected: u32) -> Self {
        Gateway {
            current: Mutex::new(None),
            expected: AtomicU64::new(u64::from(expected)),
        }
    }

    pub fn set(&self, manager: Arc<serenity::ShardManager>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(manager);
    }

    pub fn manager(&self) -> Option<Arc<serenity::ShardManager>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `(connected, expected)` gateway shards.
    pub async fn shards(&self) -> (u64, u64) {
        let expected = self.expected.load(Ordering::Relaxed);
        let Some(m) = self.manager() else {
            return (0, expected);
        };
        let runners = m.runners.lock().await;
        let connected = runners
            .values()
            .filter(|r| r.stage == serenity::ConnectionStage::Connected)
            .count() as u64;
        (connected, expected)
    }
}

#[async_trait]
impl crate::ops::Readiness for Gateway {
    async fn ready(&self) -> Result<(), String> {
        let (connected, expected) = self.shards().await;
        if expected == 0 || connected < expected {
            Err(format!(
                "gateway: {connected} of {expected} shard(s) connected"
            ))
        } else {
            Ok(())
        }
    }
}

/// A running Discord client, restarted when it fails.
pub struct Running {
    pub gateway: Arc<Gateway>,
    pub http: Arc<serenity::Http>,
    task: JoinHandle<Result<(), serenity::Error>>,
}

impl Running {
    /// Builds the client and starts its shards in the background.
    pub async fn start(data: Arc<Data>, stop: watch::Receiver<bool>) -> anyhow::Result<Running> {
        let client = super::client(data.clone()).await?;
        let http = client.http.clone();
        data.transport.set_http(http.clone());
        let gateway = Arc::new(Gateway::new(data.state.config.discord.shards.count()));
        gateway.set(client.shard_manager.clone());
        let task = tokio::spawn(run_client(
            data,
            client,
            gateway.clone(),
            stop,
            Restarts::default(),
        ));
        Ok(Running {
            gateway,
            http,
            task,
        })
    }

    /// Closes the gateway and waits a moment for the client to end.
    pub async fn shutdown(self) {
        if let Some(m) = self.gateway.manager() {
            m.shutdown_all().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }

    /// Waits until the client ends by itself (an unrecoverable error, or a clean stop).
    pub async fn ended(&mut self) -> anyhow::Result<()> {
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("Discord client stopped")),
            Err(e) => Err(anyhow::Error::new(e).context("Discord client task failed")),
        }
    }
}

/// Starts the shards this process owns.
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
    data: Arc<Data>,
    mut client: serenity::Client,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
    mut restarts: Restarts,
) -> Result<(), serenity::Error> {
    let shards = data.state.config.discord.shards;
    loop {
        let started = Instant::now();
        let err = match start_shards(&mut client, shards).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if *stop.borrow() {
            return Err(err);
        }
        if matches!(
            err,
            serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication)
        ) {
            // A refused token stays refused: restarting would only burn identifies.
            tracing::error!(
                "Discord refused the bot token on the gateway; set discord.token to a valid token"
            );
            return Err(err);
        }
        let delay = restarts.after_failure(started.elapsed());
        tracing::error!(error = %err, retry_in_secs = delay.as_secs(), "Discord client stopped; restarting after a pause");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return Err(err),
        }
        client = loop {
            match super::client(data.clone()).await {
                Ok(c) => break c,
                Err(e) => {
                    let delay = restarts.after_failure(Duration::ZERO);
                    tracing::error!(error = %e, retry_in_secs = delay.as_secs(), "could not build the Discord client");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => return Err(err),
                    }
                }
            }
        };
        gateway.set(client.shard_manager.clone());
        data.transport.set_http(client.http.clone());
    }
}
