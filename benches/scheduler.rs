//! Scheduler throughput: N couples whose check-ins all fall due at the same moment, the
//! stand-in answering at once, with one or two bot instances sharing one database.
//!
//! `cargo bench --bench scheduler -- [--couples N] [--processes 1|2] [--pool N] [--pace N]
//! [--count N] [--stale-stats 1]`
//! Prints deliveries per second and the delay from due time to the post reaching the
//! stand-in (p50/p90/p99/max); then, on the same database, pool size and machine, the bare
//! Postgres floor (a `FOR UPDATE SKIP LOCKED` claim-and-finish of trivial jobs, one per
//! transaction and 100 per claim) and the full path as a ratio of each; then, in a second,
//! smaller pass (`--count`, default 500 couples) through a counting TCP proxy, Postgres round
//! trips and commits per delivered post. Needs Postgres (DATABASE_URL or 127.0.0.1:5432).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune::app;
use attune::config::Config;
use attune::domain::clock::SystemClock;
use attune::domain::jobs::Job;
use attune::domain::schedule::Slot;
use attune::sandbox::fake::{couple_demo, fake_options, FakeDiscord};
use attune::store;
use chrono::Utc;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What one drain of N due posts showed.
struct Drain {
    posts: usize,
    duplicates: i64,
    span_s: f64,
    delays: Vec<f64>,
    /// Commits in the bench database while draining (from `pg_stat_database`), less the
    /// bench's own progress queries.
    commits: i64,
    /// The bench's own queries during the drain (each one round trip), to leave out.
    own_queries: i64,
    violations: usize,
}

/// Seeds `couples` couples with one post due at the same instant on a fresh database at
/// `url`, starts the bot(s) and waits until every post is delivered.
/// `mark` runs once the posts are seeded and the bots are up, as the drain starts.
async fn drain(
    mut config: Config,
    url: &Url,
    couples: usize,
    processes: usize,
    analyze: bool,
    mark: impl FnOnce(),
) -> anyhow::Result<Drain> {
    let fake = FakeDiscord::start(couple_demo(), fake_options()).await?;
    config.database.url = url.clone();
    config.discord.token = Some("bench-token".to_string().into());
    config.discord.proxy_url = Some(Url::parse(&fake.http_url())?);
    let pool = store::connect(&config.database).await?;

    let due = Utc::now() + chrono::Duration::seconds(3 + (couples as i64) / 2000);
    let mut tx = pool.begin().await?;
    for i in 0..couples as u64 {
        let (couple, a, _) = attune::sandbox::stage::seed_discord_couple(
            &mut tx,
            7_000_000 + i,
            8_000_000_000 + i,
            1_000_000_000 + 2 * i,
            1_000_000_001 + 2 * i,
            due - chrono::Duration::days(1),
        )
        .await?;
        let job = Job::post(couple, a, Slot::Morning, due.date_naive());
        store::jobs::schedule(&mut *tx, &job, due, due - chrono::Duration::days(1)).await?;
    }
    tx.commit().await?;
    if analyze {
        // The statistics autovacuum would have gathered on a database that grew to this size
        // over weeks, rather than the empty tables' from a second ago.
        sqlx::query("analyze").execute(&pool).await?;
    }

    let mut bots = Vec::new();
    for _ in 0..processes {
        let p = store::connect(&config.database).await?;
        bots.push(app::start_with_pool(config.clone(), Arc::new(SystemClock), p).await?);
    }
    fake.wait_connections(processes, Duration::from_secs(30))
        .await?;
    let commits_before = commits(&pool).await?;
    mark();
    let mut own_queries = 0;

    let anchor_instant = Instant::now();
    let anchor_wall = Utc::now();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let posted: i64 =
            sqlx::query_scalar("select count(*) from checkin_posts where message_id is not null")
                .fetch_one(&pool)
                .await?;
        own_queries += 1;
        if posted as usize >= couples || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut delays: Vec<f64> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/channels/8"))
        .map(|r| {
            let wall = anchor_wall
                + chrono::Duration::from_std(r.at.saturating_duration_since(anchor_instant))
                    .unwrap_or_default();
            (wall - due).num_microseconds().unwrap_or(0) as f64 / 1000.0
        })
        .collect();
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // What a couple would notice: a second post in their channel.
    let channels: std::collections::HashSet<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/channels/8"))
        .map(|r| r.path)
        .collect();
    let duplicates = delays.len() as i64 - channels.len() as i64;
    for b in bots {
        b.shutdown().await;
    }
    // Postgres publishes a backend's counters when its transaction ends, at most once a
    // second while it is busy: wait them out before reading.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let commits = commits(&pool).await? - commits_before - own_queries;
    let violations = fake.violations().len();
    pool.close().await;
    fake.shutdown().await;
    store::drop_database(url).await?;
    Ok(Drain {
        posts: delays.len(),
        duplicates,
        span_s: delays.last().copied().unwrap_or(0.0) / 1000.0,
        delays,
        commits,
        own_queries: own_queries + 1,
        violations,
    })
}

