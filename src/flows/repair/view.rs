//! The repair as the couple reads it: each step's public card, the private previews and
//! choosers, the text requests, the summary and the revisit. Words come from `content/`
//! (`[text.repair]` and the `[step.NAME]` tables).

use chrono::{DateTime, Utc};

use super::Snapshot;
use crate::config::RepairConfig;
use crate::content::copy::keys::repair as k;
use crate::content::copy::{Arg, Key};
use crate::content::{Library, RepairStep};
use crate::domain::custom_id::{CustomId, RepairAction as A};
use crate::domain::ids::{PersonId, PersonRef, RepairId};
use crate::domain::repair::{
    BreakChoice, Line, Refusal, RevisitAnswer, Role, State, Status, Step, TextKind, STAGES,
};
use crate::flows::view::{button, panel};
use crate::store::repairs::Repair;
use crate::transport::{
    Button, Card, Control, Part, Text, TextField, TextRequest, TimeStyle, Tone,
};

/// The text field every repair request uses.
pub const INPUT: &str = "text";

fn b(repair: RepairId, a: A, label: String, tone: Tone) -> Button {
    button(CustomId::Repair(repair, a), label, tone)
}

fn stems(lib: &Library, step: &RepairStep) -> Text {
    if step.stems.is_empty() {
        return Text::new();
    }
    let list = step
        .stems
        .iter()
        .map(|s| format!("• {s}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut t = Text::plain("\n\n");
    t.append(lib.t(k::STEMS, &[("stems", list.into())]));
    t
}

fn pause_end(lib: &Library, repair: RepairId) -> Control {
    Control::Buttons(vec![
        b(repair, A::Pause, lib.s(k::PAUSE), Tone::Secondary),
        b(repair, A::End, lib.s(k::END), Tone::Secondary),
    ])
}

fn scale(repair: RepairId, ids: [A; 5], low: String, high: String) -> Control {
    Control::Buttons(
        ids.iter()
            .enumerate()
            .map(|(i, a)| {
                let label = match i {
                    0 => format!("1 · {low}"),
                    4 => format!("5 · {high}"),
                    n => (n + 1).to_string(),
                };
                b(repair, *a, label, Tone::Secondary)
            })
            .collect(),
    )
}

fn break_buttons(lib: &Library, repair: RepairId) -> Control {
    Control::Buttons(
        BreakChoice::ALL
            .iter()
            .map(|c| {
                let (a, label) = match c {
                    BreakChoice::Minutes20 => (A::Break20, k::BREAK_20),
                    BreakChoice::Hour => (A::Break60, k::BREAK_60),
                    BreakChoice::Evening => (A::BreakEvening, k::BREAK_EVENING),
                    BreakChoice::Tomorrow => (A::BreakTomorrow, k::BREAK_TOMORROW),
                };
                b(repair, a, lib.s(label), Tone::Secondary)
            })
            .collect(),
    )
}

fn stage_title(lib: &Library, s: &State, title: &str) -> Text {
    match s.stage() {
        Some(n) => lib.t(
            k::STAGE_TITLE,
            &[
                ("n", n.to_string().into()),
                ("of", STAGES.to_string().into()),
                ("title", title.into()),
            ],
        ),
        None => Text::plain(title),
    }
}

fn quote(text: &str) -> Arg {
    Arg::Quote(text.to_string())
}

impl Snapshot {
    pub(super) fn person(&self, role: Role) -> PersonRef {
        let id = self.repair.user(role);
        PersonRef {
            id,
            handle: self.handles.get(&id).cloned().unwrap_or_default(),
        }
    }

    pub(super) fn person_of(&self, id: PersonId) -> PersonRef {
        PersonRef {
            id,
            handle: self.handles.get(&id).cloned().unwrap_or_default(),
        }
    }
}

/// The card for where the repair stands now. `lead` opens the message (what just happened);
/// `actor` caused it and is not notified.
pub fn card(
    snap: &Snapshot,
    lib: &Library,
    cfg: &RepairConfig,
    lead: Text,
    actor: Option<PersonId>,
) -> Card {
    let r = &snap.repair;
    let s = &r.state;
    let rid = r.id;
    let texts = &lib.repair;
    let lead = if lead.is_empty() {
        Text::new()
    } else {
        let mut l = lead;
        l.push_plain("\n");
        l
    };
    let notify: Vec<PersonRef> = snap
        .pings(actor)
        .into_iter()
        .map(|p| snap.person_of(p))
        .collect();
    let with_lead = |t: Text| {
        let mut l = lead.clone();
        l.append(t);
        l
    };
    match s.status {
        Status::Paused => {
            let at = s.resume_at.unwrap_or(r.updated_at);
            return Card {
                text: with_lead(lib.t(
                    k::PAUSED_UNTIL,
                    &[
                        ("at", Arg::Instant(at, TimeStyle::Time)),
                        ("in", Arg::Instant(at, TimeStyle::Relative)),
                    ],
                )),
                panel: Some(panel(lib.t(k::BREAK_TITLE, &[]), lib.t(k::BREAK_BODY, &[]))),
                controls: vec![Control::Buttons(vec![
                    b(rid, A::Resume, lib.s(k::READY_NOW), Tone::Primary),
                    b(rid, A::End, lib.s(k::END), Tone::Secondary),
                ])],
                ..Card::default()
            };
        }
        Status::Completed => return summary(snap, lib, cfg),
        Status::Ended if s.quiet => {
            return Card::text(Text::plain(lib.safety.paused_public.as_str()));
        }
        Status::Ended => {
            let by: Arg = r.closed_by.map_or_else(
                || lib.t(k::ONE_OF_YOU, &[]).into(),
                |p| snap.person_of(p).into(),
            );
            return Card::text(with_lead(lib.t(k::ENDED, &[("by", by)])));
        }
        Status::Expired => return Card::text(with_lead(lib.t(k::EXPIRED, &[]))),
        Status::Open => {}
    }
    let (i, p) = (snap.person(Role::Initiator), snap.person(Role::Partner));
    let (o, h) = (snap.person(s.owner), snap.person(s.hurt()));
    let waiting = waiting_text(snap);
    // Wording for a both-partners step when only one of them still has to act.
    let alone = s.waiting_on(snap.plan_shared()).len() == 1;
    let ip = |key: Key| lib.t(key, &[("i", (&i).into()), ("p", (&p).into())]);
    let oh = |key: Key| lib.t(key, &[("owner", (&o).into()), ("hurt", (&h).into())]);
    let settle_rows = || {
        vec![
            scale(
                rid,
                [A::Calm1, A::Calm2, A::Calm3, A::Calm4, A::Calm5],
                lib.s(k::CALM),
                lib.s(k::STIRRED),
            ),
            Control::Buttons(vec![b(
                rid,
                A::NotSafe,
                lib.s(k::NOT_SAFE),
                Tone::Secondary,
            )]),
        ]
    };
    let (content, title, description, mut rows): (Text, Text, Text, Vec<Control>) = match s.step {
        Step::Invited => (
            ip(if s.hurt_first() {
                k::INVITED_LEAD_HURT
            } else {
                k::INVITED_LEAD
            }),
            lib.t(k::INVITED_TITLE, &[]),
            lib.t(
                if s.hurt_first() {
                    k::INVITED_BODY_HURT
                } else {
                    k::INVITED_BODY
                },
                &[
                    ("i", (&i).into()),
                    ("p", (&p).into()),
                    ("resources", lib.safety.resources.as_str().into()),
                ],
            ),
            vec![Control::Buttons(vec![
                b(rid, A::Ready, lib.s(k::IM_READY), Tone::Success),
                b(rid, A::NeedTime, lib.s(k::NEED_TIME), Tone::Secondary),
                b(rid, A::End, lib.s(k::END), Tone::Secondary),
            ])],
        ),
        Step::Regulate => (
            lib.t(
                if alone {
                    k::REGULATE_LEAD_ONE
                } else {
                    k::REGULATE_LEAD_BOTH
                },
                &[("waiting", waiting.clone().into())],
            ),
            stage_title(lib, s, &texts.regulate.title),
            Text::plain(texts.regulate.intro.as_str()).para(lib.t(k::REGULATE_TAP, &[])),
            settle_rows(),
        ),
        Step::Recheck => (
            lib.t(
                if alone {
                    k::RECHECK_LEAD_ONE
                } else {
                    k::RECHECK_LEAD_BOTH
                },
                &[("waiting", waiting.clone().into())],
            ),
            stage_title(lib, s, &lib.s(k::RECHECK_TITLE)),
            lib.t(k::REGULATE_TAP, &[]),
            settle_rows(),
        ),
        Step::BreakOffer => (
            lib.t(k::BREATHER_LEAD, &[]),
            stage_title(lib, s, &lib.s(k::BREATHER_TITLE)),
            lib.t(
                k::BREATHER_BODY,
                &[("break_note", lib.safety.break_note.as_str().into())],
            ),
            vec![
                break_buttons(lib, rid),
                Control::Buttons(vec![
                    b(rid, A::RateAgain, lib.s(k::RATE_AGAIN), Tone::Secondary),
                    b(rid, A::End, lib.s(k::END), Tone::Secondary),
                    b(rid, A::NotSafe, lib.s(k::NOT_SAFE), Tone::Secondary),
                ]),
            ],
        ),
        Step::OwnIt => (
            oh(k::OWN_LEAD),
            stage_title(lib, s, &texts.own_it.title),
            {
                let mut t = Text::plain(texts.own_it.intro.as_str());
                t.append(stems(lib, &texts.own_it));
                t
            },
            vec![Control::Buttons(vec![b(
                rid,
                A::WriteOwn,
                lib.s(k::WRITE_OWN),
                Tone::Primary,
            )])],
        ),
        Step::Felt => {
            // When the one who was hurt started, hearing comes first: nothing is owned yet.
            let mut body = match snap.text(TextKind::Own, 0, None) {
                Some(own) if !s.hurt_first() => lib
                    .t(
                        k::OWNS_THEIR_PART,
                        &[("owner", (&o).into()), ("own", quote(own))],
                    )
                    .para(Text::plain(texts.share.intro.as_str())),
                _ => Text::plain(texts.share.intro.as_str()),
            };
            body.append(stems(lib, &texts.share));
            (
                oh(k::FELT_LEAD),
                stage_title(lib, s, &texts.share.title),
                body,
                vec![Control::Buttons(vec![b(
                    rid,
                    A::WriteFelt,
                    lib.s(k::WRITE_FELT),
                    Tone::Primary,
                )])],
            )
        }
        Step::Reflect => {
            let n = s.reflect_loops.max(1);
            let heard = if n <= 1 {
                let felt = snap.text(TextKind::Felt, 0, None).unwrap_or("…");
                lib.t(
                    k::WHAT_IT_WAS_LIKE,
                    &[("hurt", (&h).into()), ("felt", quote(felt))],
                )
            } else {
                let missing = snap
                    .text(TextKind::Missing, i16::from(n - 1), None)
                    .unwrap_or("…");
                lib.t(
                    k::NOT_QUITE_MISSING,
                    &[("hurt", (&h).into()), ("missing", quote(missing))],
                )
            };
            let mut title = texts.reflect.title.clone();
            if n > 1 {
                title.push_str(&lib.sf(
                    k::TRY_N,
                    &[
                        ("n", &n.to_string()),
                        ("max", &cfg.max_reflect_loops.to_string()),
                    ],
                ));
            }
            let mut body = heard.para(Text::plain(texts.reflect.intro.as_str()));
            body.append(stems(lib, &texts.reflect));
            (
                oh(k::REFLECT_LEAD),
                stage_title(lib, s, &title),
                body,
                vec![Control::Buttons(vec![b(
                    rid,
                    A::WriteReflect,
                    lib.s(k::WRITE_REFLECT),
                    Tone::Primary,
                )])],
            )
        }
        Step::Confirm => {
            let n = s.reflect_loops.max(1);
            let reflection = snap
                .text(TextKind::Reflect, i16::from(n), None)
                .unwrap_or("…");
            let at_limit = n >= cfg.max_reflect_loops;
            let mut description = lib.t(
                k::CONFIRM_BODY,
                &[("owner", (&o).into()), ("reflection", quote(reflection))],
            );
            let second = if at_limit {
                description =
                    description.para(lib.t(k::CONFIRM_AT_LIMIT, &[("n", n.to_string().into())]));
                b(rid, A::GoOn, lib.s(k::GO_ON), Tone::Secondary)
            } else {
                b(rid, A::NotQuite, lib.s(k::NOT_QUITE), Tone::Secondary)
            };
            (
                oh(k::CONFIRM_LEAD),
                stage_title(lib, s, &texts.reflect.title),
                description,
                vec![Control::Buttons(vec![
                    b(rid, A::Heard, lib.s(k::HEARD), Tone::Success),
                    second,
                ])],
            )
        }
        Step::Empathy => {
            let mut body = Text::plain(texts.empathy.intro.as_str());
            body.append(stems(lib, &texts.empathy));
            (
                oh(k::EMPATHY_LEAD),
                stage_title(lib, s, &texts.empathy.title),
                body,
                vec![Control::Buttons(vec![b(
                    rid,
                    A::WriteEmpathy,
                    lib.s(k::WRITE_EMPATHY),
                    Tone::Primary,
                )])],
            )
        }
        Step::NextTime => {
            let round = s.round(TextKind::Plan);
            let mut proposed = Text::new();
            for role in Role::BOTH {
                if let Some(line) = snap.text(TextKind::Plan, round, Some(role)) {
                    proposed = proposed.para(lib.t(
                        k::PROPOSES,
                        &[("who", snap.person(role).into()), ("line", quote(line))],
                    ));
                }
            }
            let mut body = match snap.text(TextKind::Empathy, 0, None) {
                Some(e) => lib
                    .t(
                        k::EMPATHY_SHOWN,
                        &[("owner", (&o).into()), ("empathy", quote(e))],
                    )
                    .para(Text::plain(texts.next_time.intro.as_str())),
                None => Text::plain(texts.next_time.intro.as_str()),
            };
            body.append(stems(lib, &texts.next_time));
            body = body.para(lib.t(k::NEXT_TIME_HOW, &[]));
            if !proposed.is_empty() {
                body = body.para(proposed);
            }
            (
                lib.t(
                    if alone {
                        k::NEXT_TIME_LEAD_ONE
                    } else {
                        k::NEXT_TIME_LEAD_BOTH
                    },
                    &[("waiting", waiting.clone().into())],
                ),
                stage_title(lib, s, &texts.next_time.title),
                body,
                vec![Control::Buttons(vec![b(
                    rid,
                    A::WritePlan,
                    lib.s(k::WRITE_PLAN),
                    Tone::Primary,
                )])],
            )
        }
        Step::Pick => {
            let round = s.round(TextKind::Plan);
            let line = |role| snap.text(TextKind::Plan, round, Some(role)).unwrap_or("…");
            (
                ip(k::PICK_LEAD),
                stage_title(lib, s, &texts.next_time.title),
                lib.t(
                    k::PICK_BODY,
                    &[
                        ("i", (&i).into()),
                        ("p", (&p).into()),
                        ("first", quote(line(Role::Initiator))),
                        ("second", quote(line(Role::Partner))),
                    ],
                ),
                vec![Control::Buttons(vec![
                    b(rid, A::PickFirst, lib.s(k::KEEP_1), Tone::Primary),
                    b(rid, A::PickSecond, lib.s(k::KEEP_2), Tone::Primary),
                    b(rid, A::PickBoth, lib.s(k::KEEP_BOTH), Tone::Primary),
                    b(rid, A::NewLines, lib.s(k::NEW_LINES), Tone::Secondary),
                ])],
            )
        }
        Step::Agree => {
            let picked = s.picked.expect("agree has a pick");
            let round = s.round(TextKind::Plan);
            let line_of = |r| snap.text(TextKind::Plan, round, Some(r)).unwrap_or("…");
            let shown = match picked.line {
                Line::Of(r) => Text(vec![Part::Quote(line_of(r).to_string())]),
                Line::Both => lib.t(
                    k::PICK_BOTH_BODY,
                    &[
                        ("first", quote(line_of(Role::Initiator))),
                        ("second", quote(line_of(Role::Partner))),
                    ],
                ),
            };
            (
                lib.t(
                    k::AGREE_LEAD,
                    &[
                        ("other", snap.person(picked.by.other()).into()),
                        ("by", snap.person(picked.by).into()),
                    ],
                ),
                stage_title(lib, s, &texts.next_time.title),
                shown,
                vec![Control::Buttons(vec![
                    b(rid, A::Agree, lib.s(k::AGREE), Tone::Success),
                    b(rid, A::NotThis, lib.s(k::NOT_THIS), Tone::Secondary),
                ])],
            )
        }
        Step::Close => {
            let line: Arg = snap
                .agreement
                .as_ref()
                .map_or_else(|| "…".into(), |a| quote(&a.text));
            (
                lib.t(k::CLOSE_LEAD, &[("waiting", waiting.clone().into())]),
                stage_title(lib, s, &texts.close.title),
                lib.t(
                    k::CLOSE_BODY,
                    &[
                        ("agreement", line),
                        ("intro", texts.close.intro.as_str().into()),
                    ],
                ),
                vec![scale(
                    rid,
                    [A::Close1, A::Close2, A::Close3, A::Close4, A::Close5],
                    lib.s(k::DISTANT),
                    lib.s(k::CLOSE),
                )],
            )
        }
        Step::Done => return summary(snap, lib, cfg),
    };
    if !matches!(s.step, Step::Invited | Step::BreakOffer) {
        rows.push(pause_end(lib, rid));
    }
    if s.step.is_settling() {
        // "I don't feel safe" sits with the settling buttons; keep it last, on its own.
        if let Some(pos) = rows.iter().position(|r| {
            matches!(r, Control::Buttons(bs) if bs.iter().any(|b| b.id == CustomId::Repair(rid, A::NotSafe)))
        }) {
            let row = rows.remove(pos);
            rows.push(row);
        }
    }
    let mut p = panel(title, description);
    if s.step == Step::Invited {
        p.footer = Some(Text::plain(lib.safety.companion_note.as_str()));
    }
    Card {
        text: with_lead(content),
        panel: Some(p),
        controls: rows,
        notify,
        ..Card::default()
    }
}

/// Everyone the flow waits for, followed by a comma ("@a @b,"), or nothing.
fn waiting_text(snap: &Snapshot) -> Text {
    let people: Vec<PersonRef> = snap
        .repair
        .state
        .waiting_on(snap.plan_shared())
        .into_iter()
        .map(|r| snap.person(r))
        .collect();
    let mut t = Text::new();
    for (n, p) in people.iter().enumerate() {
        if n > 0 {
            t.push_plain(" ");
        }
        t.push(Part::Person(p.clone()));
    }
    if !people.is_empty() {
        t.push_plain(",");
    }
    t
}

/// The warm close: what the two of them did, and what they agreed.
fn summary(snap: &Snapshot, lib: &Library, cfg: &RepairConfig) -> Card {
    let s = &snap.repair.state;
    let (i, p) = (snap.person(Role::Initiator), snap.person(Role::Partner));
    let (o, h) = (snap.person(s.owner), snap.person(s.hurt()));
    // No counts: how many tries it took is nobody's score.
    let heard = match s.heard {
        Some(false) => lib.t(k::SUMMARY_WENT_ON, &[]),
        _ => lib.t(k::SUMMARY_HEARD, &[("hurt", (&h).into())]),
    };
    let mut body = lib.t(
        k::SUMMARY_BODY,
        &[
            ("owner", (&o).into()),
            ("hurt", (&h).into()),
            ("heard", heard.into()),
        ],
    );
    if snap.repair.follows.is_some() {
        body = body.line(lib.t(k::SUMMARY_BOTH_WAYS, &[]));
    }
    if let Some(a) = &snap.agreement {
        body = body.line(lib.t(
            k::SUMMARY_AGREED,
            &[
                ("agreement", quote(&a.text)),
                (
                    "at",
                    Arg::Instant(a.created_at + cfg.revisit_after(), TimeStyle::Relative),
                ),
            ],
        ));
    }
    let mut pn = panel(lib.t(k::SUMMARY_TITLE, &[]), body);
    pn.footer = Some(lib.t(k::SUMMARY_FOOTER, &[]));
    let card = Card::text(lib.t(k::SUMMARY_LEAD, &[("i", (&i).into()), ("p", (&p).into())]))
        .with_panel(pn);
    // One round the other way, offered once, after a round that wasn't itself the other way.
    if snap.has_follow_up || snap.repair.follows.is_some() || s.status != Status::Completed {
        card
    } else {
        card.with_buttons(vec![b(
            snap.repair.id,
            A::OtherWay,
            lib.s(k::OTHER_WAY),
            Tone::Secondary,
        )])
    }
}

/// Days later: how is the agreement going?
pub fn revisit_card(snap: &Snapshot, lib: &Library) -> Option<Card> {
    let a = snap.agreement.as_ref()?;
    let rid = snap.repair.id;
    let step = &lib.repair.revisit;
    let (i, p) = (snap.person(Role::Initiator), snap.person(Role::Partner));
    Some(Card {
        text: lib.t(k::REVISIT_LEAD, &[("i", (&i).into()), ("p", (&p).into())]),
        panel: Some(panel(
            Text::plain(step.title.as_str()),
            Text(vec![Part::Quote(a.text.clone())]).para(Text::plain(step.intro.as_str())),
        )),
        controls: vec![Control::Buttons(vec![
            b(rid, A::RevisitWell, lib.s(k::REVISIT_WELL), Tone::Success),
            b(
                rid,
                A::RevisitMixed,
                lib.s(k::REVISIT_MIXED),
                Tone::Secondary,
            ),
            b(rid, A::RevisitHard, lib.s(k::REVISIT_HARD), Tone::Secondary),
        ])],
        notify: vec![i, p],
        ..Card::default()
    })
}

/// A private draft, back to its writer, with "share" and "rewrite". Words that suggest the
/// writer may not be safe are not offered for sharing: the writer gets a gentle note, where
/// to find help, and a way to stop instead.
pub fn preview(lib: &Library, rid: RepairId, kind: TextKind, body: &str) -> Card {
    let (share, rewrite) = match kind {
        TextKind::Moment => (A::ShareMoment, None),
        TextKind::Own => (A::ShareOwn, Some(A::WriteOwn)),
        TextKind::Felt => (A::ShareFelt, Some(A::WriteFelt)),
        TextKind::Reflect => (A::ShareReflect, Some(A::WriteReflect)),
        TextKind::Missing => (A::ShareMissing, Some(A::NotQuite)),
        TextKind::Empathy => (A::ShareEmpathy, Some(A::WriteEmpathy)),
        TextKind::Plan => (A::SharePlan, Some(A::WritePlan)),
    };
    if lib.signal_in(body).is_some() {
        let mut t = lib.t(k::ONLY_YOU, &[]).para(lib.t(k::WORRYING, &[]));
        t = t.para(Text::plain(lib.safety.signal_note.as_str()));
        for part in [&lib.safety.resources, &lib.safety.self_harm] {
            if !part.trim().is_empty() {
                t = t.para(Text::plain(part.as_str()));
            }
        }
        let mut buttons = Vec::new();
        if let Some(w) = rewrite {
            buttons.push(b(rid, w, lib.s(k::REWRITE), Tone::Secondary));
        }
        if kind != TextKind::Moment {
            buttons.push(b(rid, A::NotSafe, lib.s(k::NOT_SAFE), Tone::Secondary));
        }
        return Card::text(t).with_buttons(buttons);
    }
    let mut buttons = vec![b(rid, share, lib.s(k::SHARE), Tone::Primary)];
    if let Some(w) = rewrite {
        buttons.push(b(rid, w, lib.s(k::REWRITE), Tone::Secondary));
    }
    let hint = lib.t(
        if kind == TextKind::Moment {
            k::HINT_MOMENT
        } else {
            k::HINT_DRAFT
        },
        &[],
    );
    Card::text(lib.t(k::ONLY_YOU, &[]))
        .with_panel(panel(
            lib.t(k::YOUR_WORDS, &[]),
            Text(vec![Part::Quote(body.to_string())]).para(hint),
        ))
        .with_buttons(buttons)
}

/// The public "named the moment" card.
pub fn moment_card(lib: &Library, by: &PersonRef, moment: &str) -> Card {
    Card::text(lib.t(k::NAMED_MOMENT, &[("person", by.into())])).with_panel(panel(
        lib.t(k::THE_MOMENT, &[]),
        Text(vec![Part::Quote(moment.to_string())]),
    ))
}

fn request_texts(lib: &Library, kind: TextKind) -> (String, String, Option<&RepairStep>) {
    let r = &lib.repair;
    match kind {
        TextKind::Moment => (lib.s(k::MOMENT_TITLE), lib.s(k::MOMENT_LABEL), None),
        TextKind::Own => (r.own_it.title.clone(), lib.s(k::OWN_LABEL), Some(&r.own_it)),
        TextKind::Felt => (r.share.title.clone(), lib.s(k::FELT_LABEL), Some(&r.share)),
        TextKind::Reflect => (
            r.reflect.title.clone(),
            lib.s(k::REFLECT_LABEL),
            Some(&r.reflect),
        ),
        TextKind::Missing => (lib.s(k::MISSING_TITLE), lib.s(k::MISSING_LABEL), None),
        TextKind::Empathy => (
            r.empathy.title.clone(),
            lib.s(k::EMPATHY_LABEL),
            Some(&r.empathy),
        ),
        TextKind::Plan => (
            r.next_time.title.clone(),
            lib.s(k::PLAN_LABEL),
            Some(&r.next_time),
        ),
    }
}

/// A writing request, pre-filled with the writer's draft. `max_len` makes Discord refuse
/// over-long text in the client; the flow checks again.
pub fn request(
    lib: &Library,
    rid: RepairId,
    kind: TextKind,
    draft: Option<&str>,
    nth: usize,
) -> TextRequest {
    let submit = match kind {
        TextKind::Moment => A::Start,
        TextKind::Own => A::SubmitOwn,
        TextKind::Felt => A::SubmitFelt,
        TextKind::Reflect => A::SubmitReflect,
        TextKind::Missing => A::SubmitMissing,
        TextKind::Empathy => A::SubmitEmpathy,
        TextKind::Plan => A::SubmitPlan,
    };
    let (title, label, step) = request_texts(lib, kind);
    let placeholder = match (kind, step) {
        (TextKind::Moment, _) => lib.s(k::MOMENT_PLACEHOLDER),
        (TextKind::Missing, _) => lib.s(k::MISSING_PLACEHOLDER),
        (_, Some(s)) if !s.stems.is_empty() => s.stems[nth % s.stems.len()].clone(),
        _ => lib.s(k::OWN_WORDS),
    };
    TextRequest {
        id: CustomId::Repair(rid, submit),
        title,
        fields: vec![TextField {
            key: INPUT,
            label,
            placeholder: Some(placeholder),
            value: draft.map(str::to_string),
            max_len: kind.max_len() as u16,
            required: kind != TextKind::Moment,
            long: true,
        }],
    }
}

/// The start's request for the moment, for a repair that does not exist yet: "own
/// something" keeps the request of 0.1; "be heard" asks about what hurt.
pub fn start_request(lib: &Library, rid: RepairId, hurt: bool) -> TextRequest {
    let mut req = request(lib, rid, TextKind::Moment, None, 0);
    if hurt {
        req.id = CustomId::Repair(rid, A::StartHurt);
        req.title = lib.s(k::HURT_MOMENT_TITLE);
    }
    req
}

/// `/repair`'s private question: which way does this repair go?
pub fn chooser(lib: &Library, rid: RepairId) -> Card {
    Card::text(lib.t(k::CHOOSE, &[])).with_buttons(vec![
        b(rid, A::ChooseOwn, lib.s(k::CHOOSE_OWN), Tone::Primary),
        b(rid, A::ChooseHurt, lib.s(k::CHOOSE_HURT), Tone::Primary),
    ])
}

/// After a high rating, for its rater only: a break (nobody is told why), or going on.
pub fn settle_card(lib: &Library, rid: RepairId) -> Card {
    Card {
        text: lib.t(k::SETTLE, &[]),
        controls: vec![
            break_buttons(lib, rid),
            Control::Buttons(vec![
                b(rid, A::Settled, lib.s(k::SETTLE_GO_ON), Tone::Secondary),
                b(rid, A::NotSafe, lib.s(k::NOT_SAFE), Tone::Secondary),
            ]),
        ],
        ..Card::default()
    }
}

/// The lead of a round the other way.
pub fn other_way_lead(lib: &Library, owner: &PersonRef) -> Text {
    lib.t(k::OTHER_WAY_LEAD, &[("person", owner.into())])
}

pub fn time_chooser(lib: &Library, rid: RepairId) -> Card {
    Card {
        text: lib.t(k::WHEN_BACK, &[]),
        controls: vec![break_buttons(lib, rid)],
        ..Card::default()
    }
}

pub fn end_confirm(lib: &Library, rid: RepairId) -> Card {
    Card::text(lib.t(k::END_CONFIRM, &[])).with_buttons(vec![
        b(rid, A::EndYes, lib.s(k::END_YES), Tone::Danger),
        b(rid, A::EndNo, lib.s(k::KEEP_GOING), Tone::Secondary),
    ])
}

pub fn revisit_thanks(lib: &Library, answer: RevisitAnswer) -> Text {
    lib.t(
        match answer {
            RevisitAnswer::Well => k::REVISIT_THANKS_WELL,
            RevisitAnswer::Mixed => k::REVISIT_THANKS_MIXED,
            RevisitAnswer::Hard => k::REVISIT_THANKS_HARD,
        },
        &[],
    )
}

/// A domain refusal in words.
pub fn refusal(
    r: Refusal,
    repair: &Repair,
    person: impl Fn(PersonId) -> PersonRef,
) -> crate::flows::Refusal {
    use crate::flows::Refusal as R;
    match r {
        Refusal::NotYourTurn(role) => R::with(
            k::NOT_YOUR_TURN,
            vec![("person", person(repair.user(role)).into())],
        ),
        Refusal::StepDone => R::new(k::STEP_DONE),
        Refusal::Paused(Some(at)) => R::with(
            k::REFUSE_PAUSED_UNTIL,
            vec![
                ("at", Arg::Instant(at, TimeStyle::Time)),
                ("in", Arg::Instant(at, TimeStyle::Relative)),
            ],
        ),
        Refusal::Paused(None) => R::new(k::REFUSE_PAUSED),
        Refusal::Finished(Status::Completed) => R::new(k::FINISHED_COMPLETED),
        Refusal::Finished(Status::Expired) => R::new(k::FINISHED_EXPIRED),
        Refusal::Finished(_) => R::new(k::FINISHED_ENDED),
        Refusal::NothingToShare => R::new(k::NOTHING_TO_SHARE),
        Refusal::AlreadyShared => R::new(k::ALREADY_SHARED),
        Refusal::LoopLimit => R::new(k::LOOP_LIMIT),
        Refusal::StaysPrivate => R::new(k::STAYS_PRIVATE),
    }
}

/// "alice is ready. 🌿" and the other opening lines after a change.
pub fn lead(
    lib: &Library,
    prev: &crate::domain::repair::State,
    next: &crate::domain::repair::State,
    action: crate::domain::repair::Action,
    me: &PersonRef,
) -> Text {
    use crate::domain::repair::Action;
    let with_me = |key: Key| lib.t(key, &[("person", me.into())]);
    if prev.status == Status::Paused && next.status == Status::Open {
        return with_me(k::LEAD_BACK);
    }
    if next.status == Status::Paused {
        // Neutral: a break may follow a private high rating, which nobody else may read.
        return lib.t(k::LEAD_BREAK, &[]);
    }
    match (prev.step, next.step, action) {
        (Step::Invited, Step::Regulate, _) => with_me(k::LEAD_READY),
        (Step::Regulate | Step::Recheck, Step::OwnIt | Step::Felt | Step::Reflect, _) => {
            lib.t(k::LEAD_RATED, &[])
        }
        (Step::BreakOffer, Step::Regulate, _) => lib.t(k::LEAD_RATE_AGAIN, &[]),
        (Step::Confirm, Step::Empathy, Action::Heard) => with_me(k::LEAD_HEARD),
        (Step::Confirm, Step::Empathy, _) => lib.t(k::LEAD_GO_ON, &[]),
        (Step::Pick, Step::NextTime, _) => lib.t(k::LEAD_FRESH_LINES, &[]),
        (Step::Agree, Step::Pick, _) => with_me(k::LEAD_CHOOSE_AGAIN),
        (Step::Agree, Step::Close, _) => lib.t(k::LEAD_AGREED, &[]),
        (Step::NextTime, Step::NextTime, _) => with_me(k::LEAD_PROPOSED),
        _ => Text::new(),
    }
}

/// "noted, just for you (3 of 5). Waiting for …".
pub fn noted(lib: &Library, v: u8, other: &PersonRef) -> Text {
    lib.t(
        k::NOTED,
        &[("v", v.to_string().into()), ("other", other.into())],
    )
}

/// When a repair's nudge says it will close.
pub fn nudge_lead(lib: &Library, closes: DateTime<Utc>) -> Text {
    lib.t(
        k::NUDGE,
        &[("closes", Arg::Instant(closes, TimeStyle::Relative))],
    )
}

/// The lead of a card the bot posts again because the answer that showed it was lost.
pub fn resent_lead(lib: &Library) -> Text {
    lib.t(k::RESENT, &[])
}

/// "You two already have a repair open …".
pub fn pointer_lead(lib: &Library, by: &PersonRef, since: DateTime<Utc>) -> Text {
    lib.t(
        k::POINTER,
        &[
            ("by", by.into()),
            ("since", Arg::Instant(since, TimeStyle::Relative)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_requests_fit_discord_limits() {
        let lib = Library::builtin();
        for kind in TextKind::ALL {
            let req = request(&lib, RepairId::new(), *kind, None, 0);
            assert!(
                (1..=45).contains(&req.title.chars().count()),
                "{}",
                req.title
            );
            for f in &req.fields {
                assert!((1..=45).contains(&f.label.chars().count()), "{}", f.label);
                assert!(f
                    .placeholder
                    .as_deref()
                    .is_none_or(|p| p.chars().count() <= 100));
            }
            assert!(kind.max_len() <= 4000);
        }
    }
}
