//! Micro-prompts: the per-couple shuffle bag and the prompts shown, with their outcomes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::ids::{CoupleId, MessageRef, MicroId, PersonId};

#[derive(Debug, Clone, PartialEq)]
pub struct Bag {
    pub remaining: Vec<String>,
    pub last_concept: Option<String>,
    pub refills: i32,
    /// A concept the next prompt should come from (set after a hard reveal), taken once.
    pub steer: Option<String>,
}

/// The couple's bag, locked for the rest of the transaction (draws serialise here).
pub async fn lock_bag(tx: &mut PgConnection, couple: CoupleId) -> sqlx::Result<Bag> {
    sqlx::query("insert into micro_bags (couple_id) values ($1) on conflict do nothing")
        .bind(couple.0)
        .execute(&mut *tx)
        .await?;
    let (remaining, last_concept, refills, steer): (Vec<String>, Option<String>, i32, Option<String>) = sqlx::query_as(
        "select remaining, last_concept, refills, steer from micro_bags where couple_id = $1 for update",
    )
    .bind(couple.0)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Bag {
        remaining,
        last_concept,
        refills,
        steer,
    })
}

pub async fn save_bag(ex: impl PgExecutor<'_>, couple: CoupleId, bag: &Bag) -> sqlx::Result<()> {
    sqlx::query(
        "update micro_bags set remaining = $2, last_concept = $3, refills = $4, steer = $5 where couple_id = $1",
    )
    .bind(couple.0)
    .bind(&bag.remaining)
    .bind(&bag.last_concept)
    .bind(bag.refills)
    .bind(&bag.steer)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MicroRow {
    pub id: Uuid,
    pub couple_id: Uuid,
    pub person_id: Uuid,
    pub prompt_id: String,
    pub concept: String,
    pub outcome: Option<String>,
    pub nonce: Option<String>,
    pub message_id: Option<String>,
}

impl MicroRow {
    pub fn micro_id(&self) -> MicroId {
        MicroId(self.id)
    }
    pub fn person(&self) -> PersonId {
        PersonId(self.person_id)
    }
    pub fn couple(&self) -> CoupleId {
        CoupleId(self.couple_id)
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    ex: impl PgExecutor<'_>,
    id: MicroId,
    couple: CoupleId,
    user: PersonId,
    prompt_id: &str,
    concept: &str,
    source: &str,
    nonce: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into micro_prompts (id, couple_id, person_id, prompt_id, concept, source, nonce, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.0)
    .bind(couple.0)
    .bind(user.0)
    .bind(prompt_id)
    .bind(concept)
    .bind(source)
    .bind(nonce)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

const COLS: &str = "id, couple_id, person_id, prompt_id, concept, outcome, nonce, message_id";

pub async fn get(ex: impl PgExecutor<'_>, id: MicroId) -> sqlx::Result<Option<MicroRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from micro_prompts where id = $1"
    )))
    .bind(id.0)
    .fetch_optional(ex)
    .await
}

pub async fn lock(tx: &mut PgConnection, id: MicroId) -> sqlx::Result<Option<MicroRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from micro_prompts where id = $1 for update"
    )))
    .bind(id.0)
    .fetch_optional(tx)
    .await
}

/// The scheduled prompt of a job, if an earlier attempt already drew it.
pub async fn by_nonce(ex: impl PgExecutor<'_>, nonce: &str) -> sqlx::Result<Option<MicroRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from micro_prompts where nonce = $1"
    )))
    .bind(nonce)
    .fetch_optional(ex)
    .await
}

pub async fn set_outcome(
    ex: impl PgExecutor<'_>,
    id: MicroId,
    outcome: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update micro_prompts set outcome = $2, outcome_at = $3 where id = $1")
        .bind(id.0)
        .bind(outcome)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

/// Asks the couple's next prompt to come from `concept` (after a reveal that was hard).
pub async fn steer(ex: impl PgExecutor<'_>, couple: CoupleId, concept: &str) -> sqlx::Result<()> {
    sqlx::query(
        "insert into micro_bags (couple_id, steer) values ($1, $2)
         on conflict (couple_id) do update set steer = excluded.steer",
    )
    .bind(couple.0)
    .bind(concept)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn set_message(
    ex: impl PgExecutor<'_>,
    id: MicroId,
    message: &MessageRef,
) -> sqlx::Result<()> {
    sqlx::query("update micro_prompts set message_id = $2 where id = $1")
        .bind(id.0)
        .bind(&message.0)
        .execute(ex)
        .await?;
    Ok(())
}

/// When a nudge of `concept` last went to the couple.
pub async fn last_of_concept(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    concept: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "select max(created_at) from micro_prompts where couple_id = $1 and concept = $2",
    )
    .bind(couple.0)
    .bind(concept)
    .fetch_one(ex)
    .await
}
