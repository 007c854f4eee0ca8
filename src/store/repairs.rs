//! Repairs: the flow's row (changed only through a version check), each partner's private
//! texts, the agreement a repair ends with, and how that agreement is going days later.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::crypto::Keyring;

use crate::domain::ids::{AgreementId, CoupleId, PersonId, RepairId};
use crate::domain::repair::{Line, Picked, RevisitAnswer, Role, State, Status, Step, TextKind};

/// A repair as stored: who is who, its version, and its domain state.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    pub id: RepairId,
    pub couple: CoupleId,
    pub initiator: PersonId,
    pub partner: PersonId,
    /// Bumped by every change; a change saves only if nobody else changed it first.
    pub version: i32,
    pub state: State,
    pub created_at: DateTime<Utc>,
    /// The last change: inactivity counts from here.
    pub updated_at: DateTime<Utc>,
    pub closed_by: Option<PersonId>,
    /// The round this one follows (a round the other way).
    pub follows: Option<RepairId>,
}

impl Repair {
    pub fn role_of(&self, user: PersonId) -> Option<Role> {
        if user == self.initiator {
            Some(Role::Initiator)
        } else if user == self.partner {
            Some(Role::Partner)
        } else {
            None
        }
    }

    pub fn user(&self, role: Role) -> PersonId {
        match role {
            Role::Initiator => self.initiator,
            Role::Partner => self.partner,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    couple_id: Uuid,
    initiator: Uuid,
    partner: Uuid,
    step: String,
    version: i32,
    status: String,
    resume_step: Option<String>,
    resume_at: Option<DateTime<Utc>>,
    initiator_activation: Option<i16>,
    partner_activation: Option<i16>,
    initiator_connection: Option<i16>,
    partner_connection: Option<i16>,
    reflect_loops: i16,
    plan_round: i16,
    picked_by: Option<String>,
    picked_line: Option<String>,
    heard: Option<bool>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_by: Option<Uuid>,
    owner: String,
    follows: Option<Uuid>,
    initiator_unsettled: bool,
    partner_unsettled: bool,
    quiet: bool,
}

const COLS: &str =
    "id, couple_id, initiator, partner, step, version, status, resume_step, resume_at,
    initiator_activation, partner_activation, initiator_connection, partner_connection,
    reflect_loops, plan_round, picked_by, picked_line, heard, created_at, updated_at, closed_by,
    owner, follows, initiator_unsettled, partner_unsettled, quiet";

fn bad(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("repairs: unknown {what} {value:?}").into())
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Initiator => "initiator",
        Role::Partner => "partner",
    }
}

fn line_name(l: Line) -> &'static str {
    match l {
        Line::Of(r) => role_name(r),
        Line::Both => "both",
    }
}

fn parse_line(s: &str) -> Result<Line, sqlx::Error> {
    match s {
        "both" => Ok(Line::Both),
        other => parse_role(other).map(Line::Of),
    }
}

fn parse_role(s: &str) -> Result<Role, sqlx::Error> {
    match s {
        "initiator" => Ok(Role::Initiator),
        "partner" => Ok(Role::Partner),
        other => Err(bad("role", other)),
    }
}

fn rating(v: Option<i16>) -> Option<u8> {
    v.and_then(|v| u8::try_from(v).ok())
}

impl TryFrom<Row> for Repair {
    type Error = sqlx::Error;

