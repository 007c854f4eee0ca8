//! Operations: the optional HTTP port (`ops.listen`) with `/healthz`, `/readyz` and
//! `/metrics`, the in-process [`Metrics`] behind it, and the gateway restart [`Backoff`].
//!
//! Metrics are plain atomics and a small mutex-guarded map written as Prometheus text by hand:
//! a handful of counters does not justify a metrics crate, and nothing here may slow down an
//! interaction answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use poise::serenity_prelude as serenity;
use tokio::task::JoinHandle;

use crate::app::AppState;

/// What started an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionKind {
    Command,
    Component,
    Modal,
    Autocomplete,
}

impl InteractionKind {
    const ALL: [InteractionKind; 4] = [
        InteractionKind::Command,
        InteractionKind::Component,
        InteractionKind::Modal,
        InteractionKind::Autocomplete,
    ];

    fn label(self) -> &'static str {
        match self {
            InteractionKind::Command => "command",
            InteractionKind::Component => "component",
            InteractionKind::Modal => "modal",
            InteractionKind::Autocomplete => "autocomplete",
        }
    }
}

/// How an interaction was answered: done, refused with a message the person can act on, or
/// failed (an apology was shown or no answer could be sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
    Error,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Refused, Outcome::Error];

    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Error => "error",
        }
    }
}

/// Upper bounds (seconds) of the interaction latency histogram. Discord's deadline for the
/// first answer is 3 s, so the buckets are dense below it.
const LATENCY_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0];

/// Counters for `/metrics`; one per process, in [`AppState`].
pub struct Metrics {
    /// `[kind][outcome]`.
    interactions: [[AtomicU64; 3]; 4],
    /// Cumulative counts per bucket, plus +Inf at the end.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    /// `(kind, event)` → count; job kinds are `&'static str` from `Job::kind`.
    jobs: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            interactions: Default::default(),
            latency_buckets: Default::default(),
            latency_sum_micros: AtomicU64::new(0),
            jobs: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// Records one answered interaction and how long it took from receiving the event to our
    /// response being sent.
    pub fn interaction(&self, kind: InteractionKind, outcome: Outcome, took: Duration) {
        let k = InteractionKind::ALL
            .iter()
            .position(|x| *x == kind)
            .unwrap_or(0);
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.interactions[k][o].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Records a job event: `claimed`, `done`, `skipped`, `missed`, `failed` or `retried`.
    pub fn job(&self, kind: &'static str, event: &'static str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        *jobs.entry((kind, event)).or_default() += 1;
    }

    /// How many interactions of this kind ended with this outcome so far.
    pub fn interactions(&self, kind: InteractionKind, outcome: Outcome) -> u64 {
        let k = InteractionKind::ALL
            .iter()
            .position(|x| *x == kind)
            .unwrap_or(0);
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.interactions[k][o].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of everything, plus the pool's gauges.
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        out.push_str("# HELP attune_interactions_total Interactions answered, by kind and outcome.\n# TYPE attune_interactions_total counter\n");
        for (k, kind) in InteractionKind::ALL.iter().enumerate() {
            for (o, outcome) in Outcome::ALL.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "attune_interactions_total{{kind=\"{}\",outcome=\"{}\"}} {}",
                    kind.label(),
                    outcome.label(),
                    self.interactions[k][o].load(Ordering::Relaxed)
                );
            }
        }
        out.push_str("# HELP attune_interaction_seconds From receiving an interaction to our response being sent.\n# TYPE attune_interaction_seconds histogram\n");
        let mut cumulative = 0;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.latency_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "attune_interaction_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += self.latency_buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "attune_interaction_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "attune_interaction_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "attune_interaction_seconds_count {cumulative}");
        out.push_str("# HELP attune_jobs_total Scheduled jobs, by kind and event (claimed, done, skipped, missed, failed, retried).\n# TYPE attune_jobs_total counter\n");
        for ((kind, event), n) in self.jobs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "attune_jobs_total{{kind=\"{kind}\",event=\"{event}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP attune_db_pool_connections Open database connections.\n# TYPE attune_db_pool_connections gauge\nattune_db_pool_connections {pool_size}"
        );
        let _ = writeln!(
            out,
            "# HELP attune_db_pool_idle Idle database connections.\n# TYPE attune_db_pool_idle gauge\nattune_db_pool_idle {pool_idle}"
        );
        out
    }
}

/// Time since a Discord timestamp (an interaction id's creation), never negative.
pub fn since(ts: serenity::Timestamp) -> Duration {
    (chrono::Utc::now() - *ts).to_std().unwrap_or_default()
}

/// The shard manager of the client that is running now; the restart loop swaps it.
#[derive(Default)]
pub struct Gateway {
    current: Mutex<Option<Arc<serenity::ShardManager>>>,
    /// Gateway connections this process should hold (`discord.shards`).
    expected: AtomicU64,
}

