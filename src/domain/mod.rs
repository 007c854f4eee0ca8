//! Pure logic: typed ids, the custom-id codec, time-zone lookup and schedule math, flow state
//! machines, the back-off policy, recap numbers. Nothing here touches a chat transport or the
//! database, so all of it is unit-testable.

pub mod backoff;
pub mod checkin;
pub mod clock;
pub mod couple;
pub mod custom_id;
pub mod ids;
pub mod jobs;
pub mod micro;
pub mod recap;
pub mod repair;
pub mod schedule;
pub mod time;
pub mod zones;
