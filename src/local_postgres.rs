//! Finding a Postgres to try Attune or run its tests on a fresh machine: `attune sandbox` and
//! `attune with-postgres -- CMD` (which `scripts/test` uses) share this one search, so the two
//! README commands find the same server the same way.
//!
//! The order: `DATABASE_URL`; a server on 127.0.0.1:5432; else a throwaway cluster started
//! from installed Postgres binaries in a temporary directory and removed afterwards. Where none
//! is installed, the error says in one line what to install.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use url::Url;

/// What was found. A throwaway cluster is stopped and removed when this is dropped.
pub struct LocalPostgres {
    pub url: Url,
    /// How it was found, for one line of output.
    pub how: &'static str,
    throwaway: Option<Throwaway>,
}

struct Throwaway {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

const NOT_FOUND: &str = "no Postgres found: set DATABASE_URL, run a server on 127.0.0.1:5432, \
or install PostgreSQL 13 or newer (on Debian: apt-get install postgresql)";

/// Finds or starts a Postgres, in the order the module header gives.
pub fn find() -> anyhow::Result<LocalPostgres> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let url = Url::parse(&url).context("DATABASE_URL is not a URL")?;
        return Ok(LocalPostgres {
            url,
            how: "DATABASE_URL",
            throwaway: None,
        });
    }
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 5432));
    if TcpStream::connect_timeout(&local, Duration::from_millis(500)).is_ok() {
        return Ok(LocalPostgres {
            url: Url::parse("postgres://postgres@127.0.0.1:5432/postgres").expect("a valid URL"),
            how: "the server on 127.0.0.1:5432",
            throwaway: None,
        });
    }
    let bin = binaries().ok_or_else(|| anyhow::anyhow!(NOT_FOUND))?;
    start_throwaway(bin)
}

/// The directory holding `initdb` and `pg_ctl`: Debian's versioned directories first, then
/// the `PATH`.
fn binaries() -> Option<PathBuf> {
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    versioned.sort();
    if let Some(newest) = versioned.pop() {
        return Some(newest);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn start_throwaway(bin: PathBuf) -> anyhow::Result<LocalPostgres> {
    let dir = std::env::temp_dir().join(format!("attune-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // initdb refuses to run as root: run the cluster as the `postgres` user instead.
    let as_postgres = is_root();
    if as_postgres {
        let _ = Command::new("useradd")
            .args(["--system", "--no-create-home", "postgres"])
            .output();
        let status = Command::new("chown").arg("postgres").arg(&dir).status()?;
        anyhow::ensure!(
            status.success(),
            "could not hand {} to postgres",
            dir.display()
        );
    }
    let port = free_port()?;
    let throwaway = Throwaway {
        bin,
        dir,
        as_postgres,
    };
    let data = throwaway.dir.join("data");
    throwaway.run(
        "initdb",
        &[
            "-D".as_ref(),
            data.as_os_str(),
            "-A".as_ref(),
            "trust".as_ref(),
            "-U".as_ref(),
            "postgres".as_ref(),
        ],
    )?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        throwaway.dir.display()
    );
    let log = throwaway.dir.join("log");
    throwaway.run(
        "pg_ctl",
        &[
            "-D".as_ref(),
            data.as_os_str(),
            "-o".as_ref(),
            options.as_ref(),
            "-l".as_ref(),
            log.as_os_str(),
            "-w".as_ref(),
            "start".as_ref(),
        ],
    )?;
    Ok(LocalPostgres {
        url: Url::parse(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
            .expect("a valid URL"),
        how: "a throwaway cluster from the installed Postgres binaries",
        throwaway: Some(throwaway),
    })
}

impl Throwaway {
    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if let Some(t) = &self.throwaway {
            let data = t.dir.join("data");
            let _ = t.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "fast".as_ref(),
                    "stop".as_ref(),
                ],
            );
            remove(&t.dir);
        }
    }
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// `attune with-postgres -- CMD…`: runs the command with `DATABASE_URL` pointing at the
/// Postgres found, and removes a throwaway cluster afterwards. Returns the command's exit code.
pub fn run_with(cmd: &[String]) -> anyhow::Result<i32> {
    let (program, args) = cmd
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("with-postgres needs a command to run"))?;
    let pg = find()?;
    eprintln!("== Postgres: {}", pg.how);
    let status = Command::new(program)
        .args(args)
        .env("DATABASE_URL", pg.url.as_str())
        .status()
        .with_context(|| format!("running {program}"))?;
    drop(pg);
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback a fresh machine without a running server gets: a cluster from the
    /// installed binaries that answers queries, and leaves nothing behind once dropped.
    #[tokio::test]
    async fn a_throwaway_cluster_answers_and_is_removed_afterwards() {
        let bin = binaries().expect(
            "this test needs Postgres binaries (initdb, pg_ctl) installed, as scripts/test's \
             fallback does: apt-get install postgresql",
        );
        let pg = start_throwaway(bin).expect("a throwaway cluster");
        let dir = pg.throwaway.as_ref().unwrap().dir.clone();
        let pool = sqlx::PgPool::connect(pg.url.as_str()).await.unwrap();
        let (one,): (i32,) = sqlx::query_as("select 1").fetch_one(&pool).await.unwrap();
        assert_eq!(one, 1);
        pool.close().await;
        assert!(dir.exists());
        drop(pg);
        assert!(!dir.exists(), "the cluster's directory is removed");
    }
}
