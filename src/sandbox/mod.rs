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
    Act, CheckinAction as C, InviteAction, MicroAction as M, PersonalAction, RepairAction as R,
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
    show.say(stage, "» alice runs /attune help");
    stage.cmd(ALICE, "attune help", vec![]).await?;
    show.say(
        stage,
        "» bob runs /attune care and picks, privately, how he likes to receive care",
    );
    let care = stage
        .cmd(BOB, "attune care", vec![])
        .await?
        .message()?
        .clone();
    let menu = care
        .control(Act::Personal(PersonalAction::Care))
        .ok_or_else(|| anyhow::anyhow!("the care card has no menu"))?;
    stage
        .fake
        .select(BOB, care.id, &menu, vec!["words".into(), "time".into()])
        .await?;

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
                if post.control(Act::Checkin(C::WeeklyWrite)).is_none()
                    && post.content.contains("weekly check-in")
                {
                    weekly_scene(stage, show, &post).await?;
                    stage.settle().await?;
                    continue;
                }
                let who = if post.content.contains(&format!("<@{ALICE}>")) {
                    ALICE
                } else {
                    BOB
                };
                let name = if who == ALICE { "alice" } else { "bob" };
                match (day, who) {
                    (1, ALICE) => {
                        show.say(
                            stage,
                            "» alice opens her card, presses [Make today a light day], then answers",
                        );
                        answer(stage, who, &post, &mut rng, true).await?;
                        let light = crate::content::copy::keys::checkin::LIGHT_DAY_ON_LINE;
                        show.say(
                            stage,
                            format!("  (her card said, privately: {})", stage.content().s(light)),
                        );
                    }
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
                        answer(stage, who, &post, &mut rng, false).await?;
                    }
                }
                stage.settle().await?;
            }
        }
        stage.run_until(day_end).await?;
    }
    Ok(())
}

/// What the simulated partners write as answers to the question of the day (tests look for
/// them: in the channel when shared, never in the logs).
pub const NOTES: [&str; 6] = [
    "A slow coffee together before work.",
    "Our walk after dinner, even a short one.",
    "Honestly, a hug when I get home.",
    "That you made breakfast without being asked.",
    "Finishing the report, then an evening off.",
    "Hearing you laugh on the phone with your brother.",
];

