//! Reading TOML files into a [`Library`], remembering which file each entry came from.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::check::{self, Origins};
use super::REPAIR_STEPS;
use super::{
    ContentError, Library, MicroPrompt, Question, RepairStep, SafetyTexts, Signals, Suggestion,
};

const KNOWN_TABLES: &str = "[[prompt]], [[question]], [[suggestion]], [step.NAME], [safety], \
                            [signals], [feelings], [concept.NAME] or [text.SECTION]";

/// Collects entries from any number of files, then builds and checks the library.
#[derive(Default)]
pub(super) struct Loader {
    micro: Vec<(MicroPrompt, String)>,
    questions: Vec<(Question, String)>,
    suggestions: Vec<(Suggestion, String)>,
    steps: BTreeMap<&'static str, (RepairStep, String)>,
    safety: Option<(SafetyTexts, String)>,
    /// `section.name` → (text, file).
    text: BTreeMap<String, (String, String)>,
    concept_labels: BTreeMap<String, (String, String)>,
    feelings: Option<(Vec<String>, String)>,
    signals: Option<(Signals, String)>,
    errors: Vec<ContentError>,
    /// A file could not be read or parsed, so nothing can be said about what is missing.
    unreadable: bool,
}

impl Loader {
    /// Parses one file's text; `file` is the name errors use for it.
    pub(super) fn add_file(&mut self, file: &str, source: &str) {
        let table = match source.parse::<toml::Table>() {
            Ok(table) => table,
            Err(error) => {
                self.errors.push(ContentError::new(
                    file,
                    None,
                    syntax_problem(source, &error),
                ));
                self.unreadable = true;
                return;
            }
        };
        if table.is_empty() {
            self.errors.push(ContentError::new(
                file,
                None,
                format!("no content; expected {KNOWN_TABLES} tables"),
            ));
        }
        for (key, value) in table {
            match key.as_str() {
                "prompt" => {
                    let entries = entries::<MicroPrompt>(file, &key, value, &mut self.errors);
                    self.micro.extend(entries);
                }
                "question" => {
                    let entries = entries::<Question>(file, &key, value, &mut self.errors);
                    self.questions.extend(entries);
                }
                "suggestion" => {
                    let entries = entries::<Suggestion>(file, &key, value, &mut self.errors);
                    self.suggestions.extend(entries);
                }
                "step" => self.add_steps(file, value),
                "safety" => self.add_safety(file, value),
                "text" => self.add_text(file, value),
                "concept" => self.add_concepts(file, value),
                "feelings" => self.add_feelings(file, value),
                "signals" => match Signals::deserialize(value) {
                    Ok(signals) => self.signals = Some((signals, file.to_owned())),
                    Err(error) => self.errors.push(ContentError::new(
                        file,
                        None,
                        format!("[signals]: {}", error.message()),
                    )),
                },
                other => self.errors.push(ContentError::new(
                    file,
                    None,
                    format!("unknown table `{other}`; expected {KNOWN_TABLES}"),
                )),
            }
        }
    }

    fn add_steps(&mut self, file: &str, value: toml::Value) {
        let toml::Value::Table(steps) = value else {
            self.errors.push(ContentError::new(
                file,
                None,
                "`step` must hold one table per step, like [step.own_it]",
            ));
            return;
        };
        for (name, value) in steps {
            let Some(canonical) = REPAIR_STEPS.iter().copied().find(|step| *step == name) else {
                self.errors.push(ContentError::new(
                    file,
                    Some(&name),
                    format!(
                        "unknown repair step; expected one of: {}",
                        REPAIR_STEPS.join(", ")
                    ),
                ));
                continue;
            };
            let step = match RepairStep::deserialize(value) {
                Ok(step) => step,
                Err(error) => {
                    self.errors
                        .push(ContentError::new(file, Some(&name), error.message()));
                    continue;
                }
            };
            if let Some((_, first)) = self.steps.get(canonical) {
                let problem = format!("[step.{name}] is defined twice (first in {first})");
                self.errors
                    .push(ContentError::new(file, Some(&name), problem));
                continue;
            }
            self.steps.insert(canonical, (step, file.to_owned()));
        }
    }

