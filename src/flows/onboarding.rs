//! Onboarding: inviting a partner into a room, answering the invitation, each person's time
//! zone, how things stand (`status`), and unlinking (`leave`).

use chrono::Duration;

use super::access::{couple_here, partner_of, require_post};
use super::view::{button, field, panel, upcoming_lines, weekday_long, weekday_short};
use super::{refuse, refuse_with, Answer, FlowResult, Here, Post, Refusal, Who};
use crate::content::copy::keys::{common as kc, onboarding as k};
use crate::content::copy::Arg;
use crate::content::Library;
use crate::domain::custom_id::{CustomId, InviteAction, LeaveAction};
use crate::domain::ids::{CoupleId, InvitationId, PersonRef, TransportKind};
use crate::domain::zones::{self, ZoneError};
use crate::state::AppState;
use crate::store::invitations::{Invitation, InvitationStatus};
use crate::store::{couples, invitations, jobs, people, rooms, schedules};
use crate::transport::{Card, Text, TimeStyle, Tone};

/// How long an invitation stays open.
pub const INVITATION_TTL_DAYS: i64 = 7;

/// The person being invited, as the transport described them.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub who: Who,
    pub is_bot: bool,
}

/// `setup partner:@them`: invites the partner to practise together in this room.
pub async fn setup(st: &AppState, who: &Who, here: &Here, invitee: &Invitee) -> FlowResult {
    if here.direct {
        return refuse(kc::DM_REFUSAL);
    }
    require_post(here)?;
    if invitee.is_bot {
        return refuse(k::SETUP_BOT_PARTNER);
    }
    if invitee.who == *who {
        return refuse(k::SETUP_SELF);
    }
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    if let Some(c) = couples::live_in_room(&mut *tx, here.transport, &here.room).await? {
        return refuse(if c.partner_by_handle(&who.handle).is_some() {
            k::SETUP_ALREADY_YOURS
        } else {
            k::SETUP_CHANNEL_TAKEN
        });
    }
    let room = rooms::ensure(&mut *tx, here.transport, &here.room, here.space.as_deref()).await?;
    let inviter = PersonRef {
        id: people::ensure(&mut tx, who.transport, &who.handle, now).await?,
        handle: who.handle.clone(),
    };
    let invitee = PersonRef {
        id: people::ensure(&mut tx, invitee.who.transport, &invitee.who.handle, now).await?,
        handle: invitee.who.handle.clone(),
    };
    if let Some(p) = invitations::pending_for(&mut *tx, room.id, invitee.id, now).await? {
        if p.inviter == inviter.id {
            // The same invitation again (the first post may never have reached the room):
            // show it once more rather than refusing.
            drop(tx);
            return Ok(Answer::public(invitation_card(
                &st.content,
                &p,
                &inviter,
                &invitee,
            )));
        }
        let first = PersonRef {
            id: p.inviter,
            handle: people::handle(&st.pool, p.inviter, here.transport)
                .await?
                .unwrap_or_default(),
        };
        return refuse_with(
            k::SETUP_ALREADY_PENDING,
            vec![("invitee", invitee.into()), ("inviter", first.into())],
        );
    }
    let inv = Invitation {
        id: InvitationId::new(),
        room: room.id,
        inviter: inviter.id,
        invitee: invitee.id,
        status: InvitationStatus::Pending,
        expires_at: now + Duration::days(INVITATION_TTL_DAYS),
    };
    invitations::create(&mut *tx, &inv, now).await?;
    tx.commit().await?;
    tracing::info!(invitation_id = %inv.id, "invitation created");
    let mut answer = Answer::public(invitation_card(&st.content, &inv, &inviter, &invitee));
    if here.open_to_others == Some(true) {
        // Said privately to the one setting up, before either of them writes anything.
        answer
            .followups
            .push(Card::text(st.content.t(room_open(here), &[])));
    }
    Ok(answer)
}

