//! The guided repair: `/repair` and its start request, the invitation, each step, the
//! private drafts and their sharing, breaks, the end, and the scheduled nudge, return,
//! expiry and revisit.
//!
//! Every press asks `domain::repair::decide` whether this role may do this now. A change is
//! saved with a version check (`update ... where version = $seen`); when someone else changed
//! the repair first, the flow reads it again and decides again, so double clicks and both
//! partners at once settle into exactly one transition. A refusal writes nothing.

pub mod view;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::access::{couple_here, partner_of, require_post};
use super::delivery::{Plan, Record};
use super::view::tidy;
use super::{refuse, refuse_with, Answer, FlowError, FlowResult, Here, Refusal, Reply, Who};
use crate::config::RepairConfig;
use crate::content::copy::keys::{common as kc, repair as k};
use crate::domain::custom_id::RepairAction;
use crate::domain::ids::{AgreementId, CoupleId, JobId, PersonId, PersonRef, RepairId};
use crate::domain::jobs::Job;
use crate::domain::repair::{
    self as dr, Action, Facts, Limits, Line, Outcome, Refusal as DomainRefusal, Role, Show, State,
    Status, TextKind, TextState, Write,
};
use crate::state::AppState;
use crate::store::checkins::nonce_for;
use crate::store::repairs::{self, Agreement, Repair, Text as RText};
use crate::store::{couples, jobs, people};
use crate::transport::{Card, Text};

/// How often a press re-reads and re-decides after losing a version race.
const ATTEMPTS: usize = 4;

/// How often a revisit that met a paused couple is pushed past the pause before it gives up.
const MAX_REVISIT_ATTEMPTS: u8 = 5;

/// Everything a card may show: the repair, only the texts its writers shared, the
/// agreement, and the partners' ids on the couple's transport.
pub struct Snapshot {
    pub repair: Repair,
    pub shared: Vec<RText>,
    pub agreement: Option<Agreement>,
    pub handles: HashMap<PersonId, String>,
    /// A round the other way already follows this one.
    pub has_follow_up: bool,
}

impl Snapshot {
    pub async fn load(st: &AppState, id: RepairId) -> sqlx::Result<Option<Snapshot>> {
        let Some(repair) = repairs::get(&st.pool, id).await? else {
            return Ok(None);
        };
        let keys = st.keys();
        let shared = repairs::shared_texts(&st.pool, keys, id).await?;
        let agreement = repairs::agreement_for(&st.pool, keys, id).await?;
        let handles = match couples::get(&st.pool, repair.couple, false).await? {
            Some(c) => c
                .partners
                .into_iter()
                .map(|p| (p.person, p.handle))
                .collect(),
            None => HashMap::new(),
        };
        let has_follow_up = repairs::has_follow_up(&st.pool, id).await?;
        Ok(Some(Snapshot {
            repair,
            shared,
            agreement,
            handles,
            has_follow_up,
        }))
    }

    fn text(&self, kind: TextKind, round: i16, role: Option<Role>) -> Option<&str> {
        self.shared
            .iter()
            .filter(|t| t.kind == kind && t.round == round)
            .find(|t| role.is_none_or(|r| t.writer == self.repair.user(r)))
            .map(|t| t.body.as_str())
    }

    fn plan_shared(&self) -> [bool; 2] {
        let round = self.repair.state.round(TextKind::Plan);
        Role::BOTH.map(|r| self.text(TextKind::Plan, round, Some(r)).is_some())
    }

