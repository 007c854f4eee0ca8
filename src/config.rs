//! The one typed configuration: built-in defaults < the TOML file < `DATABASE_URL` <
//! `ATTUNE_SECTION__KEY` environment variables.
//!
//! Every key is declared once, in the structs below: its type and default (serde), its range
//! (`garde`), whether it is a secret ([`Secret`], printed as `REDACTED` by `check-config`,
//! which serialises the effective configuration). Durations are human-readable (`"90s"`,
//! `"2h"`, `"3 days"`); a plain number still works and counts in the unit of the key's old
//! name (`lease_secs = 60`), so older config files keep working.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use garde::Validate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// Environment variables that start with `ATTUNE_` but are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "ATTUNE_DISCORD_OPENAPI",
    "ATTUNE_CONFIG",
    "ATTUNE_TEST_LOG",
    // The test homeserver that scripts/synapse starts for the Matrix tests and bench.
    "ATTUNE_SYNAPSE_URL",
    "ATTUNE_SYNAPSE_SECRET",
    "ATTUNE_SYNAPSE_PID",
    "ATTUNE_SYNAPSE_VENV",
    "ATTUNE_SYNAPSE_VERSION",
];

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

/// A secret: usable in code, `REDACTED` when the configuration is printed, never in `Debug`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(secrecy::SecretString);

impl Secret {
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("REDACTED")
    }
}

/// Durations: a human-readable string, or a number in the key's legacy unit.
mod dur {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }

    fn parse<'de, D: Deserializer<'de>>(d: D, unit: Duration) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(unit * u32::try_from(n).map_err(serde::de::Error::custom)?),
            Raw::Text(t) => humantime::parse_duration(&t).map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{t}` is not a duration like \"90s\" or \"2h\" ({e})"
                ))
            }),
        }
    }

    pub fn ms<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse(d, Duration::from_millis(1))
    }

    pub fn secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse(d, Duration::from_secs(1))
    }

    pub fn minutes<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse(d, Duration::from_secs(60))
    }

    pub fn hours<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse(d, Duration::from_secs(3600))
    }

    pub fn days<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse(d, Duration::from_secs(86_400))
    }
}

fn between(min: Duration, max: Duration) -> impl Fn(&Duration, &()) -> garde::Result {
    move |v, _| {
        if *v < min || *v > max {
            Err(garde::Error::new(format!(
                "must be between {} and {}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            )))
        } else {
            Ok(())
        }
    }
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which gateway shards one process runs (`discord.shards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shards {
    /// One connection carrying every guild.
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

impl<'de> Deserialize<'de> for Shards {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Shards::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Shards {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn http_url(u: &Option<Url>, _: &()) -> garde::Result {
    match u {
        Some(u) if !matches!(u.scheme(), "http" | "https") => Err(garde::Error::new(format!(
            "scheme `{}` is not http or https",
            u.scheme()
        ))),
        _ => Ok(()),
    }
}

fn not_empty(t: &Option<Secret>, _: &()) -> garde::Result {
    match t {
        Some(t) if t.expose().trim().is_empty() => Err(garde::Error::new("is empty")),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// Needed by `attune run`; `attune sandbox` brings its own.
    #[garde(custom(not_empty))]
    pub token: Option<Secret>,
    #[garde(skip)]
    pub application_id: Option<u64>,
    #[garde(custom(http_url))]
    pub proxy_url: Option<Url>,
    #[garde(skip)]
    pub dev_guild_id: Option<u64>,
    #[serde(
        alias = "request_timeout_secs",
        deserialize_with = "dur::secs",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::from_secs(1), Duration::from_secs(120))))]
    pub request_timeout: Duration,
    /// Which gateway shards this process runs.
    #[garde(skip)]
    pub shards: Shards,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            token: None,
            application_id: None,
            proxy_url: None,
            dev_guild_id: None,
            request_timeout: Duration::from_secs(10),
            shards: Shards::All,
        }
    }
}

fn postgres_url(u: &Url, _: &()) -> garde::Result {
    if matches!(u.scheme(), "postgres" | "postgresql") {
        Ok(())
    } else {
        Err(garde::Error::new(format!(
            "scheme `{}` is not postgres://",
            u.scheme()
        )))
    }
}

