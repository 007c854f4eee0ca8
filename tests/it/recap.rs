//! The weekly recap through the stand-in against real Postgres: the scheduled post at the
//! couple's local time with the mood chart attached, `/recap` on demand, once per ISO week
//! across restarts, the quiet-week note, a paused week, privacy of unrevealed answers, and a
//! DST week.

use crate::support::*;
use attune::flows::recap::chart;
use attune::sandbox::fake::FakeMessage;
use attune::sandbox::stage::{Stage, ALICE, BOB, CAROL, CHANNEL, DM_CHANNEL};
use chrono::{DateTime, Utc};
use serde_json::json;

/// The scheduled weekly recaps in the channel.
fn recaps(stage: &Stage) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none() && m.content.starts_with("Your weekly recap"))
        .collect()
}

/// Check-in posts for `user` not yet answered by them in this test.
fn posts_for(stage: &Stage, user: u64) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m.ephemeral_for.is_none()
                && (m
                    .content
                    .contains(&format!("<@{user}>, it's check-in time"))
                    || m.content.contains("would like to check in now"))
        })
        .collect()
}

/// One partner answers a check-in post privately: mood and guess, then Done.
async fn answer(stage: &Stage, user: u64, post: &FakeMessage, mood: u8, guess: u8) {
    let f = &stage.fake;
    let open = post
        .control(Act::Checkin(CheckinAction::Answer))
        .expect("Answer button");
    let card = f
        .click_button(user, post.id, &open)
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let select = |a: CheckinAction| {
        card.control(Act::Checkin(a))
            .unwrap_or_else(|| panic!("no menu {a:?}"))
    };
    f.select(
        user,
        card.id,
        &select(CheckinAction::Mood),
        vec![mood.to_string()],
    )
    .await
    .unwrap();
    f.select(
        user,
        card.id,
        &select(CheckinAction::Guess),
        vec![guess.to_string()],
    )
    .await
    .unwrap();
    let done = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Submit))
        .unwrap();
    let r = f.click_button(user, card.id, &done).await.unwrap();
    assert!(r.text().contains("your answer is in"), "{}", r.text());
}

/// Runs to `when`, then answers the newest post of each partner with (mood, guess).
async fn day(stage: &Stage, when: &str, alice: (u8, u8), bob: (u8, u8)) {
    stage.run_until(at(when)).await.unwrap();
    for (user, (mood, guess)) in [(ALICE, alice), (BOB, bob)] {
        let post = posts_for(stage, user).pop().expect("a check-in post");
        answer(stage, user, &post, mood, guess).await;
    }
    stage.settle().await.unwrap();
}

fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// The message carries mood.png, referenced by its embed, decodable and not blank.
fn assert_chart(m: &FakeMessage) -> String {
    assert_eq!(m.attachments.len(), 1, "one attachment");
    let a = &m.attachments[0];
    assert_eq!(a.filename, "mood.png");
    assert_eq!(m.embeds[0]["image"]["url"], "attachment://mood.png");
    let (w, h, px) = decode(&a.bytes);
    assert_eq!((w, h), (chart::WIDTH, chart::HEIGHT));
    let first = &px[..3];
    assert!(px.chunks(3).any(|p| p != first), "the chart is one colour");
    let alt = a.description.clone().expect("alt text");
    assert!(!alt.is_empty() && alt.chars().count() <= chart::MAX_ALT);
    alt
}

async fn recap_row(stage: &Stage) -> Vec<(i32, i32, Option<String>, Option<DateTime<Utc>>)> {
    sqlx::query_as("select iso_year, iso_week, message_id, posted_at from recaps order by 1, 2")
        .fetch_all(stage.pool())
        .await
        .unwrap()
}