    /// The people the flow waits for, minus whoever just acted: the only ones to notify.
    fn pings(&self, actor: Option<PersonId>) -> Vec<PersonId> {
        self.repair
            .state
            .waiting_on(self.plan_shared())
            .into_iter()
            .map(|r| self.repair.user(r))
            .filter(|u| Some(*u) != actor)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Starting.
// ---------------------------------------------------------------------------------------

/// `/repair`: points to an open repair, or asks privately which way it goes: "I'd like to
/// own something" or "something hurt, I'd like to be heard" (nothing is written until the
/// moment's request is answered).
pub async fn command(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    require_post(here)?;
    if couple.other(me.id).is_none() {
        return refuse(kc::NO_COUPLE_HERE);
    }
    if let Some(open) = repairs::open_for(&st.pool, couple.id).await? {
        return Ok(Answer::private(pointer(st, open.id).await?));
    }
    Ok(Answer::private(view::chooser(&st.content, RepairId::new())))
}

/// "You already have one open": the current step, privately, with its buttons.
async fn pointer(st: &AppState, id: RepairId) -> FlowResult<Card> {
    let Some(snap) = Snapshot::load(st, id).await? else {
        return Err(Refusal::stale().into());
    };
    let lead = view::pointer_lead(
        &st.content,
        &snap.person(Role::Initiator),
        snap.repair.created_at,
    );
    Ok(view::card(
        &snap,
        &st.content,
        &st.config.repair,
        lead,
        None,
    ))
}

/// The start request's answer: creates the repair and invites the partner. The repair id
/// came with the request, so an answer that arrives twice creates it once.
async fn start(
    st: &AppState,
    who: &Who,
    here: &Here,
    rid: RepairId,
    owner: Role,
    moment: &str,
) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    let Some(partner) = couple.other(me.id).map(|p| p.person) else {
        return refuse(kc::NO_COUPLE_HERE);
    };
    if moment.chars().count() > dr::MAX_MOMENT {
        return too_long(dr::MAX_MOMENT);
    }
    let moment = tidy(moment);
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    let begin = repairs::Begin {
        owner,
        step: dr::Step::Invited,
        follows: None,
    };
    if !repairs::create(&mut *tx, rid, couple.id, me.id, partner, begin, now).await? {
        drop(tx);
        return match repairs::open_for(&st.pool, couple.id).await? {
            Some(open) => Ok(Answer::private(pointer(st, open.id).await?)),
            None => Err(Refusal::stale().into()),
        };
    }
    if !moment.is_empty() {
        repairs::save_draft(
            &mut *tx,
            st.keys(),
            rid,
            me.id,
            TextKind::Moment,
            0,
            &moment,
            now,
        )
        .await?;
    }
    plan_activity(&mut tx, &st.config.repair, couple.id, rid, 0, now).await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, repair_id = %rid, hurt_first = owner == Role::Partner, "repair started");
    let Some(snap) = Snapshot::load(st, rid).await? else {
        return Err(Refusal::stale().into());
    };
    let invite = view::card(
        &snap,
        &st.content,
        &st.config.repair,
        Text::new(),
        Some(me.id),
    );
    let mut answer = Answer::public(invite);
    if !moment.is_empty() {
        answer
            .followups
            .push(view::preview(&st.content, rid, TextKind::Moment, &moment));
    }
    Ok(answer)
}

fn too_long<T>(max: usize) -> FlowResult<T> {
    refuse_with(k::TOO_LONG, vec![("max", max.to_string().into())])
}

fn text_state(t: Option<&RText>) -> TextState {
    match t {
        None => TextState::None,
        Some(t) if t.shared => TextState::Shared,
        Some(_) => TextState::Draft,
    }
}

// ---------------------------------------------------------------------------------------
// Pressing and writing.
// ---------------------------------------------------------------------------------------

/// A button on a repair message.
pub async fn press(
    st: &AppState,
    who: &Who,
    here: &Here,
    rid: RepairId,
    action: RepairAction,
) -> FlowResult {
    let hurt = match action {
        RepairAction::ChooseOwn => Some(false),
        RepairAction::ChooseHurt => Some(true),
        _ => None,
    };
    if let Some(hurt) = hurt {
        // The chooser names a repair that does not exist yet: only its writer sees it.
        couple_here(&st.pool, who, here).await?;
        if repairs::get(&st.pool, rid).await?.is_some() {
            return Err(Refusal::stale().into());
        }
        return Ok(Reply::AskText(view::start_request(&st.content, rid, hurt)).into());
    }
    let Some(action) = Action::from_custom(action) else {
        return Err(Refusal::stale().into());
    };
    act(st, who, here, rid, action, None).await
}

