//! Attune: a self-hosted chat bot that helps a couple practise emotional attunement.
//!
//! The layers, top to bottom (ARCHITECTURE.md draws them and says who may import whom):
//! `cli` and `app` wire everything; the transports (`discord`), the `scheduler`, `ops` and
//! the `sandbox` sit on `flows`; `flows` stand on `domain`, `store`, `content`, `transport`
//! (the port) and `state`; nothing imports upwards.

pub mod app;
pub mod cli;
pub mod config;
pub mod content;
pub mod crypto;
pub mod discord;
pub mod domain;
pub mod flows;
pub mod local_postgres;
pub mod matrix;
pub mod metrics;
pub mod ops;
pub mod process;
pub mod sandbox;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod transport;
