//! A fake of Discord's gateway and REST API on 127.0.0.1, for driving the real serenity /
//! poise client in tests and sandboxes.
//!
//! This crate owns:
//! - the simulated world (users, guilds, channels: [`World`]) and everything that happens in it
//!   (messages, registered commands, interactions and their callbacks);
//! - one axum server per [`FakeDiscord`] that serves REST under `/api/v10/...` and the gateway
//!   websocket at `/ws` on a single port;
//! - realism checks on every request the bot makes: Discord's documented limits, the request-body
//!   schemas of Discord's OpenAPI description, and whatever policy the bot's own project passes
//!   in as [`FakeOptions::message_policy`]. Problems are collected as [`FakeDiscord::violations`]
//!   instead of panicking, and the bot still gets a sensible answer, so a test can assert on them
//!   at the end;
//! - a user-level API ("alice runs /checkin", "bob clicks Yes") that sends interactions over the
//!   gateway and waits for the bot's answer like a Discord client would;
//! - fault injection (status codes, delays, connection resets, gateway drops) for reliability
//!   tests.
//!
//! It knows nothing of any particular bot: the world and the bot's own rules come from the
//! caller.
//!
//! # Discord's OpenAPI description
//!
//! [`FakeOptions::default`] looks for the spec like this:
//! 1. when the environment variable `ATTUNE_DISCORD_OPENAPI` is set, the file it names and
//!    nothing else (so `ATTUNE_DISCORD_OPENAPI=/nonexistent` runs without the spec);
//! 2. otherwise `../shared/discord/openapi.json` relative to the root of the Cargo workspace
//!    this crate was built in (the nearest ancestor of the crate's manifest directory whose
//!    `Cargo.toml` has a `[workspace]` table);
//! 3. then `../shared/discord/openapi.json` relative to the current directory, for a binary run
//!    away from its build tree.
//!
//! When there is none, a warning is logged once and only the hand-written limit checks run; set
//! [`FakeOptions::openapi_path`] to `None` to skip the spec on purpose.
//!
//! # Connecting serenity
//!
//! See `shared/discord/FAKE_DISCORD_NOTES.md` for why each line matters:
//!
//! ```text
//! let fake = FakeDiscord::start(world, FakeOptions::default()).await?;
//! let http = HttpBuilder::new("fake-token")
//!     .proxy(fake.http_url())          // REST and GET /gateway go to the fake
//!     .ratelimiter_disabled(true)      // without this serenity ignores the proxy
//!     .build();
//! let mut client = ClientBuilder::new_with_http(http, GatewayIntents::non_privileged())
//!     .framework(framework)
//!     .await?;
//! tokio::spawn(async move { client.start().await });
//! fake.wait_ready(Duration::from_secs(10)).await?;
//! fake.wait_commands_registered(Duration::from_secs(10)).await?;
//! let reply = fake.run_command(ALICE, CHANNEL, "setup", vec![]).await?;
//! let invite = reply.message()?;
//! fake.click_button(BOB, invite.id, &invite.button_id("Accept").unwrap()).await?;
//! assert!(fake.violations().is_empty());
//! ```
//!
//! Timing rules the user-level API applies: the bot's first callback must arrive within
//! [`FakeOptions::interaction_deadline`] (else the call fails and the late callback is a
//! violation); after a deferred callback (types 5 and 6) the call waits up to 10 s for the
//! followup or edit. A type 6 that is never followed by anything visible therefore costs those
//! 10 s and then yields the unchanged component message as [`Reply::Updated`].

mod gateway;
mod interact;
mod openapi;
mod payloads;
mod render;
mod rest;
mod validate;
mod world;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use tokio::sync::{mpsc, Notify};

pub use self::interact::{ModalInput, ModalView, Reply};
pub use self::render::{Button, Select, SelectOption};
pub use self::world::{FakeChannel, FakeGuild, FakeUser, World};

use self::world::{Snowflakes, WorldIndex};