/// The answer to a repair text request (`text` is what was written).
pub async fn write(
    st: &AppState,
    who: &Who,
    here: &Here,
    rid: RepairId,
    action: RepairAction,
    text: &str,
) -> FlowResult {
    match action {
        RepairAction::Start => return start(st, who, here, rid, Role::Initiator, text).await,
        RepairAction::StartHurt => return start(st, who, here, rid, Role::Partner, text).await,
        _ => {}
    }
    match Action::from_custom(action) {
        None => Err(Refusal::stale().into()),
        Some(a @ Action::Submit(_)) => act(st, who, here, rid, a, Some(text)).await,
        Some(_) => Err(Refusal::stale().into()),
    }
}

/// Decides and, for a change, saves it with a version check; re-reads and decides again
/// when someone else changed the repair in between.
async fn act(
    st: &AppState,
    who: &Who,
    here: &Here,
    rid: RepairId,
    action: Action,
    text: Option<&str>,
) -> FlowResult {
    let Some(mut repair) = repairs::get(&st.pool, rid).await? else {
        return Err(Refusal::stale().into());
    };
    let (couple, me) = partner_of(&st.pool, repair.couple, who, here).await?;
    let Some(role) = repair.role_of(me.id) else {
        return refuse(kc::NOT_YOUR_SPACE);
    };
    let lib = &st.content;
    let cfg = &st.config.repair;
    let keys = st.keys();
    let zone = people::zone(&st.pool, me.id)
        .await?
        .unwrap_or_else(|| couple.home_zone());
    let other = repair.user(role.other());
    let person = |id: PersonId| {
        couple.person_ref(id).unwrap_or(PersonRef {
            id,
            handle: String::new(),
        })
    };
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let Some(r) = repairs::get(&st.pool, rid).await? else {
                return Err(Refusal::stale().into());
            };
            repair = r;
        }
        let now = st.clock.now();
        let s = repair.state.clone();
        let mut facts = Facts::default();
        if let Some(kind) = action.text() {
            let mine = repairs::text(&st.pool, keys, rid, me.id, kind, s.round(kind)).await?;
            facts.mine = text_state(mine.as_ref());
            facts.mine_worrying = mine
                .as_ref()
                .is_some_and(|t| lib.signal_in(&t.body).is_some());
            if kind == TextKind::Plan {
                let theirs = repairs::text(&st.pool, keys, rid, other, kind, s.round(kind)).await?;
                facts.other_plan = text_state(theirs.as_ref());
            }
        }
        if matches!(action, Action::Revisit(_)) {
            facts.has_agreement = repairs::agreement_for(&st.pool, keys, rid).await?.is_some();
        }
        if matches!(action, Action::Share(_)) {
            // Read only to decide whether the flow may go on to "next time"; never kept.
            facts.worrying = repairs::all_bodies(&st.pool, keys, rid)
                .await?
                .iter()
                .any(|b| lib.signal_in(b).is_some());
        }
        if action == Action::OtherWay {
            facts.has_follow_up = repairs::has_follow_up(&st.pool, rid).await?;
        }
        let cx = dr::Cx {
            now,
            zone,
            limits: Limits {
                max_reflect_loops: cfg.max_reflect_loops,
            },
        };
        let outcome = match dr::decide(&s, role, action, &facts, &cx) {
            Ok(o) => o,
            Err(DomainRefusal::StepDone) if matches!(action, Action::Submit(_)) => {
                return refuse(k::STEP_MOVED_ON);
            }
            Err(r) => return Err(view::refusal(r, &repair, person).into()),
        };
        let (next, write) = match outcome {
            Outcome::Show(show) => return self::show(st, &repair, me.id, show).await,
            Outcome::Revisit(answer) => {
                let Some(agreement) = repairs::agreement_for(&st.pool, keys, rid).await? else {
                    return Err(Refusal::stale().into());
                };
                repairs::save_revisit(&st.pool, agreement.id, me.id, answer, now).await?;
                tracing::info!(couple_id = %couple.id, repair_id = %rid, answer = answer.as_str(), "agreement revisited");
                return Ok(Answer::private(Card::text(view::revisit_thanks(
                    lib, answer,
                ))));
            }
            Outcome::OtherWay => return other_way(st, &couple, &me, &repair).await,
            Outcome::Change { next, write } => (next, write),
        };
        // Text from a request is checked before anything is written.
        let body = match write {
            Write::Draft(kind) => {
                let raw = text.unwrap_or_default();
                if raw.chars().count() > kind.max_len() {
                    return too_long(kind.max_len());
                }
                let body = tidy(raw);
                if body.is_empty() {
                    return refuse(k::EMPTY);
                }
                Some(body)
            }
            _ => None,
        };
        let mut tx = st.pool.begin().await?;
        // The version check comes first: it also locks the row until commit, so everything
        // below happens for exactly one of any racing presses.
        if !repairs::save(&mut *tx, rid, repair.version, &next, Some(me.id), now).await? {
            drop(tx);
            continue;
        }
        let version = repair.version + 1;
        match write {
            Write::None => {}
            Write::Draft(kind) => {
                let body = body.as_deref().unwrap_or_default();
                repairs::save_draft(&mut *tx, keys, rid, me.id, kind, s.round(kind), body, now)
                    .await?;
            }
            Write::Shared(kind) => {
                repairs::mark_shared(&mut *tx, rid, me.id, kind, s.round(kind), now).await?;
            }
            Write::Agreement(line) => {
                let round = s.round(TextKind::Plan);
                let writers: Vec<Role> = match line {
                    Line::Of(r) => vec![r],
                    Line::Both => Role::BOTH.to_vec(),
                };
                let mut lines = Vec::new();
                for w in writers {
                    let Some(chosen) =
                        repairs::text(&mut *tx, keys, rid, repair.user(w), TextKind::Plan, round)
                            .await?
                    else {
                        return Err(FlowError::internal(anyhow::anyhow!("picked line missing")));
                    };
                    lines.push(chosen.body);
                }
                let agreement = repairs::create_agreement(
                    &mut *tx,
                    keys,
                    couple.id,
                    rid,
                    &lines.join("\n"),
                    now,
                )
                .await?;
                plan_revisit(&mut tx, cfg, couple.id, rid, agreement, now).await?;
                tracing::info!(couple_id = %couple.id, repair_id = %rid, agreement_id = %agreement, "agreement stored");
            }
        }
        plan_after_change(&mut tx, cfg, couple.id, rid, &s, &next, version, now).await?;
        // The answer below shows the couple the new step; if it never reaches them (the
        // transport's deadline passed, the reply was lost), this job posts it instead.
        let follow_up = card_follows(role, &s, &next, action, write).then_some(Job::RepairCard {
            couple: couple.id.0,
            repair: rid.0,
            version,
        });
        if let Some(job) = &follow_up {
            jobs::schedule_once(&mut *tx, job, now + FOLLOW_UP_AFTER, now).await?;
        }
        tx.commit().await?;
        tracing::info!(
            couple_id = %couple.id,
            repair_id = %rid,
            step = next.step.as_str(),
            status = next.status.as_str(),
            version,
            "repair changed"
        );
        let mut answer = respond(st, rid, &me, role, &s, &next, write, action).await?;
        answer.follow_up = follow_up;
        return Ok(answer);
    }
    refuse(k::BUSY)
}

