//! Micro-attunement prompts and the content library, through the stand-in against real
//! Postgres (and the `attune` binary for the content check and the sandbox).

use std::collections::HashSet;
use std::process::Command;

use crate::support::*;
use attune::sandbox::fake::FakeMessage;
use attune::sandbox::stage::{Stage, ALICE, BOB, CAROL, CHANNEL};
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use serde_json::json;

fn teasers(stage: &Stage, user: u64) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m.ephemeral_for.is_none() && m.content.contains(&format!("<@{user}>, a small moment"))
        })
        .collect()
}

#[test]
fn content_check_command_accepts_the_shipped_library_and_names_broken_files() {
    let bin = env!("CARGO_BIN_EXE_attune");
    let ok = Command::new(bin)
        .args(["content", "check", "--dir", "content"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.contains("No problems found"), "{out}");

    let dir = std::env::temp_dir().join(format!("attune-content-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in std::fs::read_dir("content").unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("micro-extra.toml"),
        "[[prompt]]\nid = \"x-01\"\nconcept = \"gratitude\"\ntext = \"Thank {someone} today.\"\n",
    )
    .unwrap();
    let bad = Command::new(bin)
        .args(["content", "check", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!bad.status.success(), "{text}");
    assert!(
        text.contains("micro-extra.toml") && text.contains("x-01") && text.contains("someone"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_content_dir_stops_start_up_with_the_file_named() {
    let dir = std::env::temp_dir().join(format!("attune-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("micro.toml"), "[[prompt]\nid = ").unwrap();
    // The sandbox starts the bot through the same wiring as `attune run`.
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["sandbox", "--days", "1"])
        .env("ATTUNE_CONTENT__DIR", &dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("micro.toml") && err.contains("line"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_prompts_fall_inside_the_waking_window_and_away_from_checkins() {
    let stage = stage_at(at("2026-11-23T00:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Asia/Kathmandu").await;
    stage
        .cmd(
            ALICE,
            "attune schedule",
            vec![
                ("micro", json!(2)),
                ("waking_start", json!("09:00")),
                ("waking_end", json!("21:00")),
                ("evening", json!("20:00")),
            ],
        )
        .await
        .unwrap();
    stage
        .cmd(
            BOB,
            "attune schedule",
            vec![
                ("waking_start", json!("07:00")),
                ("waking_end", json!("22:30")),
            ],
        )
        .await
        .unwrap();
    stage.run_until(at("2026-12-07T00:00:00Z")).await.unwrap();
    let rows: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
        "select i.external_id::bigint, m.created_at from micro_prompts m join identities i on i.person_id = m.person_id where m.source = 'scheduled' order by m.created_at",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let mut days = HashSet::new();
    for (user, when) in &rows {
        let (zone, window, checkins): (chrono_tz::Tz, _, Vec<NaiveTime>) = if *user == ALICE as i64
        {
            (
                chrono_tz::Europe::Berlin,
                (t(9, 0), t(21, 0)),
                vec![t(8, 0), t(20, 0)],
            )
        } else {
            (
                chrono_tz::Asia::Kathmandu,
                (t(7, 0), t(22, 30)),
                vec![t(8, 0)],
            )
        };
        let local = when.with_timezone(&zone);
        let lt = local.time();
        assert!(lt >= window.0 && lt < window.1, "{user} at {local}");
        // Default quiet hours: 22:00-07:00.
        assert!(
            lt >= t(7, 0) && lt < t(22, 0),
            "{user} in quiet hours at {local}"
        );
        for c in &checkins {
            let gap = (i64::from(lt.hour() * 60 + lt.minute())
                - i64::from(c.hour() * 60 + c.minute()))
            .abs();
            assert!(gap >= 60, "{user} stacked on a check-in at {local}");
        }
        assert!(
            days.insert((*user, local.date_naive())),
            "two prompts on one day for {user}"
        );
    }
    // Daily for two weeks, both partners: one prompt per local day.
    let per_user = |u: u64| rows.iter().filter(|r| r.0 == u as i64).count();
    assert!((13..=14).contains(&per_user(ALICE)), "{}", per_user(ALICE));
    assert!((13..=14).contains(&per_user(BOB)), "{}", per_user(BOB));
    assert_eq!(
        teasers(&stage, ALICE).len(),
        per_user(ALICE),
        "every prompt was posted"
    );
    finish(stage).await;
}

async fn micro_now(stage: &Stage, user: u64) -> (FakeMessage, String) {
    let m = stage
        .cmd(user, "micro", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(m.ephemeral_for, Some(user));
    let id: String = sqlx::query_scalar(
        "select prompt_id from micro_prompts order by created_at desc, id limit 1",
    )
    .fetch_one(stage.pool())
    .await
    .unwrap();
    (m, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bag_never_repeats_across_a_restart_or_stacks_a_concept() {
    let mut stage = stage_at(at("2026-11-23T12:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    let lib = attune::content::Library::builtin();
    // A couple living together is never sent cues made for calls across a distance.
    let pool = lib.micro.iter().filter(|p| p.setting != "apart").count();
    let mut seen = HashSet::new();
    let mut last_concept: Option<String> = None;
    for i in 0..pool {
        if i == pool / 2 {
            stage.stop_bot().await;
            stage.start_bot().await.unwrap();
        }
        let user = if i % 2 == 0 { ALICE } else { BOB };
        stage.clock.advance(chrono::Duration::seconds(1));
        let (_, id) = micro_now(&stage, user).await;
        let prompt = lib.micro_by_id(&id).unwrap();
        assert_ne!(prompt.setting, "apart", "{id} is for couples apart");
        let concept = prompt.concept.clone();
        assert_ne!(
            Some(&concept),
            last_concept.as_ref(),
            "same concept twice in a row at draw {i}"
        );
        last_concept = Some(concept);
        seen.insert(id);
    }
    // The whole pool (bar the few a concept rule may push to the next shuffle) before repeats.
    assert!(seen.len() >= pool - 3, "{} of {}", seen.len(), pool);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_one_never_returns_the_same_prompt() {
    let stage = stage_at(at("2026-11-23T12:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    let (mut card, mut prev) = micro_now(&stage, ALICE).await;
    for _ in 0..25 {
        let another = card.control(Act::Micro(MicroAction::Another)).unwrap();
        let r = stage
            .fake
            .click_button(ALICE, card.id, &another)
            .await
            .unwrap();
        card = r.message().cloned().unwrap();
        let id: String = sqlx::query_scalar(
            "select prompt_id from micro_prompts where outcome is null order by created_at desc limit 1",
        )
        .fetch_one(stage.pool())
        .await
        .unwrap();
        assert_ne!(id, prev, "another one gave the same prompt");
        prev = id;
    }
    assert_eq!(
        count(
            &stage,
            "select count(*) from micro_prompts where outcome = 'another'"
        )
        .await,
        25
    );
    let done = card.control(Act::Micro(MicroAction::Done)).unwrap();
    stage
        .fake
        .click_button(ALICE, card.id, &done)
        .await
        .unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from micro_prompts where outcome = 'done'"
        )
        .await,
        1
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_addressed_partner_can_open_or_answer() {
    let stage = stage_at(at("2026-11-23T00:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage
        .cmd(ALICE, "attune schedule", vec![("micro", json!(2))])
        .await
        .unwrap();
    stage.run_until(at("2026-11-24T00:00:00Z")).await.unwrap();
    let teaser = teasers(&stage, ALICE).remove(0);
    let open = teaser.control(Act::Micro(MicroAction::Open)).unwrap();
    let before = snapshot(&stage).await;
    let r = stage
        .fake
        .click_button(BOB, teaser.id, &open)
        .await
        .unwrap();
    assert!(
        r.is_ephemeral() && r.text().contains("This one is for"),
        "{}",
        r.text()
    );
    let r = stage
        .fake
        .click_button(CAROL, teaser.id, &open)
        .await
        .unwrap();
    assert!(
        r.is_ephemeral() && r.text().contains("another couple"),
        "{}",
        r.text()
    );
    assert_eq!(
        snapshot(&stage).await,
        before,
        "refused clicks wrote nothing"
    );
    // What alice is nudged to do is not in anything bob can see.
    let prompt = stage
        .fake
        .click_button(ALICE, teaser.id, &open)
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(prompt.ephemeral_for, Some(ALICE));
    let first_line = prompt.content.lines().nth(1).unwrap().to_string();
    assert!(stage
        .fake
        .visible_to(BOB, CHANNEL)
        .iter()
        .all(|m| !m.text().contains(&first_line)));
    let r = stage
        .fake
        .click_raw(
            BOB,
            prompt.id,
            &prompt.control(Act::Micro(MicroAction::Done)).unwrap(),
        )
        .await
        .unwrap();
    assert!(r.text().contains("This one is for"));
    stage
        .fake
        .click_button(
            ALICE,
            prompt.id,
            &prompt.control(Act::Micro(MicroAction::NotNow)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from micro_prompts where outcome = 'not_now'"
        )
        .await,
        1
    );
    finish(stage).await;
}

#[test]
fn the_sandbox_shows_a_week_with_checkins_and_micro_prompts() {
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args([
            "sandbox",
            "--start",
            "2026-11-23",
            "--days",
            "4",
            "--seed",
            "3",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("You're linked here"), "{text}");
    assert!(
        text.contains("it's check-in time") && text.contains("revealed"),
        "{text}"
    );
    assert!(text.contains("a small moment for today"), "{text}");
    assert!(text.contains("no violations"), "{text}");
}
