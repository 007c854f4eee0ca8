//! Micro-prompts: a quiet public teaser only the addressed partner can open, the private
//! prompt with "Did it" / "Not now" / "Another one", `/micro`, and the per-couple shuffle
//! bag they are drawn from. What a partner is nudged to notice stays between them and the
//! bot.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sqlx::PgConnection;

use super::access::{couple_here, partner_of};
use super::delivery::{Plan, Record};
use super::view::button;
use super::{refuse, refuse_with, Answer, FlowError, FlowResult, Here, Refusal, Who};
use crate::content::copy::keys::micro as k;
use crate::content::copy::Arg;
use crate::content::Library;
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CustomId, MicroAction as A};
use crate::domain::ids::AgreementId;
use crate::domain::ids::{CoupleId, JobId, MicroId, PersonId, PersonRef};
use crate::domain::micro::{
    brings_back_agreement, draw, rng_for, shuffled, Fit, Tags, AGREEMENT_FRESH_DAYS,
    AGREEMENT_PREFIX,
};
use crate::domain::time::local_date;
use crate::domain::time::local_instant;
use crate::state::AppState;
use crate::store::{checkins, couples, micro, people, repairs, schedules};
use crate::transport::{Card, Part, Tone};

fn id(m: MicroId, a: A) -> CustomId {
    CustomId::Micro(m, a)
}

/// A friendly name for a concept (from `content/`), or a generic one.
pub fn concept_label(lib: &Library, concept: &str) -> String {
    lib.concept_labels
        .get(concept)
        .cloned()
        .unwrap_or_else(|| lib.s(k::GENERIC_LABEL))
}

fn teaser(lib: &Library, row: MicroId, person: &PersonRef) -> Card {
    Card::text(lib.t(k::TEASER, &[("person", person.into())]))
        .with_buttons(vec![button(
            id(row, A::Open),
            lib.s(k::OPEN),
            Tone::Primary,
        )])
        .notifying(vec![person.clone()])
}

fn prompt_card(
    lib: &Library,
    row: MicroId,
    prompt_id: &str,
    me: &PersonRef,
    partner: Option<&PersonRef>,
    agreement: Option<&str>,
) -> Card {
    let text = match (agreement, lib.micro_by_id(prompt_id)) {
        (Some(a), _) => lib.t(
            k::AGREEMENT_PROMPT,
            &[
                ("agreement", Arg::Quote(a.to_string())),
                (
                    "partner",
                    partner.map_or_else(
                        || {
                            lib.t(crate::content::copy::keys::common::YOUR_PARTNER, &[])
                                .into()
                        },
                        Arg::from,
                    ),
                ),
            ],
        ),
        (None, None) => lib.t(k::GONE, &[]),
        (None, Some(p)) => {
            let mut t = lib.t(
                k::PROMPT,
                &[
                    ("concept", concept_label(lib, &p.concept).into()),
                    ("prompt", lib.prompt_text(&p.text, partner, Some(me)).into()),
                ],
            );
            if let Some(f) = &p.follow_up {
                t.push(Part::Plain("\n*".into()));
                t.append(lib.prompt_text(f, partner, Some(me)));
                t.push(Part::Plain("*".into()));
            }
            t
        }
    };
    Card::text(text).with_buttons(vec![
        button(id(row, A::Done), lib.s(k::DID_IT), Tone::Success),
        button(id(row, A::NotNow), lib.s(k::NOT_NOW), Tone::Secondary),
        button(id(row, A::Another), lib.s(k::ANOTHER), Tone::Secondary),
    ])
}

fn closed(lib: &Library, key: crate::content::copy::Key) -> Answer {
    Answer::update(Card::text(lib.t(key, &[])))
}