/// How long after creation an interaction still accepts its first callback.
const DEFAULT_INTERACTION_DEADLINE: Duration = Duration::from_secs(3);
/// How long the user-level API waits for the followup / edit after a deferred callback.
const FOLLOWUP_WINDOW: Duration = Duration::from_secs(10);
/// How long `enforce_nonce` deduplicates (Discord documents "a few minutes").
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Interaction tokens stay valid this long for followups and edits.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Options for [`FakeDiscord::start`].
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// Discord's OpenAPI description used to validate request bodies; `None` keeps only the
    /// hand-written limit checks. The default is found as the crate docs describe.
    pub openapi_path: Option<PathBuf>,
    /// How long the bot has for the first callback of an interaction (Discord: 3 s).
    pub interaction_deadline: Duration,
    /// The bot's own rules for the messages it creates (a mentions policy, say); Discord itself
    /// has none of these, so the default is `None`.
    pub message_policy: Option<MessagePolicy>,
    /// The fake's notion of "now" for what Discord times on its own clock: the nonce
    /// deduplication window and each message's `timestamp`. `None` is real time; a bot that
    /// runs on a simulated clock passes the same clock, so minutes that pass for the bot pass
    /// for the fake too. (Snowflake ids stay on real time: interaction deadlines use them.)
    pub clock: Option<TimeSource>,
    /// Discord's global rate limit, in requests a second over any one-second window
    /// (interaction callbacks and webhooks excluded, as on Discord). Going over is answered
    /// with a global 429 and recorded as a violation. `None`: unlimited.
    pub global_rate_limit: Option<u32>,
}

/// A source of the current time for [`FakeOptions::clock`].
#[derive(Clone)]
pub struct TimeSource(Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>);

impl TimeSource {
    pub fn new(now: impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync + 'static) -> Self {
        TimeSource(Arc::new(now))
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimeSource(..)")
    }
}

impl Default for FakeOptions {
    fn default() -> FakeOptions {
        FakeOptions {
            openapi_path: openapi::default_spec_path(),
            interaction_deadline: DEFAULT_INTERACTION_DEADLINE,
            message_policy: None,
            clock: None,
            global_rate_limit: None,
        }
    }
}

/// A check run on the body of every message the bot creates: a channel message, an interaction
/// followup, and the `data` of a type 4 callback (edits are not new messages and are not
/// checked). Each string it returns becomes a violation, prefixed with the request's method and
/// path.
#[derive(Clone)]
pub struct MessagePolicy(Arc<PolicyFn>);

type PolicyFn = dyn Fn(&Value) -> Vec<String> + Send + Sync;

impl MessagePolicy {
    pub fn new(check: impl Fn(&Value) -> Vec<String> + Send + Sync + 'static) -> MessagePolicy {
        MessagePolicy(Arc::new(check))
    }

    /// The problems `check` finds with one new message body.
    pub fn check(&self, body: &Value) -> Vec<String> {
        (self.0)(body)
    }
}

impl std::fmt::Debug for MessagePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessagePolicy(..)")
    }
}

/// A fault injected into REST requests whose path contains `path_contains`, for the next `times`
/// matching requests. Injected faults are not violations.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status; a 429 gets a Discord-shaped rate-limit body.
    Status {
        path_contains: String,
        status: u16,
        retry_after: Option<f64>,
        times: u32,
    },
    /// Handle the request normally, but only after this delay.
    Delay {
        path_contains: String,
        delay: Duration,
        times: u32,
    },
    /// Close the TCP connection without answering.
    Reset { path_contains: String, times: u32 },
    /// Handle the request (a message is created), but answer only after this delay: the
    /// bot's side may give up or lose its database before the answer arrives.
    SlowAnswer {
        path_contains: String,
        delay: Duration,
        times: u32,
    },
}

/// Counters of gateway activity, for reconnect and fault tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// Websocket connections accepted.
    pub connections: u64,
    /// IDENTIFY payloads received (each answered with READY).
    pub identifies: u64,
    /// RESUME payloads received (each answered with RESUMED or, for an unknown session,
    /// INVALID_SESSION).
    pub resumes: u64,
}

/// One REST request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The full path, including `/api/v10`, without the query string.
    pub path: String,
    /// The JSON body; for multipart requests the parsed `payload_json`.
    pub body: Option<Value>,
    pub at: Instant,
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeAttachment {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub description: Option<String>,
}

/// A message as stored by the fake (its final state after edits).
#[derive(Clone, Debug, PartialEq)]
pub struct FakeMessage {
    pub id: u64,
    pub channel_id: u64,
    pub author_id: u64,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub attachments: Vec<FakeAttachment>,
    /// `Some(user)` for an ephemeral message only that user can see.
    pub ephemeral_for: Option<u64>,
    /// The user whose interaction produced this message.
    pub interaction_user: Option<u64>,
    pub nonce: Option<String>,
    pub edited: bool,
    /// Creation order across all channels.
    pub seq: u64,
}

