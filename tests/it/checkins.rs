//! Daily check-ins through the stand-in against real Postgres: the scheduled post, private
//! answers, the reveal, reminders, skip, pause, restarts, two processes and DST.

use std::time::Duration as StdDuration;

use crate::support::*;
use attune::sandbox::fake::FakeMessage;
use attune::sandbox::stage::{Stage, ALICE, BOB, CAROL, CHANNEL};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;

/// 05:00 UTC: before both partners' 08:00 (Berlin 07:00Z, New York 13:00Z).
fn early() -> DateTime<Utc> {
    at("2026-11-25T05:00:00Z")
}

fn posts_for(stage: &Stage, user: u64) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m.ephemeral_for.is_none()
                && m.content
                    .contains(&format!("<@{user}>, it's check-in time"))
        })
        .collect()
}

fn reveals(stage: &Stage) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none() && m.text().contains("revealed"))
        .collect()
}

struct Answer<'a> {
    mood: u8,
    feelings: &'a [&'a str],
    guess: u8,
    note: Option<&'a str>,
    share: bool,
}

/// Plays one partner answering privately from a check-in post, as a person would click.
async fn answer(stage: &Stage, user: u64, post: &FakeMessage, a: Answer<'_>) -> FakeMessage {
    let open = post
        .control(Act::Checkin(CheckinAction::Answer))
        .expect("Answer button");
    let card = stage
        .fake
        .click_button(user, post.id, &open)
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(card.ephemeral_for, Some(user), "the answer card is private");
    let id_of = |a: CheckinAction| {
        card.control(Act::Checkin(a))
            .unwrap_or_else(|| panic!("no menu {a:?}"))
    };
    let f = stage.fake.clone();
    f.select(
        user,
        card.id,
        &id_of(CheckinAction::Mood),
        vec![a.mood.to_string()],
    )
    .await
    .unwrap();
    f.select(
        user,
        card.id,
        &id_of(CheckinAction::Feelings),
        a.feelings.iter().map(|s| s.to_string()).collect(),
    )
    .await
    .unwrap();
    f.select(
        user,
        card.id,
        &id_of(CheckinAction::Guess),
        vec![a.guess.to_string()],
    )
    .await
    .unwrap();
    if let Some(note) = a.note {
        let card_now = f.message(card.id).unwrap();
        let modal = f
            .click_button(
                user,
                card.id,
                &card_now.control(Act::Checkin(CheckinAction::Note)).unwrap(),
            )
            .await
            .unwrap()
            .modal()
            .cloned()
            .unwrap();
        f.submit_modal(user, &modal, vec![("note", note)])
            .await
            .unwrap();
    }
    if a.share {
        let card_now = f.message(card.id).unwrap();
        f.click_button(
            user,
            card.id,
            &card_now
                .control(Act::Checkin(CheckinAction::ShareNote))
                .unwrap(),
        )
        .await
        .unwrap();
    }
    let card_now = f.message(card.id).unwrap();
    let done = f
        .click_button(
            user,
            card.id,
            &card_now
                .control(Act::Checkin(CheckinAction::Submit))
                .unwrap(),
        )
        .await
        .unwrap();
    let m = done.message().cloned().unwrap();
    assert!(m.text().contains("your answer is in"), "{}", m.text());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkin_journey_stays_private_until_the_reveal() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "America/New_York").await;

    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    let posts = posts_for(&stage, ALICE);
    assert_eq!(posts.len(), 1, "alice's 08:00 Berlin post");
    assert!(
        posts_for(&stage, BOB).is_empty(),
        "bob's 08:00 is later, in New York"
    );
    // The post pings alice and nobody else.
    let body = stage
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST" && r.path.ends_with(&format!("/channels/{CHANNEL}/messages")))
        .and_then(|r| r.body)
        .unwrap();
    assert_eq!(
        body["allowed_mentions"]["users"],
        json!([ALICE.to_string()]),
        "{body}"
    );
    assert_eq!(body["enforce_nonce"], json!(true));

    answer(
        &stage,
        ALICE,
        &posts[0],
        Answer {
            mood: 4,
            feelings: &["calm", "hopeful"],
            guess: 3,
            note: Some("SENTINEL-alice-note"),
            share: true,
        },
    )
    .await;
    // Nothing of alice's answer is visible to bob (or carol) before the reveal.
    for viewer in [BOB, CAROL] {
        for m in stage.fake.visible_to(viewer, CHANNEL) {
            let t = m.text();
            assert!(!t.contains("SENTINEL"), "leaked to {viewer}: {t}");
            assert!(!t.contains("hopeful"), "leaked to {viewer}: {t}");
        }
    }
    assert!(reveals(&stage).is_empty());

    stage.run_until(at("2026-11-25T13:00:00Z")).await.unwrap();
    let bob_posts = posts_for(&stage, BOB);
    assert_eq!(bob_posts.len(), 1);
    answer(
        &stage,
        BOB,
        &bob_posts[0],
        Answer {
            mood: 2,
            feelings: &["tired"],
            guess: 4,
            note: Some("SENTINEL-bob-private"),
            share: false,
        },
    )
    .await;
    stage.settle().await.unwrap();

    let r = reveals(&stage);
    assert_eq!(r.len(), 1, "exactly one reveal");
    let t = r[0].text();
    assert!(t.contains("Good") && t.contains("calm, hopeful"), "{t}");
    assert!(t.contains("Low") && t.contains("tired"), "{t}");
    assert!(
        t.contains("SENTINEL-alice-note"),
        "a shared note is revealed: {t}"
    );
    assert!(
        !t.contains("SENTINEL-bob-private"),
        "a private note stays private: {t}"
    );
    // alice guessed Okay (3) for bob's Low (2): close. bob guessed Good (4): spot on.
    assert!(t.contains("close") && t.contains("spot on"), "{t}");
    for viewer in [ALICE, BOB, CAROL] {
        assert!(stage
            .fake
            .visible_to(viewer, CHANNEL)
            .iter()
            .all(|m| !m.text().contains("SENTINEL-bob-private") || m.ephemeral_for == Some(BOB)));
    }
    // After the reveal, answers are closed.
    let open = bob_posts[0]
        .control(Act::Checkin(CheckinAction::Answer))
        .unwrap();
    let late = stage
        .fake
        .click_button(BOB, bob_posts[0].id, &open)
        .await
        .unwrap();
    assert!(
        late.text().contains("already been revealed"),
        "{}",
        late.text()
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_closes_with_one_answer_and_one_reminder() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "America/New_York").await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    let post = posts_for(&stage, ALICE).remove(0);
    answer(
        &stage,
        ALICE,
        &post,
        Answer {
            mood: 3,
            feelings: &[],
            guess: 3,
            note: None,
            share: false,
        },
    )
    .await;
    // bob's post at 13:00Z, his reminder 3 h later, the round closes 12 h after his post.
    stage.run_until(at("2026-11-26T01:30:00Z")).await.unwrap();
    let reminders: Vec<_> = stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.content.contains("gentle nudge"))
        .collect();
    assert_eq!(reminders.len(), 1, "one reminder, to bob only");
    assert!(reminders[0].content.contains(&format!("<@{BOB}>")));
    let r = reveals(&stage);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].content
            .contains(&format!("<@{ALICE}> checked in; <@{BOB}> didn't today")),
        "{}",
        r[0].content
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_is_respected() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    let post = posts_for(&stage, BOB).remove(0);
    let r = stage
        .fake
        .click_button(
            BOB,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Skip)).unwrap(),
        )
        .await
        .unwrap();
    assert!(r.is_ephemeral() && r.text().contains("no check-in for you"));
    answer(
        &stage,
        ALICE,
        &posts_for(&stage, ALICE)[0],
        Answer {
            mood: 5,
            feelings: &["joyful"],
            guess: 4,
            note: None,
            share: false,
        },
    )
    .await;
    stage.settle().await.unwrap();
    let r = reveals(&stage);
    assert_eq!(r.len(), 1, "both settled: revealed at once");
    assert!(r[0].text().contains("took a pause"), "{}", r[0].text());
    stage.run_until(at("2026-11-25T20:00:00Z")).await.unwrap();
    assert!(
        stage
            .fake
            .messages(CHANNEL)
            .iter()
            .all(|m| !m.content.contains("gentle nudge")),
        "no reminder after skipping or answering"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_can_change_until_the_reveal_and_double_clicks_count_once() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    let post = posts_for(&stage, ALICE).remove(0);
    let thanks = answer(
        &stage,
        ALICE,
        &post,
        Answer {
            mood: 2,
            feelings: &[],
            guess: 3,
            note: None,
            share: false,
        },
    )
    .await;
    // Change my answer → a new mood.
    let card = stage
        .fake
        .click_button(
            ALICE,
            thanks.id,
            &thanks.control(Act::Checkin(CheckinAction::Edit)).unwrap(),
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let mood_id = card.control(Act::Checkin(CheckinAction::Mood)).unwrap();
    stage
        .fake
        .select(ALICE, card.id, &mood_id, vec!["5".into()])
        .await
        .unwrap();
    // A double click on Done is recorded once.
    let done = stage
        .fake
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Submit))
        .unwrap();
    let (a, b) = tokio::join!(
        stage.fake.click_raw(ALICE, card.id, &done),
        stage.fake.click_raw(ALICE, card.id, &done)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        count(&stage, "select count(*) from checkin_answers").await,
        1
    );

    // Both partners press Done at the same instant: exactly one reveal.
    let bob_post = posts_for(&stage, BOB).remove(0);
    let bob_card = stage
        .fake
        .click_button(
            BOB,
            bob_post.id,
            &bob_post
                .control(Act::Checkin(CheckinAction::Answer))
                .unwrap(),
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let bob_mood = bob_card.control(Act::Checkin(CheckinAction::Mood)).unwrap();
    stage
        .fake
        .select(BOB, bob_card.id, &bob_mood, vec!["3".into()])
        .await
        .unwrap();
    let bob_done = stage
        .fake
        .message(bob_card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Submit))
        .unwrap();
    let (x, y) = tokio::join!(
        stage.fake.click_raw(BOB, bob_card.id, &bob_done),
        stage.fake.click_raw(ALICE, card.id, &done)
    );
    x.unwrap();
    y.unwrap();
    stage.settle().await.unwrap();
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    stage.settle().await.unwrap();
    let r = reveals(&stage);
    assert_eq!(r.len(), 1, "one reveal");
    assert!(
        r[0].text().contains("Bright"),
        "the changed answer is revealed: {}",
        r[0].text()
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    let r = stage
        .cmd(ALICE, "attune pause", vec![("days", json!(2))])
        .await
        .unwrap();
    let m = r.message().cloned().unwrap();
    assert_eq!(m.ephemeral_for, None, "both partners see the pause");
    let status = stage.cmd(BOB, "attune status", vec![]).await.unwrap();
    assert!(status.text().contains("Paused until"), "{}", status.text());
    stage.run_until(at("2026-11-27T04:00:00Z")).await.unwrap();
    assert!(
        posts_for(&stage, ALICE).is_empty() && posts_for(&stage, BOB).is_empty(),
        "nothing posted while paused"
    );
    let r = stage.cmd(BOB, "attune resume", vec![]).await.unwrap();
    assert!(r.text().contains("resumed"));
    stage.run_until(at("2026-11-27T07:00:00Z")).await.unwrap();
    assert_eq!(
        posts_for(&stage, ALICE).len(),
        1,
        "check-ins pick up after resume"
    );
    assert_eq!(posts_for(&stage, BOB).len(), 1);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_buttons_working_and_posts_once() {
    let mut stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    let post = posts_for(&stage, ALICE).remove(0);
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    stage.settle().await.unwrap();
    answer(
        &stage,
        ALICE,
        &post,
        Answer {
            mood: 4,
            feelings: &[],
            guess: 4,
            note: None,
            share: false,
        },
    )
    .await;
    stage.run_until(at("2026-11-26T07:00:00Z")).await.unwrap();
    assert_eq!(
        posts_for(&stage, ALICE).len(),
        2,
        "one post per local day, none repeated after the restart"
    );
    assert_eq!(
        count(
            &stage,
            "select count(*) from checkin_posts where person_id = (select person_id from identities where external_id = '100000000000000001')"
        )
        .await,
        2
    );
    finish(stage).await;
}

/// Both partners change a different shared setting at the same moment: each keeps its
/// change. The couple's row is held elsewhere for a moment (as a slow edit would hold it),
/// so both edits are in flight together before either can finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partners_changing_shared_settings_at_once_both_keep_their_change() {
    let stage = stage().await;
    couple_up(&stage).await;
    let before = stage
        .cmd(ALICE, "attune status", vec![])
        .await
        .unwrap()
        .text();
    assert!(
        before.contains("Answers open for 12 h") && before.contains("one reminder after 3 h"),
        "{before}"
    );
    let mut holder = stage.pool().begin().await.unwrap();
    sqlx::query("select 1 from couples for update")
        .execute(&mut *holder)
        .await
        .unwrap();
    let edits = async {
        tokio::join!(
            stage.cmd(ALICE, "attune schedule", vec![("window_hours", json!(6))]),
            stage.cmd(BOB, "attune schedule", vec![("reminder_minutes", json!(0))]),
        )
    };
    let release = async {
        // Let go once both edits wait on the row (well inside the bot's lock timeout).
        let waited = std::time::Instant::now();
        while waited.elapsed() < StdDuration::from_millis(1500) {
            let waiting: i64 = sqlx::query_scalar(
                "select count(*) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock'",
            )
            .fetch_one(stage.pool())
            .await
            .unwrap();
            if waiting >= 2 {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        holder.commit().await.unwrap();
    };
    let ((a, b), ()) = tokio::join!(edits, release);
    for r in [a.unwrap(), b.unwrap()] {
        assert!(
            r.is_ephemeral() && !r.text().contains(&try_again()),
            "{}",
            r.text()
        );
    }
    for who in [ALICE, BOB] {
        let after = stage
            .cmd(who, "attune status", vec![])
            .await
            .unwrap()
            .text();
        assert!(
            after.contains("Answers open for 6 h") && after.contains("no reminder"),
            "both changes are kept: {after}"
        );
    }
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkin_now_and_schedule_command() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "America/New_York").await;
    let r = stage.cmd(ALICE, "checkin", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    assert_eq!(m.ephemeral_for, None);
    assert!(m.content.contains(&format!("<@{BOB}>")));
    // Running it again (the first answer may never have reached the channel) shows the same
    // round again rather than refusing until it closes.
    let again = stage.cmd(BOB, "checkin", vec![]).await.unwrap();
    let again = again.message().cloned().unwrap();
    assert_eq!(again.ephemeral_for, None, "shown again, for both");
    assert!(again.text().contains("already open"), "{}", again.text());
    assert_eq!(
        again.control(Act::Checkin(CheckinAction::Answer)),
        m.control(Act::Checkin(CheckinAction::Answer)),
        "the same round, not a second one"
    );

    let bad = stage
        .cmd(BOB, "attune schedule", vec![("morning", json!("25:99"))])
        .await
        .unwrap();
    assert!(
        bad.is_ephemeral() && bad.text().contains("`morning`"),
        "{}",
        bad.text()
    );
    let bad = stage
        .cmd(BOB, "attune schedule", vec![("days", json!("funday"))])
        .await
        .unwrap();
    assert!(bad.text().contains("`days`"));
    let ok = stage
        .cmd(
            BOB,
            "attune schedule",
            vec![
                ("morning", json!("off")),
                ("evening", json!("21:30")),
                ("days", json!("weekdays")),
            ],
        )
        .await
        .unwrap();
    let t = ok.text();
    assert!(t.contains("evening 21:30") && t.contains("weekdays"), "{t}");
    // bob's next post is his 21:30 New York evening on Wed 25th = 02:30Z on the 26th.
    let next = chrono::DateTime::parse_from_rfc3339("2026-11-26T02:30:00Z")
        .unwrap()
        .timestamp();
    assert!(t.contains(&format!("<t:{next}:F>")), "{t}");
    let outsider = stage
        .cmd(CAROL, "attune schedule", vec![("morning", json!("07:00"))])
        .await
        .unwrap();
    assert!(outsider.text().contains("another couple"));
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_channel_pauses_the_couple_after_one_attempt() {
    let stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage
        .cmd(BOB, "attune schedule", vec![("morning", json!("off"))])
        .await
        .unwrap();
    stage.fake.set_channel_forbidden(CHANNEL, true);
    stage.run_until(at("2026-11-27T07:00:00Z")).await.unwrap();
    let attempts = stage
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with(&format!("/channels/{CHANNEL}/messages"))
        })
        .count();
    assert_eq!(attempts, 1, "one attempt, then the couple is paused");
    stage.fake.set_channel_forbidden(CHANNEL, false);
    let status = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    assert!(status.text().contains("couldn't post"), "{}", status.text());
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_posts_after_downtime_are_not_flooded() {
    let mut stage = stage_at(early()).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.stop_bot().await;
    // Three days of downtime.
    stage.clock.set(at("2026-11-28T07:30:00Z"));
    stage.start_bot().await.unwrap();
    stage.settle().await.unwrap();
    // Only today's 08:00 posts (30 minutes late, inside the 2 h grace) go out.
    assert_eq!(posts_for(&stage, ALICE).len(), 1);
    assert_eq!(posts_for(&stage, BOB).len(), 1);
    let missed = count(
        &stage,
        "select count(*) from jobs where status = 'missed' and kind = 'checkin_post'",
    )
    .await;
    assert_eq!(missed, 6, "three days × two partners recorded as missed");
    finish(stage).await;
}

/// One partner in `zone` with a morning at `time`; returns (local date, posted_at) per post.
async fn posts_through(
    zone: &str,
    time: &str,
    from: &str,
    to: &str,
) -> Vec<(NaiveDate, DateTime<Utc>)> {
    let stage = stage_at(at(from)).await;
    couple_with_zones(&stage, zone, zone).await;
    stage
        .cmd(ALICE, "attune schedule", vec![("morning", json!(time))])
        .await
        .unwrap();
    stage
        .cmd(BOB, "attune schedule", vec![("morning", json!("off"))])
        .await
        .unwrap();
    stage.run_until(at(to)).await.unwrap();
    let rows: Vec<(NaiveDate, DateTime<Utc>)> = sqlx::query_as(
        "select local_date, posted_at from checkin_posts where person_id = (select person_id from identities where external_id = $1::bigint::text) order by local_date",
    )
    .bind(ALICE as i64)
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert_eq!(
        posts_for(&stage, ALICE).len(),
        rows.len(),
        "one message per post row"
    );
    finish(stage).await;
    rows
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dst_gaps_and_overlaps_post_once_per_local_day() {
    // (zone, local slot, run from, run to, transition day, expected instant on that day)
    let cases = [
        (
            "America/New_York",
            "02:30",
            "2026-03-06T12:00:00Z",
            "2026-03-10T12:00:00Z",
            "2026-03-08",
            "2026-03-08T07:00:00Z",
        ),
        (
            "America/New_York",
            "01:30",
            "2026-10-30T12:00:00Z",
            "2026-11-03T12:00:00Z",
            "2026-11-01",
            "2026-11-01T05:30:00Z",
        ),
        (
            "Europe/London",
            "01:30",
            "2026-03-27T12:00:00Z",
            "2026-03-31T12:00:00Z",
            "2026-03-29",
            "2026-03-29T01:00:00Z",
        ),
        (
            "Europe/London",
            "01:30",
            "2026-10-23T12:00:00Z",
            "2026-10-27T12:00:00Z",
            "2026-10-25",
            "2026-10-25T00:30:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "02:10",
            "2026-10-01T12:00:00Z",
            "2026-10-06T12:00:00Z",
            "2026-10-04",
            "2026-10-03T15:30:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "01:45",
            "2026-04-02T12:00:00Z",
            "2026-04-07T12:00:00Z",
            "2026-04-05",
            "2026-04-04T14:45:00Z",
        ),
        (
            "Pacific/Chatham",
            "03:00",
            "2026-09-24T12:00:00Z",
            "2026-09-29T12:00:00Z",
            "2026-09-27",
            "2026-09-26T14:00:00Z",
        ),
        (
            "Pacific/Chatham",
            "03:00",
            "2026-04-02T12:00:00Z",
            "2026-04-07T12:00:00Z",
            "2026-04-05",
            "2026-04-04T13:15:00Z",
        ),
        (
            "Asia/Kathmandu",
            "08:00",
            "2026-06-01T00:00:00Z",
            "2026-06-04T00:00:00Z",
            "2026-06-02",
            "2026-06-02T02:15:00Z",
        ),
    ];
    for (zone, time, from, to, day, expected) in cases {
        let rows = posts_through(zone, time, from, to).await;
        let dates: Vec<NaiveDate> = rows.iter().map(|r| r.0).collect();
        let mut unique = dates.clone();
        unique.dedup();
        assert_eq!(unique, dates, "{zone}: one post per local day");
        // Every local day in the window got its post.
        for w in dates.windows(2) {
            assert_eq!(
                w[1] - w[0],
                Duration::days(1),
                "{zone}: no day skipped: {dates:?}"
            );
        }
        assert!(dates.len() >= 3, "{zone}: {dates:?}");
        let on_day = rows
            .iter()
            .find(|r| r.0 == d(day))
            .unwrap_or_else(|| panic!("{zone}: no post on {day}"));
        assert_eq!(on_day.1, at(expected), "{zone} {time} on {day}");
    }
}
