//! The integration tests, one binary: every journey through the real serenity client and
//! the Discord stand-in against real Postgres, the Matrix journeys against a real Synapse, the
//! command line, faults and operations, the
//! upgrade from the previous release, and the flows through a recording transport.

// matrix-sdk's futures are deep: proving them Send needs more than the default limit.
#![recursion_limit = "256"]

mod checkins;
mod cli;
mod faults;
mod flows;
mod logs;
mod matrix;
mod micro;
mod onboarding;
mod ops;
mod practice;
mod privacy;
mod queue;
mod recap;
mod repair;
mod support;
mod upgrade;
