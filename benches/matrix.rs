//! Matrix numbers against a real Synapse (start one with `scripts/synapse start DIR` and
//! export what it prints):
//! - posts per second: cards posted through the Matrix transport (what the scheduler calls
//!   for every scheduled post), `--inflight` at a time, to `--rooms` rooms;
//! - round trip: a partner's command in the couple room to the bot's answer arriving at the
//!   partner's client (through the flow and Postgres), p50 and p99 over `--samples`.
//!
//! `cargo bench --bench matrix -- --posts 500 --rooms 20 --inflight 8 --samples 100`
//! (Postgres as for the tests: `DATABASE_URL`, else 127.0.0.1:5432).

// matrix-sdk's futures are deep: proving them Send needs more than the default limit.
#![recursion_limit = "256"]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attune::config::Config;
use attune::domain::clock::SystemClock;
use attune::domain::couple::Room;
use attune::domain::ids::{RoomId, TransportKind};
use attune::transport::{Card, Transport};
use futures::stream::{self, StreamExt};
use hmac::{Hmac, Mac};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room::v3::{Request as CreateRoom, RoomPreset};
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::OwnedUserId;
use matrix_sdk::Client;
use serde_json::{json, Value};

struct Args {
    posts: usize,
    rooms: usize,
    inflight: usize,
    samples: usize,
}

fn args() -> Args {
    let mut a = Args {
        posts: 500,
        rooms: 20,
        inflight: 8,
        samples: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_default().parse().expect("a number");
        match k.as_str() {
            "--posts" => a.posts = v(),
            "--rooms" => a.rooms = v(),
            "--inflight" => a.inflight = v(),
            "--samples" => a.samples = v(),
            _ => {}
        }
    }
    a
}

fn synapse() -> (String, String) {
    (
        std::env::var("ATTUNE_SYNAPSE_URL")
            .expect("ATTUNE_SYNAPSE_URL: start Synapse with `scripts/synapse start DIR`"),
        std::env::var("ATTUNE_SYNAPSE_SECRET").expect("ATTUNE_SYNAPSE_SECRET"),
    )
}

