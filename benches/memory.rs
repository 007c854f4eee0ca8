//! Resident memory and start-up time of one `attune run` process connected to a stand-in
//! that serves many guilds. The bot runs as its own process (the release binary), so its
//! VmRSS is not mixed with the stand-in's.
//!
//! `cargo bench --bench memory -- --guilds 1000,10000`
//! (Postgres as for the tests: `DATABASE_URL`, else 127.0.0.1:5432).

use std::time::{Duration, Instant};

use attune::config::Config;
use attune::sandbox::fake::{
    couple_demo, fake_options, FakeChannel, FakeDiscord, FakeGuild, FakeOptions, FakeUser, World,
};

fn guild_counts() -> Vec<u64> {
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--guilds" {
            return it
                .next()
                .unwrap_or_default()
                .split(',')
                .map(|n| n.parse().expect("--guilds 1000,10000"))
                .collect();
        }
    }
    vec![1000, 10_000]
}

/// `n` guilds, each with one text channel and two members, like a host's couples.
fn world(n: u64) -> World {
    let mut world = couple_demo();
    for i in 0..n {
        let (a, b) = (400_000 + 2 * i, 400_001 + 2 * i);
        for id in [a, b] {
            world.users.push(FakeUser {
                id,
                name: format!("u{id}"),
                bot: false,
            });
        }
        world.guilds.push(FakeGuild {
            id: (3_000_000 + i) << 22,
            name: format!("server {i}"),
            channels: vec![FakeChannel {
                id: 1_000_000 + i,
                name: "us".into(),
                private: false,
            }],
            members: vec![a, b],
        });
    }
    world
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("| guilds | start → READY + all GUILD_CREATEs sent | → commands registered | RSS after settling | peak RSS seen |");
    println!("|---|---|---|---|---|");
    for n in guild_counts() {
        let opts = FakeOptions {
            // Only gateway traffic here; skip validating bodies against the OpenAPI file.
            openapi_path: None,
            ..fake_options()
        };
        let fake = FakeDiscord::start(world(n), opts).await?;
        let mut db = base.database.url.clone();
        db.set_path(&format!("attune_scratch_{}", uuid::Uuid::new_v4().simple()));
        let dir =
            std::env::temp_dir().join(format!("attune-mem-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        // Create and migrate the database first, so the timing below is the bot's start-up.
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_attune"))
            .arg("migrate")
            .current_dir(&dir)
            .env("DATABASE_URL", db.as_str())
            .stdout(std::process::Stdio::null())
            .status()?;
        assert!(status.success(), "attune migrate");
        let started = Instant::now();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_attune"))
            .arg("run")
            .current_dir(&dir)
            .env("ATTUNE_DISCORD__TOKEN", "bench-token")
            .env("ATTUNE_DISCORD__PROXY_URL", fake.http_url())
            .env("ATTUNE_LOG__LEVEL", "warn")
            .env("DATABASE_URL", db.as_str())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().expect("running");
        fake.wait_ready(Duration::from_secs(120)).await?;
        let ready = started.elapsed();
        fake.wait_commands_registered(Duration::from_secs(60))
            .await?;
        let registered = started.elapsed();
        // The client may still be digesting GUILD_CREATEs: wait until RSS holds still for 2 s.
        let mut peak = 0;
        let mut last = 0;
        let mut stable_since = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let now = rss_kib(pid);
            peak = peak.max(now);
            if now.abs_diff(last) > 256 {
                last = now;
                stable_since = Instant::now();
            } else if stable_since.elapsed() > Duration::from_secs(2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "| {n} | {:.2} s | {:.2} s | {:.1} MiB | {:.1} MiB |",
            ready.as_secs_f64(),
            registered.as_secs_f64(),
            last as f64 / 1024.0,
            peak as f64 / 1024.0
        );
        let _ = child.start_kill();
        let _ = child.wait().await;
        fake.shutdown().await;
        attune::store::drop_database(&db).await?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
