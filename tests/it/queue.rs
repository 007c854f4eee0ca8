//! The job queue held to what trusted queues promise (issue 13), through the stand-in against
//! real Postgres: nothing dropped through an outage and rate limits, never twice at once, one
//! clock for processes whose clocks differ, exactly once past Discord's nonce window, errors
//! sorted by what they mean, limits shared between processes, a supervised loop, rounds
//! without races, and several processes starting and upgrading together. Each test asserts
//! what a person (or the host) would notice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use crate::faults::{spawn_bot, LogOnPanic, PgProxy};
use crate::support::*;
use async_trait::async_trait;
use attune::domain::clock::{Clock, ManualClock, SkewedClock};
use attune::domain::couple::Room;
use attune::domain::ids::{MessageRef, PersonRef, TransportKind};
use attune::domain::jobs::Job;
use attune::domain::schedule::Slot;
use attune::sandbox::fake::{couple_demo, fake_options, FakeDiscord, FakeMessage, Fault};
use attune::sandbox::stage::{Stage, ALICE, BOB, CHANNEL};
use attune::store;
use attune::transport::{Caps, Card, PostError, Transport, Transports};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{Connection, PgConnection};

/// `n` couples written straight into the database, each in its own channel from `first`,
/// with one partner's morning check-in due at `due` and rounds open `window` minutes
/// (`None`: the default 12 hours). Returns the channels.
async fn seed_posts(
    stage: &Stage,
    first: u64,
    n: u64,
    due: DateTime<Utc>,
    window: Option<i32>,
) -> Vec<u64> {
    let mut tx = stage.pool().begin().await.unwrap();
    let mut channels = Vec::new();
    for i in 0..n {
        let channel = first + i;
        let (couple, a, _) = create_couple(
            &mut tx,
            channel + 1,
            channel,
            channel * 2,
            channel * 2 + 1,
            due - Duration::days(1),
        )
        .await;
        if let Some(w) = window {
            sqlx::query("update couples set window_minutes = $2 where id = $1")
                .bind(couple.0)
                .bind(w)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        let job = Job::post(couple, a, Slot::Morning, due.date_naive());
        store::jobs::schedule(&mut *tx, &job, due, due - Duration::days(1))
            .await
            .unwrap();
        channels.push(channel);
    }
    tx.commit().await.unwrap();
    channels
}

fn public(stage: &Stage, channel: u64) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(channel)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none())
        .collect()
}

fn is_post(m: &FakeMessage) -> bool {
    m.content.contains("it's check-in time")
}

fn is_reveal(m: &FakeMessage) -> bool {
    m.embeds
        .first()
        .and_then(|e| e["title"].as_str())
        .is_some_and(|t| t.contains("revealed"))
}

fn posts_in(stage: &Stage, channel: u64) -> usize {
    public(stage, channel).iter().filter(|m| is_post(m)).count()
}

fn reveals_in(stage: &Stage, channel: u64) -> usize {
    public(stage, channel)
        .iter()
        .filter(|m| is_reveal(m))
        .count()
}

fn post_requests(stage: &Stage, channel: u64) -> usize {
    let path = format!("/channels/{channel}/messages");
    stage
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&path))
        .count()
}

async fn scalar(stage: &Stage, sql: &'static str) -> i64 {
    count(stage, sql).await
}

/// Waits (up to 20 s) until `check` holds, or fails naming `what`.
async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

/// Wakes every scheduler and waits until each has gone round its claim loop twice, so
/// anything it would claim at the current time, it has claimed.
async fn all_go_round(bots: &[&attune::app::Running]) {
    let before: Vec<u64> = bots
        .iter()
        .map(|b| b.scheduler_liveness.as_ref().unwrap().claims())
        .collect();
    for b in bots {
        b.state.wake.notify_one();
    }
    wait_for("every scheduler to go round twice", async || {
        bots.iter()
            .zip(&before)
            .all(|(b, n)| b.scheduler_liveness.as_ref().unwrap().claims() >= n + 2)
    })
    .await;
}

