//! Shared test set-up: a stage (stand-in + fresh database + the bot wired as `attune run`
//! wires it), controls found by typed action, and small helpers that read the database the
//! way a user would notice.

use std::sync::Once;

pub use attune::domain::custom_id::{
    Act, CheckinAction, ForgetAction, InviteAction, LeaveAction, MicroAction, PersonalAction,
    RepairAction,
};
pub use attune::sandbox::controls::Controls;

use attune::config::Config;
use attune::sandbox::fake::{FakeMessage, Reply};
use attune::sandbox::stage::{Stage, ALICE, BOB};
use chrono::{DateTime, Utc};
use serde_json::json;

static LOG: Once = Once::new();

/// Logs go to the test output when ATTUNE_TEST_LOG is set (e.g. `attune=debug`).
pub fn init_logging() {
    LOG.call_once(|| {
        if let Ok(filter) = std::env::var("ATTUNE_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(attune::telemetry::filter(&filter))
                .with_test_writer()
                .try_init();
        }
    });
}

thread_local! {
    static KEYS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The key text behind a keyring made by `base_config` (keys live only in memory in tests).
pub fn key_text(k: &attune::crypto::Keyring) -> String {
    let id = k.current_id().expect("a key").to_string();
    KEYS.with(|keys| {
        keys.borrow()
            .iter()
            .find(|t| t.starts_with(&format!("{id}:")))
            .cloned()
            .expect("key made by base_config on this thread")
    })
}

pub fn base_config() -> Config {
    let mut c = Config::from_env_only().expect("test configuration");
    // Fixed, so every random choice in a test run repeats exactly.
    c.scheduler.seed = 7;
    // Every journey runs with encryption at rest, as a careful host would.
    let key = attune::crypto::Keyring::generate();
    KEYS.with(|keys| keys.borrow_mut().push(key.clone()));
    c.privacy.keys = attune::crypto::Keyring::parse(Some(&key), &[]).unwrap();
    c
}

/// A Wednesday morning, UTC.
pub fn t0() -> DateTime<Utc> {
    "2026-11-25T07:00:00Z".parse().unwrap()
}

pub async fn stage() -> Stage {
    stage_at(t0()).await
}

pub async fn stage_at(start: DateTime<Utc>) -> Stage {
    init_logging();
    Stage::start(&base_config(), start)
        .await
        .expect("stage starts (is Postgres reachable? see scripts/test)")
}

/// Tears the stage down and fails the test on any request that broke Discord's rules.
pub async fn finish(stage: Stage) {
    let violations = stage.fake.violations();
    stage.teardown().await.expect("teardown");
    assert!(
        violations.is_empty(),
        "the stand-in recorded violations:\n{violations:#?}"
    );
}

/// alice invites bob, bob accepts. Returns the invitation message after the update.
pub async fn couple_up(stage: &Stage) -> FakeMessage {
    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .expect("setup")
        .message()
        .cloned()
        .expect("invitation message");
    let accept = invite
        .control(Act::Invite(InviteAction::Accept))
        .expect("Accept button");
    stage
        .fake
        .click_button(BOB, invite.id, &accept)
        .await
        .expect("accept")
        .message()
        .cloned()
        .expect("updated invitation")
}

pub async fn count(stage: &Stage, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(stage.pool())
        .await
        .expect("count query")
}

/// Row counts of every table, to prove a refused action wrote nothing.
pub async fn snapshot(stage: &Stage) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = 'public' and table_name not like '_sqlx%' order by 1",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from \"{t}\"")))
                .fetch_one(stage.pool())
                .await
                .unwrap();
        // Include a digest of the contents so updates show too, not only inserts.
        let digest: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select md5(string_agg(x::text, '|' order by x::text)) from \"{t}\" x"
        )))
        .fetch_one(stage.pool())
        .await
        .unwrap();
        out.push((format!("{t}:{}", digest.unwrap_or_default()), n));
    }
    out
}

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A linked couple, alice in zone `a` and bob in zone `b`.
pub async fn couple_with_zones(stage: &Stage, a: &str, b: &str) {
    couple_up(stage).await;
    for (user, zone) in [(ALICE, a), (BOB, b)] {
        stage
            .cmd(user, "attune timezone", vec![("zone", json!(zone))])
            .await
            .unwrap();
    }
}

/// The words the bot answers with when something went wrong on its side.
pub fn sorry() -> String {
    attune::content::Library::builtin().s(attune::content::copy::keys::common::SORRY)
}

/// The words the bot answers with when the database is away for a moment.
pub fn try_again() -> String {
    attune::content::Library::builtin().s(attune::content::copy::keys::common::TRY_AGAIN)
}

/// The words the bot answers with when its work ran past the platform's deadline (it may
/// have gone through just before).
pub fn too_slow() -> String {
    attune::content::Library::builtin().s(attune::content::copy::keys::common::TOO_SLOW)
}

/// A couple written straight into the database (for tests with many couples).
pub async fn create_couple(
    tx: &mut sqlx::PgConnection,
    guild: u64,
    channel: u64,
    a: u64,
    b: u64,
    now: DateTime<Utc>,
) -> (
    attune::domain::ids::CoupleId,
    attune::domain::ids::PersonId,
    attune::domain::ids::PersonId,
) {
    attune::sandbox::stage::seed_discord_couple(tx, guild, channel, a, b, now)
        .await
        .expect("a fresh channel")
}

/// `/repair` as a person runs it: the private chooser, then `choice` (own something, or be
/// heard about a hurt) opens the request for the moment.
pub async fn repair_modal(
    stage: &Stage,
    who: u64,
    choice: RepairAction,
) -> attune::sandbox::fake::ModalView {
    let chooser = stage
        .cmd(who, "repair", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(chooser.ephemeral_for, Some(who), "the chooser is private");
    let id = chooser
        .control(Act::Repair(choice))
        .unwrap_or_else(|| panic!("no {choice:?} on: {}", chooser.text()));
    stage
        .fake
        .click_button(who, chooser.id, &id)
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap()
}

/// `user` runs `/attune forget` and says yes: the answer comes at once (they are told the
/// erasure is under way), and the erasure job then tells them privately that it is done.
/// Returns that direct message.
pub async fn forget_me(stage: &Stage, user: u64) -> FakeMessage {
    use attune::content::copy::keys::privacy as k;
    let lib = attune::content::Library::builtin();
    let ack = confirm_forget(stage, user).await;
    assert_eq!(ack.text(), lib.s(k::FORGET_STARTED), "acknowledged at once");
    stage.settle().await.unwrap();
    let done = lib.s(k::FORGET_DONE);
    let dms = stage.fake.direct_messages(user);
    let told: Vec<_> = dms.iter().filter(|m| m.content == done).collect();
    assert_eq!(told.len(), 1, "told once that it is done: {dms:?}");
    told[0].clone()
}

/// `user` runs `/attune forget` and presses "Yes, forget me"; returns the answer to the press.
pub async fn confirm_forget(stage: &Stage, user: u64) -> Reply {
    let confirm = stage
        .cmd(user, "attune forget", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    stage
        .fake
        .click_button(
            user,
            confirm.id,
            &confirm.control(Act::Forget(ForgetAction::Confirm)).unwrap(),
        )
        .await
        .unwrap()
}
