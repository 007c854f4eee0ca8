//! Weekly recap benchmark (`cargo bench --bench recap`, needs DATABASE_URL like the tests).
//!
//! 1. One couple's recap, including the chart: adding up a full week and rendering the embed
//!    and the PNG (p50/p99 over many runs), and the same with the week read from Postgres.
//! 2. 1,000 couples' recaps in one run, end to end: 1,000 couples with a full week of revealed
//!    check-ins each, all due at the same instant, run by the real scheduler against Postgres
//!    and posted (multipart, with the chart) to the Discord stand-in. Reports the total.
//!
//! Results go in BENCHMARKS.md under "Weekly recap".

use std::time::{Duration, Instant};

use attune::config::Config;
use attune::content::Library;
use attune::domain::checkin::Mood;
use attune::domain::couple::{Couple, Partner, Room};
use attune::domain::ids::{CoupleId, PersonId, RoomId, TransportKind};
use attune::domain::jobs::Job;
use attune::domain::recap::{
    aggregate, period_of, IsoWeek, PartnerInput, PracticeExtras, RevealedAnswer, RevealedRound,
    WeekData,
};
use attune::flows::recap::{card, Kind};
use attune::sandbox::stage::{Stage, ALICE, BOB, GUILD};
use chrono::{DateTime, Duration as CDuration, Utc, Weekday};
use chrono_tz::Tz;

const COUPLES: i64 = 1_000;
const RUNS: usize = 300;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("a timestamp")
}

fn week() -> IsoWeek {
    IsoWeek::new(2026, 48).expect("a real week")
}

/// Two check-ins a day for both partners, every day, with varied moods and guesses.
fn full_week() -> WeekData {
    let start = at("2026-11-23T07:00:00Z");
    let mut rounds = Vec::new();
    for i in 0..14i64 {
        let opened = start + CDuration::hours(12 * i);
        let a = Mood::new(1 + (i * 3) % 5).expect("mood");
        let b = Mood::new(1 + (i * 7 + 2) % 5).expect("mood");
        rounds.push(RevealedRound {
            answers: vec![
                RevealedAnswer {
                    user: PersonId(uuid::Uuid::from_u128(1)),
                    at: opened + CDuration::minutes(5),
                    day: None,
                    mood: a,
                    guess: Some(b),
                },
                RevealedAnswer {
                    user: PersonId(uuid::Uuid::from_u128(2)),
                    at: opened + CDuration::minutes(50),
                    day: None,
                    mood: b,
                    guess: Mood::new(i64::from(a.value()) % 5 + 1),
                },
            ],
        });
    }
    WeekData {
        period: period_of(week(), Weekday::Sun),
        partners: vec![
            PartnerInput {
                user: PersonId(uuid::Uuid::from_u128(1)),
                zone: Tz::Europe__Berlin,
            },
            PartnerInput {
                user: PersonId(uuid::Uuid::from_u128(2)),
                zone: Tz::America__New_York,
            },
        ],
        rounds,
        extras: PracticeExtras::default(),
    }
}

/// The couple of `full_week`, as the recap's card needs it.
fn demo_couple() -> Couple {
    let partner = |n: u128, seat| Partner {
        person: PersonId(uuid::Uuid::from_u128(n)),
        handle: n.to_string(),
        seat,
        zone: None,
    };
    Couple {
        id: CoupleId::new(),
        room: Room {
            id: RoomId::new(),
            transport: TransportKind::Discord,
            external: "1".into(),
            space: None,
        },
        created_by: Some(PersonId(uuid::Uuid::from_u128(1))),
        created_at: Utc::now(),
        paused_until: None,
        unreachable_since: None,
        partners: vec![partner(1, 1), partner(2, 2)],
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{label}: n={} p50={:.2} ms p99={:.2} ms mean={:.2} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3
    );
}

fn one_couple(lib: &Library, runs: usize) -> usize {
    let data = full_week();
    let names = vec!["alice".to_string(), "bob".to_string()];
    let couple = demo_couple();
    let mut png_len = 0;
    for _ in 0..20 {
        let r = card(&aggregate(&data), &names, lib, &couple, Kind::Weekly).expect("render");
        png_len = r.image.map(|c| c.png.len()).unwrap_or(0);
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let recap = aggregate(&data);
        let r = card(&recap, &names, lib, &couple, Kind::Weekly).expect("render");
        std::hint::black_box(&r.panel);
        samples.push(t.elapsed());
    }
    report(
        "one couple, aggregate + card + chart PNG (in memory)",
        samples,
    );
    png_len
}

