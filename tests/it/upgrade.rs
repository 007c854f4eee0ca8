//! Upgrading in place: a database created and filled by release 0.1 (three days of use,
//! `tests/fixtures/release-0.1.sql`) gets today's migrations, and afterwards everything it
//! held still works through the stand-in: the old buttons, the pending reveal, the open
//! repair with its sealed draft, the agreement's revisit, the schedules, the sealed notes.

use std::collections::BTreeMap;

use attune::crypto::Keyring;
use attune::domain::custom_id::CustomId;
use attune::sandbox::stage::{Stage, ALICE, BOB, CHANNEL};
use attune::store;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::support::*;

const FIXTURE: &str = include_str!("../fixtures/release-0.1.sql");
const KEY: &str = include_str!("../fixtures/release-0.1.key");
const BUTTONS: &str = include_str!("../fixtures/release-0.1.buttons");

/// The round alice answered on the last morning, still waiting for bob.
const PENDING_ROUND: &str = "8995dc60-7a7c-4023-bdcb-92173c527d20";
/// The repair bob opened, at "own it" with his private draft.
const OPEN_REPAIR: &str = "915d18b9-7a79-4fe9-8688-0988af0ed19b";

/// The public messages 0.1 left in the channel, with their buttons: message id → rows.
fn old_messages() -> BTreeMap<u64, Vec<(String, String)>> {
    let mut out: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
    for line in BUTTONS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (id, rest) = line.split_once(' ').unwrap();
        let label = rest.split('"').nth(1).unwrap().to_string();
        let custom = rest
            .split("Some(\"")
            .nth(1)
            .unwrap()
            .trim_end_matches("\")")
            .to_string();
        out.entry(id.parse().unwrap())
            .or_default()
            .push((label, custom));
    }
    out
}

fn rows(buttons: &[(String, String)]) -> Vec<Value> {
    buttons
        .chunks(5)
        .map(|chunk| {
            json!({"type": 1, "components": chunk.iter().map(|(label, id)| json!({
                "type": 2, "style": 2, "label": label, "custom_id": id
            })).collect::<Vec<_>>()})
        })
        .collect()
}

/// The old message whose buttons act on `row`, with `act`.
fn old_button(old: &BTreeMap<u64, Vec<(String, String)>>, row: &str, act: Act) -> (u64, String) {
    old.iter()
        .rev()
        .find_map(|(id, buttons)| {
            buttons
                .iter()
                .find(|(_, c)| {
                    c.contains(row) && c.parse::<CustomId>().is_ok_and(|x| x.act() == act)
                })
                .map(|(_, c)| (*id, c.clone()))
        })
        .unwrap_or_else(|| panic!("no old button {act:?} for {row}"))
}

