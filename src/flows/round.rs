//! What every round shares, the daily check-in and the weekly one: whether it still takes
//! answers, changing one partner's answer under the round's row lock (bringing the reveal
//! forward once everyone has settled), drawing the next question from the couple's own
//! shuffled pool, and the private words for someone who may not be safe.
//!
//! Both `checkin` and `weekly` build on this; it imports neither, so they never import
//! each other's insides in a circle.

use chrono::{DateTime, Utc};

use super::{refuse, FlowResult, Refusal};
use crate::content::copy::keys::checkin as k;
use crate::content::Library;
use crate::domain::checkin as dc;
use crate::domain::couple::Couple;
use crate::domain::ids::{CheckinId, CoupleId, PersonId};
use crate::domain::jobs::Job;
use crate::domain::micro::{rng_for, shuffled};
use crate::state::AppState;
use crate::store::checkins::{self, Answer as Ans, Checkin};
use crate::store::{self, jobs};
use crate::transport::{Card, Text};

/// A question with its placeholders as plain words ("your partner", "you").
pub fn plain_prompt(lib: &Library, q: &str) -> String {
    lib.prompt_text(q, None, None).words()
}

/// Whether a round still takes answers: not once revealed, nor once its window closed
/// (its reveal may still be on its way: what was answered by then is what it shows).
pub fn open(round: &Checkin, now: DateTime<Utc>) -> FlowResult<()> {
    if round.revealed {
        refuse(k::REVEALED)
    } else if round.closes_at <= now {
        refuse(k::CLOSED)
    } else {
        Ok(())
    }
}

/// Changes one partner's answer under the round's row lock; refuses once it is revealed.
/// Brings the reveal forward when everyone asked has now settled.
pub async fn change(
    st: &AppState,
    couple: &Couple,
    me: PersonId,
    round: CheckinId,
    f: impl FnOnce(&mut Ans) -> FlowResult<()>,
) -> FlowResult<(Checkin, Ans)> {
    let now = st.clock.now();
    let keys = st.keys();
    let mut tx = st.pool.begin().await?;
    let Some(r) = checkins::lock(&mut tx, round).await? else {
        return Err(Refusal::stale().into());
    };
    open(&r, now)?;
    let mut a = checkins::answer(&mut *tx, keys, round, me)
        .await?
        .unwrap_or_default();
    f(&mut a)?;
    checkins::save_answer(&mut *tx, keys, round, me, &a, now).await?;
    let all = checkins::answers(&mut *tx, keys, round).await?;
    let asked = checkins::asked(&mut tx, &r, &couple.partner_ids()).await?;
    let states: Vec<dc::AnswerState> = asked
        .iter()
        .filter_map(|u| all.iter().find(|x| x.user == Some(*u)))
        .map(|x| dc::AnswerState {
            submitted: x.submitted,
            skipped: x.skipped,
        })
        .collect();
    let ready = dc::ready_to_reveal(&states, asked.len());
    if ready {
        let key = Job::CheckinReveal {
            couple: r.couple.0,
            checkin: r.id.0,
        }
        .dedupe_key();
        jobs::bring_forward(&mut *tx, &key, now).await?;
    }
    tx.commit().await?;
    if ready {
        st.wake.notify_one();
    }
    Ok((r, a))
}

/// The private words for someone who may not be safe: what happens now, then where to find
/// help.
pub fn safety_card(lib: &Library, opening: &str) -> Card {
    let s = &lib.safety;
    let mut t = Text::plain(opening);
    for part in [&s.resources, &s.self_harm] {
        if !part.trim().is_empty() {
            t = t.para(Text::plain(part.as_str()));
        }
    }
    Card::text(t)
}

/// Which bag a slot (and, for the weekly round, a theme) draws from.
pub fn bag_pool(slot: &str, theme: Option<&str>) -> String {
    match theme {
        Some(t) => format!("{slot}:{t}"),
        None => slot.to_string(),
    }
}

/// A question drawn from a couple's bag, and what the bag holds afterwards.
pub struct Drawn {
    pub id: String,
    pub text: String,
    pub remaining: Vec<String>,
    pub refills: i32,
}

/// Draws the next question from a bag that holds `remaining` (refilled `refills` times),
/// refilling it in the couple's own shuffled order when it is empty. `None` when the library
/// has no question for the pool.
pub fn draw_from(
    lib: &Library,
    seed: u64,
    couple: CoupleId,
    slot: &str,
    theme: Option<&str>,
    mut remaining: Vec<String>,
    mut refills: i32,
) -> Option<Drawn> {
    let ids: Vec<&str> = lib
        .questions
        .iter()
        .filter(|q| q.slot == slot && q.theme.as_deref() == theme)
        .map(|q| q.id.as_str())
        .collect();
    if ids.is_empty() {
        return None;
    }
    let pool = bag_pool(slot, theme);
    // Questions a host removed from the library drop out.
    remaining.retain(|id| ids.contains(&id.as_str()));
    if remaining.is_empty() {
        let all: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let mut rng = rng_for(
            seed,
            &[couple.0.as_bytes(), pool.as_bytes(), &refills.to_le_bytes()],
        );
        remaining = shuffled(&all, &mut rng);
        refills += 1;
    }
    let id = remaining.remove(0);
    let text = lib
        .questions
        .iter()
        .find(|q| q.id == id)
        .map(|q| q.text.clone())
        .unwrap_or_default();
    Some(Drawn {
        id,
        text,
        remaining,
        refills,
    })
}

/// The next question of a pool for this couple: each couple walks the slot's questions (or a
/// weekly theme's) in its own shuffled order, kept in Postgres, so no question comes back
/// before the pool is used up. Returns (id, text).
pub async fn draw_question(
    tx: &mut sqlx::PgConnection,
    lib: &Library,
    seed: u64,
    couple: CoupleId,
    slot: &str,
    theme: Option<&str>,
) -> sqlx::Result<Option<(String, String)>> {
    if !lib
        .questions
        .iter()
        .any(|q| q.slot == slot && q.theme.as_deref() == theme)
    {
        return Ok(None);
    }
    let pool = bag_pool(slot, theme);
    let (remaining, refills) = store::questions::lock(tx, couple, &pool).await?;
    let Some(d) = draw_from(lib, seed, couple, slot, theme, remaining, refills) else {
        return Ok(None);
    };
    store::questions::save(tx, couple, &pool, &d.remaining, d.refills).await?;
    Ok(Some((d.id, d.text)))
}
