//! The one typed configuration: built-in defaults < the TOML file < `DATABASE_URL` <
//! `ATTUNE_SECTION__KEY` environment variables.
//!
//! Loading happens in two steps so that every later piece of code receives values that are
//! already known to be good: serde reads a loose [`RawConfig`] (unknown keys refused), then
//! [`Config::from_raw`] parses it into typed values, naming the key on every error.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Environment variables that start with `ATTUNE_` but are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &["ATTUNE_DISCORD_OPENAPI", "ATTUNE_CONFIG", "ATTUNE_TEST_LOG"];

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/attune";

/// A configuration problem, always naming the key it is about.
#[derive(Debug, thiserror::Error)]
#[error("config key `{key}`: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// All problems found at once, so a host fixes the file in one go.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub discord: RawDiscord,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub scheduler: RawScheduler,
    #[serde(default)]
    pub content: RawContent,
    #[serde(default)]
    pub privacy: RawPrivacy,
    #[serde(default)]
    pub repair: RawRepair,
    #[serde(default)]
    pub ops: RawOps,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOps {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepair {
    pub expire_hours: Option<i64>,
    pub reminder_hours: Option<i64>,
    pub revisit_days: Option<i64>,
    pub max_reflect_loops: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrivacy {
    pub encryption_key: Option<SecretString>,
    #[serde(default)]
    pub old_keys: Vec<SecretString>,
    pub retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    pub dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscord {
    pub token: Option<SecretString>,
    pub application_id: Option<u64>,
    pub proxy_url: Option<String>,
    pub dev_guild_id: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub shards: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    pub enabled: Option<bool>,
    pub poll_interval_ms: Option<u64>,
    pub grace_minutes: Option<i64>,
    pub lease_secs: Option<i64>,
    pub batch_size: Option<i64>,
    pub seed: Option<u64>,
    pub max_posts_per_second: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// Needed by `attune run`; `attune sandbox` brings its own.
    pub token: Option<SecretString>,
    pub application_id: Option<u64>,
    pub proxy_url: Option<Url>,
    pub dev_guild_id: Option<u64>,
    pub request_timeout: Duration,
    /// Which gateway shards this process runs.
    pub shards: Shards,
}

/// Which gateway shards one process runs (`discord.shards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shards {
    /// serenity's `start()`: one shard carrying every guild.
    #[default]
    All,
    /// Shards `first..=last` of `total`; other processes run the rest.
    Range { first: u32, last: u32, total: u32 },
}

impl Shards {
    /// Parses `all`, `N/T` or `A-B/T` (shard ids count from 0).
    pub fn parse(text: &str) -> Result<Shards, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Shards::All);
        }
        let bad =
            || format!("`{text}` is not `all`, `N/TOTAL` or `FIRST-LAST/TOTAL` (e.g. \"0-1/4\")");
        let (ids, total) = t.split_once('/').ok_or_else(bad)?;
        let num = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let total = num(total)?;
        let (first, last) = match ids.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(ids)?;
                (n, n)
            }
        };
        if total == 0 {
            return Err("the total number of shards must be at least 1".into());
        }
        if first > last {
            return Err(format!("first shard {first} is after last shard {last}"));
        }
        if last >= total {
            return Err(format!(
                "shard {last} does not exist with {total} shard(s) (ids run 0 to {})",
                total - 1
            ));
        }
        Ok(Shards::Range { first, last, total })
    }

    /// How many gateway connections this process opens.
    pub fn count(&self) -> u32 {
        match self {
            Shards::All => 1,
            Shards::Range { first, last, .. } => last - first + 1,
        }
    }
}

impl fmt::Display for Shards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shards::All => write!(f, "all"),
            Shards::Range { first, last, total } if first == last => write!(f, "{first}/{total}"),
            Shards::Range { first, last, total } => write!(f, "{first}-{last}/{total}"),
        }
    }
}

