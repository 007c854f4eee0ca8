//! The Discord stand-in as Attune configures it (`fake`, on the `fake-discord` crate), the stage
//! that wires the bot to it (`stage`), and `attune sandbox`, which plays a couple through a
//! simulated week and prints the channel.

pub mod controls;
pub mod fake;
pub mod stage;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::config::Config;
use crate::domain::clock::Clock;
use crate::domain::custom_id::{
    Act, CheckinAction as C, InviteAction, MicroAction as M, RepairAction as R,
};
use crate::domain::zones;
use controls::Controls;
use stage::{Stage, ALICE, BOB, CAROL, CHANNEL};

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// How many simulated days to play.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// The first simulated day (YYYY-MM-DD); default: this week's Monday, so a week ends with
    /// the Sunday recap.
    #[arg(long, value_parser = parse_date)]
    pub start: Option<NaiveDate>,
    /// The two partners' time zones, comma-separated.
    #[arg(long, default_value = "Europe/Berlin,America/New_York")]
    pub zones: String,
    /// Seed for every random choice, so a run can be repeated exactly.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Log filter for the bot's own logs, written to stderr (the channel goes to stdout).
    #[arg(long, default_value = "warn")]
    pub log_level: String,
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
    let start_date = args.start.unwrap_or_else(|| {
        let today = Utc::now().date_naive();
        today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
    });
    // Begin just before midnight UTC so day 1 holds both partners' first check-ins.
    let start = Utc.from_utc_datetime(&start_date.and_time(NaiveTime::MIN));
    println!(
        "Attune sandbox — {} day(s) from {start_date}, alice in {}, bob in {}, seed {}",
        args.days,
        zone_a.name(),
        zone_b.name(),
        args.seed
    );
    println!("(a local Discord stand-in; nothing leaves this machine)\n");

    let mut config = config;
    config.scheduler.seed = args.seed;
    config.log.level = args.log_level.clone();
    crate::telemetry::init(&config.log);
    if !config.privacy.keys.is_enabled() {
        // The scratch run shows the private path a careful host would use.
        config.privacy.keys =
            crate::crypto::Keyring::parse(Some(&crate::crypto::Keyring::generate()), &[])
                .map_err(|e| anyhow::anyhow!(e))?;
    }
    let stage = Stage::start(&config, start).await?;
    let mut show = Show::default();
    let outcome = play(&stage, &mut show, &args, zone_a.name(), zone_b.name()).await;
    let names = stage.names();
    println!("#us — as the channel shows it. Private (ephemeral) messages are marked with who sees them.\n");
    print!("{}", show.render(&stage, &names));
    let chart = save_chart(&stage, start_date);
    let violations = stage.fake.violations();
    stage.teardown().await?;
    outcome?;
    match chart? {
        Some(path) => println!(
            "\nThe weekly recap's mood chart (as attached to the recap above): {}",
            path.display()
        ),
        None => {
            println!("\nNo weekly recap fell inside this run (it comes on the couple's recap day).")
        }
    }
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

/// Writes the last weekly recap's chart to the temp directory, so the host can open it.
fn save_chart(stage: &Stage, start: NaiveDate) -> anyhow::Result<Option<std::path::PathBuf>> {
    let Some(png) = stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none())
        .flat_map(|m| m.attachments)
        .rfind(|a| a.filename == crate::flows::recap::chart::FILENAME)
    else {
        return Ok(None);
    };
    let path = std::env::temp_dir().join(format!("attune-sandbox-mood-{start}.png"));
    std::fs::write(&path, &png.bytes)
        .map_err(|e| anyhow::anyhow!("could not write {}: {e}", path.display()))?;
    Ok(Some(path))
}

/// What happened, in order: narration lines placed between the channel's messages.
#[derive(Default)]
struct Show {
    /// (the last message seq before the line, the line)
    lines: Vec<(u64, String)>,
}

