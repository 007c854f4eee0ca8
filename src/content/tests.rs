use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::check::{check_rules, placeholder_problems, Origins};
use super::*;

/// Every rule but the year-of-use sizes, which a small test library cannot meet.
fn rules(library: &Library) -> Vec<ContentError> {
    check_rules(library, &Origins::shipped(library), false)
}

/// A small library that passes every check: one entry per concept, slot and category.
fn tiny() -> Library {
    let builtin = Library::builtin();
    let micro = MICRO_CONCEPTS
        .iter()
        .enumerate()
        .map(|(i, concept)| MicroPrompt {
            id: format!("m-{i}"),
            concept: (*concept).to_owned(),
            // Each text its own words, so none is a near-duplicate of another.
            text: format!(
                "{{partner}}: {}",
                concept
                    .replace('_', " ")
                    .replace("attunement", "tuning")
                    .repeat(4)
            ),
            follow_up: Some(format!("A tip, number {i}.")),
            about_partner: true,
            tier: "light".into(),
            setting: "any".into(),
            care: (*concept == "love_languages").then(|| "words".into()),
        })
        .collect();
    let questions = QUESTION_SLOTS
        .iter()
        .enumerate()
        .map(|(i, slot)| Question {
            id: format!("q-{i}"),
            slot: (*slot).to_owned(),
            text: format!(
                "{{name}}, {}?",
                ["sunrise hopes", "twilight gratitude", "sunday reflections"][i % 3].repeat(3)
            ),
            tier: "light".into(),
            theme: (*slot == "weekly").then(|| "appreciation".into()),
        })
        .collect();
    let suggestions = SUGGESTION_CATEGORIES
        .iter()
        .enumerate()
        .map(|(i, category)| Suggestion {
            id: format!("s-{i}"),
            category: (*category).to_owned(),
            // Each its own words, so none is a near-duplicate of another.
            text: format!("{} ({i}).", category.replace('_', " ").repeat(4)),
        })
        .collect();
    let step = |name: &str| RepairStep {
        title: format!("Step {name}"),
        intro: format!("What {name} is for."),
        stems: vec!["I felt…".to_owned(), "What I need is…".to_owned()],
    };
    Library {
        micro,
        questions,
        suggestions,
        repair: RepairTexts {
            regulate: step("regulate"),
            own_it: step("own_it"),
            share: step("share"),
            reflect: step("reflect"),
            empathy: step("empathy"),
            next_time: step("next_time"),
            close: step("close"),
            revisit: step("revisit"),
        },
        safety: SafetyTexts {
            companion_note: "A companion, not therapy.".to_owned(),
            resources: "Find help near you.".to_owned(),
            break_note: "Take a break.".to_owned(),
            ..SafetyTexts::default()
        },
        // The bot's own words are not what these tests are about: the shipped ones.
        text: builtin.text,
        concept_labels: builtin.concept_labels,
        feelings: builtin.feelings,
        signals: builtin.signals,
    }
}

/// Whether some problem is about `entry` and mentions `needle`.
fn has(errors: &[ContentError], entry: Option<&str>, needle: &str) -> bool {
    errors
        .iter()
        .any(|e| e.entry.as_deref() == entry && e.problem.contains(needle))
}

