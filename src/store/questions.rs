//! The per-couple rotation of questions: each pool (a slot, or a weekly theme) is walked in
//! the couple's own shuffled order, so no question comes back before its pool is used up,
//! across restarts.

use sqlx::PgConnection;

use crate::domain::ids::CoupleId;

/// The couple's bag for `pool`, locked for the rest of the transaction. Returns the ids
/// still to draw and how many times the bag was refilled.
pub async fn lock(
    tx: &mut PgConnection,
    couple: CoupleId,
    pool: &str,
) -> sqlx::Result<(Vec<String>, i32)> {
    // One statement: the upsert takes the row lock and returns what the bag holds.
    sqlx::query_as(
        "insert into question_bags (couple_id, pool) values ($1, $2)
         on conflict (couple_id, pool) do update set pool = excluded.pool
         returning remaining, refills",
    )
    .bind(couple.0)
    .bind(pool)
    .fetch_one(&mut *tx)
    .await
}

pub async fn save(
    tx: &mut PgConnection,
    couple: CoupleId,
    pool: &str,
    remaining: &[String],
    refills: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "update question_bags set remaining = $3, refills = $4 where couple_id = $1 and pool = $2",
    )
    .bind(couple.0)
    .bind(pool)
    .bind(remaining)
    .bind(refills)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
