//! The repair flow as the couple sees it, and the handlers behind it: `/repair` and its
//! start modal, the invitation, each step's public card, the private draft previews and
//! choosers, the modals, the reminder / return / expiry / revisit posts (rendered here,
//! posted by `scheduler::repair`).
//!
//! Every handler re-checks against Postgres who is pressing, in which channel, and asks
//! `domain::repair::decide` whether this role may do this now. A change is saved with a
//! version check (`update ... where version = $seen`); when someone else changed the repair
//! first, the handler reads it again and decides again, so double clicks and both partners
//! at once settle into exactly one transition. A refusal writes nothing.

use std::sync::atomic::Ordering;

use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    CreateMessage, CreateModal, InputTextStyle,
};

use super::render::{
    ping, ts, COLOUR, NOT_YOUR_SPACE, NO_COUPLE_HERE, STALE_BUTTON, WRONG_CHANNEL,
};
use super::{no_pings, BotError, Ctx};
use crate::app::AppState;
use crate::config::RepairConfig;
use crate::content::{Library, RepairStep};
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CustomId, RepairAction as A};
use crate::domain::ids::{ChannelId, RepairId, UserId};
use crate::domain::repair::{
    self as dr, Action, BreakChoice, Facts, Limits, Outcome, Refusal, RevisitAnswer, Role, Show,
    State, Status, Step, TextKind, TextState, Write, STAGES,
};
use crate::store::repairs::{self, Agreement, Repair, Text};
use crate::store::{couples, people};

/// How often a handler re-reads and re-decides after losing a version race.
const ATTEMPTS: usize = 4;

/// The text input every repair modal uses.
pub const INPUT: &str = "text";

// ---------------------------------------------------------------------------------------
// What the couple reads.
// ---------------------------------------------------------------------------------------

/// Everything a view may show: the repair, only the texts its writers shared, the agreement.
pub struct Snapshot {
    pub repair: Repair,
    pub shared: Vec<Text>,
    pub agreement: Option<Agreement>,
}

