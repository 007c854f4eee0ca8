//! Interaction round trip under sustained load: N couples in N guilds, each partner with an
//! open check-in answer card, and mood picks fired at a fixed rate through the Discord stand-in.
//! Each sample runs from the stand-in sending INTERACTION_CREATE on the gateway to the bot's
//! callback arriving back at it, and so includes the bot's database write.
//!
//! `cargo bench --bench interactions -- --secs 60 --rates 100,300,1000 --couples 100`
//! (Postgres as for the tests: `DATABASE_URL`, else 127.0.0.1:5432).

use std::sync::Arc;

use attune::config::Config;
use attune::sandbox::stage::Stage;

mod support;
use support::{pct, world};

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let mut config = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    config.scheduler.seed = 7;
    let (world, couples) = world(args.couples);
    let stage = Stage::start_with_world(&config, "2026-11-25T05:00:00Z".parse()?, world).await?;
    let targets = support::answer_cards(&stage, &couples, "2026-11-25T08:01:00Z".parse()?).await?;
    let targets = Arc::new(targets);
    println!(
        "| rate (/s) | duration | sent | answered | failed | p50 ms | p90 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for rate in &args.rates {
        let total = rate * args.secs;
        let f = support::fire(&stage.fake, &targets, *rate, total).await;
        let (s, sending) = (f.samples, f.sending);
        println!(
            "| {rate} | {:.1} s (sent at {:.0}/s) | {total} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            sending.as_secs_f64(),
            total as f64 / sending.as_secs_f64(),
            s.len(),
            f.failed,
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
