//! `/attune export`: everything one person wrote or set, as a versioned JSON document.
//! Only the caller's own rows are read, so a partner's unrevealed answers or private notes
//! can never be in it.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::domain::ids::PersonId;

/// Bumped whenever a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

type CoupleRow = (
    Uuid,
    String,
    i16,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<NaiveTime>,
    Option<NaiveTime>,
    i16,
    NaiveTime,
    NaiveTime,
);

#[derive(sqlx::FromRow)]
struct AnswerRow {
    checkin_id: Uuid,
    slot: String,
    round_date: NaiveDate,
    revealed: bool,
    mood: Option<i16>,
    feelings: Vec<String>,
    guess: Option<i16>,
    note: Option<String>,
    share_note: bool,
    submitted: bool,
    skipped: bool,
    updated_at: DateTime<Utc>,
}

#[allow(clippy::type_complexity)]
pub async fn export(
    pool: &PgPool,
    keys: &Keyring,
    person: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<Value> {
    let id = person.0;
    let zone: Option<Option<String>> =
        sqlx::query_scalar("select time_zone from people where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let couples: Vec<CoupleRow> = sqlx::query_as(
        "select c.id, r.external_id, p.seat, c.created_at, c.ended_at, c.paused_until,
                p.morning_time, p.evening_time, p.days, p.waking_start, p.waking_end
         from partners p join couples c on c.id = p.couple_id join rooms r on r.id = c.room_id
         where p.person_id = $1 order by c.created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let answers: Vec<AnswerRow> = sqlx::query_as(
        "select a.checkin_id, c.slot, c.round_date, c.status = 'revealed' as revealed, a.mood, a.feelings,
                a.guess, a.note, a.share_note, a.submitted, a.skipped, a.updated_at
         from checkin_answers a join checkins c on c.id = a.checkin_id
         where a.person_id = $1 order by c.round_date, c.opened_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let micro: Vec<(
        String,
        String,
        String,
        DateTime<Utc>,
        Option<String>,
        Option<DateTime<Utc>>,
    )> = sqlx::query_as(
        "select prompt_id, concept, source, created_at, outcome, outcome_at
             from micro_prompts where person_id = $1 order by created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let texts: Vec<(Uuid, String, i16, String, bool, DateTime<Utc>)> = sqlx::query_as(
        "select repair_id, kind, round, body, shared, updated_at from repair_texts
         where writer = $1 order by created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let repairs: Vec<(
        Uuid,
        bool,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<i16>,
        Option<i16>,
    )> = sqlx::query_as(
        "select id, initiator = $1, step, status, created_at, closed_at,
                    case when initiator = $1 then initiator_activation else partner_activation end,
                    case when initiator = $1 then initiator_connection else partner_connection end
             from repairs where initiator = $1 or partner = $1 order by created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let agreements: Vec<(Uuid, Uuid, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "select a.id, a.repair_id, a.text, a.created_at, v.answer
         from agreements a join repairs r on r.id = a.repair_id
         left join agreement_revisits v on v.agreement_id = a.id and v.person_id = $1
         where r.initiator = $1 or r.partner = $1 order by a.created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let care_ways: Vec<String> =
        sqlx::query_scalar("select unnest(care_ways) from people where id = $1")
            .bind(id)
            .fetch_all(pool)
            .await?;
    let light_days: Vec<NaiveDate> = sqlx::query_scalar(
        "select local_date from light_days where person_id = $1 order by local_date",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let weekly: Vec<(
        Uuid,
        NaiveDate,
        String,
        Option<String>,
        String,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "select w.checkin_id, c.round_date, w.theme, w.question_id, w.body, w.updated_at
             from weekly_answers w join checkins c on c.id = w.checkin_id
             where w.person_id = $1 order by c.round_date, w.theme",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let identities: Vec<(String, String)> = sqlx::query_as(
        "select transport, external_id from identities where person_id = $1 order by transport",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    use super::privacy as pv;
    use crate::domain::ids::{AgreementId, CheckinId, RepairId};
    let open = |s: &str, place: crate::crypto::Place| {
        keys.open_lossy(Some(s), &place)
            .unwrap_or_else(|| "(could not be decrypted)".into())
    };
    Ok(json!({
        "format": "attune-export",
        "version": FORMAT_VERSION,
        "exported_at": now,
        // The person's id on the chat they used first (their Discord id for people from
        // release 0.1); every id is under "identities".
        "user_id": identities.first().map(|(_, e)| e.clone()),
        "person_id": person.0,
        "identities": identities.iter().map(|(t, e)| json!({ "transport": t, "id": e })).collect::<Vec<_>>(),
        "settings": { "time_zone": zone.flatten(), "care_ways": care_ways, "light_days": light_days },
        "couples": couples.iter().map(|c| json!({
            "couple_id": c.0, "channel_id": c.1,
            "role": if c.2 == 1 { "invited" } else { "accepted" },
            "linked_at": c.3, "unlinked_at": c.4, "paused_until": c.5,
            "schedule": {
                "morning": c.6, "evening": c.7,
                "days": crate::domain::time::Weekdays(c.8 as u8).describe(),
                "waking_start": c.9, "waking_end": c.10,
            },
        })).collect::<Vec<_>>(),
        "checkin_answers": answers.iter().map(|a| json!({
            "checkin_id": a.checkin_id, "slot": a.slot, "date": a.round_date,
            "revealed": a.revealed, "mood": a.mood, "feelings": a.feelings, "guess_of_partner": a.guess,
            "note": a.note.as_deref().map(|n| open(n, pv::note_place(CheckinId(a.checkin_id), person))), "note_shared_at_reveal": a.share_note,
            "submitted": a.submitted, "skipped": a.skipped, "updated_at": a.updated_at,
        })).collect::<Vec<_>>(),
        "weekly_answers": weekly.iter().map(|w| json!({
            "checkin_id": w.0, "date": w.1, "theme": w.2, "question_id": w.3,
            "text": open(&w.4, pv::weekly_place(CheckinId(w.0), person, &w.2)), "updated_at": w.5,
        })).collect::<Vec<_>>(),
        "micro_prompts": micro.iter().map(|m| json!({
            "prompt_id": m.0, "concept": m.1, "source": m.2, "shown_at": m.3,
            "outcome": m.4, "outcome_at": m.5,
        })).collect::<Vec<_>>(),
        "repairs": repairs.iter().map(|r| json!({
            "repair_id": r.0, "role": if r.1 { "started it" } else { "invited" },
            "step": r.2, "status": r.3, "started_at": r.4, "closed_at": r.5,
            "my_activation": r.6, "my_connection_at_close": r.7,
        })).collect::<Vec<_>>(),
        "repair_texts": texts.iter().map(|t| json!({
            "repair_id": t.0, "kind": t.1, "round": t.2, "text": open(&t.3, pv::repair_text_place(RepairId(t.0), person, &t.1, t.2)),
            "shared": t.4, "updated_at": t.5,
        })).collect::<Vec<_>>(),
        "agreements": agreements.iter().map(|a| json!({
            "agreement_id": a.0, "repair_id": a.1, "text": open(&a.2, pv::agreement_place(AgreementId(a.0))), "agreed_at": a.3,
            "my_revisit_answer": a.4,
        })).collect::<Vec<_>>(),
    }))
}
