//! The practice, deeper, through the stand-in against real Postgres: the weekly check-in,
//! the question of the day as something to answer, a light day, the ways each partner likes
//! to receive care, couples who live apart, a hard reveal steering the next nudge, `/attune
//! help`, and the private ways out when someone may not be safe.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use crate::support::*;
use attune::content::Library;
use attune::sandbox::fake::FakeMessage;
use attune::sandbox::stage::{Stage, ALICE, BOB, CAROL, CHANNEL};
use serde_json::json;

fn public(stage: &Stage, needle: &str) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none() && m.text().contains(needle))
        .collect()
}

fn private_to(stage: &Stage, user: u64, needle: &str) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for == Some(user) && m.text().contains(needle))
        .collect()
}

async fn click(
    stage: &Stage,
    user: u64,
    m: &FakeMessage,
    act: Act,
) -> attune::sandbox::fake::Reply {
    let now = stage.fake.message(m.id).unwrap_or_else(|| m.clone());
    let id = now
        .control(act)
        .unwrap_or_else(|| panic!("no {act:?} on: {}", now.text()));
    stage.fake.click_button(user, m.id, &id).await.unwrap()
}

async fn select(
    stage: &Stage,
    user: u64,
    m: &FakeMessage,
    act: Act,
    values: &[&str],
) -> attune::sandbox::fake::Reply {
    let id = m
        .control(act)
        .unwrap_or_else(|| panic!("no {act:?} on: {}", m.text()));
    stage
        .fake
        .select(
            user,
            m.id,
            &id,
            values.iter().map(|v| v.to_string()).collect(),
        )
        .await
        .unwrap()
}

/// The private answer card of a check-in post.
async fn card(stage: &Stage, user: u64, post: &FakeMessage) -> FakeMessage {
    let c = click(stage, user, post, Act::Checkin(CheckinAction::Answer))
        .await
        .message()
        .cloned()
        .unwrap();
    assert_eq!(c.ephemeral_for, Some(user));
    c
}

async fn mood_and_done(stage: &Stage, user: u64, card: &FakeMessage, mood: u8) {
    select(
        stage,
        user,
        card,
        Act::Checkin(CheckinAction::Mood),
        &[&mood.to_string()],
    )
    .await;
    let now = stage.fake.message(card.id).unwrap();
    select(
        stage,
        user,
        &now,
        Act::Checkin(CheckinAction::Guess),
        &["3"],
    )
    .await;
    let now = stage.fake.message(card.id).unwrap();
    click(stage, user, &now, Act::Checkin(CheckinAction::Submit)).await;
}

