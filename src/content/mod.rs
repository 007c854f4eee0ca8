//! The prompt library: the texts Attune posts, loaded from the human-editable TOML files in
//! `content/` and checked before use.
//!
//! This module owns:
//! - the typed library ([`Library`]: micro-attunement prompts, check-in questions, recap
//!   suggestions, repair-flow texts, safety texts) and the names of its concepts, slots and
//!   categories;
//! - loading it from a directory ([`Library::load_dir`]) or from the copy compiled into the
//!   binary ([`Library::builtin`]);
//! - checking it ([`Library::check`]): unique ids, known names and placeholders, texts that stay
//!   within Discord's limits once placeholders are expanded, no duplicates, no empty category;
//! - placeholder expansion ([`expand`]) and the `attune content check` command
//!   ([`check_command`]).
//!
//! It knows nothing about Discord, the database or scheduling: callers pick texts from a
//! [`Library`] and render them.
//!
//! Files are recognised by their top-level tables, not by their names: `[[prompt]]`,
//! `[[question]]`, `[[suggestion]]`, `[step.NAME]` and `[safety]`. A host can therefore split
//! the library or add files (say `micro-extra.toml` with more `[[prompt]]`s).

mod check;
pub mod copy;
mod load;
pub mod similar;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

/// The micro-attunement concepts, in the order they are listed to users.
pub const MICRO_CONCEPTS: &[&str] = &[
    "feel_find_reflect",
    "body_cues",
    "listen_or_help",
    "self_attunement",
    "gratitude",
    "love_languages",
    "bids",
    "screen_free",
    "small_wins",
    "i_statements",
    "curiosity",
    "staying_with_emotion",
    "calming_together",
    "small_repairs",
    "rituals",
    "reaching_in",
    "making_space",
    "safe_ground",
];

/// How much a question or prompt asks: light ones suit a light day.
pub const TIERS: &[&str] = &["light", "deeper"];

/// Where a micro prompt can be done: with the partner in the room, apart, or either way.
pub const SETTINGS: &[&str] = &["any", "together", "apart"];

/// The ways of receiving care a partner can pick (love languages).
pub const CARE_WAYS: &[&str] = &["words", "time", "service", "gifts", "touch"];

/// The four parts of the weekly check-in.
pub const WEEKLY_THEMES: &[&str] = &["appreciation", "went_well", "talk_about", "need_ahead"];

/// The check-in slots a question can belong to.
pub const QUESTION_SLOTS: &[&str] = &["morning", "evening", "weekly"];

/// The kinds of week a recap suggestion can fit.
pub const SUGGESTION_CATEGORIES: &[&str] = &[
    "few_checkins",
    "after_repair",
    "many_matches",
    "few_matches",
    "quiet_week",
    "steady",
];

/// The steps of the repair flow, in flow order (the `NAME` in `[step.NAME]`).
pub const REPAIR_STEPS: &[&str] = &[
    "regulate",
    "own_it",
    "share",
    "reflect",
    "empathy",
    "next_time",
    "close",
    "revisit",
];

/// The whole prompt library.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Library {
    pub micro: Vec<MicroPrompt>,
    pub questions: Vec<Question>,
    pub suggestions: Vec<Suggestion>,
    pub repair: RepairTexts,
    pub safety: SafetyTexts,
    /// The flows' copy by `section.name` (see [`copy`]).
    pub text: std::collections::BTreeMap<String, String>,
    /// A friendly label per micro concept (`[concept.NAME] label = "…"`).
    pub concept_labels: std::collections::BTreeMap<String, String>,
    /// The feeling words on the check-in card (`[feelings] words = […]`).
    pub feelings: Vec<String>,
    /// Words that suggest danger or self-harm (`[signals]`).
    pub signals: Signals,
}

/// Phrases that suggest someone may not be safe, matched on word boundaries, case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    #[serde(default)]
    pub danger: Vec<String>,
    #[serde(default)]
    pub self_harm: Vec<String>,
}

