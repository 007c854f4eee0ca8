//! The in-process counters behind `/metrics`: interactions by kind and outcome with a
//! latency histogram, jobs by kind and event, and the database pool's gauges.
//!
//! Plain atomics and a small mutex-guarded map written as Prometheus text: nothing here may
//! slow down an interaction answer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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

/// Counters for `/metrics`; one per process, in the shared state.
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

    /// Records a job event: `claimed`, `done`, `skipped`, `missed`, `failed`, `retried`,
    /// `waiting`, `rate_limited` or `unreachable`.
    pub fn job(&self, kind: &'static str, event: &'static str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        *jobs.entry((kind, event)).or_default() += 1;
    }

    /// How many times a job event happened so far (`"checkin_post"`, `"retried"`, say).
    pub fn jobs(&self, kind: &str, event: &str) -> u64 {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter()
            .filter(|((k, e), _)| *k == kind && *e == event)
            .map(|(_, n)| *n)
            .sum()
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
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("attune_interaction_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("attune_interaction_seconds_count 3"));
        assert!(text.contains("attune_jobs_total{kind=\"checkin_post\",event=\"done\"} 2"));
        assert!(text.contains("attune_db_pool_connections 4"));
        assert!(text.contains("attune_db_pool_idle 3"));
    }
}
