//! The counters behind `/metrics`: interactions by kind and outcome with a latency histogram,
//! jobs by kind and event, and the database pool's gauges.
//!
//! Kept in a `prometheus_client` registry owned by each process's state rather than a global
//! recorder, so several bots in one test process (or one host) never mix their counts; every
//! update is an atomic add, so nothing here slows down an interaction answer.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// What started an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum InteractionKind {
    Command,
    Component,
    Modal,
    Autocomplete,
}

/// How an interaction was answered: done, refused with a message the person can act on, or
/// failed (an apology was shown or no answer could be sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Ok,
    Refused,
    Error,
}

/// Upper bounds (seconds) of the interaction latency histogram. Discord's deadline for the
/// first answer is 3 s, so the buckets are dense below it.
const LATENCY_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0];

type Labels = [(&'static str, &'static str); 2];

/// Counters for `/metrics`; one per process, in the shared state.
pub struct Metrics {
    registry: Registry,
    interactions: Family<Labels, Counter>,
    latency: Histogram,
    jobs: Family<Labels, Counter>,
    pool_connections: Gauge,
    pool_idle: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let interactions = Family::<Labels, Counter>::default();
        let latency = Histogram::new(LATENCY_BUCKETS);
        let jobs = Family::<Labels, Counter>::default();
        let pool_connections = Gauge::default();
        let pool_idle = Gauge::default();
        let mut registry = Registry::default();
        registry.register(
            "attune_interactions",
            "Interactions answered, by kind and outcome",
            interactions.clone(),
        );
        registry.register(
            "attune_interaction_seconds",
            "From receiving an interaction to our response being sent",
            latency.clone(),
        );
        registry.register(
            "attune_jobs",
            "Scheduled jobs, by kind and event (claimed, done, skipped, missed, failed, retried)",
            jobs.clone(),
        );
        registry.register(
            "attune_db_pool_connections",
            "Open database connections",
            pool_connections.clone(),
        );
        registry.register(
            "attune_db_pool_idle",
            "Idle database connections",
            pool_idle.clone(),
        );
        // Every kind and outcome is listed from the start, so a dashboard sees zeros rather
        // than missing series.
        for kind in InteractionKind::iter() {
            for outcome in Outcome::iter() {
                let _ = interactions.get_or_create(&labels(kind, outcome));
            }
        }
        Metrics {
            registry,
            interactions,
            latency,
            jobs,
            pool_connections,
            pool_idle,
        }
    }
}

fn labels(kind: InteractionKind, outcome: Outcome) -> Labels {
    [("kind", kind.into()), ("outcome", outcome.into())]
}

impl Metrics {
    /// Records one answered interaction and how long it took from receiving the event to our
    /// response being sent.
    pub fn interaction(&self, kind: InteractionKind, outcome: Outcome, took: Duration) {
        self.interactions
            .get_or_create(&labels(kind, outcome))
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// Records a job event: `claimed`, `done`, `skipped`, `missed`, `failed`, `retried`,
    /// `waiting`, `rate_limited` or `unreachable`.
    pub fn job(&self, kind: &'static str, event: &'static str) {
        self.jobs
            .get_or_create(&[("kind", kind), ("event", event)])
            .inc();
    }

    /// How many times a job event happened so far (`"checkin_post"`, `"retried"`, say).
    pub fn jobs(&self, kind: &'static str, event: &'static str) -> u64 {
        self.jobs
            .get(&[("kind", kind), ("event", event)])
            .map_or(0, |c| c.get())
    }

    /// How many interactions of this kind ended with this outcome so far.
    pub fn interactions(&self, kind: InteractionKind, outcome: Outcome) -> u64 {
        self.interactions
            .get_or_create(&labels(kind, outcome))
            .get()
    }

    /// The OpenMetrics text exposition of everything, with the pool's gauges as of now.
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        self.pool_connections.set(i64::from(pool_size));
        self.pool_idle
            .set(i64::try_from(pool_idle).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"5.0\"} 2"));
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("attune_interaction_seconds_count 3"));
        assert!(text.contains("attune_jobs_total{kind=\"checkin_post\",event=\"done\"} 2"));
        assert!(text.contains("attune_db_pool_connections 4"));
        assert!(text.contains("attune_db_pool_idle 3"));
    }
}
