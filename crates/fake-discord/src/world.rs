//! The static part of the fake: who exists, which guilds and channels there are.
//!
//! The world is fixed once the server starts, so it is shared read-only (`Arc`) and the
//! gateway can stream GUILD_CREATEs for thousands of guilds without taking the state lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// A Discord user as the fake knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    pub id: u64,
    pub name: String,
    pub bot: bool,
}

/// A guild text channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeChannel {
    pub id: u64,
    pub name: String,
    /// Hidden from @everyone (an overwrite denying View Channel); the guild's members and the
    /// bot still see it, as Discord shows it to members with their own overwrites.
    pub private: bool,
}

/// A guild; `members` holds user ids and deliberately never the bot (see the notes, gotcha #5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeGuild {
    pub id: u64,
    pub name: String,
    pub channels: Vec<FakeChannel>,
    pub members: Vec<u64>,
}

/// Everything the fake serves: the bot's own identity, users and guilds.
#[derive(Clone, Debug)]
pub struct World {
    pub bot: FakeUser,
    pub application_id: u64,
    pub users: Vec<FakeUser>,
    pub guilds: Vec<FakeGuild>,
}

/// The world plus lookup tables, built once at start.
pub(super) struct WorldIndex {
    pub world: World,
    user_by_id: HashMap<u64, usize>,
    guild_by_id: HashMap<u64, usize>,
    guild_by_channel: HashMap<u64, usize>,
}

impl WorldIndex {
    pub fn new(world: World) -> WorldIndex {
        let user_by_id = world
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id, i))
            .collect();
        let guild_by_id = world
            .guilds
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id, i))
            .collect();
        let guild_by_channel = world
            .guilds
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.channels.iter().map(move |c| (c.id, i)))
            .collect();
        WorldIndex {
            world,
            user_by_id,
            guild_by_id,
            guild_by_channel,
        }
    }

    pub fn user(&self, id: u64) -> Option<&FakeUser> {
        if id == self.world.bot.id {
            return Some(&self.world.bot);
        }
        self.user_by_id.get(&id).map(|&i| &self.world.users[i])
    }

    /// A user object even for ids the world does not list, so a forged id never panics.
    pub fn user_or_stub(&self, id: u64) -> FakeUser {
        self.user(id).cloned().unwrap_or_else(|| FakeUser {
            id,
            name: format!("user{id}"),
            bot: false,
        })
    }

    pub fn guild(&self, id: u64) -> Option<&FakeGuild> {
        self.guild_by_id.get(&id).map(|&i| &self.world.guilds[i])
    }

    /// The guild owning a channel; `None` means the channel is treated as a DM.
    pub fn guild_of_channel(&self, channel: u64) -> Option<&FakeGuild> {
        self.guild_by_channel
            .get(&channel)
            .map(|&i| &self.world.guilds[i])
    }

    pub fn channel(&self, channel: u64) -> Option<&FakeChannel> {
        self.guild_of_channel(channel)
            .and_then(|g| g.channels.iter().find(|c| c.id == channel))
    }

    pub fn display_name(&self, id: u64) -> String {
        self.user(id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_string())
    }
}

/// Discord's epoch (2015-01-01) in Unix milliseconds.
pub(super) const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Hands out increasing snowflakes whose timestamp part is "now", like Discord's.
pub(super) struct Snowflakes {
    last: AtomicU64,
}

impl Snowflakes {
    pub fn new() -> Snowflakes {
        Snowflakes {
            last: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> u64 {
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        let candidate = now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22;
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = candidate.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }
}
