//! Every JSON object the fake sends to serenity is built here, in one place, because serenity
//! silently drops a gateway dispatch that lacks a single required key (notes §4 and gotcha #4).

use serde_json::{json, Map, Value};

use super::world::{FakeChannel, FakeGuild, FakeUser, WorldIndex, DISCORD_EPOCH_MS};
use super::{FakeMessage, StoredMessage};

/// VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY |
/// ADD_REACTIONS | USE_APPLICATION_COMMANDS: enough that serenity's client-side permission
/// checks (gotcha #5) never refuse a call the real server would allow.
pub(super) const EVERYONE_PERMISSIONS: u64 =
    1024 | 2048 | 16384 | 32768 | 65536 | 64 | (1u64 << 31);

const JOINED_AT: &str = "2024-01-01T00:00:00.000000+00:00";

pub(super) fn user(u: &FakeUser) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.name,
        "global_name": null,
        "discriminator": "0",
        "avatar": null,
        "bot": u.bot,
        "public_flags": 0,
    })
}

/// A guild member; `with_user` is false inside `resolved.members`, where Discord omits it.
pub(super) fn member(u: &FakeUser, with_user: bool) -> Value {
    let mut m = json!({
        "roles": [],
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "nick": null,
        "avatar": null,
        "permissions": EVERYONE_PERMISSIONS.to_string(),
        "joined_at": JOINED_AT,
    });
    if with_user {
        m["user"] = user(u);
    }
    m
}

pub(super) fn snowflake_time(id: u64) -> chrono::DateTime<chrono::Utc> {
    let ms = (id >> 22) + DISCORD_EPOCH_MS;
    chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default()
}

pub(super) fn timestamp(id: u64) -> String {
    snowflake_time(id)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

pub(super) fn guild_channel(guild_id: u64, c: &FakeChannel, position: usize) -> Value {
    let (channel_id, name) = (c.id, &c.name);
    // View Channel (1 << 10), denied to @everyone (its role id is the guild's).
    let overwrites = if c.private {
        json!([{"id": guild_id.to_string(), "type": 0, "allow": "0", "deny": "1024"}])
    } else {
        json!([])
    };
    json!({
        "id": channel_id.to_string(),
        "type": 0,
        "guild_id": guild_id.to_string(),
        "name": name,
        "position": position,
        "permission_overwrites": overwrites,
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "parent_id": null,
        "rate_limit_per_user": 0,
        "flags": 0,
    })
}

pub(super) fn dm_channel(channel_id: u64, recipient: Option<&FakeUser>) -> Value {
    json!({
        "id": channel_id.to_string(),
        "type": 1,
        "last_message_id": null,
        "flags": 0,
        "recipients": recipient.map(|u| vec![user(u)]).unwrap_or_default(),
    })
}

pub(super) fn everyone_role(guild_id: u64) -> Value {
    json!({
        "id": guild_id.to_string(),
        "name": "@everyone",
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "managed": false,
        "mentionable": false,
        "permissions": EVERYONE_PERMISSIONS.to_string(),
        "position": 0,
        "flags": 0,
    })
}

/// The REST guild object (GET /guilds/{id}); GUILD_CREATE extends it.
pub(super) fn guild(g: &FakeGuild) -> Value {
    let owner = g.members.first().copied().unwrap_or(1);
    json!({
        "id": g.id.to_string(),
        "name": g.name,
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": owner.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [everyone_role(g.id)],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
    })
}

pub(super) fn guild_create(world: &WorldIndex, g: &FakeGuild) -> Value {
    let mut v = guild(g);
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|&id| member(&world.user_or_stub(id), true))
        .collect();
    let channels: Vec<Value> = g
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| guild_channel(g.id, c, i))
        .collect();
    let obj = v.as_object_mut().expect("guild() builds an object");
    obj.insert("joined_at".into(), json!(JOINED_AT));
    obj.insert("large".into(), json!(false));
    obj.insert("unavailable".into(), json!(false));
    // The bot counts towards member_count even though it is not listed in `members`.
    obj.insert("member_count".into(), json!(g.members.len() + 1));
    obj.insert("voice_states".into(), json!([]));
    obj.insert("members".into(), Value::Array(members));
    obj.insert("channels".into(), Value::Array(channels));
    obj.insert("threads".into(), json!([]));
    obj.insert("presences".into(), json!([]));
    obj.insert("stage_instances".into(), json!([]));
    obj.insert("guild_scheduled_events".into(), json!([]));
    v
}

pub(super) fn ready(
    world: &WorldIndex,
    session_id: &str,
    ws_url: &str,
    shard: [u32; 2],
    guild_ids: &[u64],
) -> Value {
    let guilds: Vec<Value> = guild_ids
        .iter()
        .map(|id| json!({"id": id.to_string(), "unavailable": true}))
        .collect();
    json!({
        "v": 10,
        "user": user(&world.world.bot),
        "guilds": guilds,
        "session_id": session_id,
        "resume_gateway_url": ws_url,
        "application": {"id": world.world.application_id.to_string(), "flags": 0},
        "shard": shard,
        "private_channels": [],
        "relationships": [],
    })
}

