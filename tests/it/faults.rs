//! Reliability under faults (issue #8 §1), through the stand-in against real Postgres: a
//! Discord that answers 429/500, times out or resets while check-ins fall due; database
//! connections killed or the database unreachable while people click; the gateway dropping
//! or asking for a reconnect; and `kill -9` of the real binary in the middle of a burst of
//! due prompts and of people's answers. Each test asserts what a person would notice: a post
//! that comes late but once, an answer within Discord's 3 s, nothing acknowledged then lost.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use crate::support::*;
use attune::domain::jobs::Job;
use attune::domain::schedule::Slot;
use attune::sandbox::fake::{
    couple_demo, fake_options, FakeDiscord, FakeMessage, Fault, ModalView, Reply,
};
use attune::sandbox::stage::{Stage, ALICE, BOB, CHANNEL, GUILD};
use attune::store;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Connection, PgConnection};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// 05:00 UTC, before both Berlin partners' 08:00 (07:00Z).
fn early() -> DateTime<Utc> {
    at("2026-11-25T05:00:00Z")
}

/// Check-in posts that ping `user`, as the channel shows them.
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

async fn couple_in_berlin(stage: &Stage) {
    couple_up(stage).await;
    for user in [ALICE, BOB] {
        stage
            .cmd(
                user,
                "attune timezone",
                vec![("zone", json!("Europe/Berlin"))],
            )
            .await
            .unwrap();
    }
}

/// A reply that is neither an apology nor "try again": the command really worked.
fn assert_served(r: &Reply, what: &str) {
    let t = r.text();
    assert!(
        !t.is_empty() && t != sorry() && t != try_again() && t != too_slow(),
        "{what}: expected a real answer, got {t:?}"
    );
}

