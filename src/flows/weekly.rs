//! The weekly check-in: once a week, at the couple's chosen day and time (by default the
//! recap's morning), each partner privately answers one question from each of four themes
//! (an appreciation, what went well, something to talk about, a need for the week ahead);
//! the answers are revealed together once both have answered or the round closes.
//!
//! A weekly round is a check-in round of slot `weekly`: the same row lock, the same early
//! reveal, the same reveal job. Its question ids are kept on the round in theme order; the
//! answers are sealed in `weekly_answers`.

use chrono::{DateTime, Duration, Utc};

use super::delivery::{Plan, Record};
use super::round::{change, open, safety_card};
use super::view::{button, panel};
use super::{refuse, Answer, FlowError, FlowResult, Reply};
use crate::content::copy::keys::{checkin as kc, weekly as k};
use crate::content::copy::Arg;
use crate::content::{Library, WEEKLY_THEMES};
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CheckinAction as A, CustomId};
use crate::domain::ids::{CheckinId, CoupleId, JobId, PersonId, PersonRef};
use crate::domain::jobs::Job;
use crate::domain::recap::{self as dr, IsoWeek};
use crate::state::AppState;
use crate::store::checkins::{self, Answer as Ans, Checkin, WeeklyAnswer};
use crate::store::{couples, jobs, schedules};
use crate::transport::{Card, Text, TextField, TextRequest, TimeStyle, Tone};

/// The longest answer to one weekly question, in characters: four answers from each of
/// two people must fit one reveal.
pub const MAX_ANSWER: usize = 400;

/// How long a weekly round stays open, unless the recap comes sooner.
const OPEN_FOR: Duration = Duration::hours(24);

/// The shortest a round stays open when the recap is near.
const AT_LEAST: Duration = Duration::hours(2);

fn id(round: CheckinId, a: A) -> CustomId {
    CustomId::Checkin(round, a)
}

fn theme_label(lib: &Library, theme: &str) -> String {
    lib.s(match theme {
        "appreciation" => k::THEME_APPRECIATION,
        "went_well" => k::THEME_WENT_WELL,
        "talk_about" => k::THEME_TALK_ABOUT,
        _ => k::THEME_NEED_AHEAD,
    })
}

/// A round's questions in theme order: (theme, question id, text). A theme the library had
/// no question for is left out.
pub fn questions(round: &Checkin) -> Vec<(&'static str, Option<&str>, &str)> {
    let ids: Vec<&str> = round
        .question_id
        .as_deref()
        .unwrap_or("")
        .split(',')
        .collect();
    let texts: Vec<&str> = round
        .question
        .as_deref()
        .unwrap_or("")
        .split('\n')
        .collect();
    WEEKLY_THEMES
        .iter()
        .enumerate()
        .filter_map(|(i, theme)| {
            let text = texts.get(i).copied().unwrap_or("").trim();
            (!text.is_empty())
                .then(|| (*theme, ids.get(i).copied().filter(|s| !s.is_empty()), text))
        })
        .collect()
}

fn post_card(lib: &Library, couple: &Couple, round: &Checkin) -> Card {
    let people: Vec<PersonRef> = couple.partners.iter().map(|p| p.person_ref()).collect();
    let (a, b) = match people.as_slice() {
        [a, b, ..] => (a.clone(), b.clone()),
        [a] => (a.clone(), a.clone()),
        [] => return Card::text(lib.t(k::INVITE, &[])),
    };
    let mut body = lib.t(k::INVITE, &[]);
    for (theme, _, _) in questions(round) {
        body = body.line(Text::plain(format!("· {}", theme_label(lib, theme))));
    }
    body = body.para(lib.t(
        k::OPEN_UNTIL,
        &[("at", Arg::Instant(round.closes_at, TimeStyle::DateTime))],
    ));
    let mut p = panel(lib.t(k::TITLE, &[]), body);
    p.footer = Some(lib.t(k::FOOTER, &[]));
    Card::text(lib.t(k::LEAD, &[("a", a.into()), ("b", b.into())]))
        .with_panel(p)
        .with_buttons(vec![
            button(id(round.id, A::Answer), lib.s(k::ANSWER), Tone::Primary),
            button(id(round.id, A::Skip), lib.s(k::SKIP), Tone::Secondary),
        ])
        .notifying(people)
}