async fn pending_recap_due(stage: &Stage) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar(
        "select due_at from jobs where kind = 'weekly_recap' and status = 'pending' order by due_at",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_recap_posts_at_the_local_time_with_the_chart() {
    // Monday 23 November 2026, before anyone's morning.
    let stage = stage_at(at("2026-11-23T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "America/New_York").await;
    // The recap is Sunday 18:00 in alice's zone (she set the couple up): 17:00Z.
    assert_eq!(
        pending_recap_due(&stage).await,
        vec![at("2026-11-29T17:00:00Z")]
    );
    // Three days of check-ins; both partners' 08:00 posts (07:00Z Berlin, 13:00Z New York)
    // join one round a day.
    for (d, alice, bob) in [
        ("23", (3, 4), (4, 3)),
        ("24", (4, 4), (4, 5)),
        ("25", (5, 2), (2, 5)),
    ] {
        stage
            .run_until(at(&format!("2026-11-{d}T07:00:00Z")))
            .await
            .unwrap();
        let post = posts_for(&stage, ALICE).pop().unwrap();
        answer(&stage, ALICE, &post, alice.0, alice.1).await;
        stage
            .run_until(at(&format!("2026-11-{d}T13:00:00Z")))
            .await
            .unwrap();
        let post = posts_for(&stage, BOB).pop().unwrap();
        answer(&stage, BOB, &post, bob.0, bob.1).await;
        stage.settle().await.unwrap();
    }
    stage.run_until(at("2026-11-29T16:59:00Z")).await.unwrap();
    assert!(recaps(&stage).is_empty(), "not before its time");
    stage.run_until(at("2026-11-29T17:00:00Z")).await.unwrap();
    let r = recaps(&stage);
    assert_eq!(r.len(), 1, "one recap");
    let m = &r[0];
    let t = m.text();
    assert!(t.contains("Your week together"), "{t}");
    assert!(t.contains("Mon 23 Nov – Sun 29 Nov"), "{t}");
    // What the two of them did together, and no per-person tallies in the room.
    assert!(
        t.contains("3 check-ins this week · 3 with both of you"),
        "{t}"
    );
    // alice guessed 4, 4, 2 for bob's 4, 4, 2: all spot on. bob guessed 3, 5, 5 for her
    // 3, 4, 5: two spot on, one close. Together: six of six read well.
    assert!(t.contains("You read each other well 6 of 6 guesses"), "{t}");
    assert!(
        !t.contains(&format!("<@{ALICE}>")) && !t.contains(&format!("<@{BOB}>")),
        "nobody is named next to a number: {t}"
    );
    // Each partner's own numbers come privately, about themselves only.
    let mine = |user| {
        let stage = &stage;
        async move {
            let id = m
                .control(Act::Personal(PersonalAction::MyNumbers))
                .expect("a button for my own numbers");
            let r = stage.fake.click_button(user, m.id, &id).await.unwrap();
            let msg = r.message().cloned().unwrap();
            assert_eq!(msg.ephemeral_for, Some(user), "private");
            msg.text()
        }
    };
    let bob = mine(BOB).await;
    assert!(bob.contains("3 check-ins on 3 of 7 days"), "{bob}");
    assert!(
        bob.contains(&format!(
            "Your guesses about <@{ALICE}>: 2 spot on and 1 close, of 3 guesses"
        )),
        "{bob}"
    );
    let alice = mine(ALICE).await;
    assert!(alice.contains("3 spot on and 0 close"), "{alice}");
    assert!(!alice.contains("2 spot on"), "only her own: {alice}");
    assert!(t.contains("One idea for next week"), "{t}");
    // Five of six spot on: the suggestion celebrates (a "many_matches" text).
    let lib = attune::content::Library::builtin();
    assert!(
        lib.suggestions
            .iter()
            .any(|s| s.category == "many_matches" && t.contains(&s.text)),
        "{t}"
    );
    let alt = assert_chart(m);
    assert!(
        alt.contains("alice: 3 days") && alt.contains("bob: 3 days"),
        "{alt}"
    );
    // Nobody is pinged, and the post carries its nonce.
    let body = stage
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST" && r.path.ends_with(&format!("/channels/{CHANNEL}/messages")))
        .and_then(|r| r.body)
        .unwrap();
    assert_eq!(body["enforce_nonce"], json!(true));
    assert_eq!(body["allowed_mentions"]["users"], json!([]));
    assert!(body["attachments"][0]["description"].is_string(), "{body}");

    let rows = recap_row(&stage).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0, rows[0].1), (2026, 48));
    assert_eq!(rows[0].2, Some(m.id.to_string()));
    assert_eq!(rows[0].3, Some(at("2026-11-29T17:00:00Z")));
    // The next week is chained.
    assert_eq!(
        pending_recap_due(&stage).await,
        vec![at("2026-12-06T17:00:00Z")]
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recap_on_demand_counts_only_revealed_answers() {
    let stage = stage_at(at("2026-11-25T09:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    // alice opens a check-in and answers; bob hasn't yet, so it is not revealed.
    let now = stage.cmd(ALICE, "checkin", vec![]).await.unwrap();
    let post = now.message().cloned().unwrap();
    answer(&stage, ALICE, &post, 2, 4).await;
    let r = stage.cmd(BOB, "recap", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    assert_eq!(m.ephemeral_for, None, "shown to both, in their channel");
    let t = m.text();
    assert!(t.contains("Your week so far"), "{t}");
    assert!(t.contains("Nothing to show yet"), "{t}");
    assert!(
        !t.contains("check-ins on"),
        "an unrevealed answer never counts: {t}"
    );
    assert!(m.attachments.is_empty());

    answer(&stage, BOB, &post, 4, 2).await;
    stage.settle().await.unwrap();
    let r = stage.cmd(ALICE, "recap", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    let t = m.text();
    assert!(
        t.contains("1 check-in this week · 1 with both of you"),
        "{t}"
    );
    assert!(
        t.contains("Mon 23 Nov – Sun 29 Nov"),
        "the week so far: {t}"
    );
    assert_chart(&m);
    assert!(
        recaps(&stage).is_empty(),
        "on demand is not the weekly recap"
    );
    assert!(recap_row(&stage).await.is_empty());

    // Outside a couple's channel, a kind refusal and nothing else.
    let r = stage.cmd(CAROL, "recap", vec![]).await.unwrap();
    assert!(
        r.is_ephemeral() && r.text().contains("another couple"),
        "{}",
        r.text()
    );
    let r = stage
        .fake
        .run_command(ALICE, DM_CHANNEL, "recap", vec![])
        .await
        .unwrap();
    assert!(r.is_ephemeral(), "{}", r.text());

    // Changing the recap day and time re-plans this week's recap: Saturday 09:00 Berlin.
    stage
        .cmd(
            BOB,
            "attune schedule",
            vec![
                ("recap_day", json!(5)), // Saturday: poise sends choices as indices
                ("recap_time", json!("09:00")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        pending_recap_due(&stage).await,
        vec![at("2026-11-28T08:00:00Z")]
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_week_note_posts_once_across_restarts() {
    let mut stage = stage_at(at("2026-11-28T12:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    stage.run_until(at("2026-11-29T17:00:00Z")).await.unwrap();
    let r = recaps(&stage);
    assert_eq!(r.len(), 1);
    let t = r[0].text();
    assert!(
        t.contains("A quiet week") && t.contains("perfectly okay"),
        "{t}"
    );
    assert!(
        !t.contains("check-ins on") && !t.contains("spot on"),
        "no empty numbers: {t}"
    );
    assert!(r[0].attachments.is_empty(), "no chart for a quiet week");
    let lib = attune::content::Library::builtin();
    assert!(
        lib.suggestions
            .iter()
            .any(|s| s.category == "quiet_week" && t.contains(&s.text)),
        "{t}"
    );

    // A crash after posting, before the job was marked done: the job runs again after the
    // restart and finds the week already posted.
    let again = "update jobs set status = 'pending', lease_owner = null, lease_until = null
                 where kind = 'weekly_recap' and dedupe_key like '%2026-W48'";
    sqlx::query(again).execute(stage.pool()).await.unwrap();
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    stage.settle().await.unwrap();
    assert_eq!(recaps(&stage).len(), 1, "still one recap");

    // A crash before Discord's answer was recorded: the re-send carries the same nonce, and
    // Discord returns the first message.
    sqlx::query("update recaps set message_id = null, posted_at = null")
        .execute(stage.pool())
        .await
        .unwrap();
    sqlx::query(again).execute(stage.pool()).await.unwrap();
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    stage.settle().await.unwrap();
    assert_eq!(recaps(&stage).len(), 1, "still one recap");
    let rows = recap_row(&stage).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].2,
        Some(r[0].id.to_string()),
        "the first message, confirmed"
    );
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind = 'weekly_recap'"
        )
        .await,
        2,
        "this week's and next week's"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fully_paused_week_is_skipped() {
    let stage = stage_at(at("2026-11-23T05:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage
        .cmd(ALICE, "attune pause", vec![("days", json!(7))])
        .await
        .unwrap();
    stage.run_until(at("2026-11-29T18:00:00Z")).await.unwrap();
    assert!(recaps(&stage).is_empty(), "nothing posted during a pause");
    let why: Option<String> = sqlx::query_scalar(
        "select last_error from jobs where kind = 'weekly_recap' and status = 'done'",
    )
    .fetch_one(stage.pool())
    .await
    .unwrap();
    assert_eq!(why.as_deref(), Some("paused"));
    assert!(recap_row(&stage).await.is_empty());
    assert_eq!(
        pending_recap_due(&stage).await,
        vec![at("2026-12-06T17:00:00Z")],
        "next week's recap is still planned"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dst_week_counts_seven_local_days() {
    // Europe/Berlin falls back on Sunday 25 October 2026: a 25-hour day. Both partners answer
    // their 08:00 check-in every day (06:00Z in summer time, 07:00Z on Sunday).
    let stage = stage_at(at("2026-10-19T04:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    for d in 19..=24 {
        day(&stage, &format!("2026-10-{d}T06:00:00Z"), (4, 4), (4, 4)).await;
    }
    day(&stage, "2026-10-25T07:00:00Z", (5, 5), (5, 5)).await;
    // Sunday 18:00 in winter time is 17:00Z.
    stage.run_until(at("2026-10-25T16:59:00Z")).await.unwrap();
    assert!(recaps(&stage).is_empty());
    stage.run_until(at("2026-10-25T17:00:00Z")).await.unwrap();
    let r = recaps(&stage);
    assert_eq!(r.len(), 1);
    let t = r[0].text();
    assert!(t.contains("Mon 19 Oct – Sun 25 Oct"), "{t}");
    assert!(
        t.contains("7 check-ins this week · 7 with both of you"),
        "{t}"
    );
    let alt = assert_chart(&r[0]);
    assert!(
        alt.contains("alice: 7 days") && alt.contains("bob: 7 days"),
        "{alt}"
    );
    let rows = recap_row(&stage).await;
    assert_eq!((rows[0].0, rows[0].1), (2026, 43));
    assert_eq!(rows[0].3, Some(at("2026-10-25T17:00:00Z")));
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recap_found_too_late_is_recorded_as_missed() {
    let mut stage = stage_at(at("2026-11-29T12:00:00Z")).await;
    couple_with_zones(&stage, "Europe/Berlin", "Europe/Berlin").await;
    stage.stop_bot().await;
    // Down from before Sunday 18:00 until long past the 2-hour grace window.
    stage.clock.set(at("2026-11-29T21:00:00Z"));
    stage.start_bot().await.unwrap();
    stage.settle().await.unwrap();
    assert!(recaps(&stage).is_empty(), "no late recap");
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind = 'weekly_recap' and status = 'missed'"
        )
        .await,
        1
    );
    assert_eq!(
        pending_recap_due(&stage).await,
        vec![at("2026-12-06T17:00:00Z")],
        "the next week is still planned"
    );
    finish(stage).await;
}
