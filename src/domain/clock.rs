//! The clock every schedule decision reads, injected so tests can travel through time.
//!
//! Two times matter. A process's own clock ([`Clock::now`]) plans a couple's days. Decisions
//! that several processes must agree on (what is due, whose lease has run out) use one shared
//! time instead: the database's clock in production, so a process whose clock is a few
//! minutes off can neither reveal early nor take over a job another process still runs.
//! [`Clock::shared`] says which: `None` means the database's own clock; a simulated clock
//! hands over its own time, so every process on one stage shares it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// The shared time for decisions all processes must agree on; `None`: the database's.
    fn shared(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// Wall-clock time, for production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; shared by clones.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = t;
    }

    pub fn advance(&self, by: Duration) {
        let mut g = self.0.lock().expect("clock lock");
        *g += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }

    /// A simulated clock stands in for the database's too: the stage's time is everyone's.
    fn shared(&self) -> Option<DateTime<Utc>> {
        Some(self.now())
    }
}

/// A process whose own clock is off by `by` from the shared one (a host whose clock drifted),
/// for tests of clock skew: `now` is skewed, the shared time is not.
#[derive(Debug, Clone)]
pub struct SkewedClock {
    pub inner: ManualClock,
    pub by: Duration,
}

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now() + self.by
    }

    fn shared(&self) -> Option<DateTime<Utc>> {
        self.inner.shared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skewed_clock_shares_the_true_time() {
        let t: DateTime<Utc> = "2026-11-25T07:00:00Z".parse().unwrap();
        let c = SkewedClock {
            inner: ManualClock::new(t),
            by: Duration::minutes(2),
        };
        assert_eq!(c.now(), t + Duration::minutes(2));
        assert_eq!(c.shared(), Some(t));
        assert_eq!(SystemClock.shared(), None);
    }
}