/// A tiny nudge sent to one partner (`[[prompt]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroPrompt {
    pub id: String,
    /// One of [`MICRO_CONCEPTS`].
    pub concept: String,
    pub text: String,
    /// A short second line: a tip or a way to phrase it.
    #[serde(default)]
    pub follow_up: Option<String>,
    /// True when the prompt is about the other partner (then it uses `{partner}`).
    #[serde(default)]
    pub about_partner: bool,
    /// One of [`TIERS`]; light prompts are the ones a light day draws from.
    #[serde(default = "default_tier")]
    pub tier: String,
    /// One of [`SETTINGS`].
    #[serde(default = "default_setting")]
    pub setting: String,
    /// For love-language prompts: the way of caring it draws on (one of [`CARE_WAYS`]).
    #[serde(default)]
    pub care: Option<String>,
}

fn default_tier() -> String {
    "light".into()
}

fn default_setting() -> String {
    "any".into()
}

/// A check-in "question of the day" (`[[question]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    /// One of [`QUESTION_SLOTS`].
    pub slot: String,
    pub text: String,
    /// One of [`TIERS`].
    #[serde(default = "default_tier")]
    pub tier: String,
    /// For weekly questions: which part of the weekly check-in (one of [`WEEKLY_THEMES`]).
    #[serde(default)]
    pub theme: Option<String>,
}

/// A suggestion for next week at the end of a recap (`[[suggestion]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suggestion {
    pub id: String,
    /// One of [`SUGGESTION_CATEGORIES`].
    pub category: String,
    pub text: String,
}

/// The texts of one repair step (`[step.NAME]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairStep {
    /// At most 45 characters: it doubles as a modal title.
    pub title: String,
    pub intro: String,
    /// Sentence starters, at most 100 characters each.
    pub stems: Vec<String>,
}

/// The texts of every repair step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairTexts {
    pub regulate: RepairStep,
    pub own_it: RepairStep,
    pub share: RepairStep,
    pub reflect: RepairStep,
    pub empathy: RepairStep,
    pub next_time: RepairStep,
    pub close: RepairStep,
    pub revisit: RepairStep,
}

impl RepairTexts {
    /// Every step with its name, in flow order (the order of [`REPAIR_STEPS`]).
    pub fn steps(&self) -> [(&'static str, &RepairStep); 8] {
        [
            ("regulate", &self.regulate),
            ("own_it", &self.own_it),
            ("share", &self.share),
            ("reflect", &self.reflect),
            ("empathy", &self.empathy),
            ("next_time", &self.next_time),
            ("close", &self.close),
            ("revisit", &self.revisit),
        ]
    }

    /// The step called `name` (one of [`REPAIR_STEPS`]).
    pub fn step(&self, name: &str) -> Option<&RepairStep> {
        self.steps()
            .into_iter()
            .find(|(step, _)| *step == name)
            .map(|(_, texts)| texts)
    }

    fn step_mut(&mut self, name: &str) -> Option<&mut RepairStep> {
        match name {
            "regulate" => Some(&mut self.regulate),
            "own_it" => Some(&mut self.own_it),
            "share" => Some(&mut self.share),
            "reflect" => Some(&mut self.reflect),
            "empathy" => Some(&mut self.empathy),
            "next_time" => Some(&mut self.next_time),
            "close" => Some(&mut self.close),
            "revisit" => Some(&mut self.revisit),
            _ => None,
        }
    }
}

/// Safety lines (`[safety]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyTexts {
    /// Attune is a practice companion, not therapy.
    pub companion_note: String,
    /// Where to find professional help or emergency services; hosts adapt it.
    pub resources: String,
    /// What to do when flooded: pause, breathe, come back at a set time.
    pub break_note: String,
    /// For someone who may be thinking of hurting themselves; hosts put local lines here.
    #[serde(default)]
    pub self_harm: String,
    /// Shown only to the person who said they don't feel safe.
    #[serde(default)]
    pub unsafe_private: String,
    /// Shown privately when what someone typed suggests danger or self-harm.
    #[serde(default)]
    pub signal_note: String,
    /// The neutral public line when a flow stops for safety.
    #[serde(default)]
    pub paused_public: String,
    /// `/attune help`.
    #[serde(default)]
    pub help: String,
}