struct StoredMessage {
    msg: FakeMessage,
    /// When it was created, on the fake's clock ([`FakeOptions::clock`]).
    created_at: chrono::DateTime<chrono::Utc>,
    flags: u64,
    /// Discord message type: 0 default, 20 chat-input command reply, 19 reply.
    kind: u8,
    deleted: bool,
    /// A deferred response's "is thinking…" placeholder, not yet filled in.
    loading: bool,
    edited_at: Option<u64>,
    interaction_id: Option<u64>,
    /// `interaction_metadata` as Discord attaches it to interaction responses.
    interaction_metadata: Option<Value>,
}

/// Commands the bot registered, per scope.
#[derive(Clone, Debug)]
struct RegisteredCommand {
    guild_id: Option<u64>,
    id: u64,
    body: Value,
}

/// What the fake knows about one interaction it sent.
struct InteractionRec {
    token: String,
    kind: u8,
    user: u64,
    channel_id: u64,
    created: Instant,
    source_message: Option<u64>,
    callback: Option<u8>,
    /// The message `@original` refers to.
    original: Option<u64>,
    followups: Vec<u64>,
    original_edits: u32,
    /// The source message's `edited_at` when a type 6 callback arrived, to notice later edits.
    source_edit_mark: Option<u64>,
    ephemeral: bool,
    modal: Option<ModalView>,
    choices: Option<Vec<(String, Value)>>,
    /// For a modal submit: the metadata of the interaction that opened the modal.
    trigger: Option<Value>,
}

enum ConnCmd {
    Dispatch { t: &'static str, d: Value },
    Raw(Value),
    Drop,
}

struct ConnInfo {
    shard: Option<[u32; 2]>,
    ready: bool,
    tx: mpsc::UnboundedSender<ConnCmd>,
}

#[derive(Default)]
struct State {
    messages: BTreeMap<u64, StoredMessage>,
    msg_seq: u64,
    violations: Vec<String>,
    requests: Vec<RecordedRequest>,
    commands: Vec<RegisteredCommand>,
    command_version: u64,
    interactions: HashMap<u64, InteractionRec>,
    tokens: HashMap<String, u64>,
    forbidden: HashSet<u64>,
    faults: Vec<Fault>,
    conns: BTreeMap<u64, ConnInfo>,
    next_conn: u64,
    nonces: HashMap<(u64, String), (u64, chrono::DateTime<chrono::Utc>)>,
    /// Channels deleted: every request to them answers 404 Unknown Channel.
    deleted_channels: HashSet<u64>,
    /// Channels where the bot lacks Attach Files: a message with files answers 403.
    no_attachments: HashSet<u64>,
    /// When recent requests arrived, for the global rate limit.
    recent: std::collections::VecDeque<Instant>,
    dm_by_user: HashMap<u64, u64>,
    gateway: GatewayStats,
    dm_user_by_channel: HashMap<u64, u64>,
    /// Users who take no direct messages.
    closed_dms: HashSet<u64>,
}

struct Inner {
    world: WorldIndex,
    opts: FakeOptions,
    spec: Option<Arc<openapi::Spec>>,
    addr: SocketAddr,
    ids: Snowflakes,
    state: Mutex<State>,
    /// Woken on every state change that a waiter might care about.
    changed: Notify,
    shutdown: Notify,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A running fake Discord. Cheap to clone; all clones share one server.
#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Inner>,
}

impl FakeDiscord {
    /// Binds 127.0.0.1 on a free port and starts serving REST and the gateway.
    pub async fn start(world: World, opts: FakeOptions) -> anyhow::Result<FakeDiscord> {
        let spec = match &opts.openapi_path {
            Some(path) => Some(openapi::load(path)?),
            None => {
                openapi::warn_missing_once();
                None
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fake Discord to 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let fake = FakeDiscord {
            inner: Arc::new(Inner {
                world: WorldIndex::new(world),
                opts,
                spec,
                addr,
                ids: Snowflakes::new(),
                state: Mutex::new(State::default()),
                changed: Notify::new(),
                shutdown: Notify::new(),
                server: Mutex::new(None),
            }),
        };
        let handle = rest::serve(fake.clone(), listener);
        *fake.inner.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(fake)
    }

    /// `http://127.0.0.1:PORT`, the value for serenity's `HttpBuilder::proxy`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The gateway URL the fake hands out in GET /gateway.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.inner.addr)
    }

    pub fn world(&self) -> &World {
        &self.inner.world.world
    }

    /// Drops every gateway connection and stops the server.
    pub async fn shutdown(&self) {
        self.drop_gateway_connections();
        self.inner.shutdown.notify_waiters();
        self.inner.shutdown.notify_one();
        let handle = self
            .inner
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut handle) = handle {
            if tokio::time::timeout(Duration::from_secs(1), &mut handle)
                .await
                .is_err()
            {
                handle.abort();
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not turn every later call into a second panic.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Polls `check` after every state change until it yields a value or `timeout` passes.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeDiscord) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            // Register before checking, so a change between check and await is not lost.
            notified.as_mut().enable();
            if let Some(v) = check(self) {
                return Some(v);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(self);
            }
        }
    }

