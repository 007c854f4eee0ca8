//! Check-in rounds, the per-partner posts that belong to them, and private answers.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::crypto::Keyring;

use crate::domain::ids::{CheckinId, CoupleId, JobId, MessageRef, PersonId};

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

/// What a scheduled post finds once its couple is locked: its delivery key, an open round it
/// may join (not locked; [`joinable`] locks it), and the slot's question bag.
#[derive(Debug)]
pub struct PostState {
    pub slot: PostSlot,
    pub joinable: Option<CheckinId>,
    pub bag: (Vec<String>, i32),
}

/// One statement for everything [`PostState`] holds. Read under the couple's lock, so it sees
/// what the couple's last post committed.
#[allow(clippy::too_many_arguments)]
pub async fn post_state(
    tx: &mut PgConnection,
    couple: CoupleId,
    user: PersonId,
    slot: &str,
    local_date: NaiveDate,
    now: DateTime<Utc>,
    bag_pool: &str,
) -> sqlx::Result<PostState> {
    #[derive(sqlx::FromRow)]
    struct StateRow {
        has_post: bool,
        checkin_id: Option<Uuid>,
        nonce: Option<String>,
        message_id: Option<String>,
        joinable: Option<Uuid>,
        remaining: Option<Vec<String>>,
        refills: Option<i32>,
    }
    let r: StateRow = sqlx::query_as(
        "select cp.couple_id is not null as has_post, cp.checkin_id, cp.nonce, cp.message_id,
                (select c.id from checkins c
                  where c.couple_id = $1 and c.slot = $3 and c.round_date = $4 and c.status = 'open'
                    and c.closes_at > $5
                    and not exists (select 1 from checkin_posts x
                                    where x.checkin_id = c.id and x.person_id = $2)
                  order by c.opened_at desc limit 1) as joinable,
                b.remaining, b.refills
         from (select 1) as one
         left join checkin_posts cp
                on cp.couple_id = $1 and cp.person_id = $2 and cp.slot = $3 and cp.local_date = $4
         left join question_bags b on b.couple_id = $1 and b.pool = $6",
    )
    .bind(couple.0)
    .bind(user.0)
    .bind(slot)
    .bind(local_date)
    .bind(now)
    .bind(bag_pool)
    .fetch_one(&mut *tx)
    .await?;
    let slot = match (r.has_post, r.checkin_id, r.nonce, r.message_id) {
        (false, ..) => PostSlot::New,
        (true, _, _, Some(_)) => PostSlot::Posted,
        (true, Some(checkin), Some(nonce), None) => PostSlot::Unconfirmed {
            checkin: CheckinId(checkin),
            nonce,
        },
        (true, ..) => PostSlot::Posted,
    };
    Ok(PostState {
        slot,
        joinable: r.joinable.map(CheckinId),
        bag: (r.remaining.unwrap_or_default(), r.refills.unwrap_or(0)),
    })
}

/// A round to open with a post.
#[derive(Debug)]
pub struct NewRound<'a> {
    pub id: CheckinId,
    pub closes_at: DateTime<Utc>,
    /// (id, text)
    pub question: Option<(&'a str, &'a str)>,
    pub reveal_nonce: &'a str,
}

/// Everything a scheduled check-in post writes before it is sent, for [`write_post`].
#[derive(Debug, Default)]
pub struct PostWrites<'a> {
    pub round: Option<NewRound<'a>>,
    /// The delivery key: (partner, round, nonce).
    pub post: Option<(PersonId, CheckinId, &'a str)>,
    /// Scheduled, or moved when pending (see `jobs::schedule`).
    pub moving: super::jobs::JobRows,
    /// Scheduled only if no job has the key (see `jobs::schedule_once`).
    pub once: super::jobs::JobRows,
    /// The slot's question bag after the draw: (pool, remaining, refills).
    pub bag: Option<(&'a str, &'a [String], i32)>,
    /// The attempt about to send: its job, lease token and the shared time (see
    /// `jobs::mark_sending`).
    pub sending: Option<(JobId, Uuid, Option<DateTime<Utc>>)>,
}

/// What [`write_post`] did.
#[derive(Debug)]
pub struct Written {
    /// Keys of the moving jobs that were scheduled (a key whose job already ran is not).
    pub moved: Vec<String>,
    /// False when `sending` was given and the attempt no longer holds its lease.
    pub holds_lease: bool,
}