impl Show {
    fn say(&mut self, stage: &Stage, line: impl Into<String>) {
        let seq = stage
            .fake
            .messages(CHANNEL)
            .iter()
            .map(|m| m.seq)
            .max()
            .unwrap_or(0);
        self.lines.push((seq, line.into()));
    }

    fn render(&self, stage: &Stage, names: &std::collections::HashMap<u64, String>) -> String {
        let mut out = String::new();
        let mut lines = self.lines.iter().peekable();
        let mut messages = stage.fake.messages(CHANNEL);
        messages.sort_by_key(|m| m.seq);
        let mut emit_lines_upto = |seq: u64, out: &mut String| {
            while let Some((s, l)) = lines.peek() {
                if *s < seq {
                    out.push_str(l);
                    out.push('\n');
                    lines.next();
                } else {
                    break;
                }
            }
        };
        for m in &messages {
            emit_lines_upto(m.seq, &mut out);
            for l in m.render(names).lines() {
                out.push_str("    ");
                out.push_str(l);
                out.push('\n');
            }
        }
        emit_lines_upto(u64::MAX, &mut out);
        out
    }
}

async fn play(
    stage: &Stage,
    show: &mut Show,
    args: &SandboxArgs,
    zone_a: &str,
    zone_b: &str,
) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    show.say(stage, "» alice runs /attune setup partner:@bob");
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
        .control(Act::Invite(InviteAction::Accept))
        .ok_or_else(|| anyhow::anyhow!("the invitation has no Accept button"))?;
    show.say(stage, "» carol (not part of the couple) presses [Accept]");
    stage.fake.click_button(CAROL, invite.id, &accept).await?;
    show.say(stage, "» bob presses [Accept]");
    stage.fake.click_button(BOB, invite.id, &accept).await?;
    show.say(
        stage,
        format!("» alice runs /attune timezone zone:{zone_a}"),
    );
    stage
        .cmd(ALICE, "attune timezone", vec![("zone", json!(zone_a))])
        .await?;
    show.say(stage, format!("» bob runs /attune timezone zone:{zone_b}"));
    stage
        .cmd(BOB, "attune timezone", vec![("zone", json!(zone_b))])
        .await?;
    show.say(
        stage,
        "» bob runs /attune schedule evening:21:00 micro:daily",
    );
    stage
        .cmd(
            BOB,
            "attune schedule",
            // Choice options arrive as the index of the choice: 2 is "daily".
            vec![("evening", json!("21:00")), ("micro", json!(2))],
        )
        .await?;
    show.say(stage, "» alice runs /attune status");
    stage.cmd(ALICE, "attune status", vec![]).await?;

    let start = stage.clock.now();
    let mut handled: std::collections::HashSet<u64> = std::collections::HashSet::new();
    // Day 3, early evening in Berlin: alice asks for a repair.
    let repair_at = start + Duration::days(2) + Duration::hours(18);
    let mut repaired = false;
    for day in 0..args.days {
        let day_start = start + Duration::days(i64::from(day));
        let day_end = day_start + Duration::days(1);
        show.say(
            stage,
            format!(
                "\n──────── Day {} · {} (UTC) ────────",
                day + 1,
                day_start.format("%a %Y-%m-%d")
            ),
        );
        // A scripted week: a pause on day 5, resumed on day 6, so the host sees it work.
        if day == 4 && args.days > 5 {
            stage.run_until(day_start + Duration::hours(6)).await?;
            show.say(stage, "» alice runs /attune pause days:2 (a weekend away)");
            stage
                .cmd(ALICE, "attune pause", vec![("days", json!(2))])
                .await?;
        }
        if day == 5 && args.days > 5 {
            stage.run_until(day_start + Duration::hours(12)).await?;
            show.say(stage, "» bob runs /attune resume");
            stage.cmd(BOB, "attune resume", vec![]).await?;
        }
        loop {
            let next = crate::store::jobs::next_due(stage.pool()).await?;
            if day == 2 && !repaired && next.is_none_or(|n| n >= repair_at) {
                repaired = true;
                stage.run_until(repair_at).await?;
                repair_scene(stage, show).await?;
                continue;
            }
            let Some(next) = next.filter(|n| *n < day_end) else {
                break;
            };
            stage.run_until(next.max(stage.clock.now())).await?;
            answer_revisits(stage, show, &mut handled).await?;
            let posts: Vec<_> = stage
                .fake
                .messages(CHANNEL)
                .into_iter()
                .filter(|m| m.ephemeral_for.is_none() && !handled.contains(&m.id))
                // The scheduled post (its panel says what the check-in is); reminders carry
                // the same buttons without one.
                .filter(|m| m.control(Act::Checkin(C::Answer)).is_some() && !m.embeds.is_empty())
                .collect();
            let teasers: Vec<_> = stage
                .fake
                .messages(CHANNEL)
                .into_iter()
                .filter(|m| m.ephemeral_for.is_none() && !handled.contains(&m.id))
                .filter(|m| m.control(Act::Micro(M::Open)).is_some())
                .collect();
            for t in teasers {
                handled.insert(t.id);
                let who = if t.content.contains(&format!("<@{ALICE}>")) {
                    ALICE
                } else {
                    BOB
                };
                let name = if who == ALICE { "alice" } else { "bob" };
                show.say(stage, format!("» {name} presses [Open]"));
                let open = t.control(Act::Micro(M::Open)).unwrap_or_default();
                let prompt = stage
                    .fake
                    .click_button(who, t.id, &open)
                    .await?
                    .message()?
                    .clone();
                let names = stage.names();
                show.say(
                    stage,
                    format!(
                        "  ({name} reads, privately: {})",
                        prompt
                            .render(&names)
                            .lines()
                            .skip(1)
                            .map(str::trim)
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                );
                let choice = match rng.random_range(0..4) {
                    0 => M::Another,
                    1 => M::NotNow,
                    _ => M::Done,
                };
                let b = prompt.control(Act::Micro(choice)).unwrap_or_default();
                show.say(stage, format!("» {name} presses [{}]", label(&prompt, &b)));
                stage.fake.click_button(who, prompt.id, &b).await?;
                if choice == M::Another {
                    let again = stage
                        .fake
                        .message(prompt.id)
                        .ok_or_else(|| anyhow::anyhow!("prompt vanished"))?;
                    let done = again.control(Act::Micro(M::Done)).unwrap_or_default();
                    show.say(
                        stage,
                        format!("» {name} presses [{}]", label(&again, &done)),
                    );
                    stage.fake.click_button(who, again.id, &done).await?;
                }
            }
            for post in posts {
                handled.insert(post.id);
                let who = if post.content.contains(&format!("<@{ALICE}>")) {
                    ALICE
                } else {
                    BOB
                };
                let name = if who == ALICE { "alice" } else { "bob" };
                match (day, who) {
                    (2, BOB) => {
                        show.say(stage, "» bob presses [Skip today]");
                        let skip = post.control(Act::Checkin(C::Skip)).unwrap_or_default();
                        stage.fake.click_button(BOB, post.id, &skip).await?;
                    }
                    (3, BOB) => {
                        show.say(stage, "» (bob is busy and doesn't answer)");
                    }
                    _ => {
                        show.say(
                            stage,
                            format!("» {name} presses [Answer privately] and fills in the card"),
                        );
                        answer(stage, who, &post, &mut rng).await?;
                    }
                }
                stage.settle().await?;
            }
        }
        stage.run_until(day_end).await?;
    }
    Ok(())
}