/// `/checkin` now, then `user` opens their private answer card. Returns (post, card).
async fn open_card(stage_fake: &FakeDiscord, user: u64) -> (FakeMessage, FakeMessage) {
    let post = stage_fake
        .run_command(user, CHANNEL, "checkin", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let card = stage_fake
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
    assert_eq!(card.ephemeral_for, Some(user));
    (post, card)
}

fn mood_select(card: &FakeMessage) -> String {
    card.control(Act::Checkin(CheckinAction::Mood))
        .expect("mood select")
}

// ---------------------------------------------------------------------------------------------
// 1. Discord misbehaves while check-ins fall due

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_faults_back_off_and_every_checkin_posts_once() {
    init_logging();
    let mut base = base_config();
    // Low, so the slow answer below is a timeout and the test stays quick.
    base.discord.request_timeout = StdDuration::from_secs(2);
    let stage = Stage::start(&base, early()).await.expect("stage starts");
    couple_in_berlin(&stage).await;

    let path = format!("/channels/{CHANNEL}/messages");
    // One fault per request, in this order: the two 07:00 posts meet the 429 and the 500,
    // their retries meet the slow answer and the reset, the third attempts go through.
    stage.fake.push_fault(Fault::Status {
        path_contains: path.clone(),
        status: 429,
        retry_after: Some(0.5),
        times: 1,
    });
    stage.fake.push_fault(Fault::Status {
        path_contains: path.clone(),
        status: 500,
        retry_after: None,
        times: 1,
    });
    stage.fake.push_fault(Fault::Delay {
        path_contains: path.clone(),
        delay: StdDuration::from_secs(3),
        times: 1,
    });
    stage.fake.push_fault(Fault::Reset {
        path_contains: path.clone(),
        times: 1,
    });

    let due = at("2026-11-25T07:00:00Z");
    stage.run_until(due).await.unwrap();
    assert!(
        posts_for(&stage, ALICE).is_empty() && posts_for(&stage, BOB).is_empty(),
        "nothing is posted while Discord refuses"
    );
    let today = "select attempts, due_at, status, coalesce(last_error, '') from jobs
                 where kind = 'checkin_post' and payload->>'local_date' = '2026-11-25'
                 order by last_error";
    let rows: Vec<(i32, DateTime<Utc>, String, String)> =
        sqlx::query_as(today).fetch_all(stage.pool()).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (attempts, due_at, status, error) in &rows {
        assert_eq!((*attempts, status.as_str()), (1, "pending"), "{rows:?}");
        // The 429 is retried when Discord asked (0.5 s); the 500 backs off 5 s.
        let wait = if error.contains("rate limited") {
            chrono::Duration::milliseconds(500)
        } else {
            chrono::Duration::seconds(5)
        };
        assert_eq!(*due_at, due + wait, "first retry: {rows:?}");
    }
    let errors: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert!(
        errors.iter().any(|e| e.contains("rate limited"))
            && errors.iter().any(|e| e.contains("500")),
        "{errors:?}"
    );

    // While a retry hangs on the slow answer, people's commands are still answered in time.
    let (ran, (status, took)) = tokio::join!(stage.run_until(at("2026-11-25T07:01:00Z")), async {
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let t = Instant::now();
        let r = stage.cmd(BOB, "attune status", vec![]).await;
        (r, t.elapsed())
    });
    ran.unwrap();
    let status = status.expect("status is answered while a post hangs");
    assert_served(&status, "/attune status during the slow post");
    assert!(took < StdDuration::from_secs(3), "status took {took:?}");

    // Each partner got exactly one post, however many attempts it took.
    assert_eq!(posts_for(&stage, ALICE).len(), 1, "one post for alice");
    assert_eq!(posts_for(&stage, BOB).len(), 1, "one post for bob");
    let rows: Vec<(i32, DateTime<Utc>, String, String)> =
        sqlx::query_as(today).fetch_all(stage.pool()).await.unwrap();
    for (attempts, _, status, _) in &rows {
        assert_eq!(status, "done", "{rows:?}");
        assert!(*attempts >= 2, "retried: {rows:?}");
    }
    let posted: Vec<Option<String>> =
        sqlx::query_scalar("select message_id from checkin_posts where local_date = '2026-11-25'")
            .fetch_all(stage.pool())
            .await
            .unwrap();
    assert_eq!(posted.len(), 2);
    for mid in &posted {
        let mid: u64 = mid
            .as_deref()
            .expect("the post is confirmed")
            .parse()
            .unwrap();
        assert!(
            stage.fake.message(mid).is_some(),
            "the recorded message is the one in the channel"
        );
    }
    // Every attempt for one partner carried the same nonce: that is what lets Discord hand
    // back the first message when an answer was lost (the slow one) instead of posting twice.
    let attempts: Vec<String> = stage
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&path))
        .filter_map(|r| r.body)
        .map(|b| {
            assert_eq!(b["enforce_nonce"], json!(true), "{b}");
            b["nonce"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(attempts.len() >= 5, "faults were met: {attempts:?}");
    let mut nonces = attempts.clone();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 2, "one nonce per post: {attempts:?}");
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 2. The database goes away

async fn terminate_backends(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) as killed from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()) k where killed",
    )
    .fetch_one(conn)
    .await
    .expect("terminate backends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_db_connections_get_kind_answers_and_recover() {
    let stage = stage_at(early()).await;
    couple_up(&stage).await;
    let (_, card) = open_card(&stage.fake, ALICE).await;
    let mood = mood_select(&card);

    // Kill every connection of the bot's database, again and again, while alice answers.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let url = stage.config.database.url.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut conn = PgConnection::connect(url.as_str()).await.unwrap();
            let mut killed = 0;
            while !stop.load(Ordering::SeqCst) {
                killed += terminate_backends(&mut conn).await;
                tokio::time::sleep(StdDuration::from_millis(60)).await;
            }
            killed
        })
    };
    let (mut saved, mut kind) = (0, 0);
    let storm = Instant::now();
    let mut value = 1;
    while storm.elapsed() < StdDuration::from_secs(3) {
        // `select` fails if the bot does not answer within 3 s.
        let r = stage
            .fake
            .select(ALICE, card.id, &mood, vec![value.to_string()])
            .await
            .expect("answered within 3 s while connections are killed");
        match r {
            Reply::Updated(_) => saved += 1,
            other => {
                assert!(other.is_ephemeral(), "{other:?}");
                assert!(
                    [try_again(), too_slow()].contains(&other.text()),
                    "a kind, honest answer: {other:?}"
                );
                kind += 1;
            }
        }
        value = value % 5 + 1;
    }
    stop.store(true, Ordering::SeqCst);
    let killed = killer.await.unwrap();
    assert!(killed > 0, "connections were killed");
    eprintln!("db kill storm: {killed} connections killed; {saved} saved, {kind} asked to retry");
    assert!(saved > 0, "the bot kept saving between kills");

    // It recovers by itself: the very next command and click work.
    let status = stage.cmd(BOB, "attune status", vec![]).await.unwrap();
    assert_served(&status, "/attune status after the storm");
    let r = stage
        .fake
        .select(ALICE, card.id, &mood, vec!["4".into()])
        .await
        .unwrap();
    assert!(matches!(r, Reply::Updated(_)), "{r:?}");
    let m: i16 = sqlx::query_scalar("select mood from checkin_answers where person_id = (select person_id from identities where external_id = $1::bigint::text)")
        .bind(ALICE as i64)
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert_eq!(m, 4, "the answer after the storm is saved");
    finish(stage).await;
}

