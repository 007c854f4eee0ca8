//! Scheduler throughput: N couples whose check-ins all fall due at the same moment, the
//! stand-in answering at once, with one or two bot instances sharing one database.
//!
//! `cargo bench --bench scheduler -- [--couples N] [--processes 1|2] [--pool N] [--pace N]`
//! Prints deliveries per second and the delay from due time to the post reaching the
//! stand-in (p50/p90/p99/max). Needs Postgres (DATABASE_URL or 127.0.0.1:5432).

use std::sync::Arc;
use std::time::{Duration, Instant};

use attune::app;
use attune::config::Config;
use attune::domain::clock::SystemClock;
use attune::domain::jobs::Job;
use attune::domain::schedule::Slot;
use attune::sandbox::fake::{couple_demo, fake_options, FakeDiscord};
use attune::store;
use chrono::Utc;
use url::Url;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let couples = arg("--couples", 10_000);
    let processes = arg("--processes", 1).clamp(1, 4);
    let mut config = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut url: Url = config.database.url.clone();
    url.set_path(&format!("attune_bench_{}", uuid::Uuid::new_v4().simple()));
    config.database.url = url.clone();
    config.database.max_connections = arg("--pool", 10) as u32;
    config.scheduler.batch_size = 100;
    config.scheduler.poll_interval = Duration::from_millis(20);
    // 0: measure the bot's own throughput; 40: the production pacing under Discord's limit.
    config.scheduler.max_posts_per_second = arg("--pace", 0) as u32;
    // The spec check stays on (it is what CI runs).
    let fake = FakeDiscord::start(couple_demo(), fake_options()).await?;
    config.discord.token = Some("bench-token".to_string().into());
    config.discord.proxy_url = Some(Url::parse(&fake.http_url())?);
    let pool = store::connect(&config.database).await?;

    // Seed: N couples, each with one check-in post due at the same instant.
    let seeded = Instant::now();
    let due = Utc::now() + chrono::Duration::seconds(3 + (couples as i64) / 2000);
    let mut tx = pool.begin().await?;
    for i in 0..couples as u64 {
        let (couple, a, _) = attune::sandbox::stage::seed_discord_couple(
            &mut tx,
            7_000_000 + i,
            8_000_000_000 + i,
            1_000_000_000 + 2 * i,
            1_000_000_001 + 2 * i,
            due - chrono::Duration::days(1),
        )
        .await?;
        let job = Job::post(couple, a, Slot::Morning, due.date_naive());
        store::jobs::schedule(&mut *tx, &job, due, due - chrono::Duration::days(1)).await?;
    }
    tx.commit().await?;
    let seed_secs = seeded.elapsed().as_secs_f64();

    let mut bots = Vec::new();
    for _ in 0..processes {
        let p = store::connect(&config.database).await?;
        bots.push(app::start_with_pool(config.clone(), Arc::new(SystemClock), p).await?);
    }
    fake.wait_connections(processes, Duration::from_secs(30))
        .await?;

    let anchor_instant = Instant::now();
    let anchor_wall = Utc::now();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let posted: i64 =
            sqlx::query_scalar("select count(*) from checkin_posts where message_id is not null")
                .fetch_one(&pool)
                .await?;
        if posted as usize >= couples || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut delays: Vec<f64> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/channels/8"))
        .map(|r| {
            let wall = anchor_wall
                + chrono::Duration::from_std(r.at.saturating_duration_since(anchor_instant))
                    .unwrap_or_default();
            (wall - due).num_microseconds().unwrap_or(0) as f64 / 1000.0
        })
        .collect();
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let posts = delays.len();
    let double: i64 = sqlx::query_scalar(
        "select count(*) - count(distinct (couple_id, user_id, slot, local_date)) from checkin_posts",
    )
    .fetch_one(&pool)
    .await?;
    let span_s = delays.last().copied().unwrap_or(0.0) / 1000.0;
    println!(
        "scheduler bench: {couples} couples due at one instant, {processes} bot instance(s), batch {}, pool {} each, pacing {}/s (0 = off)",
        config.scheduler.batch_size, config.database.max_connections, config.scheduler.max_posts_per_second
    );
    println!("  seeding took {seed_secs:.1} s");
    println!(
        "  posts delivered: {posts} (duplicates: {double}); all delivered {span_s:.2} s after due → {:.0} deliveries/s",
        posts as f64 / span_s.max(1e-9)
    );
    if !delays.is_empty() {
        println!(
            "  delay due→post (ms): p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
            pct(&delays, 0.50),
            pct(&delays, 0.90),
            pct(&delays, 0.99),
            delays[posts - 1]
        );
    }
    println!(
        "  violations recorded by the stand-in: {}",
        fake.violations().len()
    );
    for b in bots {
        b.shutdown().await;
    }
    pool.close().await;
    fake.shutdown().await;
    store::drop_database(&url).await?;
    Ok(())
}