    /// `[text.SECTION] name = "…"`: a later file's text replaces an earlier one's (a host's
    /// folder is read after the built-in copy, so it only needs the texts it changes).
    fn add_text(&mut self, file: &str, value: toml::Value) {
        let toml::Value::Table(sections) = value else {
            self.errors.push(ContentError::new(
                file,
                None,
                "`text` must hold one table per section, like [text.checkin]",
            ));
            return;
        };
        for (section, texts) in sections {
            let toml::Value::Table(texts) = texts else {
                self.errors.push(ContentError::new(
                    file,
                    Some(&section),
                    format!("[text.{section}] must be a table of name = \"text\""),
                ));
                continue;
            };
            for (name, text) in texts {
                let key = format!("{section}.{name}");
                match text {
                    toml::Value::String(t) => {
                        self.text.insert(key, (t, file.to_owned()));
                    }
                    _ => self
                        .errors
                        .push(ContentError::new(file, Some(&key), "must be a string")),
                }
            }
        }
    }

    fn add_concepts(&mut self, file: &str, value: toml::Value) {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Concept {
            label: String,
        }
        let toml::Value::Table(concepts) = value else {
            self.errors.push(ContentError::new(
                file,
                None,
                "`concept` must hold one table per concept, like [concept.gratitude]",
            ));
            return;
        };
        for (name, value) in concepts {
            match Concept::deserialize(value) {
                Ok(c) => {
                    self.concept_labels.insert(name, (c.label, file.to_owned()));
                }
                Err(error) => {
                    self.errors
                        .push(ContentError::new(file, Some(&name), error.message()));
                }
            }
        }
    }

    fn add_feelings(&mut self, file: &str, value: toml::Value) {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Feelings {
            words: Vec<String>,
        }
        match Feelings::deserialize(value) {
            Ok(f) => self.feelings = Some((f.words, file.to_owned())),
            Err(error) => self.errors.push(ContentError::new(
                file,
                None,
                format!("[feelings]: {}", error.message()),
            )),
        }
    }

    fn add_safety(&mut self, file: &str, value: toml::Value) {
        let safety = match SafetyTexts::deserialize(value) {
            Ok(safety) => safety,
            Err(error) => {
                let problem = format!("[safety]: {}", error.message());
                self.errors.push(ContentError::new(file, None, problem));
                return;
            }
        };
        if let Some((_, first)) = &self.safety {
            let problem = format!("[safety] is defined twice (first in {first})");
            self.errors.push(ContentError::new(file, None, problem));
            return;
        }
        self.safety = Some((safety, file.to_owned()));
    }

