//! Check-in rounds, the per-partner posts that belong to them, and private answers.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::crypto::Keyring;

use crate::domain::ids::{CheckinId, CoupleId, MessageRef, PersonId};

#[derive(Debug, Clone, PartialEq)]
pub struct Checkin {
    pub id: CheckinId,
    pub couple: CoupleId,
    pub slot: String,
    pub round_date: NaiveDate,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub revealed: bool,
    pub question: Option<String>,
    /// The question's id in the library (rounds of 0.1 have only its text).
    pub question_id: Option<String>,
    pub reveal_nonce: String,
    pub reveal_message: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    couple_id: Uuid,
    slot: String,
    round_date: NaiveDate,
    opened_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
    status: String,
    question: Option<String>,
    question_id: Option<String>,
    reveal_nonce: String,
    reveal_message: Option<String>,
}

impl From<Row> for Checkin {
    fn from(r: Row) -> Self {
        Checkin {
            id: CheckinId(r.id),
            couple: CoupleId(r.couple_id),
            slot: r.slot,
            round_date: r.round_date,
            opened_at: r.opened_at,
            closes_at: r.closes_at,
            revealed: r.status == "revealed",
            question: r.question,
            question_id: r.question_id,
            reveal_nonce: r.reveal_nonce,
            reveal_message: r.reveal_message,
        }
    }
}

const COLS: &str =
    "id, couple_id, slot, round_date, opened_at, closes_at, status, question, question_id, reveal_nonce, reveal_message";

/// A discord nonce (≤ 25 characters) derived from a uuid, stable across retries.
pub fn nonce_for(id: Uuid) -> String {
    id.simple().to_string()[..25].to_string()
}

pub async fn get(ex: impl PgExecutor<'_>, id: CheckinId) -> sqlx::Result<Option<Checkin>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from checkins where id = $1"
    )))
    .bind(id.0)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Into::into))
}

/// The round, locked until the transaction ends: answer changes and the reveal serialise here.
pub async fn lock(tx: &mut PgConnection, id: CheckinId) -> sqlx::Result<Option<Checkin>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from checkins where id = $1 for update"
    )))
    .bind(id.0)
    .fetch_optional(tx)
    .await?;
    Ok(row.map(Into::into))
}

/// The open round of this slot and local date that `user` has not been posted to yet, so a
/// partner's post joins the round their partner's post of the same day opened.
pub async fn joinable(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    slot: &str,
    round_date: NaiveDate,
    user: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Checkin>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from checkins c
         where c.couple_id = $1 and c.slot = $2 and c.round_date = $5 and c.status = 'open'
           and c.closes_at > $4
           and not exists (select 1 from checkin_posts p where p.checkin_id = c.id and p.person_id = $3)
         order by c.opened_at desc limit 1 for update"
    )))
    .bind(couple.0)
    .bind(slot)
    .bind(user.0)
    .bind(now)
    .bind(round_date)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Into::into))
}

/// The couple's weekly round for an ISO week, and whether its post landed.
pub struct WeeklyRound {
    pub round: Checkin,
    pub post_message: Option<String>,
}

pub async fn weekly_round(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    week: crate::domain::recap::IsoWeek,
) -> sqlx::Result<Option<WeeklyRound>> {
    #[derive(sqlx::FromRow)]
    struct W {
        #[sqlx(flatten)]
        row: Row,
        post_message: Option<String>,
    }
    let row: Option<W> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS}, post_message from checkins where couple_id = $1 and weekly_week = $2"
    )))
    .bind(couple.0)
    .bind(week.to_string())
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|w| WeeklyRound {
        round: w.row.into(),
        post_message: w.post_message,
    }))
}

