//! Privacy and data rights through the stand-in against real Postgres: encryption at rest
//! and its keys, export, forget (proved by scanning every table), retention, and logs that
//! never carry tokens or what people typed.

use std::process::Command;

use crate::support::*;
use attune::crypto::Keyring;
use attune::sandbox::fake::FakeMessage;
use attune::sandbox::stage::{Stage, ALICE, BOB, CAROL, CHANNEL};

/// A second member of the server who is in no couple.
const DAVE: u64 = 100_000_000_000_000_005;
use serde_json::Value;

async fn couple_in_berlin(stage: &Stage) {
    couple_with_zones(stage, "Europe/Berlin", "Europe/Berlin").await;
}

fn post_for(stage: &Stage, user: u64) -> FakeMessage {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .rev()
        .find(|m| {
            m.content
                .contains(&format!("<@{user}>, it's check-in time"))
        })
        .expect("a check-in post")
}

/// A couple in Berlin whose 07:00 check-in of 25 November has just been posted.
async fn morning_checkin() -> Stage {
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_in_berlin(&stage).await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    stage
}

/// Lets the round's reveal run; returns the reveal as the channel shows it.
async fn revealed(stage: &Stage) -> FakeMessage {
    stage.settle().await.unwrap();
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .find(|m| m.text().contains("revealed"))
        .expect("the reveal")
}

