//! What the interaction benchmarks share: a world of many couples, each in a guild of its
//! own, set up through the bot's own commands, with every partner's answer card open.

use std::time::{Duration, Instant};

use attune::domain::custom_id::{Act, CheckinAction, InviteAction};
use attune::sandbox::controls::Controls;
use attune::sandbox::fake::{couple_demo, FakeChannel, FakeGuild, FakeUser, World};
use attune::sandbox::stage::Stage;
use serde_json::json;

/// A partner's open answer card and the mood select on it: (user, card message, select).
pub type Target = (u64, u64, String);

pub fn world(couples: u64) -> (World, Vec<(u64, u64, u64)>) {
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
                private: false,
            }],
            members: vec![a, b],
        });
        out.push((a, b, channel));
    }
    (world, out)
}

pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Sets up every couple (setup, accept, time zones), runs the clock to their morning
/// check-in and opens both partners' answer cards.
pub async fn answer_cards(
    stage: &Stage,
    couples: &[(u64, u64, u64)],
    morning: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<Target>> {
    let t = Instant::now();
    for (a, b, channel) in couples {
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
    stage.run_until(morning).await?;
    // Every partner opens their private answer card; the mood select on it is the target.
    let mut targets = Vec::new();
    for (a, b, channel) in couples {
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
    Ok(targets)
}

/// What firing mood picks at a fixed rate showed: the round trips of those answered (sorted),
/// how many failed, and how long sending took.
pub struct Fired {
    pub samples: Vec<Duration>,
    pub failed: u64,
    pub sending: Duration,
}

/// Picks moods on the answer cards in turn, `rate` a second, `total` in all; each sample runs
/// from the stand-in sending the interaction to the bot's answer arriving back at it.
pub async fn fire(
    fake: &attune::sandbox::fake::FakeDiscord,
    targets: &std::sync::Arc<Vec<Target>>,
    rate: u64,
    total: u64,
) -> Fired {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let samples = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut tasks = Vec::with_capacity(total as usize);
    let started = Instant::now();
    for n in 0..total {
        tick.tick().await;
        let (fake, targets, samples, failed) = (
            fake.clone(),
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
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let sending = started.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    let mut samples = samples.lock().unwrap().clone();
    samples.sort();
    Fired {
        samples,
        failed: failed.load(Ordering::Relaxed),
        sending,
    }
}
