//! Everything that arrives from Matrix: invitations (joined only when an allowed user sent
//! them), text commands in the couple room, and replies: numbers that stand for a card's
//! choices, words that answer a request. Each is handed to its flow with who acted and in
//! which couple room; the answer goes back as Matrix messages (private ones in the partner's
//! direct room).
//!
//! What a number means is read back from the bot's own event ([`render::Meta`]), never from
//! anything a person sent.

use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::event_handler::Ctx;
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation,
};
use matrix_sdk::{Client, RoomState};
use serde_json::Value;

use super::commands::{self, Command, Parsed};
use super::render::{self, Meta};
use super::transport::{recent_own, MatrixTransport};
use crate::content::copy::keys;
use crate::domain::custom_id::{CheckinAction, CustomId};
use crate::domain::ids::TransportKind;
use crate::flows::{self, Answer, FlowError, Here, Reply, Who};
use crate::metrics::{InteractionKind, Outcome};
use crate::state::AppState;
use crate::transport::{Text, Transport};

/// What every handler reaches.
#[derive(Clone)]
pub struct Bot {
    pub state: Arc<AppState>,
    pub transport: Arc<MatrixTransport>,
    /// The bot's own user id.
    pub me: String,
}

pub fn install(client: &Client, state: Arc<AppState>, transport: Arc<MatrixTransport>) {
    let me = client.user_id().map(|u| u.to_string()).unwrap_or_default();
    client.add_event_handler_context(Bot {
        state,
        transport,
        me,
    });
    client.add_event_handler(on_invite);
    client.add_event_handler(on_message);
}

