//! The REST half of the fake: one fallback handler that records, fault-injects, validates and
//! routes every `/api/v10/...` request, so an unknown route can be answered and flagged in one
//! place instead of falling through axum's router silently.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::{
    gateway, payloads, validate, FakeAttachment, FakeDiscord, FakeMessage, Fault, MessagePolicy,
    RecordedRequest, RegisteredCommand, State as FakeState, StoredMessage, NONCE_WINDOW,
    TOKEN_LIFETIME,
};

// ---------------------------------------------------------------------------------------------
// Server plumbing

/// A TCP listener that keeps a second handle on every accepted socket, so a [`Fault::Reset`]
/// can shut the connection down from inside a request handler.
struct ResettableListener(tokio::net::TcpListener);

#[derive(Clone, Debug)]
pub(super) struct ConnAddr {
    handle: Option<Arc<std::net::TcpStream>>,
}

impl axum::serve::Listener for ResettableListener {
    type Io = tokio::net::TcpStream;
    type Addr = ConnAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, _)) = self.0.accept().await else {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let Ok(std_stream) = stream.into_std() else {
                continue;
            };
            let handle = std_stream.try_clone().ok().map(Arc::new);
            let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
                continue;
            };
            return (stream, ConnAddr { handle });
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(ConnAddr { handle: None })
    }
}

impl Connected<axum::serve::IncomingStream<'_, ResettableListener>> for ConnAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, ResettableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

pub(super) fn serve(
    fake: FakeDiscord,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    let router = Router::new()
        .route("/ws", get(gateway::ws_handler))
        .fallback(handle)
        // Attachments can be up to 10 MiB each; axum's default limit is 2 MB.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(fake.clone());
    let service = router.into_make_service_with_connect_info::<ConnAddr>();
    tokio::spawn(async move {
        let shutdown = fake.clone();
        let result = axum::serve(ResettableListener(listener), service)
            .with_graceful_shutdown(async move { shutdown.inner.shutdown.notified().await })
            .await;
        if let Err(e) = result {
            tracing::warn!(target: "fake_discord", "fake Discord server stopped: {e}");
        }
    })
}

