//! The Discord transport: serenity and poise. It builds the client and registers the slash
//! commands ([`commands`]), routes buttons, menus and modal submits ([`router`]), renders
//! cards to Discord's builders ([`render`]), posts for the scheduler ([`transport`]) and runs
//! the gateway with its restart loop ([`gateway`]). It parses and renders; what anything
//! means is decided in `flows`.

pub mod commands;
pub mod errors;
pub mod gateway;
pub mod render;
pub mod router;
pub mod transport;

use std::sync::Arc;

use poise::serenity_prelude as serenity;

use crate::config::Config;
use crate::domain::ids::TransportKind;
use crate::flows::{Here, Who};
use crate::state::AppState;
pub use errors::BotError;
pub use transport::DiscordTransport;

/// What every Discord handler can reach: the shared state and the transport (for posts that
/// follow an answer).
pub struct Data {
    pub state: Arc<AppState>,
    pub transport: Arc<DiscordTransport>,
}

pub type Ctx<'a> = poise::Context<'a, Arc<Data>, BotError>;

/// Who acted, as Attune's flows see a Discord user.
pub fn who(user: &serenity::User) -> Who {
    Who {
        transport: TransportKind::Discord,
        handle: user.id.get().to_string(),
    }
}

/// Where they acted, and whether Discord says the bot may post there.
pub fn here(
    channel: serenity::ChannelId,
    guild: Option<serenity::GuildId>,
    permissions: Option<serenity::Permissions>,
) -> Here {
    let needed = serenity::Permissions::VIEW_CHANNEL | serenity::Permissions::SEND_MESSAGES;
    Here {
        transport: TransportKind::Discord,
        room: channel.get().to_string(),
        space: guild.map(|g| g.get().to_string()),
        direct: guild.is_none(),
        can_post: permissions.is_none_or(|p| p.contains(needed)),
        open_to_others: None,
    }
}

/// Whether everyone in the server can read this channel: @everyone's permissions with the
/// channel's overwrites for @everyone applied (as Discord computes them). `None` when Discord
/// did not answer in time; other roles' and members' overwrites are not looked at.
pub async fn open_to_everyone(
    http: &serenity::Http,
    guild: serenity::GuildId,
    channel: serenity::ChannelId,
) -> Option<bool> {
    let look = async {
        let g = http.get_guild(guild).await.ok()?;
        let everyone = serenity::RoleId::new(guild.get());
        let base = g.roles.get(&everyone)?.permissions;
        if base.administrator() {
            return Some(true);
        }
        let ch = http.get_channel(channel).await.ok()?.guild()?;
        let mut p = base;
        for o in &ch.permission_overwrites {
            if o.kind == serenity::PermissionOverwriteType::Role(everyone) {
                p = (p & !o.deny) | o.allow;
            }
        }
        Some(p.view_channel())
    };
    // Two small reads inside the three seconds a command has; a slow answer only costs the hint.
    tokio::time::timeout(std::time::Duration::from_millis(800), look)
        .await
        .ok()
        .flatten()
}

/// The HTTP client, pointed at `discord.proxy_url` when set. serenity ignores the proxy while
/// its own rate limiter is on, and a proxy in front of Discord is expected to do that job.
pub fn build_http(config: &Config, token: &str) -> anyhow::Result<serenity::Http> {
    let client = reqwest::Client::builder()
        .timeout(config.discord.request_timeout)
        .build()?;
    let mut b = serenity::HttpBuilder::new(token).client(client);
    if let Some(proxy) = &config.discord.proxy_url {
        b = b
            .proxy(proxy.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    Ok(b.build())
}

pub fn framework(data: Arc<Data>) -> poise::Framework<Arc<Data>, BotError> {
    let dev_guild = data.state.config.discord.dev_guild_id;
    poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |err| Box::pin(errors::on_error(err)),
            // The start instant rides along as invocation data, so post_command and on_error
            // can time the answer from the moment the command reached us.
            pre_command: |ctx| {
                Box::pin(async move {
                    ctx.set_invocation_data(std::time::Instant::now()).await;
                })
            },
            post_command: |ctx| {
                Box::pin(async move {
                    errors::count_command(ctx, crate::metrics::Outcome::Ok).await;
                })
            },
            event_handler: |fw, event| {
                Box::pin(router::on_event(fw.serenity_context, event, fw.user_data))
            },
            allowed_mentions: Some(render::no_pings()),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                // A failed registration must not stop the bot: poise holds every event until
                // setup returns, and commands registered earlier keep working.
                let registered = match dev_guild {
                    Some(g) => {
                        poise::builtins::register_in_guild(ctx, commands, serenity::GuildId::new(g))
                            .await
                    }
                    None => poise::builtins::register_globally(ctx, commands).await,
                };
                if let Err(e) = registered {
                    tracing::error!(error = %e, "could not register slash commands");
                }
                tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to Discord");
                Ok(data)
            })
        })
        .build()
}

