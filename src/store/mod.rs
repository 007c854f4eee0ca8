//! All SQL lives here. Functions take an executor (`&mut PgConnection` via a transaction, or
//! the pool) so the caller decides the transaction boundary.

pub mod checkins;
pub mod couples;
pub mod export;
pub mod invitations;
pub mod jobs;
pub mod micro;
pub mod pacing;
pub mod people;
pub mod privacy;
pub mod questions;
pub mod recap;
pub mod repairs;
pub mod rooms;
pub mod schedules;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use url::Url;

use crate::config::{display_url, DatabaseConfig};

/// The migrations this binary knows. Migrations it does not know (applied by a newer binary
/// while several processes are upgraded one by one) are accepted: they are additive, and the
/// schema floor ([`check_floor`]) is what stops a binary the database has outgrown.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach the database at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("could not create database {name}: {source}")]
    Create {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("could not apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "this database was upgraded by a newer Attune that needs migration {needed} or later; \
         this binary knows migrations up to {known}: upgrade this binary (see README, Upgrading)"
    )]
    TooOld { needed: i64, known: i64 },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

fn db_name(url: &Url) -> String {
    url.path().trim_start_matches('/').to_string()
}

/// Creates the database named in `url` when it does not exist yet.
pub async fn ensure_database(url: &Url) -> Result<(), StoreError> {
    let name = db_name(url);
    let opts = PgConnectOptions::from_str(url.as_str()).map_err(|e| StoreError::Unreachable {
        url: display_url(url),
        source: e,
    })?;
    // Connect to the maintenance database on the same server to look for ours.
    let mut admin = opts.clone().database("postgres");
    admin = admin.log_statements(tracing::log::LevelFilter::Trace);
    let mut conn =
        tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&admin))
            .await
            .map_err(|_| StoreError::Unreachable {
                url: display_url(url),
                source: sqlx::Error::PoolTimedOut,
            })?
            .map_err(|e| StoreError::Unreachable {
                url: display_url(url),
                source: e,
            })?;
    let exists: Option<i32> = sqlx::query_scalar("select 1 from pg_database where datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let sql = format!("create database \"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            // Another process may have created it at the same moment: 42P04 once its
            // creation committed, 23505 (a duplicate in pg_database) while it was running.
            let dup = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P04" || c == "23505");
            if !dup {
                return Err(StoreError::Create { name, source: e });
            }
        }
        tracing::info!(database = %name, "created database");
    }
    let _ = conn.close().await;
    Ok(())
}

/// Drops a database (used by the sandbox and tests for their scratch databases).
pub async fn drop_database(url: &Url) -> Result<(), StoreError> {
    let name = db_name(url);
    let opts = PgConnectOptions::from_str(url.as_str())?.database("postgres");
    let mut conn = PgConnection::connect_with(&opts).await?;
    let sql = format!(
        "drop database if exists \"{}\" with (force)",
        name.replace('"', "\"\"")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(())
}

/// Whether an error means "not now" (the database is away, a connection dropped, a lock
/// stayed taken) rather than a query that is wrong: the work was rolled back and trying again
/// later is both kind and true.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        // What sqlx reports when the server (or a proxy in front of it) closes a new
        // connection during the handshake, e.g. "unexpected response from SSLRequest".
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d.code().as_deref().is_some_and(try_again_later),
        _ => false,
    }
}

/// SQLSTATEs that mean "not now" rather than the query being wrong: class 08 (connection
/// exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now) and 55P03
/// (lock not available, see [`LOCK_TIMEOUT`]).
fn try_again_later(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "55P03")
}

/// How long a statement of the bot may wait for a row lock. A lock held elsewhere (a stuck
/// process, a manual fix-up, a holder whose connection went silent) must not make a person's
/// command wait past Discord's 3 s: the statement fails with 55P03, its transaction rolls
/// back and the person is asked to try again; a job is retried with back-off.
pub const LOCK_TIMEOUT: &str = "2s";

/// The newest migration this binary knows.
pub fn newest_known_migration() -> i64 {
    MIGRATOR
        .migrations
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Refuses a database whose schema floor is above what this binary knows: a newer release
/// raised it because its migration is one an older binary cannot live with.
pub async fn check_floor(conn: &mut PgConnection) -> Result<(), StoreError> {
    let needed: i64 = sqlx::query_scalar("select min_migration from schema_floor")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0);
    let known = newest_known_migration();
    if needed > known {
        return Err(StoreError::TooOld { needed, known });
    }
    Ok(())
}

/// Creates the database if needed, opens a pool and applies migrations.
pub async fn connect(cfg: &DatabaseConfig) -> Result<PgPool, StoreError> {
    ensure_database(&cfg.url).await?;
    let opts = PgConnectOptions::from_str(cfg.url.as_str())?
        .log_statements(tracing::log::LevelFilter::Trace);
    let unreachable = |e| StoreError::Unreachable {
        url: display_url(&cfg.url),
        source: e,
    };
    // Migrate on a connection of its own, without the lock timeout: a second process starting
    // at the same moment waits on the migration lock for as long as the first one needs.
    let mut conn = PgConnection::connect_with(&opts)
        .await
        .map_err(unreachable)?;
    MIGRATOR.run(&mut conn).await?;
    check_floor(&mut conn).await?;
    let _ = conn.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        // Fail fast while the database is away so users get a kind answer within Discord's 3 s.
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(opts.options([("lock_timeout", LOCK_TIMEOUT)]))
        .await
        .map_err(unreachable)?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_transient_and_a_bug_is_not() {
        for code in ["08006", "08003", "57P01", "57P02", "57P03", "55P03"] {
            assert!(try_again_later(code), "{code}");
        }
        // A constraint violation or a syntax error is our bug, not an outage.
        for code in ["23505", "42601", "57014"] {
            assert!(!try_again_later(code), "{code}");
        }
        assert!(is_transient(&sqlx::Error::Protocol(
            "unexpected response".into()
        )));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
    }
}