    fn try_from(r: Row) -> Result<Self, Self::Error> {
        let step = Step::parse(&r.step).ok_or_else(|| bad("step", &r.step))?;
        let status = Status::parse(&r.status).ok_or_else(|| bad("status", &r.status))?;
        let resume_step = match r.resume_step.as_deref() {
            Some(s) => Some(Step::parse(s).ok_or_else(|| bad("step", s))?),
            None => None,
        };
        let picked = match (r.picked_by.as_deref(), r.picked_line.as_deref()) {
            (Some(by), Some(line)) => Some(Picked {
                by: parse_role(by)?,
                line: parse_line(line)?,
            }),
            _ => None,
        };
        Ok(Repair {
            id: RepairId(r.id),
            couple: CoupleId(r.couple_id),
            initiator: PersonId(r.initiator),
            partner: PersonId(r.partner),
            version: r.version,
            state: State {
                step,
                status,
                activation: [rating(r.initiator_activation), rating(r.partner_activation)],
                connection: [rating(r.initiator_connection), rating(r.partner_connection)],
                reflect_loops: u8::try_from(r.reflect_loops).unwrap_or(0),
                plan_round: u8::try_from(r.plan_round).unwrap_or(0),
                picked,
                resume_step,
                resume_at: r.resume_at,
                heard: r.heard,
                owner: parse_role(&r.owner)?,
                unsettled: [r.initiator_unsettled, r.partner_unsettled],
                quiet: r.quiet,
            },
            follows: r.follows.map(RepairId),
            created_at: r.created_at,
            updated_at: r.updated_at,
            closed_by: r.closed_by.map(PersonId),
        })
    }
}

/// Starts a repair. False when the couple already has an open one (the partial unique index
/// settles two `/repair`s racing) or the id is taken (the same modal submitted twice).
/// How a new repair begins: who owns their part, where it starts, and the round it follows.
#[derive(Debug, Clone, Copy)]
pub struct Begin {
    pub owner: Role,
    pub step: Step,
    pub follows: Option<RepairId>,
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    ex: impl PgExecutor<'_>,
    id: RepairId,
    couple: CoupleId,
    initiator: PersonId,
    partner: PersonId,
    begin: Begin,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let s = State::with_owner(begin.owner);
    let n = sqlx::query(
        "insert into repairs (id, couple_id, initiator, partner, step, status, created_at, updated_at,
                              owner, follows)
         values ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)
         on conflict do nothing",
    )
    .bind(id.0)
    .bind(couple.0)
    .bind(initiator.0)
    .bind(partner.0)
    .bind(begin.step.as_str())
    .bind(s.status.as_str())
    .bind(now)
    .bind(role_name(begin.owner))
    .bind(begin.follows.map(|f| f.0))
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn get(ex: impl PgExecutor<'_>, id: RepairId) -> sqlx::Result<Option<Repair>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from repairs where id = $1"
    )))
    .bind(id.0)
    .fetch_optional(ex)
    .await?;
    row.map(Repair::try_from).transpose()
}

/// The couple's open or paused repair, if any.
pub async fn open_for(ex: impl PgExecutor<'_>, couple: CoupleId) -> sqlx::Result<Option<Repair>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from repairs where couple_id = $1 and status in ('open', 'paused')"
    )))
    .bind(couple.0)
    .fetch_optional(ex)
    .await?;
    row.map(Repair::try_from).transpose()
}

/// Saves `next` if the repair is still at version `seen`, and moves the version on. False
/// means someone else changed it first: the caller re-reads and decides again.
pub async fn save(
    ex: impl PgExecutor<'_>,
    id: RepairId,
    seen: i32,
    next: &State,
    by: Option<PersonId>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let finished = next.status.is_finished();
    let n = sqlx::query(
        "update repairs set
            step = $3, status = $4, resume_step = $5, resume_at = $6,
            initiator_activation = $7, partner_activation = $8,
            initiator_connection = $9, partner_connection = $10,
            reflect_loops = $11, plan_round = $12, picked_by = $13, picked_line = $14, heard = $15,
            initiator_unsettled = $19, partner_unsettled = $20, quiet = $21,
            version = version + 1, updated_at = $16,
            closed_at = case when $17 then coalesce(closed_at, $16) else null end,
            closed_by = case when $17 then coalesce(closed_by, $18) else null end
         where id = $1 and version = $2",
    )
    .bind(id.0)
    .bind(seen)
    .bind(next.step.as_str())
    .bind(next.status.as_str())
    .bind(next.resume_step.map(Step::as_str))
    .bind(next.resume_at)
    .bind(next.activation[0].map(i16::from))
    .bind(next.activation[1].map(i16::from))
    .bind(next.connection[0].map(i16::from))
    .bind(next.connection[1].map(i16::from))
    .bind(i16::from(next.reflect_loops))
    .bind(i16::from(next.plan_round))
    .bind(next.picked.map(|p| role_name(p.by)))
    .bind(next.picked.map(|p| line_name(p.line)))
    .bind(next.heard)
    .bind(now)
    .bind(finished)
    .bind(by.map(|p| p.0))
    .bind(next.unsettled[0])
    .bind(next.unsettled[1])
    .bind(next.quiet)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// One partner's text.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub writer: PersonId,
    pub kind: TextKind,
    pub round: i16,
    /// Empty when `unavailable`.
    pub body: String,
    /// The stored text could not be opened (moved or damaged): never shown, never replaced
    /// by a draft.
    pub unavailable: bool,
    pub shared: bool,
}