/// The bot token, or the config error that names the missing key.
pub fn token(config: &Config) -> anyhow::Result<String> {
    config
        .discord
        .token
        .as_ref()
        .map(|t| t.expose().to_string())
        .ok_or_else(|| anyhow::anyhow!(config.require_token().unwrap_err()))
}

/// Asks Discord who the bot is before anything starts (through `discord.proxy_url` when
/// set). A refused token, or a proxy URL that does not lead to Discord's API, stops start-up
/// with a message naming the key to fix, instead of a bot that runs and pauses couples for
/// the host's typo. Anything else (Discord away for a moment) only warns: the bot starts and
/// readiness shows the rest.
pub async fn probe(config: &Config) -> anyhow::Result<()> {
    let token = token(config)?;
    let http = build_http(config, &token)?;
    let err = match http.get_current_user().await {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let via = match &config.discord.proxy_url {
        Some(u) => format!("discord.proxy_url {u}"),
        None => "discord.com".to_string(),
    };
    match &err {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            match r.status_code.as_u16() {
                401 => anyhow::bail!(
                    "config key `discord.token`: Discord refused it (401 Unauthorized); reset it in the developer portal (Bot → Reset Token)"
                ),
                404 => anyhow::bail!(
                    "config key `discord.proxy_url`: {via} answered 404 Not Found for /api/v10/users/@me, so it does not lead to Discord's API; check the address"
                ),
                status => {
                    tracing::warn!(status, "Discord did not answer the start-up check; starting anyway");
                }
            }
        }
        serenity::Error::Http(serenity::HttpError::Request(_))
            if config.discord.proxy_url.is_some() =>
        {
            anyhow::bail!(
                "config key `discord.proxy_url`: cannot reach {via}; check the address and that the proxy runs"
            )
        }
        _ => tracing::warn!("could not reach Discord for the start-up check; starting anyway"),
    }
    Ok(())
}

/// The serenity client with our framework, not yet started.
pub async fn client(data: Arc<Data>) -> anyhow::Result<serenity::Client> {
    let token = token(&data.state.config)?;
    let http = build_http(&data.state.config, &token)?;
    // No privileged intents: everything arrives as interactions.
    let intents = serenity::GatewayIntents::GUILDS;
    // Nothing in Attune reads serenity's cache (every handler works from the interaction and
    // Postgres), and at 10,000 servers the cached guilds, channels and users cost about 90 MB.
    let mut cache = serenity::Settings::default();
    cache.cache_guilds = false;
    cache.cache_channels = false;
    cache.cache_users = false;
    let client = serenity::ClientBuilder::new_with_http(http, intents)
        .cache_settings(cache)
        .framework(framework(data))
        .await?;
    Ok(client)
}

/// View Channel, Send Messages, Embed Links, Attach Files, Read Message History.
pub const INVITE_PERMISSIONS: u64 = 117_760;

/// The OAuth2 link a host opens to add the bot to a server.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot%20applications.commands&permissions={INVITE_PERMISSIONS}"
    )
}

/// Time since a Discord timestamp (an interaction id's creation), never negative.
pub fn since(ts: serenity::Timestamp) -> std::time::Duration {
    (chrono::Utc::now() - *ts).to_std().unwrap_or_default()
}