async fn commits(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select xact_commit from pg_stat_database where datname = current_database()",
    )
    .fetch_one(pool)
    .await?)
}

/// The bare floor on the same database and pool size: `jobs` trivial rows claimed with
/// `FOR UPDATE SKIP LOCKED` and finished, `per_claim` per transaction, by `workers` workers.
/// Returns jobs per second.
async fn floor(pool: &PgPool, jobs: usize, per_claim: i64, workers: usize) -> anyhow::Result<f64> {
    sqlx::query("drop table if exists floor_jobs")
        .execute(pool)
        .await?;
    sqlx::query(
        "create table floor_jobs (id bigserial primary key, due_at timestamptz not null,
         status text not null default 'pending', finished_at timestamptz)",
    )
    .execute(pool)
    .await?;
    sqlx::query("create index floor_ready on floor_jobs (due_at) where status = 'pending'")
        .execute(pool)
        .await?;
    sqlx::query("insert into floor_jobs (due_at) select now() from generate_series(1, $1)")
        .bind(jobs as i64)
        .execute(pool)
        .await?;
    sqlx::query("vacuum analyze floor_jobs")
        .execute(pool)
        .await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let pool = pool.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let mut tx = pool.begin().await?;
                let ids: Vec<i64> = sqlx::query_scalar(
                    "select id from floor_jobs where status = 'pending' and due_at <= now()
                     order by due_at limit $1 for update skip locked",
                )
                .bind(per_claim)
                .fetch_all(&mut *tx)
                .await?;
                if ids.is_empty() {
                    tx.commit().await?;
                    return anyhow::Ok(());
                }
                sqlx::query(
                    "update floor_jobs set status = 'done', finished_at = now() where id = any($1)",
                )
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    sqlx::query("drop table floor_jobs").execute(pool).await?;
    Ok(jobs as f64 / secs)
}

/// Counts the Postgres round trips that pass through it: each frontend `Sync` (extended
/// protocol) or `Query` (simple protocol) message is one wait for the server.
struct CountingProxy {
    addr: std::net::SocketAddr,
    round_trips: Arc<AtomicU64>,
}

async fn counting_proxy(target: String) -> anyhow::Result<CountingProxy> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let round_trips = Arc::new(AtomicU64::new(0));
    let count = round_trips.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let target = target.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&target).await else {
                    return;
                };
                // Small writes both ways: without this, Nagle and delayed ACKs add tens of
                // milliseconds to every round trip.
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let back = tokio::spawn(async move { tokio::io::copy(&mut sr, &mut cw).await });
                let _ = forward_counting(&mut cr, &mut sw, &count).await;
                back.abort();
            });
        }
    });
    Ok(CountingProxy { addr, round_trips })
}