/// `/micro`: a prompt now, privately, from the same bag as the scheduled ones.
pub async fn now(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    let lib = &st.content;
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    let fit = fit_for(&mut tx, &couple, me.id, now).await?;
    let Some((prompt, concept)) = draw_prompt(
        &mut tx,
        lib,
        st.config.scheduler.seed,
        couple.id,
        None,
        &fit,
    )
    .await?
    else {
        return refuse(k::EMPTY);
    };
    let row = MicroId::new();
    micro::insert(
        &mut *tx, row, couple.id, me.id, &prompt, &concept, "command", None, now,
    )
    .await?;
    tx.commit().await?;
    let partner = couple.other(me.id).map(|p| p.person_ref());
    Ok(Answer::private(prompt_card(
        lib,
        row,
        &prompt,
        &me,
        partner.as_ref(),
        None,
    )))
}

/// A press on a teaser or a prompt.
pub async fn press(
    st: &AppState,
    who: &Who,
    here: &Here,
    row_id: MicroId,
    action: A,
) -> FlowResult {
    let lib = &st.content;
    let Some(row) = micro::get(&st.pool, row_id).await? else {
        return Err(Refusal::stale().into());
    };
    let (couple, me) = partner_of(&st.pool, row.couple(), who, here).await?;
    if row.person() != me.id {
        let owner = couple
            .person_ref(row.person())
            .map_or_else(|| Arg::Plain(String::new()), Arg::Person);
        return refuse_with(k::NOT_YOURS, vec![("person", owner)]);
    }
    let partner = couple.other(me.id).map(|p| p.person_ref());
    let now = st.clock.now();
    match action {
        A::Open => {
            let agreement = match row.prompt_id.strip_prefix(AGREEMENT_PREFIX) {
                Some(id) => match uuid::Uuid::try_parse(id) {
                    Ok(id) => repairs::agreement(&st.pool, st.keys(), couple.id, AgreementId(id))
                        .await?
                        .map(|a| a.text),
                    Err(_) => None,
                },
                None => None,
            };
            Ok(Answer::private(prompt_card(
                lib,
                row_id,
                &row.prompt_id,
                &me,
                partner.as_ref(),
                agreement.as_deref(),
            )))
        }
        A::Done | A::NotNow => {
            let mut tx = st.pool.begin().await?;
            let Some(locked) = micro::lock(&mut tx, row_id).await? else {
                return Err(Refusal::stale().into());
            };
            if locked.outcome.as_deref() == Some("another") {
                return Err(Refusal::stale().into());
            }
            let outcome = if action == A::Done { "done" } else { "not_now" };
            micro::set_outcome(&mut *tx, row_id, outcome, now).await?;
            tx.commit().await?;
            Ok(closed(
                lib,
                if action == A::Done { k::DONE } else { k::LATER },
            ))
        }
        A::Another => {
            let mut tx = st.pool.begin().await?;
            let Some(locked) = micro::lock(&mut tx, row_id).await? else {
                return Err(Refusal::stale().into());
            };
            if locked.outcome.is_some() {
                return refuse(k::ALREADY_ANSWERED);
            }
            let fit = fit_for(&mut tx, &couple, me.id, now).await?;
            let Some((prompt, concept)) = draw_prompt(
                &mut tx,
                lib,
                st.config.scheduler.seed,
                couple.id,
                Some(&row.prompt_id),
                &fit,
            )
            .await?
            else {
                return refuse(k::EMPTY);
            };
            micro::set_outcome(&mut *tx, row_id, "another", now).await?;
            let next = MicroId::new();
            micro::insert(
                &mut *tx, next, couple.id, me.id, &prompt, &concept, "another", None, now,
            )
            .await?;
            tx.commit().await?;
            Ok(Answer::update(prompt_card(
                lib,
                next,
                &prompt,
                &me,
                partner.as_ref(),
                None,
            )))
        }
    }
}