/// The warning that others can read the room, with the way to fix it on its platform.
fn room_open(here: &Here) -> crate::content::copy::Key {
    match here.transport {
        TransportKind::Discord => k::ROOM_OPEN,
        TransportKind::Matrix => crate::content::copy::keys::matrix::ROOM_OPEN,
    }
}

fn invitation_card(
    lib: &Library,
    inv: &Invitation,
    inviter: &PersonRef,
    invitee: &PersonRef,
) -> Card {
    let mut p = panel(
        lib.t(k::INVITATION_TITLE, &[]),
        lib.t(k::INVITATION_BODY, &[("inviter", inviter.into())]),
    );
    p.footer = Some(lib.t(k::INVITATION_FOOTER, &[]));
    Card::text(lib.t(
        k::INVITATION_LEAD,
        &[("invitee", invitee.into()), ("inviter", inviter.into())],
    ))
    .with_panel(p)
    .with_buttons(vec![
        button(
            CustomId::Invite(inv.id, InviteAction::Accept),
            lib.s(k::ACCEPT),
            Tone::Success,
        ),
        button(
            CustomId::Invite(inv.id, InviteAction::Decline),
            lib.s(k::NOT_NOW),
            Tone::Secondary,
        ),
    ])
    .notifying(vec![invitee.clone()])
}

/// A press on an invitation's Accept or Not now.
pub async fn answer_invitation(
    st: &AppState,
    who: &Who,
    here: &Here,
    id: InvitationId,
    action: InviteAction,
) -> FlowResult {
    let lib = &st.content;
    let now = st.clock.now();
    let Some(inv) = invitations::get(&st.pool, id).await? else {
        return Err(Refusal::stale().into());
    };
    let Some(room) = rooms::get(&st.pool, inv.room).await? else {
        return Err(Refusal::stale().into());
    };
    if room.transport != here.transport || room.external != here.room {
        return refuse(kc::WRONG_CHANNEL);
    }
    if inv.status != InvitationStatus::Pending {
        return refuse(k::INVITATION_ANSWERED);
    }
    let me = people::find(&st.pool, who.transport, &who.handle).await?;
    let handle_of = |p| people::handle(&st.pool, p, room.transport);
    let inviter = PersonRef {
        id: inv.inviter,
        handle: handle_of(inv.inviter).await?.unwrap_or_default(),
    };
    let invitee = PersonRef {
        id: inv.invitee,
        handle: handle_of(inv.invitee).await?.unwrap_or_default(),
    };
    // The inviter may withdraw their own invitation but not accept it.
    if me == Some(inv.inviter) && me != Some(inv.invitee) {
        return match action {
            InviteAction::Decline => {
                if invitations::decide(&st.pool, id, InvitationStatus::Cancelled, None, now).await?
                {
                    Ok(Answer::update(Card::text(
                        lib.t(k::WITHDRAWN, &[("inviter", inviter.into())]),
                    )))
                } else {
                    refuse(k::INVITATION_ANSWERED)
                }
            }
            InviteAction::Accept => refuse(k::OWN_ACCEPT),
        };
    }
    if me != Some(inv.invitee) {
        return refuse_with(k::NOT_FOR_YOU, vec![("invitee", invitee.into())]);
    }
    if now >= inv.expires_at {
        return refuse_with(k::EXPIRED, vec![("inviter", inviter.into())]);
    }
    match action {
        InviteAction::Decline => {
            if invitations::decide(&st.pool, id, InvitationStatus::Declined, None, now).await? {
                tracing::info!(invitation_id = %id, "invitation declined");
                Ok(Answer::update(Card::text(
                    lib.t(k::DECLINED, &[("invitee", invitee.into())]),
                )))
            } else {
                refuse(k::INVITATION_ANSWERED)
            }
        }
        InviteAction::Accept => {
            let mut tx = st.pool.begin().await?;
            let Some(couple) =
                couples::create(&mut tx, room.id, inv.inviter, inv.invitee, now).await?
            else {
                return refuse(k::SETUP_CHANNEL_TAKEN);
            };
            if !invitations::decide(&mut *tx, id, InvitationStatus::Accepted, Some(couple), now)
                .await?
            {
                // Rolled back on drop: the other click won.
                return refuse(k::INVITATION_ANSWERED);
            }
            invitations::cancel_pending_in_room(&mut *tx, room.id, now).await?;
            super::plan::plan_couple(
                &mut tx,
                st.config.scheduler.seed,
                couple,
                &[inv.inviter, inv.invitee],
                now,
            )
            .await?;
            tx.commit().await?;
            tracing::info!(couple_id = %couple, invitation_id = %id, "couple created");
            Ok(Answer::update(Card::default().with_panel(panel(
                lib.t(k::ACCEPTED_TITLE, &[]),
                lib.t(
                    k::ACCEPTED_BODY,
                    &[("inviter", inviter.into()), ("invitee", invitee.into())],
                ),
            ))))
        }
    }
}

