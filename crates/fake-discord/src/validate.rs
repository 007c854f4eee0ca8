//! Hand-written checks of Discord's documented limits, and the call into the bot's own
//! [`MessagePolicy`] for new messages.
//!
//! The OpenAPI description is a preview and looser than the documentation in places (4000-char
//! content, 40 components), so the documented limits are checked here by hand; they also run
//! when the spec file is absent.

use std::collections::HashSet;

use serde_json::Value;

use super::MessagePolicy;

pub(super) type Report<'a> = &'a mut dyn FnMut(String);

/// What kind of message body is being checked.
pub(super) struct Ctx<'a> {
    label: &'a str,
    /// A new message: must not be empty, and the bot's policy applies.
    creates: bool,
    has_files: bool,
    policy: Option<&'a MessagePolicy>,
}

impl<'a> Ctx<'a> {
    pub fn channel_create(
        label: &'a str,
        has_files: bool,
        policy: Option<&'a MessagePolicy>,
    ) -> Ctx<'a> {
        Ctx {
            label,
            creates: true,
            has_files,
            policy,
        }
    }

    pub fn followup(label: &'a str, has_files: bool, policy: Option<&'a MessagePolicy>) -> Ctx<'a> {
        Ctx::channel_create(label, has_files, policy)
    }

    pub fn edit(label: &'a str) -> Ctx<'a> {
        Ctx {
            label,
            creates: false,
            has_files: false,
            policy: None,
        }
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

fn max_len(v: &Value, max: usize, what: &str, label: &str, report: Report<'_>) {
    let n = chars(v);
    if n > max {
        report(format!("{label}: {what} is {n} chars (max {max})"));
    }
}

fn nonempty_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

/// Checks a message body (create, edit, or the `data` of a message callback).
pub(super) fn check_message(body: &Value, ctx: &Ctx<'_>, report: Report<'_>) {
    let label = ctx.label;
    if !body.is_object() {
        if ctx.creates {
            report(format!("{label}: message body is not an object"));
        }
        return;
    }
    max_len(&body["content"], 2000, "content", label, report);
    check_embeds(&body["embeds"], label, report);
    let flags = body["flags"].as_u64().unwrap_or(0);
    check_components(&body["components"], flags, label, report);
    if let Some(n) = body.get("nonce") {
        if let Some(s) = n.as_str() {
            if s.chars().count() > 25 {
                report(format!(
                    "{label}: nonce is {} chars (max 25)",
                    s.chars().count()
                ));
            }
        }
    }
    if ctx.creates {
        let has_content = body["content"].as_str().is_some_and(|s| !s.is_empty());
        let has_any = has_content
            || nonempty_array(&body["embeds"])
            || nonempty_array(&body["components"])
            || nonempty_array(&body["sticker_ids"])
            || body.get("poll").is_some_and(|p| !p.is_null())
            || ctx.has_files;
        if !has_any {
            report(format!(
                "{label}: empty message (no content, embeds, components or attachments)"
            ));
        }
        if let Some(policy) = ctx.policy {
            for problem in policy.check(body) {
                report(format!("{label}: {problem}"));
            }
        }
    }
}

fn check_embeds(embeds: &Value, label: &str, report: Report<'_>) {
    let Some(list) = embeds.as_array() else {
        return;
    };
    if list.len() > 10 {
        report(format!("{label}: {} embeds (max 10)", list.len()));
    }
    let mut total = 0;
    for (i, e) in list.iter().enumerate() {
        let at = |what: &str| format!("embeds[{i}].{what}");
        max_len(&e["title"], 256, &at("title"), label, report);
        max_len(&e["description"], 4096, &at("description"), label, report);
        max_len(
            &e["footer"]["text"],
            2048,
            &at("footer.text"),
            label,
            report,
        );
        max_len(&e["author"]["name"], 256, &at("author.name"), label, report);
        total += chars(&e["title"])
            + chars(&e["description"])
            + chars(&e["footer"]["text"])
            + chars(&e["author"]["name"]);
        if let Some(fields) = e["fields"].as_array() {
            if fields.len() > 25 {
                report(format!(
                    "{label}: {} has {} fields (max 25)",
                    at("fields"),
                    fields.len()
                ));
            }
            for (j, f) in fields.iter().enumerate() {
                let name = format!("embeds[{i}].fields[{j}]");
                max_len(&f["name"], 256, &format!("{name}.name"), label, report);
                max_len(&f["value"], 1024, &format!("{name}.value"), label, report);
                if chars(&f["name"]) == 0 || chars(&f["value"]) == 0 {
                    report(format!("{label}: {name} has an empty name or value"));
                }
                total += chars(&f["name"]) + chars(&f["value"]);
            }
        }
    }
    if total > 6000 {
        report(format!("{label}: embeds total {total} chars (max 6000)"));
    }
}

fn check_custom_id(
    v: &Value,
    at: &str,
    seen: &mut HashSet<String>,
    label: &str,
    report: Report<'_>,
) {
    match v.as_str() {
        None => report(format!("{label}: {at}.custom_id missing")),
        Some(s) => {
            let n = s.chars().count();
            if n == 0 || n > 100 {
                report(format!(
                    "{label}: {at}.custom_id is {n} chars (must be 1-100)"
                ));
            }
            if !seen.insert(s.to_string()) {
                report(format!(
                    "{label}: {at}.custom_id \"{s}\" is not unique in the message"
                ));
            }
        }
    }
}

const IS_COMPONENTS_V2: u64 = 1 << 15;

fn check_components(components: &Value, flags: u64, label: &str, report: Report<'_>) {
    let Some(rows) = components.as_array() else {
        return;
    };
    if flags & IS_COMPONENTS_V2 != 0 {
        // Components v2 layouts follow other rules; Attune does not use them.
        return;
    }
    if rows.len() > 5 {
        report(format!("{label}: {} action rows (max 5)", rows.len()));
    }
    let mut seen = HashSet::new();
    for (r, row) in rows.iter().enumerate() {
        if row["type"].as_u64() != Some(1) {
            report(format!("{label}: components[{r}] is not an action row"));
            continue;
        }
        let items = row["components"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            report(format!("{label}: components[{r}] is an empty action row"));
        }
        let buttons = items
            .iter()
            .filter(|c| c["type"].as_u64() == Some(2))
            .count();
        let selects = items.len() - buttons;
        if buttons > 5 {
            report(format!(
                "{label}: components[{r}] has {buttons} buttons (max 5)"
            ));
        }
        if selects > 0 && items.len() > 1 {
            report(format!(
                "{label}: components[{r}]: a select menu must be alone in its row"
            ));
        }
        for (c, comp) in items.iter().enumerate() {
            let at = format!("components[{r}].components[{c}]");
            match comp["type"].as_u64() {
                Some(2) => check_button(comp, &at, &mut seen, label, report),
                Some(3 | 5 | 6 | 7 | 8) => check_select(comp, &at, &mut seen, label, report),
                other => report(format!(
                    "{label}: {at} has type {other:?}, not allowed in a message row"
                )),
            }
        }
    }
}

fn check_button(b: &Value, at: &str, seen: &mut HashSet<String>, label: &str, report: Report<'_>) {
    max_len(&b["label"], 80, &format!("{at}.label"), label, report);
    let style = b["style"].as_u64().unwrap_or(0);
    let has_custom = b.get("custom_id").is_some_and(|v| !v.is_null());
    match style {
        5 => {
            if b["url"].as_str().is_none() {
                report(format!("{label}: {at} is a link button without url"));
            }
            if has_custom {
                report(format!("{label}: {at} is a link button with a custom_id"));
            }
        }
        6 => {
            if b.get("sku_id").is_none_or(Value::is_null) {
                report(format!("{label}: {at} is a premium button without sku_id"));
            }
        }
        1..=4 => {
            check_custom_id(&b["custom_id"], at, seen, label, report);
            if b.get("url").is_some_and(|v| !v.is_null()) {
                report(format!("{label}: {at} is a non-link button with a url"));
            }
        }
        other => report(format!("{label}: {at} has invalid button style {other}")),
    }
    let has_label = b["label"].as_str().is_some_and(|s| !s.is_empty());
    let has_emoji = b.get("emoji").is_some_and(|v| !v.is_null());
    if style != 6 && !has_label && !has_emoji {
        report(format!("{label}: {at} is a button without label or emoji"));
    }
}

fn check_select(s: &Value, at: &str, seen: &mut HashSet<String>, label: &str, report: Report<'_>) {
    check_custom_id(&s["custom_id"], at, seen, label, report);
    max_len(
        &s["placeholder"],
        150,
        &format!("{at}.placeholder"),
        label,
        report,
    );
    let min = s["min_values"].as_u64();
    let max = s["max_values"].as_u64();
    if min.is_some_and(|m| m > 25) {
        report(format!("{label}: {at}.min_values above 25"));
    }
    if max.is_some_and(|m| m == 0 || m > 25) {
        report(format!("{label}: {at}.max_values must be 1-25"));
    }
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            report(format!("{label}: {at}.min_values {a} > max_values {b}"));
        }
    }
    if s["type"].as_u64() == Some(3) {
        let options = s["options"].as_array().cloned().unwrap_or_default();
        if options.is_empty() || options.len() > 25 {
            report(format!(
                "{label}: {at} has {} options (must be 1-25)",
                options.len()
            ));
        }
        if max.is_some_and(|m| m as usize > options.len()) {
            report(format!(
                "{label}: {at}.max_values exceeds the number of options"
            ));
        }
        let mut values = HashSet::new();
        for (i, o) in options.iter().enumerate() {
            let oat = format!("{at}.options[{i}]");
            for key in ["label", "value"] {
                let n = chars(&o[key]);
                if n == 0 || n > 100 {
                    report(format!("{label}: {oat}.{key} is {n} chars (must be 1-100)"));
                }
            }
            max_len(
                &o["description"],
                100,
                &format!("{oat}.description"),
                label,
                report,
            );
            if let Some(v) = o["value"].as_str() {
                if !values.insert(v.to_string()) {
                    report(format!("{label}: {oat}.value \"{v}\" is duplicated"));
                }
            }
        }
    }
}

