//! The library's rules: ids, names, placeholders, lengths, duplicates, empty categories.

use std::collections::{BTreeMap, HashMap};

use super::{copy, expand, similar, ContentError, Library};
use super::{CARE_WAYS, SETTINGS, TIERS, WEEKLY_THEMES};
use super::{MICRO_CONCEPTS, QUESTION_SLOTS, REPAIR_STEPS, SUGGESTION_CATEGORIES};

/// Enough for a year of daily use without a text coming back too soon.
pub const MIN_MORNING: usize = 60;
pub const MIN_EVENING: usize = 60;
pub const MIN_WEEKLY: usize = 40;
pub const MIN_MICRO: usize = 200;
/// Love-language prompts per way of caring.
pub const MIN_PER_CARE_WAY: usize = 5;
/// Each weekly theme and each recap category rotates on its own, week by week: ten weeks
/// before one comes back.
pub const MIN_PER_THEME: usize = 10;
pub const MIN_PER_SUGGESTION_CATEGORY: usize = 10;
/// A question is asked in the note box's placeholder, which Discord caps at 100.
const QUESTION_BOX_LIMIT: usize = 100;
/// Words a label must not use: the bot speaks plainly.
const JARGON: &[&str] = &["flooded", "bids", "micro-moment", "reps", "attunement"];
const LABEL_LIMIT: usize = 40;

/// What a placeholder may expand to at worst: a mention or a display name.
const PLACEHOLDER_WORST_CASE: usize = 40;
/// Micro prompt text and follow-up together.
const MICRO_LIMIT: usize = 1000;
const QUESTION_LIMIT: usize = 300;
const SUGGESTION_LIMIT: usize = 500;
/// Repair titles double as modal titles.
const TITLE_LIMIT: usize = 45;
const INTRO_LIMIT: usize = 1000;
/// Stems are used as text-input placeholders.
const STEM_LIMIT: usize = 100;
const SAFETY_LIMIT: usize = 1000;
/// Ids end up in stored rows and logs; keep them short and plain.
const ID_LIMIT: usize = 40;

/// Where each part of a library came from, for error messages.
pub(super) struct Origins {
    /// The file of each micro prompt, by index.
    pub micro: Vec<String>,
    pub questions: Vec<String>,
    pub suggestions: Vec<String>,
    /// The file of each repair step; a step missing here is not checked (the loader has
    /// reported it as missing already).
    pub steps: BTreeMap<&'static str, String>,
    /// The file of `[safety]`; `None` skips it, as for steps.
    pub safety: Option<String>,
    /// The file of each copy text, concept label, the feelings and the signals.
    pub text: BTreeMap<String, String>,
    pub concepts: BTreeMap<String, String>,
    pub feelings: Option<String>,
    pub signals: Option<String>,
    /// Where problems about a whole kind of entry (an empty concept, say) are reported.
    pub micro_file: String,
    pub question_file: String,
    pub suggestion_file: String,
    /// Whether the library is meant to be complete, so that an empty concept, slot or
    /// category is a problem (false when a file could not be read).
    pub complete: bool,
}

impl Origins {
    /// Everything attributed to one place (a content directory), with no entries yet.
    pub fn everywhere(place: &str) -> Origins {
        Origins {
            micro: Vec::new(),
            questions: Vec::new(),
            suggestions: Vec::new(),
            steps: BTreeMap::new(),
            safety: None,
            text: BTreeMap::new(),
            concepts: BTreeMap::new(),
            feelings: None,
            signals: None,
            micro_file: place.to_owned(),
            question_file: place.to_owned(),
            suggestion_file: place.to_owned(),
            complete: true,
        }
    }