/// A TCP proxy in front of Postgres that can be paused: paused, it drops every connection
/// and refuses new ones, like a database server that went away; resumed, it forwards again.
pub(crate) struct PgProxy {
    pub(crate) port: u16,
    paused: Arc<AtomicBool>,
    /// Frozen: connections stay open but no byte gets through, like a network partition.
    frozen: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl PgProxy {
    /// A proxy in front of the database `config` names, and `config` pointed at it.
    pub(crate) async fn in_front_of(config: &mut attune::config::Config) -> PgProxy {
        let url = &mut config.database.url;
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port_or_known_default().unwrap_or(5432)
        );
        let proxy = PgProxy::start(target).await;
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(proxy.port)).unwrap();
        proxy
    }

    pub(crate) async fn start(target: String) -> PgProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let paused = Arc::new(AtomicBool::new(false));
        let frozen = Arc::new(AtomicBool::new(false));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let task = {
            let paused = paused.clone();
            let frozen = frozen.clone();
            let cut = cut.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if paused.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cut_rx = cut.subscribe();
                    let target = target.clone();
                    let frozen = frozen.clone();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                            return;
                        };
                        let pump = async {
                            // Forward in small steps so a freeze takes effect mid-stream.
                            let (mut ri, mut wi) = inbound.split();
                            let (mut ro, mut wo) = outbound.split();
                            let up = pump(&mut ri, &mut wo, &frozen);
                            let down = pump(&mut ro, &mut wi, &frozen);
                            tokio::select! { _ = up => {}, _ = down => {} }
                        };
                        tokio::select! {
                            _ = pump => {}
                            _ = cut_rx.changed() => {}
                        }
                    });
                }
            })
        };
        PgProxy {
            port,
            paused,
            frozen,
            cut,
            task,
        }
    }

    fn freeze(&self, on: bool) {
        self.frozen.store(on, Ordering::SeqCst);
    }

    pub(crate) fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub(crate) fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes from `from` to `to`, holding them while `frozen` is set.