/// The operations HTTP port (`[ops]`).
#[derive(Debug, Clone, Default)]
pub struct OpsConfig {
    /// Where `/healthz`, `/readyz` and `/metrics` are served; `None` turns the port off.
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Url,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub enabled: bool,
    pub poll_interval: Duration,
    /// A job found late by more than this is recorded as missed instead of posted.
    pub grace: chrono::Duration,
    pub lease: chrono::Duration,
    pub batch_size: i64,
    /// Seeds every random choice (micro-prompt days, moments and shuffles); without one
    /// a random seed is drawn at start-up.
    pub seed: u64,
    /// Scheduled posts per second at most (0: no pacing, e.g. behind a rate-limit proxy).
    pub max_posts_per_second: u32,
}

#[derive(Debug, Clone, Default)]
pub struct PrivacyConfig {
    /// Seals free text at rest; `None` stores it as written (start-up warns).
    pub keys: crate::crypto::Keyring,
    /// Raw answers and texts older than this are deleted; `None` keeps them.
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct ContentConfig {
    /// A folder of prompt files replacing the built-in library; `None` uses the built-in one.
    pub dir: Option<PathBuf>,
}

/// The guided repair flow's timings and limits.
#[derive(Debug, Clone)]
pub struct RepairConfig {
    /// An open repair with no activity for this long closes with a kind note.
    pub expire_after: chrono::Duration,
    /// One gentle nudge after this much quiet (always before the expiry).
    pub remind_after: chrono::Duration,
    /// How long after an agreement the bot asks how it is going.
    pub revisit_after: chrono::Duration,
    /// Reflections allowed in the "not quite" loop before offering to go on.
    pub max_reflect_loops: u8,
}

impl Default for RepairConfig {
    fn default() -> Self {
        RepairConfig {
            expire_after: chrono::Duration::hours(48),
            remind_after: chrono::Duration::hours(12),
            revisit_after: chrono::Duration::days(3),
            max_reflect_loops: 3,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub discord: DiscordConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub scheduler: SchedulerConfig,
    pub content: ContentConfig,
    pub repair: RepairConfig,
    pub privacy: PrivacyConfig,
    pub ops: OpsConfig,
}

impl Config {
    /// Reads the file (if any) and the environment. `path` is `--config`; without it
    /// `config.toml` in the working directory is used when present.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let mut figment = Figment::new();
        match path {
            Some(p) => {
                if !p.exists() {
                    return Err(ConfigErrors(vec![ConfigError::new(
                        "--config",
                        format!("file {} does not exist", p.display()),
                    )]));
                }
                figment = figment.merge(Toml::file(p));
            }
            None => {
                let default = PathBuf::from("config.toml");
                if default.exists() {
                    figment = figment.merge(Toml::file(default));
                }
            }
        }
        Self::from_figment(figment)
    }

    /// Only built-in defaults and the environment; used by the sandbox and the tests.
    pub fn from_env_only() -> Result<Config, ConfigErrors> {
        Self::from_figment(Figment::new())
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        for (key, _) in std::env::vars() {
            if let Some(rest) = key.strip_prefix("ATTUNE_") {
                if !rest.contains("__") && !NON_CONFIG_ENV.contains(&key.as_str()) {
                    errors.push(ConfigError::new(
                        format!("env {key}"),
                        "not a configuration key; use ATTUNE_SECTION__KEY, e.g. ATTUNE_DISCORD__TOKEN",
                    ));
                }
            }
        }
        let figment = figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(
                Env::prefixed("ATTUNE_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            );
        match figment.extract::<RawConfig>() {
            Ok(raw) => match Config::from_raw(raw) {
                Ok(c) if errors.is_empty() => Ok(c),
                Ok(_) => Err(ConfigErrors(errors)),
                Err(mut more) => {
                    errors.append(&mut more.0);
                    Err(ConfigErrors(errors))
                }
            },
            Err(e) => {
                errors.extend(e.into_iter().map(figment_error));
                Err(ConfigErrors(errors))
            }
        }
    }

    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let proxy_url = raw
            .discord
            .proxy_url
            .as_deref()
            .and_then(|s| match Url::parse(s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                Ok(u) => {
                    errors.push(ConfigError::new(
                        "discord.proxy_url",
                        format!("scheme `{}` is not http or https", u.scheme()),
                    ));
                    None
                }
                Err(e) => {
                    errors.push(ConfigError::new(
                        "discord.proxy_url",
                        format!("not a URL ({e}): {s:?}"),
                    ));
                    None
                }
            });
        if let Some(t) = &raw.discord.token {
            if t.expose_secret().trim().is_empty() {
                errors.push(ConfigError::new("discord.token", "is empty"));
            }
        }
        let db_url_text = raw
            .database
            .url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        let db_url = match Url::parse(&db_url_text) {
            Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") => Some(u),
            Ok(u) => {
                errors.push(ConfigError::new(
                    "database.url",
                    format!("scheme `{}` is not postgres://", u.scheme()),
                ));
                None
            }
            Err(e) => {
                errors.push(ConfigError::new("database.url", format!("not a URL ({e})")));
                None
            }
        };
        let max_connections = raw.database.max_connections.unwrap_or(10);
        if max_connections == 0 {
            errors.push(ConfigError::new(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        let format = match raw.log.format.as_deref().unwrap_or("pretty") {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                errors.push(ConfigError::new(
                    "log.format",
                    format!("`{other}` is not one of: pretty, json"),
                ));
                LogFormat::Pretty
            }
        };
        let level = raw.log.level.unwrap_or_else(|| "info".to_string());
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&level) {
            errors.push(ConfigError::new(
                "log.level",
                format!("`{level}` is not a log filter ({e})"),
            ));
        }
        let grace_minutes = raw.scheduler.grace_minutes.unwrap_or(120);
        if !(0..=10_080).contains(&grace_minutes) {
            errors.push(ConfigError::new(
                "scheduler.grace_minutes",
                "must be between 0 and 10080 (a week)",
            ));
        }
        let lease_secs = raw.scheduler.lease_secs.unwrap_or(60);
        if !(5..=3600).contains(&lease_secs) {
            errors.push(ConfigError::new(
                "scheduler.lease_secs",
                "must be between 5 and 3600",
            ));
        }
        let batch_size = raw.scheduler.batch_size.unwrap_or(50);
        if !(1..=1000).contains(&batch_size) {
            errors.push(ConfigError::new(
                "scheduler.batch_size",
                "must be between 1 and 1000",
            ));
        }
        let poll_ms = raw.scheduler.poll_interval_ms.unwrap_or(1000);
        if !(10..=60_000).contains(&poll_ms) {
            errors.push(ConfigError::new(
                "scheduler.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        let timeout_secs = raw.discord.request_timeout_secs.unwrap_or(10);
        if !(1..=120).contains(&timeout_secs) {
            errors.push(ConfigError::new(
                "discord.request_timeout_secs",
                "must be between 1 and 120",
            ));
        }
        let pace = raw.scheduler.max_posts_per_second.unwrap_or(40);
        if pace > 50 {
            errors.push(ConfigError::new(
                "scheduler.max_posts_per_second",
                "must be at most 50 (Discord's global limit); 0 turns pacing off",
            ));
        }
        let keys = match crate::crypto::Keyring::parse(
            raw.privacy
                .encryption_key
                .as_ref()
                .map(|k| k.expose_secret()),
            &raw.privacy
                .old_keys
                .iter()
                .map(|k| k.expose_secret().to_string())
                .collect::<Vec<_>>(),
        ) {
            Ok(k) => k,
            Err(e) => {
                errors.push(ConfigError::new("privacy.encryption_key", e));
                crate::crypto::Keyring::none()
            }
        };
        if raw.privacy.retention_days == Some(0) {
            errors.push(ConfigError::new(
                "privacy.retention_days",
                "must be at least 1 (leave it out to keep everything)",
            ));
        }
        let content_dir = raw.content.dir.map(PathBuf::from);
        if let Some(d) = &content_dir {
            if !d.is_dir() {
                errors.push(ConfigError::new(
                    "content.dir",
                    format!("{} is not a folder", d.display()),
                ));
            }
        }
        let expire_hours = raw.repair.expire_hours.unwrap_or(48);
        if !(1..=720).contains(&expire_hours) {
            errors.push(ConfigError::new(
                "repair.expire_hours",
                "must be between 1 and 720 (30 days)",
            ));
        }
        let reminder_hours = raw.repair.reminder_hours.unwrap_or(12);
        if reminder_hours < 1 || reminder_hours >= expire_hours.max(1) {
            errors.push(ConfigError::new(
                "repair.reminder_hours",
                format!("must be at least 1 and below repair.expire_hours ({expire_hours})"),
            ));
        }
        let revisit_days = raw.repair.revisit_days.unwrap_or(3);
        if !(1..=60).contains(&revisit_days) {
            errors.push(ConfigError::new(
                "repair.revisit_days",
                "must be between 1 and 60",
            ));
        }
        let max_reflect_loops = raw.repair.max_reflect_loops.unwrap_or(3);
        if !(1..=10).contains(&max_reflect_loops) {
            errors.push(ConfigError::new(
                "repair.max_reflect_loops",
                "must be between 1 and 10",
            ));
        }
        let shards = match raw.discord.shards.as_deref() {
            None => Shards::All,
            Some(t) => Shards::parse(t).unwrap_or_else(|p| {
                errors.push(ConfigError::new("discord.shards", p));
                Shards::All
            }),
        };
        let ops_listen = raw.ops.listen.as_deref().and_then(|t| {
            t.trim()
                .parse::<std::net::SocketAddr>()
                .map_err(|_| {
                    errors.push(ConfigError::new(
                        "ops.listen",
                        format!("`{t}` is not an address and port like \"127.0.0.1:9100\""),
                    ))
                })
                .ok()
        });
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Config {
            privacy: PrivacyConfig {
                keys,
                retention_days: raw.privacy.retention_days,
            },
            ops: OpsConfig { listen: ops_listen },
            repair: RepairConfig {
                expire_after: chrono::Duration::hours(expire_hours),
                remind_after: chrono::Duration::hours(reminder_hours),
                revisit_after: chrono::Duration::days(revisit_days),
                max_reflect_loops: max_reflect_loops as u8,
            },
            content: ContentConfig { dir: content_dir },
            discord: DiscordConfig {
                token: raw.discord.token,
                application_id: raw.discord.application_id,
                proxy_url,
                dev_guild_id: raw.discord.dev_guild_id,
                request_timeout: Duration::from_secs(timeout_secs),
                shards,
            },
            database: DatabaseConfig {
                url: db_url.expect("checked above"),
                max_connections,
            },
            log: LogConfig { format, level },
            scheduler: SchedulerConfig {
                enabled: raw.scheduler.enabled.unwrap_or(true),
                poll_interval: Duration::from_millis(poll_ms),
                grace: chrono::Duration::minutes(grace_minutes),
                lease: chrono::Duration::seconds(lease_secs),
                batch_size,
                seed: raw.scheduler.seed.unwrap_or_else(rand::random),
                max_posts_per_second: pace,
            },
        })
    }

    /// `attune run` needs a token; other commands do not.
    pub fn require_token(&self) -> Result<&SecretString, ConfigError> {
        self.discord.token.as_ref().ok_or_else(|| {
            ConfigError::new(
                "discord.token",
                "missing: set it in config.toml ([discord] token = \"...\") or ATTUNE_DISCORD__TOKEN",
            )
        })
    }

    /// The effective configuration as TOML, secrets and passwords redacted.
    pub fn redacted(&self) -> String {
        let mut db = self.database.url.clone();
        if db.password().is_some() {
            let _ = db.set_password(Some("REDACTED"));
        }
        let opt = |v: Option<String>| v.unwrap_or_else(|| "(not set)".into());
        format!(
            "[discord]\ntoken = {}\napplication_id = {}\nproxy_url = {}\ndev_guild_id = {}\nrequest_timeout_secs = {}\nshards = \"{}\"\n\n\
             [database]\nurl = \"{}\"\nmax_connections = {}\n\n\
             [log]\nformat = \"{}\"\nlevel = \"{}\"\n\n\
             [scheduler]\nenabled = {}\npoll_interval_ms = {}\ngrace_minutes = {}\nlease_secs = {}\nbatch_size = {}\nmax_posts_per_second = {}\n\n\
             [content]\ndir = {}\n\n\
             [repair]\nexpire_hours = {}\nreminder_hours = {}\nrevisit_days = {}\nmax_reflect_loops = {}\n\n\
             [privacy]\nencryption_key = {}\nretention_days = {}\n\n\
             [ops]\nlisten = {}\n",
            if self.discord.token.is_some() { "\"REDACTED\"" } else { "(not set)" },
            opt(self.discord.application_id.map(|v| v.to_string())),
            opt(self.discord.proxy_url.as_ref().map(|u| format!("\"{u}\""))),
            opt(self.discord.dev_guild_id.map(|v| v.to_string())),
            self.discord.request_timeout.as_secs(),
            self.discord.shards,
            db,
            self.database.max_connections,
            match self.log.format {
                LogFormat::Pretty => "pretty",
                LogFormat::Json => "json",
            },
            self.log.level,
            self.scheduler.enabled,
            self.scheduler.poll_interval.as_millis(),
            self.scheduler.grace.num_minutes(),
            self.scheduler.lease.num_seconds(),
            self.scheduler.batch_size,
            self.scheduler.max_posts_per_second,
            opt(self.content.dir.as_ref().map(|d| format!("\"{}\"", d.display()))),
            self.repair.expire_after.num_hours(),
            self.repair.remind_after.num_hours(),
            self.repair.revisit_after.num_days(),
            self.repair.max_reflect_loops,
            self.privacy
                .keys
                .current_id()
                .map_or("(not set: free text is stored unencrypted)".to_string(), |id| {
                    format!("\"{id}:REDACTED\"")
                }),
            opt(self.privacy.retention_days.map(|d| d.to_string())),
            opt(self.ops.listen.map(|a| format!("\"{a}\""))),
        )
    }
}

fn figment_error(e: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let mut path = e.path.join(".");
    let problem = match &e.kind {
        Kind::UnknownField(field, expected) => {
            // figment usually puts the field in the path already; add it only when missing.
            if !path.ends_with(field.as_str()) {
                path = if path.is_empty() {
                    field.clone()
                } else {
                    format!("{path}.{field}")
                };
            }
            if expected.is_empty() {
                "unknown key".to_string()
            } else {
                format!("unknown key (known here: {})", expected.join(", "))
            }
        }
        Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::InvalidValue(actual, expected) => format!("expected {expected}, found {actual}"),
        other => other.to_string(),
    };
    let source = e
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    ConfigError::new(
        if path.is_empty() {
            "(file)".into()
        } else {
            path
        },
        format!("{problem}{source}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(s: &str) -> Result<Config, ConfigErrors> {
        let raw: Result<RawConfig, _> = Figment::new().merge(Toml::string(s)).extract();
        match raw {
            Ok(r) => Config::from_raw(r),
            Err(e) => Err(ConfigErrors(e.into_iter().map(figment_error).collect())),
        }
    }

    #[test]
    fn defaults_are_usable() {
        let c = from_toml("").unwrap();
        assert_eq!(c.database.url.as_str(), DEFAULT_DATABASE_URL);
        assert_eq!(c.log.format, LogFormat::Pretty);
        assert!(c.require_token().is_err());
        assert_eq!(c.scheduler.grace, chrono::Duration::hours(2));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = from_toml("[discord]\ntokn = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("discord.tokn"), "{err}");
        assert!(err.contains("unknown key"), "{err}");
    }

    #[test]
    fn malformed_values_are_named() {
        let err = from_toml(
            "[discord]\nproxy_url = \"not a url\"\n[database]\nurl = \"mysql://x\"\n[log]\nformat = \"xml\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("discord.proxy_url"), "{err}");
        assert!(err.contains("database.url"), "{err}");
        assert!(err.contains("log.format"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = from_toml("[database]\nmax_connections = \"ten\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.max_connections"), "{err}");
    }

    #[test]
    fn the_example_file_is_valid_and_documents_every_key() {
        let text = include_str!("../config.example.toml");
        let c = from_toml(text).unwrap_or_else(|e| panic!("config.example.toml: {e}"));
        assert_eq!(c.database.max_connections, 10);
        // Every key the loader knows appears in the example, set or commented out.
        for key in [
            "token",
            "application_id",
            "proxy_url",
            "dev_guild_id",
            "request_timeout_secs",
            "url",
            "max_connections",
            "format",
            "level",
            "enabled",
            "poll_interval_ms",
            "grace_minutes",
            "lease_secs",
            "batch_size",
            "seed",
            "max_posts_per_second",
            "dir",
            "expire_hours",
            "reminder_hours",
            "revisit_days",
            "max_reflect_loops",
            "encryption_key",
            "old_keys",
            "retention_days",
            "shards",
            "listen",
        ] {
            assert!(
                text.contains(&format!("{key} =")),
                "config.example.toml lacks {key}"
            );
        }
    }

    #[test]
    fn repair_defaults_and_overrides() {
        let c = from_toml("").unwrap();
        assert_eq!(c.repair.expire_after, chrono::Duration::hours(48));
        assert_eq!(c.repair.remind_after, chrono::Duration::hours(12));
        assert_eq!(c.repair.revisit_after, chrono::Duration::days(3));
        assert_eq!(c.repair.max_reflect_loops, 3);
        let c = from_toml(
            "[repair]\nexpire_hours = 24\nreminder_hours = 6\nrevisit_days = 7\nmax_reflect_loops = 2\n",
        )
        .unwrap();
        assert_eq!(c.repair.expire_after, chrono::Duration::hours(24));
        assert_eq!(c.repair.remind_after, chrono::Duration::hours(6));
        assert_eq!(c.repair.revisit_after, chrono::Duration::days(7));
        assert_eq!(c.repair.max_reflect_loops, 2);
        assert!(c.redacted().contains("[repair]\nexpire_hours = 24"));
    }

    #[test]
    fn repair_bad_values_are_named() {
        let err =
            from_toml("[repair]\nexpire_hours = 0\nrevisit_days = 99\nmax_reflect_loops = 0\n")
                .unwrap_err()
                .to_string();
        for key in [
            "repair.expire_hours",
            "repair.revisit_days",
            "repair.max_reflect_loops",
        ] {
            assert!(err.contains(key), "{key}: {err}");
        }
        let err = from_toml("[repair]\nexpire_hours = 10\nreminder_hours = 10\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("repair.reminder_hours"), "{err}");
        let err = from_toml("[repair]\nexpire_hour = 10\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("repair.expire_hour") && err.contains("unknown key"),
            "{err}"
        );
    }

    #[test]
    fn shards_parse_and_bad_values_are_named() {
        assert_eq!(from_toml("").unwrap().discord.shards, Shards::All);
        let c = from_toml("[discord]\nshards = \"0-1/4\"\n").unwrap();
        assert_eq!(
            c.discord.shards,
            Shards::Range {
                first: 0,
                last: 1,
                total: 4
            }
        );
        assert_eq!(c.discord.shards.count(), 2);
        assert!(c.redacted().contains("shards = \"0-1/4\""));
        assert_eq!(
            Shards::parse("1/2"),
            Ok(Shards::Range {
                first: 1,
                last: 1,
                total: 2
            })
        );
        assert_eq!(Shards::parse("ALL"), Ok(Shards::All));
        for bad in ["", "0-1", "2-1/4", "0-4/4", "0/0", "a-b/c", "-1/2", "1/2/3"] {
            assert!(Shards::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let err = from_toml("[discord]\nshards = \"3/2\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("discord.shards") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn ops_listen_parses_and_bad_values_are_named() {
        assert!(from_toml("").unwrap().ops.listen.is_none());
        let c = from_toml("[ops]\nlisten = \"127.0.0.1:9100\"\n").unwrap();
        assert_eq!(c.ops.listen, Some("127.0.0.1:9100".parse().unwrap()));
        assert!(c.redacted().contains("[ops]\nlisten = \"127.0.0.1:9100\""));
        let err = from_toml("[ops]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ops.listen"), "{err}");
    }

    #[test]
    fn redacted_hides_token_and_password() {
        let c = from_toml(
            "[discord]\ntoken = \"super-secret-token\"\n[database]\nurl = \"postgres://u:pw123@h/db\"\n",
        )
        .unwrap();
        let shown = c.redacted();
        assert!(!shown.contains("super-secret-token"));
        assert!(!shown.contains("pw123"));
        assert!(shown.contains("REDACTED"));
    }
}