    /// Every part attributed to the file it is shipped in.
    pub fn shipped(library: &Library) -> Origins {
        let repeat = |file: &str, n: usize| vec![file.to_owned(); n];
        Origins {
            micro: repeat("content/micro.toml", library.micro.len()),
            questions: repeat("content/checkin.toml", library.questions.len()),
            suggestions: repeat("content/recap.toml", library.suggestions.len()),
            steps: REPAIR_STEPS
                .iter()
                .map(|step| (*step, "content/repair.toml".to_owned()))
                .collect(),
            safety: Some("content/safety.toml".to_owned()),
            text: library
                .text
                .keys()
                .map(|k| (k.clone(), super::copy_file_of(k)))
                .collect(),
            concepts: library
                .concept_labels
                .keys()
                .map(|k| (k.clone(), "content/micro.toml".to_owned()))
                .collect(),
            feelings: Some("content/feelings.toml".to_owned()),
            signals: Some("content/safety.toml".to_owned()),
            micro_file: "content/micro.toml".to_owned(),
            question_file: "content/checkin.toml".to_owned(),
            suggestion_file: "content/recap.toml".to_owned(),
            complete: true,
        }
    }
}

fn file_of<'a>(files: &'a [String], index: usize, fallback: &'a str) -> &'a str {
    files.get(index).map_or(fallback, String::as_str)
}

/// Every problem in `library`.
pub(super) fn check(library: &Library, origins: &Origins) -> Vec<ContentError> {
    check_rules(library, origins, true)
}