/// Ties a new weekly round to its ISO week.
pub async fn set_weekly(
    ex: impl PgExecutor<'_>,
    round: CheckinId,
    week: crate::domain::recap::IsoWeek,
) -> sqlx::Result<()> {
    sqlx::query("update checkins set weekly_week = $2 where id = $1")
        .bind(round.0)
        .bind(week.to_string())
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn set_post_message(
    ex: impl PgExecutor<'_>,
    round: CheckinId,
    message: &MessageRef,
) -> sqlx::Result<()> {
    sqlx::query("update checkins set post_message = $2 where id = $1")
        .bind(round.0)
        .bind(&message.0)
        .execute(ex)
        .await?;
    Ok(())
}

/// Any open round of the couple (for `/checkin`, which refuses to stack rounds; the weekly
/// round runs alongside the daily ones).
pub async fn open_round(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
) -> sqlx::Result<Option<Checkin>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from checkins where couple_id = $1 and status = 'open' and slot <> 'weekly'
         order by opened_at desc limit 1"
    )))
    .bind(couple.0)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Into::into))
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    slot: &str,
    round_date: NaiveDate,
    now: DateTime<Utc>,
    closes_at: DateTime<Utc>,
    question: Option<(&str, &str)>,
) -> sqlx::Result<Checkin> {
    let id = Uuid::new_v4();
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into checkins (id, couple_id, slot, opened_at, closes_at, question, reveal_nonce, round_date, question_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {COLS}"
    )))
    .bind(id)
    .bind(couple.0)
    .bind(slot)
    .bind(now)
    .bind(closes_at)
    .bind(question.map(|q| q.1))
    .bind(nonce_for(Uuid::new_v4()))
    .bind(round_date)
    .bind(question.map(|q| q.0))
    .fetch_one(ex)
    .await?;
    Ok(row.into())
}

pub async fn extend(
    ex: impl PgExecutor<'_>,
    id: CheckinId,
    closes_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update checkins set closes_at = greatest(closes_at, $2) where id = $1")
        .bind(id.0)
        .bind(closes_at)
        .execute(ex)
        .await?;
    Ok(())
}

/// Flips a round to revealed. False when it already was (the reveal then only re-posts if
/// its message was never confirmed).
pub async fn mark_revealed(
    ex: impl PgExecutor<'_>,
    id: CheckinId,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update checkins set status = 'revealed', revealed_at = $2 where id = $1 and status = 'open'",
    )
    .bind(id.0)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn set_reveal_message(
    ex: impl PgExecutor<'_>,
    id: CheckinId,
    message: &MessageRef,
) -> sqlx::Result<()> {
    sqlx::query("update checkins set reveal_message = $2 where id = $1")
        .bind(id.0)
        .bind(&message.0)
        .execute(ex)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub enum PostSlot {
    /// The key was free: this is the one post for that partner, slot and day.
    New,
    /// The key exists but Discord never confirmed the post: post again with the same nonce.
    Unconfirmed { checkin: CheckinId, nonce: String },
    /// Already posted; nothing to do.
    Posted,
}

/// Claims the (couple, partner, slot, local date) key for a post.
pub async fn claim_post(
    tx: &mut PgConnection,
    couple: CoupleId,
    user: PersonId,
    slot: &str,
    local_date: NaiveDate,
) -> sqlx::Result<PostSlot> {
    let existing: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
        "select checkin_id, nonce, message_id from checkin_posts
         where couple_id = $1 and person_id = $2 and slot = $3 and local_date = $4 for update",
    )
    .bind(couple.0)
    .bind(user.0)
    .bind(slot)
    .bind(local_date)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match existing {
        None => PostSlot::New,
        Some((_, _, Some(_))) => PostSlot::Posted,
        Some((checkin, nonce, None)) => PostSlot::Unconfirmed {
            checkin: CheckinId(checkin),
            nonce,
        },
    })
}

