//! Logging set-up. serenity logs request bodies and interaction tokens at debug/trace, so its
//! targets stay at `warn` unless the host names them explicitly.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Targets that may log secrets or user text at verbose levels.
const QUIET: &[&str] = &[
    "serenity",
    "poise",
    "h2",
    "hyper",
    "reqwest",
    "tungstenite",
    "rustls",
    "sqlx",
];

pub fn filter(level: &str) -> EnvFilter {
    let mut directives = level.to_string();
    for t in QUIET {
        if !level.contains(t) {
            directives.push_str(&format!(",{t}=warn"));
        }
    }
    EnvFilter::builder()
        .parse(&directives)
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init(cfg: &LogConfig) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&cfg.level))
        .with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