/// The private card: each question with what the person has written so far.
fn answer_card(
    lib: &Library,
    round: &Checkin,
    partner: Option<&PersonRef>,
    mine: &[WeeklyAnswer],
) -> Card {
    let mut t = lib.t(
        k::CARD,
        &[("closes", Arg::Instant(round.closes_at, TimeStyle::Relative))],
    );
    for (theme, _, q) in questions(round) {
        let mut item = lib.t(
            k::QUESTION,
            &[
                ("theme", theme_label(lib, theme).into()),
                ("question", lib.prompt_text(q, partner, None).into()),
            ],
        );
        match mine.iter().find(|a| a.theme == theme) {
            Some(a) => item.append(lib.t(k::ANSWERED, &[("answer", Arg::User(a.body.clone()))])),
            None => item.append(lib.t(k::UNANSWERED, &[])),
        };
        t = t.para(item);
    }
    Card::text(t).with_buttons(vec![
        button(id(round.id, A::WeeklyWrite), lib.s(k::WRITE), Tone::Primary),
        button(id(round.id, A::Submit), lib.s(k::DONE), Tone::Success),
        button(
            id(round.id, A::NotSafe),
            lib.s(k::NOT_SAFE),
            Tone::Secondary,
        ),
    ])
}

fn request(lib: &Library, round: &Checkin, mine: &[WeeklyAnswer]) -> TextRequest {
    TextRequest {
        id: id(round.id, A::WeeklyModal),
        title: lib.s(k::MODAL_TITLE),
        fields: questions(round)
            .into_iter()
            .map(|(theme, _, q)| TextField {
                key: theme,
                label: theme_label(lib, theme),
                placeholder: Some(super::round::plain_prompt(lib, q)),
                value: mine
                    .iter()
                    .find(|a| a.theme == theme)
                    .map(|a| a.body.clone()),
                max_len: MAX_ANSWER as u16,
                required: false,
                long: true,
            })
            .collect(),
    }
}

fn thanks(lib: &Library, round: &Checkin) -> Card {
    Card::text(lib.t(
        k::THANKS,
        &[("closes", Arg::Instant(round.closes_at, TimeStyle::Relative))],
    ))
    .with_buttons(vec![button(
        id(round.id, A::Edit),
        lib.s(kc::CHANGE),
        Tone::Secondary,
    )])
}

/// A press on a weekly round (the caller has found the round and its couple).
pub async fn press(
    st: &AppState,
    couple: &Couple,
    me: &PersonRef,
    round: &Checkin,
    action: A,
) -> FlowResult {
    let lib = &st.content;
    let partner = couple.other(me.id).map(|p| p.person_ref());
    let mine = || checkins::weekly_answers(&st.pool, st.keys(), round.id, me.id);
    match action {
        A::Answer | A::Edit => {
            open(round, st.clock.now())?;
            let card = answer_card(lib, round, partner.as_ref(), &mine().await?);
            Ok(if action == A::Answer {
                Answer::private(card)
            } else {
                Answer::update(card)
            })
        }
        A::WeeklyWrite | A::Note => {
            open(round, st.clock.now())?;
            Ok(Reply::AskText(request(lib, round, &mine().await?)).into())
        }
        A::Skip => {
            change(st, couple, me.id, round.id, |a| {
                if !a.submitted {
                    a.skipped = true;
                }
                Ok(())
            })
            .await?;
            Ok(Answer::private(Card::text(lib.t(k::SKIPPED, &[]))))
        }
        A::Submit => {
            if mine().await?.is_empty() {
                return refuse(k::NEED_ONE);
            }
            let (r, _) = change(st, couple, me.id, round.id, |a| {
                a.submitted = true;
                a.skipped = false;
                Ok(())
            })
            .await?;
            Ok(Answer::update(thanks(lib, &r)))
        }
        A::NotSafe => {
            change(st, couple, me.id, round.id, |a| {
                a.submitted = false;
                a.skipped = true;
                Ok(())
            })
            .await?;
            Ok(Answer::update(safety_card(lib, &lib.safety.unsafe_private)))
        }
        _ => Err(super::Refusal::stale().into()),
    }
}