/// Waits until no job is running: whatever was claimed has run to its end.
async fn quiet(stage: &Stage) {
    wait_for("running jobs to end", async || {
        scalar(stage, "select count(*) from jobs where status = 'running'").await == 0
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 1. Nothing dropped

const OUTAGE: u64 = 8_100_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_then_rate_limits_lose_nothing_and_post_nothing_twice() {
    init_logging();
    let mut base = base_config();
    // Unpaced, so fifty couples' retries stay quick; pacing has a test of its own.
    base.scheduler.max_posts_per_second = 0;
    let stage = Stage::start(&base, at("2026-11-25T07:30:00Z"))
        .await
        .expect("stage");
    // Twenty-five couples whose rounds opened at 07:40 and close at 08:10, in the outage.
    let early = seed_posts(&stage, OUTAGE, 25, at("2026-11-25T07:40:00Z"), Some(30)).await;
    stage.run_until(at("2026-11-25T07:45:00Z")).await.unwrap();
    for c in &early {
        assert_eq!(
            posts_in(&stage, *c),
            1,
            "the 07:40 posts went out before the outage"
        );
    }
    // Twenty-five whose check-ins are due at 08:00, in the outage.
    let late = seed_posts(&stage, OUTAGE + 25, 25, at("2026-11-25T08:00:00Z"), None).await;

    // Discord answers 503 to these channels for thirty simulated minutes.
    let channels = "/channels/81000000";
    stage.fake.push_fault(Fault::Status {
        path_contains: channels.into(),
        status: 503,
        retry_after: None,
        times: u32::MAX,
    });
    stage.run_until(at("2026-11-25T08:30:00Z")).await.unwrap();
    for c in &late {
        assert_eq!(posts_in(&stage, *c), 0, "nothing gets through the outage");
    }
    for c in &early {
        assert_eq!(reveals_in(&stage, *c), 0, "nothing gets through the outage");
    }
    let met = stage
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains(channels))
        .count();

    // Then it is back, but rate-limits a while, asking for 30 s each time.
    stage.fake.clear_faults();
    stage.fake.push_fault(Fault::Status {
        path_contains: channels.into(),
        status: 429,
        retry_after: Some(30.0),
        times: 60,
    });
    let next = store::jobs::next_due(stage.pool()).await.unwrap().unwrap();
    stage.clock.set(next);
    stage.settle().await.unwrap();
    let waiting: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "select due_at from jobs where status = 'pending' and last_error like 'rate limited%'",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert!(!waiting.is_empty(), "some attempts met the 429s");
    for d in &waiting {
        assert_eq!(
            *d,
            next + Duration::seconds(30),
            "each waits what Discord asked"
        );
    }

    // By the evening every post and every reveal is there, once.
    stage.run_until(at("2026-11-25T20:30:00Z")).await.unwrap();
    for c in early.iter().chain(&late) {
        assert_eq!(posts_in(&stage, *c), 1, "one check-in post in {c}");
        assert_eq!(reveals_in(&stage, *c), 1, "one reveal in {c}");
    }
    assert_eq!(
        scalar(&stage, "select count(*) from jobs where status = 'failed'").await,
        0,
        "no job failed"
    );
    assert_eq!(
        scalar(
            &stage,
            "select count(*) from checkin_posts where local_date = '2026-11-25' and message_id is not null"
        )
        .await,
        50
    );
    assert_eq!(
        scalar(
            &stage,
            "select count(*) from checkins where status = 'revealed' and reveal_message is not null"
        )
        .await,
        50
    );
    eprintln!(
        "outage: {met} requests met the 503s; {} requests in all",
        stage.fake.requests().len()
    );
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Never twice at once

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_stalls_three_leases_runs_once() {
    init_logging();
    let stage = stage_at(at("2026-11-25T06:50:00Z")).await;
    let channel = seed_posts(&stage, 8_200_000_000, 1, at("2026-11-25T07:00:00Z"), None).await[0];
    let second = stage
        .start_extra_bot(1, |_| {})
        .await
        .expect("a second process");
    let lease = Duration::from_std(stage.config.scheduler.lease).unwrap();
    // The post reaches Discord and hangs there (below the request timeout).
    stage.fake.push_fault(Fault::Delay {
        path_contains: format!("/channels/{channel}/messages"),
        delay: StdDuration::from_secs(6),
        times: 1,
    });
    stage.clock.set(at("2026-11-25T07:00:00Z"));
    stage.bot().unwrap().state.wake.notify_one();
    wait_for("the post to reach Discord", async || {
        post_requests(&stage, channel) == 1
    })
    .await;
    // Three leases pass while it hangs; both processes look for work all along.
    for _ in 0..6 {
        stage.clock.advance(lease / 2);
        all_go_round(&[stage.bot().unwrap(), &second]).await;
    }
    assert_eq!(
        post_requests(&stage, channel),
        1,
        "nobody took the job over"
    );
    stage.settle().await.unwrap();
    assert_eq!(posts_in(&stage, channel), 1);
    assert_eq!(post_requests(&stage, channel), 1, "posted by one attempt");
    let (attempts, status): (i32, String) =
        sqlx::query_as("select attempts, status from jobs where kind = 'checkin_post' and payload->>'local_date' = '2026-11-25'")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    assert_eq!((attempts, status.as_str()), (1, "done"));
    second.shutdown().await;
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 3. One clock

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_two_minutes_apart_neither_reveal_early_nor_steal_a_lease() {
    init_logging();
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    let channel = seed_posts(
        &stage,
        8_300_000_000,
        1,
        at("2026-11-25T05:10:00Z"),
        Some(30),
    )
    .await[0];
    // A second process on a host whose clock runs two minutes ahead.
    let ahead = SkewedClock {
        inner: stage.clock.clone(),
        by: Duration::minutes(2),
    };
    let skewed = stage
        .start_extra_bot_with_clock(1, Arc::new(ahead), |_| {})
        .await
        .expect("a second process");
    let bots = [stage.bot().unwrap(), &skewed];

    // A minute before the post is due, nobody posts it.
    stage.clock.set(at("2026-11-25T05:09:00Z"));
    all_go_round(&bots).await;
    quiet(&stage).await;
    assert_eq!(post_requests(&stage, channel), 0, "nothing posted early");

    // Due: one process takes it and the post hangs at Discord; the other does not take it
    // over, though by its own clock the first one's lease has run out.
    stage.fake.push_fault(Fault::Delay {
        path_contains: format!("/channels/{channel}/messages"),
        delay: StdDuration::from_secs(4),
        times: 1,
    });
    stage.clock.set(at("2026-11-25T05:10:00Z"));
    all_go_round(&bots).await;
    wait_for("the post to reach Discord", async || {
        post_requests(&stage, channel) == 1
    })
    .await;
    all_go_round(&bots).await;
    all_go_round(&bots).await;
    assert_eq!(post_requests(&stage, channel), 1, "no lease was stolen");
    stage.settle().await.unwrap();
    assert_eq!(posts_in(&stage, channel), 1);
    assert_eq!(post_requests(&stage, channel), 1, "posted by one process");

    // The round closes at 05:40. A minute before, no reveal.
    stage.clock.set(at("2026-11-25T05:39:00Z"));
    all_go_round(&bots).await;
    quiet(&stage).await;
    assert_eq!(reveals_in(&stage, channel), 0, "no early reveal");
    let (attempts, status): (i32, String) =
        sqlx::query_as("select attempts, status from jobs where kind = 'checkin_reveal'")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    assert_eq!((attempts, status.as_str()), (0, "pending"));
    // Either process may take the reveal once it is due; wait for both to be done with it.
    stage.clock.set(at("2026-11-25T05:41:00Z"));
    all_go_round(&bots).await;
    quiet(&stage).await;
    all_go_round(&bots).await;
    quiet(&stage).await;
    assert_eq!(reveals_in(&stage, channel), 1, "revealed on time, once");
    skewed.shutdown().await;
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Exactly once beyond the nonce window

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_discord_took_while_the_database_was_away_is_posted_once() {
    init_logging();
    let mut base = base_config();
    let proxy = PgProxy::in_front_of(&mut base).await;
    let stage = Stage::start(&base, at("2026-11-25T06:50:00Z"))
        .await
        .expect("stage");
    let channel = seed_posts(&stage, 8_400_000_000, 1, at("2026-11-25T07:00:00Z"), None).await[0];
    let metrics = &stage.bot().unwrap().state.metrics;
    let retried = metrics.jobs("checkin_post", "retried");
    // Discord takes the post but its answer comes late; by then the database is gone.
    stage.fake.push_fault(Fault::SlowAnswer {
        path_contains: format!("/channels/{channel}/messages"),
        delay: StdDuration::from_millis(1500),
        times: 1,
    });
    stage.clock.set(at("2026-11-25T07:00:00Z"));
    stage.bot().unwrap().state.wake.notify_one();
    stage
        .fake
        .wait_for_message(channel, StdDuration::from_secs(10), is_post)
        .await
        .expect("Discord took the post");
    proxy.pause();
    wait_for("the attempt to give up", async || {
        metrics.jobs("checkin_post", "retried") > retried
    })
    .await;
    // Ten minutes later (Discord's nonce window is long over) the database is back.
    stage.clock.advance(Duration::minutes(10));
    proxy.resume();
    stage.settle().await.unwrap();
    let posts: Vec<FakeMessage> = public(&stage, channel)
        .into_iter()
        .filter(is_post)
        .collect();
    assert_eq!(posts.len(), 1, "one post, not two");
    let recorded: Option<String> = sqlx::query_scalar("select message_id from checkin_posts")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert_eq!(
        recorded,
        Some(posts[0].id.to_string()),
        "the post is the one recorded"
    );
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Errors sorted by what they mean

/// One partner answers the newest check-in post: mood and guess, then Done.
async fn answer(stage: &Stage, user: u64, mood: u8) {
    let post = public(stage, CHANNEL)
        .into_iter()
        .rev()
        .find(|m| {
            m.content
                .contains(&format!("<@{user}>, it's check-in time"))
        })
        .expect("a post");
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
    for a in [CheckinAction::Mood, CheckinAction::Guess] {
        f.select(
            user,
            card.id,
            &card.control(Act::Checkin(a)).unwrap(),
            vec![mood.to_string()],
        )
        .await
        .unwrap();
    }
    let done = f
        .message(card.id)
        .unwrap()
        .control(Act::Checkin(CheckinAction::Submit))
        .unwrap();
    f.click_button(user, card.id, &done).await.unwrap();
}

async fn unreachable(stage: &Stage) -> bool {
    scalar(
        stage,
        "select count(*) from couples where unreachable_since is not null",
    )
    .await
        > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_attach_files_the_recap_posts_without_its_chart() {
    init_logging();
    // Friday 27 November 2026: one day of check-ins, then Sunday's recap.
    let stage = stage_at(at("2026-11-27T05:00:00Z")).await;
    couple_with_zones(&stage, "UTC", "UTC").await;
    stage.run_until(at("2026-11-27T08:00:00Z")).await.unwrap();
    answer(&stage, ALICE, 4).await;
    answer(&stage, BOB, 3).await;
    stage.settle().await.unwrap();
    stage.fake.deny_attachments(CHANNEL, true);
    stage.run_until(at("2026-11-29T18:30:00Z")).await.unwrap();
    let recaps: Vec<FakeMessage> = public(&stage, CHANNEL)
        .into_iter()
        .filter(|m| m.content.starts_with("Your weekly recap"))
        .collect();
    assert_eq!(recaps.len(), 1, "the recap is posted");
    assert!(recaps[0].attachments.is_empty(), "without its chart");
    assert!(
        recaps[0].embeds[0].get("image").is_none(),
        "{:?}",
        recaps[0].embeds
    );
    assert!(
        !unreachable(&stage).await,
        "the couple is not paused for it"
    );
    let status = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    assert!(!status.text().contains("Paused"), "{}", status.text());
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_refuses_the_bot_pauses_the_couple_and_its_reveal_waits_for_resume() {
    init_logging();
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "UTC", "UTC").await;
    stage.run_until(at("2026-11-25T08:00:00Z")).await.unwrap();
    // The bot loses access to the channel; the partners still answer (interactions work).
    stage.fake.set_channel_forbidden(CHANNEL, true);
    answer(&stage, ALICE, 4).await;
    answer(&stage, BOB, 3).await;
    stage.settle().await.unwrap();
    assert!(unreachable(&stage).await, "the couple is paused");
    let status = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    assert!(
        status.text().contains("then `/attune resume`"),
        "status says how to resume: {}",
        status.text()
    );
    stage.run_until(at("2026-11-25T09:00:00Z")).await.unwrap();
    assert_eq!(
        scalar(
            &stage,
            "select count(*) from jobs where kind = 'checkin_reveal' and status = 'pending'"
        )
        .await,
        1,
        "the reveal waits"
    );
    // Access is back and they resume: the reveal they were waiting for comes.
    stage.fake.set_channel_forbidden(CHANNEL, false);
    stage.cmd(BOB, "attune resume", vec![]).await.unwrap();
    stage.settle().await.unwrap();
    assert_eq!(reveals_in(&stage, CHANNEL), 1, "late beats never");
    assert!(!unreachable(&stage).await);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_proxy_url_stops_start_up_and_never_pauses_a_couple() {
    init_logging();
    // At start-up: the bot refuses to run, naming the key.
    let base = base_config();
    let fake = FakeDiscord::start(couple_demo(), fake_options())
        .await
        .unwrap();
    let (mut config, pool) = attune::sandbox::stage::scratch_database(&base)
        .await
        .unwrap();
    config.discord.token = Some("x".to_string().into());
    config.discord.proxy_url = Some(format!("{}/not-discord", fake.http_url()).parse().unwrap());
    let clock = Arc::new(ManualClock::new(at("2026-11-25T05:00:00Z")));
    let started = attune::app::start_with_pool(config.clone(), clock, pool.clone()).await;
    let err = match started {
        Ok(running) => {
            running.shutdown().await;
            panic!("the bot started with a proxy URL that leads nowhere");
        }
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("discord.proxy_url"), "{err}");
    fake.shutdown().await;
    pool.close().await;
    store::drop_database(&config.database.url).await.unwrap();

    // At run time (the proxy changed under a running bot): 404s from something that is not
    // Discord's API retry, and pause nobody.
    let mut base = base_config();
    base.ops.listen = Some("127.0.0.1:0".parse().unwrap());
    let stage = Stage::start(&base, at("2026-11-25T06:50:00Z"))
        .await
        .unwrap();
    let channel = seed_posts(&stage, 8_500_000_000, 1, at("2026-11-25T07:00:00Z"), None).await[0];
    stage.fake.push_fault(Fault::Status {
        path_contains: format!("/channels/{channel}/messages"),
        status: 404,
        retry_after: None,
        times: 1,
    });
    stage.run_until(at("2026-11-25T07:00:00Z")).await.unwrap();
    assert!(
        !unreachable(&stage).await,
        "nobody is paused for the host's proxy"
    );
    stage.run_until(at("2026-11-25T07:01:00Z")).await.unwrap();
    assert_eq!(posts_in(&stage, channel), 1, "posted once the route works");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_bot_with_a_clear_message() {
    init_logging();
    let fake = FakeDiscord::start(couple_demo(), fake_options())
        .await
        .unwrap();
    let base = base_config();
    let mut db = base.database.clone();
    db.url
        .set_path(&format!("attune_401_{}", uuid::Uuid::new_v4().simple()));
    let pool = store::connect(&db).await.expect("scratch database");
    let log = std::env::temp_dir().join(format!("attune-401-{}.log", uuid::Uuid::new_v4()));
    let _dump = LogOnPanic(log.clone());
    let channel = 8_600_000_000;
    let now = Utc::now();
    let mut tx = pool.begin().await.unwrap();
    let (couple, a, _) = create_couple(&mut tx, 1, channel, 11, 12, now - Duration::days(1)).await;
    store::jobs::schedule(
        &mut *tx,
        &Job::post(couple, a, Slot::Morning, now.date_naive()),
        now,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // The token is reset in the developer portal while the bot runs: Discord answers 401.
    fake.push_fault(Fault::Status {
        path_contains: "/channels/".into(),
        status: 401,
        retry_after: None,
        times: u32::MAX,
    });
    let mut bot = spawn_bot(&fake, &db.url, &log);
    let exit = tokio::time::timeout(StdDuration::from_secs(30), bot.wait())
        .await
        .expect("the bot stops by itself")
        .unwrap();
    assert!(!exit.success(), "it stops with a failure");
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.contains("Discord refused the bot token") && out.contains("discord.token"),
        "a clear message for the host:\n{out}"
    );
    let pending: i64 = sqlx::query_scalar("select count(*) from jobs where status = 'pending' and kind = 'checkin_post' and due_at <= now() + interval '1 hour'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        pending, 1,
        "the post waits for a fixed token rather than failing"
    );
    fake.shutdown().await;
    pool.close().await;
    store::drop_database(&db.url).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 6. Shared limits and a supervised loop

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_token_stay_under_the_global_limit_together() {
    init_logging();
    let mut base = base_config();
    // The token's budget: ten posts a second, for all processes together. Two processes
    // pacing alone would post 20 a second, over the limit below; paced together they stay
    // under it even when a loaded machine wakes a few posts late (up to 0.8 s).
    base.scheduler.max_posts_per_second = 10;
    let stage = Stage::start_with_fake(&base, at("2026-11-25T06:50:00Z"), couple_demo(), |o| {
        // Discord's global limit, scaled down with the budget.
        o.global_rate_limit = Some(18);
    })
    .await
    .expect("stage");
    let second = stage
        .start_extra_bot(1, |_| {})
        .await
        .expect("a second process");
    let channels = seed_posts(&stage, 8_700_000_000, 40, at("2026-11-25T07:00:00Z"), None).await;
    stage.clock.set(at("2026-11-25T07:00:00Z"));
    second.state.wake.notify_one();
    stage.settle().await.unwrap();
    for c in &channels {
        assert_eq!(posts_in(&stage, *c), 1);
    }
    second.shutdown().await;
    // The stand-in records every request over its global limit as a violation.
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_never_holds_up_due_posts() {
    init_logging();
    let mut base = base_config();
    base.privacy.retention_days = Some(30);
    let stage = Stage::start(&base, at("2026-11-25T05:00:00Z"))
        .await
        .unwrap();
    couple_with_zones(&stage, "UTC", "UTC").await;
    // An answer old enough to be swept, whose row someone is holding (a long fix-up).
    let post = stage
        .cmd(ALICE, "checkin", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let card = stage
        .fake
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
    stage
        .fake
        .select(
            ALICE,
            card.id,
            &card.control(Act::Checkin(CheckinAction::Mood)).unwrap(),
            vec!["3".into()],
        )
        .await
        .unwrap();
    sqlx::query("update checkin_answers set updated_at = updated_at - interval '60 days'")
        .execute(stage.pool())
        .await
        .unwrap();
    let mut holder = PgConnection::connect(stage.config.database.url.as_str())
        .await
        .unwrap();
    sqlx::query("begin").execute(&mut holder).await.unwrap();
    sqlx::query("select * from checkin_answers for update")
        .execute(&mut holder)
        .await
        .unwrap();
    // An hour on, the sweep runs and waits for that row, while the 08:00 posts fall due.
    stage.clock.set(at("2026-11-25T08:00:00Z"));
    let sweep_waits = "select count(*) from pg_stat_activity where datname = current_database()
                       and wait_event_type = 'Lock' and query like 'delete from checkin_answers%'";
    wait_for("the sweep to wait for the row", async || {
        scalar(&stage, sweep_waits).await == 1
    })
    .await;
    stage.settle().await.unwrap();
    for user in [ALICE, BOB] {
        assert_eq!(
            public(&stage, CHANNEL)
                .iter()
                .filter(|m| m
                    .content
                    .contains(&format!("<@{user}>, it's check-in time")))
                .count(),
            1
        );
    }
    assert_eq!(
        scalar(&stage, sweep_waits).await,
        1,
        "posted while the sweep still waited"
    );
    sqlx::query("rollback").execute(&mut holder).await.unwrap();
    wait_for("the sweep to finish", async || {
        scalar(&stage, "select count(*) from checkin_answers").await == 0
    })
    .await;
    finish(stage).await;
}

/// A transport whose first post panics (a bug in a renderer, say); later posts are kept.
struct PanicsOnce {
    panicked: AtomicBool,
    posts: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Transport for PanicsOnce {
    fn kind(&self) -> TransportKind {
        TransportKind::Discord
    }

    fn caps(&self) -> Caps {
        Caps {
            controls: true,
            forms: true,
            ephemeral: true,
            edits: true,
            max_choices: 25,
        }
    }

    async fn post(&self, room: &Room, _card: &Card, key: &str) -> Result<MessageRef, PostError> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("a bug while posting to {}", room.external);
        }
        self.posts.lock().unwrap().push(key.to_string());
        Ok(MessageRef(format!("m-{key}")))
    }

    async fn post_private(
        &self,
        _room: &Room,
        _to: &PersonRef,
        _card: &Card,
        _key: &str,
    ) -> Result<MessageRef, PostError> {
        Err(PostError::Transient("no".into()))
    }

    async fn replace(&self, _: &Room, _: &MessageRef, _: &Card) -> Result<(), PostError> {
        Ok(())
    }

    async fn retract(&self, _: &Room, _: &MessageRef) -> Result<(), PostError> {
        Ok(())
    }

    async fn display_name(&self, _: &Room, _: &PersonRef) -> Option<String> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_is_caught_and_retried_and_the_loop_goes_on() {
    init_logging();
    let mut base = base_config();
    base.scheduler.poll_interval = StdDuration::from_millis(20);
    let (config, pool) = attune::sandbox::stage::scratch_database(&base)
        .await
        .unwrap();
    let clock = ManualClock::new(at("2026-11-25T07:00:00Z"));
    let now = clock.now();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..2u64 {
        let (couple, a, _) =
            create_couple(&mut tx, 1 + i, 9_100 + i, 21 + 2 * i, 22 + 2 * i, now).await;
        store::jobs::schedule(
            &mut *tx,
            &Job::post(couple, a, Slot::Morning, now.date_naive()),
            now,
            now,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let state = Arc::new(attune::state::AppState::new(
        pool.clone(),
        Arc::new(clock.clone()),
        config.clone(),
        attune::content::Library::builtin(),
    ));
    let transport = Arc::new(PanicsOnce {
        panicked: AtomicBool::new(false),
        posts: Default::default(),
    });
    let mut transports = Transports::new();
    transports.add(transport.clone());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let scheduler = attune::scheduler::Scheduler::new(state.clone(), transports);
    let handle = scheduler.spawn(stop_rx);
    // The panicked attempt is retried after its back-off; the other job is not held up.
    wait_for("one post", async || {
        transport.posts.lock().unwrap().len() == 1
    })
    .await;
    clock.advance(Duration::seconds(5));
    wait_for("the retried post", async || {
        transport.posts.lock().unwrap().len() == 2
    })
    .await;
    // The post is made before its job is finished: wait for both to be recorded as done.
    wait_for("both jobs done", async || {
        let done: i64 = sqlx::query_scalar(
            "select count(*) from jobs where kind = 'checkin_post' and status = 'done' and due_at <= $1",
        )
        .bind(clock.now())
        .fetch_one(&pool)
        .await
        .unwrap();
        done == 2
    })
    .await;
    assert_eq!(transport.posts.lock().unwrap().len(), 2, "each posted once");
    let _ = stop.send(true);
    assert!(
        handle.await.unwrap().is_ok(),
        "the loop ran to a clean stop"
    );
    pool.close().await;
    store::drop_database(&config.database.url).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_a_scheduler_that_cannot_claim() {
    init_logging();
    let mut base = base_config();
    base.ops.listen = Some("127.0.0.1:0".parse().unwrap());
    let stage = Stage::start(&base, t0()).await.expect("stage");
    let addr = stage.bot().unwrap().ops_addr.unwrap();
    let ready = async |want: u16| {
        let deadline = Instant::now() + StdDuration::from_secs(15);
        loop {
            let got = crate::ops::get(addr, "/readyz").await;
            if got.0 == want || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    };
    assert_eq!(ready(200).await.0, 200);
    // Someone locks the job table (a long migration by hand, say): the database answers,
    // but the scheduler cannot claim anything.
    let mut holder = PgConnection::connect(stage.config.database.url.as_str())
        .await
        .unwrap();
    sqlx::query("begin").execute(&mut holder).await.unwrap();
    sqlx::query("lock table jobs in access exclusive mode")
        .execute(&mut holder)
        .await
        .unwrap();
    let (status, body) = ready(503).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("scheduler"), "{body}");
    sqlx::query("rollback").execute(&mut holder).await.unwrap();
    let (status, body) = ready(200).await;
    assert_eq!(status, 200, "ready again: {body}");
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 7. Rounds without races

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_never_joins_a_round_whose_reveal_is_running() {
    init_logging();
    let stage = stage_at(at("2026-11-25T05:00:00Z")).await;
    couple_with_zones(&stage, "UTC", "UTC").await;
    // alice's check-in at 08:00, bob's at 08:20, rounds open 30 minutes.
    stage
        .cmd(BOB, "attune schedule", vec![("morning", json!("08:20"))])
        .await
        .unwrap();
    sqlx::query("update couples set window_minutes = 30")
        .execute(stage.pool())
        .await
        .unwrap();
    stage.run_until(at("2026-11-25T08:00:00Z")).await.unwrap();
    // Another process has just taken the round's reveal (its clock ran ahead, say).
    let held = sqlx::query(
        "update jobs set status = 'running', lease_owner = gen_random_uuid(),
                lease_until = $1, attempts = attempts + 1
         where kind = 'checkin_reveal' and status = 'pending'",
    )
    .bind(at("2026-11-25T09:00:00Z"))
    .execute(stage.pool())
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(held, 1);
    // bob's post falls due meanwhile (no settling: the held reveal stays running).
    stage.clock.set(at("2026-11-25T08:20:00Z"));
    stage.bot().unwrap().state.wake.notify_one();
    stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(10), |m| {
            m.content.contains(&format!("<@{BOB}>, it's check-in time"))
        })
        .await
        .expect("bob's post");
    wait_for("bob's post to be recorded", async || {
        scalar(
            &stage,
            "select count(*) from checkin_posts where message_id is not null",
        )
        .await
            == 2
    })
    .await;
    // That process reveals the round now.
    sqlx::query("update jobs set status = 'pending', due_at = $1, lease_owner = null, lease_until = null where status = 'running'")
        .bind(at("2026-11-25T08:20:00Z"))
        .execute(stage.pool())
        .await
        .unwrap();
    stage.settle().await.unwrap();
    assert!(
        reveals_in(&stage, CHANNEL) >= 1,
        "alice's round is revealed"
    );
    // bob's post is his own round: his card opens, rather than "already revealed".
    let post = public(&stage, CHANNEL)
        .into_iter()
        .find(|m| m.content.contains(&format!("<@{BOB}>, it's check-in time")))
        .expect("bob's post");
    let r = stage
        .fake
        .click_button(
            BOB,
            post.id,
            &post.control(Act::Checkin(CheckinAction::Answer)).unwrap(),
        )
        .await
        .unwrap();
    assert!(
        r.message().is_ok_and(|m| m.selects().len() >= 2),
        "bob can answer: {}",
        r.text()
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_after_the_round_closed_is_kindly_refused_and_changes_nothing() {
    init_logging();
    let mut base = base_config();
    // No scheduler: the reveal cannot run, as when the job queue is behind.
    base.scheduler.enabled = false;
    let stage = Stage::start(&base, at("2026-11-25T05:00:00Z"))
        .await
        .unwrap();
    couple_up(&stage).await;
    let post = stage
        .cmd(ALICE, "checkin", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
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
    // The round's window (12 hours) passes.
    stage.clock.set(at("2026-11-25T17:01:00Z"));
    let before = snapshot(&stage).await;
    let r = stage
        .fake
        .select(
            BOB,
            card.id,
            &card.control(Act::Checkin(CheckinAction::Mood)).unwrap(),
            vec!["4".into()],
        )
        .await
        .unwrap();
    let closed =
        attune::content::Library::builtin().s(attune::content::copy::keys::checkin::CLOSED);
    assert!(r.is_ephemeral(), "{r:?}");
    assert_eq!(r.text(), closed, "a kind word");
    assert_eq!(snapshot(&stage).await, before, "nothing changed");
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------------
// 8. Starts and upgrades with several processes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_starting_together_on_an_empty_server_both_come_up() {
    init_logging();
    let base = base_config();
    for _ in 0..3 {
        let mut db = base.database.clone();
        db.url
            .set_path(&format!("attune_twin_{}", uuid::Uuid::new_v4().simple()));
        let (a, b) = tokio::join!(store::connect(&db), store::connect(&db));
        let a = a.expect("the first process comes up");
        let b = b.expect("the second process comes up");
        a.close().await;
        b.close().await;
        store::drop_database(&db.url).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_binary_keeps_running_against_newer_additive_migrations() {
    init_logging();
    let base = base_config();
    let (config, pool) = attune::sandbox::stage::scratch_database(&base)
        .await
        .unwrap();
    // A newer release applied an additive migration this binary does not know.
    sqlx::query("alter table jobs add column newer_note text")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99990001, 'newer additive', true, '\\x00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let pool = store::connect(&config.database)
        .await
        .expect("this binary starts against the newer schema");
    let stage = Stage::start_on(
        config.clone(),
        pool,
        at("2026-11-25T05:00:00Z"),
        couple_demo(),
    )
    .await
    .expect("and runs");
    couple_with_zones(&stage, "UTC", "UTC").await;
    stage.run_until(at("2026-11-25T08:00:00Z")).await.unwrap();
    assert_eq!(
        public(&stage, CHANNEL)
            .iter()
            .filter(|m| is_post(m))
            .count(),
        2,
        "check-ins post as before"
    );

    // A newer release that an older binary cannot live with says so, and this one stops.
    sqlx::query("update schema_floor set min_migration = 99990001")
        .execute(stage.pool())
        .await
        .unwrap();
    let err = store::connect(&config.database)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("99990001") && err.contains("upgrade this binary"),
        "{err}"
    );
    finish(stage).await;
}

#[test]
fn a_lease_shorter_than_a_request_is_refused() {
    let err = attune::config::Config::from_toml(
        "[scheduler]\nlease = \"5s\"\n[discord]\nrequest_timeout = \"10s\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("scheduler.lease"), "{err}");
}

/// An erasure belongs to no couple, so its transport comes from the job itself: a process
/// serving Discord alone takes Discord's erasures and leaves Matrix's to a process that
/// serves Matrix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_is_claimed_only_by_a_process_serving_its_transport() {
    let mut stage = stage().await;
    // The bot's own scheduler is stopped: this test claims by hand.
    stage.stop_bot().await;
    let now = stage.fake.now();
    let forget = |transport, handle: &str| Job::Forget {
        person: attune::domain::ids::PersonId::new(),
        transport,
        handle: handle.into(),
        room: "somewhere".into(),
        space: None,
    };
    let (d, m) = (
        forget(TransportKind::Discord, "1"),
        forget(TransportKind::Matrix, "@ann:example.org"),
    );
    for j in [&d, &m] {
        store::jobs::schedule(stage.pool(), j, now, now)
            .await
            .unwrap();
    }
    let claim = |transports: &'static [&'static str]| {
        let pool = stage.pool().clone();
        async move {
            store::jobs::claim(
                &pool,
                uuid::Uuid::new_v4(),
                Some(now + Duration::seconds(1)),
                Duration::seconds(60),
                10,
                transports,
                &[],
            )
            .await
            .unwrap()
            .into_iter()
            .filter_map(|c| c.job)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(claim(&["discord"]).await, vec![d]);
    assert_eq!(claim(&["matrix"]).await, vec![m]);
    assert!(claim(&["discord", "matrix"]).await.is_empty(), "both taken");
    finish(stage).await;
}