/// How long a step's card waits for its answer to be shown before a job posts it: well past
/// any transport's deadline to answer.
const FOLLOW_UP_AFTER: Duration = Duration::seconds(20);

/// Whether a saved change is answered with the repair's card in the room (the last branch
/// of [`respond`]), which a durable follow-up then stands in for.
fn card_follows(role: Role, prev: &State, next: &State, action: Action, write: Write) -> bool {
    if action == Action::NotSafe
        || (matches!(action, Action::Rate(_)) && next.unsettled[role_index(role)])
    {
        return false;
    }
    let moved = prev.step != next.step || prev.status != next.status;
    moved
        || !matches!(
            (action, write),
            (_, Write::Draft(_))
                | (_, Write::Shared(TextKind::Moment))
                | (Action::Rate(_) | Action::Connect(_), _)
        )
}

/// Something shown without a change.
async fn show(st: &AppState, repair: &Repair, me: PersonId, show: Show) -> FlowResult {
    let lib = &st.content;
    Ok(match show {
        Show::Modal(kind) => {
            let round = repair.state.round(kind);
            let draft = repairs::text(&st.pool, st.keys(), repair.id, me, kind, round).await?;
            Reply::AskText(view::request(
                lib,
                repair.id,
                kind,
                draft.as_ref().map(|t| t.body.as_str()),
                repair.version as usize,
            ))
            .into()
        }
        Show::TimeChooser => Answer::private(view::time_chooser(lib, repair.id)),
        Show::EndConfirm => Answer::private(view::end_confirm(lib, repair.id)),
        Show::KeepGoing => Answer::update(Card::text(lib.t(k::CARRYING_ON, &[]))),
        Show::Settle => Answer::private(view::settle_card(lib, repair.id)),
        Show::Safety => Answer::private(crate::flows::round::safety_card(
            lib,
            &lib.safety.unsafe_private,
        )),
    })
}