    fn violation(&self, text: String) {
        tracing::warn!(target: "fake_discord", "violation: {text}");
        self.state().violations.push(text);
        self.notify();
    }

    /// Every realism problem seen so far, each naming the route and the problem.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Forgets the violations seen so far (for tests that provoke some on purpose).
    pub fn clear_violations(&self) {
        self.state().violations.clear();
    }

    /// Every REST request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Makes POSTs (and every other request) to this channel answer 403 Missing Access.
    pub fn set_channel_forbidden(&self, channel: u64, forbidden: bool) {
        let mut st = self.state();
        if forbidden {
            st.forbidden.insert(channel);
        } else {
            st.forbidden.remove(&channel);
        }
    }

    pub fn push_fault(&self, f: Fault) {
        self.state().faults.push(f);
    }

    /// Removes every fault not yet met (an outage ends).
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Deletes a channel: from now on every request to it answers 404 Unknown Channel.
    pub fn delete_channel(&self, channel: u64) {
        self.state().deleted_channels.insert(channel);
    }

    /// Takes Attach Files from the bot in this channel (or gives it back): a message with
    /// files answers 403 Missing Permissions, as Discord does.
    pub fn deny_attachments(&self, channel: u64, denied: bool) {
        let mut st = self.state();
        if denied {
            st.no_attachments.insert(channel);
        } else {
            st.no_attachments.remove(&channel);
        }
    }

