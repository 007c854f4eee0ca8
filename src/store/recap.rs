//! The weekly recap: its once-per-ISO-week post key, and the week's data it is computed from.
//! Only revealed rounds are read: an answer is private until its round is revealed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::checkin::Mood;
use crate::domain::couple::Couple;
use crate::domain::ids::{CoupleId, MessageRef, PersonId};
use crate::domain::recap::{
    IsoWeek, PartnerInput, Period, PracticeExtras, RevealedAnswer, RevealedRound, WeekData,
};

#[derive(Debug, Clone, PartialEq)]
pub enum RecapSlot {
    /// The week's key was free: this is the one recap for that week.
    New,
    /// The key exists but Discord never confirmed the post: post again with the same nonce.
    Unconfirmed { nonce: String },
    /// Already posted; nothing to do.
    Posted,
}

/// Looks up (and locks) the (couple, ISO week) key of a recap post.
pub async fn claim(
    tx: &mut PgConnection,
    couple: CoupleId,
    week: IsoWeek,
) -> sqlx::Result<RecapSlot> {
    let existing: Option<(String, Option<String>)> = sqlx::query_as(
        "select nonce, message_id from recaps
         where couple_id = $1 and iso_year = $2 and iso_week = $3 for update",
    )
    .bind(couple.0)
    .bind(week.year())
    .bind(week.week() as i32)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match existing {
        None => RecapSlot::New,
        Some((_, Some(_))) => RecapSlot::Posted,
        Some((nonce, None)) => RecapSlot::Unconfirmed { nonce },
    })
}

/// Takes the week's key; false when another run took it first.
pub async fn insert(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    week: IsoWeek,
    nonce: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "insert into recaps (couple_id, iso_year, iso_week, nonce) values ($1, $2, $3, $4)
         on conflict do nothing",
    )
    .bind(couple.0)
    .bind(week.year())
    .bind(week.week() as i32)
    .bind(nonce)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn mark_posted(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    week: IsoWeek,
    message: &MessageRef,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update recaps set message_id = $4, posted_at = $5
         where couple_id = $1 and iso_year = $2 and iso_week = $3",
    )
    .bind(couple.0)
    .bind(week.year())
    .bind(week.week() as i32)
    .bind(&message.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AnswerRow {
    checkin_id: Uuid,
    person_id: Uuid,
    local_date: Option<NaiveDate>,
    mood: i16,
    guess: Option<i16>,
    updated_at: DateTime<Utc>,
}

/// The submitted answers of the couple's revealed rounds that opened in `[from, to)`, grouped
/// by round, each with the local date of its writer's own post in the round (if they had
/// one). Skipped and unsubmitted answers are not answers; open rounds are private.
pub async fn revealed_rounds(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<RevealedRound>> {
    let rows: Vec<AnswerRow> = sqlx::query_as(
        "select a.checkin_id, a.person_id, p.local_date, a.mood, a.guess, a.updated_at
         from checkins c join checkin_answers a on a.checkin_id = c.id
         left join checkin_posts p on p.checkin_id = c.id and p.person_id = a.person_id
         where c.couple_id = $1 and c.status = 'revealed'
           and c.opened_at >= $2 and c.opened_at < $3
           and a.submitted and a.mood is not null
         order by c.opened_at, a.person_id",
    )
    .bind(couple.0)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await?;
    let mut rounds: BTreeMap<Uuid, RevealedRound> = BTreeMap::new();
    for r in rows {
        let Some(mood) = Mood::new(i64::from(r.mood)) else {
            continue;
        };
        rounds
            .entry(r.checkin_id)
            .or_default()
            .answers
            .push(RevealedAnswer {
                user: PersonId(r.person_id),
                at: r.updated_at,
                day: r.local_date,
                mood,
                guess: r.guess.and_then(|g| Mood::new(i64::from(g))),
            });
    }
    Ok(rounds.into_values().collect())
}

/// Micro-moments done per partner, repairs started and completed, agreements made and
/// revisited, in `[from, to)`.
pub async fn practice_extras(
    conn: &mut PgConnection,
    couple: CoupleId,
    partners: &[PersonId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<PracticeExtras> {
    let mut micro_done = Vec::with_capacity(partners.len());
    for p in partners {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from micro_prompts
             where couple_id = $1 and person_id = $2 and outcome = 'done'
               and outcome_at >= $3 and outcome_at < $4",
        )
        .bind(couple.0)
        .bind(p.0)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        micro_done.push((*p, n as u32));
    }
    let count = |sql: &'static str| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(couple.0)
            .bind(from)
            .bind(to)
    };
    let repairs_started = count(
        "select count(*) from repairs where couple_id = $1 and created_at >= $2 and created_at < $3",
    )
    .fetch_one(&mut *conn)
    .await?;
    let repairs_completed = count(
        "select count(*) from repairs where couple_id = $1 and status = 'completed'
           and closed_at >= $2 and closed_at < $3",
    )
    .fetch_one(&mut *conn)
    .await?;
    let agreements_made = count(
        "select count(*) from agreements where couple_id = $1 and created_at >= $2 and created_at < $3",
    )
    .fetch_one(&mut *conn)
    .await?;
    let agreements_revisited = count(
        "select count(distinct r.agreement_id) from agreement_revisits r
         join agreements a on a.id = r.agreement_id
         where a.couple_id = $1 and r.at >= $2 and r.at < $3",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(PracticeExtras {
        micro_done,
        repairs_started: repairs_started as u32,
        repairs_completed: repairs_completed as u32,
        agreements_made: agreements_made as u32,
        agreements_revisited: agreements_revisited as u32,
    })
}

/// Everything the recap of `period` is computed from, as of now.
pub async fn week_data(
    conn: &mut PgConnection,
    couple: &Couple,
    period: Period,
) -> sqlx::Result<WeekData> {
    let partners: Vec<PartnerInput> = couple
        .partners
        .iter()
        .map(|p| PartnerInput {
            user: p.person,
            // A partner without a zone is scheduled in UTC, so their days are UTC days too.
            zone: p.zone.unwrap_or(chrono_tz::Tz::UTC),
        })
        .collect();
    let zones: Vec<_> = partners.iter().map(|p| p.zone).collect();
    let (from, to) = period.span(&zones);
    // A round stays open at most a day, so one that opened the day before the week can hold
    // an answer given inside it; the aggregation keeps only answers inside each window.
    let rounds = revealed_rounds(&mut *conn, couple.id, from - Duration::days(1), to).await?;
    let extras = practice_extras(&mut *conn, couple.id, &couple.partner_ids(), from, to).await?;
    Ok(WeekData {
        period,
        partners,
        rounds,
        extras,
    })
}