pub async fn insert_post(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    user: PersonId,
    slot: &str,
    local_date: NaiveDate,
    checkin: CheckinId,
    nonce: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "insert into checkin_posts (couple_id, person_id, slot, local_date, checkin_id, nonce)
         values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
    )
    .bind(couple.0)
    .bind(user.0)
    .bind(slot)
    .bind(local_date)
    .bind(checkin.0)
    .bind(nonce)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn mark_posted(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    user: PersonId,
    slot: &str,
    local_date: NaiveDate,
    message: &MessageRef,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update checkin_posts set message_id = $5, posted_at = $6
         where couple_id = $1 and person_id = $2 and slot = $3 and local_date = $4",
    )
    .bind(couple.0)
    .bind(user.0)
    .bind(slot)
    .bind(local_date)
    .bind(&message.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Partners who have a post in a round (the ones a reminder may go to).
pub async fn posted_users(
    ex: impl PgExecutor<'_>,
    checkin: CheckinId,
) -> sqlx::Result<Vec<PersonId>> {
    let ids: Vec<Uuid> =
        sqlx::query_scalar("select person_id from checkin_posts where checkin_id = $1")
            .bind(checkin.0)
            .fetch_all(ex)
            .await?;
    Ok(ids.into_iter().map(PersonId).collect())
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Answer {
    #[sqlx(skip)]
    pub user: Option<PersonId>,
    pub mood: Option<i16>,
    pub feelings: Vec<String>,
    pub guess: Option<i16>,
    pub note: Option<String>,
    /// A note is stored but could not be opened (moved or damaged); saving keeps it.
    #[sqlx(skip)]
    pub note_unavailable: bool,
    pub share_note: bool,
    pub submitted: bool,
    pub skipped: bool,
}

pub async fn answer(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    checkin: CheckinId,
    user: PersonId,
) -> sqlx::Result<Option<Answer>> {
    let row: Option<Answer> = sqlx::query_as(
        "select mood, feelings, guess, note, share_note, submitted, skipped
         from checkin_answers where checkin_id = $1 and person_id = $2",
    )
    .bind(checkin.0)
    .bind(user.0)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|mut a| {
        a.user = Some(user);
        a.note_unavailable = a.note.is_some();
        a.note = keys.open_lossy(
            a.note.as_deref(),
            &super::privacy::note_place(checkin, user),
        );
        a.note_unavailable &= a.note.is_none();
        a
    }))
}

#[derive(sqlx::FromRow)]
struct AnswerRow {
    person_id: Uuid,
    #[sqlx(flatten)]
    answer: Answer,
}

pub async fn answers(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    checkin: CheckinId,
) -> sqlx::Result<Vec<Answer>> {
    let rows: Vec<AnswerRow> = sqlx::query_as(
        "select person_id, mood, feelings, guess, note, share_note, submitted, skipped
         from checkin_answers where checkin_id = $1",
    )
    .bind(checkin.0)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let note = keys.open_lossy(
                r.answer.note.as_deref(),
                &super::privacy::note_place(checkin, PersonId(r.person_id)),
            );
            Answer {
                user: Some(PersonId(r.person_id)),
                note_unavailable: r.answer.note.is_some() && note.is_none(),
                note,
                ..r.answer
            }
        })
        .collect())
}

pub async fn save_answer(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    checkin: CheckinId,
    user: PersonId,
    a: &Answer,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into checkin_answers (checkin_id, person_id, mood, feelings, guess, note, share_note, submitted, skipped, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (checkin_id, person_id) do update set
            mood = excluded.mood, feelings = excluded.feelings, guess = excluded.guess,
            note = case when $11 then checkin_answers.note else excluded.note end, share_note = excluded.share_note, submitted = excluded.submitted,
            skipped = excluded.skipped, updated_at = excluded.updated_at",
    )
    .bind(checkin.0)
    .bind(user.0)
    .bind(a.mood)
    .bind(&a.feelings)
    .bind(a.guess)
    .bind(
        a.note
            .as_deref()
            .map(|n| keys.seal(n, &super::privacy::note_place(checkin, user))),
    )
    .bind(a.share_note)
    .bind(a.submitted)
    .bind(a.skipped)
    .bind(now)
    // A stored note that could not be opened is kept as it is until its writer writes a
    // new one: an edit of anything else never blanks it.
    .bind(a.note_unavailable && a.note.is_none())
    .execute(ex)
    .await?;
    Ok(())
}