/// One problem in the library: which file, which entry (when there is one), what is wrong.
///
/// Displays as `content/micro.toml, entry bc-03: text is empty`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {problem}", entry_suffix(.entry))]
pub struct ContentError {
    pub file: String,
    pub entry: Option<String>,
    pub problem: String,
}

fn entry_suffix(entry: &Option<String>) -> String {
    match entry {
        Some(entry) => format!(", entry {entry}"),
        None => String::new(),
    }
}

impl ContentError {
    fn new(file: &str, entry: Option<&str>, problem: impl Into<String>) -> Self {
        ContentError {
            file: file.to_owned(),
            entry: entry.map(str::to_owned),
            problem: problem.into(),
        }
    }
}

/// Every problem found while loading or checking a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentErrors(pub Vec<ContentError>);

impl fmt::Display for ContentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => return write!(f, "no problems in the content library"),
            1 => write!(f, "1 problem in the content library:")?,
            n => write!(f, "{n} problems in the content library:")?,
        }
        for error in &self.0 {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ContentErrors {}

/// The files compiled into the binary, with the names errors use for them.
const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "content/micro.toml",
        include_str!("../../content/micro.toml"),
    ),
    (
        "content/checkin.toml",
        include_str!("../../content/checkin.toml"),
    ),
    (
        "content/recap.toml",
        include_str!("../../content/recap.toml"),
    ),
    (
        "content/repair.toml",
        include_str!("../../content/repair.toml"),
    ),
    (
        "content/safety.toml",
        include_str!("../../content/safety.toml"),
    ),
    (
        "content/feelings.toml",
        include_str!("../../content/feelings.toml"),
    ),
    (
        "content/text-common.toml",
        include_str!("../../content/text-common.toml"),
    ),
    (
        "content/text-onboarding.toml",
        include_str!("../../content/text-onboarding.toml"),
    ),
    (
        "content/text-checkin.toml",
        include_str!("../../content/text-checkin.toml"),
    ),
    (
        "content/text-repair.toml",
        include_str!("../../content/text-repair.toml"),
    ),
    (
        "content/text-recap.toml",
        include_str!("../../content/text-recap.toml"),
    ),
    (
        "content/text-privacy.toml",
        include_str!("../../content/text-privacy.toml"),
    ),
    (
        "content/text-matrix.toml",
        include_str!("../../content/text-matrix.toml"),
    ),
];

fn load_builtin() -> (Library, Vec<ContentError>) {
    let mut loader = load::Loader::default();
    for (file, source) in BUILTIN_FILES {
        loader.add_file(file, source);
    }
    loader.finish("content")
}

impl Library {
    /// Loads every *.toml in `dir` (files are recognised by their top-level table names, so
    /// hosts can split or add files, e.g. `micro-extra.toml` with more `[[prompt]]`s), then
    /// checks it.
    ///
    /// Files are read in file-name order; hidden files (starting with `.`) are skipped. Any
    /// problem, from a TOML syntax error to a missing category, makes it fail with the whole
    /// list.
    pub fn load_dir(dir: &Path) -> Result<Library, ContentErrors> {
        let (library, errors) = load::load_dir_report(dir);
        if errors.is_empty() {
            Ok(library)
        } else {
            Err(ContentErrors(errors))
        }
    }