/// Inserts `n` couples (alice in Berlin, bob in New York, each couple in its own channel)
/// with two revealed check-ins a day for the whole week, both partners answering.
async fn seed(pool: &sqlx::PgPool, n: i64) -> anyhow::Result<Vec<CoupleId>> {
    use attune::domain::ids::TransportKind::Discord;
    let now = at("2026-11-23T00:00:00Z");
    let mut people = Vec::new();
    {
        let mut conn = pool.acquire().await?;
        for (user, zone) in [(ALICE, "Europe/Berlin"), (BOB, "America/New_York")] {
            let p =
                attune::store::people::ensure(&mut conn, Discord, &user.to_string(), now).await?;
            attune::store::people::set_zone(&mut *conn, p, zone.parse().expect("zone"), now)
                .await?;
            people.push(p.0);
        }
    }
    let (a, b) = (people[0], people[1]);
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "with r as (
            insert into rooms (id, transport, external_id, space)
            select gen_random_uuid(), 'discord', (700000000000000000 + g)::text, $1
            from generate_series(1, $4) g returning id
         )
         insert into couples (id, room_id, created_by, created_at)
         select gen_random_uuid(), r.id, $2, $3 from r
         returning id",
    )
    .bind(GUILD.to_string())
    .bind(a)
    .bind(now)
    .bind(n)
    .fetch_all(pool)
    .await?;
    sqlx::query(
        "insert into partners (couple_id, person_id, seat)
         select c.id, u.person_id, u.seat from couples c
         cross join (values ($1::uuid, 1::smallint), ($2::uuid, 2::smallint)) u(person_id, seat)",
    )
    .bind(a)
    .bind(b)
    .execute(pool)
    .await?;
    // 14 rounds per couple: 07:00Z and 19:00Z each day of the week.
    sqlx::query(
        "insert into checkins (id, couple_id, slot, round_date, opened_at, closes_at, status,
                               revealed_at, reveal_nonce)
         select gen_random_uuid(), c.id, case when h = 0 then 'morning' else 'evening' end,
                date '2026-11-23' + d, o, o + interval '12 hours', 'revealed',
                o + interval '1 hour', substr(md5(random()::text), 1, 25)
         from couples c, generate_series(0, 6) d, generate_series(0, 1) h,
              lateral (select timestamptz '2026-11-23 07:00:00+00' + d * interval '1 day'
                              + h * interval '12 hours' as o) t",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into checkin_answers (checkin_id, person_id, mood, guess, submitted, updated_at)
         select k.id, u.person_id, 1 + floor(random() * 5)::int, 1 + floor(random() * 5)::int,
                true, k.opened_at + interval '20 minutes'
         from checkins k cross join (values ($1::uuid), ($2::uuid)) u(person_id)",
    )
    .bind(a)
    .bind(b)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into checkin_posts (couple_id, person_id, slot, local_date, checkin_id, nonce,
                                    message_id, posted_at)
         select k.couple_id, u.person_id, k.slot, k.round_date, k.id,
                substr(md5(random()::text), 1, 25), '1', k.opened_at
         from checkins k cross join (values ($1::uuid), ($2::uuid)) u(person_id)",
    )
    .bind(a)
    .bind(b)
    .execute(pool)
    .await?;
    sqlx::query("analyze").execute(pool).await?;
    Ok(ids.into_iter().map(CoupleId).collect())
}

async fn one_couple_with_db(stage: &Stage, lib: &Library, couple: CoupleId) -> anyhow::Result<()> {
    let c = attune::store::couples::get(stage.pool(), couple, true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no couple"))?;
    let names = vec!["alice".to_string(), "bob".to_string()];
    let period = period_of(week(), Weekday::Sun);
    let mut samples = Vec::with_capacity(RUNS);
    for i in 0..RUNS + 20 {
        let t = Instant::now();
        let mut conn = stage.pool().acquire().await?;
        let data = attune::store::recap::week_data(&mut conn, &c, period).await?;
        drop(conn);
        let r = card(&aggregate(&data), &names, lib, &c, Kind::Weekly)?;
        std::hint::black_box(&r.panel);
        if i >= 20 {
            samples.push(t.elapsed());
        }
    }
    report(
        "one couple, week read from Postgres + aggregate + card + chart PNG",
        samples,
    );
    Ok(())
}

async fn thousand(stage: &Stage, couples: &[CoupleId]) -> anyhow::Result<()> {
    let due = at("2026-11-29T17:00:00Z");
    let mut tx = stage.pool().begin().await?;
    for c in couples {
        attune::store::jobs::schedule(&mut *tx, &Job::weekly_recap(*c, week()), due, due).await?;
    }
    tx.commit().await?;
    let t = Instant::now();
    stage.clock.set(due);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // settle() wakes the scheduler and gives up after 15 s; a bigger run just keeps going.
        let _ = stage.settle().await;
        let posted: i64 =
            sqlx::query_scalar("select count(*) from recaps where message_id is not null")
                .fetch_one(stage.pool())
                .await?;
        if posted >= couples.len() as i64 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {posted} recaps posted");
    }
    let total = t.elapsed();
    let failed: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'weekly_recap' and status in ('failed', 'missed')",
    )
    .fetch_one(stage.pool())
    .await?;
    let attached = stage
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST"
                && r.path.contains("/channels/7")
                && r.body
                    .as_ref()
                    .is_some_and(|b| b["attachments"][0]["description"].is_string())
        })
        .count();
    println!(
        "{} couples' recaps, end to end (scheduler + Postgres + chart + multipart post to the stand-in): total {:.2} s, {:.1} ms per couple, {:.0} recaps/s; {attached} posts with the chart, {failed} failed or missed",
        couples.len(),
        total.as_secs_f64(),
        total.as_secs_f64() * 1e3 / couples.len() as f64,
        couples.len() as f64 / total.as_secs_f64()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; a plain run (e.g. `cargo test --benches`) does a quick check.
    let quick = !std::env::args().any(|a| a == "--bench");
    let lib = Library::builtin();
    println!(
        "Weekly recap benchmark ({} build, {} cores)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // The quick run (part of `cargo test --all-targets`) only checks that it works.
    let png = one_couple(&lib, if quick { 10 } else { RUNS });
    println!("chart PNG: {png} bytes");
    if quick {
        println!("(quick run: pass --bench, as `cargo bench` does, for the 1,000-couple run)");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let config = Config::from_env_only()?;
        let stage = Stage::start(&config, at("2026-11-29T16:00:00Z")).await?;
        let couples = seed(stage.pool(), COUPLES).await?;
        one_couple_with_db(&stage, &lib, couples[0]).await?;
        let result = thousand(&stage, &couples).await;
        let violations = stage.fake.violations();
        stage.teardown().await?;
        result?;
        anyhow::ensure!(
            violations.is_empty(),
            "the stand-in saw violations: {violations:?}"
        );
        Ok(())
    })
}