    /// The fake's current time ([`FakeOptions::clock`], else real time).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match &self.inner.opts.clock {
            Some(c) => c.now(),
            None => chrono::Utc::now(),
        }
    }

    /// Closes every gateway socket abruptly (no close frame), like a network drop. The
    /// connections stop counting as ready at once, so a following [`FakeDiscord::wait_ready`]
    /// waits for the client to come back.
    pub fn drop_gateway_connections(&self) {
        let mut st = self.state();
        for (_, c) in std::mem::take(&mut st.conns) {
            let _ = c.tx.send(ConnCmd::Drop);
        }
    }

    /// Sends op 7 (Reconnect) on every gateway connection; like a drop, they stop counting as
    /// ready until the client has resumed on a new socket.
    pub fn send_reconnect(&self) {
        let mut st = self.state();
        for c in st.conns.values_mut() {
            c.ready = false;
            let _ =
                c.tx.send(ConnCmd::Raw(serde_json::json!({"op": 7, "d": null})));
        }
    }

    pub fn gateway_stats(&self) -> GatewayStats {
        self.state().gateway
    }

    /// Waits until at least one gateway connection got READY and all its GUILD_CREATEs.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_connections(1, timeout).await
    }

    /// Waits until at least `n` gateway connections are ready.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let ok = self
            .wait_until(timeout, |f| {
                let ready = f.state().conns.values().filter(|c| c.ready).count();
                (ready >= n).then_some(())
            })
            .await;
        ok.ok_or_else(|| {
            let ready = self.state().conns.values().filter(|c| c.ready).count();
            anyhow::anyhow!(
                "fake Discord: {ready} of {n} gateway connection(s) ready after {timeout:?}"
            )
        })
    }

    /// Number of currently ready gateway connections.
    pub fn ready_connections(&self) -> usize {
        self.state().conns.values().filter(|c| c.ready).count()
    }

    /// Every command the bot registered, as the fake echoed it (with `id`, and `guild_id` for
    /// guild commands).
    pub fn registered_commands(&self) -> Vec<Value> {
        let st = self.state();
        let app = self.inner.world.world.application_id;
        st.commands
            .iter()
            .map(|c| payloads::command(app, c.id, st.command_version, c.guild_id, &c.body))
            .collect()
    }

    /// Waits until the bot registered at least one command (globally or in a guild).
    pub async fn wait_commands_registered(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(timeout, |f| (!f.state().commands.is_empty()).then_some(()))
            .await
            .ok_or_else(|| anyhow::anyhow!("the bot registered no command within {timeout:?}"))
    }

    /// All messages in a channel, ephemeral ones included, deleted ones excluded, in order.
    pub fn messages(&self, channel: u64) -> Vec<FakeMessage> {
        self.state()
            .messages
            .values()
            .filter(|m| m.msg.channel_id == channel && !m.deleted && !m.loading)
            .map(|m| m.msg.clone())
            .collect()
    }

    /// The bot's direct messages to `user`, in order (none when it never opened a DM).
    pub fn direct_messages(&self, user: u64) -> Vec<FakeMessage> {
        let channel = self.state().dm_by_user.get(&user).copied();
        channel.map(|c| self.messages(c)).unwrap_or_default()
    }

    /// Makes `user` take no direct messages from the bot (Discord answers 403, code 50007),
    /// or take them again.
    pub fn close_dms(&self, user: u64, closed: bool) {
        let mut st = self.state();
        if closed {
            st.closed_dms.insert(user);
        } else {
            st.closed_dms.remove(&user);
        }
    }

    /// What `user` sees in `channel`: public messages plus their own ephemerals.
    pub fn visible_to(&self, user: u64, channel: u64) -> Vec<FakeMessage> {
        self.messages(channel)
            .into_iter()
            .filter(|m| m.ephemeral_for.is_none_or(|u| u == user))
            .collect()
    }

    /// One message by id (even a deleted one, so tests can inspect what was removed).
    pub fn message(&self, id: u64) -> Option<FakeMessage> {
        self.state().messages.get(&id).map(|m| m.msg.clone())
    }

    /// Whether a message was deleted by the bot.
    pub fn is_deleted(&self, id: u64) -> bool {
        self.state().messages.get(&id).is_some_and(|m| m.deleted)
    }

    /// Waits for an existing or new message in `channel` that matches `pred`.
    pub async fn wait_for_message(
        &self,
        channel: u64,
        timeout: Duration,
        mut pred: impl FnMut(&FakeMessage) -> bool,
    ) -> anyhow::Result<FakeMessage> {
        self.wait_until(timeout, |f| f.messages(channel).into_iter().find(&mut pred))
            .await
            .ok_or_else(|| {
                anyhow::anyhow!("no matching message in channel {channel} within {timeout:?}")
            })
    }

    /// The channel as a reader sees it; see [`FakeMessage::render`].
    pub fn render_transcript(&self, channel: u64, names: &HashMap<u64, String>) -> String {
        let names = self.names_with_world(names);
        self.messages(channel)
            .iter()
            .map(|m| m.render(&names))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn names_with_world(&self, names: &HashMap<u64, String>) -> HashMap<u64, String> {
        let w = &self.inner.world.world;
        let mut all: HashMap<u64, String> = w
            .users
            .iter()
            .chain(std::iter::once(&w.bot))
            .map(|u| (u.id, u.name.clone()))
            .collect();
        for g in &w.guilds {
            for c in &g.channels {
                all.entry(c.id).or_insert_with(|| c.name.clone());
            }
        }
        all.extend(names.iter().map(|(k, v)| (*k, v.clone())));
        all
    }

    /// Puts a message the bot posted before this fake started (an earlier run, restored from
    /// its records) back in the channel, with its id and buttons, so people can press them.
    pub fn seed_message(&self, channel: u64, id: u64, content: &str, components: Vec<Value>) {
        let author = self.inner.world.world.bot.id;
        let msg = FakeMessage {
            id,
            channel_id: channel,
            author_id: author,
            content: content.to_string(),
            embeds: Vec::new(),
            components,
            attachments: Vec::new(),
            ephemeral_for: None,
            interaction_user: None,
            nonce: None,
            edited: false,
            seq: 0,
        };
        let created_at = self.now();
        self.state().insert_message(StoredMessage {
            msg,
            created_at,
            flags: 0,
            kind: 0,
            deleted: false,
            loading: false,
            edited_at: None,
            interaction_id: None,
            interaction_metadata: None,
        });
    }

    fn world_index(&self) -> &WorldIndex {
        &self.inner.world
    }

    fn next_id(&self) -> u64 {
        self.inner.ids.next()
    }
}

impl State {
    /// Stores a new message and returns its id.
    fn insert_message(&mut self, mut stored: StoredMessage) -> u64 {
        self.msg_seq += 1;
        stored.msg.seq = self.msg_seq;
        let id = stored.msg.id;
        self.messages.insert(id, stored);
        id
    }
}