impl Snapshot {
    pub async fn load(
        pool: &sqlx::PgPool,
        keys: &crate::crypto::Keyring,
        id: RepairId,
    ) -> sqlx::Result<Option<Snapshot>> {
        let Some(repair) = repairs::get(pool, id).await? else {
            return Ok(None);
        };
        let shared = repairs::shared_texts(pool, keys, id).await?;
        let agreement = repairs::agreement_for(pool, keys, id).await?;
        Ok(Some(Snapshot {
            repair,
            shared,
            agreement,
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

    fn initiator(&self) -> String {
        self.repair.initiator.mention()
    }

    fn partner(&self) -> String {
        self.repair.partner.mention()
    }

    fn who(&self, role: Role) -> String {
        self.repair.user(role).mention()
    }

    /// The people the flow waits for, minus whoever just acted: the only ones to ping.
    fn pings(&self, actor: Option<UserId>) -> Vec<UserId> {
        self.repair
            .state
            .waiting_on(self.plan_shared())
            .into_iter()
            .map(|r| self.repair.user(r))
            .filter(|u| Some(*u) != actor)
            .collect()
    }
}

/// A rendered message: text, one embed, buttons, and who it may notify.
pub struct Card {
    content: String,
    embed: Option<CreateEmbed>,
    components: Vec<CreateActionRow>,
    pings: Vec<UserId>,
}

impl Card {
    fn text(content: impl Into<String>) -> Card {
        Card {
            content: content.into(),
            embed: None,
            components: Vec::new(),
            pings: Vec::new(),
        }
    }

    /// A post in the channel (scheduled jobs).
    pub fn message(self) -> CreateMessage {
        let mut m = CreateMessage::new()
            .content(self.content)
            .components(self.components)
            .allowed_mentions(ping(&self.pings));
        if let Some(e) = self.embed {
            m = m.embed(e);
        }
        m
    }

    fn data(self, ephemeral: bool) -> CreateInteractionResponseMessage {
        let mut m = CreateInteractionResponseMessage::new()
            .content(self.content)
            .components(self.components)
            .ephemeral(ephemeral)
            .allowed_mentions(if ephemeral {
                no_pings()
            } else {
                ping(&self.pings)
            });
        if let Some(e) = self.embed {
            m = m.embed(e);
        }
        m
    }

    /// A new public message answering the interaction.
    fn public(self) -> CreateInteractionResponse {
        CreateInteractionResponse::Message(self.data(false))
    }

    /// A message only the person who pressed sees.
    fn private(self) -> CreateInteractionResponse {
        CreateInteractionResponse::Message(self.data(true))
    }

    fn followup(self) -> CreateInteractionResponseFollowup {
        let mut f = CreateInteractionResponseFollowup::new()
            .content(self.content)
            .components(self.components)
            .ephemeral(true)
            .allowed_mentions(no_pings());
        if let Some(e) = self.embed {
            f = f.embed(e);
        }
        f
    }

    fn reply(self, ephemeral: bool) -> poise::CreateReply {
        let mut r = poise::CreateReply::default()
            .content(self.content)
            .components(self.components)
            .ephemeral(ephemeral)
            .allowed_mentions(no_pings());
        if let Some(e) = self.embed {
            r = r.embed(e);
        }
        r
    }
}

fn id(repair: RepairId, a: A) -> String {
    CustomId::Repair(repair, a).encode()
}

fn button(repair: RepairId, a: A, label: &str, style: ButtonStyle) -> CreateButton {
    CreateButton::new(id(repair, a)).label(label).style(style)
}

/// Quotes a text as a block, line by line.
fn quote(text: &str) -> String {
    text.lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn stems(step: &RepairStep) -> String {
    if step.stems.is_empty() {
        return String::new();
    }
    let list = step
        .stems
        .iter()
        .map(|s| format!("• {s}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!("\n\n**Ways to begin**\n{list}")
}

fn pause_end(repair: RepairId) -> CreateActionRow {
    CreateActionRow::Buttons(vec![
        button(repair, A::Pause, "Pause", ButtonStyle::Secondary),
        button(repair, A::End, "End", ButtonStyle::Secondary),
    ])
}

fn scale(repair: RepairId, ids: [A; 5], low: &str, high: &str) -> CreateActionRow {
    CreateActionRow::Buttons(
        ids.iter()
            .enumerate()
            .map(|(i, a)| {
                let label = match i {
                    0 => format!("1 · {low}"),
                    4 => format!("5 · {high}"),
                    n => (n + 1).to_string(),
                };
                button(repair, *a, &label, ButtonStyle::Secondary)
            })
            .collect(),
    )
}

fn break_buttons(repair: RepairId) -> CreateActionRow {
    CreateActionRow::Buttons(
        BreakChoice::ALL
            .iter()
            .map(|c| {
                let (a, label) = match c {
                    BreakChoice::Minutes20 => (A::Break20, "In 20 minutes"),
                    BreakChoice::Hour => (A::Break60, "In an hour"),
                    BreakChoice::Evening => (A::BreakEvening, "This evening"),
                    BreakChoice::Tomorrow => (A::BreakTomorrow, "Tomorrow"),
                };
                button(repair, a, label, ButtonStyle::Secondary)
            })
            .collect(),
    )
}

fn stage_title(step: Step, title: &str) -> String {
    match step.stage() {
        Some(n) => format!("Step {n} of {STAGES} · {title}"),
        None => title.to_string(),
    }
}

fn embed(title: String, description: String) -> CreateEmbed {
    CreateEmbed::new()
        .colour(COLOUR)
        .title(title)
        .description(description)
}

/// The card for where the repair stands now. `lead` opens the message (what just happened);
/// `actor` is whoever caused it, who is not pinged.
pub fn card(
    snap: &Snapshot,
    lib: &Library,
    cfg: &RepairConfig,
    lead: &str,
    actor: Option<UserId>,
) -> Card {
    let r = &snap.repair;
    let s = &r.state;
    let rid = r.id;
    let texts = &lib.repair;
    let lead = if lead.is_empty() {
        String::new()
    } else {
        format!("{lead}\n")
    };
    let pings = snap.pings(actor);
    match s.status {
        Status::Paused => {
            let at = s.resume_at.unwrap_or(r.updated_at);
            return Card {
                content: format!("{lead}⏸️ Paused until {} ({}).", ts(at, 't'), ts(at, 'R')),
                embed: Some(embed(
                    "A break".into(),
                    "Take good care of yourselves in the meantime: breathe slowly, move a little, \
                     do something calming. I'll bring you both back here then.\n\n\
                     Ready sooner? Press **We're ready now**."
                        .into(),
                )),
                components: vec![CreateActionRow::Buttons(vec![
                    button(rid, A::Resume, "We're ready now", ButtonStyle::Primary),
                    button(rid, A::End, "End", ButtonStyle::Secondary),
                ])],
                pings: Vec::new(),
            };
        }
        Status::Completed => return summary(snap, cfg),
        Status::Ended => {
            let by = r
                .closed_by
                .map_or("One of you".to_string(), UserId::mention);
            return Card::text(format!(
                "{lead}{by} ended this repair for now. That's okay — stepping away is allowed. \
                 Whenever you're both ready, `/repair` starts a fresh one. 🌙"
            ));
        }
        Status::Expired => {
            return Card::text(format!(
                "{lead}This repair rested for a while, so I've closed it for now. Nothing is lost \
                 and nobody did anything wrong — `/repair` starts a fresh one whenever you're both \
                 ready. 🌙"
            ))
        }
        Status::Open => {}
    }
    let (i, p) = (snap.initiator(), snap.partner());
    let waiting = pings_text(snap);
    // Wording for a both-partners step when only one of them still has to act.
    let alone = s.waiting_on(snap.plan_shared()).len() == 1;
    let (content, title, description, mut rows) = match s.step {
        Step::Invited => (
            format!("{lead}{p}, {i} would like to repair a moment between you two. 🕊️"),
            "A repair, together".to_string(),
            format!(
                "A repair is a short, guided conversation. You both settle first; then {i} owns \
                 their part, {p} shares what it was like, and together you find one small thing \
                 that would help next time.\n\n\
                 Whatever you write stays private until you choose to share it. Either of you can \
                 pause or end at any time.\n\n\
                 Ready when you are — or take a little time; that's okay too.\n\n🛟 {}",
                lib.safety.resources
            ),
            vec![CreateActionRow::Buttons(vec![
                button(rid, A::Ready, "I'm ready", ButtonStyle::Success),
                button(rid, A::NeedTime, "I need a little time", ButtonStyle::Secondary),
                button(rid, A::End, "End", ButtonStyle::Secondary),
            ])],
        ),
        Step::Regulate => (
            format!(
                "{lead}{waiting} first, a moment for {}: how stirred up do you feel right now?",
                if alone { "yourself" } else { "yourselves" }
            ),
            stage_title(s.step, &texts.regulate.title),
            format!(
                "{}\n\nTap a number — only you will see it. **1** is calm, **5** is flooded.",
                texts.regulate.intro
            ),
            vec![scale(
                rid,
                [A::Calm1, A::Calm2, A::Calm3, A::Calm4, A::Calm5],
                "calm",
                "flooded",
            )],
        ),
        Step::BreakOffer => (
            format!("{lead}Let's take a breather first."),
            stage_title(s.step, "A short break"),
            format!(
                "At least one of you is quite stirred up right now. That's not a problem — it's a \
                 signal to pause rather than push through.\n\n{}\n\nWhen shall I bring you both back?",
                lib.safety.break_note
            ),
            vec![
                break_buttons(rid),
                CreateActionRow::Buttons(vec![
                    button(rid, A::RateAgain, "We're calmer — rate again", ButtonStyle::Secondary),
                    button(rid, A::End, "End", ButtonStyle::Secondary),
                ]),
            ],
        ),
        Step::OwnIt => (
            format!(
                "{lead}{i}, this step is yours: say plainly what you own. {p}, your turn comes right after."
            ),
            stage_title(s.step, &texts.own_it.title),
            format!("{}{}", texts.own_it.intro, stems(&texts.own_it)),
            vec![CreateActionRow::Buttons(vec![button(
                rid,
                A::WriteOwn,
                "Write what I own",
                ButtonStyle::Primary,
            )])],
        ),
        Step::Felt => {
            let own = snap.text(TextKind::Own, 0, None).unwrap_or("…");
            (
                format!("{lead}{p}, when you're ready: what was that moment like for you?"),
                stage_title(s.step, &texts.share.title),
                format!(
                    "**{i} owns their part**\n{}\n\n{}{}",
                    quote(own),
                    texts.share.intro,
                    stems(&texts.share)
                ),
                vec![CreateActionRow::Buttons(vec![button(
                    rid,
                    A::WriteFelt,
                    "Share what it was like",
                    ButtonStyle::Primary,
                )])],
            )
        }
        Step::Reflect => {
            let n = s.reflect_loops.max(1);
            let heard = if n <= 1 {
                let felt = snap.text(TextKind::Felt, 0, None).unwrap_or("…");
                format!("**What it was like for {p}**\n{}", quote(felt))
            } else {
                let missing = snap
                    .text(TextKind::Missing, i16::from(n - 1), None)
                    .unwrap_or("…");
                format!("**{p}: not quite — here's what's missing**\n{}", quote(missing))
            };
            let mut title = texts.reflect.title.clone();
            if n > 1 {
                title.push_str(&format!(" (try {n} of {})", cfg.max_reflect_loops));
            }
            (
                format!("{lead}{i}, say back what you heard, in your own words."),
                stage_title(s.step, &title),
                format!("{heard}\n\n{}{}", texts.reflect.intro, stems(&texts.reflect)),
                vec![CreateActionRow::Buttons(vec![button(
                    rid,
                    A::WriteReflect,
                    "Say back what I heard",
                    ButtonStyle::Primary,
                )])],
            )
        }
        Step::Confirm => {
            let n = s.reflect_loops.max(1);
            let reflection = snap
                .text(TextKind::Reflect, i16::from(n), None)
                .unwrap_or("…");
            let at_limit = n >= cfg.max_reflect_loops;
            let mut description = format!(
                "**What {i} heard**\n{}\n\nIf it fits, say so. If something's missing, say what — \
                 being understood matters more than getting it right first time.",
                quote(reflection)
            );
            let second = if at_limit {
                description.push_str(&format!(
                    "\n\nYou've gone round {n} times already. If it still isn't quite it, you can go \
                     on for now — understanding sometimes takes more than one conversation."
                ));
                button(rid, A::GoOn, "Let's go on for now", ButtonStyle::Secondary)
            } else {
                button(rid, A::NotQuite, "Not quite", ButtonStyle::Secondary)
            };
            (
                format!("{lead}{p}, is that it?"),
                stage_title(s.step, &texts.reflect.title),
                description,
                vec![CreateActionRow::Buttons(vec![
                    button(rid, A::Heard, "Yes, that's it", ButtonStyle::Success),
                    second,
                ])],
            )
        }
        Step::NextTime => {
            let round = s.round(TextKind::Plan);
            let mut proposed = String::new();
            for role in Role::BOTH {
                if let Some(line) = snap.text(TextKind::Plan, round, Some(role)) {
                    proposed.push_str(&format!(
                        "\n\n**{} proposes**\n{}",
                        snap.who(role),
                        quote(line)
                    ));
                }
            }
            (
                if alone {
                    format!("{lead}{waiting} your turn: propose a line for next time, in your own words.")
                } else {
                    format!(
                        "{lead}{waiting} one small thing for next time: each propose a line, in your own words."
                    )
                },
                stage_title(s.step, &texts.next_time.title),
                format!(
                    "{}{}\n\nEach of you proposes one line. Then one of you picks the line you'd \
                     both like to keep, and the other confirms it.{proposed}",
                    texts.next_time.intro,
                    stems(&texts.next_time)
                ),
                vec![CreateActionRow::Buttons(vec![button(
                    rid,
                    A::WritePlan,
                    "Propose a line",
                    ButtonStyle::Primary,
                )])],
            )
        }
        Step::Pick => {
            let round = s.round(TextKind::Plan);
            let line = |role| snap.text(TextKind::Plan, round, Some(role)).unwrap_or("…");
            (
                format!(
                    "{lead}Two ideas are on the table. {i} {p}, pick the one you'd both like to keep — the other of you then confirms."
                ),
                stage_title(s.step, &texts.next_time.title),
                format!(
                    "**1 — {i}**\n{}\n\n**2 — {p}**\n{}",
                    quote(line(Role::Initiator)),
                    quote(line(Role::Partner))
                ),
                vec![CreateActionRow::Buttons(vec![
                    button(rid, A::PickFirst, "Keep line 1", ButtonStyle::Primary),
                    button(rid, A::PickSecond, "Keep line 2", ButtonStyle::Primary),
                    button(rid, A::NewLines, "Write new lines", ButtonStyle::Secondary),
                ])],
            )
        }
        Step::Agree => {
            let picked = s.picked.expect("agree has a pick");
            let round = s.round(TextKind::Plan);
            let line = snap
                .text(TextKind::Plan, round, Some(picked.line))
                .unwrap_or("…");
            (
                format!(
                    "{lead}{}, {} picked this line. Shall we keep it?",
                    snap.who(picked.by.other()),
                    snap.who(picked.by)
                ),
                stage_title(s.step, &texts.next_time.title),
                quote(line),
                vec![CreateActionRow::Buttons(vec![
                    button(rid, A::Agree, "Yes, let's keep it", ButtonStyle::Success),
                    button(rid, A::NotThis, "Not this one", ButtonStyle::Secondary),
                ])],
            )
        }
        Step::Close => {
            let line = snap
                .agreement
                .as_ref()
                .map_or("…".to_string(), |a| quote(&a.text));
            (
                format!("{lead}{waiting} one last thing: how connected do you feel right now?"),
                stage_title(s.step, &texts.close.title),
                format!(
                    "**Your agreement**\n{line}\n\n{}\n\nTap a number — only you will see it. \
                     **1** is distant, **5** is close.",
                    texts.close.intro
                ),
                vec![scale(
                    rid,
                    [A::Close1, A::Close2, A::Close3, A::Close4, A::Close5],
                    "distant",
                    "close",
                )],
            )
        }
        Step::Done => return summary(snap, cfg),
    };
    if !matches!(s.step, Step::Invited | Step::BreakOffer) {
        rows.push(pause_end(rid));
    }
    let mut e = embed(title, description);
    if s.step == Step::Invited {
        e = e.footer(CreateEmbedFooter::new(lib.safety.companion_note.clone()));
    }
    Card {
        content,
        embed: Some(e),
        components: rows,
        pings,
    }
}

/// The mentions of everyone the flow waits for, followed by a comma ("<@a> <@b>,"), or an
/// empty string.
fn pings_text(snap: &Snapshot) -> String {
    let names: Vec<String> = snap
        .repair
        .state
        .waiting_on(snap.plan_shared())
        .into_iter()
        .map(|r| snap.who(r))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("{},", names.join(" "))
    }
}

/// The warm close: what the two of them did, and what they agreed.
fn summary(snap: &Snapshot, cfg: &RepairConfig) -> Card {
    let s = &snap.repair.state;
    let (i, p) = (snap.initiator(), snap.partner());
    let heard = match (s.heard, s.reflect_loops) {
        (Some(false), _) => {
            "and you chose to go on for now — understanding can take more than one \
                             conversation"
                .to_string()
        }
        (_, 0 | 1) => format!("and {p} felt heard"),
        (_, n) => format!("and {p} felt heard after {n} tries"),
    };
    let mut lines = vec![
        "You stayed with something hard, together.".to_string(),
        String::new(),
        format!("• {i} owned their part"),
        format!("• {p} shared what it was like"),
        format!("• {i} reflected it back, {heard}"),
    ];
    if let Some(a) = &snap.agreement {
        lines.push("• You agreed on one thing for next time:".into());
        lines.push(quote(&a.text));
        lines.push(String::new());
        lines.push(format!(
            "I'll ask how it's going {}.",
            ts(a.created_at + cfg.revisit_after, 'R')
        ));
    }
    Card {
        content: format!("{i} {p}, you did it. 💛"),
        embed: Some(embed("Repair complete".into(), lines.join("\n")).footer(
            CreateEmbedFooter::new(
                "Trust grows back through small moments, repeated. Thank you both.",
            ),
        )),
        components: Vec::new(),
        pings: Vec::new(),
    }
}

/// Days later: how is the agreement going?
pub fn revisit_card(snap: &Snapshot, lib: &Library) -> Option<Card> {
    let a = snap.agreement.as_ref()?;
    let rid = snap.repair.id;
    let step = &lib.repair.revisit;
    Some(Card {
        content: format!(
            "{} {}, a small check-in about what you agreed on after your repair. How is it going?",
            snap.initiator(),
            snap.partner()
        ),
        embed: Some(embed(
            step.title.clone(),
            format!("{}\n\n{}", quote(&a.text), step.intro),
        )),
        components: vec![CreateActionRow::Buttons(vec![
            button(rid, A::RevisitWell, "Going well", ButtonStyle::Success),
            button(rid, A::RevisitMixed, "Mixed", ButtonStyle::Secondary),
            button(rid, A::RevisitHard, "Hard to keep", ButtonStyle::Secondary),
        ])],
        pings: vec![snap.repair.initiator, snap.repair.partner],
    })
}

fn preview(rid: RepairId, kind: TextKind, body: &str) -> Card {
    let (share, rewrite) = match kind {
        TextKind::Moment => (A::ShareMoment, None),
        TextKind::Own => (A::ShareOwn, Some(A::WriteOwn)),
        TextKind::Felt => (A::ShareFelt, Some(A::WriteFelt)),
        TextKind::Reflect => (A::ShareReflect, Some(A::WriteReflect)),
        TextKind::Missing => (A::ShareMissing, Some(A::NotQuite)),
        TextKind::Plan => (A::SharePlan, Some(A::WritePlan)),
    };
    let mut buttons = vec![button(
        rid,
        share,
        "Share in the channel",
        ButtonStyle::Primary,
    )];
    if let Some(w) = rewrite {
        buttons.push(button(rid, w, "Rewrite", ButtonStyle::Secondary));
    }
    let hint = if kind == TextKind::Moment {
        "You can share it in the channel if you'd like your partner to see it, or keep it to yourself."
    } else {
        "Share it in the channel when it feels right, or rewrite it first."
    };
    Card {
        content: "**Only you can see this for now.**".into(),
        embed: Some(embed(
            "Your words".into(),
            format!("{}\n\n{hint}", quote(body)),
        )),
        components: vec![CreateActionRow::Buttons(buttons)],
        pings: Vec::new(),
    }
}

fn modal_texts(lib: &Library, kind: TextKind) -> (&str, &'static str, Option<&RepairStep>) {
    let r = &lib.repair;
    match kind {
        TextKind::Moment => (
            "What would you like to repair?",
            "The moment, in a few words",
            None,
        ),
        TextKind::Own => (&r.own_it.title, "What I own", Some(&r.own_it)),
        TextKind::Felt => (&r.share.title, "What it was like for me", Some(&r.share)),
        TextKind::Reflect => (&r.reflect.title, "What I heard", Some(&r.reflect)),
        TextKind::Missing => ("Not quite — what's missing?", "What's missing", None),
        TextKind::Plan => (
            &r.next_time.title,
            "One line for next time",
            Some(&r.next_time),
        ),
    }
}

/// A writing modal, pre-filled with the writer's draft. `max_length` makes Discord refuse
/// over-long text in the client; the handler checks again.
fn modal(
    rid: RepairId,
    kind: TextKind,
    lib: &Library,
    draft: Option<&str>,
    nth: usize,
) -> CreateModal {
    let submit = match kind {
        TextKind::Moment => A::Start,
        TextKind::Own => A::SubmitOwn,
        TextKind::Felt => A::SubmitFelt,
        TextKind::Reflect => A::SubmitReflect,
        TextKind::Missing => A::SubmitMissing,
        TextKind::Plan => A::SubmitPlan,
    };
    let (title, label, step) = modal_texts(lib, kind);
    let placeholder = match (kind, step) {
        (TextKind::Moment, _) => "Only you see this, unless you choose to share it.".to_string(),
        (TextKind::Missing, _) => "What I most need you to hear is…".to_string(),
        (_, Some(s)) if !s.stems.is_empty() => s.stems[nth % s.stems.len()].clone(),
        _ => "In your own words…".to_string(),
    };
    let mut input = CreateInputText::new(InputTextStyle::Paragraph, label, INPUT)
        .placeholder(placeholder)
        .max_length(kind.max_len() as u16)
        .required(kind != TextKind::Moment);
    if let Some(d) = draft {
        input = input.value(d);
    }
    CreateModal::new(id(rid, submit), title).components(vec![CreateActionRow::InputText(input)])
}

fn time_chooser(rid: RepairId) -> Card {
    Card {
        content: "Take the time you need. When shall I bring you both back?".into(),
        embed: None,
        components: vec![break_buttons(rid)],
        pings: Vec::new(),
    }
}

fn end_confirm(rid: RepairId) -> Card {
    Card {
        content: "End this repair for now? What was shared stays where it is, and nothing more \
                  gets posted. You can always start again with `/repair`."
            .into(),
        embed: None,
        components: vec![CreateActionRow::Buttons(vec![
            button(rid, A::EndYes, "Yes, end it", ButtonStyle::Danger),
            button(rid, A::EndNo, "Keep going", ButtonStyle::Secondary),
        ])],
        pings: Vec::new(),
    }
}

fn revisit_thanks(answer: RevisitAnswer) -> &'static str {
    match answer {
        RevisitAnswer::Well => {
            "Thank you — noted. 🌱 Noticing what works is how it sticks; maybe tell each other what helped."
        }
        RevisitAnswer::Mixed => {
            "Thank you — noted. Mixed is honest, and normal. It might help to talk about when it was easier and when it was harder."
        }
        RevisitAnswer::Hard => {
            "Thank you for saying so. An agreement can be adjusted — that's part of keeping it, not failing it. `/repair` is here if you'd like to talk it through again."
        }
    }
}

pub fn refusal_text(r: Refusal, repair: &Repair) -> String {
    match r {
        Refusal::NotYourTurn(role) => format!(
            "This step is {}'s to answer — your turn will come. Nothing was changed.",
            repair.user(role).mention()
        ),
        Refusal::StepDone => "That step is already done — the repair has moved on, and the newest \
                              repair message has what's next. Nothing was changed."
            .into(),
        Refusal::Paused(at) => match at {
            Some(at) => format!(
                "This repair is paused until {} ({}). Press **We're ready now** on the pause \
                 message to come back sooner. Nothing was changed.",
                ts(at, 't'),
                ts(at, 'R')
            ),
            None => "This repair is paused. Nothing was changed.".into(),
        },
        Refusal::Finished(Status::Completed) => {
            "This repair is complete. 💛 `/repair` starts a new one whenever you need it.".into()
        }
        Refusal::Finished(Status::Expired) => "This repair closed after resting for a while. \
                                               `/repair` starts a fresh one whenever you're both ready."
            .into(),
        Refusal::Finished(_) => {
            "This repair was ended. `/repair` starts a fresh one whenever you're both ready.".into()
        }
        Refusal::NothingToShare => {
            "There's nothing to share yet — write it first. Nothing was changed.".into()
        }
        Refusal::AlreadyShared => {
            "You've already shared this — it's in the channel. Nothing was changed.".into()
        }
        Refusal::LoopLimit => {
            "You've gone round a few times already — let's go on for now. Nothing was changed."
                .into()
        }
    }
}

const BUSY: &str = "You both pressed at the same moment. Take a look at the newest repair message \
                    and try again. Nothing was changed.";
const EMPTY: &str = "That looks empty — a few words are enough. Nothing was saved.";

fn too_long(max: usize) -> String {
    format!(
        "That's longer than I can keep here ({max} characters at most). Please shorten it and send \
         it again — nothing was saved."
    )
}

/// Tidies whitespace only: trims, and keeps at most one blank line in a row. Words are never
/// cut; over-long text is refused instead.
pub fn tidy(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.trim().lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_some_and(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------------------

/// `/repair`: points to an open repair, or opens the start modal (a modal must be the first
/// response, so nothing is written until it is submitted).
pub async fn command(ctx: Ctx<'_>, couple: &Couple) -> Result<(), BotError> {
    let state = ctx.data();
    let user = UserId(ctx.author().id.get());
    if couple.other(user).is_none() {
        return Err(BotError::user(NO_COUPLE_HERE));
    }
    if let Some(open) = repairs::open_for(&state.pool, couple.id).await? {
        let reply = pointer(state, open.id).await?;
        ctx.send(reply.reply(true)).await?;
        return Ok(());
    }
    let poise::Context::Application(app) = ctx else {
        return Err(BotError::user(super::render::DM_REFUSAL));
    };
    let m = modal(RepairId::new(), TextKind::Moment, &state.content, None, 0);
    app.interaction
        .create_response(ctx.http(), CreateInteractionResponse::Modal(m))
        .await?;
    app.has_sent_initial_response.store(true, Ordering::SeqCst);
    Ok(())
}

/// "You already have one open": the current step, privately, with its buttons.
async fn pointer(state: &AppState, id: RepairId) -> Result<Card, BotError> {
    let snap = Snapshot::load(&state.pool, &state.config.privacy.keys, id)
        .await?
        .ok_or_else(|| BotError::user(STALE_BUTTON))?;
    let lead = format!(
        "You two already have a repair open, started by {} {}. Here's where you are:",
        snap.initiator(),
        ts(snap.repair.created_at, 'R')
    );
    Ok(card(
        &snap,
        &state.content,
        &state.config.repair,
        &lead,
        None,
    ))
}

/// What a modal submit answers with: the response, and maybe a private followup.
pub type ModalAnswer = (
    CreateInteractionResponse,
    Option<CreateInteractionResponseFollowup>,
);

/// The start modal's submit: creates the repair and invites the partner. The repair id came
/// with the modal, so a submit that arrives twice creates it once.
async fn on_start(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    rid: RepairId,
    moment: &str,
) -> Result<ModalAnswer, BotError> {
    let Some(couple) = couples::live_in_channel(&state.pool, channel).await? else {
        return Err(BotError::user(NO_COUPLE_HERE));
    };
    if !couple.is_partner(user) {
        return Err(BotError::user(NOT_YOUR_SPACE));
    }
    let Some(partner) = couple.other(user).map(|p| p.user) else {
        return Err(BotError::user(NO_COUPLE_HERE));
    };
    if moment.chars().count() > dr::MAX_MOMENT {
        return Err(BotError::user(too_long(dr::MAX_MOMENT)));
    }
    let moment = tidy(moment);
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if !repairs::create(&mut *tx, rid, couple.id, user, partner, now).await? {
        drop(tx);
        return match repairs::open_for(&state.pool, couple.id).await? {
            Some(open) => Ok((pointer(state, open.id).await?.private(), None)),
            None => Err(BotError::user(STALE_BUTTON)),
        };
    }
    if !moment.is_empty() {
        repairs::save_draft(
            &mut *tx,
            &state.config.privacy.keys,
            rid,
            user,
            TextKind::Moment,
            0,
            &moment,
            now,
        )
        .await?;
    }
    crate::scheduler::repair::plan_activity(&mut tx, &state.config.repair, couple.id, rid, 0, now)
        .await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, repair_id = %rid, "repair started");
    let snap = Snapshot::load(&state.pool, &state.config.privacy.keys, rid)
        .await?
        .ok_or_else(|| BotError::user(STALE_BUTTON))?;
    let invite = card(&snap, &state.content, &state.config.repair, "", Some(user));
    let followup = (!moment.is_empty()).then(|| preview(rid, TextKind::Moment, &moment).followup());
    Ok((invite.public(), followup))
}

/// Everything a handler starts from, already checked: the repair belongs to the couple bound
/// to this channel, and the person pressing is one of them.
async fn authorise(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    rid: RepairId,
) -> Result<(Couple, Repair, Role), BotError> {
    let Some(repair) = repairs::get(&state.pool, rid).await? else {
        return Err(BotError::user(STALE_BUTTON));
    };
    let Some(couple) = couples::get(&state.pool, repair.couple, true).await? else {
        return Err(BotError::user(STALE_BUTTON));
    };
    if couple.channel != channel {
        return Err(BotError::user(WRONG_CHANNEL));
    }
    if !couple.is_partner(user) {
        return Err(BotError::user(NOT_YOUR_SPACE));
    }
    let role = repair
        .role_of(user)
        .ok_or_else(|| BotError::user(NOT_YOUR_SPACE))?;
    Ok((couple, repair, role))
}

fn text_state(t: Option<&Text>) -> TextState {
    match t {
        None => TextState::None,
        Some(t) if t.shared => TextState::Shared,
        Some(_) => TextState::Draft,
    }
}

/// A button on a repair message.
pub async fn on_component(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    rid: RepairId,
    action: A,
) -> Result<CreateInteractionResponse, BotError> {
    let Some(action) = Action::from_custom(action) else {
        return Err(BotError::user(STALE_BUTTON));
    };
    act(state, user, channel, rid, action, None).await
}

/// A repair modal's submit (`text` is the input's value).
pub async fn on_modal(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    rid: RepairId,
    action: A,
    text: &str,
) -> Result<ModalAnswer, BotError> {
    match Action::from_custom(action) {
        None => on_start(state, user, channel, rid, text).await,
        Some(a @ Action::Submit(_)) => {
            Ok((act(state, user, channel, rid, a, Some(text)).await?, None))
        }
        Some(_) => Err(BotError::user(STALE_BUTTON)),
    }
}

/// Decides and, for a change, saves it with a version check; re-reads and decides again when
/// someone else changed the repair in between.
async fn act(
    state: &AppState,
    user: UserId,
    channel: ChannelId,
    rid: RepairId,
    action: Action,
    text: Option<&str>,
) -> Result<CreateInteractionResponse, BotError> {
    let (couple, mut repair, role) = authorise(state, user, channel, rid).await?;
    let cfg = &state.config.repair;
    let zone = people::zone(&state.pool, user)
        .await?
        .unwrap_or_else(|| couple.home_zone());
    let other = repair.user(role.other());
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            repair = repairs::get(&state.pool, rid)
                .await?
                .ok_or_else(|| BotError::user(STALE_BUTTON))?;
        }
        let now = state.clock.now();
        let s = repair.state.clone();
        let mut facts = Facts::default();
        if let Some(kind) = action.text() {
            let mine = repairs::text(
                &state.pool,
                &state.config.privacy.keys,
                rid,
                user,
                kind,
                s.round(kind),
            )
            .await?;
            facts.mine = text_state(mine.as_ref());
            if kind == TextKind::Plan {
                let theirs = repairs::text(
                    &state.pool,
                    &state.config.privacy.keys,
                    rid,
                    other,
                    kind,
                    s.round(kind),
                )
                .await?;
                facts.other_plan = text_state(theirs.as_ref());
            }
        }
        if matches!(action, Action::Revisit(_)) {
            facts.has_agreement =
                repairs::agreement_for(&state.pool, &state.config.privacy.keys, rid)
                    .await?
                    .is_some();
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
            Err(Refusal::StepDone) if matches!(action, Action::Submit(_)) => {
                return Err(BotError::user(
                    "This step has already moved on, so I didn't keep that text. Nothing was changed.",
                ))
            }
            Err(r) => return Err(BotError::user(refusal_text(r, &repair))),
        };
        let (next, write) = match outcome {
            Outcome::Show(show) => return self::show(state, &repair, user, show).await,
            Outcome::Revisit(answer) => {
                let agreement =
                    repairs::agreement_for(&state.pool, &state.config.privacy.keys, rid)
                        .await?
                        .ok_or_else(|| BotError::user(STALE_BUTTON))?;
                repairs::save_revisit(&state.pool, agreement.id, user, answer, now).await?;
                tracing::info!(couple_id = %couple.id, repair_id = %rid, answer = answer.as_str(), "agreement revisited");
                return Ok(Card::text(revisit_thanks(answer)).private());
            }
            Outcome::Change { next, write } => (next, write),
        };
        // Text from a modal is checked before anything is written.
        let body = match write {
            Write::Draft(kind) => {
                let raw = text.unwrap_or_default();
                if raw.chars().count() > kind.max_len() {
                    return Err(BotError::user(too_long(kind.max_len())));
                }
                let body = tidy(raw);
                if body.is_empty() {
                    return Err(BotError::user(EMPTY));
                }
                Some(body)
            }
            _ => None,
        };
        let mut tx = state.pool.begin().await?;
        // The version check comes first: it also locks the row until commit, so everything
        // below happens for exactly one of any racing clicks.
        if !repairs::save(&mut *tx, rid, repair.version, &next, Some(user), now).await? {
            drop(tx);
            continue;
        }
        let version = repair.version + 1;
        match write {
            Write::None => {}
            Write::Draft(kind) => {
                let body = body.as_deref().unwrap_or_default();
                repairs::save_draft(
                    &mut *tx,
                    &state.config.privacy.keys,
                    rid,
                    user,
                    kind,
                    s.round(kind),
                    body,
                    now,
                )
                .await?;
            }
            Write::Shared(kind) => {
                repairs::mark_shared(&mut *tx, rid, user, kind, s.round(kind), now).await?;
            }
            Write::Agreement(line) => {
                let round = s.round(TextKind::Plan);
                let chosen = repairs::text(
                    &mut *tx,
                    &state.config.privacy.keys,
                    rid,
                    repair.user(line),
                    TextKind::Plan,
                    round,
                )
                .await?
                .ok_or_else(|| BotError::internal(anyhow::anyhow!("picked line missing")))?;
                let agreement = repairs::create_agreement(
                    &mut *tx,
                    &state.config.privacy.keys,
                    couple.id,
                    rid,
                    &chosen.body,
                    now,
                )
                .await?;
                crate::scheduler::repair::plan_revisit(
                    &mut tx, cfg, couple.id, rid, agreement, now,
                )
                .await?;
                tracing::info!(couple_id = %couple.id, repair_id = %rid, agreement_id = %agreement, "agreement stored");
            }
        }
        crate::scheduler::repair::plan_after_change(
            &mut tx, cfg, couple.id, rid, &s, &next, version, now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            couple_id = %couple.id,
            repair_id = %rid,
            step = next.step.as_str(),
            status = next.status.as_str(),
            version,
            "repair changed"
        );
        return respond(state, rid, user, role, &s, &next, write, action).await;
    }
    Err(BotError::user(BUSY))
}

/// Something shown without a change.
async fn show(
    state: &AppState,
    repair: &Repair,
    user: UserId,
    show: Show,
) -> Result<CreateInteractionResponse, BotError> {
    Ok(match show {
        Show::Modal(kind) => {
            let round = repair.state.round(kind);
            let draft = repairs::text(
                &state.pool,
                &state.config.privacy.keys,
                repair.id,
                user,
                kind,
                round,
            )
            .await?;
            CreateInteractionResponse::Modal(modal(
                repair.id,
                kind,
                &state.content,
                draft.as_ref().map(|t| t.body.as_str()),
                repair.version as usize,
            ))
        }
        Show::TimeChooser => time_chooser(repair.id).private(),
        Show::EndConfirm => end_confirm(repair.id).private(),
        Show::KeepGoing => CreateInteractionResponse::UpdateMessage(
            CreateInteractionResponseMessage::new()
                .content("Okay — carrying on. 💛")
                .components(vec![])
                .allowed_mentions(no_pings()),
        ),
    })
}

/// What the person sees after a saved change: a private note while the step waits for the
/// other partner, otherwise the new state as a public message.
#[allow(clippy::too_many_arguments)]
async fn respond(
    state: &AppState,
    rid: RepairId,
    user: UserId,
    role: Role,
    prev: &State,
    next: &State,
    write: Write,
    action: Action,
) -> Result<CreateInteractionResponse, BotError> {
    let snap = Snapshot::load(&state.pool, &state.config.privacy.keys, rid)
        .await?
        .ok_or_else(|| BotError::user(STALE_BUTTON))?;
    let lib = &state.content;
    let cfg = &state.config.repair;
    let other = snap.who(role.other());
    let moved = prev.step != next.step || prev.status != next.status;
    if !moved {
        match (action, write) {
            (_, Write::Draft(kind)) => {
                let round = prev.round(kind);
                let draft = repairs::text(
                    &state.pool,
                    &state.config.privacy.keys,
                    rid,
                    user,
                    kind,
                    round,
                )
                .await?
                .ok_or_else(|| BotError::user(STALE_BUTTON))?;
                return Ok(preview(rid, kind, &draft.body).private());
            }
            (_, Write::Shared(TextKind::Moment)) => {
                let moment = snap.text(TextKind::Moment, 0, None).unwrap_or("…");
                return Ok(Card {
                    content: format!("{} named the moment they'd like to repair:", user.mention()),
                    embed: Some(embed("The moment".into(), quote(moment))),
                    components: Vec::new(),
                    pings: Vec::new(),
                }
                .public());
            }
            (Action::Rate(v), _) => {
                return Ok(Card::text(format!(
                    "Thank you — noted, just for you ({v} of 5). Waiting for {other}."
                ))
                .private())
            }
            (Action::Connect(v), _) => {
                return Ok(Card::text(format!(
                    "Thank you — noted, just for you ({v} of 5). Waiting for {other}."
                ))
                .private())
            }
            _ => {}
        }
    }
    let lead = lead(prev, next, action, user);
    Ok(card(&snap, lib, cfg, &lead, Some(user)).public())
}

/// The opening line of a public message after a change: what just happened.
fn lead(prev: &State, next: &State, action: Action, user: UserId) -> String {
    let me = user.mention();
    if prev.status == Status::Paused && next.status == Status::Open {
        return format!("{me} is ready to go on. Welcome back. 🌿");
    }
    if next.status == Status::Paused {
        return format!("{me} asked for a break — that's a good call.");
    }
    match (prev.step, next.step, action) {
        (Step::Invited, Step::Regulate, _) => format!("{me} is ready. 🌿"),
        (Step::Regulate, Step::OwnIt | Step::BreakOffer, _) => {
            "Thank you both for checking in with yourselves.".into()
        }
        (Step::BreakOffer, Step::Regulate, _) => "Let's check in with yourselves once more.".into(),
        (Step::Confirm, Step::NextTime, Action::Heard) => {
            format!("{me} feels heard. 💛 Thank you both.")
        }
        (Step::Confirm, Step::NextTime, _) => "Okay — let's go on for now.".into(),
        (Step::Pick, Step::NextTime, _) => "Fresh lines, then.".into(),
        (Step::Agree, Step::Pick, _) => format!("{me} would like to choose again."),
        (Step::Agree, Step::Close, _) => "Agreed. 🤝".into(),
        (Step::NextTime, Step::NextTime, _) => format!("{me} proposed a line."),
        _ => String::new(),
    }
}

/// The card a scheduled post shows for where a repair stands (reminder, return).
pub async fn scheduled_card(
    state: &AppState,
    rid: RepairId,
    lead: &str,
) -> sqlx::Result<Option<(Snapshot, Card)>> {
    let Some(snap) = Snapshot::load(&state.pool, &state.config.privacy.keys, rid).await? else {
        return Ok(None);
    };
    let c = card(&snap, &state.content, &state.config.repair, lead, None);
    Ok(Some((snap, c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_trims_and_keeps_words() {
        assert_eq!(tidy("  hello \n\n\n\nworld  "), "hello\n\nworld");
        assert_eq!(tidy(" \n "), "");
        assert_eq!(quote("a\n\nb"), "> a\n> \n> b");
    }

    #[test]
    fn modals_fit_discord_limits() {
        let lib = Library::builtin();
        for kind in TextKind::ALL {
            let (title, label, _) = modal_texts(&lib, *kind);
            assert!((1..=45).contains(&title.chars().count()), "{title}");
            assert!((1..=45).contains(&label.chars().count()), "{label}");
            assert!(kind.max_len() <= 4000);
        }
    }
}