/// Every problem in `library`; `minimums` says whether the sizes a year of use needs are
/// enforced too (the rule tests use small libraries).
pub(super) fn check_rules(
    library: &Library,
    origins: &Origins,
    minimums: bool,
) -> Vec<ContentError> {
    let mut checker = Checker::default();

    for (index, prompt) in library.micro.iter().enumerate() {
        let file = file_of(&origins.micro, index, &origins.micro_file);
        let entry = checker.id(file, &prompt.id, index, "prompt");
        checker.known(file, &entry, "concept", &prompt.concept, MICRO_CONCEPTS);
        checker.text(file, &entry, "text", &prompt.text);
        let mut length = expanded_len(&prompt.text);
        if let Some(follow_up) = &prompt.follow_up {
            checker.text(file, &entry, "follow_up", follow_up);
            length += expanded_len(follow_up);
        }
        if length > MICRO_LIMIT {
            checker.push(
                file,
                Some(&entry),
                format!(
                    "text and follow_up are {length} characters long with placeholders \
                     expanded; the limit is {MICRO_LIMIT}"
                ),
            );
        }
        let uses_partner = prompt.text.contains("{partner}")
            || prompt
                .follow_up
                .as_deref()
                .is_some_and(|f| f.contains("{partner}"));
        if prompt.about_partner && !uses_partner {
            checker.push(
                file,
                Some(&entry),
                "about_partner is true, but the text does not use {partner}",
            );
        }
        if !prompt.about_partner && uses_partner {
            checker.push(
                file,
                Some(&entry),
                "uses {partner}, but about_partner is not true: set about_partner = true \
                 or leave {partner} out",
            );
        }
        checker.unique_text(file, &entry, &prompt.text);
        checker.known(file, &entry, "tier", &prompt.tier, TIERS);
        checker.known(file, &entry, "setting", &prompt.setting, SETTINGS);
        match (&prompt.care, prompt.concept == "love_languages") {
            (Some(care), _) => checker.known(file, &entry, "care", care, CARE_WAYS),
            (None, true) => checker.push(
                file,
                Some(&entry),
                format!(
                    "a love_languages prompt needs care = one of: {}",
                    CARE_WAYS.join(", ")
                ),
            ),
            (None, false) => {}
        }
    }

    for (index, question) in library.questions.iter().enumerate() {
        let file = file_of(&origins.questions, index, &origins.question_file);
        let entry = checker.id(file, &question.id, index, "question");
        checker.known(file, &entry, "slot", &question.slot, QUESTION_SLOTS);
        checker.text(file, &entry, "text", &question.text);
        checker.limit(file, Some(&entry), "text", &question.text, QUESTION_LIMIT);
        checker.unique_text(file, &entry, &question.text);
        checker.known(file, &entry, "tier", &question.tier, TIERS);
        let box_len = question
            .text
            .replace("{partner}", &"x".repeat(20))
            .replace("{name}", &"x".repeat(20))
            .chars()
            .count();
        if box_len > QUESTION_BOX_LIMIT {
            checker.push(
                file,
                Some(&entry),
                format!("text is {box_len} characters with names filled in; a question must fit the answer box's {QUESTION_BOX_LIMIT}"),
            );
        }
        match (&question.theme, question.slot == "weekly") {
            (Some(theme), true) => checker.known(file, &entry, "theme", theme, WEEKLY_THEMES),
            (None, true) => checker.push(
                file,
                Some(&entry),
                format!(
                    "a weekly question needs theme = one of: {}",
                    WEEKLY_THEMES.join(", ")
                ),
            ),
            (Some(_), false) => {
                checker.push(file, Some(&entry), "only weekly questions have a theme")
            }
            (None, false) => {}
        }
    }

    for (index, suggestion) in library.suggestions.iter().enumerate() {
        let file = file_of(&origins.suggestions, index, &origins.suggestion_file);
        let entry = checker.id(file, &suggestion.id, index, "suggestion");
        checker.known(
            file,
            &entry,
            "category",
            &suggestion.category,
            SUGGESTION_CATEGORIES,
        );
        checker.text(file, &entry, "text", &suggestion.text);
        checker.limit(
            file,
            Some(&entry),
            "text",
            &suggestion.text,
            SUGGESTION_LIMIT,
        );
        checker.unique_text(file, &entry, &suggestion.text);
    }

    for (name, step) in library.repair.steps() {
        let Some(file) = origins.steps.get(name) else {
            continue;
        };
        checker.text(file, name, "title", &step.title);
        checker.limit(file, Some(name), "title", &step.title, TITLE_LIMIT);
        checker.text(file, name, "intro", &step.intro);
        checker.limit(file, Some(name), "intro", &step.intro, INTRO_LIMIT);
        if step.stems.is_empty() {
            checker.push(
                file,
                Some(name),
                "stems is empty: give at least one sentence starter",
            );
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, stem) in step.stems.iter().enumerate() {
            let field = format!("stem {}", index + 1);
            checker.text(file, name, &field, stem);
            checker.limit(file, Some(name), &field, stem, STEM_LIMIT);
            let key = normalise(stem);
            if key.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(&key) {
                checker.push(file, Some(name), format!("{field} repeats stem {first}"));
            } else {
                seen.insert(key, index + 1);
            }
        }
    }

    if let Some(file) = &origins.safety {
        let safety = &library.safety;
        for (field, text) in [
            ("companion_note", &safety.companion_note),
            ("resources", &safety.resources),
            ("break_note", &safety.break_note),
        ] {
            if text.trim().is_empty() {
                checker.push(file, None, format!("{field} is empty"));
            }
            for problem in placeholder_problems(text) {
                checker.push(file, None, format!("{field}: {problem}"));
            }
            checker.limit(file, None, field, text, SAFETY_LIMIT);
        }
    }

    check_copy(&mut checker, library, origins);
    check_labels_and_lists(&mut checker, library, origins);
    check_near_duplicates(&mut checker, library, origins);
    check_plain_words(&mut checker, library, origins);

    if !origins.complete {
        return checker.errors;
    }
    if minimums {
        check_minimums(&mut checker, library, origins);
    }
    checker.not_empty(
        &origins.micro_file,
        "concept",
        "prompt",
        MICRO_CONCEPTS,
        library.micro.iter().map(|p| p.concept.as_str()),
    );
    checker.not_empty(
        &origins.question_file,
        "slot",
        "question",
        QUESTION_SLOTS,
        library.questions.iter().map(|q| q.slot.as_str()),
    );
    checker.not_empty(
        &origins.suggestion_file,
        "category",
        "suggestion",
        SUGGESTION_CATEGORIES,
        library.suggestions.iter().map(|s| s.category.as_str()),
    );

    checker.errors
}

