//! How each partner likes to receive care: chosen privately (one or two ways), never shown to
//! the other partner, and read only to steer the other partner's small ideas about caring.

use super::access::{couple_here, partner_of};
use super::{Answer, FlowResult, Here, Refusal, Who};
use crate::content::copy::keys::care as k;
use crate::content::copy::Arg;
use crate::content::{Library, CARE_WAYS};
use crate::domain::custom_id::{CustomId, PersonalAction};
use crate::domain::ids::{CoupleId, PersonRef};
use crate::state::AppState;
use crate::store::people;
use crate::transport::{Card, Control, Menu, MenuOption};

/// At most this many ways: a preference, not a profile.
pub const MAX_WAYS: usize = 2;

fn way_label(lib: &Library, way: &str) -> String {
    lib.s(match way {
        "words" => k::WORDS,
        "time" => k::TIME,
        "service" => k::SERVICE,
        "gifts" => k::GIFTS,
        _ => k::TOUCH,
    })
}

fn partner_arg(lib: &Library, partner: Option<PersonRef>) -> Arg {
    partner.map_or_else(
        || {
            lib.t(crate::content::copy::keys::common::YOUR_PARTNER, &[])
                .into()
        },
        Arg::Person,
    )
}

fn card(lib: &Library, couple: CoupleId, partner: Option<PersonRef>, mine: &[String]) -> Card {
    let mut c = Card::text(lib.t(k::INTRO, &[("partner", partner_arg(lib, partner))]));
    c.controls.push(Control::Menu(Menu {
        id: CustomId::Personal(couple, PersonalAction::Care),
        placeholder: lib.s(k::PLACEHOLDER),
        options: CARE_WAYS
            .iter()
            .map(|w| MenuOption {
                label: way_label(lib, w),
                value: (*w).to_string(),
                selected: mine.iter().any(|m| m == w),
            })
            .collect(),
        min: 0,
        max: MAX_WAYS as u8,
    }));
    c
}

/// `/attune care`: the private chooser, with what the person chose before.
pub async fn command(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    let mine = people::care_ways(&st.pool, me.id).await?;
    let partner = couple.other(me.id).map(|p| p.person_ref());
    Ok(Answer::private(card(
        &st.content,
        couple.id,
        partner,
        &mine,
    )))
}

/// The chooser's menu: only known ways, at most two; anything else is a forged press.
pub async fn choose(
    st: &AppState,
    who: &Who,
    here: &Here,
    couple_id: CoupleId,
    values: &[String],
) -> FlowResult {
    let (couple, me) = partner_of(&st.pool, couple_id, who, here).await?;
    if values.len() > MAX_WAYS || values.iter().any(|v| !CARE_WAYS.contains(&v.as_str())) {
        return Err(Refusal::stale().into());
    }
    let mut ways: Vec<String> = Vec::new();
    for v in values {
        if !ways.contains(v) {
            ways.push(v.clone());
        }
    }
    people::set_care_ways(&st.pool, me.id, &ways, st.clock.now()).await?;
    tracing::info!(couple_id = %couple.id, ways = ways.len(), "care ways chosen");
    let lib = &st.content;
    let partner = couple.other(me.id).map(|p| p.person_ref());
    let text = if ways.is_empty() {
        lib.t(k::CLEARED, &[])
    } else {
        lib.t(k::SAVED, &[("partner", partner_arg(lib, partner))])
    };
    Ok(Answer::update(Card::text(text)))
}