/// Answers a check-in privately with a note; `share` decides whether the note is revealed.
async fn answer(stage: &Stage, user: u64, mood: &str, note: &str, share: bool) {
    let post = post_for(stage, user);
    let f = &stage.fake;
    let card = f
        .click_button(
            user,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Answer)).unwrap(),
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let mood_id = card.control(Act::Checkin(CheckinAction::Mood)).unwrap();
    f.select(user, card.id, &mood_id, vec![mood.into()])
        .await
        .unwrap();
    let add = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Note))
        .unwrap();
    let modal = f
        .click_button(user, card.id, &add)
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap();
    f.submit_modal(user, &modal, vec![("note", note)])
        .await
        .unwrap();
    if share {
        let b = f
            .message(card.id)
            .unwrap()
            .control(Act::Checkin(CheckinAction::ShareNote))
            .unwrap();
        f.click_button(user, card.id, &b).await.unwrap();
    }
    let done = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Submit))
        .unwrap();
    f.click_button(user, card.id, &done).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_are_sealed_at_rest_and_start_up_checks_the_key() {
    let mut stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_in_berlin(&stage).await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    answer(&stage, ALICE, "4", "SENTINEL-sealed-note", true).await;
    let raw: String = sqlx::query_scalar("select note from checkin_answers")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert!(
        raw.starts_with("enc:v2:") && !raw.contains("SENTINEL"),
        "{raw}"
    );

    // A wrong key (same id, other bytes) or no key refuses to start, naming the key.
    let good = stage.config.privacy.keys.clone();
    let id = good.current_id().unwrap().to_string();
    let other = Keyring::generate();
    let wrong = format!("{id}:{}", other.split_once(':').unwrap().1);
    stage.stop_bot().await;
    stage.config.privacy.keys = Keyring::parse(Some(&wrong), &[]).unwrap();
    let err = stage.start_bot().await.unwrap_err().to_string();
    assert!(
        err.contains("privacy.encryption_key") && err.contains("wrong key"),
        "{err}"
    );
    stage.config.privacy.keys = Keyring::none();
    let err = stage.start_bot().await.unwrap_err().to_string();
    assert!(
        err.contains("privacy.encryption_key") && err.contains("no key"),
        "{err}"
    );

    // Rotation: a new key, with the old one listed while re-sealing; then the old key goes.
    let new = Keyring::generate();
    let rotating = Keyring::parse(Some(&new), &[key_text(&good)]).unwrap();
    let changed = attune::store::privacy::rotate(stage.pool(), &rotating)
        .await
        .unwrap();
    assert_eq!(changed.resealed, 1);
    assert_eq!(changed.remaining, 0);
    stage.config.privacy.keys = Keyring::parse(Some(&new), &[]).unwrap();
    stage.start_bot().await.unwrap();
    answer(&stage, BOB, "3", "bob's own words", false).await;
    let reveal = revealed(&stage).await;
    assert!(
        reveal.text().contains("SENTINEL-sealed-note"),
        "the rotated note still reads: {}",
        reveal.text()
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_holds_my_data_and_nothing_private_of_my_partner() {
    let stage = morning_checkin().await;
    answer(&stage, ALICE, "4", "SENTINEL-alice-private", false).await;
    // bob's answer is in progress, not revealed: it must not reach alice's export.
    let post = post_for(&stage, BOB);
    let card = stage
        .fake
        .click_button(
            BOB,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Answer)).unwrap(),
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let add = card.control(Act::Checkin(CheckinAction::Note)).unwrap();
    let modal = stage
        .fake
        .click_button(BOB, card.id, &add)
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap();
    stage
        .fake
        .submit_modal(BOB, &modal, vec![("note", "SENTINEL-bob-private")])
        .await
        .unwrap();

    let r = stage.cmd(ALICE, "attune export", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    assert_eq!(m.ephemeral_for, Some(ALICE), "the export is private");
    let file = m
        .attachments
        .iter()
        .find(|a| a.filename == "attune-export.json")
        .expect("a JSON file");
    let text = String::from_utf8(file.bytes.clone()).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "attune-export");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["settings"]["time_zone"], "Europe/Berlin");
    assert_eq!(
        doc["checkin_answers"][0]["note"], "SENTINEL-alice-private",
        "decrypted for its writer"
    );
    assert_eq!(doc["checkin_answers"][0]["mood"], 4);
    assert!(
        !text.contains("SENTINEL-bob-private"),
        "never the partner's private text"
    );
    assert!(
        !text.contains(&BOB.to_string()),
        "nothing of bob at all: {text}"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_removes_every_trace_and_tells_the_partner_kindly() {
    let stage = morning_checkin().await;
    answer(&stage, ALICE, "4", "SENTINEL-forget-note", true).await;
    answer(&stage, BOB, "2", "bob keeps this", true).await;
    stage.cmd(ALICE, "micro", vec![]).await.unwrap();
    // A repair started by alice, with a private moment.
    let modal = repair_modal(&stage, ALICE, RepairAction::ChooseOwn).await;
    stage
        .fake
        .submit_modal(ALICE, &modal, vec![("text", "SENTINEL-forget-moment")])
        .await
        .unwrap();
    stage.settle().await.unwrap();
    // Her person id, to look for it everywhere afterwards along with her Discord id.
    let alice_person: uuid::Uuid =
        sqlx::query_scalar("select person_id from identities where external_id = $1")
            .bind(ALICE.to_string())
            .fetch_one(stage.pool())
            .await
            .unwrap();

    let confirm = stage
        .cmd(ALICE, "attune forget", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(confirm.ephemeral_for, Some(ALICE));
    // "Keep my data" deletes nothing.
    let before = snapshot(&stage).await;
    stage
        .fake
        .click_button(
            ALICE,
            confirm.id,
            &confirm.control(Act::Forget(ForgetAction::Cancel)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(snapshot(&stage).await, before);
    let done = forget_me(&stage, ALICE).await;
    assert!(
        done.content.contains("has been deleted"),
        "{}",
        done.content
    );
    let notice = stage
        .fake
        .wait_for_message(CHANNEL, std::time::Duration::from_secs(3), |m| {
            m.content.contains("chosen to remove their Attune data")
        })
        .await
        .unwrap();
    assert!(
        notice.content.contains(&format!("<@{BOB}>"))
            && !notice.content.contains(&ALICE.to_string())
    );

    // Scan every table for alice's ids or anything she typed.
    assert_nothing_of(&stage, ALICE, alice_person).await;
    // Sealed text can't be scanned for sentinels, so count what alice wrote as well.
    assert_eq!(count(&stage, "select count(*) from repair_texts").await, 0);
    // bob's own answer is still his.
    assert_eq!(
        count(
            &stage,
            "select count(*) from checkin_answers where person_id = (select person_id from identities where external_id = '100000000000000002')"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &stage,
            "select count(*) from couples where ended_at is null"
        )
        .await,
        0
    );
    let r = stage.cmd(BOB, "attune status", vec![]).await.unwrap();
    assert!(
        r.text().contains("/attune setup"),
        "the channel is free again"
    );
    finish(stage).await;
}

/// The erasure is a job: the server restarts while it cannot finish (a table it must clear is
/// locked), and after the restart it finishes and alice is told, once, privately.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_finishes_after_a_restart_midway_and_says_so_once() {
    let mut stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_in_berlin(&stage).await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    answer(&stage, ALICE, "4", "SENTINEL-forget-restart", true).await;
    let alice = person_of(&stage, ALICE).await;
    // Someone holds a table the erasure must clear: each attempt gives up on the lock.
    let mut holder = stage.pool().begin().await.unwrap();
    sqlx::query("lock table checkin_answers in access exclusive mode")
        .execute(&mut *holder)
        .await
        .unwrap();
    let ack = confirm_forget(&stage, ALICE).await;
    let lib = attune::content::Library::builtin();
    use attune::content::copy::keys::privacy as k;
    assert_eq!(ack.text(), lib.s(k::FORGET_STARTED), "answered at once");
    // The partner is told straight away; the couple is unlinked.
    stage
        .fake
        .wait_for_message(CHANNEL, std::time::Duration::from_secs(3), |m| {
            m.content.contains("chosen to remove their Attune data")
        })
        .await
        .unwrap();
    // Let an attempt start and fail on the lock, then "crash" with the job unfinished.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(stage.fake.direct_messages(ALICE).is_empty(), "not done yet");
    stage.stop_bot().await;
    holder.rollback().await.unwrap();
    stage.start_bot().await.unwrap();
    stage.run_until(at("2026-11-25T09:00:00Z")).await.unwrap();
    let done = lib.s(k::FORGET_DONE);
    let told: Vec<_> = stage
        .fake
        .direct_messages(ALICE)
        .into_iter()
        .filter(|m| m.content == done)
        .collect();
    assert_eq!(told.len(), 1, "told once");
    assert_nothing_of(&stage, ALICE, alice).await;
    finish(stage).await;
}

/// Alice takes no direct messages: her erasure still finishes, and nothing of her, not even
/// the job that would have told her, is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_finishes_when_the_person_takes_no_direct_messages() {
    let stage = morning_checkin().await;
    answer(&stage, ALICE, "4", "SENTINEL-forget-closed-dms", true).await;
    let alice = person_of(&stage, ALICE).await;
    stage.fake.close_dms(ALICE, true);
    confirm_forget(&stage, ALICE).await;
    stage.settle().await.unwrap();
    assert!(stage.fake.direct_messages(ALICE).is_empty());
    assert_eq!(
        count(&stage, "select count(*) from jobs where kind = 'forget'").await,
        0
    );
    assert_nothing_of(&stage, ALICE, alice).await;
    finish(stage).await;
}

/// Scans every column of every table (each row as text) for a person's Discord id, their
/// person id, or a `SENTINEL-forget` text they typed.
async fn assert_nothing_of(stage: &Stage, user: u64, person: uuid::Uuid) {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = 'public' and table_type = 'BASE TABLE'
           and table_name not like '_sqlx%'",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    for table in &tables {
        let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from (select x::text as row from \"{table}\" x offset 0) r
             where row like '%' || $1 || '%' or row like '%' || $2 || '%'
               or row like '%SENTINEL-forget%'"
        )))
        .bind(user.to_string())
        .bind(person.to_string())
        .fetch_one(stage.pool())
        .await
        .unwrap();
        assert_eq!(hits, 0, "{table} still holds the person's ids or text");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_answers() {
    let mut config = base_config();
    config.privacy.retention_days = Some(30);
    init_logging();
    let stage = Stage::start(&config, at("2026-11-25T05:00:00Z"))
        .await
        .unwrap();
    couple_in_berlin(&stage).await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    answer(&stage, ALICE, "4", "old words", false).await;
    assert_eq!(
        count(&stage, "select count(*) from checkin_answers").await,
        1
    );
    stage.run_until(at("2026-12-20T07:00:00Z")).await.unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from checkin_answers where note is not null"
        )
        .await,
        1,
        "kept inside 30 days"
    );
    stage.run_until(at("2026-12-27T09:00:00Z")).await.unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from checkin_answers where note is not null"
        )
        .await,
        0,
        "gone after 30 days"
    );
    finish(stage).await;
}