/// The words of the weekly request, by theme.
pub async fn write(
    st: &AppState,
    who: &super::Who,
    here: &super::Here,
    round_id: CheckinId,
    answers: &[(&str, String)],
) -> FlowResult {
    let lib = &st.content;
    let Some(round) = checkins::get(&st.pool, round_id).await? else {
        return Err(super::Refusal::stale().into());
    };
    if round.slot != "weekly" {
        return Err(super::Refusal::stale().into());
    }
    let (couple, me) = super::access::partner_of(&st.pool, round.couple, who, here).await?;
    if answers.iter().any(|(_, b)| b.chars().count() > MAX_ANSWER) {
        return refuse(k::TOO_LONG);
    }
    let qs = questions(&round);
    let keys = st.keys();
    let now = st.clock.now();
    let worrying = answers.iter().any(|(_, b)| lib.signal_in(b).is_some());
    let mut tx = st.pool.begin().await?;
    let Some(locked) = checkins::lock(&mut tx, round_id).await? else {
        return Err(super::Refusal::stale().into());
    };
    open(&locked, now)?;
    for (theme, qid, _) in &qs {
        if let Some((_, body)) = answers.iter().find(|(t, _)| t == theme) {
            let answer = WeeklyAnswer {
                theme: theme.to_string(),
                question: qid.map(str::to_string),
                body: super::view::tidy(body),
            };
            checkins::save_weekly_answer(&mut tx, keys, round_id, me.id, &answer, now).await?;
        }
    }
    tx.commit().await?;
    let partner = couple.other(me.id).map(|p| p.person_ref());
    let mine = checkins::weekly_answers(&st.pool, keys, round_id, me.id).await?;
    let mut answer = Answer::update(answer_card(lib, &round, partner.as_ref(), &mine));
    if worrying {
        // The worrying words stay with their writer: the reveal leaves them out.
        answer
            .followups
            .push(safety_card(lib, &lib.safety.signal_note));
    }
    Ok(answer)
}

/// The reveal: each partner's answers, theme by theme. An answer whose words suggest its
/// writer may not be safe is never shown to the partner.
pub fn reveal_card(
    lib: &Library,
    round: &Checkin,
    couple: &Couple,
    answers: &[Ans],
    written: &[Written],
) -> Card {
    let mut body = Text::new();
    let mut answered = Vec::new();
    for p in &couple.partners {
        let me = p.person_ref();
        let state = answers.iter().find(|a| a.user == Some(p.person));
        let line = match state {
            Some(a) if a.submitted => {
                answered.push(me.clone());
                let mut line = lib.t(k::REVEAL_PERSON, &[("person", me.into())]);
                let mine = written
                    .iter()
                    .find(|(who, _)| *who == p.person)
                    .map(|(_, w)| w.as_slice())
                    .unwrap_or(&[]);
                for (theme, _, _) in questions(round) {
                    if let Some(a) = mine
                        .iter()
                        .find(|a| a.theme == theme && lib.signal_in(&a.body).is_none())
                    {
                        line.append(lib.t(
                            k::REVEAL_ITEM,
                            &[
                                ("theme", theme_label(lib, theme).into()),
                                ("answer", Arg::User(a.body.clone())),
                            ],
                        ));
                    }
                }
                line
            }
            Some(a) if a.skipped => lib.t(k::REVEAL_PAUSED, &[("person", me.into())]),
            _ => lib.t(k::REVEAL_SILENT, &[("person", me.into())]),
        };
        body = body.para(line);
    }
    let lead = match answered.as_slice() {
        [] => lib.t(k::REVEAL_NONE, &[]),
        [one] => lib.t(k::REVEAL_ONE, &[("person", one.into())]),
        _ => lib.t(k::REVEAL_BOTH, &[]),
    };
    let mut p = panel(lib.t(k::REVEAL_TITLE, &[]), body);
    p.footer = Some(lib.t(k::REVEAL_FOOTER, &[]));
    Card::text(lead).with_panel(p)
}

