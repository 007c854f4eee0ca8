//! The check-in: the scheduled post (which opens or joins a round), `/checkin` now, the
//! private answer card and its note, the one reminder, and the reveal.
//!
//! Every answer change runs under a row lock on the round, so concurrent clicks and the
//! reveal settle cleanly; the reveal is brought forward the moment everyone asked has
//! answered or stepped back.

use chrono::{DateTime, NaiveDate, Timelike, Utc};

use super::access::{couple_here, partner_of, require_post};
use super::delivery::{Plan, Record};
use super::round::{change, draw_question, open, plain_prompt, safety_card};
use super::view::{button, panel};
use super::{refuse, refuse_with, Answer, FlowError, FlowResult, Here, Refusal, Reply, Who};
use crate::content::copy::keys::{checkin as k, mood as km};
use crate::content::copy::Arg;
use crate::content::Library;
use crate::domain::checkin::{self as dc, Mood, Read, MAX_NOTE};
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CheckinAction as A, CustomId};
use crate::domain::ids::{CheckinId, CoupleId, JobId, PersonId, PersonRef};
use crate::domain::jobs::Job;
use crate::domain::schedule::Slot;
use crate::domain::time::local_instant;
use crate::state::AppState;
use crate::store::checkins::{self, Answer as Ans, Checkin};
use crate::store::{self, couples, jobs, schedules};
use crate::transport::{
    Card, Control, Menu, MenuOption, Panel, Text, TextField, TextRequest, TimeStyle, Tone,
};

fn id(round: CheckinId, a: A) -> CustomId {
    CustomId::Checkin(round, a)
}

/// How a mood reads on the card: "🌤️ Good".
pub fn mood_words(lib: &Library, m: Mood) -> String {
    lib.s(match m.value() {
        1 => km::HEAVY,
        2 => km::LOW,
        3 => km::OKAY,
        4 => km::GOOD,
        _ => km::BRIGHT,
    })
}

fn mood_of(v: Option<i16>) -> Option<Mood> {
    v.and_then(|v| Mood::new(i64::from(v)))
}

fn title(lib: &Library, slot: &str) -> String {
    lib.s(match slot {
        "morning" => k::TITLE_MORNING,
        "evening" => k::TITLE_EVENING,
        _ => k::TITLE_NOW,
    })
}

fn post_buttons(lib: &Library, round: CheckinId) -> Vec<crate::transport::Button> {
    vec![
        button(id(round, A::Answer), lib.s(k::ANSWER), Tone::Primary),
        button(id(round, A::Skip), lib.s(k::SKIP), Tone::Secondary),
    ]
}

/// The question of the day with `{partner}` and `{name}` as people.
fn question_text(
    lib: &Library,
    q: &str,
    partner: Option<&PersonRef>,
    name: Option<&PersonRef>,
) -> Text {
    lib.prompt_text(q, partner, name)
}

fn post_panel(lib: &Library, couple: &Couple, round: &Checkin, due: Option<&PersonRef>) -> Panel {
    let line = lib.t(
        match round.slot.as_str() {
            "morning" => k::INVITE_MORNING,
            "evening" => k::INVITE_EVENING,
            _ => k::INVITE_NOW,
        },
        &[],
    );
    let mut body = line;
    if let Some(q) = &round.question {
        let other = due.and_then(|d| couple.other(d.id)).map(|p| p.person_ref());
        body = body.para(lib.t(
            k::QUESTION_LINE,
            &[(
                "question",
                question_text(lib, q, other.as_ref(), due).into(),
            )],
        ));
    }
    body = body.para(lib.t(
        k::OPEN_UNTIL,
        &[("at", Arg::Instant(round.closes_at, TimeStyle::DateTime))],
    ));
    let mut p = panel(title(lib, &round.slot), body);
    p.footer = Some(lib.t(k::POST_FOOTER, &[]));
    p
}

/// The scheduled post for `due` (notified); the round accepts answers from both partners.
pub fn post_card(lib: &Library, couple: &Couple, round: &Checkin, due: &PersonRef) -> Card {
    Card::text(lib.t(k::POST_LEAD, &[("person", due.into())]))
        .with_panel(post_panel(lib, couple, round, Some(due)))
        .with_buttons(post_buttons(lib, round.id))
        .notifying(vec![due.clone()])
}