async fn upgraded_stage() -> Stage {
    init_logging();
    let mut config = base_config();
    config.privacy.keys = Keyring::parse(Some(KEY.trim()), &[]).unwrap();
    let mut url = config.database.url.clone();
    url.set_path(&format!("attune_upgrade_{}", uuid::Uuid::new_v4().simple()));
    config.database.url = url;
    store::ensure_database(&config.database.url).await.unwrap();
    // Restore what 0.1 wrote, exactly (its own migration records included).
    let mut conn = sqlx::PgConnection::connect(config.database.url.as_str())
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(FIXTURE))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    // Today's start-up applies the new migrations to it.
    let pool = store::connect(&config.database)
        .await
        .expect("the 0.1 database upgrades");
    let applied: Vec<i64> = sqlx::query_scalar("select version from _sqlx_migrations order by 1")
        .fetch_all(&pool)
        .await
        .unwrap();
    let shipped: Vec<i64> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.split('_').next().and_then(|n| n.parse().ok())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(applied, shipped, "every migration since 0.1 applied");
    let stage = Stage::start_on(
        config,
        pool,
        at("2026-11-25T11:00:00Z"),
        attune::sandbox::fake::couple_demo(),
    )
    .await
    .expect("the bot starts on the upgraded database (and its sealed texts open)");
    for (id, buttons) in old_messages() {
        stage
            .fake
            .seed_message(CHANNEL, id, "(a post of release 0.1)", rows(&buttons));
    }
    stage
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_previous_release_upgrades_and_keeps_working() {
    let stage = upgraded_stage().await;
    let old = old_messages();
    let f = &stage.fake;

    // The couple is still linked, with both partners and their zones.
    let status = stage
        .cmd(ALICE, "attune status", vec![])
        .await
        .unwrap()
        .text();
    assert!(
        status.contains(&format!("<@{ALICE}>")) && status.contains(&format!("<@{BOB}>")),
        "{status}"
    );
    assert!(
        status.contains("Europe/Berlin") && status.contains("America/New_York"),
        "{status}"
    );

    // The pending reveal: bob answers through the old post's button, and the round that
    // waited for him since 0.1 is revealed once, with alice's private note kept private.
    let (msg, answer) = old_button(&old, PENDING_ROUND, Act::Checkin(CheckinAction::Answer));
    let card = f
        .click_button(BOB, msg, &answer)
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(card.ephemeral_for, Some(BOB), "{}", card.text());
    let mood = card
        .control(Act::Checkin(CheckinAction::Mood))
        .expect("the answer card");
    f.select(BOB, card.id, &mood, vec!["3".into()])
        .await
        .unwrap();
    let done = card.control(Act::Checkin(CheckinAction::Submit)).unwrap();
    f.click_button(BOB, card.id, &done).await.unwrap();
    stage.settle().await.unwrap();
    let reveals: Vec<_> = f
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none() && m.text().contains("revealed"))
        .collect();
    assert_eq!(reveals.len(), 1, "one reveal");
    let t = reveals[0].text();
    assert!(t.contains("🌥️ Low"), "alice's answer from 0.1: {t}");
    assert!(
        !t.contains("looks-like-ours"),
        "her private note stays private: {t}"
    );

    // The open repair: bob's sealed draft comes back into his writing box, and the flow
    // goes on from "own it".
    let (msg, write) = old_button(&old, OPEN_REPAIR, Act::Repair(RepairAction::WriteOwn));
    let modal = f
        .click_button(BOB, msg, &write)
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap();
    let draft = modal
        .input("text")
        .and_then(|i| i.value.clone())
        .unwrap_or_default();
    assert!(
        draft.contains("fixture-draft"),
        "the 0.1 draft, decrypted: {draft:?}"
    );
    let preview = f
        .submit_modal(
            BOB,
            &modal,
            vec![("text", "I didn't call back when I said I would.")],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let share = preview
        .control(Act::Repair(RepairAction::ShareOwn))
        .unwrap();
    let felt = f
        .click_button(BOB, preview.id, &share)
        .await
        .unwrap()
        .new_message()
        .cloned()
        .unwrap();
    assert!(felt.text().contains("Step 3 of 7"), "{}", felt.text());
    assert!(
        felt.text().contains(&format!("<@{ALICE}>")),
        "{}",
        felt.text()
    );

    // The agreement made under 0.1 is revisited on time, its sealed text readable.
    stage.run_until(at("2026-11-27T17:05:00Z")).await.unwrap();
    let revisit = f
        .messages(CHANNEL)
        .into_iter()
        .rfind(|m| m.control(Act::Repair(RepairAction::RevisitWell)).is_some())
        .expect("the revisit");
    assert!(
        revisit.text().contains("we say so first"),
        "{}",
        revisit.text()
    );
    let well = revisit
        .control(Act::Repair(RepairAction::RevisitWell))
        .unwrap();
    let r = f.click_button(ALICE, revisit.id, &well).await.unwrap();
    assert!(r.is_ephemeral(), "{}", r.text());

    // Schedules carried over: alice's morning check-ins keep arriving, once a day.
    let posts: Vec<_> = f
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m.control(Act::Checkin(CheckinAction::Answer)).is_some() && !m.embeds.is_empty()
        })
        .filter(|m| m.content.contains(&format!("<@{ALICE}>")))
        .collect();
    assert_eq!(posts.len(), 2, "26 and 27 November");

    // Her notes sealed by 0.1 still open for her, exactly as typed.
    let export = stage.cmd(ALICE, "attune export", vec![]).await.unwrap();
    let m = export.message().cloned().unwrap();
    let file = m
        .attachments
        .iter()
        .find(|a| a.filename == "attune-export.json")
        .unwrap();
    let text = String::from_utf8(file.bytes.clone()).unwrap();
    assert!(
        text.contains("enc:v1:fixture:looks-like-ours but typed by alice"),
        "{text}"
    );
    assert!(
        text.contains("Looking forward to our walk tonight."),
        "{text}"
    );
    // Start-up re-sealed every value of 0.1 bound to its place: none is left untagged.
    for (table, _, col) in store::privacy::SEALED_COLUMNS {
        let untagged: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} where {col} is not null and {col} not like 'enc:v2:%'"
        )))
        .fetch_one(stage.pool())
        .await
        .unwrap();
        assert_eq!(untagged, 0, "{table}.{col}");
    }
    finish(stage).await;
}