async fn pump(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    frozen: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_gets_try_again_and_recovers_without_restart() {
    init_logging();
    let mut base = base_config();
    let proxy = PgProxy::in_front_of(&mut base).await;
    let stage = Stage::start(&base, early()).await.expect("stage starts");
    couple_up(&stage).await;
    let (post, _) = open_card(&stage.fake, ALICE).await;

    proxy.pause();
    let t = Instant::now();
    let status = stage
        .cmd(ALICE, "attune status", vec![])
        .await
        .expect("a command is answered within 3 s while the database is away");
    assert!(status.is_ephemeral(), "{status:?}");
    assert_eq!(status.text(), try_again());
    eprintln!("database away: command answered in {:?}", t.elapsed());
    let click = stage
        .fake
        .click_button(
            BOB,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Answer)).unwrap(),
        )
        .await
        .expect("a click is answered within 3 s while the database is away");
    assert!(click.is_ephemeral());
    assert_eq!(click.text(), try_again());

    proxy.resume();
    // No restart: the pool reconnects by itself, so the very next command works.
    let back = Instant::now();
    let r = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    assert_served(&r, "/attune status after the database came back");
    eprintln!("database back: served again in {:?}", back.elapsed());
    let card = stage
        .fake
        .click_button(
            BOB,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Answer)).unwrap(),
        )
        .await
        .unwrap();
    assert!(
        card.message().unwrap().selects().len() >= 2,
        "bob's card opens: {}",
        card.text()
    );
    finish(stage).await;
}