#[test]
fn logs_at_the_most_verbose_level_carry_no_tokens_or_typed_text() {
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args([
            "sandbox",
            "--start",
            "2026-11-23",
            "--days",
            "7",
            "--log-level",
            "trace",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = String::from_utf8_lossy(&out.stderr);
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("couple_id"),
        "logs were produced at trace level"
    );
    // What the simulated partners typed does appear in the channel (shared notes) …
    let notes = attune::sandbox::NOTES;
    assert!(notes.iter().any(|n| transcript.contains(n)), "{transcript}");
    for secret in notes.into_iter().chain([
        "sandbox-token",
        "fake-itoken",
        "SENTINEL",
        // The weekly answers and the repair's words.
        "An evening with no plans",
        "I felt alone at our own table",
    ]) {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}

/// The exported texts, as their writer sees them.
async fn exported(stage: &Stage, user: u64) -> Value {
    let r = stage.cmd(user, "attune export", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    let file = m
        .attachments
        .iter()
        .find(|a| a.filename == "attune-export.json")
        .expect("a JSON file");
    serde_json::from_slice(&file.bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_shaped_like_the_storage_format_stays_text_through_restart_and_rotation() {
    const NOTE: &str = "enc:v1:x:y";
    const MOMENT: &str = "enc:v2:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    init_logging();
    let mut config = base_config();
    // Encryption off, as a host who opted out would run it.
    config.privacy.keys = Keyring::none();
    let mut stage = Stage::start(&config, at("2026-11-25T05:00:00Z"))
        .await
        .unwrap();
    couple_in_berlin(&stage).await;
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    answer(&stage, ALICE, "4", NOTE, true).await;
    let modal = repair_modal(&stage, ALICE, RepairAction::ChooseOwn).await;
    stage
        .fake
        .submit_modal(ALICE, &modal, vec![("text", MOMENT)])
        .await
        .unwrap();
    stage.settle().await.unwrap();

    // A restart with encryption still off starts and reads the texts as typed.
    stage.stop_bot().await;
    stage
        .start_bot()
        .await
        .expect("starts with text shaped like ours");
    let doc = exported(&stage, ALICE).await;
    assert_eq!(doc["checkin_answers"][0]["note"], NOTE);
    assert_eq!(doc["repair_texts"][0]["text"], MOMENT);

    // Encryption on: `rotate-key` seals both, counting exactly what it sealed.
    let key = Keyring::generate();
    let on = Keyring::parse(Some(&key), &[]).unwrap();
    let r = attune::store::privacy::rotate(stage.pool(), &on)
        .await
        .unwrap();
    assert_eq!((r.resealed, r.unavailable, r.remaining), (2, 0, 0), "{r:?}");
    let again = attune::store::privacy::rotate(stage.pool(), &on)
        .await
        .unwrap();
    assert_eq!(again.resealed, 0, "nothing left to re-seal");
    stage.stop_bot().await;
    stage.config.privacy.keys = on;
    stage.start_bot().await.expect("starts with the new key");
    // Encryption on from the start of a text, too.
    let doc = exported(&stage, ALICE).await;
    assert_eq!(doc["checkin_answers"][0]["note"], NOTE);
    assert_eq!(doc["repair_texts"][0]["text"], MOMENT);

    // A second key: rotate again, restart, and the reveal shows the note exactly.
    let next = Keyring::generate();
    let rotating = Keyring::parse(Some(&next), &[key]).unwrap();
    let r = attune::store::privacy::rotate(stage.pool(), &rotating)
        .await
        .unwrap();
    assert_eq!(r.resealed, 2, "{r:?}");
    stage.stop_bot().await;
    stage.config.privacy.keys = Keyring::parse(Some(&next), &[]).unwrap();
    stage.start_bot().await.unwrap();
    answer(&stage, BOB, "3", "enc:v1:bob:typed-this-too", false).await;
    let reveal = revealed(&stage).await;
    assert!(reveal.text().contains(NOTE), "{}", reveal.text());
    let doc = exported(&stage, ALICE).await;
    assert_eq!(doc["repair_texts"][0]["text"], MOMENT);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_value_moved_elsewhere_is_refused_and_an_edit_keeps_it() {
    let stage = morning_checkin().await;
    // bob's private note, then alice's shared one.
    answer(&stage, BOB, "2", "SENTINEL-bob-private-note", false).await;
    let post = post_for(&stage, ALICE);
    let f = &stage.fake;
    let card = f
        .click_button(
            ALICE,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Answer)).unwrap(),
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let add = card.control(Act::Checkin(CheckinAction::Note)).unwrap();
    let modal = f
        .click_button(ALICE, card.id, &add)
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap();
    f.submit_modal(ALICE, &modal, vec![("note", "alice's words")])
        .await
        .unwrap();
    let share = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::ShareNote))
        .unwrap();
    f.click_button(ALICE, card.id, &share).await.unwrap();
    // Someone with write access but no key moves bob's private note into alice's shared one.
    sqlx::query(
        "update checkin_answers a set note = b.note from checkin_answers b
         where a.person_id = (select person_id from identities where external_id = $1)
           and b.person_id = (select person_id from identities where external_id = $2)",
    )
    .bind(ALICE.to_string())
    .bind(BOB.to_string())
    .execute(stage.pool())
    .await
    .unwrap();
    let moved: String = sqlx::query_scalar(
        "select note from checkin_answers where person_id = (select person_id from identities where external_id = $1)",
    )
    .bind(ALICE.to_string())
    .fetch_one(stage.pool())
    .await
    .unwrap();
    // An edit of something else (her mood) does not overwrite the damaged value.
    let mood = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Mood))
        .unwrap();
    f.select(ALICE, card.id, &mood, vec!["4".into()])
        .await
        .unwrap();
    let kept: String = sqlx::query_scalar(
        "select note from checkin_answers where person_id = (select person_id from identities where external_id = $1)",
    )
    .bind(ALICE.to_string())
    .fetch_one(stage.pool())
    .await
    .unwrap();
    assert_eq!(kept, moved, "the next edit keeps what it could not open");
    let done = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Submit))
        .unwrap();
    f.click_button(ALICE, card.id, &done).await.unwrap();
    let reveal = revealed(&stage).await;
    assert!(
        !reveal.text().contains("SENTINEL-bob-private-note"),
        "a moved value is never posted: {}",
        reveal.text()
    );
    // Rotation leaves it where it is and says so.
    let rotating = Keyring::parse(
        Some(&Keyring::generate()),
        &[key_text(&stage.config.privacy.keys)],
    )
    .unwrap();
    let r = attune::store::privacy::rotate(stage.pool(), &rotating)
        .await
        .unwrap();
    assert_eq!((r.resealed, r.unavailable), (1, 1), "{r:?}");
    finish(stage).await;
}