/// "Another round, the other way": a new repair about the same moment in which the one who
/// was heard now owns their part. The couple have just been through a round together, so it
/// starts at settling, not with an invitation.
async fn other_way(
    st: &AppState,
    couple: &crate::domain::couple::Couple,
    me: &PersonRef,
    prev: &Repair,
) -> FlowResult {
    let Some(other) = couple.other(me.id).map(|p| p.person) else {
        return refuse(kc::NO_COUPLE_HERE);
    };
    let now = st.clock.now();
    let new_owner_person = prev.user(prev.state.hurt());
    let owner = if new_owner_person == me.id {
        Role::Initiator
    } else {
        Role::Partner
    };
    let rid = RepairId::new();
    let begin = repairs::Begin {
        owner,
        step: dr::Step::Regulate,
        follows: Some(prev.id),
    };
    let mut tx = st.pool.begin().await?;
    if !repairs::create(&mut *tx, rid, couple.id, me.id, other, begin, now).await? {
        drop(tx);
        return match repairs::open_for(&st.pool, couple.id).await? {
            Some(open) => Ok(Answer::private(pointer(st, open.id).await?)),
            None => Err(Refusal::stale().into()),
        };
    }
    plan_activity(&mut tx, &st.config.repair, couple.id, rid, 0, now).await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, repair_id = %rid, follows = %prev.id, "repair round the other way started");
    let Some(snap) = Snapshot::load(st, rid).await? else {
        return Err(Refusal::stale().into());
    };
    let lead = view::other_way_lead(&st.content, &snap.person(owner));
    Ok(Answer::public(view::card(
        &snap,
        &st.content,
        &st.config.repair,
        lead,
        Some(me.id),
    )))
}