    /// The library shipped inside the binary (include_str! of the files in content/), already
    /// checked by the tests.
    ///
    /// # Panics
    /// If the shipped files have problems, which the unit tests rule out.
    pub fn builtin() -> Library {
        static BUILTIN: OnceLock<Library> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let (library, errors) = load_builtin();
                assert!(
                    errors.is_empty(),
                    "the built-in content library is broken: {}",
                    ContentErrors(errors)
                );
                library
            })
            .clone()
    }

    /// All problems: unique ids across the library; no empty text; texts within Discord limits
    /// after placeholder expansion (expand `{partner}`/`{name}` with a 40-char worst case:
    /// micro text+follow_up ≤ 1000, question ≤ 300, suggestion ≤ 500, repair title ≤ 45,
    /// intro ≤ 1000, stems ≤ 100, safety ≤ 1000); only known placeholders (anything in braces
    /// that is not {partner} or {name} is an error, as are unbalanced braces); about_partner
    /// prompts must contain {partner} and others must not; no duplicate texts (case- and
    /// whitespace-insensitive); no empty category: every one of the 12 micro concepts, 3
    /// question slots and 6 suggestion categories has at least one entry; unknown
    /// concept/slot/category names are errors.
    ///
    /// A library in memory does not remember which file each entry came from, so problems are
    /// reported against the shipped file names (`content/micro.toml`, …); [`Library::load_dir`]
    /// reports them against the real files.
    pub fn check(&self) -> Vec<ContentError> {
        check::check(self, &check::Origins::shipped(self))
    }

    /// The micro prompt with this id.
    pub fn micro_by_id(&self, id: &str) -> Option<&MicroPrompt> {
        self.micro.iter().find(|prompt| prompt.id == id)
    }

    /// The concepts that have at least one micro prompt: known ones in [`MICRO_CONCEPTS`]
    /// order, then any unknown ones in the order they first appear.
    pub fn concepts(&self) -> Vec<&str> {
        let mut concepts: Vec<&str> = MICRO_CONCEPTS
            .iter()
            .copied()
            .filter(|concept| self.micro.iter().any(|p| p.concept == *concept))
            .collect();
        for prompt in &self.micro {
            if !concepts.contains(&prompt.concept.as_str()) {
                concepts.push(&prompt.concept);
            }
        }
        concepts
    }
}

/// `attune content check [--dir DIR]`: prints a summary (counts per concept/slot/category)
/// and every problem; returns whether it is clean.
///
/// Without a directory it checks the library compiled into the binary.
pub fn check_command(dir: Option<&Path>) -> bool {
    let (library, errors, source) = match dir {
        Some(dir) => {
            let (library, errors) = load::load_dir_report(dir);
            (library, errors, dir.display().to_string())
        }
        None => {
            let (library, errors) = load_builtin();
            (library, errors, "built-in library".to_owned())
        }
    };
    print!("{}", summary(&library, &source));
    if errors.is_empty() {
        println!("No problems found.");
        true
    } else {
        println!("{}", ContentErrors(errors));
        false
    }
}