/// One partner answers a check-in the way a person would: card, menus, sometimes a note.
async fn answer(
    stage: &Stage,
    user: u64,
    post: &fake::FakeMessage,
    rng: &mut rand::rngs::StdRng,
) -> anyhow::Result<()> {
    let f = &stage.fake;
    let open = post
        .control(Act::Checkin(C::Answer))
        .ok_or_else(|| anyhow::anyhow!("no answer button"))?;
    let card = f
        .click_button(user, post.id, &open)
        .await?
        .message()?
        .clone();
    let select = |a: C| {
        card.control(Act::Checkin(a))
            .ok_or_else(|| anyhow::anyhow!("no menu {a:?}"))
    };
    let mood: u8 = rng.random_range(2..=5);
    let guess: u8 = (i16::from(mood) + rng.random_range(-1i16..=1)).clamp(1, 5) as u8;
    f.select(user, card.id, &select(C::Mood)?, vec![mood.to_string()])
        .await?;
    let content = stage.content();
    let words = &content.feelings;
    let a = words[rng.random_range(0..words.len())].clone();
    let b = words[rng.random_range(0..words.len())].clone();
    let mut picks = vec![a.to_string()];
    if a != b {
        picks.push(b.to_string());
    }
    f.select(user, card.id, &select(C::Feelings)?, picks)
        .await?;
    f.select(user, card.id, &select(C::Guess)?, vec![guess.to_string()])
        .await?;
    if rng.random_bool(0.4) {
        const NOTES: [&str; 4] = [
            "Slept badly, but the coffee is helping.",
            "Looking forward to our walk tonight.",
            "Work feels heavy today; I could use a hug.",
            "Grateful you made breakfast.",
        ];
        let note = NOTES[rng.random_range(0..NOTES.len())];
        let now = f
            .message(card.id)
            .ok_or_else(|| anyhow::anyhow!("card vanished"))?;
        let add = now.control(Act::Checkin(C::Note)).unwrap_or_default();
        let modal = f.click_button(user, card.id, &add).await?.modal()?.clone();
        f.submit_modal(user, &modal, vec![("note", note)]).await?;
        if rng.random_bool(0.7) {
            let now = f
                .message(card.id)
                .ok_or_else(|| anyhow::anyhow!("card vanished"))?;
            let share = now.control(Act::Checkin(C::ShareNote)).unwrap_or_default();
            f.click_button(user, card.id, &share).await?;
        }
    }
    let now = f
        .message(card.id)
        .ok_or_else(|| anyhow::anyhow!("card vanished"))?;
    let done = now.control(Act::Checkin(C::Submit)).unwrap_or_default();
    f.click_button(user, card.id, &done).await?;
    Ok(())
}