/// Every statement of forgetting finds its rows through an index that starts with the column
/// it looks for: were one to read its whole table (or a whole index), forgetting someone on
/// a big database would outlast the answer Discord waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_finds_every_row_through_an_index() {
    let stage = stage().await;
    let mut tx = stage.pool().begin().await.unwrap();
    // A plan may still choose to read a table in full; this makes it do so only when there
    // is no index to use.
    sqlx::query("set local enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    for sql in attune::store::privacy::FORGET {
        let plan: Value =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("explain (format json) {sql}")))
                .bind(uuid::Uuid::new_v4())
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        let mut scans = Vec::new();
        scans_of(&plan[0]["Plan"], &mut scans);
        assert!(!scans.is_empty(), "`{sql}`: {plan}");
        for (node, index, cond) in scans {
            let index = index.unwrap_or_else(|| panic!("`{sql}` reads a whole table ({node})"));
            let first: String = sqlx::query_scalar(
                "select a.attname::text from pg_index i
                 join pg_class c on c.oid = i.indexrelid
                 join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                 where c.relname = $1",
            )
            .bind(&index)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            let cond = cond.unwrap_or_default();
            assert!(
                cond.contains(&format!("({first} = ")),
                "`{sql}` reads all of {index} (it starts with {first}; looking for {cond})"
            );
        }
    }
    tx.rollback().await.unwrap();
    finish(stage).await;
}