fn checkin_posts(stage: &Stage) -> Vec<FakeMessage> {
    public(stage, "it's check-in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_check_in_comes_before_the_recap_and_reveals_together() {
    // Saturday noon; the weekly check-in comes Sunday 09:00 Berlin, the recap at 18:00.
    let stage = stage_at(at("2026-11-28T12:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-29T07:59:00Z")).await.unwrap();
    assert!(
        public(&stage, "weekly check-in").is_empty(),
        "not before its time"
    );
    stage.run_until(at("2026-11-29T08:00:30Z")).await.unwrap();
    let posts = public(&stage, "it's time for your weekly check-in");
    assert_eq!(posts.len(), 1, "one post for both");
    let post = posts[0].clone();
    let t = post.text();
    for theme in [
        "Something I appreciated",
        "What went well for us",
        "Something to talk about",
        "A need for the week ahead",
    ] {
        assert!(t.contains(theme), "{theme}: {t}");
    }
    assert!(
        t.contains(&format!("<@{ALICE}>")) && t.contains(&format!("<@{BOB}>")),
        "{t}"
    );

    // alice answers two of the four privately.
    let mine = card(&stage, ALICE, &post).await;
    assert!(
        mine.text().contains("only you can see this"),
        "{}",
        mine.text()
    );
    let modal = click(
        &stage,
        ALICE,
        &mine,
        Act::Checkin(CheckinAction::WeeklyWrite),
    )
    .await
    .modal()
    .cloned()
    .unwrap();
    assert_eq!(modal.inputs.len(), 4, "one box per theme");
    for i in &modal.inputs {
        let q = i.placeholder.as_deref().unwrap_or_default();
        assert!(
            q.ends_with('?') && !q.contains('{'),
            "the question as plain words: {q}"
        );
    }
    let r = stage
        .fake
        .submit_modal(
            ALICE,
            &modal,
            vec![
                ("appreciation", "SENTINEL-W-APP you made soup"),
                ("need_ahead", "SENTINEL-W-NEED a quiet evening"),
            ],
        )
        .await
        .unwrap();
    let updated = r.message().cloned().unwrap();
    assert!(
        updated.text().contains("SENTINEL-W-APP"),
        "{}",
        updated.text()
    );
    click(&stage, ALICE, &updated, Act::Checkin(CheckinAction::Submit)).await;
    stage.settle().await.unwrap();
    assert!(
        public(&stage, "SENTINEL-W").is_empty(),
        "nothing shown before the reveal"
    );
    let sealed: Vec<String> = sqlx::query_scalar("select body from weekly_answers")
        .fetch_all(stage.pool())
        .await
        .unwrap();
    assert_eq!(sealed.len(), 2);
    assert!(
        sealed.iter().all(|b| !b.contains("SENTINEL")),
        "sealed at rest"
    );

    // bob cannot finish with nothing written; with one answer the reveal comes at once.
    let his = card(&stage, BOB, &post).await;
    let before = snapshot(&stage).await;
    let r = click(&stage, BOB, &his, Act::Checkin(CheckinAction::Submit)).await;
    assert!(r.text().contains("at least one answer"), "{}", r.text());
    assert_eq!(snapshot(&stage).await, before, "a refusal changes nothing");
    let modal = click(&stage, BOB, &his, Act::Checkin(CheckinAction::WeeklyWrite))
        .await
        .modal()
        .cloned()
        .unwrap();
    let r = stage
        .fake
        .submit_modal(
            BOB,
            &modal,
            vec![("went_well", "SENTINEL-W-BOB our Sunday walk")],
        )
        .await
        .unwrap();
    click(
        &stage,
        BOB,
        r.message().unwrap(),
        Act::Checkin(CheckinAction::Submit),
    )
    .await;
    let reveal = stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(10), |m| {
            m.ephemeral_for.is_none() && m.text().contains("Your weekly check-in — together")
        })
        .await
        .unwrap();
    let t = reveal.text();
    for s in ["SENTINEL-W-APP", "SENTINEL-W-NEED", "SENTINEL-W-BOB"] {
        assert!(t.contains(s), "{s}: {t}");
    }

    // Next week brings four other questions; turned off, it stops.
    stage.run_until(at("2026-12-06T08:01:00Z")).await.unwrap();
    let rounds: Vec<String> = sqlx::query_scalar(
        "select question_id from checkins where slot = 'weekly' order by opened_at",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert_eq!(rounds.len(), 2);
    let ids: Vec<&str> = rounds.iter().flat_map(|r| r.split(',')).collect();
    assert_eq!(ids.len(), 8);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        8,
        "no question twice: {ids:?}"
    );
    stage
        .cmd(ALICE, "attune schedule", vec![("weekly", json!(0))])
        .await
        .unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind = 'weekly_checkin' and status = 'pending'"
        )
        .await,
        0,
        "off means off"
    );
    stage.run_until(at("2026-12-13T09:00:00Z")).await.unwrap();
    assert_eq!(
        public(&stage, "it's time for your weekly check-in").len(),
        2
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_question_of_the_day_is_answered_and_shared_only_by_choice() {
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:01:00Z")).await.unwrap();
    let post = checkin_posts(&stage).pop().expect("a morning post");
    let (qid, question): (String, String) = sqlx::query_as(
        "select question_id, question from checkins order by opened_at desc limit 1",
    )
    .fetch_one(stage.pool())
    .await
    .unwrap();
    assert!(qid.starts_with("qm-"), "{qid}");
    let words = question
        .replace("{partner}", "your partner")
        .replace("{name}", "you");
    let c = card(&stage, ALICE, &post).await;
    assert!(c.text().contains("Today's question"), "{}", c.text());
    // The note's box asks that question, not something else.
    let modal = click(&stage, ALICE, &c, Act::Checkin(CheckinAction::Note))
        .await
        .modal()
        .cloned()
        .unwrap();
    let input = modal.input("note").unwrap();
    assert_eq!(input.label, "Your answer, if you like");
    assert_eq!(input.placeholder.as_deref(), Some(words.as_str()));
    stage
        .fake
        .submit_modal(
            ALICE,
            &modal,
            vec![("note", "SENTINEL-Q-ALICE the walk to work")],
        )
        .await
        .unwrap();
    let now = stage.fake.message(c.id).unwrap();
    click(&stage, ALICE, &now, Act::Checkin(CheckinAction::ShareNote)).await;
    mood_and_done(&stage, ALICE, &stage.fake.message(c.id).unwrap(), 4).await;
    // bob answers too, and keeps his to himself.
    let b = card(&stage, BOB, &post).await;
    let modal = click(&stage, BOB, &b, Act::Checkin(CheckinAction::Note))
        .await
        .modal()
        .cloned()
        .unwrap();
    stage
        .fake
        .submit_modal(BOB, &modal, vec![("note", "SENTINEL-Q-BOB not today")])
        .await
        .unwrap();
    mood_and_done(&stage, BOB, &stage.fake.message(b.id).unwrap(), 3).await;
    let reveal = stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(10), |m| {
            m.ephemeral_for.is_none() && m.text().contains("revealed")
        })
        .await
        .unwrap();
    let t = reveal.text();
    assert!(t.contains("Question of the day"), "{t}");
    assert!(
        t.contains("answered: “SENTINEL-Q-ALICE the walk to work”"),
        "{t}"
    );
    assert!(!t.contains("SENTINEL-Q-BOB"), "bob kept his: {t}");

    // A week of mornings and evenings: no question comes back.
    stage.run_until(at("2026-12-02T07:30:00Z")).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar(
        "select question_id from checkins where slot in ('morning', 'evening') and question_id is not null",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert!(ids.len() >= 7, "{}", ids.len());
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "{ids:?}"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_day_brings_only_gentle_prompts_that_day() {
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:01:00Z")).await.unwrap();
    let post = checkin_posts(&stage).pop().unwrap();
    let c = card(&stage, ALICE, &post).await;
    let r = click(&stage, ALICE, &c, Act::Checkin(CheckinAction::LightDay)).await;
    let light = r.message().cloned().unwrap();
    assert!(light.text().contains("A light day"), "{}", light.text());
    assert_eq!(count(&stage, "select count(*) from light_days").await, 1);
    assert!(
        public(&stage, "light day").is_empty(),
        "nobody else is told"
    );
    let lib = Library::builtin();
    for _ in 0..8 {
        stage.clock.advance(chrono::Duration::seconds(1));
        stage.cmd(ALICE, "micro", vec![]).await.unwrap();
        let id: String = sqlx::query_scalar(
            "select prompt_id from micro_prompts where source = 'command' order by created_at desc limit 1",
        )
        .fetch_one(stage.pool())
        .await
        .unwrap();
        assert_eq!(lib.micro_by_id(&id).unwrap().tier, "light", "{id}");
    }
    // Back to a usual day.
    let r = click(&stage, ALICE, &light, Act::Checkin(CheckinAction::LightDay)).await;
    assert!(!r.message().unwrap().text().contains("A light day"));
    assert_eq!(count(&stage, "select count(*) from light_days").await, 0);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_picks_how_they_like_care_privately_and_the_partners_ideas_follow() {
    let stage = stage_at(at("2026-11-25T10:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    let r = stage.cmd(BOB, "attune care", vec![]).await.unwrap();
    let chooser = r.message().cloned().unwrap();
    assert_eq!(chooser.ephemeral_for, Some(BOB), "private");
    let care = Act::Personal(PersonalAction::Care);
    // Forged choices (more than two, or a way that isn't one) change nothing.
    let before = snapshot(&stage).await;
    let id = chooser.control(care).unwrap();
    for bad in [vec!["words", "time", "touch"], vec!["money"]] {
        let r = stage
            .fake
            .select_raw(
                BOB,
                chooser.id,
                &id,
                3,
                bad.iter().map(|s| s.to_string()).collect(),
            )
            .await
            .unwrap();
        assert!(r.text().contains("isn't active any more"), "{}", r.text());
    }
    assert_eq!(snapshot(&stage).await, before);
    let r = select(&stage, BOB, &chooser, care, &["words"]).await;
    assert!(r.text().contains("noted"), "{}", r.text());
    let ways: Vec<String> = sqlx::query_scalar(
        "select unnest(care_ways) from people p join identities i on i.person_id = p.id where i.external_id = $1",
    )
    .bind(BOB.to_string())
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert_eq!(ways, vec!["words".to_string()]);
    assert!(
        public(&stage, "Kind words").is_empty(),
        "the choice is never posted"
    );
    // alice's whole pool: her ideas for caring for bob are all about words.
    let lib = Library::builtin();
    let pool = lib.micro.iter().filter(|p| p.setting != "apart").count();
    let mut love = Vec::new();
    for _ in 0..pool {
        stage.clock.advance(chrono::Duration::seconds(1));
        stage.cmd(ALICE, "micro", vec![]).await.unwrap();
        let id: String = sqlx::query_scalar(
            "select prompt_id from micro_prompts order by created_at desc limit 1",
        )
        .fetch_one(stage.pool())
        .await
        .unwrap();
        if let Some(c) = lib.micro_by_id(&id).and_then(|p| p.care.clone()) {
            love.push(c);
        }
    }
    assert!(love.len() >= 5, "five or more ideas per way: {love:?}");
    assert!(love.iter().all(|c| c == "words"), "{love:?}");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn couples_who_live_apart_get_cues_for_calls_and_messages() {
    let stage = stage_at(at("2026-11-25T10:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "America/New_York").await;
    let r = stage
        .cmd(ALICE, "attune schedule", vec![("living", json!(1))])
        .await
        .unwrap();
    assert!(r.text().contains("Living apart"), "{}", r.text());
    let lib = Library::builtin();
    let mut apart = 0;
    for _ in 0..60 {
        stage.clock.advance(chrono::Duration::seconds(1));
        stage.cmd(BOB, "micro", vec![]).await.unwrap();
        let id: String = sqlx::query_scalar(
            "select prompt_id from micro_prompts order by created_at desc limit 1",
        )
        .fetch_one(stage.pool())
        .await
        .unwrap();
        let p = lib.micro_by_id(&id).unwrap();
        assert_ne!(p.setting, "together", "{id} needs a room together");
        apart += usize::from(p.setting == "apart");
    }
    assert!(apart > 0, "some cues are made for the distance");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_reveal_steers_the_next_nudge_towards_listening() {
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:01:00Z")).await.unwrap();
    let post = checkin_posts(&stage).pop().unwrap();
    let a = card(&stage, ALICE, &post).await;
    mood_and_done(&stage, ALICE, &a, 1).await;
    let b = card(&stage, BOB, &post).await;
    mood_and_done(&stage, BOB, &b, 4).await;
    stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(10), |m| {
            m.ephemeral_for.is_none() && m.text().contains("revealed")
        })
        .await
        .unwrap();
    stage.cmd(BOB, "micro", vec![]).await.unwrap();
    let concept: String =
        sqlx::query_scalar("select concept from micro_prompts order by created_at desc limit 1")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    assert_eq!(concept, "listen_or_help");
    let steer: Option<String> = sqlx::query_scalar("select steer from micro_bags")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert_eq!(steer, None, "taken once");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_private_and_says_where_to_find_help() {
    let stage = stage().await;
    couple_up(&stage).await;
    let lib = Library::builtin();
    for who in [ALICE, CAROL] {
        let r = stage.cmd(who, "attune help", vec![]).await.unwrap();
        assert!(r.is_ephemeral(), "{}", r.text());
        let t = r.text();
        assert!(t.contains("not therapy"), "{t}");
        assert!(
            t.contains("/attune pause") && t.contains("/attune forget"),
            "{t}"
        );
        assert!(t.contains(&lib.safety.resources[..40]), "{t}");
        assert!(t.contains(&lib.safety.self_harm[..40]), "{t}");
    }
    assert!(public(&stage, "not therapy, counselling").is_empty());
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_feeling_safe_on_the_check_in_card_stays_with_the_one_who_said_it() {
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:01:00Z")).await.unwrap();
    let post = checkin_posts(&stage).pop().unwrap();
    let c = card(&stage, ALICE, &post).await;
    select(&stage, ALICE, &c, Act::Checkin(CheckinAction::Mood), &["2"]).await;
    let r = click(&stage, ALICE, &c, Act::Checkin(CheckinAction::NotSafe)).await;
    let lib = Library::builtin();
    let help = r.message().cloned().unwrap();
    assert_eq!(help.ephemeral_for, Some(ALICE));
    assert!(
        help.text().contains(&lib.safety.resources[..40]),
        "{}",
        help.text()
    );
    let b = card(&stage, BOB, &post).await;
    mood_and_done(&stage, BOB, &b, 4).await;
    let reveal = stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(10), |m| {
            m.ephemeral_for.is_none() && m.text().contains("revealed")
        })
        .await
        .unwrap();
    let t = reveal.text();
    assert!(
        t.contains(&format!("<@{ALICE}> took a pause")),
        "it reads as a pause: {t}"
    );
    assert!(!t.contains("safe") && !t.contains("Low"), "{t}");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_that_suggests_danger_gets_a_gentle_private_note_and_is_never_shared() {
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:01:00Z")).await.unwrap();
    let post = checkin_posts(&stage).pop().unwrap();
    let c = card(&stage, ALICE, &post).await;
    // Shared first, then the words change: sharing is switched off and not offered again.
    let modal = click(&stage, ALICE, &c, Act::Checkin(CheckinAction::Note))
        .await
        .modal()
        .cloned()
        .unwrap();
    stage
        .fake
        .submit_modal(ALICE, &modal, vec![("note", "fine")])
        .await
        .unwrap();
    click(&stage, ALICE, &c, Act::Checkin(CheckinAction::ShareNote)).await;
    let modal = click(&stage, ALICE, &c, Act::Checkin(CheckinAction::Note))
        .await
        .modal()
        .cloned()
        .unwrap();
    stage
        .fake
        .submit_modal(
            ALICE,
            &modal,
            vec![("note", "SENTINEL-S sometimes I want to end my life")],
        )
        .await
        .unwrap();
    let lib = Library::builtin();
    // The note follows the answer to her modal.
    stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(5), |m| {
            m.ephemeral_for == Some(ALICE) && m.text().contains(&lib.safety.signal_note[..40])
        })
        .await
        .unwrap();
    let notes = private_to(&stage, ALICE, &lib.safety.signal_note[..40]);
    assert_eq!(
        notes.len(),
        1,
        "a gentle note, to her only: {:#?}",
        private_to(&stage, ALICE, "")
            .iter()
            .map(|m| m.text())
            .collect::<Vec<_>>()
    );
    assert!(
        notes[0].text().contains(&lib.safety.self_harm[..40]),
        "{}",
        notes[0].text()
    );
    let now = stage.fake.message(c.id).unwrap();
    assert!(
        now.control(Act::Checkin(CheckinAction::ShareNote))
            .is_none(),
        "no sharing offered"
    );
    mood_and_done(&stage, ALICE, &now, 2).await;
    let b = card(&stage, BOB, &post).await;
    mood_and_done(&stage, BOB, &b, 4).await;
    let reveal = stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(10), |m| {
            m.ephemeral_for.is_none() && m.text().contains("revealed")
        })
        .await
        .unwrap();
    assert!(!reveal.text().contains("SENTINEL-S"), "{}", reveal.text());
    assert!(private_to(&stage, BOB, "SENTINEL-S").is_empty());
    assert!(private_to(&stage, BOB, &lib.safety.signal_note[..40]).is_empty());
    // Nothing is stored as a flag: the only trace is her own sealed note.
    let share: bool = sqlx::query_scalar("select share_note from checkin_answers a join identities i on i.person_id = a.person_id where i.external_id = $1")
        .bind(ALICE.to_string())
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert!(!share);
    finish(stage).await;
}

#[test]
fn the_sandbox_week_shows_the_deeper_practice() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["sandbox", "--start", "2026-11-23", "--days", "7"])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{t}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for seen in [
        "About Attune",
        "it's time for your weekly check-in",
        "Your weekly check-in — together",
        "answered: “",
        "A light day: smaller, gentler prompts",
        "Something hurt; I'd like to be heard",
        "Another round, the other way: this time",
        "with both of you",
        "[Just my numbers]",
        "no violations",
    ] {
        assert!(t.contains(seen), "{seen:?} missing from:\n{t}");
    }
    let recap = &t[t.rfind("Your weekly recap is here").expect("a recap")..];
    let recap = &recap[..recap.find("[Just my numbers]").unwrap()];
    assert!(
        !recap.contains('@'),
        "no per-person tallies in the recap:\n{recap}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_practice_keeps_is_in_my_export_and_gone_when_i_forget() {
    let stage = stage_at(at("2026-11-28T12:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-29T08:00:30Z")).await.unwrap();
    let post = public(&stage, "it's time for your weekly check-in").remove(0);
    let mine = card(&stage, ALICE, &post).await;
    let modal = click(
        &stage,
        ALICE,
        &mine,
        Act::Checkin(CheckinAction::WeeklyWrite),
    )
    .await
    .modal()
    .cloned()
    .unwrap();
    stage
        .fake
        .submit_modal(ALICE, &modal, vec![("appreciation", "SENTINEL-EXPORT-W")])
        .await
        .unwrap();
    let care = stage.cmd(ALICE, "attune care", vec![]).await.unwrap();
    select(
        &stage,
        ALICE,
        care.message().unwrap(),
        Act::Personal(PersonalAction::Care),
        &["touch"],
    )
    .await;
    let morning = checkin_posts(&stage).pop().expect("Sunday's morning post");
    let c = card(&stage, ALICE, &morning).await;
    click(&stage, ALICE, &c, Act::Checkin(CheckinAction::LightDay)).await;

    let r = stage.cmd(ALICE, "attune export", vec![]).await.unwrap();
    let file = r
        .message()
        .unwrap()
        .attachments
        .iter()
        .find(|a| a.filename == "attune-export.json")
        .cloned()
        .expect("the export file");
    let doc: serde_json::Value = serde_json::from_slice(&file.bytes).unwrap();
    assert_eq!(doc["weekly_answers"][0]["text"], "SENTINEL-EXPORT-W");
    assert_eq!(doc["settings"]["care_ways"], json!(["touch"]));
    assert_eq!(doc["settings"]["light_days"], json!(["2026-11-29"]));

    forget_me(&stage, ALICE).await;
    for table in ["weekly_answers", "light_days"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                .fetch_one(stage.pool())
                .await
                .unwrap();
        assert_eq!(n, 0, "{table} still holds her rows");
    }
    finish(stage).await;
}