fn check_modal(data: &Value, label: &str, report: Report<'_>) {
    let title = chars(&data["title"]);
    if title == 0 || title > 45 {
        report(format!(
            "{label}: modal title is {title} chars (must be 1-45)"
        ));
    }
    let mut seen = HashSet::new();
    check_custom_id(
        &data["custom_id"],
        "modal",
        &mut HashSet::new(),
        label,
        report,
    );
    let rows = data["components"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() || rows.len() > 5 {
        report(format!(
            "{label}: modal has {} rows (must be 1-5)",
            rows.len()
        ));
    }
    for (r, row) in rows.iter().enumerate() {
        let items = row["components"].as_array().cloned().unwrap_or_default();
        if row["type"].as_u64() != Some(1) || items.len() != 1 {
            report(format!(
                "{label}: modal row {r} must be an action row with exactly one text input"
            ));
        }
        for input in &items {
            let at = format!("modal row {r} input");
            if input["type"].as_u64() != Some(4) {
                report(format!("{label}: {at} is not a text input"));
                continue;
            }
            check_custom_id(&input["custom_id"], &at, &mut seen, label, report);
            let l = chars(&input["label"]);
            if l == 0 || l > 45 {
                report(format!("{label}: {at}.label is {l} chars (must be 1-45)"));
            }
            if !matches!(input["style"].as_u64(), Some(1 | 2)) {
                report(format!("{label}: {at}.style must be 1 or 2"));
            }
            let min = input["min_length"].as_u64();
            let max = input["max_length"].as_u64();
            if min.is_some_and(|m| m > 4000) {
                report(format!("{label}: {at}.min_length above 4000"));
            }
            if max.is_some_and(|m| m == 0 || m > 4000) {
                report(format!("{label}: {at}.max_length must be 1-4000"));
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    report(format!("{label}: {at}.min_length {a} > max_length {b}"));
                }
            }
            let limit = max.unwrap_or(4000) as usize;
            max_len(
                &input["value"],
                limit,
                &format!("{at}.value"),
                label,
                report,
            );
            max_len(
                &input["placeholder"],
                100,
                &format!("{at}.placeholder"),
                label,
                report,
            );
        }
    }
}