/// The scans of a plan: (node type, index, index condition).
fn scans_of(node: &Value, out: &mut Vec<(String, Option<String>, Option<String>)>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    if kind.ends_with("Scan") && !kind.starts_with("Bitmap Heap") && kind != "Subquery Scan" {
        out.push((
            kind.to_string(),
            node["Index Name"].as_str().map(str::to_string),
            node["Index Cond"].as_str().map(str::to_string),
        ));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        scans_of(child, out);
    }
}

/// Someone Attune knows nothing about asks to be forgotten: a kind private answer, nothing to
/// press, nothing written. Export says the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_from_someone_attune_holds_nothing_about_asks_nothing() {
    use attune::sandbox::stage::CAROL;
    let stage = stage().await;
    couple_in_berlin(&stage).await;
    let before = snapshot(&stage).await;
    let r = stage.cmd(CAROL, "attune forget", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    assert_eq!(m.ephemeral_for, Some(CAROL), "a private answer");
    assert!(m.text().contains("nothing to forget"), "{}", m.text());
    assert!(
        m.buttons().is_empty() && m.control(Act::Forget(ForgetAction::Confirm)).is_none(),
        "nothing to press: {:?}",
        m.components
    );
    let r = stage.cmd(CAROL, "attune export", vec![]).await.unwrap();
    let m = r.message().cloned().unwrap();
    assert_eq!(m.ephemeral_for, Some(CAROL));
    assert!(
        m.attachments.is_empty() && m.text().contains("nothing to export"),
        "{}",
        m.text()
    );
    assert_eq!(snapshot(&stage).await, before, "nothing was written");
    // A partner still gets the question.
    let r = stage.cmd(ALICE, "attune forget", vec![]).await.unwrap();
    assert!(r
        .message()
        .unwrap()
        .control(Act::Forget(ForgetAction::Confirm))
        .is_some());
    finish(stage).await;
}