#[derive(Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    #[garde(custom(postgres_url))]
    pub url: Url,
    #[garde(range(min = 1, max = 1000))]
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: Url::parse(DEFAULT_DATABASE_URL).expect("a valid default"),
            max_connections: 10,
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &display_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Serialize for DatabaseConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DatabaseConfig", 2)?;
        // The password, if any, never leaves the process.
        st.serialize_field("url", &display_url(&self.url))?;
        st.serialize_field("max_connections", &self.max_connections)?;
        st.end()
    }
}

fn log_filter(level: &String, _: &()) -> garde::Result {
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map(|_| ())
        .map_err(|e| garde::Error::new(format!("`{level}` is not a log filter ({e})")))
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    #[garde(skip)]
    pub format: LogFormat,
    #[garde(custom(log_filter))]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    #[garde(skip)]
    pub enabled: bool,
    #[serde(
        alias = "poll_interval_ms",
        deserialize_with = "dur::ms",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::from_millis(10), Duration::from_secs(60))))]
    pub poll_interval: Duration,
    /// A job found late by more than this is recorded as missed instead of posted.
    #[serde(
        alias = "grace_minutes",
        deserialize_with = "dur::minutes",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::ZERO, Duration::from_secs(7 * 86_400))))]
    pub grace: Duration,
    /// How long a claimed job is held before another process may take it over. A running
    /// job renews it (a heartbeat every third of it), so it only runs out when its process
    /// died or lost the database. At least `discord.request_timeout`.
    #[serde(
        alias = "lease_secs",
        deserialize_with = "dur::secs",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(
        custom(between(Duration::from_secs(5), Duration::from_secs(3600))),
        custom(covers_request(&self.request_timeout))
    )]
    pub lease: Duration,
    /// The longest one delivery may take, all of it (preparing, waiting for its turn,
    /// posting, recording); past it the attempt is abandoned and the job retried.
    #[serde(
        deserialize_with = "dur::secs",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::from_secs(10), Duration::from_secs(3600))))]
    pub job_timeout: Duration,
    /// `discord.request_timeout`, copied here before validation for the lease rule.
    #[serde(skip)]
    #[garde(skip)]
    pub request_timeout: Duration,
    #[garde(range(min = 1, max = 1000))]
    pub batch_size: i64,
    /// Seeds every random choice (micro-prompt days, moments and shuffles); without one a
    /// random seed is drawn at start-up.
    #[garde(skip)]
    pub seed: u64,
    /// Scheduled posts per second at most, for the bot token as a whole: every process that
    /// posts with it shares this budget through Postgres (0: no pacing, e.g. behind a
    /// rate-limit proxy).
    #[garde(range(max = 50))]
    pub max_posts_per_second: u32,
    /// Finished jobs (done, missed, failed, cancelled) are deleted this many days after they
    /// ended, checked hourly beside the retention sweep.
    #[garde(range(min = 1, max = 3650))]
    pub keep_finished_days: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            poll_interval: Duration::from_secs(1),
            grace: Duration::from_secs(2 * 3600),
            lease: Duration::from_secs(60),
            job_timeout: Duration::from_secs(120),
            request_timeout: Duration::ZERO,
            batch_size: 50,
            // Below 2^63, so it prints as a TOML integer.
            seed: rand::random::<u64>() >> 1,
            max_posts_per_second: 40,
            keep_finished_days: 14,
        }
    }
}

impl SchedulerConfig {
    pub fn grace(&self) -> chrono::Duration {
        chrono(self.grace)
    }

    pub fn lease(&self) -> chrono::Duration {
        chrono(self.lease)
    }
}

fn covers_request(request: &Duration) -> impl Fn(&Duration, &()) -> garde::Result + '_ {
    move |lease, _| {
        if lease < request {
            Err(garde::Error::new(format!(
                "must be at least discord.request_timeout ({}): a lease shorter than one request \
                 runs out while the post is still on its way, and another process posts it again",
                humantime::format_duration(*request)
            )))
        } else {
            Ok(())
        }
    }
}

