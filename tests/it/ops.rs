//! Operations through the stand-in: the ops port (`/healthz`, `/readyz`, `/metrics`) as a
//! supervisor or Prometheus sees it, two processes splitting the gateway shards on one
//! database, and the real binary stopping cleanly on SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::*;
use attune::config::Shards;
use attune::sandbox::fake::{couple_demo, FakeChannel, FakeGuild, FakeMessage, FakeUser, World};
use attune::sandbox::stage::{Stage, ALICE, BOB};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bare HTTP/1.1 GET: status code and body.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Polls `path` until it answers `want` (readiness follows the gateway a little behind).
async fn wait_status(addr: SocketAddr, path: &str, want: u16) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(addr, path).await;
        if got.0 == want || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {line_start} in:\n{text}"))
}

#[tokio::test]
async fn ops_port_reports_health_readiness_and_counts_interactions() {
    init_logging();
    let mut base = base_config();
    base.ops.listen = Some("127.0.0.1:0".parse().unwrap());
    let stage = Stage::start(&base, t0()).await.expect("stage");
    let addr = stage.bot().unwrap().ops_addr.expect("ops port bound");

    assert_eq!(get(addr, "/healthz").await.0, 200);
    let (status, body) = wait_status(addr, "/readyz", 200).await;
    assert_eq!(status, 200, "connected and database up: {body}");

    let (_, before) = get(addr, "/metrics").await;
    let ok_line = "attune_interactions_total{kind=\"command\",outcome=\"ok\"} ";
    let count_line = "attune_interaction_seconds_count ";
    let ok_before = metric(&before, ok_line);
    let refused_line = "attune_interactions_total{kind=\"component\",outcome=\"refused\"} ";
    let refused_before = metric(&before, refused_line);
    let status_msg = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .expect("invitation");
    // A forged button id: refused kindly, counted as refused rather than as an error.
    let reply = stage
        .fake
        .click_raw(ALICE, status_msg.id, "ci:not-a-uuid:mood")
        .await
        .expect("answered");
    assert!(reply.is_ephemeral());
    // The count is taken just after the answer is sent, so give it a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (status, after) = loop {
        let got = get(addr, "/metrics").await;
        if metric(&got.1, ok_line) > ok_before || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status, 200);
    assert_eq!(metric(&after, ok_line), ok_before + 1, "{after}");
    assert_eq!(metric(&after, refused_line), refused_before + 1, "{after}");
    assert!(metric(&after, count_line) >= metric(&before, count_line) + 2);
    assert!(after.contains("# TYPE attune_interaction_seconds histogram"));
    assert!(metric(&after, "attune_db_pool_connections ") >= 1);

    // Discord goes away: the bot is alive but not ready.
    stage.fake.shutdown().await;
    let (status, body) = wait_status(addr, "/readyz", 503).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("gateway"), "{body}");
    assert_eq!(get(addr, "/healthz").await.0, 200, "still alive");
    finish(stage).await;
}

/// Guild ids whose shard (of 2) is `shard`, as Discord computes it: `(id >> 22) % 2`.
fn guild_id(i: u64) -> u64 {
    (1_000_000 + i) << 22
}

/// Four guilds, two per shard of two, each with its own couple and channel.
fn world_of_four() -> (World, Vec<(u64, u64, u64)>) {
    let mut world = couple_demo();
    let mut couples = Vec::new();
    for i in 0..4u64 {
        let (a, b) = (200_000 + 2 * i, 200_001 + 2 * i);
        let channel = 800_000 + i;
        for (id, name) in [(a, format!("a{i}")), (b, format!("b{i}"))] {
            world.users.push(FakeUser {
                id,
                name,
                bot: false,
            });
        }
        world.guilds.push(FakeGuild {
            id: guild_id(i),
            name: format!("guild {i}"),
            channels: vec![FakeChannel {
                id: channel,
                name: "us".into(),
                private: false,
            }],
            members: vec![a, b],
        });
        couples.push((a, b, channel));
    }
    (world, couples)
}

async fn couple_in(stage: &Stage, a: u64, b: u64, channel: u64) {
    let invite: FakeMessage = stage
        .fake
        .run_command(
            a,
            channel,
            "attune setup",
            vec![("partner", json!(b.to_string()))],
        )
        .await
        .expect("setup answered")
        .message()
        .cloned()
        .expect("invitation");
    let accept = invite
        .control(Act::Invite(InviteAction::Accept))
        .expect("Accept");
    let accepted = stage
        .fake
        .click_button(b, invite.id, &accept)
        .await
        .expect("accept answered");
    assert!(accepted.text().contains("<@"), "{}", accepted.text());
    for u in [a, b] {
        stage
            .fake
            .run_command(u, channel, "attune timezone", vec![("zone", json!("UTC"))])
            .await
            .expect("timezone answered");
    }
}

