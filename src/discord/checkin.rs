//! The check-in as the couple sees it: the public post, the private answer card, the note
//! modal, the reminder and the reveal; and the handlers behind every button and menu.
//! Every handler re-checks against Postgres who is pressing, where, and whether the round is
//! still open, under a row lock on the round so concurrent clicks settle cleanly.

use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, CreateModal,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, InputTextStyle,
};

use super::render::{ping, ts, COLOUR};
use super::{no_pings, BotError};
use crate::app::AppState;
use crate::domain::checkin::{self as dc, Mood, Read, FEELINGS, MAX_NOTE};
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CheckinAction as A, CustomId};
use crate::domain::ids::{ChannelId, CheckinId, UserId};
use crate::domain::jobs::Job;
use crate::store::checkins::{self, Answer, Checkin};
use crate::store::{couples, jobs};

fn id(round: CheckinId, a: A) -> String {
    CustomId::Checkin(round, a).encode()
}

fn title(slot: &str) -> &'static str {
    match slot {
        "morning" => "Morning check-in 🌅",
        "evening" => "Evening check-in 🌙",
        _ => "A check-in, right now 💬",
    }
}

fn invitation_line(slot: &str) -> &'static str {
    match slot {
        "morning" => {
            "A quiet minute before the day takes over. How are you arriving today — and how do you think your partner is?"
        }
        "evening" => {
            "Before the day closes: how did it feel to you, and how do you think it felt for your partner?"
        }
        _ => "One of you asked for a moment to tune in. How are you right now — and how do you read your partner?",
    }
}

fn post_buttons(round: CheckinId) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(id(round, A::Answer))
            .label("Answer privately")
            .style(ButtonStyle::Primary),
        CreateButton::new(id(round, A::Skip))
            .label("Skip today")
            .style(ButtonStyle::Secondary),
    ])]
}

fn post_embed(round: &Checkin) -> CreateEmbed {
    let mut desc = invitation_line(&round.slot).to_string();
    if let Some(q) = &round.question {
        desc.push_str(&format!("\n\n**Question of the day:** {q}"));
    }
    desc.push_str(&format!("\n\nOpen until {}.", ts(round.closes_at, 'f')));
    CreateEmbed::new()
        .colour(COLOUR)
        .title(title(&round.slot))
        .description(desc)
        .footer(CreateEmbedFooter::new(
            "Answers stay private until you've both answered or the check-in closes.",
        ))
}

/// The scheduled post for `due` (pinged); the round accepts answers from both partners.
pub fn post_message(round: &Checkin, due: UserId, _other: Option<UserId>) -> CreateMessage {
    CreateMessage::new()
        .content(format!("{}, it's check-in time.", due.mention()))
        .embed(post_embed(round))
        .components(post_buttons(round.id))
        .allowed_mentions(ping(&[due]))
}

/// The reply to `/checkin`: a round for both, pinging the partner who didn't ask.
pub fn now_message(round: &Checkin, asked_by: UserId, other: UserId) -> poise::CreateReply {
    poise::CreateReply::default()
        .content(format!(
            "{}, {} would like to check in now.",
            other.mention(),
            asked_by.mention()
        ))
        .embed(post_embed(round))
        .components(post_buttons(round.id))
        .allowed_mentions(ping(&[other]))
}

pub fn reminder_message(round: &Checkin, user: UserId) -> CreateMessage {
    CreateMessage::new()
        .content(format!(
            "{}, a gentle nudge: today's check-in is open until {}. A minute is plenty — or skip, that's fine too.",
            user.mention(),
            ts(round.closes_at, 't')
        ))
        .components(post_buttons(round.id))
        .allowed_mentions(ping(&[user]))
}

fn mood_of(v: Option<i16>) -> Option<Mood> {
    v.and_then(|v| Mood::new(i64::from(v)))
}

fn card_text(a: &Answer, partner: Option<UserId>, closes_at: DateTime<Utc>) -> String {
    let mood = mood_of(a.mood).map_or("— (pick below)".into(), Mood::describe);
    let feelings = if a.feelings.is_empty() {
        "—".to_string()
    } else {
        a.feelings.join(", ")
    };
    let guess = mood_of(a.guess).map_or("—".into(), Mood::describe);
    let whom = partner.map_or("your partner".into(), UserId::mention);
    let note = match &a.note {
        Some(n) if !n.trim().is_empty() => format!(
            "“{}” ({})",
            n.trim(),
            if a.share_note {
                "shared at the reveal"
            } else {
                "private: only you see it"
            }
        ),
        _ => "—".to_string(),
    };
    format!(
        "**Your check-in** — only you can see this.\n\
         Mood: {mood}\nFeelings: {feelings}\nYour guess for {whom}: {guess}\nNote: {note}\n\n\
         Pick below, then press **Done**. You can change anything until the reveal ({}).",
        ts(closes_at, 'R')
    )
}

