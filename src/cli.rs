//! The `attune` command line: its arguments, and one library call per command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::clock::SystemClock;

#[derive(Parser)]
#[command(
    name = "attune",
    version,
    about = "A chat bot that helps couples practise emotional attunement."
)]
pub struct Cli {
    /// Configuration file (default: ./config.toml when present). Environment variables
    /// ATTUNE_SECTION__KEY override it.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot (the default): connect to Postgres and the chat platforms ([discord] with a
    /// token, [matrix] with a homeserver, or both) and serve couples.
    Run,
    /// Create the database if needed and apply migrations, then exit.
    Migrate,
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
    /// Print the link that invites the bot to a Discord server, with least-privilege permissions.
    InviteUrl {
        /// The application id from the Discord developer portal (default: discord.application_id).
        #[arg(long)]
        application_id: Option<u64>,
    },
    /// Try Attune without a token: the bot against a local Discord stand-in, two simulated
    /// partners, a simulated week, printed as the channel would show it.
    Sandbox(crate::sandbox::SandboxArgs),
    /// Print a new encryption key for `privacy.encryption_key`.
    Keygen,
    /// Re-seal every stored note and repair text under the current `privacy.encryption_key`
    /// (list the previous key in `privacy.old_keys` while you run it), so the old key can go.
    RotateKey,
    /// Run a command with `DATABASE_URL` pointing at a Postgres, found the way `attune
    /// sandbox` finds it: `DATABASE_URL`, a server on 127.0.0.1:5432, else a throwaway cluster
    /// from installed Postgres binaries, removed afterwards. `scripts/test` runs through it.
    WithPostgres {
        /// The command and its arguments, after `--`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Work with the prompt library and the bot's words.
    #[command(subcommand)]
    Content(ContentCommand),
}

#[derive(Subcommand)]
enum ContentCommand {
    /// Validate a content folder (default: the library built into this binary) and print a
    /// summary: unique ids, limits, placeholders, sizes, near-duplicates, every text present.
    Check {
        /// The folder to check (for example your copy of content/).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_path = cli.config.as_deref();
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let mut config = load(config_path)?;
            config.require_transport()?;
            crate::telemetry::init(&config.log);
            // Private by default: the first start makes the key that seals stored text.
            if let Some(path) = config.privacy.make_key_if_missing()? {
                tracing::warn!(path = %path.display(),
                    "made an encryption key for notes and repair texts; back this file up: without it they cannot be read");
            }
            let running = crate::app::start(config, Arc::new(SystemClock)).await?;
            running.run_until_signal().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let config = load(config_path)?;
            crate::telemetry::init(&config.log);
            let pool = crate::store::connect(&config.database).await?;
            pool.close().await;
            println!(
                "database {} is up to date",
                crate::config::display_url(&config.database.url)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => match Config::load(config_path) {
            Ok(config) => {
                print!("{}", config.redacted());
                eprintln!("{}", config.privacy.key_summary());
                if let Err(e) = config.require_transport() {
                    eprintln!("warning: {e} (needed by `attune run`)");
                }
                let serves: Vec<&str> = [
                    config.discord.token.is_some().then_some("Discord"),
                    config.matrix.enabled().then_some("Matrix"),
                ]
                .into_iter()
                .flatten()
                .collect();
                if !serves.is_empty() {
                    eprintln!("`attune run` will serve: {}", serves.join(" and "));
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("invalid configuration:\n{e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::InviteUrl { application_id } => {
            let id = match application_id {
                Some(id) => id,
                None => load(config_path)?.discord.application_id.ok_or_else(|| {
                    anyhow::anyhow!(
                        "config key `discord.application_id`: missing; pass --application-id or set it in config.toml"
                    )
                })?,
            };
            println!("{}", crate::discord::invite_url(id));
            Ok(ExitCode::SUCCESS)
        }
        Command::WithPostgres { command } => {
            let code = crate::local_postgres::run_with(&command)?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::Keygen => {
            println!("{}", crate::crypto::Keyring::generate());
            eprintln!(
                "Put this in config.toml as [privacy] encryption_key = \"...\" (or ATTUNE_PRIVACY__ENCRYPTION_KEY). Keep it secret and backed up: without it, stored notes cannot be read."
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::RotateKey => {
            let config = load(config_path)?;
            crate::telemetry::init(&config.log);
            let pool = crate::store::connect(&config.database).await?;
            let r = crate::store::privacy::rotate(&pool, &config.privacy.keys).await?;
            pool.close().await;
            let key = config.privacy.keys.current_id().unwrap_or("?");
            println!("re-sealed {} stored texts under key `{key}`", r.resealed);
            if r.unavailable > 0 {
                println!(
                    "{} stored texts do not open at their place (moved or damaged) and were left as they are",
                    r.unavailable
                );
            }
            if r.remaining > 0 {
                println!(
                    "{} texts were written under an old key while this ran (a running Attune still uses it): restart Attune with the new key (it re-seals them at start-up), then remove the old key",
                    r.remaining
                );
                return Ok(ExitCode::FAILURE);
            }
            println!("the old key can now be removed from privacy.old_keys");
            Ok(ExitCode::SUCCESS)
        }
        Command::Content(ContentCommand::Check { dir }) => {
            Ok(if crate::content::check_command(dir.as_deref()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Sandbox(args) => {
            let mut config = load(config_path)?;
            let pg = crate::local_postgres::find()?;
            config.database.url = pg.url.clone();
            let ok = crate::sandbox::run(config, args).await;
            drop(pg);
            let ok = ok?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// `main`: parses the arguments and runs them on a multi-threaded runtime.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::process::install_tls_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
