//! A stage: the stand-in, a scratch database and the bot wired exactly as `attune run` wires
//! it, on a manual clock. `attune sandbox` and the integration tests both stand on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use url::Url;

use super::fake::demo_ids;
use super::fake::{couple_demo, fake_options, FakeDiscord, FakeOptions, Reply, TimeSource, World};
use crate::app::{self, Running};
use crate::config::Config;
use crate::domain::clock::{Clock, ManualClock};
use crate::store;

/// How long to wait for the bot to connect and register its commands.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Stage {
    pub fake: FakeDiscord,
    pub clock: ManualClock,
    pub config: Config,
    pool: PgPool,
    bot: Option<Running>,
}

/// The people of the demo world.
pub const ALICE: u64 = demo_ids::ALICE;
pub const BOB: u64 = demo_ids::BOB;
pub const CAROL: u64 = demo_ids::CAROL;
pub const HELPERBOT: u64 = demo_ids::HELPERBOT;
pub const GUILD: u64 = demo_ids::GUILD;
pub const CHANNEL: u64 = demo_ids::CHANNEL_US;
/// A channel id in no guild: commands there arrive as direct messages.
pub const DM_CHANNEL: u64 = 700_000_000_000_000_001;

impl Stage {
    /// Starts the stand-in, creates a scratch database next to `base.database.url` and starts
    /// the bot against both, with the clock at `start`.
    pub async fn start(base: &Config, start: DateTime<Utc>) -> anyhow::Result<Stage> {
        Self::start_with_world(base, start, couple_demo()).await
    }

    /// Like [`Stage::start`], with a world of your own (many guilds, say).
    pub async fn start_with_world(
        base: &Config,
        start: DateTime<Utc>,
        world: World,
    ) -> anyhow::Result<Stage> {
        let (config, pool) = scratch_database(base).await?;
        Self::start_on(config, pool, start, world).await
    }

    /// Like [`Stage::start`], on a database that already exists (`config.database.url`,
    /// migrated by `pool`'s connect): an upgraded one, say. Teardown drops it.
    pub async fn start_on(
        config: Config,
        pool: PgPool,
        start: DateTime<Utc>,
        world: World,
    ) -> anyhow::Result<Stage> {
        Self::start_on_with(config, pool, start, world, |_| {}).await
    }

    /// Like [`Stage::start_with_world`], with the stand-in's options changed by `edit` (a
    /// global rate limit it enforces, say).
    pub async fn start_with_fake(
        base: &Config,
        start: DateTime<Utc>,
        world: World,
        edit: impl FnOnce(&mut FakeOptions),
    ) -> anyhow::Result<Stage> {
        let (config, pool) = scratch_database(base).await?;
        Self::start_on_with(config, pool, start, world, edit).await
    }