fn card_components(round: CheckinId, a: &Answer) -> Vec<CreateActionRow> {
    let mood_opts = |selected: Option<i16>| {
        Mood::ALL
            .iter()
            .map(|m| {
                CreateSelectMenuOption::new(m.describe(), m.value().to_string())
                    .default_selection(selected == Some(i16::from(m.value())))
            })
            .collect::<Vec<_>>()
    };
    let feelings = FEELINGS
        .iter()
        .map(|f| {
            CreateSelectMenuOption::new(*f, *f).default_selection(a.feelings.iter().any(|x| x == f))
        })
        .collect();
    let has_note = a.note.as_deref().is_some_and(|n| !n.trim().is_empty());
    vec![
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                id(round, A::Mood),
                CreateSelectMenuKind::String {
                    options: mood_opts(a.mood),
                },
            )
            .placeholder("How are you, really?"),
        ),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                id(round, A::Feelings),
                CreateSelectMenuKind::String { options: feelings },
            )
            .placeholder("Up to three feeling words")
            .min_values(0)
            .max_values(dc::MAX_FEELINGS as u8),
        ),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                id(round, A::Guess),
                CreateSelectMenuKind::String {
                    options: mood_opts(a.guess),
                },
            )
            .placeholder("Your guess: how is your partner feeling?"),
        ),
        CreateActionRow::Buttons(vec![
            CreateButton::new(id(round, A::Note))
                .label(if has_note { "Edit note" } else { "Add a note" })
                .style(ButtonStyle::Secondary),
            CreateButton::new(id(round, A::ShareNote))
                .label(if a.share_note {
                    "Note: shared at reveal"
                } else {
                    "Note: private"
                })
                .style(ButtonStyle::Secondary),
            CreateButton::new(id(round, A::Submit))
                .label("Done")
                .style(ButtonStyle::Success),
        ]),
    ]
}

fn card(round: &Checkin, a: &Answer, partner: Option<UserId>) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(card_text(a, partner, round.closes_at))
        .components(card_components(round.id, a))
        .allowed_mentions(no_pings())
}

fn thanks(round: &Checkin) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(format!(
            "Thank you — your answer is in. 💛 It stays private until you've both answered or the check-in closes ({}).",
            ts(round.closes_at, 'R')
        ))
        .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(id(
            round.id,
            A::Edit,
        ))
        .label("Change my answer")
        .style(ButtonStyle::Secondary)])])
        .allowed_mentions(no_pings())
}

fn note_modal(round: CheckinId, current: Option<&str>) -> CreateModal {
    let mut input = CreateInputText::new(
        InputTextStyle::Paragraph,
        "A few words, if you like",
        "note",
    )
    .placeholder("What's behind today's mood? Only you see this unless you share it.")
    .max_length(MAX_NOTE as u16)
    .required(false);
    if let Some(c) = current {
        input = input.value(c);
    }
    CreateModal::new(id(round, A::NoteModal), "Your note")
        .components(vec![CreateActionRow::InputText(input)])
}

fn read_text(r: Read) -> &'static str {
    match r {
        Read::SpotOn => "spot on ✨",
        Read::Close => "close",
        Read::Different => "a different read — worth a gentle question",
    }
}