fn reminder_card(lib: &Library, round: &Checkin, person: &PersonRef) -> Card {
    Card::text(lib.t(
        k::REMINDER,
        &[
            ("person", person.into()),
            ("at", Arg::Instant(round.closes_at, TimeStyle::Time)),
        ],
    ))
    .with_buttons(post_buttons(lib, round.id))
    .notifying(vec![person.clone()])
}

/// What the answer card knows besides the answer: today's question and the light day.
#[derive(Debug, Clone, Copy, Default)]
struct CardCx<'a> {
    question: Option<&'a str>,
    light: bool,
}

fn card_body(
    lib: &Library,
    a: &Ans,
    partner: Option<&PersonRef>,
    closes_at: DateTime<Utc>,
    cx: CardCx<'_>,
) -> Text {
    let none = || lib.t(k::NONE, &[]);
    let mood =
        mood_of(a.mood).map_or_else(|| lib.t(k::MOOD_UNSET, &[]), |m| mood_words(lib, m).into());
    let feelings = if a.feelings.is_empty() {
        none()
    } else {
        Text::plain(a.feelings.join(", "))
    };
    let guess = mood_of(a.guess).map_or_else(none, |m| mood_words(lib, m).into());
    let whom: Arg = partner.map_or_else(|| lib.t(k::YOUR_PARTNER, &[]).into(), Arg::from);
    let note = match &a.note {
        Some(n) if !n.trim().is_empty() => lib.t(
            if a.share_note {
                k::NOTE_SHARED
            } else {
                k::NOTE_PRIVATE
            },
            &[("note", Arg::User(n.trim().to_string()))],
        ),
        _ => none(),
    };
    let mut head = Text::new();
    if let Some(q) = cx.question {
        head = lib.t(
            k::TODAY_QUESTION,
            &[("question", lib.prompt_text(q, partner, None).into())],
        );
    }
    if cx.light {
        head = head.line(lib.t(k::LIGHT_DAY_ON_LINE, &[]));
    }
    let body = lib.t(
        k::CARD,
        &[
            ("mood", mood.into()),
            ("feelings", feelings.into()),
            ("partner", whom),
            ("guess", guess.into()),
            ("note", note.into()),
            ("closes", Arg::Instant(closes_at, TimeStyle::Relative)),
        ],
    );
    if head.is_empty() {
        body
    } else {
        head.para(body)
    }
}

