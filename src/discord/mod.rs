//! The serenity/poise adapter: builds the client, registers the slash commands, routes
//! component and modal interactions, and turns errors into kind replies.

pub mod checkin;
pub mod commands;
pub mod components;
pub mod errors;
pub mod micro;
pub mod post;
pub mod render;
pub mod repair;

use std::sync::Arc;

use poise::serenity_prelude as serenity;
use secrecy::ExposeSecret;

use crate::app::AppState;
use crate::config::Config;
pub use errors::BotError;

pub type Ctx<'a> = poise::Context<'a, Arc<AppState>, BotError>;

/// The mentions every message allows by default: nobody. Messages that should notify a
/// partner opt in with [`render::ping`].
pub fn no_pings() -> serenity::CreateAllowedMentions {
    serenity::CreateAllowedMentions::new()
        .empty_users()
        .empty_roles()
        .everyone(false)
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

pub fn framework(state: Arc<AppState>) -> poise::Framework<Arc<AppState>, BotError> {
    let dev_guild = state.config.discord.dev_guild_id;
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
                    errors::count_command(ctx, crate::ops::Outcome::Ok).await;
                })
            },
            event_handler: |fw, event| {
                Box::pin(components::on_event(fw.serenity_context, event, fw.user_data))
            },
            allowed_mentions: Some(no_pings()),
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
                Ok(state)
            })
        })
        .build()
}

/// The serenity client with our framework, not yet started.
pub async fn client(state: Arc<AppState>) -> anyhow::Result<serenity::Client> {
    let token = state
        .config
        .discord
        .token
        .as_ref()
        .map(|t| t.expose_secret().to_string())
        .ok_or_else(|| anyhow::anyhow!(state.config.require_token().unwrap_err()))?;
    let http = build_http(&state.config, &token)?;
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
        .framework(framework(state))
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