/// The reveal: each partner's answer, their guess against the other's own answer, and a
/// note only where its writer chose to share it.
pub fn reveal_message(
    round: &Checkin,
    couple: &Couple,
    answers: &[Answer],
    asked: &[UserId],
) -> CreateMessage {
    let find = |u: UserId| {
        answers
            .iter()
            .find(|a| a.user == Some(u))
            .filter(|a| a.submitted || a.skipped)
    };
    let mut lines = Vec::new();
    let mut answered = Vec::new();
    let mut silent = Vec::new();
    let mut spot_on = 0;
    let mut compared = 0;
    for p in couple
        .partners
        .iter()
        .filter(|p| asked.contains(&p.user) || find(p.user).is_some())
    {
        let other = couple.other(p.user).map(|o| o.user);
        match find(p.user) {
            Some(a) if a.submitted => {
                answered.push(p.user);
                let mood = mood_of(a.mood).map_or("—".into(), Mood::describe);
                let mut line = format!("{} — {mood}", p.user.mention());
                if !a.feelings.is_empty() {
                    line.push_str(&format!(" · {}", a.feelings.join(", ")));
                }
                if let (Some(g), Some(o)) = (mood_of(a.guess), other) {
                    let theirs = find(o)
                        .filter(|x| x.submitted)
                        .and_then(|x| mood_of(x.mood));
                    match theirs {
                        Some(actual) => {
                            let r = dc::read(g, actual);
                            compared += 1;
                            if r == Read::SpotOn {
                                spot_on += 1;
                            }
                            line.push_str(&format!(
                                "\n  guessed {} would feel {} — {}",
                                o.mention(),
                                g.describe(),
                                read_text(r)
                            ));
                        }
                        None => line.push_str(&format!(
                            "\n  guessed {} would feel {}",
                            o.mention(),
                            g.describe()
                        )),
                    }
                }
                if a.share_note {
                    if let Some(n) = a.note.as_deref().filter(|n| !n.trim().is_empty()) {
                        line.push_str(&format!("\n  “{}”", n.trim()));
                    }
                }
                lines.push(line);
            }
            Some(_) => {
                silent.push(p.user);
                lines.push(format!("{} took a pause this time.", p.user.mention()));
            }
            None => {
                silent.push(p.user);
                lines.push(format!("{} didn't check in this time.", p.user.mention()));
            }
        }
    }
    let content = match (answered.as_slice(), silent.as_slice()) {
        ([a], [s]) => format!(
            "{} checked in; {} didn't today — and that's okay.",
            a.mention(),
            s.mention()
        ),
        ([], _) => "This check-in closed quietly. There's always the next one.".to_string(),
        ([one], []) => format!("Here's how {} arrived.", one.mention()),
        _ => "You've both answered — here's how you each arrived.".to_string(),
    };
    let footer = if spot_on == 2 {
        "You read each other well today. ✨"
    } else if compared > 0 {
        "Every guess is practice in reading each other — ask about the ones that surprised you."
    } else {
        "Small, regular moments of tuning in add up."
    };
    let embed = CreateEmbed::new()
        .colour(COLOUR)
        .title(format!("{} — revealed", title(&round.slot)))
        .description(lines.join("\n\n"))
        .footer(CreateEmbedFooter::new(footer));
    CreateMessage::new()
        .content(content)
        .embed(embed)
        .allowed_mentions(no_pings())
}

/// Everything a check-in handler starts from, already checked.
struct Ctx<'a> {
    state: &'a AppState,
    user: UserId,
    couple: Couple,
}

async fn authorise<'a>(
    state: &'a AppState,
    user: UserId,
    channel: ChannelId,
    round: CheckinId,
) -> Result<(Ctx<'a>, Checkin), BotError> {
    let Some(r) = checkins::get(&state.pool, round).await? else {
        return Err(BotError::user(super::render::STALE_BUTTON));
    };
    let Some(couple) = couples::get(&state.pool, r.couple, true).await? else {
        return Err(BotError::user(super::render::STALE_BUTTON));
    };
    if couple.channel != channel {
        return Err(BotError::user(super::render::WRONG_CHANNEL));
    }
    if !couple.is_partner(user) {
        return Err(BotError::user(super::render::NOT_YOUR_SPACE));
    }
    Ok((
        Ctx {
            state,
            user,
            couple,
        },
        r,
    ))
}

pub const REVEALED: &str =
    "This check-in has already been revealed, so answers are closed. The next one will come along soon.";
const NEED_MOOD: &str = "Pick a mood first — the rest is optional.";
const NOTE_TOO_LONG: &str = "That note is longer than I can keep. Please shorten it and try again.";

/// Changes one partner's answer under the round's row lock. Returns the saved answer and
/// the locked round; refuses once the round is revealed.
async fn change(
    cx: &Ctx<'_>,
    round: CheckinId,
    f: impl FnOnce(&mut Answer) -> Result<(), BotError>,
) -> Result<(Checkin, Answer), BotError> {
    let now = cx.state.clock.now();
    let mut tx = cx.state.pool.begin().await?;
    let Some(r) = checkins::lock(&mut tx, round).await? else {
        return Err(BotError::user(super::render::STALE_BUTTON));
    };
    if r.revealed {
        return Err(BotError::user(REVEALED));
    }
    let mut a = checkins::answer(&mut *tx, &cx.state.config.privacy.keys, round, cx.user)
        .await?
        .unwrap_or_default();
    f(&mut a)?;
    checkins::save_answer(
        &mut *tx,
        &cx.state.config.privacy.keys,
        round,
        cx.user,
        &a,
        now,
    )
    .await?;
    // Everyone asked has settled: bring the reveal forward to now. The lock makes this
    // exactly-once.
    let all = checkins::answers(&mut *tx, &cx.state.config.privacy.keys, round).await?;
    let asked = checkins::asked(&mut tx, &r, &cx.couple.partner_ids()).await?;
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
        cx.state.wake.notify_one();
    }
    Ok((r, a))
}