fn check_choices(data: &Value, label: &str, report: Report<'_>) {
    let choices = data["choices"].as_array().cloned().unwrap_or_default();
    if choices.len() > 25 {
        report(format!(
            "{label}: {} autocomplete choices (max 25)",
            choices.len()
        ));
    }
    for (i, c) in choices.iter().enumerate() {
        let n = chars(&c["name"]);
        if n == 0 || n > 100 {
            report(format!(
                "{label}: choices[{i}].name is {n} chars (must be 1-100)"
            ));
        }
        max_len(
            &c["value"],
            100,
            &format!("choices[{i}].value"),
            label,
            report,
        );
    }
}

/// Checks an interaction callback body for the interaction kind it answers.
pub(super) fn check_callback(
    body: &Value,
    label: &str,
    has_files: bool,
    policy: Option<&MessagePolicy>,
    report: Report<'_>,
) {
    let data = &body["data"];
    match body["type"].as_u64() {
        Some(4) => check_message(data, &Ctx::channel_create(label, has_files, policy), report),
        Some(7) => check_message(data, &Ctx::edit(label), report),
        Some(8) => check_choices(data, label, report),
        Some(9) => check_modal(data, label, report),
        _ => {}
    }
}

/// Light checks of a command registration (names and descriptions Discord would reject).
pub(super) fn check_command(cmd: &Value, label: &str, report: Report<'_>) {
    let name = cmd["name"].as_str().unwrap_or("");
    let n = name.chars().count();
    if n == 0 || n > 32 {
        report(format!(
            "{label}: command name \"{name}\" must be 1-32 chars"
        ));
    }
    let chat_input = cmd["type"].as_u64().unwrap_or(1) == 1;
    if chat_input {
        if name.chars().any(|c| c.is_uppercase() || c == ' ') {
            report(format!(
                "{label}: slash command name \"{name}\" must be lowercase without spaces"
            ));
        }
        let d = chars(&cmd["description"]);
        if d == 0 || d > 100 {
            report(format!(
                "{label}: command \"{name}\" description is {d} chars (must be 1-100)"
            ));
        }
    }
    check_options(&cmd["options"], name, label, report);
}

fn check_options(options: &Value, parent: &str, label: &str, report: Report<'_>) {
    let Some(list) = options.as_array() else {
        return;
    };
    if list.len() > 25 {
        report(format!(
            "{label}: \"{parent}\" has {} options (max 25)",
            list.len()
        ));
    }
    for o in list {
        let name = o["name"].as_str().unwrap_or("");
        let path = format!("{parent} {name}");
        let d = chars(&o["description"]);
        if name.is_empty() || name.chars().count() > 32 || d == 0 || d > 100 {
            report(format!(
                "{label}: option \"{path}\" needs a 1-32 char name and 1-100 char description"
            ));
        }
        if o["choices"].as_array().is_some_and(|c| c.len() > 25) {
            report(format!(
                "{label}: option \"{path}\" has more than 25 choices"
            ));
        }
        check_options(&o["options"], &path, label, report);
    }
}
