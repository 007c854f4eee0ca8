//! Privacy at the database level: which columns hold sealed free text, checking the
//! configured keys against what is stored, re-sealing under a new key, retention, and
//! forgetting one person.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::crypto::{CryptoError, Keyring, Place, SEALED};
use crate::domain::ids::{AgreementId, CheckinId, PersonId, RepairId};

/// Every column holding free text a person wrote: (table, key columns, text column).
/// Adding a text column means adding it here (and a place function below), so keys,
/// rotation and checks cover it. The key columns are the associated data of its values.
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

/// Where a check-in note lives.
pub fn note_place(checkin: CheckinId, person: PersonId) -> Place {
    Place::new("checkin_answers", "note", &[&checkin.0, &person.0])
}

/// Where a weekly answer lives.
pub fn weekly_place(checkin: CheckinId, person: PersonId, theme: &str) -> Place {
    Place::new("weekly_answers", "body", &[&checkin.0, &person.0, &theme])
}

/// Where a repair text lives.
pub fn repair_text_place(repair: RepairId, writer: PersonId, kind: &str, round: i16) -> Place {
    Place::new(
        "repair_texts",
        "body",
        &[&repair.0, &writer.0, &kind, &round],
    )
}

/// Where an agreement's text lives.
pub fn agreement_place(id: AgreementId) -> Place {
    Place::new("agreements", "text", &[&id.0])
}

/// The SQL expression giving a row's key as `Place::row` spells it.
fn row_key(keys: &[&str]) -> String {
    let parts: Vec<String> = keys.iter().map(|k| format!("{k}::text")).collect();
    format!("concat_ws('|', {})", parts.join(", "))
}

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

fn key_error(e: CryptoError, stored: &str, total: i64) -> KeyCheckError {
    match e {
        CryptoError::NoKey => KeyCheckError::Missing(total),
        CryptoError::UnknownKey(k) => KeyCheckError::UnknownKey(k),
        _ => KeyCheckError::WrongKey(
            Keyring::key_id_of(stored)
                .or_else(|| stored.split(':').nth(2))
                .unwrap_or("?")
                .into(),
        ),
    }
}

/// Refuses to start when stored text could not be read with the configured keys: for each
/// key id in use, a few values are opened at their places; one that opens proves the key.
pub async fn verify_keys(pool: &PgPool, keys: &Keyring) -> Result<(), KeyCheckError> {
    let mut total = 0;
    let mut failure = None;
    for (table, key_cols, col) in SEALED_COLUMNS {
        let ids: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select split_part({col}, ':', 3), count(*) from {table}
             where left({col}, {n}) = '{SEALED}' group by 1",
            n = SEALED.len()
        )))
        .fetch_all(pool)
        .await?;
        for (id, n) in ids {
            total += n;
            let samples: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select {rk}, {col} from {table} where left({col}, length($1)) = $1 limit 5",
                rk = row_key(key_cols)
            )))
            .bind(format!("{SEALED}{id}:"))
            .fetch_all(pool)
            .await?;
            let mut opened = false;
            let mut last = None;
            for (row, value) in &samples {
                let place = Place {
                    table,
                    column: col,
                    row: row.clone(),
                };
                match keys.open(value, &place) {
                    Ok(_) => {
                        opened = true;
                        break;
                    }
                    Err(e) => last = Some((e, value.clone())),
                }
            }
            if !opened && failure.is_none() {
                failure = last;
            }
        }
    }
    match failure {
        Some((e, stored)) => Err(key_error(e, &stored, total)),
        None => Ok(()),
    }
}

/// What a re-sealing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Values now in their final form (sealed under the current key, or tagged plain).
    pub resealed: u64,
    /// Values that could not be opened at their place (moved or damaged): left as they are.
    pub unavailable: u64,
    /// Values changed by someone else while this pass ran and still not current (a running
    /// Attune with the old key, say): run again after restarting it with the new key.
    pub remaining: u64,
}

/// Values one re-sealing transaction handles at most.
const RESEAL_BATCH: usize = 500;

/// Brings every stored text into its final form for `keys`: values from before tags
/// (release 0.1) are tagged and bound to their place, values under an old key are sealed
/// under the current one, and plain values are sealed once a key is set. Used at start-up
/// and by `attune rotate-key`. Each value is replaced only if it still holds what was read
/// (compare and set), so it is safe while Attune runs: an edit made meanwhile is never
/// lost, and what it left under an old key is counted in `remaining`.
pub async fn reseal(pool: &PgPool, keys: &Keyring) -> Result<Resealed, KeyCheckError> {
    let mut out = Resealed::default();
    let current = match keys.current_id() {
        Some(id) => format!("{SEALED}{id}:"),
        None => crate::crypto::PLAIN.to_string(),
    };
    for (table, key_cols, col) in SEALED_COLUMNS {
        let rk = row_key(key_cols);
        let rows: Vec<(String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select ctid::text, {rk}, {col} from {table}
             where {col} is not null and left({col}, length($1)) <> $1"
        )))
        .bind(&current)
        .fetch_all(pool)
        .await?;
        for batch in rows.chunks(RESEAL_BATCH) {
            let mut tx = pool.begin().await?;
            for (ctid, row, value) in batch {
                let place = Place {
                    table,
                    column: col,
                    row: row.clone(),
                };
                let tagged = value.starts_with(crate::crypto::PLAIN) || value.starts_with(SEALED);
                let plain = if tagged {
                    match keys.open(value, &place) {
                        Ok(p) => p,
                        Err(CryptoError::Undecryptable(_) | CryptoError::Malformed) => {
                            tracing::warn!(
                                table,
                                column = col,
                                "a stored text does not open at its place; left as it is"
                            );
                            out.unavailable += 1;
                            continue;
                        }
                        Err(e) => return Err(key_error(e, value, 0)),
                    }
                } else {
                    keys.open_legacy(value)
                        .map_err(|e| key_error(e, value, 0))?
                };
                let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "update {table} set {col} = $1
                     where ctid = $2::tid and {col} = $3 and {rk} = $4"
                )))
                .bind(keys.seal(&plain, &place))
                .bind(ctid)
                .bind(value)
                .bind(row)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                out.resealed += n;
            }
            tx.commit().await?;
        }
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} where {col} is not null and left({col}, length($1)) <> $1"
        )))
        .bind(&current)
        .fetch_one(pool)
        .await?;
        out.remaining += left as u64;
    }
    out.remaining = out.remaining.saturating_sub(out.unavailable);
    Ok(out)
}

/// `attune rotate-key`: re-seals every stored text under the current key.
pub async fn rotate(pool: &PgPool, keys: &Keyring) -> Result<Resealed, KeyCheckError> {
    if keys.current_id().is_none() {
        return Err(KeyCheckError::Missing(0));
    }
    verify_keys(pool, keys).await?;
    reseal(pool, keys).await
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

/// What forgetting a person runs, in order (`$1` is the person). Every statement finds its
/// rows through an index (migration 0010; a test holds each to that), so forgetting stays
/// quick on a database with millions of jobs.
pub const FORGET: &[&str] = &[
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
];

/// Removes everything a person wrote and everything that names them. What stays, by
/// design: their partner's own answers (without any link back), rounds and repairs as
/// anonymous shells, and couples (ended) without a `created_by`.
pub async fn forget(tx: &mut PgConnection, person: PersonId) -> sqlx::Result<u64> {
    let mut n = 0;
    for sql in FORGET {
        n += sqlx::query(*sql)
            .bind(person.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    Ok(n)
}
