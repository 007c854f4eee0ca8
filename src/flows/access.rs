//! Authorisation, written once: is this person a partner of the couple that owns this
//! thing, here? Every use case starts from one of these two questions.

use sqlx::PgExecutor;

use super::{refuse, FlowResult, Here, Who};
use crate::content::copy::keys::common as k;
use crate::domain::couple::Couple;
use crate::domain::ids::{CoupleId, PersonRef};
use crate::store::couples;

/// The live couple of the room the person acts in, if they are one of its partners.
pub async fn couple_here(
    ex: impl PgExecutor<'_>,
    who: &Who,
    here: &Here,
) -> FlowResult<(Couple, PersonRef)> {
    if here.direct {
        return refuse(k::DM_REFUSAL);
    }
    let Some(couple) = couples::live_in_room(ex, here.transport, &here.room).await? else {
        return refuse(k::NO_COUPLE_HERE);
    };
    let me = actor(&couple, who)?;
    Ok((couple, me))
}

/// The couple that owns a thing (a round, a repair, a prompt), checked against where the
/// person acts and who they are.
pub async fn partner_of(
    ex: impl PgExecutor<'_>,
    owner: CoupleId,
    who: &Who,
    here: &Here,
) -> FlowResult<(Couple, PersonRef)> {
    let Some(couple) = couples::get(ex, owner, true).await? else {
        return refuse(k::STALE_BUTTON);
    };
    if couple.room.transport != here.transport || couple.room.external != here.room {
        return refuse(k::WRONG_CHANNEL);
    }
    let me = actor(&couple, who)?;
    Ok((couple, me))
}

fn actor(couple: &Couple, who: &Who) -> FlowResult<PersonRef> {
    if who.transport != couple.room.transport {
        return refuse(k::NOT_YOUR_SPACE);
    }
    match couple.partner_by_handle(&who.handle) {
        Some(p) => Ok(p.person_ref()),
        None => refuse(k::NOT_YOUR_SPACE),
    }
}

/// The zones to show a room's times in where the platform cannot show each reader their
/// own: the couple's home zone first, then the other partner's when it differs. None when no
/// couple lives in the room.
pub async fn zones_in_room(
    ex: impl PgExecutor<'_>,
    transport: crate::domain::ids::TransportKind,
    room: &str,
) -> sqlx::Result<Vec<chrono_tz::Tz>> {
    let Some(couple) = couples::live_in_room(ex, transport, room).await? else {
        return Ok(Vec::new());
    };
    let mut zones = vec![couple.home_zone()];
    for z in couple.partners.iter().filter_map(|p| p.zone) {
        if !zones.contains(&z) {
            zones.push(z);
        }
    }
    Ok(zones)
}

/// Refuses, with what to fix, when the transport says the bot cannot post here (everything
/// a couple starts ends in a post the bot must be able to make).
pub fn require_post(here: &Here) -> FlowResult<()> {
    if here.can_post {
        Ok(())
    } else {
        refuse(k::CANNOT_POST_HERE)
    }
}