async fn on_invite(ev: StrippedRoomMemberEvent, room: matrix_sdk::Room, Ctx(bot): Ctx<Bot>) {
    if ev.state_key.as_str() != bot.me || ev.content.membership != MembershipState::Invite {
        return;
    }
    let inviter = ev.sender.to_string();
    if !bot.state.config.matrix.may_invite(&inviter) {
        tracing::info!(room = %room.room_id(), "declined an invitation from someone not allowed");
        let _ = room.leave().await;
        return;
    }
    tokio::spawn(async move {
        // Synapse may answer a join too early after the invite; retry a little.
        let mut wait = Duration::from_millis(200);
        for _ in 0..8 {
            match room.join().await {
                Ok(()) => {
                    tracing::info!(room = %room.room_id(), "joined a room on invitation");
                    return;
                }
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        tracing::warn!(room = %room.room_id(), "could not join a room it was invited to");
    });
}

/// The body a person wrote, without the quoted fallback of a reply.
fn own_words(body: &str) -> String {
    let mut lines = body.lines().peekable();
    if body.starts_with("> ") {
        while lines.peek().is_some_and(|l| l.starts_with('>')) {
            lines.next();
        }
    }
    lines.collect::<Vec<_>>().join("\n").trim().to_string()
}

async fn on_message(ev: OriginalSyncRoomMessageEvent, room: matrix_sdk::Room, Ctx(bot): Ctx<Bot>) {
    if ev.sender.as_str() == bot.me || room.state() != RoomState::Joined {
        return;
    }
    let MessageType::Text(text) = &ev.content.msgtype else {
        return;
    };
    let body = own_words(&text.body);
    let reply_to = match &ev.content.relates_to {
        Some(Relation::Reply(r)) => Some(r.in_reply_to.event_id.to_string()),
        _ => None,
    };
    let event = Incoming {
        room,
        sender: ev.sender.to_string(),
        event_id: ev.event_id.to_string(),
        body,
        reply_to,
    };
    // Handlers run before the next sync: the work goes to its own task.
    tokio::spawn(async move { handle(&bot, event).await });
}

struct Incoming {
    room: matrix_sdk::Room,
    sender: String,
    event_id: String,
    body: String,
    reply_to: Option<String>,
}

/// Where a person acted, and on what.
struct Acted {
    /// The Matrix room they wrote in.
    room: matrix_sdk::Room,
    /// The couple room it is about.
    couple_room: String,
    /// Their message, to reply to with a refusal.
    event_id: String,
    /// The bot message they answered, for `Reply::Update`.
    acted_on: Option<String>,
    direct: bool,
}

async fn is_direct(bot: &Bot, room: &matrix_sdk::Room, sender: &str) -> bool {
    let Ok(user) = matrix_sdk::ruma::OwnedUserId::try_from(sender) else {
        return false;
    };
    let ours = bot
        .transport
        .client()
        .get_dm_room(&user)
        .is_some_and(|r| r.room_id() == room.room_id());
    ours || room.is_direct().await.unwrap_or(false)
}

async fn handle(bot: &Bot, ev: Incoming) {
    let received = std::time::Instant::now();
    let direct = is_direct(bot, &ev.room, &ev.sender).await;
    let who = Who {
        transport: TransportKind::Matrix,
        handle: ev.sender.clone(),
    };
    if !direct {
        if let Some(parsed) = commands::parse(&ev.body) {
            let acted = Acted {
                room: ev.room.clone(),
                couple_room: ev.room.room_id().to_string(),
                event_id: ev.event_id.clone(),
                acted_on: None,
                direct: false,
            };
            let result = command(bot, &who, &acted, parsed).await;
            let outcome = outcome_of(&result);
            deliver(bot, &who, &acted, result).await;
            bot.state
                .metrics
                .interaction(InteractionKind::Command, outcome, received.elapsed());
            return;
        }
    }
    // A reply: numbers for a card's choices, or words for a request. In the couple room
    // only a reply to the bot or a message of numbers alone counts: the two talk there too.
    let numbers = render::numbers(&ev.body);
    if !direct && ev.reply_to.is_none() && numbers.is_none() {
        return;
    }
    let own = recent_own(&ev.room, &bot.me, 50).await;
    let Some((acted_on, meta)) = find_card(&own, ev.reply_to.as_deref()) else {
        if direct || ev.reply_to.is_some() {
            let acted = Acted {
                room: ev.room.clone(),
                couple_room: String::new(),
                event_id: ev.event_id.clone(),
                acted_on: None,
                direct,
            };
            refuse(bot, &acted, keys::matrix::NOTHING_TO_ANSWER).await;
        }
        return;
    };
    let acted = Acted {
        room: ev.room.clone(),
        couple_room: meta.room.clone(),
        event_id: ev.event_id.clone(),
        acted_on: Some(acted_on),
        direct,
    };
    let here = Here {
        transport: TransportKind::Matrix,
        room: meta.room.clone(),
        space: None,
        direct: false,
        can_post: true,
        open_to_others: None,
    };
    let result = match (&numbers, &meta.ask) {
        (Some(ns), _) if !meta.choices.is_empty() => match render::presses(&meta.choices, ns) {
            Some(presses) => {
                let mut last = None;
                for (id, values) in presses {
                    let r = press(&bot.state, &who, &here, &id, &values).await;
                    let failed = r.is_err();
                    last = Some(r);
                    if failed {
                        break;
                    }
                }
                last.unwrap_or_else(|| Err(flows::Refusal::stale().into()))
            }
            None => Err(flows::Refusal::new(keys::matrix::NUMBER_UNKNOWN).into()),
        },
        (_, Some(ask)) => write(&bot.state, &who, &here, &ask.id, &ask.field, &ev.body).await,
        _ if !meta.choices.is_empty() => {
            Err(flows::Refusal::new(keys::matrix::NUMBER_UNKNOWN).into())
        }
        _ => Err(flows::Refusal::new(keys::matrix::NOTHING_TO_ANSWER).into()),
    };
    let outcome = outcome_of(&result);
    deliver(bot, &who, &acted, result).await;
    bot.state
        .metrics
        .interaction(InteractionKind::Component, outcome, received.elapsed());
}

/// The card a reply answers: the one replied to (its latest edit), else the newest bot card
/// with choices or a request. Returns the original event id and what it offers.
fn find_card(own: &[(String, Value)], reply_to: Option<&str>) -> Option<(String, Meta)> {
    for (id, ev) in own {
        let content = ev.get("content")?;
        let replaces = content
            .get("m.relates_to")
            .filter(|r| r.get("rel_type").and_then(Value::as_str) == Some("m.replace"))
            .and_then(|r| r.get("event_id"))
            .and_then(Value::as_str);
        let (original, meta) = match replaces {
            Some(orig) => (
                orig.to_string(),
                content.get("m.new_content")?.get(render::META_KEY),
            ),
            None => (id.clone(), content.get(render::META_KEY)),
        };
        let Some(meta) = meta.and_then(|m| serde_json::from_value::<Meta>(m.clone()).ok()) else {
            continue;
        };
        match reply_to {
            Some(target) if target == original => return Some((original, meta)),
            Some(_) => continue,
            None if !meta.choices.is_empty() || meta.ask.is_some() => {
                return Some((original, meta))
            }
            None => continue,
        }
    }
    None
}

async fn press(
    st: &AppState,
    who: &Who,
    here: &Here,
    custom_id: &str,
    values: &[String],
) -> Result<Answer, FlowError> {
    match custom_id.parse::<CustomId>() {
        Err(_) => Err(flows::Refusal::stale().into()),
        Ok(id) => flows::press(st, who, here, id, values).await,
    }
}

/// Words for one box of a request (a modal on Discord).
async fn write(
    st: &AppState,
    who: &Who,
    here: &Here,
    request: &str,
    field: &str,
    text: &str,
) -> Result<Answer, FlowError> {
    match request.parse::<CustomId>() {
        Ok(CustomId::Checkin(id, CheckinAction::NoteModal)) => {
            flows::checkin::note(st, who, here, id, text).await
        }
        Ok(CustomId::Checkin(id, CheckinAction::WeeklyModal)) => {
            let answers = [(field, text.to_string())];
            flows::weekly::write(st, who, here, id, &answers).await
        }
        Ok(CustomId::Repair(id, action)) => {
            flows::repair::write(st, who, here, id, action, text).await
        }
        _ => Err(flows::Refusal::stale().into()),
    }
}

/// Whether people other than the couple can read the room (setup and status say so): anyone
/// may join it, its history is world-readable, or it holds or invites more than the two of
/// them and the bot. `None` when none of that is certain yet (the join rule not synced).
async fn open_to_others(room: &matrix_sdk::Room) -> Option<bool> {
    use matrix_sdk::ruma::events::room::history_visibility::HistoryVisibility;
    use matrix_sdk::RoomMemberships;
    let readable = room.history_visibility_or_default() == HistoryVisibility::WorldReadable;
    // The member list, not the sync summary's counts (absent without lazy loading).
    let crowd = room
        .members(RoomMemberships::JOIN | RoomMemberships::INVITE)
        .await
        .ok()
        .map(|m| m.len() > 3);
    let public = room.is_public();
    if readable || crowd == Some(true) || public == Some(true) {
        return Some(true);
    }
    public.and(crowd).map(|_| false)
}

async fn command(bot: &Bot, who: &Who, acted: &Acted, parsed: Parsed) -> Result<Answer, FlowError> {
    let st = &bot.state;
    let here = Here {
        transport: TransportKind::Matrix,
        room: acted.couple_room.clone(),
        space: None,
        direct: acted.direct,
        can_post: true,
        open_to_others: if acted.direct {
            None
        } else {
            open_to_others(&acted.room).await
        },
    };
    let cmd = match parsed {
        Parsed::Run(c) => c,
        Parsed::Unknown => return Err(flows::Refusal::new(keys::matrix::UNKNOWN_COMMAND).into()),
        Parsed::Malformed { example } => {
            return Err(flows::Refusal::with(
                keys::matrix::MALFORMED,
                vec![(
                    "example",
                    crate::content::copy::Arg::Plain(format!("`{example}`")),
                )],
            )
            .into())
        }
    };
    match cmd {
        Command::Setup { partner } => {
            let uid: matrix_sdk::ruma::OwnedUserId = partner
                .as_str()
                .try_into()
                .map_err(|_| flows::Refusal::new(keys::matrix::SETUP_NEEDS_PARTNER))?;
            let present = match acted.room.get_member(&uid).await {
                Ok(Some(m)) => matches!(
                    m.membership(),
                    MembershipState::Join | MembershipState::Invite
                ),
                _ => false,
            };
            if partner != bot.me && !present {
                return Err(flows::Refusal::new(keys::matrix::NOT_IN_ROOM).into());
            }
            let invitee = flows::onboarding::Invitee {
                who: Who {
                    transport: TransportKind::Matrix,
                    handle: partner.clone(),
                },
                is_bot: partner == bot.me,
            };
            flows::onboarding::setup(st, who, &here, &invitee).await
        }
        Command::Timezone { zone: Some(zone) } => flows::onboarding::set_zone(st, who, &zone).await,
        Command::Timezone { zone: None } => {
            let uid: Option<matrix_sdk::ruma::OwnedUserId> = who.handle.as_str().try_into().ok();
            let tz = match uid {
                Some(uid) => bot
                    .transport
                    .client()
                    .account()
                    .fetch_profile_field_of_static::<matrix_sdk::ruma::api::client::profile::TimeZone>(uid)
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            match tz.filter(|z| z.parse::<chrono_tz::Tz>().is_ok()) {
                Some(zone) => Ok(Answer::private(crate::transport::Card::text(
                    st.content
                        .t(keys::matrix::ZONE_SUGGESTED, &[("zone", zone.into())]),
                ))),
                None => Err(flows::Refusal::with(
                    keys::matrix::MALFORMED,
                    vec![("example", "`!attune timezone Europe/Berlin`".into())],
                )
                .into()),
            }
        }
        Command::Schedule(input) => flows::settings::schedule(st, who, &here, &input).await,
        Command::Care => flows::care::command(st, who, &here).await,
        Command::Pause { days } => flows::settings::pause(st, who, &here, days).await,
        Command::Resume => flows::settings::resume(st, who, &here).await,
        Command::Status => flows::onboarding::status(st, who, &here).await,
        Command::Help => {
            let mut a = flows::onboarding::help(&st.content);
            a.followups.push(crate::transport::Card::text(
                st.content.t(keys::matrix::HELP_COMMANDS, &[]),
            ));
            Ok(a)
        }
        Command::Export => flows::privacy::export(st, who).await,
        Command::Forget => flows::privacy::forget(st, who).await,
        Command::Leave => flows::onboarding::leave(st, who, &here).await,
        Command::Checkin => flows::checkin::now(st, who, &here).await,
        Command::Micro => flows::micro::now(st, who, &here).await,
        Command::Repair => flows::repair::command(st, who, &here).await,
        Command::Recap => {
            flows::recap::may_show(st, who, &here).await?;
            flows::recap::now(st, bot.transport.as_ref(), who, &here).await
        }
    }
}

/// A short answer where the person wrote (a reply to their message).
async fn say(bot: &Bot, acted: &Acted, text: &Text) {
    let content = render::as_reply(render::short(text, &acted.couple_room), &acted.event_id);
    if let Err(e) = bot.transport.send(&acted.room, content, None).await {
        tracing::warn!(error = %e, "could not answer on Matrix");
    }
}

async fn refuse(bot: &Bot, acted: &Acted, key: crate::content::copy::Key) {
    say(bot, acted, &bot.state.content.t(key, &[])).await;
}

/// Sends a flow's answer: public cards to the couple room, private ones to the person's
/// direct room, an update as an edit of the card they answered, requests for words as
/// messages to reply to; then followups and posts.
async fn deliver(bot: &Bot, who: &Who, acted: &Acted, result: Result<Answer, FlowError>) {
    let t = &bot.transport;
    let a = match result {
        Ok(a) => a,
        Err(e) => {
            e.log("matrix");
            say(bot, acted, &e.text(&bot.state.content)).await;
            return;
        }
    };
    let couple = acted.couple_room.as_str();
    let private = |card: crate::transport::Card| async move {
        match t.direct_room(&who.handle).await {
            Ok((dm, fresh)) => {
                if let Err(e) = t.send_card(&dm, couple, &card, None, None).await {
                    tracing::warn!(error = %e, "could not send a private message");
                }
                if fresh && !acted.direct {
                    let person = crate::domain::ids::PersonRef {
                        id: crate::domain::ids::PersonId(uuid::Uuid::nil()),
                        handle: who.handle.clone(),
                    };
                    let text = bot.state.content.t(
                        keys::matrix::PRIVATE_ELSEWHERE,
                        &[("person", crate::content::copy::Arg::Person(person))],
                    );
                    say(bot, acted, &text).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not open a direct room"),
        }
    };
    let follow_up = a.follow_up.clone();
    match a.reply {
        Reply::Public(card) => {
            let room =
                t.client()
                    .get_room(&match matrix_sdk::ruma::OwnedRoomId::try_from(couple) {
                        Ok(r) => r,
                        Err(_) => return,
                    });
            if let Some(room) = room {
                crate::flows::showing(&bot.state, follow_up.as_ref()).await;
                if let Err(e) = t.send_card(&room, couple, &card, None, None).await {
                    tracing::warn!(error = %e, "could not post an answer");
                    crate::flows::not_shown(&bot.state, follow_up.as_ref()).await;
                }
            }
        }
        Reply::Private(card) => private(card).await,
        Reply::Update(card) => match &acted.acted_on {
            Some(original) => {
                if let Err(e) = t.replace_in(&acted.room, couple, original, &card).await {
                    tracing::warn!(error = %e, "could not edit a card");
                }
            }
            None => private(card).await,
        },
        Reply::AskText(req) => match t.direct_room(&who.handle).await {
            Ok((dm, _)) => {
                for content in render::asks(&bot.state.content, &req, couple) {
                    if let Err(e) = t.send(&dm, content, None).await {
                        tracing::warn!(error = %e, "could not ask for words");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not open a direct room"),
        },
    }
    for f in a.followups {
        private(f).await;
    }
    for p in &a.posts {
        if let Err(e) = t.post(&p.room, &p.card, &p.key).await {
            tracing::warn!(room_id = %p.room.id, error = %e, "could not post a notice after an answer");
        }
    }
}

/// The outcome of a flow, for the counters.
pub fn outcome_of(r: &Result<Answer, FlowError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(FlowError::Refused(_)) => Outcome::Refused,
        Err(_) => Outcome::Error,
    }
}