#[derive(sqlx::FromRow)]
struct TextRow {
    repair_id: Uuid,
    writer: Uuid,
    kind: String,
    round: i16,
    body: String,
    shared: bool,
}

impl TextRow {
    fn open(self, keys: &Keyring) -> sqlx::Result<Text> {
        let body = keys.open_lossy(
            Some(&self.body),
            &super::privacy::repair_text_place(
                RepairId(self.repair_id),
                PersonId(self.writer),
                &self.kind,
                self.round,
            ),
        );
        Ok(Text {
            writer: PersonId(self.writer),
            kind: TextKind::parse(&self.kind).ok_or_else(|| bad("text kind", &self.kind))?,
            round: self.round,
            unavailable: body.is_none(),
            body: body.unwrap_or_default(),
            shared: self.shared,
        })
    }
}

pub async fn text(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    repair: RepairId,
    writer: PersonId,
    kind: TextKind,
    round: i16,
) -> sqlx::Result<Option<Text>> {
    let row: Option<TextRow> = sqlx::query_as(
        "select repair_id, writer, kind, round, body, shared from repair_texts
         where repair_id = $1 and writer = $2 and kind = $3 and round = $4",
    )
    .bind(repair.0)
    .bind(writer.0)
    .bind(kind.as_str())
    .bind(round)
    .fetch_optional(ex)
    .await?;
    // A text that cannot be opened reads as not written: never shown, never shared.
    Ok(row
        .map(|r| r.open(keys))
        .transpose()?
        .filter(|t| !t.unavailable))
}

/// Only what its writers chose to share, oldest first: the one list views may quote from.
pub async fn shared_texts(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    repair: RepairId,
) -> sqlx::Result<Vec<Text>> {
    let rows: Vec<TextRow> = sqlx::query_as(
        "select repair_id, writer, kind, round, body, shared from repair_texts
         where repair_id = $1 and shared order by shared_at, kind, round",
    )
    .bind(repair.0)
    .fetch_all(ex)
    .await?;
    // What cannot be opened is never posted.
    Ok(rows
        .into_iter()
        .map(|r| r.open(keys))
        .collect::<sqlx::Result<Vec<_>>>()?
        .into_iter()
        .filter(|t| !t.unavailable)
        .collect())
}

/// Saves a private draft. A text that was already shared is never changed (false).
#[allow(clippy::too_many_arguments)]
pub async fn save_draft(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    repair: RepairId,
    writer: PersonId,
    kind: TextKind,
    round: i16,
    body: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "insert into repair_texts (repair_id, writer, kind, round, body, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $6)
         on conflict (repair_id, writer, kind, round) do update
            set body = excluded.body, updated_at = excluded.updated_at
            where not repair_texts.shared",
    )
    .bind(repair.0)
    .bind(writer.0)
    .bind(kind.as_str())
    .bind(round)
    .bind(keys.seal(
        body,
        &super::privacy::repair_text_place(repair, writer, kind.as_str(), round),
    ))
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn mark_shared(
    ex: impl PgExecutor<'_>,
    repair: RepairId,
    writer: PersonId,
    kind: TextKind,
    round: i16,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update repair_texts set shared = true, shared_at = $5
         where repair_id = $1 and writer = $2 and kind = $3 and round = $4 and not shared",
    )
    .bind(repair.0)
    .bind(writer.0)
    .bind(kind.as_str())
    .bind(round)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub id: AgreementId,
    pub couple: CoupleId,
    pub repair: RepairId,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AgreementRow {
    id: Uuid,
    couple_id: Uuid,
    repair_id: Uuid,
    text: String,
    created_at: DateTime<Utc>,
}

