//! Privacy in a person's own hands: `export` (everything they wrote or set, as a file only
//! they see) and `forget` (asks first, then erases them and unlinks their couples, telling
//! the partner left behind).

use super::view::button;
use super::{Answer, FlowResult, Post, Who};
use crate::content::copy::keys::privacy as k;
use crate::domain::custom_id::{CustomId, ForgetAction};
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
/// a forged id can do nothing another press could not.
pub async fn forget_choice(st: &AppState, who: &Who, action: ForgetAction) -> FlowResult {
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
    let rows = crate::store::privacy::forget(&mut tx, person).await?;
    tx.commit().await?;
    tracing::info!(rows, "a person was forgotten");
    let mut answer = Answer::update(Card::text(lib.t(k::FORGET_DONE, &[])));
    answer.posts = posts;
    Ok(answer)
}