fn is_dir(d: &Option<PathBuf>, _: &()) -> garde::Result {
    match d {
        Some(d) if !d.is_dir() => Err(garde::Error::new(format!(
            "{} is not a folder",
            d.display()
        ))),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// A folder of prompt files replacing the built-in library; `None` uses the built-in one.
    #[garde(custom(is_dir))]
    pub dir: Option<PathBuf>,
}

/// The guided repair flow's timings and limits.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct RepairConfig {
    /// An open repair with no activity for this long closes with a kind note.
    #[serde(
        alias = "expire_hours",
        deserialize_with = "dur::hours",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::from_secs(3600), Duration::from_secs(30 * 86_400))))]
    pub expire_after: Duration,
    /// One gentle nudge after this much quiet (always before the expiry).
    #[serde(
        alias = "reminder_hours",
        deserialize_with = "dur::hours",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(before_expiry(&self.expire_after)))]
    pub remind_after: Duration,
    /// How long after an agreement the bot asks how it is going.
    #[serde(
        alias = "revisit_days",
        deserialize_with = "dur::days",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::from_secs(86_400), Duration::from_secs(60 * 86_400))))]
    pub revisit_after: Duration,
    /// Reflections allowed in the "not quite" loop before offering to go on.
    #[garde(range(min = 1, max = 10))]
    pub max_reflect_loops: u8,
}

fn before_expiry(expire: &Duration) -> impl Fn(&Duration, &()) -> garde::Result + '_ {
    move |v, _| {
        if *v < Duration::from_secs(3600) || *v >= *expire {
            Err(garde::Error::new(format!(
                "must be at least 1h and below repair.expire_after ({})",
                humantime::format_duration(*expire)
            )))
        } else {
            Ok(())
        }
    }
}

impl Default for RepairConfig {
    fn default() -> Self {
        RepairConfig {
            expire_after: Duration::from_secs(48 * 3600),
            remind_after: Duration::from_secs(12 * 3600),
            revisit_after: Duration::from_secs(3 * 86_400),
            max_reflect_loops: 3,
        }
    }
}

impl RepairConfig {
    pub fn expire_after(&self) -> chrono::Duration {
        chrono(self.expire_after)
    }

    pub fn remind_after(&self) -> chrono::Duration {
        chrono(self.remind_after)
    }

    pub fn revisit_after(&self) -> chrono::Duration {
        chrono(self.revisit_after)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Seals free text at rest; unset stores it as written (start-up warns).
    #[garde(skip)]
    pub encryption_key: Option<Secret>,
    /// Previous keys, still accepted for reading during a rotation.
    #[garde(skip)]
    pub old_keys: Vec<Secret>,
    /// Raw answers and texts older than this many days are deleted; unset keeps them.
    #[garde(inner(range(min = 1)))]
    pub retention_days: Option<u32>,
    /// Where the key Attune makes for itself lives when `encryption_key` is unset: made on the
    /// first `attune run`, readable only by Attune's user. Unset: `attune.key` in systemd's
    /// state directory (`$STATE_DIRECTORY`), else in the working directory.
    #[garde(skip)]
    pub key_file: Option<PathBuf>,
    /// Store notes and repair texts unencrypted: no key and no key file. Off by default.
    #[garde(skip)]
    pub plaintext: bool,
    /// The keys above, parsed.
    #[serde(skip)]
    #[garde(skip)]
    pub keys: crate::crypto::Keyring,
    /// Where the current key comes from.
    #[serde(skip)]
    #[garde(skip)]
    pub key_source: KeySource,
}

/// Where the key that seals stored text comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum KeySource {
    /// `privacy.encryption_key`.
    Configured,
    /// The key file Attune made earlier.
    File(PathBuf),
    /// No key yet: `attune run` makes one in this file.
    ToMake(PathBuf),
    /// `privacy.plaintext = true`: no key.
    #[default]
    Plaintext,
}

impl PrivacyConfig {
    /// The key file's path (see `key_file`).
    pub fn key_file_path(&self) -> PathBuf {
        if let Some(p) = &self.key_file {
            return p.clone();
        }
        let dir = std::env::var_os("STATE_DIRECTORY")
            .map(PathBuf::from)
            // systemd may list several; the first is Attune's own.
            .map(|d| {
                d.to_string_lossy()
                    .split(':')
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or(d)
            })
            .unwrap_or_default();
        dir.join("attune.key")
    }

