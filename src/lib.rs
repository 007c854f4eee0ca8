//! Attune: a self-hosted Discord bot that helps a couple practise emotional attunement.
//!
//! `main.rs` only parses the command line; everything else lives here. See DESIGN.md in the
//! shared folder and the README for the map.

pub mod app;
pub mod config;
pub mod content;
pub mod crypto;
pub mod discord;
pub mod domain;
pub mod ops;
pub mod recap;
pub mod sandbox;
pub mod scheduler;
pub mod store;
pub mod telemetry;
