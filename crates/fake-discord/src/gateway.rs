//! The gateway websocket: Hello, IDENTIFY → READY + GUILD_CREATEs, heartbeats, resume, and the
//! delivery of INTERACTION_CREATE to the connection that owns a guild's shard.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{payloads, ConnCmd, ConnInfo, FakeDiscord};

pub(super) const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

pub(super) async fn ws_handler(ws: WebSocketUpgrade, State(fake): State<FakeDiscord>) -> Response {
    ws.on_upgrade(move |socket| run_connection(fake, socket))
}

/// Which shard owns a guild, as Discord computes it.
pub(super) fn shard_of(guild_id: u64, num_shards: u32) -> u32 {
    ((guild_id >> 22) % u64::from(num_shards.max(1))) as u32
}

fn text(v: &Value) -> Message {
    Message::Text(v.to_string().into())
}

async fn run_connection(fake: FakeDiscord, socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn_id = {
        let mut st = fake.state();
        st.next_conn += 1;
        st.gateway.connections += 1;
        let id = st.next_conn;
        st.conns.insert(
            id,
            ConnInfo {
                shard: None,
                ready: false,
                tx,
            },
        );
        id
    };
    let (mut sink, mut stream) = socket.split();
    let mut seq: u64 = 0;
    let hello =
        json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}});
    if sink.send(text(&hello)).await.is_ok() {
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    let Some(Ok(msg)) = incoming else { break };
                    let payload: Value = match msg {
                        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap_or(Value::Null),
                        Message::Binary(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
                        Message::Close(frame) => {
                            // Echo the close frame: serenity waits for it when it reconnects.
                            let _ = sink.send(Message::Close(frame)).await;
                            break;
                        }
                        _ => continue,
                    };
                    if handle_op(&fake, conn_id, &payload, &mut sink, &mut seq).await.is_err() {
                        break;
                    }
                }
                cmd = rx.recv() => {
                    let out = match cmd {
                        Some(ConnCmd::Dispatch { t, d }) => {
                            seq += 1;
                            json!({"op": 0, "s": seq, "t": t, "d": d})
                        }
                        Some(ConnCmd::Raw(v)) => v,
                        Some(ConnCmd::Drop) | None => break,
                    };
                    if sink.send(text(&out)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    fake.state().conns.remove(&conn_id);
    fake.notify();
    // Dropping the halves without a close frame is exactly the abrupt drop the fault tests want.
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

async fn handle_op(
    fake: &FakeDiscord,
    conn_id: u64,
    payload: &Value,
    sink: &mut Sink,
    seq: &mut u64,
) -> Result<(), axum::Error> {
    match payload.get("op").and_then(Value::as_u64) {
        Some(1) => sink.send(text(&json!({"op": 11}))).await,
        Some(2) => {
            fake.state().gateway.identifies += 1;
            identify(fake, conn_id, &payload["d"], sink, seq).await
        }
        Some(6) => {
            fake.state().gateway.resumes += 1;
            // serenity 0.12.5 ignores resume_gateway_url and resumes on /ws; the shard it had is
            // encoded in the session id we handed out.
            let session = payload["d"]["session_id"].as_str().unwrap_or("");
            match parse_session(session) {
                Some(shard) => {
                    set_conn(fake, conn_id, shard, true);
                    *seq = payload["d"]["seq"].as_u64().unwrap_or(*seq);
                    *seq += 1;
                    let resumed = json!({"op": 0, "s": *seq, "t": "RESUMED", "d": {}});
                    sink.send(text(&resumed)).await
                }
                None => {
                    // Invalid session, not resumable: the client re-identifies.
                    sink.send(text(&json!({"op": 9, "d": false}))).await
                }
            }
        }
        // Presence updates, voice state updates, request guild members: accepted and ignored.
        _ => Ok(()),
    }
}

/// Records the connection's shard; a connection already removed by
/// [`FakeDiscord::drop_gateway_connections`] stays removed.
fn set_conn(fake: &FakeDiscord, conn_id: u64, shard: [u32; 2], ready: bool) {
    if let Some(c) = fake.state().conns.get_mut(&conn_id) {
        c.shard = Some(shard);
        c.ready = ready;
    }
    fake.notify();
}

fn parse_session(s: &str) -> Option<[u32; 2]> {
    let rest = s.strip_prefix("fake-session-")?;
    let mut parts = rest.split('-');
    let id = parts.next()?.parse().ok()?;
    let total = parts.next()?.parse().ok()?;
    Some([id, total])
}

async fn identify(
    fake: &FakeDiscord,
    conn_id: u64,
    d: &Value,
    sink: &mut Sink,
    seq: &mut u64,
) -> Result<(), axum::Error> {
    let shard = match d.get("shard").and_then(Value::as_array) {
        Some(a) if a.len() == 2 => [
            a[0].as_u64().unwrap_or(0) as u32,
            a[1].as_u64().unwrap_or(1).max(1) as u32,
        ],
        _ => [0, 1],
    };
    set_conn(fake, conn_id, shard, false);
    let world = fake.world_index();
    let guild_ids: Vec<u64> = world
        .world
        .guilds
        .iter()
        .filter(|g| shard_of(g.id, shard[1]) == shard[0])
        .map(|g| g.id)
        .collect();
    let session = format!("fake-session-{}-{}-{}", shard[0], shard[1], conn_id);
    *seq = 1;
    let ready = payloads::ready(world, &session, &fake.ws_url(), shard, &guild_ids);
    sink.send(text(&json!({"op": 0, "s": *seq, "t": "READY", "d": ready})))
        .await?;
    // Built one at a time so 10,000 guilds never sit in memory as JSON at once.
    for gid in guild_ids {
        if let Some(g) = world.guild(gid) {
            *seq += 1;
            let d = payloads::guild_create(world, g);
            sink.feed(text(
                &json!({"op": 0, "s": *seq, "t": "GUILD_CREATE", "d": d}),
            ))
            .await?;
        }
    }
    sink.flush().await?;
    set_conn(fake, conn_id, shard, true);
    Ok(())
}

impl FakeDiscord {
    /// Sends an INTERACTION_CREATE to one ready connection owning the guild's shard (DMs: shard 0).
    pub(super) fn deliver_interaction(
        &self,
        guild_id: Option<u64>,
        d: Value,
    ) -> anyhow::Result<()> {
        let st = self.state();
        let owner = st.conns.iter().rev().find(|(_, c)| {
            c.ready
                && c.shard.is_some_and(|[id, total]| match guild_id {
                    Some(g) => shard_of(g, total) == id,
                    None => id == 0,
                })
        });
        match owner {
            Some((_, c)) => {
                c.tx.send(ConnCmd::Dispatch {
                    t: "INTERACTION_CREATE",
                    d,
                })
                .map_err(|_| anyhow::anyhow!("the gateway connection closed while sending"))
            }
            None => Err(anyhow::anyhow!(
                "no ready gateway connection owns the shard of guild {guild_id:?}"
            )),
        }
    }
}
