//! The library's rules: ids, names, placeholders, lengths, duplicates, empty categories.

use std::collections::{BTreeMap, HashMap};

use super::{expand, ContentError, Library};
use super::{MICRO_CONCEPTS, QUESTION_SLOTS, REPAIR_STEPS, SUGGESTION_CATEGORIES};

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
    }

    for (index, question) in library.questions.iter().enumerate() {
        let file = file_of(&origins.questions, index, &origins.question_file);
        let entry = checker.id(file, &question.id, index, "question");
        checker.known(file, &entry, "slot", &question.slot, QUESTION_SLOTS);
        checker.text(file, &entry, "text", &question.text);
        checker.limit(file, Some(&entry), "text", &question.text, QUESTION_LIMIT);
        checker.unique_text(file, &entry, &question.text);
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

    if !origins.complete {
        return checker.errors;
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