/// What the person sees after a saved change: a private note while the step waits for the
/// other partner, otherwise the new state as a public message.
#[allow(clippy::too_many_arguments)]
async fn respond(
    st: &AppState,
    rid: RepairId,
    me: &PersonRef,
    role: Role,
    prev: &State,
    next: &State,
    write: Write,
    action: Action,
) -> FlowResult {
    let Some(snap) = Snapshot::load(st, rid).await? else {
        return Err(Refusal::stale().into());
    };
    let lib = &st.content;
    let other = snap.person(role.other());
    let moved = prev.step != next.step || prev.status != next.status;
    if action == Action::NotSafe {
        // Only the one who pressed sees why; the room reads an ordinary pause.
        let mut answer = Answer::private(crate::flows::round::safety_card(
            lib,
            &lib.safety.unsafe_private,
        ));
        if let Some(couple) = couples::get(&st.pool, snap.repair.couple, true).await? {
            answer.posts.push(crate::flows::Post {
                room: couple.room,
                card: Card::text(Text::plain(lib.safety.paused_public.as_str())),
                // Derived from the repair, so a retried press posts it once.
                key: nonce_for(uuid::Uuid::from_u128(rid.0.as_u128() ^ 0x5afe)),
            });
        }
        return Ok(answer);
    }
    if let (Action::Rate(_), true) = (action, next.unsettled[role_index(role)]) {
        return Ok(Answer::private(view::settle_card(lib, rid)));
    }
    if !moved {
        match (action, write) {
            (_, Write::Draft(kind)) => {
                let round = prev.round(kind);
                let Some(draft) =
                    repairs::text(&st.pool, st.keys(), rid, me.id, kind, round).await?
                else {
                    return Err(Refusal::stale().into());
                };
                return Ok(Answer::private(view::preview(lib, rid, kind, &draft.body)));
            }
            (_, Write::Shared(TextKind::Moment)) => {
                let moment = snap.text(TextKind::Moment, 0, None).unwrap_or("…");
                return Ok(Answer::public(view::moment_card(lib, me, moment)));
            }
            (Action::Rate(v) | Action::Connect(v), _) => {
                return Ok(Answer::private(Card::text(view::noted(lib, v, &other))));
            }
            _ => {}
        }
    }
    let lead = view::lead(lib, prev, next, action, me);
    Ok(Answer::public(view::card(
        &snap,
        lib,
        &st.config.repair,
        lead,
        Some(me.id),
    )))
}

fn role_index(r: Role) -> usize {
    match r {
        Role::Initiator => 0,
        Role::Partner => 1,
    }
}

// ---------------------------------------------------------------------------------------
// Planning: one nudge and an expiry after each change, a return after a break, a revisit
// after an agreement. Each job carries the repair version it was planned for, so a job
// overtaken by anything the couple did is skipped.
// ---------------------------------------------------------------------------------------

async fn cancel(tx: &mut PgConnection, couple: CoupleId, kinds: &[&str]) -> sqlx::Result<()> {
    for kind in kinds {
        jobs::cancel_pending(&mut *tx, couple, None, kind).await?;
    }
    Ok(())
}

/// After any activity in an open repair: one nudge after a quiet stretch, then the expiry.
/// The previous pair is cancelled, so the couple gets one reminder per quiet stretch.
pub async fn plan_activity(
    tx: &mut PgConnection,
    cfg: &RepairConfig,
    couple: CoupleId,
    repair: RepairId,
    version: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    cancel(tx, couple, &["repair_remind", "repair_expire"]).await?;
    let (c, r) = (couple.0, repair.0);
    let remind = Job::RepairRemind {
        couple: c,
        repair: r,
        version,
    };
    jobs::schedule_once(&mut *tx, &remind, now + cfg.remind_after(), now).await?;
    let expire = Job::RepairExpire {
        couple: c,
        repair: r,
        version,
    };
    jobs::schedule_once(&mut *tx, &expire, now + cfg.expire_after(), now).await?;
    Ok(())
}

/// Plans what follows a saved change from `prev` to `next` (now at `version`).
#[allow(clippy::too_many_arguments)]
pub async fn plan_after_change(
    tx: &mut PgConnection,
    cfg: &RepairConfig,
    couple: CoupleId,
    repair: RepairId,
    prev: &State,
    next: &State,
    version: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    match next.status {
        Status::Open => {
            if prev.status == Status::Paused {
                cancel(tx, couple, &["repair_return"]).await?;
            }
            plan_activity(tx, cfg, couple, repair, version, now).await
        }
        Status::Paused => {
            // A break is not inactivity: no nudge or expiry until the couple is back.
            cancel(
                tx,
                couple,
                &["repair_remind", "repair_expire", "repair_return"],
            )
            .await?;
            let at = next.resume_at.unwrap_or(now);
            let back = Job::RepairReturn {
                couple: couple.0,
                repair: repair.0,
                version,
            };
            jobs::schedule_once(&mut *tx, &back, at, now).await
        }
        Status::Completed | Status::Ended | Status::Expired => {
            cancel(
                tx,
                couple,
                &["repair_remind", "repair_expire", "repair_return"],
            )
            .await
        }
    }
}