fn card_controls(lib: &Library, round: CheckinId, a: &Ans, cx: CardCx<'_>) -> Vec<Control> {
    let mood_opts = |selected: Option<i16>| {
        Mood::ALL
            .iter()
            .map(|m| MenuOption {
                label: mood_words(lib, *m),
                value: m.value().to_string(),
                selected: selected == Some(i16::from(m.value())),
            })
            .collect::<Vec<_>>()
    };
    let feelings = lib
        .feelings
        .iter()
        .map(|f| MenuOption {
            label: f.clone(),
            value: f.clone(),
            selected: a.feelings.iter().any(|x| x == f),
        })
        .collect();
    let has_note = a.note.as_deref().is_some_and(|n| !n.trim().is_empty());
    // Words that suggest someone may not be safe are not offered for sharing.
    let offer_share = a.note.as_deref().is_none_or(|n| lib.signal_in(n).is_none());
    vec![
        Control::Menu(Menu {
            id: id(round, A::Mood),
            placeholder: lib.s(k::MOOD_PLACEHOLDER),
            options: mood_opts(a.mood),
            min: 1,
            max: 1,
        }),
        Control::Menu(Menu {
            id: id(round, A::Feelings),
            placeholder: lib.s(k::FEELINGS_PLACEHOLDER),
            options: feelings,
            min: 0,
            max: dc::MAX_FEELINGS as u8,
        }),
        Control::Menu(Menu {
            id: id(round, A::Guess),
            placeholder: lib.s(k::GUESS_PLACEHOLDER),
            options: mood_opts(a.guess),
            min: 1,
            max: 1,
        }),
        Control::Buttons(
            [
                Some(button(
                    id(round, A::Note),
                    lib.s(match (has_note, cx.question.is_some()) {
                        (true, _) => k::NOTE_EDIT,
                        (false, true) => k::ANSWER_QUESTION,
                        (false, false) => k::NOTE_ADD,
                    }),
                    Tone::Secondary,
                )),
                offer_share.then(|| {
                    button(
                        id(round, A::ShareNote),
                        lib.s(if a.share_note {
                            k::SHARE_ON
                        } else {
                            k::SHARE_OFF
                        }),
                        Tone::Secondary,
                    )
                }),
                Some(button(id(round, A::Submit), lib.s(k::DONE), Tone::Success)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        Control::Buttons(vec![
            button(
                id(round, A::LightDay),
                lib.s(if cx.light {
                    k::LIGHT_DAY_OFF
                } else {
                    k::LIGHT_DAY_ON
                }),
                Tone::Secondary,
            ),
            button(id(round, A::NotSafe), lib.s(k::NOT_SAFE), Tone::Secondary),
        ]),
    ]
}

fn answer_card(
    lib: &Library,
    round: &Checkin,
    a: &Ans,
    partner: Option<&PersonRef>,
    light: bool,
) -> Card {
    let cx = CardCx {
        question: round.question.as_deref(),
        light,
    };
    Card {
        text: card_body(lib, a, partner, round.closes_at, cx),
        controls: card_controls(lib, round.id, a, cx),
        ..Card::default()
    }
}

fn thanks(lib: &Library, round: &Checkin) -> Card {
    Card::text(lib.t(
        k::THANKS,
        &[("closes", Arg::Instant(round.closes_at, TimeStyle::Relative))],
    ))
    .with_buttons(vec![button(
        id(round.id, A::Edit),
        lib.s(k::CHANGE),
        Tone::Secondary,
    )])
}

/// The note's box asks the day's question, when there is one.
fn note_request(lib: &Library, round: &Checkin, current: Option<&str>) -> TextRequest {
    let (label, placeholder) = match &round.question {
        // A placeholder is plain text: no mentions, so "your partner" for {partner}.
        Some(q) => (lib.s(k::ANSWER_LABEL), plain_prompt(lib, q)),
        None => (lib.s(k::NOTE_LABEL), lib.s(k::NOTE_PLACEHOLDER)),
    };
    TextRequest {
        id: id(round.id, A::NoteModal),
        title: lib.s(k::NOTE_TITLE),
        fields: vec![TextField {
            key: NOTE_FIELD,
            label,
            placeholder: Some(placeholder),
            value: current.map(str::to_string),
            max_len: MAX_NOTE as u16,
            required: false,
            long: true,
        }],
    }
}

/// The key of the note's text field.
pub const NOTE_FIELD: &str = "note";

fn read_words(lib: &Library, r: Read) -> Text {
    lib.t(
        match r {
            Read::SpotOn => k::READ_SPOT_ON,
            Read::Close => k::READ_CLOSE,
            Read::Different => k::READ_DIFFERENT,
        },
        &[],
    )
}

/// The reveal: each partner's answer, their guess against the other's own answer, and a note
/// only where its writer chose to share it.
pub fn reveal_card(
    lib: &Library,
    round: &Checkin,
    couple: &Couple,
    answers: &[Ans],
    asked: &[PersonId],
) -> Card {
    let find = |u: PersonId| {
        answers
            .iter()
            .find(|a| a.user == Some(u))
            .filter(|a| a.submitted || a.skipped)
    };
    let mut body = Text::new();
    let mut answered = Vec::new();
    let mut silent = Vec::new();
    let mut spot_on = 0;
    let mut compared = 0;
    for p in couple
        .partners
        .iter()
        .filter(|p| asked.contains(&p.person) || find(p.person).is_some())
    {
        let me = p.person_ref();
        let other = couple.other(p.person).map(|o| o.person_ref());
        let line = match find(p.person) {
            Some(a) if a.submitted => {
                answered.push(me.clone());
                let mood = mood_of(a.mood).map_or_else(|| lib.s(k::NONE), |m| mood_words(lib, m));
                let mut line = lib.t(
                    k::REVEAL_LINE,
                    &[("person", me.clone().into()), ("mood", mood.into())],
                );
                if !a.feelings.is_empty() {
                    line.append(lib.t(
                        k::REVEAL_FEELINGS,
                        &[("feelings", a.feelings.join(", ").into())],
                    ));
                }
                if let (Some(g), Some(o)) = (mood_of(a.guess), other.as_ref()) {
                    let theirs = find(o.id)
                        .filter(|x| x.submitted)
                        .and_then(|x| mood_of(x.mood));
                    let guess: Arg = mood_words(lib, g).into();
                    match theirs {
                        Some(actual) => {
                            let r = dc::read(g, actual);
                            compared += 1;
                            if r == Read::SpotOn {
                                spot_on += 1;
                            }
                            line.append(lib.t(
                                k::REVEAL_GUESS,
                                &[
                                    ("other", o.into()),
                                    ("guess", guess),
                                    ("read", read_words(lib, r).into()),
                                ],
                            ));
                        }
                        None => {
                            line.append(lib.t(
                                k::REVEAL_GUESS_OPEN,
                                &[("other", o.into()), ("guess", guess)],
                            ));
                        }
                    }
                }
                // Only what its writer chose to share, and never words that suggest its
                // writer may not be safe.
                if a.share_note {
                    if let Some(n) = a
                        .note
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty() && lib.signal_in(n).is_none())
                    {
                        line.append(if round.question.is_some() {
                            lib.t(k::REVEAL_ANSWER, &[("answer", Arg::User(n.to_string()))])
                        } else {
                            lib.t(k::REVEAL_NOTE, &[("note", Arg::User(n.to_string()))])
                        });
                    }
                }
                line
            }
            Some(_) => {
                silent.push(me.clone());
                lib.t(k::REVEAL_PAUSED, &[("person", me.into())])
            }
            None => {
                silent.push(me.clone());
                lib.t(k::REVEAL_SILENT, &[("person", me.into())])
            }
        };
        body = body.para(line);
    }
    let content = match (answered.as_slice(), silent.as_slice()) {
        ([a], [s]) => lib.t(
            k::REVEAL_ONE_OF_TWO,
            &[("answered", a.into()), ("silent", s.into())],
        ),
        ([], _) => lib.t(k::REVEAL_NONE, &[]),
        ([one], []) => lib.t(k::REVEAL_ONE, &[("person", one.into())]),
        _ => lib.t(k::REVEAL_BOTH, &[]),
    };
    let footer = if spot_on == 2 {
        k::FOOTER_SPOT_ON
    } else if compared > 0 {
        k::FOOTER_COMPARED
    } else {
        k::FOOTER_PLAIN
    };
    if let Some(q) = &round.question {
        body = lib
            .t(
                k::QUESTION_LINE,
                &[("question", lib.prompt_text(q, None, None).into())],
            )
            .para(body);
    }
    let mut p = panel(
        lib.t(
            k::REVEAL_TITLE,
            &[("title", title(lib, &round.slot).into())],
        ),
        body,
    );
    p.footer = Some(lib.t(footer, &[]));
    Card::text(content).with_panel(p)
}

// ---------------------------------------------------------------------------------------
// Interactions.
// ---------------------------------------------------------------------------------------

/// The person's own local date (their zone, or UTC until they set one).
fn today_for(couple: &Couple, person: PersonId, now: DateTime<Utc>) -> NaiveDate {
    let zone = couple
        .partner(person)
        .and_then(|p| p.zone)
        .unwrap_or(chrono_tz::Tz::UTC);
    crate::domain::time::local_date(zone, now)
}

/// A button or a menu on a check-in (`values` are a menu's chosen values).
pub async fn press(
    st: &AppState,
    who: &Who,
    here: &Here,
    round: CheckinId,
    action: A,
    values: &[String],
) -> FlowResult {
    let lib = &st.content;
    let Some(r) = checkins::get(&st.pool, round).await? else {
        return Err(Refusal::stale().into());
    };
    let (couple, me) = partner_of(&st.pool, r.couple, who, here).await?;
    if r.slot == "weekly" {
        return super::weekly::press(st, &couple, &me, &r, action).await;
    }
    let partner = couple.other(me.id).map(|p| p.person_ref());
    let partner = partner.as_ref();
    let today = today_for(&couple, me.id, st.clock.now());
    let light = checkins::is_light_day(&st.pool, me.id, today).await?;
    let card = |r: &Checkin, a: &Ans, light: bool| answer_card(lib, r, a, partner, light);
    match action {
        A::Answer | A::Edit => {
            open(&r, st.clock.now())?;
            let a = checkins::answer(&st.pool, st.keys(), round, me.id)
                .await?
                .unwrap_or_default();
            Ok(if action == A::Answer {
                Answer::private(card(&r, &a, light))
            } else {
                Answer::update(card(&r, &a, light))
            })
        }
        A::Skip => {
            change(st, &couple, me.id, round, |a| {
                if !a.submitted {
                    a.skipped = true;
                }
                Ok(())
            })
            .await?;
            Ok(Answer::private(Card::text(lib.t(k::SKIPPED, &[]))))
        }
        A::Mood | A::Guess => {
            let Some(v) = values
                .first()
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(Mood::new)
            else {
                return Err(Refusal::stale().into());
            };
            let (r, a) = change(st, &couple, me.id, round, |a| {
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
            Ok(Answer::update(card(&r, &a, light)))
        }
        A::Feelings => {
            let Some(words) = dc::parse_feelings(values, &lib.feelings) else {
                return Err(Refusal::stale().into());
            };
            let (r, a) = change(st, &couple, me.id, round, |a| {
                a.feelings = words;
                Ok(())
            })
            .await?;
            Ok(Answer::update(card(&r, &a, light)))
        }
        A::ShareNote => {
            let (r, a) = change(st, &couple, me.id, round, |a| {
                a.share_note = !a.share_note;
                Ok(())
            })
            .await?;
            Ok(Answer::update(card(&r, &a, light)))
        }
        A::Note => {
            open(&r, st.clock.now())?;
            let a = checkins::answer(&st.pool, st.keys(), round, me.id).await?;
            let current = a.as_ref().and_then(|a| a.note.as_deref());
            Ok(Reply::AskText(note_request(lib, &r, current)).into())
        }
        A::Submit => {
            let (r, _) = change(st, &couple, me.id, round, |a| {
                if a.mood.is_none() {
                    return refuse(k::NEED_MOOD);
                }
                a.submitted = true;
                a.skipped = false;
                Ok(())
            })
            .await?;
            Ok(Answer::update(thanks(lib, &r)))
        }
        A::LightDay => {
            open(&r, st.clock.now())?;
            checkins::set_light_day(&st.pool, me.id, today, !light).await?;
            let a = checkins::answer(&st.pool, st.keys(), round, me.id)
                .await?
                .unwrap_or_default();
            tracing::info!(couple_id = %couple.id, light = !light, "light day changed");
            Ok(Answer::update(card(&r, &a, !light)))
        }
        A::NotSafe => {
            // Nothing of this round reaches the partner: it reads as a pause at the reveal.
            change(st, &couple, me.id, round, |a| {
                a.submitted = false;
                a.skipped = true;
                a.share_note = false;
                Ok(())
            })
            .await?;
            Ok(Answer::update(safety_card(lib, &lib.safety.unsafe_private)))
        }
        A::NoteModal | A::WeeklyWrite | A::WeeklyModal => Err(Refusal::stale().into()),
    }
}

/// The note's words, from the note's text request.
pub async fn note(
    st: &AppState,
    who: &Who,
    here: &Here,
    round: CheckinId,
    note: &str,
) -> FlowResult {
    let lib = &st.content;
    let Some(r) = checkins::get(&st.pool, round).await? else {
        return Err(Refusal::stale().into());
    };
    let (couple, me) = partner_of(&st.pool, r.couple, who, here).await?;
    if note.chars().count() > MAX_NOTE {
        return refuse(k::NOTE_TOO_LONG);
    }
    let partner = couple.other(me.id).map(|p| p.person_ref());
    let text = note.trim().to_string();
    let worrying = lib.signal_in(&text).is_some();
    let (r, a) = change(st, &couple, me.id, round, |a| {
        a.note = (!text.is_empty()).then_some(text);
        if worrying {
            a.share_note = false;
        }
        Ok(())
    })
    .await?;
    let today = today_for(&couple, me.id, st.clock.now());
    let light = checkins::is_light_day(&st.pool, me.id, today).await?;
    let mut answer = Answer::update(answer_card(lib, &r, &a, partner.as_ref(), light));
    if worrying {
        answer
            .followups
            .push(safety_card(lib, &lib.safety.signal_note));
    }
    Ok(answer)
}

/// `/checkin`: a round for both, now, notifying the partner who didn't ask.
pub async fn now(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    require_post(here)?;
    let lib = &st.content;
    let now = st.clock.now();
    if let Some(open) = checkins::open_round(&st.pool, couple.id).await? {
        if open.slot == "now" {
            // Its post was an answer to a /checkin, which may have committed and never
            // reached the channel: running it again shows the same round again.
            let card = Card::text(lib.t(
                k::NOW_AGAIN,
                &[("closes", Arg::Instant(open.closes_at, TimeStyle::Relative))],
            ))
            .with_panel(post_panel(lib, &couple, &open, None))
            .with_buttons(post_buttons(lib, open.id));
            return Ok(Answer::public(card));
        }
        return refuse_with(
            k::ALREADY_OPEN,
            vec![("closes", Arg::Instant(open.closes_at, TimeStyle::Relative))],
        );
    }
    let Some(settings) = schedules::couple(&st.pool, couple.id).await? else {
        return refuse(crate::content::copy::keys::common::NO_COUPLE_HERE);
    };
    let mut tx = st.pool.begin().await?;
    // Every draw from a couple's question bags runs under the couple's lock (the scheduled
    // post reads the bag with it).
    couples::lock(&mut tx, couple.id).await?;
    let zone = couple.home_zone();
    let today = crate::domain::time::local_date(zone, now);
    let slot = if now.with_timezone(&zone).hour() < 15 {
        "morning"
    } else {
        "evening"
    };
    let q = draw_question(
        &mut tx,
        lib,
        st.config.scheduler.seed,
        couple.id,
        slot,
        None,
    )
    .await?;
    let round = checkins::create(
        &mut *tx,
        couple.id,
        "now",
        today,
        now,
        now + settings.window,
        q.as_ref().map(|(i, t)| (i.as_str(), t.as_str())),
    )
    .await?;
    let reveal = Job::CheckinReveal {
        couple: couple.id.0,
        checkin: round.id.0,
    };
    jobs::schedule(&mut *tx, &reveal, round.closes_at, now).await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, checkin_id = %round.id, "check-in opened on request");
    let other = couple.other(me.id).map_or(me.clone(), |p| p.person_ref());
    let card = Card::text(lib.t(
        k::NOW_LEAD,
        &[("other", other.clone().into()), ("asker", me.into())],
    ))
    .with_panel(post_panel(lib, &couple, &round, None))
    .with_buttons(post_buttons(lib, round.id))
    .notifying(vec![other]);
    Ok(Answer::public(card))
}

// ---------------------------------------------------------------------------------------
// Scheduled work.
// ---------------------------------------------------------------------------------------

/// Opens (or joins) a round and schedules its reveal and reminder; the post follows.
///
/// A scheduled post is the busiest path on a busy morning, so its bookkeeping is a few
/// statements in one transaction: lock the couple (reading schedules and settings with it),
/// read the post's state, and write everything (the round, its delivery key, reveal,
/// reminder, tomorrow's post, the question bag and the "about to send" mark) at once.
// The job's own fields, spelled out, so each job kind keeps its own signature.
#[allow(clippy::too_many_arguments)]
pub async fn prepare_post(
    st: &AppState,
    job_id: JobId,
    token: uuid::Uuid,
    couple_id: CoupleId,
    person: PersonId,
    slot_name: &str,
    local_date: NaiveDate,
    missed: bool,
    now: DateTime<Utc>,
) -> Result<Plan, FlowError> {
    let Some(slot) = Slot::parse(slot_name) else {
        return Ok(Plan::Skipped("unknown slot"));
    };
    let mut tx = st.pool.begin().await?;
    let Some((couple, schedules, settings)) =
        couples::lock_with_schedules(&mut tx, couple_id).await?
    else {
        return Ok(Plan::Skipped("couple ended"));
    };
    let (Some(due), Some(sched)) = (
        couple.person_ref(person),
        schedules
            .into_iter()
            .find_map(|(p, s)| (p == person).then_some(s)),
    ) else {
        return Ok(Plan::Skipped("not a partner any more"));
    };
    let pool = super::round::bag_pool(slot.as_str(), None);
    let (drawn, reveal_nonce, nonce);
    let mut w = checkins::PostWrites::default();
    // Chain the next day first, so a skipped or missed day never breaks the schedule.
    let next = sched.slot_time(slot).and_then(|time| {
        let this = local_instant(sched.zone, local_date, time);
        sched.next(slot, this)
    });
    let next = next.map(|(date, at)| {
        let job = Job::post(couple_id, person, slot, date);
        w.moving.push(&job, at);
        (job.dedupe_key(), at)
    });
    let target = PostTarget {
        couple: couple_id,
        person,
        slot,
        date: local_date,
        now,
        next,
    };
    let finish = |w, tx| write_post(tx, &target, &sched, w);
    if missed {
        finish(w, tx).await?;
        return Ok(Plan::Missed);
    }
    if couple.is_paused(now) {
        finish(w, tx).await?;
        return Ok(Plan::Skipped("paused"));
    }
    let state = checkins::post_state(
        &mut tx,
        couple_id,
        person,
        slot.as_str(),
        local_date,
        now,
        &pool,
    )
    .await?;
    let sending = Some((job_id, token, st.clock.shared()));
    let round = match state.slot {
        checkins::PostSlot::Posted => {
            finish(w, tx).await?;
            return Ok(Plan::Skipped("already posted"));
        }
        checkins::PostSlot::Unconfirmed { checkin, nonce: n } => {
            let Some(round) = checkins::get(&mut *tx, checkin).await? else {
                return Err(FlowError::internal(anyhow::anyhow!("round vanished")));
            };
            // A post that kept failing until its round closed stops mattering: an
            // invitation to a round already closed or revealed would only disappoint.
            if round.revealed || round.closes_at <= now {
                finish(w, tx).await?;
                return Ok(Plan::Missed);
            }
            nonce = n;
            w.sending = sending;
            if !finish(w, tx).await? {
                return Ok(Plan::Superseded);
            }
            round
        }
        checkins::PostSlot::New => {
            let closes = now + settings.window;
            // Joining moves the round's reveal to the new closing time. If the reveal can no
            // longer be moved, it is running (another process took it): this post opens a
            // round of its own rather than join one being revealed.
            let joinable = match state.joinable {
                Some(_) => {
                    checkins::joinable(&mut *tx, couple_id, slot.as_str(), local_date, person, now)
                        .await?
                }
                None => None,
            };
            let joined = match joinable {
                Some(r) => {
                    let reveal = Job::CheckinReveal {
                        couple: couple_id.0,
                        checkin: r.id.0,
                    };
                    let later = closes.max(r.closes_at);
                    if jobs::schedule(&mut *tx, &reveal, later, now).await? {
                        checkins::extend(&mut *tx, r.id, closes).await?;
                        Some(Checkin {
                            closes_at: later,
                            ..r
                        })
                    } else {
                        tracing::info!(couple_id = %couple_id, checkin_id = %r.id,
                            "the round's reveal is running; opening a new round");
                        None
                    }
                }
                None => None,
            };
            let round = match joined {
                Some(r) => r,
                None => {
                    let (remaining, refills) = state.bag;
                    drawn = super::round::draw_from(
                        &st.content,
                        st.config.scheduler.seed,
                        couple_id,
                        slot.as_str(),
                        None,
                        remaining,
                        refills,
                    );
                    if let Some(d) = &drawn {
                        w.bag = Some((&pool, &d.remaining, d.refills));
                    }
                    reveal_nonce = checkins::nonce_for(uuid::Uuid::new_v4());
                    let round = Checkin {
                        id: CheckinId(uuid::Uuid::new_v4()),
                        couple: couple_id,
                        slot: slot.as_str().to_string(),
                        round_date: local_date,
                        opened_at: now,
                        closes_at: closes,
                        revealed: false,
                        question: drawn.as_ref().map(|d| d.text.clone()),
                        question_id: drawn.as_ref().map(|d| d.id.clone()),
                        reveal_nonce: reveal_nonce.clone(),
                        reveal_message: None,
                    };
                    w.round = Some(checkins::NewRound {
                        id: round.id,
                        closes_at: closes,
                        question: drawn.as_ref().map(|d| (d.id.as_str(), d.text.as_str())),
                        reveal_nonce: &reveal_nonce,
                    });
                    let reveal = Job::CheckinReveal {
                        couple: couple_id.0,
                        checkin: round.id.0,
                    };
                    w.moving.push(&reveal, closes);
                    round
                }
            };
            if let Some(delay) = settings.reminder {
                // A reminder only makes sense while the round is still open.
                if now + delay < round.closes_at {
                    let remind = Job::CheckinRemind {
                        couple: couple_id.0,
                        checkin: round.id.0,
                        user: person,
                    };
                    w.once.push(&remind, now + delay);
                }
            }
            nonce = checkins::nonce_for(job_id.0);
            w.post = Some((person, round.id, &nonce));
            w.sending = sending;
            if !finish(w, tx).await? {
                return Ok(Plan::Superseded);
            }
            round
        }
    };
    let mut plan = Plan::deliver(
        couple.room.clone(),
        post_card(&st.content, &couple, &round, &due),
        nonce,
        Record::CheckinPost {
            couple: couple_id,
            person,
            slot: slot.as_str(),
            date: local_date,
        },
    );
    if let Plan::Deliver(d) = &mut plan {
        d.marked = true;
    }
    Ok(plan)
}

/// Whose post [`write_post`] writes, and tomorrow's post it chains: (key, due).
struct PostTarget {
    couple: CoupleId,
    person: PersonId,
    slot: Slot,
    date: NaiveDate,
    now: DateTime<Utc>,
    next: Option<(String, DateTime<Utc>)>,
}

/// Writes what `w` holds and commits; a next day whose post already ran is passed over as
/// `plan::schedule_next` does. False (and nothing kept) when this attempt lost its lease.
async fn write_post(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    t: &PostTarget,
    sched: &crate::domain::schedule::PartnerSchedule,
    w: checkins::PostWrites<'_>,
) -> Result<bool, FlowError> {
    let written =
        checkins::write_post(&mut tx, t.couple, t.slot.as_str(), t.date, t.now, &w).await?;
    if !written.holds_lease {
        return Ok(false);
    }
    if let Some((key, at)) = &t.next {
        if !written.moved.contains(key) {
            super::plan::schedule_next(&mut tx, t.couple, t.person, sched, t.slot, *at, t.now)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// One gentle nudge to a partner who has not answered yet.
pub async fn prepare_reminder(
    st: &AppState,
    job_id: JobId,
    checkin: CheckinId,
    person: PersonId,
) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let Some(round) = checkins::get(&st.pool, checkin).await? else {
        return Ok(Plan::Skipped("round gone"));
    };
    if round.revealed || round.closes_at <= now {
        return Ok(Plan::Skipped("round closed"));
    }
    let Some(couple) = couples::get(&st.pool, round.couple, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    if couple.is_paused(now) {
        return Ok(Plan::Skipped("paused"));
    }
    if let Some(a) = checkins::answer(&st.pool, st.keys(), checkin, person).await? {
        if a.submitted || a.skipped {
            return Ok(Plan::Skipped("already answered"));
        }
    }
    let Some(me) = couple.person_ref(person) else {
        return Ok(Plan::Skipped("not a partner any more"));
    };
    Ok(Plan::deliver(
        couple.room.clone(),
        reminder_card(&st.content, &round, &me),
        checkins::nonce_for(job_id.0),
        Record::Nothing,
    ))
}

/// What the next nudge should be about after a reveal: a heavy or low mood asks "listen, or
/// help?"; a guess far from the partner's own answer asks for curiosity.
fn steer_after(answers: &[Ans]) -> Option<&'static str> {
    let moods: Vec<(Option<PersonId>, Mood)> = answers
        .iter()
        .filter(|a| a.submitted)
        .filter_map(|a| mood_of(a.mood).map(|m| (a.user, m)))
        .collect();
    if moods.iter().any(|(_, m)| m.value() <= 2) {
        return Some("listen_or_help");
    }
    let far = answers.iter().filter(|a| a.submitted).any(|a| {
        let other = moods.iter().find(|(u, _)| *u != a.user).map(|(_, m)| *m);
        matches!((mood_of(a.guess), other), (Some(g), Some(o)) if dc::read(g, o) == Read::Different)
    });
    far.then_some("curiosity")
}

/// Reveals a round: flips it once (answers close), then the reveal is posted.
pub async fn prepare_reveal(st: &AppState, checkin: CheckinId) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let mut tx = st.pool.begin().await?;
    let Some(round) = checkins::lock(&mut tx, checkin).await? else {
        return Ok(Plan::Skipped("round gone"));
    };
    if round.revealed && round.reveal_message.is_some() {
        return Ok(Plan::Skipped("already revealed"));
    }
    checkins::mark_revealed(&mut *tx, checkin, now).await?;
    let answers = checkins::answers(&mut *tx, st.keys(), checkin).await?;
    let Some(couple) = couples::get(&mut *tx, round.couple, true).await? else {
        tx.commit().await?;
        return Ok(Plan::Skipped("couple ended"));
    };
    let asked = checkins::asked(&mut tx, &round, &couple.partner_ids()).await?;
    let card = if round.slot == "weekly" {
        let written = super::weekly::written(&mut tx, st.keys(), checkin, &couple).await?;
        super::weekly::reveal_card(&st.content, &round, &couple, &answers, &written)
    } else {
        // A hard reveal steers the couple's next small nudge (taken once).
        if !round.revealed {
            if let Some(concept) = steer_after(&answers) {
                store::micro::steer(&mut *tx, couple.id, concept).await?;
            }
        }
        reveal_card(&st.content, &round, &couple, &answers, &asked)
    };
    tx.commit().await?;
    if couple.unreachable_since.is_some() {
        // The room refused us. The reveal waits (answers stay closed and stored) and goes
        // out once the couple resumes: late beats never.
        return Ok(Plan::Later("room unreachable; waiting for /attune resume"));
    }
    Ok(Plan::deliver(
        couple.room.clone(),
        card,
        round.reveal_nonce.clone(),
        Record::Reveal(checkin),
    ))
}