#[tokio::test]
async fn two_processes_split_the_shards_and_post_each_checkin_once() {
    init_logging();
    let mut base = base_config();
    base.discord.shards = Shards::Range {
        first: 0,
        last: 0,
        total: 2,
    };
    let start: DateTime<Utc> = "2026-11-25T05:00:00Z".parse().unwrap();
    let (world, couples) = world_of_four();
    let stage = Stage::start_with_world(&base, start, world)
        .await
        .expect("stage");
    let second = stage
        .start_extra_bot(1, |c| {
            c.discord.shards = Shards::Range {
                first: 1,
                last: 1,
                total: 2,
            }
        })
        .await
        .expect("second process on shard 1");
    assert_eq!(stage.fake.ready_connections(), 2);

    let first_metrics = &stage.bot().unwrap().state.metrics;
    let before = (
        first_metrics.interactions(
            attune::metrics::InteractionKind::Command,
            attune::metrics::Outcome::Ok,
        ),
        second.state.metrics.interactions(
            attune::metrics::InteractionKind::Command,
            attune::metrics::Outcome::Ok,
        ),
    );
    // Every guild's couple is served, whichever process holds its shard.
    for (a, b, channel) in &couples {
        couple_in(&stage, *a, *b, *channel).await;
    }
    // Counted just after each answer is sent: let the last one land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = (
        first_metrics.interactions(
            attune::metrics::InteractionKind::Command,
            attune::metrics::Outcome::Ok,
        ),
        second.state.metrics.interactions(
            attune::metrics::InteractionKind::Command,
            attune::metrics::Outcome::Ok,
        ),
    );
    // Two guilds per shard, three commands per guild (setup + two time zones).
    assert_eq!(
        after.0 - before.0,
        6,
        "shard 0's process ran its guilds' commands"
    );
    assert_eq!(
        after.1 - before.1,
        6,
        "shard 1's process ran its guilds' commands"
    );

    // The morning check-in (08:00 UTC) reaches every couple exactly once, with two
    // schedulers claiming from one table.
    stage
        .run_until("2026-11-25T08:30:00Z".parse().unwrap())
        .await
        .unwrap();
    for (a, b, channel) in &couples {
        for user in [a, b] {
            let posts = stage
                .fake
                .messages(*channel)
                .into_iter()
                .filter(|m| {
                    m.ephemeral_for.is_none()
                        && m.content
                            .contains(&format!("<@{user}>, it's check-in time"))
                })
                .count();
            assert_eq!(posts, 1, "check-in posts for {user} in {channel}");
        }
    }
    second.shutdown().await;
    finish(stage).await;
}

/// The real binary, as systemd runs it: configured from the environment only, stopped with
/// SIGTERM. It must make its own key on first start, say it stopped claiming jobs and exit 0
/// within a few seconds.
#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    use attune::sandbox::fake::{fake_options, FakeDiscord};
    init_logging();
    let fake = FakeDiscord::start(couple_demo(), fake_options())
        .await
        .unwrap();
    let mut db = base_config().database.url;
    db.set_path(&format!("attune_scratch_{}", uuid::Uuid::new_v4().simple()));
    // An empty working directory, so no stray config.toml is read.
    let dir = std::env::temp_dir().join(format!("attune-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_attune"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ATTUNE_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .arg("run")
        .current_dir(&dir)
        .env("ATTUNE_DISCORD__TOKEN", "binary-test-token")
        .env("ATTUNE_DISCORD__PROXY_URL", fake.http_url())
        .env("ATTUNE_LOG__FORMAT", "json")
        .env("ATTUNE_LOG__LEVEL", "info")
        .env("DATABASE_URL", db.as_str())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the attune binary starts");
    fake.wait_ready(Duration::from_secs(30))
        .await
        .expect("the binary connects to the gateway");
    fake.wait_commands_registered(Duration::from_secs(10))
        .await
        .unwrap();
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("exits within 15 s of SIGTERM")
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while fake.ready_connections() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let still_connected = fake.ready_connections();
    let _ = attune::store::drop_database(&db).await;
    fake.shutdown().await;
    // Private by default: with no key configured, the first start made one, for its user only.
    let key = dir.join("attune.key");
    let key_mode = std::fs::metadata(&key).map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        key_mode.ok(),
        Some(0o600),
        "a private key file in the working directory; log:\n{log}"
    );
    assert!(log.contains("made an encryption key"), "log:\n{log}");
    assert!(
        out.status.success(),
        "exit status {:?}; log:\n{log}",
        out.status
    );
    assert!(log.contains("stopped claiming jobs"), "log:\n{log}");
    assert!(log.contains("\"stopped\""), "log:\n{log}");
    assert!(
        !log.contains("binary-test-token"),
        "the token leaked into the log"
    );
    assert_eq!(still_connected, 0, "the gateway was closed");
}