/// The scripted repair of day 3: alice starts it, they settle, own, share, reflect (one
/// "not quite"), agree on a line for next time and close.
async fn repair_scene(stage: &Stage, show: &mut Show) -> anyhow::Result<()> {
    let f = &stage.fake;
    let press = |user: u64, m: fake::FakeMessage, act: R| async move {
        let now = f
            .message(m.id)
            .ok_or_else(|| anyhow::anyhow!("message {} vanished", m.id))?;
        let id = now
            .control(Act::Repair(act))
            .ok_or_else(|| anyhow::anyhow!("no button {act:?} on: {}", now.text()))?;
        f.click_button(user, m.id, &id).await
    };
    // Writes in a modal and shares it; returns the public message that follows.
    let say = |user: u64, m: fake::FakeMessage, write: R, share: R, text: &'static str| async move {
        let modal = press(user, m, write).await?.modal()?.clone();
        let preview = f
            .submit_modal(user, &modal, vec![("text", text)])
            .await?
            .message()?
            .clone();
        let shared = press(user, preview, share).await?;
        anyhow::Ok(shared.new_message()?.clone())
    };

    show.say(
        stage,
        "» alice runs /repair and names the moment, just for herself",
    );
    let modal = stage.cmd(ALICE, "repair", vec![]).await?.modal()?.clone();
    let invite = f
        .submit_modal(
            ALICE,
            &modal,
            vec![("text", "Sunday dinner, when I kept checking my phone.")],
        )
        .await?
        .new_message()?
        .clone();
    // The named moment comes back to alice privately, just after the invitation.
    f.wait_for_message(CHANNEL, std::time::Duration::from_secs(5), |m| {
        m.ephemeral_for == Some(ALICE) && m.text().contains("Sunday dinner")
    })
    .await?;
    show.say(stage, "» bob presses [I'm ready]");
    let regulate = press(BOB, invite, R::Ready).await?.new_message()?.clone();
    show.say(stage, "» alice taps 2, bob taps 3 (each privately)");
    press(ALICE, regulate.clone(), R::Calm2).await?;
    let own = press(BOB, regulate, R::Calm3).await?.new_message()?.clone();
    show.say(
        stage,
        "» alice writes what she owns, reads it back privately, and shares it",
    );
    let felt = say(
        ALICE,
        own,
        R::WriteOwn,
        R::ShareOwn,
        "I was on my phone while you told me about your sister, and when you said so I got \
         defensive. I'm sorry. That was my part.",
    )
    .await?;
    show.say(stage, "» bob writes what it was like for him and shares it");
    let reflect = say(
        BOB,
        felt,
        R::WriteFelt,
        R::ShareFelt,
        "I felt alone at our own table, like what I was saying didn't matter.",
    )
    .await?;
    show.say(stage, "» alice says back what she heard");
    let confirm = say(
        ALICE,
        reflect,
        R::WriteReflect,
        R::ShareReflect,
        "You felt I didn't care about your sister.",
    )
    .await?;
    show.say(stage, "» bob presses [Not quite] and adds what's missing");
    let reflect = say(
        BOB,
        confirm,
        R::NotQuite,
        R::ShareMissing,
        "It's less about my sister. I felt alone with you right there next to me.",
    )
    .await?;
    show.say(stage, "» alice tries again");
    let confirm = say(
        ALICE,
        reflect,
        R::WriteReflect,
        R::ShareReflect,
        "So it felt lonely, sitting right next to me, as if you didn't matter to me just then.",
    )
    .await?;
    show.say(stage, "» bob presses [Yes, that's it]");
    let next = press(BOB, confirm, R::Heard).await?.new_message()?.clone();
    show.say(stage, "» each proposes a line for next time");
    let after = say(
        ALICE,
        next,
        R::WritePlan,
        R::SharePlan,
        "Phones stay in the kitchen during dinner.",
    )
    .await?;
    let pick = say(
        BOB,
        after,
        R::WritePlan,
        R::SharePlan,
        "If one of us needs the phone at dinner, we say so first.",
    )
    .await?;
    show.say(
        stage,
        "» alice presses [Keep line 2], bob presses [Yes, let's keep it]",
    );
    let agree = press(ALICE, pick, R::PickSecond)
        .await?
        .new_message()?
        .clone();
    let close = press(BOB, agree, R::Agree).await?.new_message()?.clone();
    show.say(stage, "» alice taps 4, bob taps 5 (each privately)");
    press(ALICE, close.clone(), R::Close4).await?;
    press(BOB, close, R::Close5).await?;
    stage.settle().await
}

/// Answers an agreement's revisit the way the two of them might.
async fn answer_revisits(
    stage: &Stage,
    show: &mut Show,
    handled: &mut std::collections::HashSet<u64>,
) -> anyhow::Result<()> {
    let revisits: Vec<_> = stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none() && !handled.contains(&m.id))
        .filter(|m| m.control(Act::Repair(R::RevisitWell)).is_some())
        .collect();
    for r in revisits {
        handled.insert(r.id);
        for (user, name, act) in [
            (ALICE, "alice", R::RevisitWell),
            (BOB, "bob", R::RevisitMixed),
        ] {
            let id = r.control(Act::Repair(act)).unwrap_or_default();
            show.say(stage, format!("» {name} presses [{}]", label(&r, &id)));
            stage.fake.click_button(user, r.id, &id).await?;
        }
    }
    Ok(())
}

/// The label of the button with this custom id, for the narration.
fn label(m: &fake::FakeMessage, id: &str) -> String {
    m.buttons()
        .into_iter()
        .find(|b| b.custom_id.as_deref() == Some(id))
        .map(|b| b.label)
        .unwrap_or_default()
}