fn show(errors: &[ContentError]) -> String {
    ContentErrors(errors.to_vec()).to_string()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("attune-content-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// A copy of the shipped content files.
    fn with_builtin_files() -> TempDir {
        let dir = TempDir::new();
        for (file, source) in BUILTIN_FILES {
            let name = Path::new(file).file_name().expect("file name");
            std::fs::write(dir.0.join(name), source).expect("write content file");
        }
        dir
    }

    fn write(&self, name: &str, source: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, source).expect("write content file");
        path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn builtin_library_is_clean_and_big_enough() {
    let (_, load_errors) = load_builtin();
    assert!(load_errors.is_empty(), "{}", show(&load_errors));
    let library = Library::builtin();
    let errors = library.check();
    assert!(errors.is_empty(), "{}", show(&errors));

    assert!(library.micro.len() >= 96);
    for concept in MICRO_CONCEPTS {
        let prompts: Vec<_> = library
            .micro
            .iter()
            .filter(|p| p.concept == *concept)
            .collect();
        assert!(prompts.len() >= 8, "{concept}: {}", prompts.len());
    }
    assert!(library.micro.iter().any(|p| p.about_partner));
    assert!(library.micro.iter().any(|p| !p.about_partner));

    for (slot, min) in [("morning", 15), ("evening", 15), ("weekly", 10)] {
        let n = library.questions.iter().filter(|q| q.slot == slot).count();
        assert!(n >= min, "{slot}: {n}");
    }
    assert!(library.questions.len() >= 40);

    for category in SUGGESTION_CATEGORIES {
        let n = library
            .suggestions
            .iter()
            .filter(|s| s.category == *category)
            .count();
        assert!(n >= 4, "{category}: {n}");
    }
    assert!(library.suggestions.len() >= 24);

    for (name, step) in library.repair.steps() {
        assert!((3..=5).contains(&step.stems.len()), "{name}");
    }
}

#[test]
fn builtin_texts_keep_the_writing_limits() {
    // Tighter than the Discord limits `check` enforces: the shipped texts stay short.
    let library = Library::builtin();
    let chars = |text: &str| text.chars().count();
    for prompt in &library.micro {
        assert!(chars(&prompt.text) <= 200, "{}", prompt.id);
        if let Some(follow_up) = &prompt.follow_up {
            assert!(chars(follow_up) <= 200, "{}", prompt.id);
        }
    }
    for (name, step) in library.repair.steps() {
        assert!(chars(&step.title) <= 45, "{name}");
        assert!(chars(&step.intro) <= 300, "{name}");
        assert!(step.stems.iter().all(|stem| chars(stem) <= 100), "{name}");
    }
    // Texts read by both partners avoid {partner}: it would name only one of them.
    let both = library.suggestions.iter().map(|s| &s.text).chain(
        library
            .repair
            .steps()
            .into_iter()
            .flat_map(|(_, s)| [&s.title, &s.intro].into_iter().chain(s.stems.iter())),
    );
    for text in both {
        assert!(!text.contains('{'), "{text}");
    }
}

#[test]
fn content_dir_matches_builtin() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
    let loaded = Library::load_dir(&dir).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(loaded, Library::builtin());
}

#[test]
fn tiny_library_is_clean_but_too_small_for_a_year() {
    let errors = rules(&tiny());
    assert!(errors.is_empty(), "{}", show(&errors));
    let all = tiny().check();
    assert!(
        all.iter()
            .all(|e| e.problem.contains("at least") || e.problem.contains("no weekly question")),
        "{}",
        show(&all)
    );
    assert!(
        has(&all, None, "morning questions; at least 60"),
        "{}",
        show(&all)
    );
    assert!(
        has(&all, None, "micro prompts; at least 200"),
        "{}",
        show(&all)
    );
}

#[test]
fn detects_duplicate_ids_across_kinds() {
    let mut library = tiny();
    library.micro[1].id = "m-0".to_owned();
    library.questions[0].id = "s-2".to_owned();
    let errors = rules(&library);
    assert!(
        has(&errors, Some("m-0"), "duplicate id"),
        "{}",
        show(&errors)
    );
    assert!(
        has(&errors, Some("s-2"), "already used in content/checkin.toml"),
        "{}",
        show(&errors)
    );
}

#[test]
fn detects_bad_and_empty_ids() {
    let mut library = tiny();
    library.micro[0].id = "has space".to_owned();
    library.questions[1].id = " ".to_owned();
    let errors = rules(&library);
    assert!(has(&errors, Some("has space"), "id may only use"));
    assert!(has(&errors, Some("#2 of [[question]]"), "id is empty"));
}

#[test]
fn detects_unknown_placeholders_and_unbalanced_braces() {
    let mut library = tiny();
    library.micro[0].text = "Ask {partner} about {their_day}.".to_owned();
    library.questions[0].text = "How was {partner today?".to_owned();
    library.suggestions[0].text = "Try this} next week.".to_owned();
    library.repair.share.stems[0] = "I felt {".to_owned();
    library.safety.resources = "Call {emergency_number}.".to_owned();
    let errors = rules(&library);
    assert!(
        has(&errors, Some("m-0"), "unknown placeholder `{their_day}`"),
        "{}",
        show(&errors)
    );
    assert!(
        has(&errors, Some("q-0"), "never closed"),
        "{}",
        show(&errors)
    );
    assert!(has(&errors, Some("s-0"), "without a matching"));
    assert!(has(
        &errors,
        Some("share"),
        "stem 1: a `{` that is never closed"
    ));
    assert!(has(&errors, None, "resources: unknown placeholder"));
    // Known placeholders are fine everywhere.
    assert!(placeholder_problems("{name}, ask {partner}.").is_empty());
    assert_eq!(placeholder_problems("{a} {a}").len(), 1);
    assert_eq!(placeholder_problems("{{partner}}").len(), 2);
}

#[test]
fn detects_over_long_texts_after_expansion() {
    let mut library = tiny();
    // 270 characters plus one placeholder (40 at worst) is over the question limit of 300.
    library.questions[0].text = format!("{{partner}}{}", "a".repeat(270));
    // Fine on its own, too long with the follow-up.
    library.micro[0].text = format!("{{partner}} {}", "b".repeat(600));
    library.micro[0].follow_up = Some("c".repeat(400));
    library.suggestions[0].text = "d".repeat(501);
    library.repair.close.title = format!("{{name}} {}", "e".repeat(10));
    library.repair.reflect.stems[1] = "f".repeat(101);
    library.repair.own_it.intro = "g".repeat(1001);
    library.safety.break_note = "h".repeat(1001);
    let errors = rules(&library);
    assert!(
        has(&errors, Some("q-0"), "310 characters"),
        "{}",
        show(&errors)
    );
    assert!(has(&errors, Some("m-0"), "text and follow_up are 1041"));
    assert!(has(&errors, Some("s-0"), "limit is 500"));
    assert!(has(&errors, Some("close"), "title is 51 characters"));
    assert!(has(&errors, Some("reflect"), "stem 2 is 101 characters"));
    assert!(has(&errors, Some("own_it"), "intro is 1001 characters"));
    assert!(has(&errors, None, "break_note is 1001 characters"));
    // The long question also no longer fits the answer box it is asked in.
    assert!(has(&errors, Some("q-0"), "answer box"), "{}", show(&errors));
    assert_eq!(errors.len(), 8, "{}", show(&errors));
}

#[test]
fn detects_empty_texts() {
    let mut library = tiny();
    library.micro[2].text = "  ".to_owned();
    library.micro[3].follow_up = Some(String::new());
    library.repair.revisit.stems.clear();
    library.safety.companion_note = String::new();
    let errors = rules(&library);
    let micro_2 = ContentError {
        file: "content/micro.toml".to_owned(),
        entry: Some("m-2".to_owned()),
        problem: "text is empty".to_owned(),
    };
    assert!(errors.contains(&micro_2), "{}", show(&errors));
    assert_eq!(
        micro_2.to_string(),
        "content/micro.toml, entry m-2: text is empty"
    );
    assert!(has(&errors, Some("m-3"), "follow_up is empty"));
    assert!(has(&errors, Some("revisit"), "stems is empty"));
    let safety = errors
        .iter()
        .find(|e| e.problem == "companion_note is empty")
        .expect("empty safety text");
    assert_eq!(
        safety.to_string(),
        "content/safety.toml: companion_note is empty"
    );
}

#[test]
fn detects_empty_and_unknown_categories() {
    let mut library = tiny();
    library.micro[4].concept = "gratefulness".to_owned();
    library.questions.retain(|q| q.slot != "weekly");
    library.suggestions[5].category = "Steady".to_owned();
    let errors = rules(&library);
    assert!(has(&errors, Some("m-4"), "unknown concept `gratefulness`"));
    assert!(has(
        &errors,
        None,
        "concept `gratitude`; every concept needs"
    ));
    assert!(has(&errors, None, "slot `weekly`"), "{}", show(&errors));
    assert!(has(&errors, Some("s-5"), "unknown category `Steady`"));
    assert!(has(&errors, None, "category `steady`"));
}

#[test]
fn detects_duplicate_texts_ignoring_case_and_spacing() {
    let mut library = tiny();
    library.questions[2].text = format!("  {}  ", library.micro[0].text.to_uppercase())
        .replace(' ', "   ")
        .replace("{PARTNER}", "{partner}");
    library.repair.own_it.stems = vec![
        "I'm sorry that I…".to_owned(),
        "i'm  SORRY that i…".to_owned(),
    ];
    let errors = rules(&library);
    assert!(
        has(
            &errors,
            Some("q-2"),
            "the same text as entry m-0 in content/micro.toml"
        ),
        "{}",
        show(&errors)
    );
    assert!(has(&errors, Some("own_it"), "stem 2 repeats stem 1"));
}

#[test]
fn detects_about_partner_mismatches() {
    let mut library = tiny();
    library.micro[0].text = "Notice one thing about your day.".to_owned();
    library.micro[1].about_partner = false;
    library.micro[2].text = "Notice your own breathing.".to_owned();
    library.micro[2].follow_up = Some("Then tell {partner}.".to_owned());
    let errors = rules(&library);
    assert!(
        has(&errors, Some("m-0"), "does not use {partner}"),
        "{}",
        show(&errors)
    );
    assert!(has(&errors, Some("m-1"), "about_partner is not true"));
    // {partner} in the follow-up counts as using it.
    assert!(!errors.iter().any(|e| e.entry.as_deref() == Some("m-2")));
}

#[test]
fn expand_replaces_placeholders_once() {
    assert_eq!(
        expand("{name}, ask {partner} how {partner} feels.", "<@2>", "Sam"),
        "Sam, ask <@2> how <@2> feels."
    );
    // Replacements are not expanded again; other braces are kept.
    assert_eq!(expand("{partner} {x}", "{name}", "Sam"), "{name} {x}");
    assert_eq!(expand("{partner", "P", "N"), "{partner");
    assert_eq!(expand("no placeholders", "P", "N"), "no placeholders");
}

#[test]
fn lookups() {
    let library = Library::builtin();
    let prompt = library.micro_by_id("bc-003").expect("bc-003 exists");
    assert_eq!(prompt.concept, "body_cues");
    assert!(library.micro_by_id("nope").is_none());
    assert_eq!(library.concepts(), MICRO_CONCEPTS.to_vec());
    assert_eq!(library.repair.step("own_it"), Some(&library.repair.own_it));
    assert_eq!(library.repair.step("nope"), None);

    let mut odd = tiny();
    odd.micro.retain(|p| p.concept != "bids");
    odd.micro[0].concept = "extra".to_owned();
    let concepts = odd.concepts();
    assert_eq!(concepts.last(), Some(&"extra"));
    assert!(!concepts.contains(&"bids"));
}

#[test]
fn load_dir_names_the_file_and_line_of_a_syntax_error() {
    let dir = TempDir::with_builtin_files();
    let broken = dir.write(
        "micro-extra.toml",
        "[[prompt]]\nid = \"x-01\"\nconcept = \"bids\"\ntext = \"Unclosed\nabout_partner = false\n",
    );
    let errors = Library::load_dir(&dir.0).expect_err("broken file").0;
    assert_eq!(errors.len(), 1, "{}", show(&errors));
    assert_eq!(errors[0].file, broken);
    assert!(
        errors[0].problem.starts_with("TOML syntax error at line 4"),
        "{}",
        errors[0]
    );
    assert!(errors[0].to_string().contains("micro-extra.toml"));
    assert!(!errors[0].problem.contains('\n'), "{}", errors[0]);

    // A broken main file is one problem, not a cascade of "no prompts for concept ...".
    std::fs::remove_file(dir.0.join("micro-extra.toml")).expect("remove extra file");
    let micro = dir.write("micro.toml", "[[prompt]]\nid = \"bc-01\"\n[[prompt]\n");
    let errors = Library::load_dir(&dir.0).expect_err("broken file").0;
    assert_eq!(errors.len(), 1, "{}", show(&errors));
    assert_eq!(errors[0].file, micro);
    assert!(
        errors[0].problem.starts_with("TOML syntax error at line 3"),
        "{}",
        errors[0]
    );
}

#[test]
fn load_dir_accepts_extra_files_and_reports_them_by_name() {
    let dir = TempDir::with_builtin_files();
    dir.write(
        "micro-extra.toml",
        "[[prompt]]\nid = \"x-01\"\nconcept = \"bids\"\ntext = \"Wave at {partner} from across the room.\"\nabout_partner = true\n",
    );
    let library = Library::load_dir(&dir.0).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(library.micro.len(), Library::builtin().micro.len() + 1);
    assert!(library.micro_by_id("x-01").is_some());

    // A duplicate id in the extra file is reported against it, naming the first file.
    let extra = dir.write(
        "micro-extra.toml",
        "[[question]]\nid = \"bc-003\"\nslot = \"morning\"\ntext = \"What's new, {name}?\"\n",
    );
    let errors = Library::load_dir(&dir.0).expect_err("duplicate id").0;
    assert_eq!(errors.len(), 1, "{}", show(&errors));
    assert_eq!(errors[0].file, extra);
    assert_eq!(errors[0].entry.as_deref(), Some("bc-003"));
    assert!(errors[0].problem.contains("micro.toml"), "{}", errors[0]);
}

#[test]
fn load_dir_reports_bad_entries_and_tables() {
    let dir = TempDir::with_builtin_files();
    let extra = dir.write(
        "zz-extra.toml",
        concat!(
            "[[prompt]]\nid = \"x-01\"\nconcept = \"bids\"\ntext = \"Hi {partner}.\"\nabout_parnter = true\n",
            "[[prompt]]\nconcept = \"bids\"\ntext = \"No id here.\"\n",
            "[[question]]\nid = \"x-02\"\nslot = \"noon\"\ntext = 42\n",
            "[step.apologise]\ntitle = \"Sorry\"\nintro = \"...\"\nstems = [\"I...\"]\n",
            "[step.own_it]\ntitle = \"Again\"\nintro = \"...\"\nstems = [\"I...\"]\n",
            "[prompts]\nid = \"typo\"\n",
        ),
    );
    let errors = Library::load_dir(&dir.0).expect_err("bad entries").0;
    let at = |entry: Option<&str>, needle: &str| {
        errors
            .iter()
            .any(|e| e.file == extra && e.entry.as_deref() == entry && e.problem.contains(needle))
    };
    assert!(
        at(Some("x-01"), "unknown field `about_parnter`"),
        "{}",
        show(&errors)
    );
    assert!(
        at(Some("#2 of [[prompt]]"), "missing field `id`"),
        "{}",
        show(&errors)
    );
    assert!(at(Some("x-02"), "invalid type"), "{}", show(&errors));
    assert!(
        at(Some("apologise"), "unknown repair step"),
        "{}",
        show(&errors)
    );
    assert!(at(Some("own_it"), "defined twice"), "{}", show(&errors));
    assert!(at(None, "unknown table `prompts`"), "{}", show(&errors));
    assert_eq!(errors.len(), 6, "{}", show(&errors));
}

#[test]
fn load_dir_reports_missing_parts_once() {
    let dir = TempDir::new();
    dir.write(
        "only.toml",
        "[[prompt]]\nid = \"x-01\"\nconcept = \"bids\"\ntext = \"Look up when {partner} speaks.\"\nabout_partner = true\n",
    );
    let errors = Library::load_dir(&dir.0).expect_err("incomplete").0;
    let label = dir.0.display().to_string();
    assert!(errors.iter().all(|e| e.file == label), "{}", show(&errors));
    assert!(has(&errors, None, "[step.regulate] is missing"));
    assert!(has(&errors, None, "[safety] table is missing"));
    // Missing parts are not reported again as empty texts.
    assert!(
        !errors.iter().any(|e| e.problem.contains("is empty")),
        "{}",
        show(&errors)
    );
    // 17 empty concepts + 3 slots + 6 categories + 8 steps + safety, 18 concepts without a
    // label, and the sizes a year needs: 3 slots, the prompts, 5 ways of caring, 4 themes,
    // 6 suggestion categories.
    assert!(
        has(&errors, Some("bids"), "no [concept.NAME] label"),
        "{}",
        show(&errors)
    );
    assert_eq!(
        errors.len(),
        17 + 3 + 6 + 8 + 1 + 18 + 19,
        "{}",
        show(&errors)
    );

    let empty = TempDir::new();
    let errors = Library::load_dir(&empty.0).expect_err("empty dir").0;
    assert!(has(&errors, None, "no .toml files"));
    let missing = empty.0.join("nope");
    let errors = Library::load_dir(&missing).expect_err("missing dir").0;
    assert!(has(&errors, None, "cannot read the content directory"));
}

#[test]
fn check_command_reports_clean_and_broken_libraries() {
    assert!(check_command(None));
    let dir = TempDir::with_builtin_files();
    assert!(check_command(Some(&dir.0)));
    dir.write("broken.toml", "[[prompt]\n");
    assert!(!check_command(Some(&dir.0)));
}

#[test]
fn summary_counts_every_concept_slot_and_category() {
    let text = summary(&Library::builtin(), "built-in library");
    for name in MICRO_CONCEPTS
        .iter()
        .chain(QUESTION_SLOTS)
        .chain(SUGGESTION_CATEGORIES)
    {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("Repair steps: 8 of 8"), "{text}");
    assert!(text.contains("Safety texts: 3 of 3"), "{text}");
}

#[test]
fn errors_display_all_problems() {
    let errors = ContentErrors(vec![
        ContentError::new("content/micro.toml", Some("bc-03"), "text is empty"),
        ContentError::new("content", None, "the [safety] table is missing"),
    ]);
    assert_eq!(
        errors.to_string(),
        "2 problems in the content library:\n  content/micro.toml, entry bc-03: text is empty\n  content: the [safety] table is missing"
    );
}

#[test]
fn signals_match_whole_phrases_only() {
    let lib = Library::builtin();
    assert_eq!(
        lib.signal_in("Sometimes I want to END MY LIFE."),
        Some(Signal::SelfHarm)
    );
    assert_eq!(
        lib.signal_in("I\u{2019}m scared of him when he drinks"),
        Some(Signal::Danger)
    );
    assert_eq!(lib.signal_in("I hit the gym and felt great"), None);
    assert_eq!(
        lib.signal_in("a suicidally boring meeting"),
        None,
        "whole words only"
    );
}

#[test]
fn detects_jargon_and_near_duplicate_suggestions() {
    let mut library = tiny();
    library.questions[0].text = "{name}, did you feel flooded today?".into();
    let copy = library.suggestions[0].text.clone();
    library.suggestions[1].text = format!("{copy} Really.");
    let errors = rules(&library);
    assert!(
        has(&errors, Some("q-0"), "jargon word `flooded`"),
        "{}",
        show(&errors)
    );
    assert!(
        has(&errors, Some("s-1"), "too much like suggestion s-0"),
        "{}",
        show(&errors)
    );
    // Whole words only: "forbids" is not "bids".
    let mut fine = tiny();
    fine.questions[0].text = "{name}, what forbids a slow morning today?".into();
    assert!(rules(&fine).is_empty(), "{}", show(&rules(&fine)));
}