impl AgreementRow {
    fn open(self, keys: &Keyring) -> sqlx::Result<Agreement> {
        Ok(Agreement {
            id: AgreementId(self.id),
            couple: CoupleId(self.couple_id),
            repair: RepairId(self.repair_id),
            text: keys
                .open_lossy(
                    Some(&self.text),
                    &super::privacy::agreement_place(AgreementId(self.id)),
                )
                .ok_or_else(|| bad("agreement text", "unavailable"))?,
            created_at: self.created_at,
        })
    }
}

pub async fn create_agreement(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    couple: CoupleId,
    repair: RepairId,
    text: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<AgreementId> {
    let id = AgreementId::new();
    sqlx::query(
        "insert into agreements (id, couple_id, repair_id, text, created_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(id.0)
    .bind(couple.0)
    .bind(repair.0)
    .bind(keys.seal(text, &super::privacy::agreement_place(id)))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(id)
}

pub async fn agreement_for(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    repair: RepairId,
) -> sqlx::Result<Option<Agreement>> {
    let row: Option<AgreementRow> = sqlx::query_as(
        "select id, couple_id, repair_id, text, created_at from agreements where repair_id = $1",
    )
    .bind(repair.0)
    .fetch_optional(ex)
    .await?;
    row.map(|r| r.open(keys)).transpose()
}

/// Stores (or changes) one partner's answer about how an agreement is going.
pub async fn save_revisit(
    ex: impl PgExecutor<'_>,
    agreement: AgreementId,
    user: PersonId,
    answer: RevisitAnswer,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into agreement_revisits (agreement_id, person_id, answer, at) values ($1, $2, $3, $4)
         on conflict (agreement_id, person_id) do update set answer = excluded.answer, at = excluded.at",
    )
    .bind(agreement.0)
    .bind(user.0)
    .bind(answer.as_str())
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether a round the other way was started after `repair`.
pub async fn has_follow_up(ex: impl PgExecutor<'_>, repair: RepairId) -> sqlx::Result<bool> {
    let n: Option<i32> = sqlx::query_scalar("select 1 from repairs where follows = $1")
        .bind(repair.0)
        .fetch_optional(ex)
        .await?;
    Ok(n.is_some())
}

/// Every text of a repair, drafts included, opened: only to look for words that suggest
/// someone may not be safe (the result is never stored).
pub async fn all_bodies(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    repair: RepairId,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<TextRow> = sqlx::query_as(
        "select repair_id, writer, kind, round, body, shared from repair_texts where repair_id = $1",
    )
    .bind(repair.0)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.open(keys).ok())
        .filter(|t| !t.unavailable)
        .map(|t| t.body)
        .collect())
}

/// The couple's latest agreement made after `since`.
pub async fn latest_agreement(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    couple: CoupleId,
    since: DateTime<Utc>,
) -> sqlx::Result<Option<Agreement>> {
    let row: Option<AgreementRow> = sqlx::query_as(
        "select id, couple_id, repair_id, text, created_at from agreements
         where couple_id = $1 and created_at > $2 order by created_at desc limit 1",
    )
    .bind(couple.0)
    .bind(since)
    .fetch_optional(ex)
    .await?;
    row.map(|r| r.open(keys)).transpose()
}

/// One agreement by id, if it is the couple's.
pub async fn agreement(
    ex: impl PgExecutor<'_>,
    keys: &Keyring,
    couple: CoupleId,
    id: AgreementId,
) -> sqlx::Result<Option<Agreement>> {
    let row: Option<AgreementRow> = sqlx::query_as(
        "select id, couple_id, repair_id, text, created_at from agreements
         where id = $1 and couple_id = $2",
    )
    .bind(id.0)
    .bind(couple.0)
    .fetch_optional(ex)
    .await?;
    row.map(|r| r.open(keys)).transpose()
}