/// When this week's round closes: a day after it opens, or at the recap if that comes
/// sooner (but never in less than two hours).
fn closes_at(
    home: chrono_tz::Tz,
    s: &crate::domain::schedule::CoupleSettings,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let (_, recap) = dr::next_due(home, s.recap_weekday, s.recap_time, now);
    let day = now + OPEN_FOR;
    if recap < day && recap >= now + AT_LEAST {
        recap
    } else {
        day
    }
}

/// Opens the week's round (once per couple and week, across retries) and plans its reveal;
/// the post notifies both partners.
pub async fn prepare_post(
    st: &AppState,
    job_id: JobId,
    couple_id: CoupleId,
    week: IsoWeek,
    missed: bool,
    now: DateTime<Utc>,
) -> Result<Plan, FlowError> {
    let Some(couple) = couples::get(&st.pool, couple_id, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    let mut tx = st.pool.begin().await?;
    couples::lock(&mut tx, couple_id).await?;
    let Some(settings) = schedules::couple(&mut *tx, couple_id).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    let home = couple.home_zone();
    // Chain next week first, so a skipped or missed week never breaks the rhythm.
    if let Some((day, time)) = settings.weekly() {
        let this = dr::due(home, week, day, time);
        super::plan::schedule_weekly_after(&mut tx, couple_id, home, &settings, this.max(now), now)
            .await?;
    } else {
        tx.commit().await?;
        return Ok(Plan::Skipped("weekly check-in off"));
    }
    if missed {
        tx.commit().await?;
        return Ok(Plan::Missed);
    }
    if couple.is_paused(now) {
        tx.commit().await?;
        return Ok(Plan::Skipped("paused"));
    }
    let date = crate::domain::time::local_date(home, now);
    let nonce = checkins::nonce_for(job_id.0);
    let round = match checkins::weekly_round(&mut *tx, couple_id, week).await? {
        Some(r) if r.post_message.is_some() => {
            tx.commit().await?;
            return Ok(Plan::Skipped("already posted"));
        }
        Some(r) => r.round,
        None => {
            let mut ids = Vec::new();
            let mut texts = Vec::new();
            for theme in WEEKLY_THEMES {
                let q = super::round::draw_question(
                    &mut tx,
                    &st.content,
                    st.config.scheduler.seed,
                    couple_id,
                    "weekly",
                    Some(theme),
                )
                .await?;
                let (i, t) = q.unwrap_or_default();
                ids.push(i);
                texts.push(t);
            }
            let round = checkins::create(
                &mut *tx,
                couple_id,
                "weekly",
                date,
                now,
                closes_at(home, &settings, now),
                Some((&ids.join(","), &texts.join("\n"))),
            )
            .await?;
            checkins::set_weekly(&mut *tx, round.id, week).await?;
            let reveal = Job::CheckinReveal {
                couple: couple_id.0,
                checkin: round.id.0,
            };
            jobs::schedule(&mut *tx, &reveal, round.closes_at, now).await?;
            round
        }
    };
    tx.commit().await?;
    tracing::info!(couple_id = %couple_id, checkin_id = %round.id, "weekly check-in opened");
    Ok(Plan::deliver(
        couple.room.clone(),
        post_card(&st.content, &couple, &round),
        nonce,
        Record::WeeklyPost(round.id),
    ))
}

/// One partner's weekly answers.
pub type Written = (PersonId, Vec<WeeklyAnswer>);

/// Each partner's weekly answers, for the reveal.
pub async fn written(
    ex: &mut sqlx::PgConnection,
    keys: &crate::crypto::Keyring,
    round: CheckinId,
    couple: &Couple,
) -> sqlx::Result<Vec<Written>> {
    let mut out = Vec::new();
    for p in couple.partner_ids() {
        out.push((p, checkins::weekly_answers(&mut *ex, keys, round, p).await?));
    }
    Ok(out)
}