/// Jobs of 2,000 couples (two million rows), a year of one person's check-ins, and that
/// person asks to be forgotten: it is done within Discord's answer time, and nothing of them
/// remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_on_a_database_with_millions_of_jobs() {
    const JOBS: i64 = 2_000_000;
    let mut config = base_config();
    // The loaded jobs finished over the past 400 days; none is pruned while the test runs.
    config.scheduler.keep_finished_days = 3650;
    init_logging();
    let now = at("2026-11-25T05:00:00Z");
    let mut world = attune::sandbox::fake::couple_demo();
    world.users.push(attune::sandbox::fake::FakeUser {
        id: DAVE,
        name: "dave".into(),
        bot: false,
    });
    world.guilds[0].members.push(DAVE);
    let stage = Stage::start_with_world(&config, now, world).await.unwrap();
    couple_in_berlin(&stage).await;
    let (alice, bob) = (person_of(&stage, ALICE).await, person_of(&stage, BOB).await);
    let couple: uuid::Uuid =
        sqlx::query_scalar("select couple_id from partners where person_id = $1")
            .bind(alice)
            .fetch_one(stage.pool())
            .await
            .unwrap();
    let loading = std::time::Instant::now();
    bulk_load(stage.pool(), JOBS, couple, alice, bob, now).await;
    eprintln!(
        "loaded {JOBS} jobs and a year of answers in {:?}",
        loading.elapsed()
    );
    assert!(count(&stage, "select count(*) from jobs").await >= JOBS);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from checkin_answers where person_id = $1")
            .bind(alice)
            .fetch_one(stage.pool())
            .await
            .unwrap(),
        730
    );

    // Two people Attune holds nothing about ask, again and again, to be forgotten and for
    // their export, while alice answers her check-in: every one of her presses is answered
    // within Discord's 3 s (the stand-in fails a late answer), and so is every one of theirs.
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    let spam = |user: u64| {
        let stage = &stage;
        async move {
            let mut slowest = std::time::Duration::ZERO;
            for n in 0..20 {
                let cmd = if n % 2 == 0 {
                    "attune forget"
                } else {
                    "attune export"
                };
                let t = std::time::Instant::now();
                let r = stage.cmd(user, cmd, vec![]).await.unwrap();
                slowest = slowest.max(t.elapsed());
                assert!(
                    r.message().unwrap().buttons().is_empty(),
                    "nothing to press"
                );
            }
            slowest
        }
    };
    let started = std::time::Instant::now();
    let (a, b, ()) = tokio::join!(spam(CAROL), spam(DAVE), async {
        answer(&stage, ALICE, "4", "SENTINEL-forget-under-load", false).await
    });
    eprintln!(
        "check-in answered beside two outsiders' 20 forget or export each in {:?}; their slowest answers {a:?} and {b:?}",
        started.elapsed()
    );
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from checkin_answers where person_id = $1")
            .bind(alice)
            .fetch_one(stage.pool())
            .await
            .unwrap(),
        731,
        "her answer was kept"
    );

    let started = std::time::Instant::now();
    forget_me(&stage, ALICE).await;
    let took = started.elapsed();
    eprintln!("forget on {JOBS} jobs, from the command to the message that it is done: {took:?}");
    assert_nothing_of(&stage, ALICE, alice).await;
    // Everyone else's jobs, and bob's own year, stay.
    assert!(count(&stage, "select count(*) from jobs").await >= JOBS - JOBS / 1000);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from checkin_answers where person_id = $1")
            .bind(bob)
            .fetch_one(stage.pool())
            .await
            .unwrap(),
        365
    );
    finish(stage).await;
}