/// Writes a post's bookkeeping in one statement: the round it opens, its delivery key, the
/// reveal, reminder and tomorrow's post, the question bag, and the "about to send" mark.
pub async fn write_post(
    tx: &mut PgConnection,
    couple: CoupleId,
    slot: &str,
    local_date: NaiveDate,
    now: DateTime<Utc>,
    w: &PostWrites<'_>,
) -> sqlx::Result<Written> {
    let round = w.round.as_ref();
    let (moved, sent): (Vec<String>, bool) = sqlx::query_as(
        "with round as (
            insert into checkins (id, couple_id, slot, opened_at, closes_at, question,
                                  reveal_nonce, round_date, question_id)
            select $5, $1, $2, $4, $6, $7, $9, $3, $8 where $5::uuid is not null
            returning id),
         post as (
            insert into checkin_posts (couple_id, person_id, slot, local_date, checkin_id, nonce)
            select $1, $10, $2, $3, coalesce((select id from round), $11), $12
            where $10::uuid is not null
            on conflict do nothing),
         moved as (
            insert into jobs (id, kind, couple_id, person_id, dedupe_key, due_at, payload, created_at)
            select u.id, u.kind, u.couple_id, u.person_id, u.dedupe_key, u.due_at, u.payload, $4
            from unnest($13::uuid[], $14::text[], $15::uuid[], $16::uuid[], $17::text[],
                        $18::timestamptz[], $19::jsonb[])
                 as u(id, kind, couple_id, person_id, dedupe_key, due_at, payload)
            on conflict (dedupe_key) do update
               set due_at = excluded.due_at, status = 'pending', attempts = 0, last_error = null,
                   first_due_at = null
               where jobs.status in ('pending', 'cancelled')
            returning dedupe_key),
         once as (
            insert into jobs (id, kind, couple_id, person_id, dedupe_key, due_at, payload, created_at)
            select u.id, u.kind, u.couple_id, u.person_id, u.dedupe_key, u.due_at, u.payload, $4
            from unnest($20::uuid[], $21::text[], $22::uuid[], $23::uuid[], $24::text[],
                        $25::timestamptz[], $26::jsonb[])
                 as u(id, kind, couple_id, person_id, dedupe_key, due_at, payload)
            on conflict (dedupe_key) do nothing),
         bag as (
            insert into question_bags (couple_id, pool, remaining, refills)
            select $1, $27, $28, $29 where $27::text is not null
            on conflict (couple_id, pool)
               do update set remaining = excluded.remaining, refills = excluded.refills),
         sent as (
            update jobs set sent_at = coalesce(sent_at, $32::timestamptz, now())
            where id = $30 and lease_token = $31 and status = 'running'
            returning 1)
         select coalesce((select array_agg(dedupe_key) from moved), '{}'),
                exists (select 1 from sent)",
    )
    .bind(couple.0)
    .bind(slot)
    .bind(local_date)
    .bind(now)
    .bind(round.map(|r| r.id.0))
    .bind(round.map(|r| r.closes_at))
    .bind(round.and_then(|r| r.question.map(|q| q.1)))
    .bind(round.and_then(|r| r.question.map(|q| q.0)))
    .bind(round.map(|r| r.reveal_nonce))
    .bind(w.post.map(|p| p.0 .0))
    .bind(w.post.map(|p| p.1 .0))
    .bind(w.post.map(|p| p.2))
    .bind(&w.moving.ids)
    .bind(&w.moving.kinds)
    .bind(&w.moving.couples)
    .bind(&w.moving.persons)
    .bind(&w.moving.keys)
    .bind(&w.moving.due)
    .bind(&w.moving.payloads)
    .bind(&w.once.ids)
    .bind(&w.once.kinds)
    .bind(&w.once.couples)
    .bind(&w.once.persons)
    .bind(&w.once.keys)
    .bind(&w.once.due)
    .bind(&w.once.payloads)
    .bind(w.bag.map(|b| b.0))
    .bind(w.bag.map(|b| b.1))
    .bind(w.bag.map(|b| b.2))
    .bind(w.sending.map(|s| s.0 .0))
    .bind(w.sending.map(|s| s.1))
    .bind(w.sending.and_then(|s| s.2))
    .fetch_one(&mut *tx)
    .await?;
    Ok(Written {
        moved,
        holds_lease: w.sending.is_none() || sent,
    })
}

/// Records a delivered post and finishes its job in one statement. The message is recorded
/// either way (so no later attempt posts it again); false when the attempt no longer held its
/// lease, so the job was left to its new holder.
#[allow(clippy::too_many_arguments)]
pub async fn mark_posted_finishing(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    user: PersonId,
    slot: &str,
    local_date: NaiveDate,
    message: &MessageRef,
    now: DateTime<Utc>,
    job: JobId,
    token: Uuid,
    shared_now: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let done: bool = sqlx::query_scalar(
        "with done as (
            update jobs set status = 'done', finished_at = coalesce($9::timestamptz, now()),
                   last_error = null, lease_owner = null, lease_until = null, lease_token = null
            where id = $7 and lease_token = $8 and status = 'running'
            returning 1),
         posted as (
            update checkin_posts set message_id = $5, posted_at = $6
            where couple_id = $1 and person_id = $2 and slot = $3 and local_date = $4)
         select exists (select 1 from done)",
    )
    .bind(couple.0)
    .bind(user.0)
    .bind(slot)
    .bind(local_date)
    .bind(&message.0)
    .bind(now)
    .bind(job.0)
    .bind(token)
    .bind(shared_now)
    .fetch_one(ex)
    .await?;
    Ok(done)
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