/// Days after an agreement: ask how it is going.
pub async fn plan_revisit(
    tx: &mut PgConnection,
    cfg: &RepairConfig,
    couple: CoupleId,
    repair: RepairId,
    agreement: AgreementId,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let job = Job::AgreementRevisit {
        couple: couple.0,
        repair: repair.0,
        agreement: agreement.0,
        attempt: 0,
        visit: 0,
    };
    jobs::schedule_once(&mut *tx, &job, now + cfg.revisit_after(), now).await
}

/// When revisit `visit` of an agreement made at `made` is due (`None`: there is no such
/// revisit).
pub fn revisit_at(cfg: &RepairConfig, made: DateTime<Utc>, visit: u8) -> Option<DateTime<Utc>> {
    match visit {
        0 => Some(made + cfg.revisit_after()),
        n => dr::LATER_REVISITS
            .get(usize::from(n) - 1)
            .map(|days| made + Duration::days(*days))
            .filter(|at| *at > made + cfg.revisit_after()),
    }
}

// ---------------------------------------------------------------------------------------
// Scheduled work.
// ---------------------------------------------------------------------------------------

/// The repair's current step under a lead line, with the job's key.
async fn deliver_card(
    st: &AppState,
    rid: RepairId,
    lead: Text,
    job_id: JobId,
) -> Result<Plan, FlowError> {
    let Some(snap) = Snapshot::load(st, rid).await? else {
        return Ok(Plan::Skipped("repair gone"));
    };
    let Some(couple) = couples::get(&st.pool, snap.repair.couple, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    let card = view::card(&snap, &st.content, &st.config.repair, lead, None);
    Ok(Plan::deliver(
        couple.room,
        card,
        nonce_for(job_id.0),
        Record::Nothing,
    ))
}

/// The card of a step whose answer never reached the couple, unless they moved on since.
pub async fn prepare_card(
    st: &AppState,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Plan, FlowError> {
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Plan::Skipped("repair gone"));
    };
    if repair.version != version {
        return Ok(Plan::Skipped("moved on since"));
    }
    deliver_card(st, rid, view::resent_lead(&st.content), job_id).await
}

/// Reopens a paused repair at the time the couple chose, with a gentle welcome.
pub async fn prepare_return(
    st: &AppState,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Plan::Skipped("repair gone"));
    };
    let Some(couple) = couples::get(&st.pool, repair.couple, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    if repair.version == version && repair.state.status == Status::Paused {
        let Some(next) = dr::reopen(&repair.state) else {
            return Ok(Plan::Skipped("not paused"));
        };
        let mut tx = st.pool.begin().await?;
        if !repairs::save(&mut *tx, rid, version, &next, None, now).await? {
            return Ok(Plan::Skipped("changed meanwhile"));
        }
        plan_after_change(
            &mut tx,
            &st.config.repair,
            couple.id,
            rid,
            &repair.state,
            &next,
            version + 1,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(couple_id = %couple.id, repair_id = %rid, "repair reopened after a break");
    } else if !(repair.version == version + 1 && repair.state.status == Status::Open) {
        // They came back early, or ended it: nothing to do. (Exactly one version later and
        // open is this job's own reopen, retried because the post failed.)
        return Ok(Plan::Skipped("overtaken"));
    }
    if couple.is_paused(now) {
        // The flow waits, open, until they return from their pause; `/repair` shows it.
        return Ok(Plan::Skipped("couple paused"));
    }
    deliver_card(st, rid, st.content.t(k::WELCOME_BACK, &[]), job_id).await
}

/// One gentle nudge after a quiet stretch.
pub async fn prepare_reminder(
    st: &AppState,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Plan::Skipped("repair gone"));
    };
    if repair.state.status != Status::Open || repair.version != version {
        return Ok(Plan::Skipped("moved on since"));
    }
    let Some(couple) = couples::get(&st.pool, repair.couple, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    if couple.is_paused(now) {
        return Ok(Plan::Skipped("couple paused"));
    }
    let closes = repair.updated_at + st.config.repair.expire_after();
    deliver_card(st, rid, view::nudge_lead(&st.content, closes), job_id).await
}