    /// Makes the key file when there is none yet (`attune run` on its first start) and seals
    /// with it from then on. Returns the path when a key was made.
    pub fn make_key_if_missing(&mut self) -> Result<Option<PathBuf>, ConfigError> {
        let KeySource::ToMake(path) = &self.key_source else {
            return Ok(None);
        };
        let path = path.clone();
        let text = crate::crypto::key_file::create(&path)
            .map_err(|e| ConfigError::new("privacy.key_file", e))?;
        let old: Vec<String> = self
            .old_keys
            .iter()
            .map(|k| k.expose().to_string())
            .collect();
        self.keys = crate::crypto::Keyring::parse(Some(&text), &old)
            .map_err(|e| ConfigError::new("privacy.key_file", e))?;
        self.key_source = KeySource::File(path.clone());
        Ok(Some(path))
    }

    /// One line for the host on where the key lives and what to back up.
    pub fn key_summary(&self) -> String {
        match &self.key_source {
            KeySource::Configured => "notes and repair texts are sealed with privacy.encryption_key; keep a copy of it somewhere safe".into(),
            KeySource::File(p) => format!(
                "notes and repair texts are sealed with the key in {}; back that file up: without it they cannot be read",
                p.display()
            ),
            KeySource::ToMake(p) => format!(
                "no key yet: the first `attune run` makes one in {} (readable only by Attune's user); back that file up",
                p.display()
            ),
            KeySource::Plaintext => {
                "privacy.plaintext = true: notes and repair texts are stored unencrypted".into()
            }
        }
    }
}

