//! The command line as a host meets it: configuration errors name their key, the invite link
//! asks for least privilege, and an unreachable database is one clear line, not a panic.

use std::process::{Command, Output};

fn attune(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_attune"));
    c.args(args);
    // A clean environment for configuration: only what the test sets.
    for (k, _) in std::env::vars() {
        if k.starts_with("ATTUNE_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.current_dir(std::env::temp_dir());
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_config_names_the_key_and_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("attune-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, "[discord]\ntokn = \"x\"\n").unwrap();
    let o = attune(&["check-config", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("`discord.tokn`: unknown key"), "{e}");
    std::fs::write(
        &file,
        "[log]\nformat = \"xml\"\n[database]\nurl = \"mysql://x\"\n",
    )
    .unwrap();
    let o = attune(&["check-config", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("`log.format`") && e.contains("xml"), "{e}");
    assert!(e.contains("`database.url`") && e.contains("mysql"), "{e}");

    std::fs::write(&file, "[discord]\ntoken = \"very-secret\"\n").unwrap();
    let o = attune(&["check-config", "--config", file.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("REDACTED") && !out.contains("very-secret"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_without_a_token_says_which_key_is_missing() {
    let o = attune(&["run"], &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("discord.token") && e.contains("missing"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let o = attune(
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/attune")],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("cannot reach the database"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
}

#[test]
fn invite_url_asks_for_least_privilege() {
    let o = attune(
        &["invite-url", "--application-id", "123456789012345678"],
        &[],
    );
    assert!(o.status.success());
    let url = String::from_utf8_lossy(&o.stdout);
    assert!(url.contains("client_id=123456789012345678"), "{url}");
    assert!(url.contains("scope=bot%20applications.commands"), "{url}");
    assert!(url.contains("permissions=117760"), "{url}");
    let o = attune(&["invite-url"], &[]);
    assert!(stderr(&o).contains("discord.application_id"));
}

#[test]
fn an_env_variable_that_is_not_a_key_is_named() {
    let o = attune(&["check-config"], &[("ATTUNE_DISCORD_TOKEN", "x")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("ATTUNE_DISCORD_TOKEN"),
        "{}",
        stderr(&o)
    );
}