/// `timezone zone:…`: a person's own zone; their prompts in every couple follow it.
pub async fn set_zone(st: &AppState, who: &Who, input: &str) -> FlowResult {
    let lib = &st.content;
    let tz = match zones::parse_zone(input) {
        Ok(tz) => tz,
        Err(ZoneError::Empty) => return refuse(k::ZONE_EMPTY),
        Err(ZoneError::TooLong) => return refuse(k::ZONE_TOO_LONG),
        Err(ZoneError::Unknown { suggestions }) if suggestions.is_empty() => {
            return refuse(k::ZONE_UNKNOWN)
        }
        Err(ZoneError::Unknown { suggestions }) => {
            let list = suggestions
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return refuse_with(k::ZONE_UNKNOWN_SUGGEST, vec![("suggestions", list.into())]);
        }
    };
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    let person = people::ensure(&mut tx, who.transport, &who.handle, now).await?;
    people::set_zone(&mut *tx, person, tz, now).await?;
    // Prompts follow the person: re-plan them in every couple they belong to.
    for couple in schedules::couples_of(&mut *tx, person).await? {
        super::plan::plan_partner(&mut tx, st.config.scheduler.seed, couple, person, now).await?;
        // The recap follows the home zone, which may be this person's.
        super::plan::plan_recap(&mut tx, couple, now).await?;
    }
    tx.commit().await?;
    let local = now.with_timezone(&tz);
    Ok(Answer::private(Card::text(lib.t(
        k::ZONE_SET,
        &[
            ("zone", tz.name().into()),
            ("time", local.format("%H:%M").to_string().into()),
            (
                "weekday",
                weekday_long(lib, chrono::Datelike::weekday(&local)).into(),
            ),
        ],
    ))))
}

