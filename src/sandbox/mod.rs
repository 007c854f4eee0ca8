//! The Discord stand-in (`fake/`), the stage that wires the bot to it (`stage`), and
//! `attune sandbox`, which plays a couple through a simulated week and prints the channel.

pub mod fake;
pub mod stage;

use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::json;

use crate::config::Config;
use crate::domain::zones;
use stage::{Stage, ALICE, BOB, CAROL, CHANNEL};

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// How many simulated days to play.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// The first simulated day (YYYY-MM-DD); default: today.
    #[arg(long, value_parser = parse_date)]
    pub start: Option<NaiveDate>,
    /// The two partners' time zones, comma-separated.
    #[arg(long, default_value = "Europe/Berlin,America/New_York")]
    pub zones: String,
    /// Seed for every random choice, so a run can be repeated exactly.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date like 2026-11-30"))
}

/// Plays the demo and prints the transcript. Returns false when the stand-in saw any
/// violation of Discord's rules.
pub async fn run(config: Config, args: SandboxArgs) -> anyhow::Result<bool> {
    let (zone_a, zone_b) = {
        let mut it = args.zones.split(',');
        match (it.next(), it.next(), it.next()) {
            (Some(a), Some(b), None) => (
                zones::parse_zone(a)
                    .map_err(|_| anyhow::anyhow!("--zones: unknown time zone `{a}`"))?,
                zones::parse_zone(b)
                    .map_err(|_| anyhow::anyhow!("--zones: unknown time zone `{b}`"))?,
            ),
            _ => anyhow::bail!("--zones takes two zones, like Europe/Berlin,America/New_York"),
        }
    };
    let start_date = args.start.unwrap_or_else(|| Utc::now().date_naive());
    let start = Utc.from_utc_datetime(&start_date.and_time(NaiveTime::MIN));
    println!(
        "Attune sandbox — {} day(s) from {start_date}, alice in {}, bob in {}, seed {}",
        args.days,
        zone_a.name(),
        zone_b.name(),
        args.seed
    );
    println!("(a local Discord stand-in; nothing leaves this machine)\n");

    let stage = Stage::start(&config, start).await?;
    let outcome = play(&stage, zone_a.name(), zone_b.name()).await;
    let names = stage.names();
    println!("#us — as the channel shows it\n");
    println!("{}", stage.fake.render_transcript(CHANNEL, &names));
    let violations = stage.fake.violations();
    stage.teardown().await?;
    outcome?;
    if violations.is_empty() {
        println!("\nThe stand-in checked every request against Discord's limits and spec: no violations.");
        Ok(true)
    } else {
        eprintln!("\nThe stand-in recorded {} violation(s):", violations.len());
        for v in violations {
            eprintln!("  - {v}");
        }
        Ok(false)
    }
}

async fn play(stage: &Stage, zone_a: &str, zone_b: &str) -> anyhow::Result<()> {
    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await?
        .message()?
        .clone();
    let accept = invite
        .button_id("Accept")
        .ok_or_else(|| anyhow::anyhow!("the invitation has no Accept button"))?;
    // An outsider's click is refused privately and changes nothing.
    stage.fake.click_button(CAROL, invite.id, &accept).await?;
    stage.fake.click_button(BOB, invite.id, &accept).await?;
    stage
        .cmd(ALICE, "attune timezone", vec![("zone", json!(zone_a))])
        .await?;
    stage
        .cmd(BOB, "attune timezone", vec![("zone", json!(zone_b))])
        .await?;
    stage.cmd(ALICE, "attune status", vec![]).await?;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