/// Tops the bag up with a fresh shuffle of everything not already in it.
fn refill(lib: &Library, seed: u64, couple: CoupleId, bag: &mut micro::Bag) {
    let fresh: Vec<String> = lib
        .micro
        .iter()
        .map(|p| p.id.clone())
        .filter(|id| !bag.remaining.contains(id))
        .collect();
    let mut rng = rng_for(seed, &[couple.0.as_bytes(), &bag.refills.to_le_bytes()]);
    bag.refills += 1;
    bag.remaining.extend(shuffled(&fresh, &mut rng));
}

/// What fits `person` today: their light day, whether the couple lives apart, and how their
/// partner likes to receive care.
pub async fn fit_for(
    tx: &mut PgConnection,
    couple: &Couple,
    person: PersonId,
    now: DateTime<Utc>,
) -> sqlx::Result<Fit> {
    let zone = couple
        .partner(person)
        .and_then(|p| p.zone)
        .unwrap_or(chrono_tz::Tz::UTC);
    let light = checkins::is_light_day(&mut *tx, person, local_date(zone, now)).await?;
    let apart = schedules::couple(&mut *tx, couple.id)
        .await?
        .is_some_and(|s| s.apart);
    let partner_care = match couple.other(person) {
        Some(p) => people::care_ways(&mut *tx, p.person).await?,
        None => Vec::new(),
    };
    Ok(Fit {
        light,
        apart,
        partner_care,
    })
}

/// Draws the next prompt id from the couple's bag: no repeat until the pool is used up,
/// never the same concept twice in a row, never `exclude` ("another one"), and only what
/// fits the person today. A steer left by a hard reveal goes first, once. When nothing that
/// fits is left, the bag is topped up; when the library has nothing that fits, the fit is
/// relaxed rather than sending nothing.
pub async fn draw_prompt(
    tx: &mut PgConnection,
    lib: &Library,
    seed: u64,
    couple: CoupleId,
    exclude: Option<&str>,
    fit: &Fit,
) -> sqlx::Result<Option<(String, String)>> {
    let mut bag = micro::lock_bag(tx, couple).await?;
    let concept_of = |id: &str| lib.micro_by_id(id).map(|p| p.concept.as_str());
    let fits = |fit: &Fit, id: &str| {
        lib.micro_by_id(id).is_some_and(|p| {
            fit.admits(Tags {
                tier: &p.tier,
                setting: &p.setting,
                care: p.care.as_deref(),
            })
        })
    };
    // Prompts a host removed from the library simply drop out of the bag.
    bag.remaining.retain(|id| concept_of(id).is_some());
    if bag.remaining.is_empty() {
        refill(lib, seed, couple, &mut bag);
    }
    let steer = bag.steer.take();
    let mut picked = steer.as_deref().and_then(|c| {
        draw(&mut bag.remaining, None, exclude, concept_of, |id| {
            concept_of(id) == Some(c) && fits(fit, id)
        })
    });
    if picked.is_none() {
        picked = draw(
            &mut bag.remaining,
            bag.last_concept.as_deref(),
            exclude,
            concept_of,
            |id| fits(fit, id),
        );
    }
    if picked.is_none() {
        refill(lib, seed, couple, &mut bag);
        for f in [fit.clone(), fit.relaxed()] {
            picked = draw(
                &mut bag.remaining,
                bag.last_concept.as_deref(),
                exclude,
                concept_of,
                |id| fits(&f, id),
            );
            if picked.is_some() {
                break;
            }
        }
    }
    if picked.is_none() {
        picked = draw(&mut bag.remaining, None, exclude, concept_of, |_| true);
    }
    let Some(id) = picked else {
        return Ok(None);
    };
    let concept = concept_of(&id).unwrap_or_default().to_string();
    bag.last_concept = Some(concept.clone());
    micro::save_bag(&mut *tx, couple, &bag).await?;
    Ok(Some((id, concept)))
}

/// The concept a nudge that brings back an agreement is kept under.
const AGREEMENT_CONCEPT: &str = "agreement";