/// The partners a round is for (see `domain::checkin::asked`).
pub async fn asked(
    tx: &mut PgConnection,
    round: &Checkin,
    partners: &[PersonId],
) -> sqlx::Result<Vec<PersonId>> {
    let mut scheds = Vec::with_capacity(partners.len());
    for p in partners {
        scheds.push((
            *p,
            super::schedules::partner(&mut *tx, round.couple, *p).await?,
        ));
    }
    let posted = posted_users(&mut *tx, round.id).await?;
    Ok(crate::domain::checkin::asked(
        &round.slot,
        round.round_date,
        &scheds,
        &posted,
    ))
}

/// One answer of the weekly check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyAnswer {
    /// One of `content::WEEKLY_THEMES`.
    pub theme: String,
    pub question: Option<String>,
    pub body: String,
}

/// One partner's weekly answers, opened.
pub async fn weekly_answers(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    checkin: CheckinId,
    person: PersonId,
) -> sqlx::Result<Vec<WeeklyAnswer>> {
    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "select theme, question_id, body from weekly_answers
         where checkin_id = $1 and person_id = $2 order by theme",
    )
    .bind(checkin.0)
    .bind(person.0)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(theme, question, b)| {
            let place = super::privacy::weekly_place(checkin, person, &theme);
            keys.open_lossy(Some(&b), &place).map(|body| WeeklyAnswer {
                theme,
                question,
                body,
            })
        })
        .collect())
}

/// Saves (or clears, with an empty text) one partner's weekly answer for a theme.
pub async fn save_weekly_answer(
    ex: &mut PgConnection,
    keys: &Keyring,
    checkin: CheckinId,
    person: PersonId,
    answer: &WeeklyAnswer,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if answer.body.trim().is_empty() {
        sqlx::query(
            "delete from weekly_answers where checkin_id = $1 and person_id = $2 and theme = $3",
        )
        .bind(checkin.0)
        .bind(person.0)
        .bind(&answer.theme)
        .execute(ex)
        .await?;
        return Ok(());
    }
    sqlx::query(
        "insert into weekly_answers (checkin_id, person_id, theme, question_id, body, updated_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (checkin_id, person_id, theme) do update
            set body = excluded.body, question_id = excluded.question_id, updated_at = excluded.updated_at",
    )
    .bind(checkin.0)
    .bind(person.0)
    .bind(&answer.theme)
    .bind(&answer.question)
    .bind(keys.seal(
        &answer.body,
        &super::privacy::weekly_place(checkin, person, &answer.theme),
    ))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether a person marked this local date as a light day.
pub async fn is_light_day(
    ex: impl PgExecutor<'_>,
    person: PersonId,
    date: NaiveDate,
) -> sqlx::Result<bool> {
    let n: Option<i32> =
        sqlx::query_scalar("select 1 from light_days where person_id = $1 and local_date = $2")
            .bind(person.0)
            .bind(date)
            .fetch_optional(ex)
            .await?;
    Ok(n.is_some())
}

/// Marks (or unmarks) a light day.
pub async fn set_light_day(
    ex: impl PgExecutor<'_>,
    person: PersonId,
    date: NaiveDate,
    light: bool,
) -> sqlx::Result<()> {
    let sql = if light {
        "insert into light_days (person_id, local_date) values ($1, $2) on conflict do nothing"
    } else {
        "delete from light_days where person_id = $1 and local_date = $2"
    };
    sqlx::query(sql)
        .bind(person.0)
        .bind(date)
        .execute(ex)
        .await?;
    Ok(())
}