fn json_resp(status: u16, v: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn not_found_route() -> Response {
    json_resp(404, json!({"message": "404: Not Found", "code": 0}))
}

// ---------------------------------------------------------------------------------------------
// Request parsing

#[derive(Debug)]
pub(super) struct Upload {
    /// The n of `files[n]`, which `attachments[].id` refers to.
    index: u64,
    filename: String,
    bytes: Vec<u8>,
}

struct Req {
    method: Method,
    /// The path after `/api/v10`, split on '/'.
    segs: Vec<String>,
    query: HashMap<String, String>,
    body: Option<Value>,
    uploads: Vec<Upload>,
    /// "POST /api/v10/channels/1/messages", used to name the route in violations.
    label: String,
}

async fn parse_body(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(Option<Value>, Vec<Upload>), String> {
    if body.is_empty() {
        return Ok((None, Vec::new()));
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(ctype)
            .map_err(|e| format!("multipart body without a boundary: {e}"))?;
        return parse_multipart(body, boundary).await;
    }
    serde_json::from_slice(&body)
        .map(|v| (Some(v), Vec::new()))
        .map_err(|e| format!("body is not valid JSON: {e}"))
}

/// serenity sends `payload_json` plus one `files[n]` part per upload; a lone `file` part is the
/// older single-upload form.
async fn parse_multipart(
    body: Bytes,
    boundary: String,
) -> Result<(Option<Value>, Vec<Upload>), String> {
    // axum has already buffered the whole body (attachments count against its limit), so the
    // parser gets it as a single chunk.
    let chunks = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(chunks, boundary);
    let mut payload = None;
    let mut uploads = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| format!("malformed multipart body: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|e| format!("malformed multipart part {name:?}: {e}"))?;
        if name == "payload_json" {
            payload = Some(
                serde_json::from_slice(&data)
                    .map_err(|e| format!("payload_json is not valid JSON: {e}"))?,
            );
        } else if let Some(index) = name
            .strip_prefix("files[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
        {
            uploads.push(Upload {
                index,
                filename: filename.unwrap_or_else(|| format!("file{index}")),
                bytes: data.to_vec(),
            });
        } else if name == "file" {
            uploads.push(Upload {
                index: uploads.len() as u64,
                filename: filename.unwrap_or_else(|| "file".into()),
                bytes: data.to_vec(),
            });
        }
    }
    Ok((payload, uploads))
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The handler

async fn handle(
    State(fake): State<FakeDiscord>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let label = format!("{method} {path}");
    let parsed = parse_body(&headers, body).await;
    let (json_body, uploads, parse_error) = match parsed {
        Ok((b, u)) => (b, u, None),
        Err(e) => (None, Vec::new(), Some(e)),
    };
    {
        let mut st = fake.state();
        st.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            body: json_body.clone(),
            at: Instant::now(),
        });
    }
    fake.notify();

    if let Some(limit) = fake.inner.opts.global_rate_limit {
        if let Some(resp) = fake.global_limit(&path, limit) {
            return resp;
        }
    }

    let mut slow_answer = None;
    if let Some(fault) = fake.take_fault(&path) {
        match fault {
            Fault::Status {
                status,
                retry_after,
                ..
            } => {
                if status == 429 {
                    let retry = retry_after.unwrap_or(1.0);
                    let mut resp = json_resp(429, payloads::rate_limited(retry));
                    let h = resp.headers_mut();
                    if let Ok(v) = retry.to_string().parse() {
                        h.insert("retry-after", v);
                    }
                    if let Ok(v) = "user".parse() {
                        h.insert("x-ratelimit-scope", v);
                    }
                    return resp;
                }
                return json_resp(status, payloads::error(0, "injected fault"));
            }
            Fault::Delay { delay, .. } => tokio::time::sleep(delay).await,
            Fault::SlowAnswer { delay, .. } => slow_answer = Some(delay),
            Fault::Reset { .. } => {
                if let Some(h) = &conn.handle {
                    let _ = h.shutdown(std::net::Shutdown::Both);
                }
                return Response::new(Body::empty());
            }
        }
    }

    let Some(rest) = path.strip_prefix("/api/v10") else {
        fake.violation(format!("{label}: unknown route (not under /api/v10)"));
        return not_found_route();
    };
    if let Some(e) = parse_error {
        fake.violation(format!("{label}: {e}"));
        return json_resp(
            400,
            payloads::error(50109, "The request body contains invalid JSON."),
        );
    }
    let segs: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    if let Some(body) = &json_body {
        if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            if let Some(spec) = &fake.inner.spec {
                for problem in spec.validate_request(method.as_str(), rest, body) {
                    fake.violation(format!("{label}: openapi: {problem}"));
                }
            }
        }
    }
    let req = Req {
        method,
        segs,
        query: parse_query(uri.query()),
        body: json_body,
        uploads,
        label,
    };
    let resp = route(&fake, req);
    if let Some(delay) = slow_answer {
        tokio::time::sleep(delay).await;
    }
    resp
}

impl FakeDiscord {
    fn message_policy(&self) -> Option<&MessagePolicy> {
        self.inner.opts.message_policy.as_ref()
    }

    /// Counts a request against Discord's global limit; over it, a global 429 (and a
    /// violation: a bot must stay under the limit, not find it).
    fn global_limit(&self, path: &str, limit: u32) -> Option<Response> {
        if path.contains("/interactions/") || path.contains("/webhooks/") {
            return None;
        }
        let now = Instant::now();
        let over = {
            let mut st = self.state();
            while st
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                st.recent.pop_front();
            }
            st.recent.push_back(now);
            st.recent.len() > limit as usize
        };
        if !over {
            return None;
        }
        self.violation(format!(
            "{path}: over Discord's global rate limit of {limit} requests a second"
        ));
        let mut resp = json_resp(429, payloads::rate_limited(1.0));
        let h = resp.headers_mut();
        if let Ok(v) = "1".parse() {
            h.insert("retry-after", v);
        }
        if let Ok(v) = "true".parse() {
            h.insert("x-ratelimit-global", v);
        }
        Some(resp)
    }

    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut st = self.state();
        let idx = st.faults.iter().position(|f| {
            let (pc, times) = match f {
                Fault::Status {
                    path_contains,
                    times,
                    ..
                }
                | Fault::Delay {
                    path_contains,
                    times,
                    ..
                }
                | Fault::Reset {
                    path_contains,
                    times,
                }
                | Fault::SlowAnswer {
                    path_contains,
                    times,
                    ..
                } => (path_contains, *times),
            };
            times > 0 && path.contains(pc.as_str())
        })?;
        let fault = st.faults[idx].clone();
        let remaining = match &mut st.faults[idx] {
            Fault::Status { times, .. }
            | Fault::Delay { times, .. }
            | Fault::Reset { times, .. }
            | Fault::SlowAnswer { times, .. } => {
                *times -= 1;
                *times
            }
        };
        if remaining == 0 {
            st.faults.remove(idx);
        }
        Some(fault)
    }
}

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn route(fake: &FakeDiscord, req: Req) -> Response {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = &req.method;
    let app = fake.world_index().world.application_id;
    let resp = match (m.as_str(), segs.as_slice()) {
        ("GET", ["gateway"]) => Some(json_resp(200, json!({"url": fake.ws_url()}))),
        ("GET", ["gateway", "bot"]) => Some(json_resp(
            200,
            json!({"url": fake.ws_url(), "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}}),
        )),
        ("GET", ["users", "@me"]) => Some(json_resp(
            200,
            payloads::user(&fake.world_index().world.bot),
        )),
        ("GET", ["users", uid]) => id(uid).map(|uid| match fake.world_index().user(uid) {
            Some(u) => json_resp(200, payloads::user(u)),
            None => json_resp(404, payloads::error(10013, "Unknown User")),
        }),
        ("POST", ["users", "@me", "channels"]) => Some(create_dm(fake, &req)),
        ("GET", ["oauth2", "applications", "@me"]) => {
            Some(json_resp(200, payloads::application(fake.world_index())))
        }
        (_, ["applications", a, "commands"]) if id(a) == Some(app) => commands(fake, &req, None),
        (_, ["applications", a, "guilds", g, "commands"]) if id(a) == Some(app) => {
            id(g).and_then(|g| commands(fake, &req, Some(g)))
        }
        ("GET", ["guilds", g]) => id(g).map(|g| match fake.world_index().guild(g) {
            Some(g) => json_resp(200, payloads::guild(g)),
            None => json_resp(404, payloads::error(10004, "Unknown Guild")),
        }),
        ("GET", ["guilds", g, "channels"]) => id(g).map(|g| match fake.world_index().guild(g) {
            Some(g) => json_resp(
                200,
                Value::Array(
                    g.channels
                        .iter()
                        .enumerate()
                        .map(|(i, c)| payloads::guild_channel(g.id, c, i))
                        .collect(),
                ),
            ),
            None => json_resp(404, payloads::error(10004, "Unknown Guild")),
        }),
        ("GET", ["guilds", g, "members", u]) => match (id(g), id(u)) {
            (Some(g), Some(u)) => Some(get_member(fake, g, u)),
            _ => None,
        },
        (_, ["channels", c, ..]) => id(c).and_then(|c| channel_routes(fake, &req, c, &segs[2..])),
        ("POST", ["interactions", iid, token, "callback"]) => {
            id(iid).map(|iid| callback(fake, &req, iid, token))
        }
        (_, ["webhooks", a, token, rest @ ..]) if id(a) == Some(app) => {
            webhook_routes(fake, &req, token, rest)
        }
        _ => None,
    };
    resp.unwrap_or_else(|| {
        fake.violation(format!("{}: unknown route", req.label));
        not_found_route()
    })
}

fn get_member(fake: &FakeDiscord, g: u64, u: u64) -> Response {
    let w = fake.world_index();
    match (w.guild(g), w.user(u)) {
        (Some(guild), Some(user)) if guild.members.contains(&u) || u == w.world.bot.id => {
            let mut m = payloads::member(user, true);
            m["guild_id"] = json!(g.to_string());
            json_resp(200, m)
        }
        (None, _) => json_resp(404, payloads::error(10004, "Unknown Guild")),
        _ => json_resp(404, payloads::error(10007, "Unknown Member")),
    }
}

fn create_dm(fake: &FakeDiscord, req: &Req) -> Response {
    let Some(uid) = req
        .body
        .as_ref()
        .and_then(|b| b.get("recipient_id"))
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
        .and_then(|s| s.parse::<u64>().ok())
    else {
        fake.violation(format!("{}: missing recipient_id", req.label));
        return json_resp(400, payloads::error(50035, "Invalid Form Body"));
    };
    let channel = {
        let existing = fake.state().dm_by_user.get(&uid).copied();
        match existing {
            Some(c) => c,
            None => {
                let c = fake.next_id();
                let mut st = fake.state();
                st.dm_by_user.insert(uid, c);
                st.dm_user_by_channel.insert(c, uid);
                c
            }
        }
    };
    let user = fake.world_index().user_or_stub(uid);
    json_resp(200, payloads::dm_channel(channel, Some(&user)))
}

// ---------------------------------------------------------------------------------------------
// Commands

fn commands(fake: &FakeDiscord, req: &Req, guild: Option<u64>) -> Option<Response> {
    let app = fake.world_index().world.application_id;
    let scope_list = |st: &FakeState| -> Value {
        Value::Array(
            st.commands
                .iter()
                .filter(|c| c.guild_id == guild)
                .map(|c| payloads::command(app, c.id, st.command_version, c.guild_id, &c.body))
                .collect(),
        )
    };
    match req.method.as_str() {
        "GET" => Some(json_resp(200, scope_list(&fake.state()))),
        "PUT" => {
            let Some(Value::Array(items)) = &req.body else {
                fake.violation(format!("{}: body must be an array of commands", req.label));
                return Some(json_resp(400, payloads::error(50035, "Invalid Form Body")));
            };
            for item in items {
                validate::check_command(item, &req.label, &mut |v| fake.violation(v));
            }
            let mut st = fake.state();
            st.command_version += 1;
            let mut kept = Vec::new();
            for item in items {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                // Discord keeps a command's id when it is re-registered under the same name.
                let existing = st
                    .commands
                    .iter()
                    .find(|c| c.guild_id == guild && c.body["name"].as_str() == Some(name))
                    .map(|c| c.id);
                kept.push(RegisteredCommand {
                    guild_id: guild,
                    id: existing.unwrap_or_else(|| fake.next_id()),
                    body: item.clone(),
                });
            }
            st.commands.retain(|c| c.guild_id != guild);
            st.commands.extend(kept);
            let out = scope_list(&st);
            drop(st);
            fake.notify();
            Some(json_resp(200, out))
        }
        "POST" => {
            let body = req.body.clone().unwrap_or(Value::Null);
            validate::check_command(&body, &req.label, &mut |v| fake.violation(v));
            let mut st = fake.state();
            st.command_version += 1;
            let name = body["name"].as_str().unwrap_or("").to_string();
            let id = match st
                .commands
                .iter_mut()
                .find(|c| c.guild_id == guild && c.body["name"].as_str() == Some(&name))
            {
                Some(c) => {
                    c.body = body.clone();
                    c.id
                }
                None => {
                    let id = fake.next_id();
                    st.commands.push(RegisteredCommand {
                        guild_id: guild,
                        id,
                        body: body.clone(),
                    });
                    id
                }
            };
            let out = payloads::command(app, id, st.command_version, guild, &body);
            drop(st);
            fake.notify();
            Some(json_resp(201, out))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

/// The uploaded files, each with the description of the `attachments[]` entry whose id names
/// its `files[n]` part.
fn attachments_for_create(body: &Value, uploads: &[Upload]) -> Vec<FakeAttachment> {
    uploads
        .iter()
        .map(|u| {
            let description = body["attachments"].as_array().and_then(|list| {
                list.iter()
                    .find(|a| attachment_ref_id(&a["id"]) == Some(u.index))
                    .and_then(|a| a["description"].as_str().map(str::to_string))
            });
            FakeAttachment {
                filename: u.filename.clone(),
                bytes: u.bytes.clone(),
                description,
            }
        })
        .collect()
}

/// serenity sends placeholder attachment ids as numbers, Discord's own clients as strings.
fn attachment_ref_id(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn value_array(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Applies an edit body (PATCH or an UPDATE_MESSAGE callback) to a stored message.
fn apply_edit(m: &mut StoredMessage, body: &Value, uploads: &[Upload], edit_id: u64) {
    let f = &mut m.msg;
    if let Some(c) = body.get("content") {
        f.content = c.as_str().unwrap_or("").to_string();
    }
    if let Some(e) = body.get("embeds") {
        f.embeds = value_array(e);
    }
    if let Some(c) = body.get("components") {
        f.components = value_array(c);
    }
    if let Some(list) = body.get("attachments").and_then(Value::as_array) {
        // Existing attachments survive only if listed; their ids are message id + index + 1.
        let keep: Vec<FakeAttachment> = f
            .attachments
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let aid = f.id + *i as u64 + 1;
                list.iter()
                    .any(|a| attachment_ref_id(&a["id"]) == Some(aid))
            })
            .map(|(_, a)| a.clone())
            .collect();
        f.attachments = keep;
    }
    f.attachments.extend(attachments_for_create(body, uploads));
    f.edited = true;
    m.edited_at = Some(edit_id);
    m.loading = false;
}

pub(super) struct NewMessage {
    pub channel_id: u64,
    pub flags: u64,
    pub kind: u8,
    pub ephemeral_for: Option<u64>,
    pub interaction: Option<(u64, u8, u64)>,
    pub nonce: Option<String>,
    pub loading: bool,
    pub metadata: Option<Value>,
}

fn build_message(
    fake: &FakeDiscord,
    n: NewMessage,
    body: &Value,
    uploads: &[Upload],
) -> StoredMessage {
    let id = fake.next_id();
    StoredMessage {
        created_at: fake.now(),
        msg: FakeMessage {
            id,
            channel_id: n.channel_id,
            author_id: fake.world_index().world.bot.id,
            content: body["content"].as_str().unwrap_or("").to_string(),
            embeds: value_array(&body["embeds"]),
            components: value_array(&body["components"]),
            attachments: attachments_for_create(body, uploads),
            ephemeral_for: n.ephemeral_for,
            interaction_user: n.interaction.map(|(_, _, u)| u),
            nonce: n.nonce,
            edited: false,
            seq: 0,
        },
        flags: n.flags,
        kind: n.kind,
        deleted: false,
        loading: n.loading,
        edited_at: None,
        interaction_id: n.interaction.map(|(i, _, _)| i),
        interaction_metadata: n.metadata,
    }
}

fn message_json(fake: &FakeDiscord, id: u64) -> Value {
    let st = fake.state();
    st.messages
        .get(&id)
        .map(|m| payloads::message(fake.world_index(), m))
        .unwrap_or(Value::Null)
}

fn unknown_message() -> Response {
    json_resp(404, payloads::error(10008, "Unknown Message"))
}

/// A message as a fetch returns it: Discord keeps a nonce only long enough to echo it in the
/// create answer and the gateway event, never on the stored message.
fn without_nonce(mut m: Value) -> Value {
    if let Some(o) = m.as_object_mut() {
        o.remove("nonce");
    }
    m
}

fn nonce_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn channel_routes(fake: &FakeDiscord, req: &Req, channel: u64, rest: &[&str]) -> Option<Response> {
    let w = fake.world_index();
    if fake.state().deleted_channels.contains(&channel) {
        return Some(json_resp(404, payloads::error(10003, "Unknown Channel")));
    }
    if fake.state().forbidden.contains(&channel) {
        return Some(json_resp(403, payloads::error(50001, "Missing Access")));
    }
    let body = req.body.clone().unwrap_or(Value::Null);
    match (req.method.as_str(), rest) {
        ("GET", []) => Some(match (w.guild_of_channel(channel), w.channel(channel)) {
            (Some(g), Some(c)) => {
                let pos = g.channels.iter().position(|x| x.id == channel).unwrap_or(0);
                json_resp(200, payloads::guild_channel(g.id, c, pos))
            }
            _ => {
                let recipient = fake.state().dm_user_by_channel.get(&channel).copied();
                let user = recipient.map(|u| w.user_or_stub(u));
                json_resp(200, payloads::dm_channel(channel, user.as_ref()))
            }
        }),
        ("POST", ["typing"]) => Some(no_content()),
        ("GET", ["messages"]) => {
            let limit: usize = req
                .query
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(50)
                .min(100);
            // Discord pages by message id: `before` (newest first) or `after` (oldest
            // first, as Discord returns them reversed: we keep newest first for both).
            let before = req.query.get("before").and_then(|v| v.parse::<u64>().ok());
            let after = req.query.get("after").and_then(|v| v.parse::<u64>().ok());
            let st = fake.state();
            let list: Vec<Value> = st
                .messages
                .values()
                .rev()
                .filter(|m| {
                    m.msg.channel_id == channel
                        && !m.deleted
                        && !m.loading
                        && m.msg.ephemeral_for.is_none()
                        && before.is_none_or(|b| m.msg.id < b)
                        && after.is_none_or(|a| m.msg.id > a)
                })
                .take(limit)
                .map(|m| without_nonce(payloads::message(w, m)))
                .collect();
            Some(json_resp(200, Value::Array(list)))
        }
        ("POST", ["messages"]) => {
            let closed = {
                let st = fake.state();
                st.dm_user_by_channel
                    .get(&channel)
                    .is_some_and(|u| st.closed_dms.contains(u))
            };
            if closed {
                return Some(json_resp(
                    403,
                    payloads::error(50007, "Cannot send messages to this user"),
                ));
            }
            if !req.uploads.is_empty() && fake.state().no_attachments.contains(&channel) {
                return Some(json_resp(
                    403,
                    payloads::error(50013, "Missing Permissions"),
                ));
            }
            let ctx = validate::Ctx::channel_create(
                &req.label,
                !req.uploads.is_empty(),
                fake.message_policy(),
            );
            validate::check_message(&body, &ctx, &mut |v| fake.violation(v));
            let nonce = body.get("nonce").and_then(nonce_string);
            let enforce = body.get("enforce_nonce").and_then(Value::as_bool) == Some(true);
            let mut st = fake.state();
            if let (Some(n), true) = (&nonce, enforce) {
                let key = (channel, n.clone());
                if let Some((mid, at)) = st.nonces.get(&key) {
                    let age = (fake.now() - *at).to_std().unwrap_or_default();
                    if age < NONCE_WINDOW {
                        let out = st
                            .messages
                            .get(mid)
                            .map(|m| payloads::message(w, m))
                            .unwrap_or(Value::Null);
                        return Some(json_resp(200, out));
                    }
                }
            }
            let kind = if body.get("message_reference").is_some_and(|r| !r.is_null()) {
                19
            } else {
                0
            };
            let stored = build_message(
                fake,
                NewMessage {
                    channel_id: channel,
                    // EPHEMERAL (64) is only meaningful for interaction responses.
                    flags: body["flags"].as_u64().unwrap_or(0) & !64,
                    kind,
                    ephemeral_for: None,
                    interaction: None,
                    nonce: nonce.clone(),
                    loading: false,
                    metadata: None,
                },
                &body,
                &req.uploads,
            );
            let mid = st.insert_message(stored);
            if let (Some(n), true) = (nonce, enforce) {
                st.nonces.insert((channel, n), (mid, fake.now()));
            }
            let out = st.messages.get(&mid).map(|m| payloads::message(w, m));
            drop(st);
            fake.notify();
            Some(json_resp(200, out.unwrap_or(Value::Null)))
        }
        (method, ["messages", mid]) => {
            let mid = id(mid)?;
            let exists = {
                let st = fake.state();
                st.messages
                    .get(&mid)
                    .filter(|m| {
                        m.msg.channel_id == channel && !m.deleted && m.msg.ephemeral_for.is_none()
                    })
                    .map(|m| m.msg.author_id)
            };
            let Some(author) = exists else {
                return Some(unknown_message());
            };
            match method {
                "GET" => Some(json_resp(200, without_nonce(message_json(fake, mid)))),
                "PATCH" => {
                    let ctx = validate::Ctx::edit(&req.label);
                    validate::check_message(&body, &ctx, &mut |v| fake.violation(v));
                    if author != w.world.bot.id {
                        return Some(json_resp(
                            403,
                            payloads::error(
                                50005,
                                "Cannot edit a message authored by another user",
                            ),
                        ));
                    }
                    let edit_id = fake.next_id();
                    if let Some(m) = fake.state().messages.get_mut(&mid) {
                        apply_edit(m, &body, &req.uploads, edit_id);
                    }
                    fake.notify();
                    Some(json_resp(200, message_json(fake, mid)))
                }
                "DELETE" => {
                    if let Some(m) = fake.state().messages.get_mut(&mid) {
                        m.deleted = true;
                    }
                    fake.notify();
                    Some(no_content())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Interactions

fn unknown_interaction(fake: &FakeDiscord, label: &str, why: &str) -> Response {
    fake.violation(format!("{label}: {why}"));
    json_resp(404, payloads::error(10062, "Unknown interaction"))
}

fn callback(fake: &FakeDiscord, req: &Req, iid: u64, token: &str) -> Response {
    let body = req.body.clone().unwrap_or(Value::Null);
    let deadline = fake.inner.opts.interaction_deadline;
    let (kind, user, channel, source, age) = {
        let st = fake.state();
        let Some(rec) = st.interactions.get(&iid).filter(|r| r.token == token) else {
            drop(st);
            return unknown_interaction(fake, &req.label, "callback for an unknown interaction");
        };
        if rec.callback.is_some() {
            drop(st);
            fake.violation(format!(
                "{}: second callback for interaction {iid}",
                req.label
            ));
            return json_resp(
                400,
                payloads::error(40060, "Interaction has already been acknowledged."),
            );
        }
        (
            rec.kind,
            rec.user,
            rec.channel_id,
            rec.source_message,
            rec.created.elapsed(),
        )
    };
    if age > deadline {
        return unknown_interaction(
            fake,
            &req.label,
            &format!(
                "callback {} ms after the interaction was created (deadline {} ms)",
                age.as_millis(),
                deadline.as_millis()
            ),
        );
    }
    let rtype = body["type"].as_u64().unwrap_or(0) as u8;
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let data = if data.is_null() { json!({}) } else { data };
    let flags = data["flags"].as_u64().unwrap_or(0);
    let ephemeral = flags & 64 != 0;
    let bad = |why: &str| fake.violation(format!("{}: {why}", req.label));
    validate::check_callback(
        &body,
        &req.label,
        !req.uploads.is_empty(),
        fake.message_policy(),
        &mut |v| fake.violation(v),
    );
    let mut original = None;
    let mut modal = None;
    let mut choices = None;
    match rtype {
        4 | 5 => {
            let stored = build_message(
                fake,
                NewMessage {
                    channel_id: channel,
                    flags: flags & 64,
                    kind: if kind == 2 { 20 } else { 0 },
                    ephemeral_for: ephemeral.then_some(user),
                    interaction: Some((iid, kind, user)),
                    nonce: None,
                    loading: rtype == 5,
                    metadata: fake.interaction_metadata(iid, None),
                },
                &if rtype == 4 { data.clone() } else { json!({}) },
                if rtype == 4 { &req.uploads } else { &[] },
            );
            original = Some(fake.state().insert_message(stored));
        }
        6 | 7 => match source {
            Some(mid) => {
                if rtype == 7 {
                    let edit_id = fake.next_id();
                    if let Some(m) = fake.state().messages.get_mut(&mid) {
                        apply_edit(m, &data, &req.uploads, edit_id);
                    }
                }
                original = Some(mid);
            }
            None => bad(&format!(
                "callback type {rtype} is only valid for component interactions"
            )),
        },
        8 => {
            if kind != 4 {
                bad("callback type 8 (autocomplete result) for a non-autocomplete interaction");
            }
            choices = Some(
                data["choices"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .map(|c| {
                                (
                                    c["name"].as_str().unwrap_or("").to_string(),
                                    c["value"].clone(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            );
        }
        9 => {
            if kind == 5 || kind == 4 {
                bad("a modal cannot answer a modal submit or an autocomplete");
            }
            modal = Some(super::interact::modal_from_callback(
                &data, iid, channel, source,
            ));
        }
        1 => bad("callback type 1 (PONG) is only for HTTP pings"),
        other => {
            bad(&format!("unsupported callback type {other}"));
            return json_resp(400, payloads::error(50035, "Invalid Form Body"));
        }
    }
    let source_mark =
        source.and_then(|mid| fake.state().messages.get(&mid).and_then(|m| m.edited_at));
    {
        let mut st = fake.state();
        if let Some(rec) = st.interactions.get_mut(&iid) {
            rec.callback = Some(rtype);
            rec.original = original;
            rec.source_edit_mark = source_mark;
            rec.ephemeral = ephemeral;
            rec.modal = modal;
            rec.choices = choices;
        }
    }
    fake.notify();
    no_content()
}

fn webhook_routes(fake: &FakeDiscord, req: &Req, token: &str, rest: &[&str]) -> Option<Response> {
    let found = {
        let st = fake.state();
        st.tokens.get(token).and_then(|iid| {
            st.interactions.get(iid).map(|r| {
                (
                    *iid,
                    r.created,
                    r.callback,
                    r.original,
                    r.user,
                    r.channel_id,
                    r.kind,
                )
            })
        })
    };
    let Some((iid, created, cb, original, user, channel, kind)) = found else {
        fake.violation(format!("{}: unknown webhook token", req.label));
        return Some(json_resp(404, payloads::error(10015, "Unknown Webhook")));
    };
    if created.elapsed() > TOKEN_LIFETIME {
        fake.violation(format!("{}: interaction token expired", req.label));
        return Some(json_resp(
            401,
            payloads::error(50027, "Invalid Webhook Token"),
        ));
    }
    if cb.is_none() {
        fake.violation(format!(
            "{}: followup/edit before the interaction was acknowledged",
            req.label
        ));
        return Some(json_resp(404, payloads::error(10015, "Unknown Webhook")));
    }
    let body = req.body.clone().unwrap_or(Value::Null);
    match (req.method.as_str(), rest) {
        ("POST", []) => {
            let ctx =
                validate::Ctx::followup(&req.label, !req.uploads.is_empty(), fake.message_policy());
            validate::check_message(&body, &ctx, &mut |v| fake.violation(v));
            let flags = body["flags"].as_u64().unwrap_or(0);
            // After a deferred response the first followup fills in the "thinking" message.
            let placeholder = {
                let st = fake.state();
                original.filter(|mid| st.messages.get(mid).is_some_and(|m| m.loading))
            };
            let mid = match placeholder {
                Some(mid) => {
                    let edit_id = fake.next_id();
                    let mut st = fake.state();
                    if let Some(m) = st.messages.get_mut(&mid) {
                        apply_edit(m, &body, &req.uploads, edit_id);
                        // Filling the placeholder is not an edit the reader would notice.
                        m.msg.edited = false;
                        m.edited_at = None;
                    }
                    mid
                }
                None => {
                    let stored = build_message(
                        fake,
                        NewMessage {
                            channel_id: channel,
                            flags: flags & 64,
                            kind: 0,
                            ephemeral_for: (flags & 64 != 0).then_some(user),
                            interaction: Some((iid, kind, user)),
                            nonce: None,
                            loading: false,
                            metadata: fake.interaction_metadata(iid, original),
                        },
                        &body,
                        &req.uploads,
                    );
                    fake.state().insert_message(stored)
                }
            };
            if let Some(rec) = fake.state().interactions.get_mut(&iid) {
                rec.followups.push(mid);
            }
            fake.notify();
            Some(json_resp(200, message_json(fake, mid)))
        }
        (method, ["messages", which]) => {
            let target = if *which == "@original" {
                original
            } else {
                let mid = id(which)?;
                let st = fake.state();
                let ok = st
                    .interactions
                    .get(&iid)
                    .is_some_and(|r| r.followups.contains(&mid) || r.original == Some(mid));
                ok.then_some(mid)
            };
            let Some(mid) =
                target.filter(|m| fake.state().messages.get(m).is_some_and(|m| !m.deleted))
            else {
                fake.violation(format!("{}: no such interaction message", req.label));
                return Some(unknown_message());
            };
            match method {
                "GET" => Some(json_resp(200, without_nonce(message_json(fake, mid)))),
                "PATCH" => {
                    let ctx = validate::Ctx::edit(&req.label);
                    validate::check_message(&body, &ctx, &mut |v| fake.violation(v));
                    let edit_id = fake.next_id();
                    {
                        let mut st = fake.state();
                        if let Some(m) = st.messages.get_mut(&mid) {
                            let was_loading = m.loading;
                            apply_edit(m, &body, &req.uploads, edit_id);
                            if was_loading {
                                m.msg.edited = false;
                                m.edited_at = None;
                            }
                        }
                        if *which == "@original" {
                            if let Some(rec) = st.interactions.get_mut(&iid) {
                                rec.original_edits += 1;
                            }
                        }
                    }
                    fake.notify();
                    Some(json_resp(200, message_json(fake, mid)))
                }
                "DELETE" => {
                    if let Some(m) = fake.state().messages.get_mut(&mid) {
                        m.deleted = true;
                    }
                    fake.notify();
                    Some(no_content())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_percent_decoded() {
        let q = parse_query(Some("limit=5&around=%31%32&name=a+b%26c&flag"));
        assert_eq!(q["limit"], "5");
        assert_eq!(q["around"], "12");
        assert_eq!(q["name"], "a b&c");
        assert_eq!(q["flag"], "");
        assert!(parse_query(None).is_empty());
    }

    #[tokio::test]
    async fn multipart_payload_and_files() {
        let body = "--XYZ\r\n\
            Content-Disposition: form-data; name=\"payload_json\"\r\n\
            Content-Type: application/json\r\n\r\n\
            {\"content\":\"hi\",\"attachments\":[{\"id\":0}]}\r\n\
            --XYZ\r\n\
            Content-Disposition: form-data; name=\"files[0]\"; filename=\"chart.png\"\r\n\
            Content-Type: image/png\r\n\r\n\
            PNG\r\nDATA\r\n\
            --XYZ--\r\n";
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XYZ".parse().unwrap(),
        );
        let (payload, uploads) = parse_body(&headers, Bytes::from(body)).await.unwrap();
        assert_eq!(payload.unwrap()["content"], "hi");
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].index, 0);
        assert_eq!(uploads[0].filename, "chart.png");
        assert_eq!(uploads[0].bytes, b"PNG\r\nDATA");

        headers.insert(header::CONTENT_TYPE, "multipart/form-data".parse().unwrap());
        let err = parse_body(&headers, Bytes::from(body)).await.unwrap_err();
        assert!(err.contains("without a boundary"), "{err}");
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XYZ".parse().unwrap(),
        );
        let truncated = &body[..body.len() - 12];
        let err = parse_body(&headers, Bytes::from(truncated.to_string()))
            .await
            .unwrap_err();
        assert!(err.contains("malformed multipart"), "{err}");
    }
}