    async fn start_on_with(
        mut config: Config,
        pool: PgPool,
        start: DateTime<Utc>,
        world: World,
        edit: impl FnOnce(&mut FakeOptions),
    ) -> anyhow::Result<Stage> {
        let clock = ManualClock::new(start);
        // The stand-in keeps Discord's own times (the nonce window, message timestamps) on
        // the stage's clock, so minutes that pass for the bot pass for Discord too.
        let fake_clock = clock.clone();
        let mut options = FakeOptions {
            clock: Some(TimeSource::new(move || fake_clock.now())),
            ..fake_options()
        };
        edit(&mut options);
        let fake = FakeDiscord::start(world, options).await?;
        config.discord.token = Some("sandbox-token".to_string().into());
        config.discord.proxy_url = Some(Url::parse(&fake.http_url())?);
        // Global registration, as in production, so commands also reach DMs (which refuse kindly).
        config.discord.dev_guild_id = None;
        config.discord.application_id = Some(demo_ids::APPLICATION);
        // The stage drives time itself; poll often so scheduled posts follow the clock quickly.
        config.scheduler.poll_interval = Duration::from_millis(50);
        let mut stage = Stage {
            fake,
            clock,
            config,
            pool,
            bot: None,
        };
        if let Err(e) = stage.start_bot().await {
            // Leave nothing behind when the bot cannot start (a broken content folder, say).
            stage.fake.shutdown().await;
            stage.pool.close().await;
            let _ = store::drop_database(&stage.config.database.url).await;
            return Err(e);
        }
        Ok(stage)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The content library the bot runs with (the feeling words a partner can pick, say).
    pub fn content(&self) -> std::sync::Arc<crate::content::Library> {
        match &self.bot {
            Some(b) => b.state.content.clone(),
            None => std::sync::Arc::new(crate::content::Library::builtin()),
        }
    }

    /// The running bot, if any (its ops address, metrics, gateway).
    pub fn bot(&self) -> Option<&Running> {
        self.bot.as_ref()
    }

    /// Starts one more bot process on the same database and stand-in, with the stage's
    /// configuration changed by `edit` (other shards, say), and waits until it holds
    /// `connections` more ready gateway connections. The caller stops it with
    /// [`Running::shutdown`].
    pub async fn start_extra_bot(
        &self,
        connections: usize,
        edit: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Running> {
        self.start_extra_bot_with_clock(connections, Arc::new(self.clock.clone()), edit)
            .await
    }

    /// Like [`Stage::start_extra_bot`], with a clock of its own (one that runs ahead of the
    /// stage's, say: a host whose clock drifted).
    pub async fn start_extra_bot_with_clock(
        &self,
        connections: usize,
        clock: Arc<dyn Clock>,
        edit: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Running> {
        let before = self.fake.ready_connections();
        let mut config = self.config.clone();
        edit(&mut config);
        let running = app::start_with_pool(config, clock, self.pool.clone()).await?;
        self.fake
            .wait_connections(before + connections, READY_TIMEOUT)
            .await?;
        Ok(running)
    }

    /// Starts (or restarts) the bot process on the same database and stand-in.
    pub async fn start_bot(&mut self) -> anyhow::Result<()> {
        self.stop_bot().await;
        // Let the stand-in notice the old connection is gone before counting.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.fake.ready_connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before = self.fake.ready_connections();
        let connections = self.config.discord.shards.count() as usize;
        let running = app::start_with_pool(
            self.config.clone(),
            Arc::new(self.clock.clone()),
            self.pool.clone(),
        )
        .await?;
        self.bot = Some(running);
        self.fake
            .wait_connections(before + connections, READY_TIMEOUT)
            .await?;
        self.fake.wait_commands_registered(READY_TIMEOUT).await?;
        Ok(())
    }

    /// Stops the bot as a crash would from Discord's point of view: the gateway closes and
    /// nothing in memory survives. Postgres keeps everything.
    pub async fn stop_bot(&mut self) {
        if let Some(bot) = self.bot.take() {
            bot.shutdown().await;
        }
    }

    /// Stops everything and removes the scratch database.
    pub async fn teardown(mut self) -> anyhow::Result<()> {
        self.stop_bot().await;
        self.fake.shutdown().await;
        self.pool.close().await;
        store::drop_database(&self.config.database.url).await?;
        Ok(())
    }

    /// Runs a slash command as `user` in the couple's channel.
    pub async fn cmd(
        &self,
        user: u64,
        path: &str,
        options: Vec<(&str, serde_json::Value)>,
    ) -> anyhow::Result<Reply> {
        self.fake.run_command(user, CHANNEL, path, options).await
    }

    /// Wakes the bot's scheduler and waits until every job due at the current simulated time
    /// has run.
    pub async fn settle(&self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(bot) = &self.bot {
                bot.state.wake.notify_one();
            }
            let now = self.clock.now();
            if store::jobs::outstanding(&self.pool, now).await? == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("the scheduler did not catch up with {now}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Moves the clock forward to `until`, stopping at every job on the way so each runs at
    /// its own simulated time.
    pub async fn run_until(&self, until: DateTime<Utc>) -> anyhow::Result<()> {
        loop {
            self.settle().await?;
            match store::jobs::next_due(&self.pool).await? {
                Some(next) if next <= until => {
                    if next > self.clock.now() {
                        self.clock.set(next);
                    }
                }
                _ => break,
            }
        }
        if until > self.clock.now() {
            self.clock.set(until);
        }
        self.settle().await
    }

    /// Display names for transcripts.
    pub fn names(&self) -> HashMap<u64, String> {
        let w = self.fake.world();
        let mut names: HashMap<u64, String> =
            w.users.iter().map(|u| (u.id, u.name.clone())).collect();
        names.insert(w.bot.id, w.bot.name.clone());
        names
    }
}

/// A fresh database next to `base.database.url`, migrated, with the configuration that
/// points at it. The caller drops it with `store::drop_database` when done.
pub async fn scratch_database(base: &Config) -> anyhow::Result<(Config, PgPool)> {
    let mut config = base.clone();
    let mut url = base.database.url.clone();
    url.set_path(&format!("attune_scratch_{}", uuid::Uuid::new_v4().simple()));
    config.database.url = url;
    let pool = store::connect(&config.database).await?;
    Ok((config, pool))
}

/// A couple written straight into the database, for tests and benchmarks with many couples:
/// a Discord channel in a server and two Discord users. Returns the couple and both people.
pub async fn seed_discord_couple(
    tx: &mut sqlx::PgConnection,
    guild: u64,
    channel: u64,
    a: u64,
    b: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<(
    crate::domain::ids::CoupleId,
    crate::domain::ids::PersonId,
    crate::domain::ids::PersonId,
)> {
    use crate::domain::ids::TransportKind::Discord;
    use crate::store::{couples, people, rooms};
    let room = rooms::ensure(
        &mut *tx,
        Discord,
        &channel.to_string(),
        Some(&guild.to_string()),
    )
    .await?;
    let pa = people::ensure(tx, Discord, &a.to_string(), now).await?;
    let pb = people::ensure(tx, Discord, &b.to_string(), now).await?;
    let couple = couples::create(tx, room.id, pa, pb, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("channel {channel} already has a couple"))?;
    Ok((couple, pa, pb))
}