async fn person_of(stage: &Stage, user: u64) -> uuid::Uuid {
    sqlx::query_scalar("select person_id from identities where external_id = $1")
        .bind(user.to_string())
        .fetch_one(stage.pool())
        .await
        .unwrap()
}

/// Three statements: 2,000 other couples, `jobs` finished jobs among them (one in a thousand
/// is `person`'s own, in their couple, a few still to come), then a year of morning and
/// evening rounds in `person`'s couple, answered by them (with a note) and half by `partner`.
async fn bulk_load(
    pool: &sqlx::PgPool,
    jobs: i64,
    couple: uuid::Uuid,
    person: uuid::Uuid,
    partner: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) {
    sqlx::query(
        "with r as (
            insert into rooms (id, transport, external_id, space)
            select gen_random_uuid(), 'discord', (800000000000000000 + i)::text, '1'
            from generate_series(1, 2000) i
            returning id)
         insert into couples (id, room_id, created_at)
         select gen_random_uuid(), r.id, $1::timestamptz - interval '400 days' from r",
    )
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    // Ids and keys in insertion order, so the indexes grow at their ends (a fast load).
    sqlx::query(
        "insert into jobs (id, kind, couple_id, person_id, dedupe_key, due_at, payload, status,
                           attempts, created_at, finished_at)
         select ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'checkin_post',
                case when own then $3 else cs.ids[1 + (i / 1000) % cs.n] end,
                case when own then $4
                     else ('00000000-0000-4000-9000-' || lpad(to_hex(i / 500), 12, '0'))::uuid end,
                'bulk:' || lpad(i::text, 8, '0'),
                case when later then $2::timestamptz + interval '30 days' else t.at end,
                '{\"kind\": \"checkin_post\"}',
                case when later then 'pending' else 'done' end, 1, t.at,
                case when later then null else t.at end
         from (select array_agg(id) as ids, count(*)::int as n from couples where id <> $3) cs,
              generate_series(1, $1::bigint) i,
              lateral (select i % 1000 = 0 as own, i % 100000 = 0 as later,
                              $2::timestamptz - interval '400 days' + i * interval '15 seconds' as at) t",
    )
    .bind(jobs)
    .bind(now)
    .bind(couple)
    .bind(person)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "with c as (
            insert into checkins (id, couple_id, slot, round_date, opened_at, closes_at, status,
                                  revealed_at, reveal_nonce)
            select gen_random_uuid(), $1, s.slot, d::date, d, d + interval '12 hours', 'revealed',
                   d + interval '12 hours', md5(s.slot || d::text)
            from generate_series($4::timestamptz - interval '365 days',
                                 $4::timestamptz - interval '1 day', interval '1 day') d,
                 (values ('morning'), ('evening')) s(slot)
            returning id, opened_at, slot)
         insert into checkin_answers (checkin_id, person_id, mood, feelings, note, submitted,
                                      updated_at)
         select c.id, p.who, 3, '{calm}',
                case when p.who = $2 then 'p:SENTINEL-forget-a-year-of-notes' end, true,
                c.opened_at
         from c, (values ($2::uuid), ($3::uuid)) p(who)
         where p.who = $2 or c.slot = 'morning'",
    )
    .bind(couple)
    .bind(person)
    .bind(partner)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("analyze jobs, checkin_answers, checkins")
        .execute(pool)
        .await
        .unwrap();
}