/// Closes a repair that rested too long, with a kind note (or completes one that only
/// waited for the closing ratings).
pub async fn prepare_expiry(
    st: &AppState,
    job_id: JobId,
    rid: RepairId,
    version: i32,
) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let Some(repair) = repairs::get(&st.pool, rid).await? else {
        return Ok(Plan::Skipped("repair gone"));
    };
    let Some(couple) = couples::get(&st.pool, repair.couple, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    let expired_by_us = |r: &Repair| {
        r.version == version + 1
            && r.closed_by.is_none()
            && matches!(r.state.status, Status::Expired | Status::Completed)
    };
    if repair.version == version {
        let Some(next) = dr::expire(&repair.state) else {
            return Ok(Plan::Skipped("not open"));
        };
        let mut tx = st.pool.begin().await?;
        if !repairs::save(&mut *tx, rid, version, &next, None, now).await? {
            return Ok(Plan::Skipped("changed meanwhile"));
        }
        plan_after_change(
            &mut tx,
            &st.config.repair,
            couple.id,
            rid,
            &repair.state,
            &next,
            version + 1,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(couple_id = %couple.id, repair_id = %rid, status = next.status.as_str(), "repair closed after resting");
    } else if !expired_by_us(&repair) {
        return Ok(Plan::Skipped("moved on since"));
    }
    if couple.is_paused(now) {
        return Ok(Plan::Skipped("couple paused"));
    }
    deliver_card(st, rid, Text::new(), job_id).await
}

/// Days after an agreement: "how is it going with …?", with simple buttons.
pub async fn prepare_revisit(
    st: &AppState,
    job_id: JobId,
    rid: RepairId,
    agreement: AgreementId,
    attempt: u8,
    visit: u8,
) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let Some(snap) = Snapshot::load(st, rid).await? else {
        return Ok(Plan::Skipped("repair gone"));
    };
    if snap.agreement.as_ref().map(|a| a.id) != Some(agreement) {
        return Ok(Plan::Skipped("agreement gone"));
    }
    let Some(couple) = couples::get(&st.pool, snap.repair.couple, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    if couple.unreachable_since.is_some() {
        return Ok(Plan::Skipped("room unreachable"));
    }
    if let Some(until) = couple.paused_until.filter(|t| *t > now) {
        // Nothing is posted during a pause; ask shortly after it instead.
        if attempt < MAX_REVISIT_ATTEMPTS {
            let later = Job::AgreementRevisit {
                couple: couple.id.0,
                repair: rid.0,
                agreement: agreement.0,
                attempt: attempt + 1,
                visit,
            };
            jobs::schedule_once(&st.pool, &later, until + Duration::hours(1), now).await?;
        }
        return Ok(Plan::Skipped("couple paused; asked again after the pause"));
    }
    let Some(card) = view::revisit_card(&snap, &st.content) else {
        return Ok(Plan::Skipped("agreement gone"));
    };
    // The next revisit comes weeks later: an agreement settles into a habit slowly.
    if let Some(made) = snap.agreement.as_ref().map(|a| a.created_at) {
        if let Some(at) = revisit_at(&st.config.repair, made, visit + 1) {
            let next = Job::AgreementRevisit {
                couple: couple.id.0,
                repair: rid.0,
                agreement: agreement.0,
                attempt: 0,
                visit: visit + 1,
            };
            jobs::schedule_once(&st.pool, &next, at.max(now), now).await?;
        }
    }
    tracing::info!(couple_id = %couple.id, repair_id = %rid, agreement_id = %agreement, "agreement revisit planned");
    Ok(Plan::deliver(
        couple.room,
        card,
        nonce_for(job_id.0),
        Record::Nothing,
    ))
}
