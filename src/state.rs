//! What every flow, handler and job can reach: the pool, the clock, the configuration, the
//! content library, the scheduler's wake-up and the metrics. Nothing transport-specific.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::content::Library;
use crate::domain::clock::Clock;
use crate::metrics::Metrics;

pub struct AppState {
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// The prompt library and the flows' copy, loaded and checked at start-up.
    pub content: Arc<Library>,
    /// Wakes this process's scheduler early (e.g. a reveal that is due right now).
    pub wake: tokio::sync::Notify,
    /// Counters behind `/metrics`.
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>, config: Config, content: Library) -> AppState {
        AppState {
            pool,
            clock,
            config: Arc::new(config),
            content: Arc::new(content),
            wake: tokio::sync::Notify::new(),
            metrics: Metrics::default(),
        }
    }

    pub fn keys(&self) -> &crate::crypto::Keyring {
        &self.config.privacy.keys
    }
}