pub(super) fn application(world: &WorldIndex) -> Value {
    let bot = &world.world.bot;
    json!({
        "id": world.world.application_id.to_string(),
        "name": bot.name,
        "icon": null,
        "description": "",
        "bot_public": false,
        "bot_require_code_grant": false,
        "verify_key": "0000",
        "flags": 0,
        "team": null,
        "owner": user(bot),
        "bot": user(bot),
    })
}

fn attachment_json(msg_id: u64, index: usize, a: &super::FakeAttachment) -> Value {
    let id = msg_id + index as u64 + 1;
    let url = format!(
        "https://cdn.discordapp.com/attachments/0/{id}/{}",
        a.filename
    );
    json!({
        "id": id.to_string(),
        "filename": a.filename,
        "description": a.description,
        "size": a.bytes.len(),
        "url": url,
        "proxy_url": url,
        "content_type": content_type(&a.filename),
        "ephemeral": false,
    })
}

fn content_type(filename: &str) -> &'static str {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else if lower.ends_with(".txt") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// The full Message object used in REST replies and as `interaction.message`.
pub(super) fn message(world: &WorldIndex, m: &StoredMessage) -> Value {
    let f: &FakeMessage = &m.msg;
    let mut mentions = Vec::new();
    for id in super::render::mentioned_user_ids(&f.content) {
        if let Some(u) = world.user(id) {
            mentions.push(user(u));
        }
    }
    let attachments: Vec<Value> = f
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| attachment_json(f.id, i, a))
        .collect();
    let mut v = json!({
        "id": f.id.to_string(),
        "channel_id": f.channel_id.to_string(),
        "author": user(&world.user_or_stub(f.author_id)),
        "content": f.content,
        "timestamp": m
            .created_at
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string(),
        "edited_timestamp": m.edited_at.map(timestamp),
        "tts": false,
        "mention_everyone": false,
        "mentions": mentions,
        "mention_roles": [],
        "attachments": attachments,
        "embeds": f.embeds,
        "components": f.components,
        "pinned": false,
        "type": m.kind,
        "flags": m.flags,
    });
    let obj = v.as_object_mut().expect("object");
    if let Some(g) = world.guild_of_channel(f.channel_id) {
        obj.insert("guild_id".into(), json!(g.id.to_string()));
    }
    if let Some(n) = &f.nonce {
        obj.insert("nonce".into(), json!(n));
    }
    if m.interaction_id.is_some() {
        obj.insert(
            "webhook_id".into(),
            json!(world.world.application_id.to_string()),
        );
        obj.insert(
            "application_id".into(),
            json!(world.world.application_id.to_string()),
        );
    }
    if let Some(meta) = &m.interaction_metadata {
        obj.insert("interaction_metadata".into(), meta.clone());
    }
    v
}

/// Fields every INTERACTION_CREATE carries; the caller adds `data` (and `message`).
pub(super) struct Envelope<'a> {
    pub id: u64,
    pub kind: u8,
    pub token: &'a str,
    pub user: &'a FakeUser,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
}

pub(super) fn interaction(world: &WorldIndex, e: &Envelope<'_>, data: Value) -> Map<String, Value> {
    let mut v = json!({
        "id": e.id.to_string(),
        "application_id": world.world.application_id.to_string(),
        "type": e.kind,
        "token": e.token,
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10_485_760,
        "channel_id": e.channel_id.to_string(),
        "app_permissions": EVERYONE_PERMISSIONS.to_string(),
        "authorizing_integration_owners": {},
        "data": data,
    });
    let obj = v.as_object_mut().expect("object");
    match e.guild_id {
        Some(gid) => {
            obj.insert("guild_id".into(), json!(gid.to_string()));
            obj.insert("guild_locale".into(), json!("en-US"));
            obj.insert("member".into(), member(e.user, true));
            obj.insert("context".into(), json!(0));
            obj.insert(
                "channel".into(),
                json!({"id": e.channel_id.to_string(), "type": 0, "guild_id": gid.to_string()}),
            );
        }
        None => {
            obj.insert("user".into(), user(e.user));
            obj.insert("context".into(), json!(1));
            obj.insert(
                "channel".into(),
                json!({"id": e.channel_id.to_string(), "type": 1}),
            );
        }
    }
    std::mem::take(obj)
}

/// Discord-shaped error bodies.
pub(super) fn error(code: u32, message: &str) -> Value {
    json!({"code": code, "message": message})
}

pub(super) fn rate_limited(retry_after: f64) -> Value {
    json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false})
}

/// Echo of a registered command with the server-assigned fields serenity requires.
pub(super) fn command(
    app_id: u64,
    id: u64,
    version: u64,
    guild_id: Option<u64>,
    body: &Value,
) -> Value {
    let mut v = body.clone();
    if !v.is_object() {
        v = json!({});
    }
    let obj = v.as_object_mut().expect("object");
    obj.insert("id".into(), json!(id.to_string()));
    obj.insert("application_id".into(), json!(app_id.to_string()));
    obj.insert("version".into(), json!(version.to_string()));
    if obj.get("type").is_none_or(Value::is_null) {
        obj.insert("type".into(), json!(1));
    }
    if obj.get("description").is_none_or(Value::is_null) {
        obj.insert("description".into(), json!(""));
    }
    if let Some(g) = guild_id {
        obj.insert("guild_id".into(), json!(g.to_string()));
    }
    obj.entry("default_member_permissions")
        .or_insert(Value::Null);
    v
}
