//! A morning burst: N couples (default 100,000) whose check-ins all fall due in the same
//! minute, drained at the production pacing, while partners of other couples keep answering.
//! Shows that the backlog drains at the paced rate, that memory stays bounded while it waits,
//! and what the interaction round trip is meanwhile (stand-in INTERACTION_CREATE → the bot's
//! callback back at it, including the bot's database write).
//!
//! `cargo bench --bench burst -- [--couples N] [--secs S] [--rate R] [--pace P]`
//! (Postgres as for the tests: `DATABASE_URL`, else 127.0.0.1:5432).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attune::config::Config;
use attune::domain::clock::Clock;
use attune::domain::jobs::Job;
use attune::domain::schedule::Slot;
use attune::sandbox::stage::{seed_discord_couple, Stage};
use attune::store;

mod support;
use support::{pct, world};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's resident memory (the bot and the stand-in both live in it).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // As the attune binary does first thing (src/main.rs).
    attune::process::cap_malloc_arenas();
    let burst = arg("--couples", 100_000);
    let secs = arg("--secs", 60);
    let rate = arg("--rate", 20);
    let mut config = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    config.scheduler.seed = 7;
    config.scheduler.max_posts_per_second = arg("--pace", 40) as u32;
    let (world, couples) = world(20);
    let stage = Stage::start_with_world(&config, "2026-11-25T05:00:00Z".parse()?, world).await?;
    let targets = support::answer_cards(&stage, &couples, "2026-11-25T08:01:00Z".parse()?).await?;

    // The burst: every couple's post due within the last minute.
    let now = stage.clock.now();
    let t = Instant::now();
    for chunk in (0..burst).collect::<Vec<_>>().chunks(2_000) {
        let mut tx = stage.pool().begin().await?;
        for &i in chunk {
            let (couple, a, _) = seed_discord_couple(
                &mut tx,
                7_000_000 + i,
                8_000_000_000 + i,
                1_000_000_000 + 2 * i,
                1_000_000_001 + 2 * i,
                now - chrono::Duration::days(1),
            )
            .await?;
            let job = Job::post(couple, a, Slot::Morning, now.date_naive());
            let due = now - chrono::Duration::seconds((i % 60) as i64);
            store::jobs::schedule(&mut *tx, &job, due, due).await?;
        }
        tx.commit().await?;
    }
    // The statistics autovacuum would have on a database that grew to this size.
    sqlx::query("analyze").execute(stage.pool()).await?;
    eprintln!(
        "seeded {burst} due posts in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let posted = |fake: &attune::sandbox::fake::FakeDiscord| {
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains("/channels/8"))
            .count()
    };
    let rss_start = rss_mib();
    // Peak over the second half of the window: the first half shows the climb to the steady
    // state, the second whether it stays there.
    let rss_peak = Arc::new(Mutex::new(0.0f64));
    let half = Instant::now() + Duration::from_secs(secs / 2);
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (rss_peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while on.load(Ordering::Relaxed) {
                let r = rss_mib();
                if Instant::now() >= half {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(r);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    if let Some(bot) = stage.bot() {
        bot.state.wake.notify_one();
    }
    let before = posted(&stage.fake);
    let started = Instant::now();

    let targets = Arc::new(targets);
    let fired = support::fire(&stage.fake, &targets, rate, rate * secs).await;
    let span = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let rss_end = rss_mib();
    let delivered = posted(&stage.fake) - before;
    let left = store::jobs::outstanding(stage.pool(), stage.clock.now()).await?;
    let _ = sampler.await;
    let s = fired.samples;
    println!(
        "burst bench: {burst} couples due in one minute, pacing {}/s, {} answering partners",
        config.scheduler.max_posts_per_second,
        targets.len()
    );
    println!(
        "  drain: {delivered} posts in {span:.1} s → {:.1} posts/s; {left} still due or running",
        delivered as f64 / span
    );
    println!(
        "  interactions during the drain: {} at {rate}/s (sent over {:.1} s), {} failed; round trip ms p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        s.len(),
        fired.sending.as_secs_f64(),
        fired.failed,
        pct(&s, 0.5),
        pct(&s, 0.9),
        pct(&s, 0.99),
        pct(&s, 1.0)
    );
    println!(
        "  RSS of the bench process (bot and stand-in): {rss_start:.1} MiB when the burst fell due, peak {:.1} MiB over the second half, {rss_end:.1} MiB at the end",
        *rss_peak.lock().unwrap()
    );
    let violations = stage.fake.violations();
    println!(
        "  violations recorded by the stand-in: {}",
        violations.len()
    );
    stage.teardown().await?;
    Ok(())
}