/// `status`: everything about the couple here, privately, with times in the reader's zone.
pub async fn status(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, _) = couple_here(&st.pool, who, here).await?;
    let lib = &st.content;
    let now = st.clock.now();
    let Some(settings) = schedules::couple(&st.pool, couple.id).await? else {
        return refuse(kc::NO_COUPLE_HERE);
    };
    let upcoming = jobs::upcoming_posts(&st.pool, couple.id).await?;
    let mut p = panel(lib.t(k::STATUS_TITLE, &[]), Text::new());
    for partner in &couple.partners {
        let value = match partner.zone {
            Some(tz) => {
                let local = now.with_timezone(&tz);
                lib.t(
                    k::STATUS_PARTNER_ZONE,
                    &[
                        ("person", partner.person_ref().into()),
                        ("zone", tz.name().into()),
                        (
                            "local",
                            format!(
                                "{}, {}",
                                local.format("%H:%M"),
                                weekday_short(lib, chrono::Datelike::weekday(&local))
                            )
                            .into(),
                        ),
                    ],
                )
            }
            None => lib.t(
                k::STATUS_PARTNER_NO_ZONE,
                &[("person", partner.person_ref().into())],
            ),
        };
        p.fields.push(crate::transport::Field {
            name: lib.t(
                if partner.seat == 1 {
                    k::STATUS_PARTNER
                } else {
                    k::STATUS_AND
                },
                &[],
            ),
            value,
            inline: true,
        });
    }
    let state = if couple.unreachable_since.is_some() {
        lib.t(k::STATE_UNREACHABLE, &[])
    } else {
        match couple.paused_until {
            Some(t) if t > now => lib.t(
                k::STATE_PAUSED,
                &[
                    ("until", Arg::Instant(t, TimeStyle::Full)),
                    ("in", Arg::Instant(t, TimeStyle::Relative)),
                ],
            ),
            _ => lib.t(k::STATE_ACTIVE, &[]),
        }
    };
    p.fields.push(field(lib.t(k::FIELD_STATE, &[]), state));
    p.fields.push(field(
        lib.t(k::FIELD_NEXT, &[]),
        upcoming_lines(lib, &couple, &upcoming, 4),
    ));
    p.fields.push(field(
        lib.t(k::FIELD_RHYTHM, &[]),
        super::view::shared_line(lib, &couple, &settings),
    ));
    if let Some(open) = here.open_to_others {
        p.fields.push(field(
            lib.t(k::FIELD_READERS, &[]),
            lib.t(
                if open {
                    room_open(here)
                } else {
                    k::ROOM_PRIVATE
                },
                &[],
            ),
        ));
    }
    p.footer = Some(lib.t(
        k::STATUS_FOOTER,
        &[(
            "since",
            couple.created_at.format("%Y-%m-%d").to_string().into(),
        )],
    ));
    Ok(Answer::private(Card::default().with_panel(p)))
}

/// `leave`: asks before unlinking.
pub async fn leave(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, _) = couple_here(&st.pool, who, here).await?;
    let lib = &st.content;
    Ok(Answer::private(
        Card::text(lib.t(k::LEAVE_CONFIRM, &[])).with_buttons(vec![
            button(
                CustomId::Leave(couple.id, LeaveAction::Confirm),
                lib.s(k::LEAVE_YES),
                Tone::Danger,
            ),
            button(
                CustomId::Leave(couple.id, LeaveAction::Cancel),
                lib.s(k::LEAVE_KEEP),
                Tone::Secondary,
            ),
        ]),
    ))
}

/// The answer to `leave`'s question.
pub async fn leave_choice(
    st: &AppState,
    who: &Who,
    here: &Here,
    id: CoupleId,
    action: LeaveAction,
) -> FlowResult {
    let lib = &st.content;
    let (couple, me) = partner_of(&st.pool, id, who, here).await?;
    match action {
        LeaveAction::Cancel => Ok(Answer::update(Card::text(lib.t(k::LEAVE_CANCELLED, &[])))),
        LeaveAction::Confirm => {
            let now = st.clock.now();
            let mut tx = st.pool.begin().await?;
            if !couples::end(&mut *tx, id, now).await? {
                return Err(Refusal::stale().into());
            }
            jobs::cancel_all_pending(&mut *tx, id).await?;
            tx.commit().await?;
            tracing::info!(couple_id = %id, "couple unlinked");
            let mut answer = Answer::update(Card::text(lib.t(k::LEAVE_DONE, &[])));
            answer.posts.push(Post {
                room: couple.room.clone(),
                card: Card::text(lib.t(k::LEFT_NOTICE, &[("by", me.into())])),
                key: crate::store::checkins::nonce_for(uuid::Uuid::new_v4()),
            });
            Ok(answer)
        }
    }
}

/// `/attune help`: what Attune is and is not, how to pause or erase, and where to find help;
/// private, and open to anyone (a couple is not needed to ask).
pub fn help(lib: &Library) -> Answer {
    let s = &lib.safety;
    let mut body = Text::plain(s.help.trim());
    for part in [&s.resources, &s.self_harm] {
        if !part.trim().is_empty() {
            body = body.para(Text::plain(part.trim()));
        }
    }
    Answer::private(Card::default().with_panel(panel(
        lib.t(crate::content::copy::keys::help::TITLE, &[]),
        body,
    )))
}