/// A button or select on a check-in.
pub async fn on_component(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    round: CheckinId,
    action: A,
    values: &[String],
) -> Result<CreateInteractionResponse, BotError> {
    let (cx, r) = authorise(state, user, channel, round).await?;
    let partner = cx.couple.other(user).map(|p| p.user);
    match action {
        A::Answer | A::Edit => {
            if r.revealed {
                return Err(BotError::user(REVEALED));
            }
            let a = checkins::answer(&state.pool, &state.config.privacy.keys, round, user)
                .await?
                .unwrap_or_default();
            let msg = card(&r, &a, partner);
            Ok(if action == A::Answer {
                CreateInteractionResponse::Message(msg.ephemeral(true))
            } else {
                CreateInteractionResponse::UpdateMessage(msg)
            })
        }
        A::Skip => {
            change(&cx, round, |a| {
                if !a.submitted {
                    a.skipped = true;
                }
                Ok(())
            })
            .await?;
            Ok(CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content("Okay — no check-in for you this time. Take good care of yourself today. 💛")
                    .ephemeral(true)
                    .allowed_mentions(no_pings()),
            ))
        }
        A::Mood | A::Guess => {
            let v = values
                .first()
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(Mood::new)
                .ok_or_else(|| BotError::user(super::render::STALE_BUTTON))?;
            let (r, a) = change(&cx, round, |a| {
                let slot = if action == A::Mood {
                    &mut a.mood
                } else {
                    &mut a.guess
                };
                *slot = Some(i16::from(v.value()));
                a.skipped = false;
                Ok(())
            })
            .await?;
            Ok(CreateInteractionResponse::UpdateMessage(card(
                &r, &a, partner,
            )))
        }
        A::Feelings => {
            let words = dc::parse_feelings(values)
                .ok_or_else(|| BotError::user(super::render::STALE_BUTTON))?;
            let (r, a) = change(&cx, round, |a| {
                a.feelings = words;
                Ok(())
            })
            .await?;
            Ok(CreateInteractionResponse::UpdateMessage(card(
                &r, &a, partner,
            )))
        }
        A::ShareNote => {
            let (r, a) = change(&cx, round, |a| {
                a.share_note = !a.share_note;
                Ok(())
            })
            .await?;
            Ok(CreateInteractionResponse::UpdateMessage(card(
                &r, &a, partner,
            )))
        }
        A::Note => {
            if r.revealed {
                return Err(BotError::user(REVEALED));
            }
            let a = checkins::answer(&state.pool, &state.config.privacy.keys, round, user).await?;
            let current = a.as_ref().and_then(|a| a.note.as_deref());
            Ok(CreateInteractionResponse::Modal(note_modal(round, current)))
        }
        A::Submit => {
            let (r, _) = change(&cx, round, |a| {
                if a.mood.is_none() {
                    return Err(BotError::user(NEED_MOOD));
                }
                a.submitted = true;
                a.skipped = false;
                Ok(())
            })
            .await?;
            Ok(CreateInteractionResponse::UpdateMessage(thanks(&r)))
        }
        A::NoteModal => Err(BotError::user(super::render::STALE_BUTTON)),
    }
}

/// The note modal's submit.
pub async fn on_note(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    round: CheckinId,
    note: &str,
) -> Result<CreateInteractionResponse, BotError> {
    let (cx, _) = authorise(state, user, channel, round).await?;
    if note.chars().count() > MAX_NOTE {
        return Err(BotError::user(NOTE_TOO_LONG));
    }
    let partner = cx.couple.other(user).map(|p| p.user);
    let text = note.trim().to_string();
    let (r, a) = change(&cx, round, |a| {
        a.note = (!text.is_empty()).then_some(text);
        Ok(())
    })
    .await?;
    Ok(CreateInteractionResponse::UpdateMessage(card(
        &r, &a, partner,
    )))
}