async fn register(name: &str, password: &str) -> anyhow::Result<String> {
    let (url, secret) = synapse();
    let http = reqwest::Client::new();
    let endpoint = format!("{url}/_synapse/admin/v1/register");
    let nonce: Value = serde_json::from_slice(&http.get(&endpoint).send().await?.bytes().await?)?;
    let nonce = nonce["nonce"].as_str().unwrap_or_default().to_string();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())?;
    mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
    let mac: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let body =
        json!({"nonce": nonce, "username": name, "password": password, "admin": false, "mac": mac});
    let r = http
        .post(&endpoint)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let v: Value = serde_json::from_slice(&r.bytes().await?)?;
    Ok(v["user_id"].as_str().unwrap_or_default().to_string())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    attune::process::install_tls_provider();
    let a = args();
    let (url, _) = synapse();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let bot_id = register(&format!("benchbot{tag}"), "pw").await?;
    let ann_id = register(&format!("benchann{tag}"), "pw").await?;
    let dir = tempfile::tempdir()?;

    let mut config = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    config.discord.token = None;
    config.matrix.homeserver = Some(url.parse()?);
    config.matrix.user_id = Some(bot_id.clone());
    config.matrix.password = Some("pw".to_string().into());
    config.matrix.store_path = dir.path().join("bot");
    config.matrix.allowed_inviters = vec![ann_id.clone()];
    config.scheduler.poll_interval = Duration::from_millis(50);

    // 1. Posts per second through the transport.
    {
        let client = attune::matrix::connect(&config.matrix).await?;
        client.sync_once(SyncSettings::default()).await?;
        let transport = attune::matrix::MatrixTransport::new(
            client.clone(),
            Arc::new(attune::content::Library::builtin()),
            None,
        );
        let mut rooms = Vec::new();
        for _ in 0..a.rooms {
            let mut req = CreateRoom::new();
            req.preset = Some(RoomPreset::PrivateChat);
            let r = client.create_room(req).await?;
            rooms.push(Room {
                id: RoomId::new(),
                transport: TransportKind::Matrix,
                external: r.room_id().to_string(),
                space: None,
            });
        }
        let card = Card::text("A check-in for the two of you: how are you, really?");
        let t0 = Instant::now();
        let ok = stream::iter(0..a.posts)
            .map(|i| {
                let (room, card, transport) = (&rooms[i % rooms.len()], &card, &transport);
                async move {
                    transport
                        .post(room, card, &format!("bench:{i}"))
                        .await
                        .is_ok()
                }
            })
            .buffer_unordered(a.inflight)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "posts: {ok}/{} to {} rooms, {} in flight: {:.1} posts/s ({secs:.1} s)",
            a.posts,
            a.rooms,
            a.inflight,
            ok as f64 / secs
        );
    }

    // 2. Round trip: Ann's command in the couple room to the bot's answer at Ann's client.
    let (cfg, pool) = attune::sandbox::stage::scratch_database(&config).await?;
    let running =
        attune::app::start_with_pool(cfg.clone(), Arc::new(SystemClock), pool.clone()).await?;
    let ann = Client::builder()
        .homeserver_url(&url)
        .sqlite_store(dir.path().join("ann"), None)
        .build()
        .await?;
    ann.matrix_auth()
        .login_username(&ann_id, "pw")
        .send()
        .await?;
    let seen: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let sink = seen.clone();
    let bot = bot_id.clone();
    ann.add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
        let sink = sink.clone();
        let bot = bot.clone();
        async move {
            if ev.sender.as_str() == bot {
                if let Some(target) = reply_target(&ev) {
                    sink.lock().unwrap().push((Instant::now(), target));
                }
            }
        }
    });
    let me = ann_id.clone();
    ann.add_event_handler(move |ev: StrippedRoomMemberEvent, room: matrix_sdk::Room| {
        let me = me.clone();
        async move {
            if ev.state_key.as_str() == me {
                let _ = room.join().await;
            }
        }
    });
    ann.sync_once(SyncSettings::default()).await?;
    let c = ann.clone();
    let sync = tokio::spawn(async move {
        loop {
            let _ = c
                .sync(SyncSettings::default().timeout(Duration::from_secs(5)))
                .await;
        }
    });
    let mut req = CreateRoom::new();
    req.preset = Some(RoomPreset::PrivateChat);
    req.invite = vec![OwnedUserId::try_from(bot_id.as_str())?];
    let us = ann.create_room(req).await?;
    // Wait for the bot to join.
    let deadline = Instant::now() + Duration::from_secs(30);
    let bot_uid = OwnedUserId::try_from(bot_id.as_str())?;
    loop {
        us.sync_members().await.ok();
        if let Ok(Some(m)) = us.get_member(&bot_uid).await {
            if *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Join {
                break;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "the bot never joined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // `!attune status` before setup: the flow reads Postgres and refuses kindly, as a reply.
    let mut samples = Vec::new();
    let mut sends = Vec::new();
    for _ in 0..a.samples {
        let sent = Instant::now();
        let id = us
            .send(RoomMessageEventContent::text_plain("!attune status"))
            .await?
            .response
            .event_id
            .to_string();
        sends.push(sent.elapsed());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((at, _)) = seen.lock().unwrap().iter().find(|(_, r)| *r == id) {
                samples.push(*at - sent);
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "no answer to a command");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    samples.sort();
    sends.sort();
    println!(
        "  of which the partner's own send (until the homeserver accepted it): p50 {:?}, p99 {:?}",
        pct(&sends, 0.5),
        pct(&sends, 0.99)
    );
    println!(
        "round trip (command → answer at the partner's client), {} samples: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        pct(&samples, 0.5),
        pct(&samples, 0.99),
        samples.last().copied().unwrap_or_default()
    );
    sync.abort();
    running.shutdown().await;
    pool.close().await;
    attune::store::drop_database(&cfg.database.url).await?;
    Ok(())
}

/// The event a bot message replies to.
fn reply_target(ev: &OriginalSyncRoomMessageEvent) -> Option<String> {
    match &ev.content.relates_to {
        Some(matrix_sdk::ruma::events::room::message::Relation::Reply(r)) => {
            Some(r.in_reply_to.event_id.to_string())
        }
        _ => None,
    }
}