    /// Builds the library (with empty texts where something is missing) and returns it with
    /// every problem, loading and checking alike. `fallback` names the whole library in
    /// problems that belong to no single file.
    pub(super) fn finish(self, fallback: &str) -> (Library, Vec<ContentError>) {
        let mut errors = self.errors;
        let mut library = Library::default();
        let mut origins = Origins::everywhere(fallback);
        // With an unreadable file, "missing" would often be wrong: the file may hold it.
        origins.complete = !self.unreadable;

        for name in REPAIR_STEPS {
            match self.steps.get(name) {
                Some((step, file)) => {
                    if let Some(slot) = library.repair.step_mut(name) {
                        *slot = step.clone();
                    }
                    origins.steps.insert(name, file.clone());
                }
                None if self.unreadable => {}
                None => errors.push(ContentError::new(
                    fallback,
                    None,
                    format!("the repair step [step.{name}] is missing"),
                )),
            }
        }
        match self.safety {
            Some((safety, file)) => {
                library.safety = safety;
                origins.safety = Some(file);
            }
            None if self.unreadable => {}
            None => errors.push(ContentError::new(
                fallback,
                None,
                "the [safety] table is missing",
            )),
        }
        for (key, (text, file)) in self.text {
            library.text.insert(key.clone(), text);
            origins.text.insert(key, file);
        }
        for (name, (label, file)) in self.concept_labels {
            library.concept_labels.insert(name.clone(), label);
            origins.concepts.insert(name, file);
        }
        if let Some((words, file)) = self.feelings {
            library.feelings = words;
            origins.feelings = Some(file);
        }
        if let Some((signals, file)) = self.signals {
            library.signals = signals;
            origins.signals = Some(file);
        }
        (library.micro, origins.micro) = self.micro.into_iter().unzip();
        (library.questions, origins.questions) = self.questions.into_iter().unzip();
        (library.suggestions, origins.suggestions) = self.suggestions.into_iter().unzip();

        // Missing steps and a missing [safety] were reported above; `origins` leaves them out
        // so they are not reported again as empty texts.
        let problems = check::check(&library, &origins);
        errors.extend(problems);
        (library, errors)
    }
}

/// Deserialises the entries of one `[[key]]` array, one by one, so that a bad entry is named
/// and the good ones still load.
fn entries<T: for<'de> Deserialize<'de>>(
    file: &str,
    key: &str,
    value: toml::Value,
    errors: &mut Vec<ContentError>,
) -> Vec<(T, String)> {
    let toml::Value::Array(items) = value else {
        errors.push(ContentError::new(
            file,
            None,
            format!("`{key}` must be a list of tables: write [[{key}]] above each entry"),
        ));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let entry = match item.get("id").and_then(toml::Value::as_str) {
            Some(id) if !id.trim().is_empty() => id.to_owned(),
            _ => format!("#{} of [[{key}]]", index + 1),
        };
        if !item.is_table() {
            errors.push(ContentError::new(
                file,
                Some(&entry),
                format!("each [[{key}]] entry must be a table"),
            ));
            continue;
        }
        match T::deserialize(item) {
            Ok(parsed) => out.push((parsed, file.to_owned())),
            Err(error) => errors.push(ContentError::new(file, Some(&entry), error.message())),
        }
    }
    out
}

/// "TOML syntax error at line 3, column 7: …", counted from the error's position.
fn syntax_problem(source: &str, error: &toml::de::Error) -> String {
    // One line: toml's messages can span several.
    let message = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match error.span() {
        Some(span) => {
            let start = floor_char_boundary(source, span.start);
            let before = &source[..start];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Loads every `*.toml` directly inside `dir` and returns the (possibly partial) library with
/// every problem.
pub(super) fn load_dir_report(dir: &Path) -> (Library, Vec<ContentError>) {
    let label = dir.display().to_string();
    let mut loader = Loader::default();
    // The copy (the flows' words) starts from the built-in texts, so a host's folder only
    // needs the ones it changes.
    for (file, source) in super::BUILTIN_FILES {
        if super::is_copy_file(file) {
            loader.add_file(file, source);
        }
    }
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) => {
            let problem = format!("cannot read the content directory: {error}");
            return (
                Library::default(),
                vec![ContentError::new(&label, None, problem)],
            );
        }
    };
    let mut files: Vec<_> = listing
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            let toml = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
            toml && !name.starts_with('.') && path.is_file()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        let problem = "no .toml files found in the content directory";
        return (
            Library::default(),
            vec![ContentError::new(&label, None, problem)],
        );
    }
    for path in files {
        let file = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(source) => loader.add_file(&file, &source),
            Err(error) => {
                loader.errors.push(ContentError::new(
                    &file,
                    None,
                    format!("cannot read the file: {error}"),
                ));
                loader.unreadable = true;
            }
        }
    }
    loader.finish(&label)
}