/// Every registry key present, nothing unknown, only declared placeholders, within limits.
fn check_copy(checker: &mut Checker, library: &Library, origins: &Origins) {
    let known: BTreeMap<&str, copy::Key> = copy::keys::all().map(|k| (k.name, *k)).collect();
    for (name, text) in &library.text {
        let file = origins.text.get(name).map_or("content", String::as_str);
        let Some(key) = known.get(name.as_str()) else {
            checker.push(
                file,
                Some(name),
                "unknown text: no part of Attune uses this name",
            );
            continue;
        };
        if text.trim().is_empty() {
            checker.push(file, Some(name), "text is empty");
        }
        for p in copy::placeholders(text) {
            if !key.params.contains(&p) {
                let allowed = if key.params.is_empty() {
                    "this text takes no placeholders".to_string()
                } else {
                    format!(
                        "allowed here: {}",
                        key.params
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                checker.push(
                    file,
                    Some(name),
                    format!("unknown placeholder `{{{p}}}`; {allowed}"),
                );
            }
        }
        if let Some(max) = key.max {
            let n = text.chars().count();
            if n > max {
                checker.push(
                    file,
                    Some(name),
                    format!("{n} characters; the limit here is {max}"),
                );
            }
        }
    }
    if origins.complete {
        for key in known.values() {
            if !library.text.contains_key(key.name) {
                checker.push("content", Some(key.name), "this text is missing");
            }
        }
    }
}

fn check_labels_and_lists(checker: &mut Checker, library: &Library, origins: &Origins) {
    for (name, label) in &library.concept_labels {
        let file = origins.concepts.get(name).map_or("content", String::as_str);
        checker.known(file, name, "concept", name, MICRO_CONCEPTS);
        if label.trim().is_empty() || label.chars().count() > LABEL_LIMIT {
            checker.push(
                file,
                Some(name),
                format!("label must be 1 to {LABEL_LIMIT} characters"),
            );
        }
        let lower = label.to_lowercase();
        for word in JARGON {
            if lower.contains(word) {
                checker.push(
                    file,
                    Some(name),
                    format!("label uses the jargon word `{word}`; say it plainly"),
                );
            }
        }
    }
    if origins.complete {
        for concept in MICRO_CONCEPTS {
            if !library.concept_labels.contains_key(*concept) {
                checker.push(
                    &origins.micro_file,
                    Some(concept),
                    "this concept has no [concept.NAME] label",
                );
            }
        }
    }
    if let Some(file) = &origins.feelings {
        let words = &library.feelings;
        if words.is_empty() || words.len() > 25 {
            checker.push(
                file,
                None,
                "[feelings] needs 1 to 25 words (Discord's limit for one menu)",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for w in words {
            if w.trim().is_empty() || w.chars().count() > 25 || !seen.insert(w.to_lowercase()) {
                checker.push(
                    file,
                    Some(w),
                    "feeling words must be unique, 1 to 25 characters",
                );
            }
        }
    }
    if let Some(file) = &origins.signals {
        for (list, phrases) in [
            ("danger", &library.signals.danger),
            ("self_harm", &library.signals.self_harm),
        ] {
            for p in phrases {
                if p.trim().chars().count() < 3 {
                    checker.push(
                        file,
                        Some(list),
                        format!("`{p}` is too short to match safely"),
                    );
                }
            }
        }
    }
}

/// The jargon word `text` uses, if any (whole words, case-insensitive).
fn jargon_in(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .collect();
    JARGON.iter().copied().find(|j| words.contains(j))
}

/// What a person reads says things plainly: no jargon in questions, prompts or suggestions.
fn check_plain_words(checker: &mut Checker, library: &Library, origins: &Origins) {
    let flag = |checker: &mut Checker, file: &str, id: &str, text: &str| {
        if let Some(word) = jargon_in(text) {
            checker.push(
                file,
                Some(id),
                format!("uses the jargon word `{word}`; say it plainly"),
            );
        }
    };
    for (i, q) in library.questions.iter().enumerate() {
        let file = file_of(&origins.questions, i, &origins.question_file).to_string();
        flag(checker, &file, &q.id, &q.text);
    }
    for (i, p) in library.micro.iter().enumerate() {
        let file = file_of(&origins.micro, i, &origins.micro_file).to_string();
        flag(checker, &file, &p.id, &p.text);
        if let Some(f) = &p.follow_up {
            flag(checker, &file, &p.id, f);
        }
    }
    for (i, s) in library.suggestions.iter().enumerate() {
        let file = file_of(&origins.suggestions, i, &origins.suggestion_file).to_string();
        flag(checker, &file, &s.id, &s.text);
    }
}

/// Near-duplicate questions or prompts make a year feel repetitive.
fn check_near_duplicates(checker: &mut Checker, library: &Library, origins: &Origins) {
    let questions: Vec<&str> = library.questions.iter().map(|q| q.text.as_str()).collect();
    for (i, j, score) in similar::near_duplicates(&questions) {
        let file = file_of(&origins.questions, j, &origins.question_file);
        checker.push(
            file,
            Some(&library.questions[j].id),
            format!(
                "too much like question {} ({:.2} alike; the limit is {:.2})",
                library.questions[i].id,
                score,
                similar::THRESHOLD
            ),
        );
    }
    let ideas: Vec<&str> = library
        .suggestions
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    for (i, j, score) in similar::near_duplicates(&ideas) {
        let file = file_of(&origins.suggestions, j, &origins.suggestion_file);
        checker.push(
            file,
            Some(&library.suggestions[j].id),
            format!(
                "too much like suggestion {} ({:.2} alike; the limit is {:.2})",
                library.suggestions[i].id,
                score,
                similar::THRESHOLD
            ),
        );
    }
    let prompts: Vec<&str> = library.micro.iter().map(|p| p.text.as_str()).collect();
    for (i, j, score) in similar::near_duplicates(&prompts) {
        let file = file_of(&origins.micro, j, &origins.micro_file);
        checker.push(
            file,
            Some(&library.micro[j].id),
            format!(
                "too much like prompt {} ({:.2} alike; the limit is {:.2})",
                library.micro[i].id,
                score,
                similar::THRESHOLD
            ),
        );
    }
}

/// Enough questions and prompts for a year.
fn check_minimums(checker: &mut Checker, library: &Library, origins: &Origins) {
    for (slot, min) in [
        ("morning", MIN_MORNING),
        ("evening", MIN_EVENING),
        ("weekly", MIN_WEEKLY),
    ] {
        let n = library.questions.iter().filter(|q| q.slot == slot).count();
        if n < min {
            checker.push(
                &origins.question_file,
                None,
                format!(
                    "{n} {slot} questions; at least {min} are needed for a year without repeats"
                ),
            );
        }
    }
    if library.micro.len() < MIN_MICRO {
        checker.push(
            &origins.micro_file,
            None,
            format!(
                "{} micro prompts; at least {MIN_MICRO} are needed",
                library.micro.len()
            ),
        );
    }
    for care in CARE_WAYS {
        let n = library
            .micro
            .iter()
            .filter(|p| p.care.as_deref() == Some(*care))
            .count();
        if n < MIN_PER_CARE_WAY {
            checker.push(
                &origins.micro_file,
                None,
                format!("{n} prompts with care = {care}; at least {MIN_PER_CARE_WAY} are needed"),
            );
        }
    }
    for theme in WEEKLY_THEMES {
        let n = library
            .questions
            .iter()
            .filter(|q| q.theme.as_deref() == Some(*theme))
            .count();
        if n < MIN_PER_THEME {
            checker.push(
                &origins.question_file,
                None,
                format!(
                    "{n} weekly questions have theme {theme}; at least {MIN_PER_THEME} are needed"
                ),
            );
        }
    }
    for category in SUGGESTION_CATEGORIES {
        let n = library
            .suggestions
            .iter()
            .filter(|s| s.category == *category)
            .count();
        if n < MIN_PER_SUGGESTION_CATEGORY {
            checker.push(
                &origins.suggestion_file,
                None,
                format!(
                    "{n} suggestions for {category}; at least {MIN_PER_SUGGESTION_CATEGORY} are needed"
                ),
            );
        }
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<ContentError>,
    /// id → file of its first use.
    ids: HashMap<String, String>,
    /// normalised text → (file, entry) of its first use.
    texts: HashMap<String, (String, String)>,
}

impl Checker {
    fn push(&mut self, file: &str, entry: Option<&str>, problem: impl Into<String>) {
        self.errors.push(ContentError::new(file, entry, problem));
    }

    /// Checks an id and returns the label errors use for the entry.
    fn id(&mut self, file: &str, id: &str, index: usize, table: &str) -> String {
        let id = id.trim();
        if id.is_empty() {
            let entry = format!("#{} of [[{table}]]", index + 1);
            self.push(file, Some(&entry), "id is empty");
            return entry;
        }
        let plain = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain || id.chars().count() > ID_LIMIT {
            self.push(
                file,
                Some(id),
                format!(
                    "id may only use letters, digits, `-` and `_`, and at most {ID_LIMIT} \
                     characters"
                ),
            );
        }
        match self.ids.get(id) {
            Some(first) => {
                let problem = format!("duplicate id: it is already used in {first}");
                self.push(file, Some(id), problem);
            }
            None => {
                self.ids.insert(id.to_owned(), file.to_owned());
            }
        }
        id.to_owned()
    }

    fn known(&mut self, file: &str, entry: &str, field: &str, value: &str, known: &[&str]) {
        if !known.contains(&value) {
            let problem = format!(
                "unknown {field} `{value}`; expected one of: {}",
                known.join(", ")
            );
            self.push(file, Some(entry), problem);
        }
    }

    /// Not empty, and only known, balanced placeholders.
    fn text(&mut self, file: &str, entry: &str, field: &str, text: &str) {
        if text.trim().is_empty() {
            self.push(file, Some(entry), format!("{field} is empty"));
        }
        for problem in placeholder_problems(text) {
            self.push(file, Some(entry), format!("{field}: {problem}"));
        }
    }

    fn limit(&mut self, file: &str, entry: Option<&str>, field: &str, text: &str, limit: usize) {
        let length = expanded_len(text);
        if length > limit {
            let problem = format!(
                "{field} is {length} characters long with placeholders expanded; the limit \
                 is {limit}"
            );
            self.push(file, entry, problem);
        }
    }

    fn unique_text(&mut self, file: &str, entry: &str, text: &str) {
        let key = normalise(text);
        if key.is_empty() {
            return;
        }
        match self.texts.get(&key) {
            Some((first_file, first_entry)) => {
                let problem = format!(
                    "the same text as entry {first_entry} in {first_file} (ignoring case and \
                     spacing)"
                );
                self.push(file, Some(entry), problem);
            }
            None => {
                self.texts.insert(key, (file.to_owned(), entry.to_owned()));
            }
        }
    }

    fn not_empty<'a>(
        &mut self,
        file: &str,
        field: &str,
        table: &str,
        known: &[&str],
        used: impl Iterator<Item = &'a str> + Clone,
    ) {
        for name in known {
            if !used.clone().any(|value| value == *name) {
                let problem = format!(
                    "no [[{table}]] has {field} `{name}`; every {field} needs at least one"
                );
                self.push(file, None, problem);
            }
        }
    }
}

/// Lower case, runs of whitespace collapsed: the key for "the same text".
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The length in characters once every placeholder is replaced by its worst case.
fn expanded_len(text: &str) -> usize {
    let worst = "x".repeat(PLACEHOLDER_WORST_CASE);
    expand(text, &worst, &worst).chars().count()
}

/// Problems with braces in `text`: unknown placeholders and unbalanced braces.
pub(super) fn placeholder_problems(text: &str) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    let mut add = |problem: String| {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    };
    let mut rest = text;
    while let Some(pos) = rest.find(['{', '}']) {
        if rest[pos..].starts_with('}') {
            add("a `}` without a matching `{`".to_owned());
            rest = &rest[pos + 1..];
            continue;
        }
        let after = &rest[pos + 1..];
        match after.find(['{', '}']) {
            Some(end) if after[end..].starts_with('}') => {
                let name = &after[..end];
                if name != "partner" && name != "name" {
                    add(format!(
                        "unknown placeholder `{{{name}}}`; only {{partner}} and {{name}} are \
                         allowed"
                    ));
                }
                rest = &after[end + 1..];
            }
            Some(end) => {
                add("a `{` that is never closed".to_owned());
                rest = &after[end..];
            }
            None => {
                add("a `{` that is never closed".to_owned());
                break;
            }
        }
    }
    problems
}