impl Gateway {
    pub fn new(expected: u32) -> Self {
        Gateway {
            current: Mutex::new(None),
            expected: AtomicU64::new(u64::from(expected)),
        }
    }

    pub fn set(&self, manager: Arc<serenity::ShardManager>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(manager);
    }

    pub fn manager(&self) -> Option<Arc<serenity::ShardManager>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `(connected, expected)` gateway shards.
    pub async fn shards(&self) -> (u64, u64) {
        let expected = self.expected.load(Ordering::Relaxed);
        let Some(m) = self.manager() else {
            return (0, expected);
        };
        let runners = m.runners.lock().await;
        let connected = runners
            .values()
            .filter(|r| r.stage == serenity::ConnectionStage::Connected)
            .count() as u64;
        (connected, expected)
    }
}

#[derive(Clone)]
struct OpsState {
    app: Arc<AppState>,
    gateway: Arc<Gateway>,
}

/// Binds `addr` and serves the ops endpoints until the returned task is aborted.
pub async fn serve(
    addr: SocketAddr,
    app: Arc<AppState>,
    gateway: Arc<Gateway>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("ops.listen {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(OpsState { app, gateway });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "ops server stopped");
        }
    });
    tracing::info!(addr = %bound, "ops endpoints listening");
    Ok((bound, task))
}

async fn readyz(State(st): State<OpsState>) -> impl IntoResponse {
    let (connected, expected) = st.gateway.shards().await;
    if expected == 0 || connected < expected {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("gateway: {connected} of {expected} shard(s) connected\n"),
        );
    }
    let db = tokio::time::timeout(
        Duration::from_secs(1),
        sqlx::query_scalar::<_, i32>("select 1").fetch_one(&st.app.pool),
    )
    .await;
    match db {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database: query failed\n".to_string(),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database: no answer within 1 s\n".to_string(),
        ),
    }
}

async fn metrics(State(st): State<OpsState>) -> impl IntoResponse {
    let body = st
        .app
        .metrics
        .render(st.app.pool.size(), st.app.pool.num_idle());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Delays between gateway restarts after the client stopped with an error: Discord resets a
/// bot's token after 1,000 identifies in a day, so a crash loop must slow down. Doubles from
/// `initial` up to `max`; a run that stayed up for `reset_after` starts over at `initial`.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_secs(5),
            Duration::from_secs(600),
            Duration::from_secs(3600),
        )
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, reset_after: Duration) -> Self {
        Backoff {
            initial,
            max,
            reset_after,
            next: initial,
        }
    }

    /// The wait before the next start, given how long the run that just failed stayed up.
    pub fn after_failure(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.reset_after {
            self.next = self.initial;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_ten_minutes_and_resets_after_an_hour_up() {
        let mut b = Backoff::default();
        let quick = Duration::from_secs(1);
        let got: Vec<u64> = (0..10).map(|_| b.after_failure(quick).as_secs()).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        // Up for a while but less than an hour: keeps growing (stays at the cap).
        assert_eq!(b.after_failure(Duration::from_secs(3599)).as_secs(), 600);
        // Up for an hour: a fresh failure is treated as the first.
        assert_eq!(b.after_failure(Duration::from_secs(3600)).as_secs(), 5);
        assert_eq!(b.after_failure(quick).as_secs(), 10);
    }

    #[test]
    fn at_most_a_few_hundred_identifies_a_day_in_a_crash_loop() {
        // A client that fails at once, every time, for a day.
        let mut b = Backoff::default();
        let (mut t, mut starts) = (Duration::ZERO, 0);
        while t < Duration::from_secs(86_400) {
            starts += 1;
            t += b.after_failure(Duration::ZERO);
        }
        assert!(starts < 1000 / 4, "{starts} identifies a day");
    }

    #[test]
    fn metrics_render_counts_and_histogram() {
        let m = Metrics::default();
        m.interaction(
            InteractionKind::Command,
            Outcome::Ok,
            Duration::from_millis(3),
        );
        m.interaction(
            InteractionKind::Component,
            Outcome::Refused,
            Duration::from_millis(40),
        );
        m.interaction(
            InteractionKind::Component,
            Outcome::Error,
            Duration::from_secs(9),
        );
        m.job("checkin_post", "done");
        m.job("checkin_post", "done");
        let text = m.render(4, 3);
        assert!(text.contains("attune_interactions_total{kind=\"command\",outcome=\"ok\"} 1"));
        assert!(
            text.contains("attune_interactions_total{kind=\"component\",outcome=\"refused\"} 1")
        );
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("attune_interaction_seconds_count 3"));
        assert!(text.contains("attune_jobs_total{kind=\"checkin_post\",event=\"done\"} 2"));
        assert!(text.contains("attune_db_pool_connections 4"));
        assert!(text.contains("attune_db_pool_idle 3"));
    }
}