async fn forward_counting(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    count: &AtomicU64,
) -> anyhow::Result<()> {
    // The startup message has no type byte: a length, then the rest.
    let len = from.read_i32().await?;
    let mut rest = vec![0; len as usize - 4];
    from.read_exact(&mut rest).await?;
    to.write_i32(len).await?;
    to.write_all(&rest).await?;
    loop {
        let kind = from.read_u8().await?;
        let len = from.read_i32().await?;
        let mut rest = vec![0; len as usize - 4];
        from.read_exact(&mut rest).await?;
        if kind == b'S' || kind == b'Q' {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let mut message = Vec::with_capacity(rest.len() + 5);
        message.push(kind);
        message.extend_from_slice(&len.to_be_bytes());
        message.extend_from_slice(&rest);
        to.write_all(&message).await?;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let couples = arg("--couples", 10_000);
    let processes = arg("--processes", 1).clamp(1, 4);
    let counted = arg("--count", 500);
    let mut config = Config::from_env_only().map_err(|e| anyhow::anyhow!("{e}"))?;
    let base: Url = config.database.url.clone();
    let mut url = base.clone();
    url.set_path(&format!("attune_bench_{}", uuid::Uuid::new_v4().simple()));
    config.database.max_connections = arg("--pool", 10) as u32;
    config.scheduler.batch_size = 100;
    config.scheduler.poll_interval = Duration::from_millis(20);
    // 0: measure the bot's own throughput; 40: the production pacing under Discord's limit.
    config.scheduler.max_posts_per_second = arg("--pace", 0) as u32;
    // The spec check stays on (it is what CI runs).
    let analyze = arg("--stale-stats", 0) == 0;
    let d = drain(config.clone(), &url, couples, processes, analyze, || ()).await?;
    let rate = d.posts as f64 / d.span_s.max(1e-9);
    println!(
        "scheduler bench: {couples} couples due at one instant, {processes} bot instance(s), batch {}, pool {} each, pacing {}/s (0 = off), {}",
        config.scheduler.batch_size, config.database.max_connections, config.scheduler.max_posts_per_second,
        if analyze { "tables analyzed after seeding" } else { "statistics left as the bulk seed made them (--stale-stats 1)" }
    );
    println!(
        "  posts delivered: {} (duplicates: {}); all delivered {:.2} s after due → {rate:.0} deliveries/s",
        d.posts, d.duplicates, d.span_s
    );
    if !d.delays.is_empty() {
        println!(
            "  delay due→post (ms): p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
            pct(&d.delays, 0.50),
            pct(&d.delays, 0.90),
            pct(&d.delays, 0.99),
            d.delays[d.posts - 1]
        );
    }
    println!("  violations recorded by the stand-in: {}", d.violations);

    // The floor, on a database of its own next to it, with the pool the scheduler had and
    // as many workers as it keeps jobs in flight (the pool minus two).
    let mut floor_url = base.clone();
    floor_url.set_path(&format!("attune_floor_{}", uuid::Uuid::new_v4().simple()));
    let mut floor_cfg = config.database.clone();
    floor_cfg.url = floor_url.clone();
    let pool = store::connect(&floor_cfg).await?;
    let workers = (config.database.max_connections as usize)
        .saturating_sub(2)
        .max(1);
    let one = floor(&pool, couples.max(2_000), 1, workers).await?;
    let hundred = floor(&pool, (couples * 5).max(20_000), 100, workers).await?;
    pool.close().await;
    store::drop_database(&floor_url).await?;
    println!(
        "  floor (bare claim-and-finish, {workers} workers): {one:.0} jobs/s one per transaction, {hundred:.0} jobs/s 100 per claim"
    );
    println!(
        "  full check-in post path: {:.0} % of the one-per-transaction floor, {:.1} % of the 100-per-claim floor",
        100.0 * rate / one,
        100.0 * rate / hundred
    );

    // Round trips and commits per post: a smaller pass through the counting proxy.
    let target = format!(
        "{}:{}",
        base.host_str().unwrap_or("127.0.0.1"),
        base.port().unwrap_or(5432)
    );
    let proxy = counting_proxy(target).await?;
    let mut counted_url = base.clone();
    counted_url.set_host(Some("127.0.0.1"))?;
    counted_url.set_port(Some(proxy.addr.port())).ok();
    counted_url.set_path(&format!("attune_count_{}", uuid::Uuid::new_v4().simple()));
    counted_url.set_query(Some("sslmode=disable"));
    // Seeding and start-up go through the proxy too: count from the start of the drain.
    let before = AtomicU64::new(0);
    let rt = proxy.round_trips.clone();
    let d = drain(config.clone(), &counted_url, counted, 1, analyze, || {
        before.store(rt.load(Ordering::Relaxed), Ordering::Relaxed);
    })
    .await?;
    let trips =
        (rt.load(Ordering::Relaxed) - before.load(Ordering::Relaxed)) as i64 - d.own_queries;
    println!(
        "  per delivered post ({} couples through a counting proxy): {:.1} Postgres round trips, {:.2} commits",
        d.posts,
        trips as f64 / d.posts.max(1) as f64,
        d.commits as f64 / d.posts.max(1) as f64
    );
    Ok(())
}