/// One partner answers a check-in the way a person would: card, menus, sometimes a note.
async fn answer(
    stage: &Stage,
    user: u64,
    post: &fake::FakeMessage,
    rng: &mut rand::rngs::StdRng,
    light_day: bool,
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
    if light_day {
        let light = card
            .control(Act::Checkin(C::LightDay))
            .ok_or_else(|| anyhow::anyhow!("no light-day button"))?;
        f.click_button(user, card.id, &light).await?;
    }
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
    // Most days one of them answers the question of the day (its box asks it).
    if rng.random_bool(0.6) {
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

/// Both partners answer the weekly check-in: a few words for some of its questions.
async fn weekly_scene(
    stage: &Stage,
    show: &mut Show,
    post: &fake::FakeMessage,
) -> anyhow::Result<()> {
    let f = &stage.fake;
    type Answers<'a> = Vec<(&'a str, &'a str)>;
    let answers: [(u64, &str, Answers); 2] = [
        (
            ALICE,
            "alice",
            vec![
                (
                    "appreciation",
                    "How you listened on Wednesday, even though it was hard.",
                ),
                ("need_ahead", "An evening with no plans."),
            ],
        ),
        (
            BOB,
            "bob",
            vec![
                ("went_well", "We talked it through instead of going quiet."),
                (
                    "talk_about",
                    "How we split the weekend between our families.",
                ),
            ],
        ),
    ];
    for (user, name, mine) in answers {
        show.say(
            stage,
            format!("» {name} opens the weekly check-in, writes a few answers privately, and presses [Done]"),
        );
        let open = post
            .control(Act::Checkin(C::Answer))
            .ok_or_else(|| anyhow::anyhow!("no answer button on the weekly post"))?;
        let card = f
            .click_button(user, post.id, &open)
            .await?
            .message()?
            .clone();
        let write = card
            .control(Act::Checkin(C::WeeklyWrite))
            .ok_or_else(|| anyhow::anyhow!("no write button on the weekly card"))?;
        let modal = f
            .click_button(user, card.id, &write)
            .await?
            .modal()?
            .clone();
        f.submit_modal(user, &modal, mine).await?;
        let now = f
            .message(card.id)
            .ok_or_else(|| anyhow::anyhow!("card vanished"))?;
        let done = now.control(Act::Checkin(C::Submit)).unwrap_or_default();
        f.click_button(user, card.id, &done).await?;
    }
    Ok(())
}

/// The scripted repair of day 3: bob was hurt and starts it to be heard. They settle (bob,
/// very stirred up, is offered a break privately and chooses to go on), bob shares, they
/// settle again, alice reflects (one "not quite"), says it makes sense, owns her part, they
/// keep both lines and close; then bob starts a round the other way.
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
    // Both rate calm at a settling step; returns what follows.
    let settle = |m: fake::FakeMessage| async move {
        press(ALICE, m.clone(), R::Calm2).await?;
        anyhow::Ok(press(BOB, m, R::Calm2).await?.new_message()?.clone())
    };

    show.say(
        stage,
        "» bob runs /repair, chooses [Something hurt; I'd like to be heard], and names the moment, just for himself",
    );
    let chooser = stage.cmd(BOB, "repair", vec![]).await?.message()?.clone();
    let modal = press(BOB, chooser, R::ChooseHurt).await?.modal()?.clone();
    let invite = f
        .submit_modal(
            BOB,
            &modal,
            vec![("text", "Sunday dinner, when you kept checking your phone.")],
        )
        .await?
        .new_message()?
        .clone();
    f.wait_for_message(CHANNEL, std::time::Duration::from_secs(5), |m| {
        m.ephemeral_for == Some(BOB) && m.text().contains("Sunday dinner")
    })
    .await?;
    show.say(stage, "» alice presses [I'm ready]");
    let regulate = press(ALICE, invite, R::Ready).await?.new_message()?.clone();
    show.say(
        stage,
        "» alice taps 2; bob taps 4 and is offered a break, privately; he presses [I can go on]",
    );
    press(ALICE, regulate.clone(), R::Calm2).await?;
    let offer = press(BOB, regulate, R::Calm4).await?.message()?.clone();
    let felt = press(BOB, offer, R::Settled).await?.new_message()?.clone();
    show.say(
        stage,
        "» bob writes what that moment was like for him and shares it",
    );
    let recheck = say(
        BOB,
        felt,
        R::WriteFelt,
        R::ShareFelt,
        "I felt alone at our own table, like what I was saying didn't matter.",
    )
    .await?;
    show.say(stage, "» both tap 2 again (each privately)");
    let reflect = settle(recheck).await?;
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
    let empathy = press(BOB, confirm, R::Heard).await?.new_message()?.clone();
    show.say(stage, "» alice lets him know it makes sense");
    let own = say(
        ALICE,
        empathy,
        R::WriteEmpathy,
        R::ShareEmpathy,
        "It makes sense you felt alone. I would have too, talking to someone looking at a screen.",
    )
    .await?;
    show.say(stage, "» alice owns her part");
    let next = say(
        ALICE,
        own,
        R::WriteOwn,
        R::ShareOwn,
        "I was on my phone while you told me about your day, and when you said so I got \
         defensive. I'm sorry. That was my part.",
    )
    .await?;
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
        "» bob presses [Keep both], alice presses [Yes, let's keep it]",
    );
    let agree = press(BOB, pick, R::PickBoth).await?.new_message()?.clone();
    let close = press(ALICE, agree, R::Agree).await?.new_message()?.clone();
    show.say(stage, "» alice taps 4, bob taps 4 (each privately)");
    press(ALICE, close.clone(), R::Close4).await?;
    let summary = press(BOB, close, R::Close4).await?.new_message()?.clone();

    show.say(
        stage,
        "» bob presses [Another round, the other way]: he has a part to own too",
    );
    let regulate = press(BOB, summary, R::OtherWay)
        .await?
        .new_message()?
        .clone();
    show.say(stage, "» both tap 2 (each privately)");
    let own = settle(regulate).await?;
    show.say(stage, "» bob owns his part");
    let felt = say(
        BOB,
        own,
        R::WriteOwn,
        R::ShareOwn,
        "I went quiet and sulked for the rest of the evening instead of telling you.",
    )
    .await?;
    show.say(stage, "» alice shares what that was like for her");
    let recheck = say(
        ALICE,
        felt,
        R::WriteFelt,
        R::ShareFelt,
        "The silence scared me more than the argument.",
    )
    .await?;
    let reflect = settle(recheck).await?;
    show.say(
        stage,
        "» bob says back what he heard; alice presses [Yes, that's it]",
    );
    let confirm = say(
        BOB,
        reflect,
        R::WriteReflect,
        R::ShareReflect,
        "When I went quiet, it frightened you more than the words did.",
    )
    .await?;
    let empathy = press(ALICE, confirm, R::Heard)
        .await?
        .new_message()?
        .clone();
    let next = say(
        BOB,
        empathy,
        R::WriteEmpathy,
        R::ShareEmpathy,
        "Of course it scared you. Silence can feel like a door closing.",
    )
    .await?;
    show.say(
        stage,
        "» each proposes a line; alice keeps bob's, bob agrees",
    );
    let after = say(
        BOB,
        next,
        R::WritePlan,
        R::SharePlan,
        "When I need quiet, I say \"give me ten minutes\" and come back.",
    )
    .await?;
    let pick = say(
        ALICE,
        after,
        R::WritePlan,
        R::SharePlan,
        "I'll ask once, gently, and then give you the ten minutes.",
    )
    .await?;
    let agree = press(ALICE, pick, R::PickFirst)
        .await?
        .new_message()?
        .clone();
    let close = press(BOB, agree, R::Agree).await?.new_message()?.clone();
    press(ALICE, close.clone(), R::Close5).await?;
    press(BOB, close, R::Close4).await?;
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