/// Finished jobs are deleted once they are older than `scheduler.keep_finished_days`;
/// pending ones and recently finished ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_older_than_the_limit_are_pruned() {
    let mut config = base_config();
    assert_eq!(config.scheduler.keep_finished_days, 14, "the default");
    config.scheduler.keep_finished_days = 14;
    init_logging();
    let start = at("2026-11-25T05:00:00Z");
    let stage = Stage::start(&config, start).await.unwrap();
    couple_in_berlin(&stage).await;
    let couple: uuid::Uuid = sqlx::query_scalar("select id from couples")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    let day = chrono::Duration::days(1);
    // (key, status, created, finished, due)
    let rows = [
        (
            "old-done",
            "done",
            start - day * 21,
            Some(start - day * 20),
            start - day * 20,
        ),
        (
            "old-missed",
            "missed",
            start - day * 31,
            Some(start - day * 30),
            start - day * 30,
        ),
        (
            "old-cancelled",
            "cancelled",
            start - day * 20,
            None,
            start - day * 19,
        ),
        (
            "recent-done",
            "done",
            start - day * 3,
            Some(start - day * 2),
            start - day * 2,
        ),
        (
            "waiting",
            "pending",
            start - day * 40,
            None,
            start + day * 30,
        ),
    ];
    for (key, status, created, finished, due) in rows {
        sqlx::query(
            "insert into jobs (id, kind, couple_id, dedupe_key, due_at, status, created_at, finished_at)
             values (gen_random_uuid(), 'weekly_recap', $1, $2, $3, $4, $5, $6)",
        )
        .bind(couple)
        .bind(format!("test:{key}"))
        .bind(due)
        .bind(status)
        .bind(created)
        .bind(finished)
        .execute(stage.pool())
        .await
        .unwrap();
    }
    // The sweep runs hourly.
    stage
        .run_until(start + chrono::Duration::hours(2))
        .await
        .unwrap();
    let left = || async {
        let keys: Vec<String> = sqlx::query_scalar(
            "select substr(dedupe_key, 6) from jobs where dedupe_key like 'test:%' order by 1",
        )
        .fetch_all(stage.pool())
        .await
        .unwrap();
        keys
    };
    let waited = std::time::Instant::now();
    while left().await.len() > 2 && waited.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left().await, vec!["recent-done", "waiting"]);
    finish(stage).await;
}

/// A shared note is shown at the reveal as written, but it cannot pass for the bot's own
/// lines, links or pings: no forged line, no live link, no mention of anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revealed_note_cannot_forge_lines_links_or_mentions() {
    let stage = morning_checkin().await;
    let sneaky =
        "fine\n**Bob:** I'm leaving @everyone <@100000000000000003> [help](https://evil.example)";
    answer(&stage, ALICE, "4", sneaky, true).await;
    answer(&stage, BOB, "3", "all good", false).await;
    let reveal = revealed(&stage).await;
    let t = reveal.text();
    assert!(t.contains("leaving"), "the note is shown: {t}");
    assert!(
        !t.lines().any(|l| l.trim_start().starts_with("**Bob:**")),
        "a forged line: {t}"
    );
    assert!(!t.contains("](https://evil"), "a live link: {t}");
    assert!(!t.contains("@everyone"), "a mass mention: {t}");
    assert!(!t.contains("<@100000000000000003>"), "a mention: {t}");
    let sent = stage
        .fake
        .requests()
        .into_iter()
        .filter_map(|r| r.body)
        .find(|b| b.to_string().contains("revealed") && b.to_string().contains("leaving"))
        .expect("the reveal as sent");
    let allowed = &sent["allowed_mentions"];
    let parse = allowed["parse"].as_array().cloned().unwrap_or_default();
    assert!(
        !parse.iter().any(|p| p == "everyone" || p == "users"),
        "only named partners may be pinged: {allowed}"
    );
    for u in allowed["users"].as_array().cloned().unwrap_or_default() {
        assert!(
            [ALICE.to_string(), BOB.to_string()].contains(&u.as_str().unwrap_or("").to_string()),
            "{allowed}"
        );
    }
    finish(stage).await;
}
