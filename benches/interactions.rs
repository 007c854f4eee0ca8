//! Interaction round trip under sustained load: N couples in N guilds, each partner with an
//! open check-in answer card, and mood picks fired at a fixed rate through the Discord stand-in.
//! Each sample runs from the stand-in sending INTERACTION_CREATE on the gateway to the bot's
//! callback arriving back at it, and so includes the bot's database write.
//!
//! `cargo bench --bench interactions -- --secs 60 --rates 100,300,1000 --couples 100`
//! (Postgres as for the tests: `DATABASE_URL`, else 127.0.0.1:5432).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attune::config::Config;
use attune::domain::custom_id::{Act, CheckinAction, InviteAction};
use attune::sandbox::controls::Controls;
use attune::sandbox::fake::{couple_demo, FakeChannel, FakeGuild, FakeUser, World};
use attune::sandbox::stage::Stage;
use serde_json::json;

struct Args {
    secs: u64,
    rates: Vec<u64>,
    couples: u64,
}

fn args() -> Args {
    let mut a = Args {
        secs: 60,
        rates: vec![100, 300, 1000],
        couples: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_default();
        match k.as_str() {
            "--secs" => a.secs = v().parse().expect("--secs N"),
            "--couples" => a.couples = v().parse().expect("--couples N"),
            "--rates" => {
                a.rates = v()
                    .split(',')
                    .map(|r| r.parse().expect("--rates 100,300"))
                    .collect()
            }
            // `cargo bench` passes --bench; ignore anything else.
            _ => {}
        }
    }
    a
}

fn world(couples: u64) -> (World, Vec<(u64, u64, u64)>) {
    let mut world = couple_demo();
    let mut out = Vec::new();
    for i in 0..couples {
        let (a, b, channel) = (300_000 + 2 * i, 300_001 + 2 * i, 900_000 + i);
        for id in [a, b] {
            world.users.push(FakeUser {
                id,
                name: format!("u{id}"),
                bot: false,
            });
        }
        world.guilds.push(FakeGuild {
            id: (2_000_000 + i) << 22,
            name: format!("g{i}"),
            channels: vec![FakeChannel {
                id: channel,
                name: "us".into(),
            }],
            members: vec![a, b],
        });
        out.push((a, b, channel));
    }
    (world, out)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let mut config = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    config.scheduler.seed = 7;
    let (world, couples) = world(args.couples);
    let stage = Stage::start_with_world(&config, "2026-11-25T05:00:00Z".parse()?, world).await?;
    let t = Instant::now();
    for (a, b, channel) in &couples {
        let invite = stage
            .fake
            .run_command(
                *a,
                *channel,
                "attune setup",
                vec![("partner", json!(b.to_string()))],
            )
            .await?;
        let invite = invite.message()?.clone();
        let accept = invite
            .control(Act::Invite(InviteAction::Accept))
            .expect("Accept");
        stage.fake.click_button(*b, invite.id, &accept).await?;
        for u in [a, b] {
            stage
                .fake
                .run_command(
                    *u,
                    *channel,
                    "attune timezone",
                    vec![("zone", json!("UTC"))],
                )
                .await?;
        }
    }
    stage.run_until("2026-11-25T08:01:00Z".parse()?).await?;
    // Every partner opens their private answer card; the mood select on it is the target.
    let mut targets = Vec::new();
    for (a, b, channel) in &couples {
        for u in [*a, *b] {
            let post = stage
                .fake
                .messages(*channel)
                .into_iter()
                .find(|m| {
                    m.ephemeral_for.is_none()
                        && m.content.contains(&format!("<@{u}>, it's check-in time"))
                })
                .expect("check-in post");
            let open = post
                .control(Act::Checkin(CheckinAction::Answer))
                .expect("Answer button");
            let card = stage
                .fake
                .click_button(u, post.id, &open)
                .await?
                .message()?
                .clone();
            let select = card
                .control(Act::Checkin(CheckinAction::Mood))
                .expect("mood select");
            targets.push((u, card.id, select));
        }
    }
    eprintln!(
        "set up {} couples ({} answer cards) in {:.1} s",
        couples.len(),
        targets.len(),
        t.elapsed().as_secs_f64()
    );
    let targets = Arc::new(targets);
    println!(
        "| rate (/s) | duration | sent | answered | failed | p50 ms | p90 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for rate in &args.rates {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / *rate as f64));
        let total = rate * args.secs;
        let mut tasks = Vec::with_capacity(total as usize);
        let started = Instant::now();
        for n in 0..total {
            tick.tick().await;
            let (fake, targets, samples, failed) = (
                stage.fake.clone(),
                targets.clone(),
                samples.clone(),
                failed.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let (user, card, select) = &targets[n as usize % targets.len()];
                let mood = (n % 5 + 1).to_string();
                let t = Instant::now();
                match fake.select(*user, *card, select, vec![mood]).await {
                    Ok(_) => samples.lock().unwrap().push(t.elapsed()),
                    Err(_) => {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }));
        }
        let sending = started.elapsed();
        for t in tasks {
            let _ = t.await;
        }
        let mut s = samples.lock().unwrap().clone();
        s.sort();
        println!(
            "| {rate} | {:.1} s (sent at {:.0}/s) | {total} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            sending.as_secs_f64(),
            total as f64 / sending.as_secs_f64(),
            s.len(),
            failed.load(std::sync::atomic::Ordering::Relaxed),
            pct(&s, 0.5),
            pct(&s, 0.9),
            pct(&s, 0.99),
            pct(&s, 1.0),
        );
    }
    let violations = stage.fake.violations();
    if !violations.is_empty() {
        eprintln!("{} violations, first: {}", violations.len(), violations[0]);
    }
    stage.teardown().await?;
    Ok(())
}