/// The counts `attune content check` prints.
fn summary(library: &Library, source: &str) -> String {
    use std::fmt::Write as _;

    fn counts<'a>(
        out: &mut String,
        known: &[&'a str],
        names: impl Iterator<Item = &'a str> + Clone,
    ) {
        let mut all: Vec<&str> = known.to_vec();
        for name in names.clone() {
            if !all.contains(&name) {
                all.push(name);
            }
        }
        for name in all {
            let n = names.clone().filter(|other| *other == name).count();
            let unknown = if known.contains(&name) {
                ""
            } else {
                "  (unknown)"
            };
            let _ = writeln!(out, "  {name:<22}{n:>4}{unknown}");
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "Attune content: {source}");
    let about = library.micro.iter().filter(|p| p.about_partner).count();
    let _ = writeln!(
        out,
        "Micro prompts: {} ({about} about the partner)",
        library.micro.len()
    );
    counts(
        &mut out,
        MICRO_CONCEPTS,
        library.micro.iter().map(|p| p.concept.as_str()),
    );
    let _ = writeln!(out, "Check-in questions: {}", library.questions.len());
    counts(
        &mut out,
        QUESTION_SLOTS,
        library.questions.iter().map(|q| q.slot.as_str()),
    );
    let _ = writeln!(out, "Recap suggestions: {}", library.suggestions.len());
    counts(
        &mut out,
        SUGGESTION_CATEGORIES,
        library.suggestions.iter().map(|s| s.category.as_str()),
    );
    let steps = library.repair.steps();
    let present = steps.iter().filter(|(_, s)| !s.title.is_empty()).count();
    let stems: usize = steps.iter().map(|(_, s)| s.stems.len()).sum();
    let _ = writeln!(
        out,
        "Repair steps: {present} of {} ({stems} sentence starters)",
        steps.len()
    );
    let safety = &library.safety;
    let safety_present = [
        &safety.companion_note,
        &safety.resources,
        &safety.break_note,
    ]
    .iter()
    .filter(|text| !text.trim().is_empty())
    .count();
    let _ = writeln!(out, "Safety texts: {safety_present} of 3");
    out
}

/// Replaces `{partner}` and `{name}` in one pass (a replacement that itself contains a
/// placeholder is left as it is). Other braces are kept verbatim.
pub fn expand(text: &str, partner: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len() + partner.len() + name.len());
    let mut rest = text;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{partner}") {
            out.push_str(partner);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{name}") {
            out.push_str(name);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

impl Library {
    /// A prompt or question (with `{partner}` and `{name}`) as text: the placeholders become
    /// the people, or "your partner" / "you" when there is nobody to name.
    pub fn prompt_text(
        &self,
        text: &str,
        partner: Option<&crate::domain::ids::PersonRef>,
        name: Option<&crate::domain::ids::PersonRef>,
    ) -> crate::transport::Text {
        use crate::transport::{Part, Text};
        let mut out = Text::new();
        let mut rest = text;
        loop {
            let next = [
                ("{partner}", partner, copy::keys::common::YOUR_PARTNER),
                ("{name}", name, copy::keys::common::YOU),
            ]
            .into_iter()
            .filter_map(|(tag, who, fallback)| rest.find(tag).map(|at| (at, tag, who, fallback)))
            .min_by_key(|(at, ..)| *at);
            let Some((at, tag, who, fallback)) = next else {
                out.push_plain(rest);
                return out;
            };
            out.push_plain(&rest[..at]);
            match who {
                Some(p) => out.push(Part::Person(p.clone())),
                None => out.push_plain(self.s(fallback)),
            };
            rest = &rest[at + tag.len()..];
        }
    }
}

/// The built-in copy files (the flows' words), by name.
pub(crate) fn is_copy_file(file: &str) -> bool {
    file.starts_with("content/text-")
}

/// The built-in file a copy key lives in.
pub(crate) fn copy_file_of(key: &str) -> String {
    let section = key.split('.').next().unwrap_or("common");
    let file = match section {
        "time" | "mood" => "common",
        "settings" => "onboarding",
        "micro" => "checkin",
        other => other,
    };
    format!("content/text-{file}.toml")
}

/// What someone's words may suggest, from the host-editable lists in `[signals]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Danger,
    SelfHarm,
}

impl Library {
    /// Whether `text` holds a phrase of the signal lists, matched case-insensitively on word
    /// boundaries (curly apostrophes read as straight ones). Used only to show the writer a
    /// private note; the result is never stored.
    pub fn signal_in(&self, text: &str) -> Option<Signal> {
        let norm = |s: &str| -> String {
            let lowered = s.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
            let spaced: String = lowered
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '\'' {
                        c
                    } else {
                        ' '
                    }
                })
                .collect();
            format!(
                " {} ",
                spaced.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        };
        let hay = norm(text);
        let hit = |list: &[String]| {
            list.iter().any(|p| {
                let needle = norm(p);
                needle.trim().len() >= 3 && hay.contains(&needle)
            })
        };
        if hit(&self.signals.self_harm) {
            Some(Signal::SelfHarm)
        } else if hit(&self.signals.danger) {
            Some(Signal::Danger)
        } else {
            None
        }
    }
}