/// A Matrix user id as the spec writes it: `@localpart:server`. Anything else is refused here,
/// so a typo is named at start-up rather than found at the first login.
fn is_matrix_user(u: &str) -> bool {
    let Some(rest) = u.strip_prefix('@') else {
        return false;
    };
    match rest.split_once(':') {
        Some((local, server)) => {
            !local.is_empty() && !server.is_empty() && !u.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn matrix_user(u: &Option<String>, _: &()) -> garde::Result {
    match u {
        Some(u) if !is_matrix_user(u) => Err(garde::Error::new(format!(
            "`{u}` is not a Matrix user id like @attune:example.org"
        ))),
        _ => Ok(()),
    }
}

fn inviters(list: &[String], _: &()) -> garde::Result {
    for entry in list {
        let ok = match entry.strip_prefix("*:") {
            Some(server) => !server.is_empty() && !server.contains(char::is_whitespace),
            None => is_matrix_user(entry),
        };
        if !ok {
            return Err(garde::Error::new(format!(
                "`{entry}` is neither a user id (@alice:example.org) nor a whole server (*:example.org)"
            )));
        }
    }
    Ok(())
}

fn stable_device_id(d: &str, _: &()) -> garde::Result {
    if d.is_empty() || d.len() > 64 || !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Err(garde::Error::new(
            "use 1 to 64 letters, digits or underscores, and keep it the same across restarts",
        ))
    } else {
        Ok(())
    }
}

/// The Matrix transport (`[matrix]`); without `homeserver` it is off.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixConfig {
    /// The homeserver's client-server API, e.g. `https://matrix.example.org`.
    #[garde(custom(http_url))]
    pub homeserver: Option<Url>,
    /// The bot's account, e.g. `@attune:example.org`.
    #[garde(custom(matrix_user))]
    pub user_id: Option<String>,
    /// Logs in with this password (needed once, and for cross-signing the bot's device)...
    #[garde(custom(not_empty))]
    pub password: Option<Secret>,
    /// ...or restores a session with this access token (it must belong to `device_id`).
    #[garde(custom(not_empty))]
    pub access_token: Option<Secret>,
    /// The bot's device. Keep it stable: the homeserver deduplicates retried sends per
    /// device, and the crypto store belongs to it.
    #[garde(custom(stable_device_id))]
    pub device_id: String,
    /// Where the SDK keeps the sync position and the end-to-end encryption keys (a folder).
    /// Back it up: without it the bot cannot read encrypted rooms it was in.
    #[garde(skip)]
    pub store_path: PathBuf,
    /// Encrypts the store folder at rest (optional).
    #[garde(custom(not_empty))]
    pub store_passphrase: Option<Secret>,
    /// Who may invite the bot into a room: user ids, or `*:server` for everyone on a server.
    /// Invitations from anyone else are declined.
    #[garde(custom(inviters))]
    pub allowed_inviters: Vec<String>,
    #[serde(
        deserialize_with = "dur::secs",
        serialize_with = "humantime_serde::serialize"
    )]
    #[garde(custom(between(Duration::from_secs(1), Duration::from_secs(120))))]
    pub request_timeout: Duration,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        MatrixConfig {
            homeserver: None,
            user_id: None,
            password: None,
            access_token: None,
            device_id: "ATTUNEBOT".into(),
            store_path: PathBuf::from("matrix-store"),
            store_passphrase: None,
            allowed_inviters: Vec::new(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl MatrixConfig {
    pub fn enabled(&self) -> bool {
        self.homeserver.is_some()
    }

    /// Whether `user` may invite the bot.
    pub fn may_invite(&self, user: &str) -> bool {
        self.allowed_inviters
            .iter()
            .any(|e| match e.strip_prefix("*:") {
                Some(server) => user
                    .rsplit_once(':')
                    .is_some_and(|(_, s)| s.eq_ignore_ascii_case(server)),
                None => e == user,
            })
    }

    /// What `attune run` needs once Matrix is on.
    fn problems(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        if !self.enabled() {
            return out;
        }
        if self.user_id.is_none() {
            out.push(ConfigError::new(
                "matrix.user_id",
                "missing: the bot's account, like @attune:example.org",
            ));
        }
        if self.password.is_none() && self.access_token.is_none() {
            out.push(ConfigError::new(
                "matrix.password",
                "missing: set matrix.password or matrix.access_token (ATTUNE_MATRIX__PASSWORD)",
            ));
        }
        if self.allowed_inviters.is_empty() {
            out.push(ConfigError::new(
                "matrix.allowed_inviters",
                "empty: nobody could invite the bot; list user ids or *:your.server",
            ));
        }
        out
    }
}

/// The operations HTTP port (`[ops]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// Where `/healthz`, `/readyz` and `/metrics` are served; unset turns the port off.
    #[garde(skip)]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    #[garde(dive)]
    pub discord: DiscordConfig,
    #[garde(dive)]
    pub database: DatabaseConfig,
    #[garde(dive)]
    pub log: LogConfig,
    #[garde(dive)]
    pub scheduler: SchedulerConfig,
    #[garde(dive)]
    pub content: ContentConfig,
    #[garde(dive)]
    pub repair: RepairConfig,
    #[garde(dive)]
    pub privacy: PrivacyConfig,
    #[garde(dive)]
    pub ops: OpsConfig,
    #[garde(dive)]
    pub matrix: MatrixConfig,
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

    /// A TOML text alone (no environment), for tests of the rules.
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        Self::extract(Figment::new().merge(Toml::string(text)), Vec::new())
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
        Self::extract(figment, errors)
    }

    fn extract(figment: Figment, mut errors: Vec<ConfigError>) -> Result<Config, ConfigErrors> {
        let mut config = match figment.extract::<Config>() {
            Ok(c) => c,
            Err(e) => {
                // serde stops at a section's first problem; reading each section on its own
                // finds the problems of every section in one go.
                let mut found: Vec<ConfigError> = e.into_iter().map(figment_error).collect();
                found.extend(section_errors(&figment));
                for f in found {
                    if !errors.iter().any(|e| e.key == f.key) {
                        errors.push(f);
                    }
                }
                return Err(ConfigErrors(errors));
            }
        };
        config.scheduler.request_timeout = config.discord.request_timeout;
        if let Err(report) = config.validate() {
            for (path, e) in report.iter() {
                errors.push(ConfigError::new(path.to_string(), e.message().to_string()));
            }
        }
        errors.extend(config.matrix.problems());
        let old: Vec<String> = config
            .privacy
            .old_keys
            .iter()
            .map(|k| k.expose().to_string())
            .collect();
        let privacy = &mut config.privacy;
        let (current, key) = match (&privacy.encryption_key, privacy.plaintext) {
            (Some(k), _) => {
                privacy.key_source = KeySource::Configured;
                (Some(k.expose().to_string()), "privacy.encryption_key")
            }
            (None, true) => {
                privacy.key_source = KeySource::Plaintext;
                (None, "privacy.plaintext")
            }
            (None, false) => {
                let path = privacy.key_file_path();
                match crate::crypto::key_file::read(&path) {
                    Ok(Some(text)) => {
                        privacy.key_source = KeySource::File(path);
                        (Some(text), "privacy.key_file")
                    }
                    Ok(None) => {
                        privacy.key_source = KeySource::ToMake(path);
                        (None, "privacy.key_file")
                    }
                    Err(e) => {
                        errors.push(ConfigError::new("privacy.key_file", e));
                        (None, "privacy.key_file")
                    }
                }
            }
        };
        match crate::crypto::Keyring::parse(current.as_deref(), &old) {
            Ok(k) => config.privacy.keys = k,
            Err(e) => errors.push(ConfigError::new(key, e)),
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// `attune run` needs at least one transport: a Discord token, a Matrix homeserver, or both.
    pub fn require_transport(&self) -> Result<(), ConfigError> {
        if self.discord.token.is_some() || self.matrix.enabled() {
            Ok(())
        } else {
            Err(ConfigError::new(
                "discord.token",
                "missing, and [matrix] homeserver is not set either: set ATTUNE_DISCORD__TOKEN for Discord, [matrix] for Matrix, or both",
            ))
        }
    }

    /// The Discord transport needs a token; other commands do not.
    pub fn require_token(&self) -> Result<&Secret, ConfigError> {
        self.discord.token.as_ref().ok_or_else(|| {
            ConfigError::new(
                "discord.token",
                "missing: set it in config.toml ([discord] token = \"...\") or ATTUNE_DISCORD__TOKEN",
            )
        })
    }

    /// The effective configuration as TOML, secrets and passwords redacted.
    pub fn redacted(&self) -> String {
        let mut out = toml::to_string(self).unwrap_or_else(|e| format!("# could not print: {e}\n"));
        out.push_str(&format!("\n# {}\n", self.privacy.key_summary()));
        out
    }
}

/// The problems of each section, read on its own.
fn section_errors(figment: &Figment) -> Vec<ConfigError> {
    fn one<T: serde::de::DeserializeOwned + Validate<Context = ()>>(
        f: &Figment,
        key: &str,
    ) -> Vec<ConfigError> {
        if !f.contains(key) {
            return Vec::new();
        }
        match f.extract_inner::<T>(key) {
            Ok(section) => match section.validate() {
                Ok(()) => Vec::new(),
                Err(report) => report
                    .iter()
                    .map(|(path, e)| {
                        ConfigError::new(format!("{key}.{path}"), e.message().to_string())
                    })
                    .collect(),
            },
            Err(e) => e
                .into_iter()
                .map(figment_error)
                .map(|mut c| {
                    // Inside one section the path is the field's, whatever order figment keeps.
                    let field: Vec<&str> = c.key.split('.').filter(|p| *p != key).collect();
                    c.key = format!("{key}.{}", field.join("."));
                    c
                })
                .collect(),
        }
    }
    let mut out = Vec::new();
    out.extend(one::<DiscordConfig>(figment, "discord"));
    out.extend(one::<DatabaseConfig>(figment, "database"));
    out.extend(one::<LogConfig>(figment, "log"));
    out.extend(one::<SchedulerConfig>(figment, "scheduler"));
    out.extend(one::<ContentConfig>(figment, "content"));
    out.extend(one::<RepairConfig>(figment, "repair"));
    out.extend(one::<PrivacyConfig>(figment, "privacy"));
    out.extend(one::<OpsConfig>(figment, "ops"));
    out.extend(one::<MatrixConfig>(figment, "matrix"));
    out
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

/// The URL with any password hidden, for messages and logs.
pub fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(s: &str) -> Result<Config, ConfigErrors> {
        Config::from_toml(s)
    }

    #[test]
    fn defaults_are_usable() {
        let c = from_toml("").unwrap();
        assert_eq!(c.database.url.as_str(), DEFAULT_DATABASE_URL);
        assert_eq!(c.log.format, LogFormat::Pretty);
        assert!(c.require_token().is_err());
        assert_eq!(c.scheduler.grace, Duration::from_secs(7200));
    }

    #[test]
    fn matrix_section_is_checked() {
        let c = from_toml("").unwrap();
        assert!(!c.matrix.enabled());
        assert!(c.require_transport().is_err());
        let ok = from_toml(
            "[matrix]\nhomeserver = \"https://m.example.org\"\nuser_id = \"@attune:example.org\"\npassword = \"pw\"\nallowed_inviters = [\"@ann:example.org\", \"*:home.example\"]\n",
        )
        .unwrap();
        assert!(ok.matrix.enabled());
        assert!(ok.require_transport().is_ok());
        assert!(ok.matrix.may_invite("@ann:example.org"));
        assert!(ok.matrix.may_invite("@bo:home.example"));
        assert!(!ok.matrix.may_invite("@eve:example.org"));
        assert!(!ok.redacted().contains("\"pw\""), "{}", ok.redacted());
        let err = from_toml(
            "[matrix]\nhomeserver = \"https://m.example.org\"\nuser_id = \"attune\"\nallowed_inviters = [\"bob\"]\ndevice_id = \"has space\"\n",
        )
        .unwrap_err()
        .to_string();
        for key in [
            "matrix.user_id",
            "matrix.password",
            "matrix.allowed_inviters",
            "matrix.device_id",
        ] {
            assert!(err.contains(key), "{key} in {err}");
        }
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
        let err =
            from_toml("[discord]\nproxy_url = \"ftp://x\"\n[database]\nurl = \"mysql://x\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("discord.proxy_url"), "{err}");
        assert!(err.contains("database.url"), "{err}");
        let err = from_toml("[log]\nformat = \"xml\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.format"), "{err}");
        let err = from_toml("[discord]\nproxy_url = \"not a url\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("discord.proxy_url"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = from_toml("[database]\nmax_connections = \"ten\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.max_connections"), "{err}");
    }

    #[test]
    fn durations_read_as_text_and_in_the_old_units() {
        let c = from_toml("[scheduler]\nlease = \"2m\"\ngrace = \"90min\"\n[repair]\nrevisit_after = \"1 week\"\n").unwrap();
        assert_eq!(c.scheduler.lease, Duration::from_secs(120));
        assert_eq!(c.scheduler.grace, Duration::from_secs(5400));
        assert_eq!(c.repair.revisit_after, Duration::from_secs(7 * 86_400));
        // A config file of release 0.1 keeps working.
        let c = from_toml("[scheduler]\nlease_secs = 30\npoll_interval_ms = 50\ngrace_minutes = 10\n[repair]\nexpire_hours = 24\nreminder_hours = 6\nrevisit_days = 7\n[discord]\nrequest_timeout_secs = 5\n").unwrap();
        assert_eq!(c.scheduler.lease, Duration::from_secs(30));
        assert_eq!(c.scheduler.poll_interval, Duration::from_millis(50));
        assert_eq!(c.scheduler.grace, Duration::from_secs(600));
        assert_eq!(c.repair.expire_after, Duration::from_secs(24 * 3600));
        assert_eq!(c.repair.revisit_after, Duration::from_secs(7 * 86_400));
        assert_eq!(c.discord.request_timeout, Duration::from_secs(5));
        let err = from_toml("[scheduler]\nlease = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scheduler.lease") && err.contains("not a duration"),
            "{err}"
        );
    }

    #[test]
    fn the_example_file_is_valid_and_documents_every_key() {
        let text = include_str!("../config.example.toml");
        let c = from_toml(text).unwrap_or_else(|e| panic!("config.example.toml: {e}"));
        assert_eq!(c.database.max_connections, 10);
        // Every key the loader knows appears in the example, set or commented out: the
        // printed effective configuration lists them all.
        let all = from_toml("[privacy]\nencryption_key = \"k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\nretention_days = 30\n[content]\ndir = \".\"\n[ops]\nlisten = \"127.0.0.1:1\"\n[discord]\ntoken = \"t\"\napplication_id = 1\nproxy_url = \"http://x\"\ndev_guild_id = 1\n").unwrap();
        let printed: toml::Table = toml::from_str(&all.redacted()).unwrap();
        for (section, keys) in printed {
            for key in keys.as_table().unwrap().keys() {
                assert!(
                    text.contains(&format!("{key} =")),
                    "config.example.toml lacks {section}.{key}"
                );
            }
        }
    }

    #[test]
    fn repair_defaults_and_overrides() {
        let c = from_toml("").unwrap();
        assert_eq!(c.repair.expire_after(), chrono::Duration::hours(48));
        assert_eq!(c.repair.remind_after(), chrono::Duration::hours(12));
        assert_eq!(c.repair.revisit_after(), chrono::Duration::days(3));
        assert_eq!(c.repair.max_reflect_loops, 3);
        let c = from_toml(
            "[repair]\nexpire_after = \"24h\"\nremind_after = \"6h\"\nrevisit_after = \"7days\"\nmax_reflect_loops = 2\n",
        )
        .unwrap();
        assert_eq!(c.repair.expire_after(), chrono::Duration::hours(24));
        assert_eq!(c.repair.remind_after(), chrono::Duration::hours(6));
        assert_eq!(c.repair.revisit_after(), chrono::Duration::days(7));
        assert_eq!(c.repair.max_reflect_loops, 2);
        assert!(
            c.redacted().contains("expire_after = \"1day\""),
            "{}",
            c.redacted()
        );
    }

    #[test]
    fn repair_bad_values_are_named() {
        let err = from_toml(
            "[repair]\nexpire_after = \"10min\"\nrevisit_after = \"99days\"\nmax_reflect_loops = 0\n",
        )
        .unwrap_err()
        .to_string();
        for key in [
            "repair.expire_after",
            "repair.revisit_after",
            "repair.max_reflect_loops",
        ] {
            assert!(err.contains(key), "{key}: {err}");
        }
        let err = from_toml("[repair]\nexpire_after = \"10h\"\nremind_after = \"10h\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("repair.remind_after"), "{err}");
        let err = from_toml("[repair]\nexpire_hour = 10\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("repair.expire_hour") && err.contains("unknown key"),
            "{err}"
        );
    }

    #[test]
    fn a_lease_shorter_than_a_request_is_refused_by_name() {
        let err = from_toml("[scheduler]\nlease = \"20s\"\n[discord]\nrequest_timeout = \"30s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scheduler.lease") && err.contains("discord.request_timeout"),
            "{err}"
        );
        let c = from_toml("[scheduler]\nlease = \"30s\"\njob_timeout = \"90s\"\n[discord]\nrequest_timeout = \"30s\"\n").unwrap();
        assert_eq!(c.scheduler.job_timeout, Duration::from_secs(90));
        assert_eq!(
            from_toml("").unwrap().scheduler.job_timeout,
            Duration::from_secs(120)
        );
    }

    #[test]
    fn ranges_are_named() {
        let err = from_toml("[scheduler]\nbatch_size = 0\nmax_posts_per_second = 51\nkeep_finished_days = 0\n[database]\nmax_connections = 0\n[privacy]\nretention_days = 0\n")
            .unwrap_err()
            .to_string();
        for key in [
            "scheduler.batch_size",
            "scheduler.max_posts_per_second",
            "scheduler.keep_finished_days",
            "database.max_connections",
            "privacy.retention_days",
        ] {
            assert!(err.contains(key), "{key}: {err}");
        }
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
    fn redacted_hides_token_password_and_keys() {
        let key = crate::crypto::Keyring::generate();
        let c = from_toml(&format!(
            "[discord]\ntoken = \"super-secret-token\"\n[database]\nurl = \"postgres://u:pw123@h/db\"\n[privacy]\nencryption_key = \"{key}\"\n"
        ))
        .unwrap();
        let shown = c.redacted();
        assert!(!shown.contains("super-secret-token"));
        assert!(!shown.contains("pw123"));
        assert!(!shown.contains(key.split_once(':').unwrap().1), "{shown}");
        assert!(shown.contains("REDACTED"));
        assert!(!format!("{c:?}").contains("super-secret-token"));
    }
}