/// The couple's recent agreement, when today's nudge should bring it back instead of a
/// prompt (seeded by the day, so a retry decides the same).
async fn agreement_due(
    tx: &mut PgConnection,
    st: &AppState,
    couple: CoupleId,
    person: PersonId,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<AgreementId>> {
    let since = now - Duration::days(AGREEMENT_FRESH_DAYS);
    let Some(a) = repairs::latest_agreement(&mut *tx, st.keys(), couple, since).await? else {
        return Ok(None);
    };
    let last = micro::last_of_concept(&mut *tx, couple, AGREEMENT_CONCEPT).await?;
    let mut rng = rng_for(
        st.config.scheduler.seed,
        &[
            couple.0.as_bytes(),
            person.0.as_bytes(),
            b"agreement",
            date.to_string().as_bytes(),
        ],
    );
    let due = brings_back_agreement(
        &mut rng,
        (now - a.created_at).num_days(),
        last.map(|t| (now - t).num_days()),
    );
    Ok(due.then_some(a.id))
}

/// The scheduled prompt: chain the next day, then a teaser only the partner can open.
pub async fn prepare_post(
    st: &AppState,
    job_id: JobId,
    couple_id: CoupleId,
    person: PersonId,
    date: NaiveDate,
    missed: bool,
    now: DateTime<Utc>,
) -> Result<Plan, FlowError> {
    let seed = st.config.scheduler.seed;
    let Some(couple) = couples::get(&st.pool, couple_id, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    let Some(me) = couple.person_ref(person) else {
        return Ok(Plan::Skipped("not a partner any more"));
    };
    let mut tx = st.pool.begin().await?;
    couples::lock(&mut tx, couple_id).await?;
    let (Some(sched), Some(settings)) = (
        schedules::partner(&mut *tx, couple_id, person).await?,
        schedules::couple(&mut *tx, couple_id).await?,
    ) else {
        return Ok(Plan::Skipped("not a partner any more"));
    };
    // Chain from the end of this local day, so the next prompt lands on a later day.
    let day_end = local_instant(sched.zone, date, NaiveTime::MIN) + Duration::days(1);
    super::plan::schedule_next_micro(
        &mut tx,
        seed,
        couple_id,
        person,
        &sched,
        &settings,
        day_end.max(now),
        now,
    )
    .await?;
    if missed {
        tx.commit().await?;
        return Ok(Plan::Missed);
    }
    if couple.is_paused(now) {
        tx.commit().await?;
        return Ok(Plan::Skipped("paused"));
    }
    let nonce = checkins::nonce_for(job_id.0);
    let row = match micro::by_nonce(&mut *tx, &nonce).await? {
        Some(r) if r.message_id.is_some() => {
            tx.commit().await?;
            return Ok(Plan::Skipped("already posted"));
        }
        Some(r) => r.micro_id(),
        None => {
            // Now and then, a recent agreement comes back instead of a prompt.
            let drawn = match agreement_due(&mut tx, st, couple_id, person, date, now).await? {
                Some(a) => Some((
                    format!("{AGREEMENT_PREFIX}{}", a.0),
                    AGREEMENT_CONCEPT.to_string(),
                )),
                None => {
                    let fit = fit_for(&mut tx, &couple, person, now).await?;
                    draw_prompt(&mut tx, &st.content, seed, couple_id, None, &fit).await?
                }
            };
            let Some((prompt, concept)) = drawn else {
                tx.commit().await?;
                return Ok(Plan::Skipped("empty library"));
            };
            let id = MicroId::new();
            micro::insert(
                &mut *tx,
                id,
                couple_id,
                person,
                &prompt,
                &concept,
                "scheduled",
                Some(&nonce),
                now,
            )
            .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(Plan::deliver(
        couple.room.clone(),
        teaser(&st.content, row, &me),
        nonce,
        Record::Micro(row),
    ))
}
