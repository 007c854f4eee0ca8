//! Privacy at the database level: which columns hold sealed free text, checking the
//! configured keys against what is stored, re-sealing under a new key, retention, and
//! forgetting one person.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::crypto::Keyring;
use crate::domain::ids::PersonId;

/// Every column holding free text a person wrote: (table, key columns, text column).
/// Adding a text column means adding it here, so keys, rotation and checks cover it.
pub const SEALED_COLUMNS: &[(&str, &[&str], &str)] = &[
    ("checkin_answers", &["checkin_id", "person_id"], "note"),
    (
        "repair_texts",
        &["repair_id", "writer", "kind", "round"],
        "body",
    ),
    ("agreements", &["id"], "text"),
    (
        "weekly_answers",
        &["checkin_id", "person_id", "theme"],
        "body",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error("config key `privacy.encryption_key`: {0} encrypted texts are stored but no key is configured; set the key they were written with")]
    Missing(i64),
    #[error("config key `privacy.encryption_key`: stored texts were sealed with key `{0}`, which is not configured (set it as privacy.encryption_key or list it in privacy.old_keys)")]
    UnknownKey(String),
    #[error("config key `privacy.encryption_key`: key `{0}` does not open the texts sealed under that id (wrong key?)")]
    WrongKey(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Refuses to start when stored text could not be read with the configured keys.
pub async fn verify_keys(pool: &PgPool, keys: &Keyring) -> Result<(), KeyCheckError> {
    let mut samples: Vec<(String, i64, String)> = Vec::new();
    for (table, _, col) in SEALED_COLUMNS {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select split_part({col}, ':', 3) as id, count(*), min({col}) from {table}
             where {col} like 'enc:v1:%' group by 1"
        )))
        .fetch_all(pool)
        .await?;
        samples.extend(rows);
    }
    let total: i64 = samples.iter().map(|s| s.1).sum();
    let mut seen = BTreeSet::new();
    for (id, _, sample) in samples {
        if !seen.insert(id.clone()) {
            continue;
        }
        match keys.open(&sample) {
            Ok(_) => {}
            Err(crate::crypto::CryptoError::NoKey) => return Err(KeyCheckError::Missing(total)),
            Err(crate::crypto::CryptoError::UnknownKey(k)) => {
                return Err(KeyCheckError::UnknownKey(k))
            }
            Err(_) => return Err(KeyCheckError::WrongKey(id)),
        }
    }
    Ok(())
}

/// Re-seals every stored text under the current key (plaintext too). Returns how many
/// values changed. Runs in one transaction: all or nothing.
pub async fn rotate(pool: &PgPool, keys: &Keyring) -> Result<u64, KeyCheckError> {
    let Some(current) = keys.current_id() else {
        return Err(KeyCheckError::Missing(0));
    };
    let prefix = format!("enc:v1:{current}:");
    let mut tx = pool.begin().await?;
    let mut changed = 0;
    for (table, _, col) in SEALED_COLUMNS {
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select ctid::text, {col} from {table} where {col} is not null and {col} not like $1 || '%'"
        )))
        .bind(&prefix)
        .fetch_all(&mut *tx)
        .await?;
        for (ctid, value) in rows {
            let plain = keys.open(&value).map_err(|e| match e {
                crate::crypto::CryptoError::UnknownKey(k) => KeyCheckError::UnknownKey(k),
                _ => KeyCheckError::WrongKey(Keyring::key_id_of(&value).unwrap_or("?").into()),
            })?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "update {table} set {col} = $1 where ctid = $2::tid"
            )))
            .bind(keys.seal(&plain))
            .bind(ctid)
            .execute(&mut *tx)
            .await?;
            changed += 1;
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// What retention removes: each table of raw answers and texts, and what makes a row old
/// (`$1` is the cut-off). Weekly recaps (aggregates) stay.
const RETENTION: &[(&str, &str)] = &[
    ("checkin_answers", "updated_at < $1"),
    ("weekly_answers", "updated_at < $1"),
    ("light_days", "local_date < ($1::timestamptz)::date"),
    ("checkin_posts", "local_date < ($1::timestamptz)::date"),
    ("micro_prompts", "created_at < $1"),
    ("repair_texts", "updated_at < $1"),
    ("agreement_revisits", "at < $1"),
    ("agreements", "created_at < $1"),
];

/// Rows one retention batch removes from each table at most.
pub const RETENTION_BATCH: i64 = 1000;

/// Deletes raw answers and texts older than `before`, batch by batch. Weekly recaps
/// (aggregates) stay.
pub async fn apply_retention(pool: &PgPool, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let mut n = 0;
    loop {
        let k = apply_retention_batch(pool, before, RETENTION_BATCH).await?;
        n += k;
        if k == 0 {
            return Ok(n);
        }
    }
}

/// Deletes at most `limit` old rows of each table, in one short transaction, so a sweep of a
/// large backlog never holds many locks for long. It may wait for a row someone is changing
/// longer than a person's command would: nobody waits for the sweep.
pub async fn apply_retention_batch(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local lock_timeout = '30s'")
        .execute(&mut *tx)
        .await?;
    let mut n = 0;
    for (table, old) in RETENTION {
        n += sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from {table} where ctid = any(array(select ctid from {table} where {old} limit $2))"
        )))
        .bind(before)
        .bind(limit)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(n)
}

/// Removes everything a person wrote and everything that names them. What stays, by
/// design: their partner's own answers (without any link back), rounds and repairs as
/// anonymous shells, and couples (ended) without a `created_by`.
pub async fn forget(tx: &mut PgConnection, person: PersonId) -> sqlx::Result<u64> {
    let id = person.0;
    let mut n = 0;
    for sql in [
        "delete from checkin_answers where person_id = $1",
        "delete from weekly_answers where person_id = $1",
        "delete from light_days where person_id = $1",
        "delete from checkin_posts where person_id = $1",
        "delete from micro_prompts where person_id = $1",
        "delete from repair_texts where writer = $1",
        "delete from agreement_revisits where person_id = $1",
        // Agreements are shared lines both agreed to; a person leaving takes them along.
        "delete from agreements where repair_id in (select id from repairs where initiator = $1 or partner = $1)",
        "delete from repairs where initiator = $1 or partner = $1",
        "delete from jobs where person_id = $1",
        "delete from invitations where inviter = $1 or invitee = $1",
        "delete from partners where person_id = $1",
        "update couples set created_by = null where created_by = $1",
        "delete from identities where person_id = $1",
        "delete from people where id = $1",
    ] {
        n += sqlx::query(sql).bind(id).execute(&mut *tx).await?.rows_affected();
    }
    Ok(n)
}