/// A note submitted while the database is away cannot be saved, and the form it was typed in
/// is gone: the writer is told so, privately, and gets every word back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_that_cannot_be_saved_comes_back_to_its_writer() {
    init_logging();
    let mut base = base_config();
    let proxy = PgProxy::in_front_of(&mut base).await;
    let stage = Stage::start(&base, early()).await.expect("stage starts");
    couple_up(&stage).await;
    let (_, card) = open_card(&stage.fake, ALICE).await;
    let f = &stage.fake;
    f.select(ALICE, card.id, &mood_select(&card), vec!["4".into()])
        .await
        .unwrap();
    let add = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Note))
        .unwrap();
    let modal = f
        .click_button(ALICE, card.id, &add)
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap();

    proxy.pause();
    let note = "The walk by the river meant a lot\nthank you, SENTINEL-kept";
    let r = f
        .submit_modal(ALICE, &modal, vec![("note", note)])
        .await
        .expect("the form is answered within 3 s while the database is away");
    assert!(r.is_ephemeral(), "only the writer sees it: {r:?}");
    let text = r.text();
    assert!(text.contains("couldn't save what you wrote"), "{text}");
    for line in note.lines() {
        assert!(text.contains(line), "every word comes back: {text}");
    }
    assert!(!text.contains("nothing was lost"), "{text}");
    proxy.resume();
    assert!(
        f.messages(CHANNEL)
            .iter()
            .filter(|m| m.text().contains("SENTINEL-kept"))
            .all(|m| m.ephemeral_for == Some(ALICE)),
        "the note never reaches the channel"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_database_gets_an_answer_in_time_and_recovers() {
    init_logging();
    let mut base = base_config();
    let proxy = PgProxy::in_front_of(&mut base).await;
    let stage = Stage::start(&base, early()).await.expect("stage starts");
    couple_up(&stage).await;
    let (_, card) = open_card(&stage.fake, ALICE).await;
    let mood = mood_select(&card);

    // A partition: the database neither answers nor closes anything.
    proxy.freeze(true);
    let t = Instant::now();
    let r = stage
        .fake
        .select(ALICE, card.id, &mood, vec!["2".into()])
        .await
        .expect("a click is answered within 3 s while the database is silent");
    eprintln!(
        "database silent: click answered in {:?}: {}",
        t.elapsed(),
        r.text()
    );
    assert!(r.is_ephemeral(), "{r:?}");
    assert!([try_again(), too_slow()].contains(&r.text()), "{r:?}");

    proxy.freeze(false);
    let r = stage
        .fake
        .select(ALICE, card.id, &mood, vec!["5".into()])
        .await
        .expect("answered after the partition");
    assert!(matches!(r, Reply::Updated(_)), "{r:?}");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_row_lock_still_gets_an_answer_in_time() {
    let stage = stage_at(early()).await;
    couple_up(&stage).await;
    let (_, card) = open_card(&stage.fake, ALICE).await;
    let mood = mood_select(&card);
    // Another session holds the round's row lock (a stuck process, a long manual fix-up):
    // alice's answer waits for it.
    let mut other = PgConnection::connect(stage.config.database.url.as_str())
        .await
        .unwrap();
    sqlx::query("begin").execute(&mut other).await.unwrap();
    sqlx::query("select id from checkins for update")
        .execute(&mut other)
        .await
        .unwrap();
    let t = Instant::now();
    let r = stage
        .fake
        .select(ALICE, card.id, &mood, vec!["2".into()])
        .await
        .expect("a click is answered within 3 s while its row is locked");
    eprintln!("row locked: click answered in {:?}", t.elapsed());
    assert!(r.is_ephemeral(), "{r:?}");
    assert_eq!(r.text(), try_again());
    sqlx::query("rollback").execute(&mut other).await.unwrap();
    let r = stage
        .fake
        .select(ALICE, card.id, &mood, vec!["5".into()])
        .await
        .unwrap();
    assert!(matches!(r, Reply::Updated(_)), "{r:?}");
    let m: i16 = sqlx::query_scalar("select mood from checkin_answers where person_id = (select person_id from identities where external_id = $1::bigint::text)")
        .bind(ALICE as i64)
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert_eq!(m, 5, "the retry is what counts");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_couple_lock_still_answers_commands_in_time() {
    let stage = stage_at(early()).await;
    couple_up(&stage).await;
    let mut other = PgConnection::connect(stage.config.database.url.as_str())
        .await
        .unwrap();
    sqlx::query("begin").execute(&mut other).await.unwrap();
    sqlx::query("select id from couples for update")
        .execute(&mut other)
        .await
        .unwrap();
    let t = Instant::now();
    let r = stage
        .cmd(ALICE, "attune pause", vec![("days", json!(2))])
        .await
        .expect("a command is answered within 3 s while the couple's row is locked");
    eprintln!("couple locked: command answered in {:?}", t.elapsed());
    assert!(r.is_ephemeral(), "{r:?}");
    assert_eq!(r.text(), try_again());
    sqlx::query("rollback").execute(&mut other).await.unwrap();
    let r = stage
        .cmd(ALICE, "attune pause", vec![("days", json!(2))])
        .await
        .unwrap();
    assert_served(&r, "/attune pause once the lock is gone");
    let status = stage.cmd(BOB, "attune status", vec![]).await.unwrap();
    assert!(status.text().contains("Paused until"), "{}", status.text());
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 3. The gateway drops or asks for a reconnect

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_drop_and_reconnect_keep_interactions_flowing() {
    let stage = stage().await;
    couple_up(&stage).await;
    let before = stage.fake.gateway_stats();

    stage.fake.drop_gateway_connections();
    // serenity may be back within microseconds, so wait for a new connection rather than
    // looking for the moment with none.
    let t = Instant::now();
    wait_for_new_connection(&stage, before.connections).await;
    stage
        .fake
        .wait_connections(1, StdDuration::from_secs(20))
        .await
        .expect("the bot comes back after a dropped connection");
    eprintln!("gateway drop: back in {:?}", t.elapsed());
    let r = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    assert_served(&r, "/attune status after a drop");
    let mid = stage.fake.gateway_stats();
    assert!(mid.connections > before.connections, "{before:?} → {mid:?}");
    assert!(
        mid.identifies + mid.resumes > before.identifies + before.resumes,
        "the bot resumed or identified again: {before:?} → {mid:?}"
    );

    stage.fake.send_reconnect();
    let t = Instant::now();
    wait_for_new_connection(&stage, mid.connections).await;
    stage
        .fake
        .wait_connections(1, StdDuration::from_secs(20))
        .await
        .expect("the bot reconnects when asked");
    eprintln!("gateway reconnect: back in {:?}", t.elapsed());
    let after = stage.fake.gateway_stats();
    assert!(after.connections > mid.connections, "{mid:?} → {after:?}");
    // Buttons and selects work too, not only commands.
    let (_, card) = open_card(&stage.fake, BOB).await;
    let r = stage
        .fake
        .select(BOB, card.id, &mood_select(&card), vec!["3".into()])
        .await
        .unwrap();
    assert!(matches!(r, Reply::Updated(_)), "{r:?}");
    finish(stage).await;
}

/// Waits until the stand-in has seen more gateway connections than `seen`.
async fn wait_for_new_connection(stage: &Stage, seen: u64) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while stage.fake.gateway_stats().connections <= seen {
        assert!(
            Instant::now() < deadline,
            "the bot never opened a new gateway connection"
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 4. kill -9 of the real binary mid-burst and mid-answers

const BURST: u64 = 300;
const FIRST_BURST_CHANNEL: u64 = 8_000_000_000;

pub(crate) fn spawn_bot(fake: &FakeDiscord, db: &url::Url, log: &Path) -> tokio::process::Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_attune"))
        .arg("run")
        .env("ATTUNE_DISCORD__TOKEN", "x")
        .env("ATTUNE_DISCORD__PROXY_URL", fake.http_url())
        .env("DATABASE_URL", db.as_str())
        .env_remove("ATTUNE_DATABASE__URL")
        // Made on the first start next to the log, read again after each restart.
        .env("ATTUNE_PRIVACY__KEY_FILE", log.with_extension("key"))
        .env("ATTUNE_SCHEDULER__POLL_INTERVAL_MS", "50")
        .env("ATTUNE_SCHEDULER__LEASE_SECS", "5")
        // A lease must cover one request (scheduler.lease >= discord.request_timeout).
        .env("ATTUNE_DISCORD__REQUEST_TIMEOUT_SECS", "5")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        // A failing test must not leave a bot running.
        .kill_on_drop(true)
        .spawn()
        .expect("start the attune binary")
}

async fn kill_9(child: &mut tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let ok = tokio::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .await
        .unwrap();
    assert!(ok.success());
    let _ = child.wait().await;
}

/// Prints the bot's log when the test fails, so a failure can be diagnosed.
pub(crate) struct LogOnPanic(pub(crate) PathBuf);

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.0).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(150).collect();
            eprintln!("---- attune log (last 150 lines, newest last) ----");
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("key"));
    }
}

/// What the answering loop saw: for each sent interaction its note or mood, and whether
/// the bot confirmed it (the card updated).
#[derive(Default)]
struct Sent {
    notes: Vec<(u32, bool)>,
    moods: Vec<(i16, bool)>,
    confirmed_after_restart: u32,
}

/// Values that may be in the database now: the last confirmed one and anything sent after
/// it (an interaction that committed but whose answer died with the process).
fn acceptable<T: Copy>(sent: &[(T, bool)]) -> Vec<T> {
    let from = sent.iter().rposition(|(_, ok)| *ok).unwrap_or(0);
    sent[from..].iter().map(|(v, _)| *v).collect()
}

async fn answer_loop(
    fake: FakeDiscord,
    card: FakeMessage,
    modal: ModalView,
    stop: Arc<AtomicBool>,
    restarted: Arc<AtomicBool>,
) -> Sent {
    let mood = mood_select(&card);
    let mut sent = Sent::default();
    let mut i = 0u32;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let note = format!("note-{i}");
        let after_restart = restarted.load(Ordering::SeqCst);
        let r = fake
            .submit_modal(ALICE, &modal, vec![("note", note.as_str())])
            .await;
        let ok = matches!(r, Ok(Reply::Updated(_)));
        sent.notes.push((i, ok));
        let m = (i % 5 + 1) as i16;
        let r = fake
            .select(ALICE, card.id, &mood, vec![m.to_string()])
            .await;
        let ok2 = matches!(r, Ok(Reply::Updated(_)));
        sent.moods.push((m, ok2));
        if after_restart && ok && ok2 {
            sent.confirmed_after_restart += 1;
        }
        if !(ok && ok2) {
            // The bot is away (killed, or not connected yet): try again shortly.
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }
    sent
}

async fn scalar(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_posts_each_prompt_once_and_keeps_acknowledged_answers() {
    init_logging();
    let started = Instant::now();
    let fake = FakeDiscord::start(couple_demo(), fake_options())
        .await
        .unwrap();
    let base = base_config();
    let mut db = base.database.clone();
    db.url
        .set_path(&format!("attune_kill9_{}", uuid::Uuid::new_v4().simple()));
    let pool = store::connect(&db).await.expect("scratch database");
    let log = std::env::temp_dir().join(format!("attune-kill9-{}.log", uuid::Uuid::new_v4()));
    let _dump = LogOnPanic(log.clone());

    // BURST couples, each with a check-in post due now (real time: the binary's clock), and
    // alice and bob in the demo channel to answer while the burst runs.
    let now = Utc::now();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..BURST {
        let (couple, a, _) = create_couple(
            &mut tx,
            7_000_000 + i,
            FIRST_BURST_CHANNEL + i,
            1_000_000_000 + 2 * i,
            1_000_000_001 + 2 * i,
            now - chrono::Duration::days(1),
        )
        .await;
        let job = Job::post(couple, a, Slot::Morning, now.date_naive());
        store::jobs::schedule(&mut *tx, &job, now, now - chrono::Duration::days(1))
            .await
            .unwrap();
    }
    create_couple(&mut tx, GUILD, CHANNEL, ALICE, BOB, now).await;
    tx.commit().await.unwrap();

    let mut bot = spawn_bot(&fake, &db.url, &log);
    fake.wait_connections(1, StdDuration::from_secs(30))
        .await
        .expect("the binary connects");
    fake.wait_commands_registered(StdDuration::from_secs(10))
        .await
        .unwrap();

    // alice answers in a loop (note modal + mood select) while the burst posts.
    let (_, card) = open_card(&fake, ALICE).await;
    let modal = fake
        .click_button(
            ALICE,
            card.id,
            &card.control(Act::Checkin(CheckinAction::Note)).unwrap(),
        )
        .await
        .unwrap()
        .modal()
        .cloned()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let answers = tokio::spawn(answer_loop(
        fake.clone(),
        card.clone(),
        modal,
        stop.clone(),
        restarted.clone(),
    ));

    let burst_posts = |f: &FakeDiscord| {
        f.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("/channels/8"))
            .count() as u64
    };
    // kill -9 a third of the way through the burst.
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while burst_posts(&fake) < BURST / 3 {
        assert!(Instant::now() < deadline, "the burst did not start");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    kill_9(&mut bot).await;
    let at_kill = burst_posts(&fake);
    eprintln!(
        "kill -9 after {at_kill} of {BURST} burst posts ({:?} in)",
        started.elapsed()
    );
    assert!(at_kill < BURST, "killed mid-burst");

    let mut bot = spawn_bot(&fake, &db.url, &log);
    restarted.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + StdDuration::from_secs(40);
    loop {
        let posted = scalar(
            &pool,
            "select count(*) from checkin_posts p join couples c on c.id = p.couple_id
              join rooms r on r.id = c.room_id
              where r.external_id::bigint >= 8000000000 and p.message_id is not null",
        )
        .await;
        let running = scalar(&pool, "select count(*) from jobs where status = 'running'").await;
        if posted as u64 == BURST && running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the restart only {posted} of {BURST} prompts were confirmed, {running} jobs running"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    eprintln!("burst complete {:?} in", started.elapsed());
    // Let the answering loop run a little longer on the new process, then stop it.
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let sent = answers.await.unwrap();

    // Every due prompt reached its channel exactly once.
    for i in 0..BURST {
        let n = fake.messages(FIRST_BURST_CHANNEL + i).len();
        assert_eq!(n, 1, "channel {i} got {n} prompts");
    }
    // A prompt sent again by the new process (its first send was in flight at the kill)
    // carried the first send's nonce, so Discord could hand back the first message.
    let mut by_channel: std::collections::HashMap<String, Vec<serde_json::Value>> =
        std::collections::HashMap::new();
    for r in fake.requests() {
        if r.method == "POST" && r.path.contains("/channels/8") {
            let body = r.body.unwrap_or_default();
            assert_eq!(body["enforce_nonce"], json!(true), "{}", r.path);
            by_channel
                .entry(r.path)
                .or_default()
                .push(body["nonce"].clone());
        }
    }
    let resent = by_channel.values().filter(|n| n.len() > 1).count();
    for (path, nonces) in &by_channel {
        assert!(
            nonces.iter().all(|n| n == &nonces[0] && n.is_string()),
            "{path}: {nonces:?}"
        );
    }
    eprintln!("{resent} prompts were sent again after the kill, each with its first nonce");
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from jobs where kind = 'checkin_post' and status = 'done'
              and due_at <= now()"
        )
        .await as u64,
        BURST,
        "every burst job finished"
    );
    // No job is left behind a dead process's lease.
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from jobs where status = 'running' and lease_until < now()"
        )
        .await,
        0
    );

    // Every answer the bot confirmed before (or after) the kill is in the database.
    let confirmed = sent.notes.iter().filter(|(_, ok)| *ok).count();
    assert!(
        confirmed >= 2 && sent.confirmed_after_restart >= 1,
        "alice could answer before and after the kill: {confirmed} confirmed, {} after restart",
        sent.confirmed_after_restart
    );
    let (checkin, person, note, mood): (uuid::Uuid, uuid::Uuid, Option<String>, Option<i16>) =
        sqlx::query_as("select checkin_id, person_id, note, mood from checkin_answers where person_id = (select person_id from identities where external_id = $1::bigint::text)")
            .bind(ALICE as i64)
            .fetch_one(&pool)
            .await
            .unwrap();
    // The spawned bot made its own key on first start and sealed the note with it.
    let key = std::fs::read_to_string(log.with_extension("key")).expect("the bot's key file");
    let keys = attune::crypto::Keyring::parse(Some(key.trim()), &[]).unwrap();
    let place = attune::store::privacy::note_place(
        attune::domain::ids::CheckinId(checkin),
        attune::domain::ids::PersonId(person),
    );
    let note: u32 = note
        .as_deref()
        .inspect(|n| assert!(n.starts_with(attune::crypto::SEALED), "sealed at rest: {n}"))
        .and_then(|n| keys.open(n, &place).ok())
        .as_deref()
        .and_then(|n| n.strip_prefix("note-"))
        .and_then(|n| n.parse().ok())
        .expect("a saved note");
    assert!(
        acceptable(&sent.notes).contains(&note),
        "saved note-{note}, but the last confirmed was {:?}",
        sent.notes.iter().rev().find(|(_, ok)| *ok)
    );
    let mood = mood.expect("a saved mood");
    assert!(
        acceptable(&sent.moods).contains(&mood),
        "saved mood {mood}, sent {:?}",
        sent.moods
    );
    eprintln!(
        "answers: {} sent, {} confirmed; whole test {:?}",
        sent.notes.len() + sent.moods.len(),
        confirmed + sent.moods.iter().filter(|(_, ok)| *ok).count(),
        started.elapsed()
    );

    kill_9(&mut bot).await;
    let violations = fake.violations();
    fake.shutdown().await;
    pool.close().await;
    store::drop_database(&db.url).await.unwrap();
    assert!(
        violations.is_empty(),
        "the stand-in recorded violations:\n{violations:#?}"
    );
}
