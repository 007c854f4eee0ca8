//! Privacy in a person's own hands: `export` (everything they wrote or set, as a file only
//! they see) and `forget` (asks first; on yes unlinks their couples at once, telling the
//! partner left behind, and hands the erasure to a durable job that tells them privately
//! when it is done).

use super::delivery::{Plan, Record};
use super::view::button;
use super::{Answer, FlowError, FlowResult, Here, Post, Who};
use crate::content::copy::keys::privacy as k;
use crate::domain::couple::Room;
use crate::domain::custom_id::{CustomId, ForgetAction};
use crate::domain::ids::{JobId, PersonId, PersonRef, RoomId, TransportKind};
use crate::domain::jobs::Job;
use crate::state::AppState;
use crate::store::{couples, jobs, people, schedules};
use crate::transport::{Attachment, Card, Part, Text, Tone};

/// The export's file name.
pub const EXPORT_FILE: &str = "attune-export.json";

/// `export`: the person's own data as JSON, privately.
pub async fn export(st: &AppState, who: &Who) -> FlowResult {
    let lib = &st.content;
    let Some(person) = people::find(&st.pool, who.transport, &who.handle).await? else {
        return Ok(Answer::private(Card::text(lib.t(k::EXPORT_NOTHING, &[]))));
    };
    let doc = crate::store::export::export(&st.pool, st.keys(), person, st.clock.now()).await?;
    let bytes = serde_json::to_vec_pretty(&doc).map_err(super::FlowError::internal)?;
    tracing::info!(bytes = bytes.len(), "export sent");
    let mut card = Card::text(lib.t(k::EXPORT_HERE, &[]));
    card.file = Some(Attachment {
        filename: EXPORT_FILE.to_string(),
        bytes,
    });
    Ok(Answer::private(card))
}

/// `forget`: asks first. Someone Attune holds nothing about is told so, with nothing to
/// press.
pub async fn forget(st: &AppState, who: &Who) -> FlowResult {
    let lib = &st.content;
    if people::find(&st.pool, who.transport, &who.handle)
        .await?
        .is_none()
    {
        return Ok(Answer::private(Card::text(lib.t(k::FORGET_NOTHING, &[]))));
    }
    let id = uuid::Uuid::new_v4();
    Ok(Answer::private(
        Card::text(lib.t(k::FORGET_CONFIRM, &[])).with_buttons(vec![
            button(
                CustomId::Forget(id, ForgetAction::Confirm),
                lib.s(k::FORGET_YES),
                Tone::Danger,
            ),
            button(
                CustomId::Forget(id, ForgetAction::Cancel),
                lib.s(k::FORGET_KEEP),
                Tone::Secondary,
            ),
        ]),
    ))
}

/// The answer to `forget`'s question. Forgetting always acts on the person who presses, so
/// a forged id can do nothing another press could not. Yes unlinks them from their couples
/// at once (a few rows, under the couple's own indexes) and schedules the erasure as a job in
/// the same transaction, so the answer comes at once however much they wrote, and a restart
/// midway loses nothing: the job runs, or runs again, until they are told it is done.
pub async fn forget_choice(
    st: &AppState,
    who: &Who,
    here: &Here,
    action: ForgetAction,
) -> FlowResult {
    let lib = &st.content;
    if action == ForgetAction::Cancel {
        return Ok(Answer::update(Card::text(lib.t(k::FORGET_CANCELLED, &[]))));
    }
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    let Some(person) = people::find(&mut *tx, who.transport, &who.handle).await? else {
        return Ok(Answer::update(Card::text(lib.t(k::FORGET_DONE, &[]))));
    };
    let mut posts = Vec::new();
    for id in schedules::couples_of(&mut *tx, person).await? {
        if let Some(c) = couples::get(&mut *tx, id, true).await? {
            couples::end(&mut *tx, id, now).await?;
            jobs::cancel_all_pending(&mut *tx, id).await?;
            let remaining: Vec<_> = c
                .partners
                .iter()
                .filter(|p| p.person != person)
                .map(|p| p.person_ref())
                .collect();
            let mut who = Text::new();
            for (n, p) in remaining.iter().enumerate() {
                if n > 0 {
                    who.push_plain(" ");
                }
                who.push(Part::Person(p.clone()));
            }
            posts.push(Post {
                room: c.room.clone(),
                card: Card::text(lib.t(k::FORGOTTEN_NOTICE, &[("who", who.into())]))
                    .notifying(remaining),
                key: crate::store::checkins::nonce_for(uuid::Uuid::new_v4()),
            });
        }
    }
    let job = Job::Forget {
        person,
        transport: who.transport,
        handle: who.handle.clone(),
        room: here.room.clone(),
        space: here.space.clone(),
    };
    // A second yes while the first is under way changes nothing.
    jobs::schedule_once(&mut *tx, &job, now, now).await?;
    tx.commit().await?;
    st.wake.notify_one();
    tracing::info!("a person asked to be forgotten; erasing");
    let mut answer = Answer::update(Card::text(lib.t(k::FORGET_STARTED, &[])));
    answer.posts = posts;
    Ok(answer)
}

/// The erasure job: removes everything of the person in one transaction (every statement
/// through an index), then tells them privately. Run again after a restart or a failed
/// message, it finds nothing left to remove and says the same: the key makes the message
/// land once.
pub async fn prepare_erasure(
    st: &AppState,
    person: PersonId,
    transport: TransportKind,
    handle: &str,
    room: &str,
    space: Option<&str>,
    job: JobId,
) -> Result<Plan, FlowError> {
    let mut tx = st.pool.begin().await?;
    let rows = crate::store::privacy::forget(&mut tx, person).await?;
    tx.commit().await?;
    if rows > 0 {
        tracing::info!(job_id = %job, rows, "a person was forgotten");
    }
    let to = PersonRef {
        id: person,
        handle: handle.to_string(),
    };
    // Where they asked: a place to answer from, not a room Attune keeps (it has no row).
    let here = Room {
        id: RoomId(uuid::Uuid::nil()),
        transport,
        external: room.to_string(),
        space: space.map(str::to_string),
    };
    Ok(Plan::deliver_privately(
        here,
        to,
        Card::text(st.content.t(k::FORGET_DONE, &[])),
        crate::store::checkins::nonce_for(job.0),
        Record::Erased,
    ))
}
