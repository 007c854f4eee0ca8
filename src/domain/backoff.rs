//! The one back-off policy: how long to wait after the n-th failure in a row, doubling from
//! `initial` up to `max`. Job retries and the gateway restart loop both use it.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub initial: Duration,
    pub max: Duration,
}

impl Policy {
    /// 5 s, 10 s, 20 s … capped at 10 minutes.
    pub const DEFAULT: Policy = Policy {
        initial: Duration::from_secs(5),
        max: Duration::from_secs(600),
    };

    /// The wait after failure number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// Restarts of something that may crash in a loop (the gateway client): Discord resets a
/// bot's token after 1,000 identifies in a day, so a crash loop must slow down. A run that
/// stayed up for `reset_after` counts as healthy, and the next failure starts over.
#[derive(Debug, Clone)]
pub struct Restarts {
    pub policy: Policy,
    pub reset_after: Duration,
    failures: u32,
}

impl Default for Restarts {
    fn default() -> Self {
        Restarts::new(Policy::DEFAULT, Duration::from_secs(3600))
    }
}

impl Restarts {
    pub fn new(policy: Policy, reset_after: Duration) -> Self {
        Restarts {
            policy,
            reset_after,
            failures: 0,
        }
    }

    /// The wait before the next start, given how long the run that just failed stayed up.
    pub fn after_failure(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.reset_after {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.policy.delay(self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let p = Policy::DEFAULT;
        let got: Vec<u64> = (1..=10).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(p.delay(0).as_secs(), 5);
        assert_eq!(p.delay(u32::MAX).as_secs(), 600);
    }

    #[test]
    fn restarts_reset_after_an_hour_up() {
        let mut b = Restarts::default();
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
        let mut b = Restarts::default();
        let (mut t, mut starts) = (Duration::ZERO, 0);
        while t < Duration::from_secs(86_400) {
            starts += 1;
            t += b.after_failure(Duration::ZERO);
        }
        assert!(starts < 1000 / 4, "{starts} identifies a day");
    }
}
