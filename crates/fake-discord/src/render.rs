//! How a message looks to a reader: helpers to find buttons and selects, plain text for
//! assertions, and a transcript rendering for demos and snapshot-style tests.

use std::collections::HashMap;

use serde_json::Value;

use super::FakeMessage;

/// A button as a user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub custom_id: Option<String>,
    pub disabled: bool,
    /// 1 primary, 2 secondary, 3 success, 4 danger, 5 link, 6 premium.
    pub style: u8,
    pub url: Option<String>,
}

/// One option of a string select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectOption {
    pub label: String,
    pub value: String,
    pub description: Option<String>,
    pub default: bool,
}

/// A select menu as a user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Select {
    pub custom_id: String,
    /// Component type: 3 string, 5 user, 6 role, 7 mentionable, 8 channel.
    pub kind: u8,
    pub placeholder: Option<String>,
    pub options: Vec<SelectOption>,
    pub disabled: bool,
    pub min_values: Option<u64>,
    pub max_values: Option<u64>,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn opt_s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

impl FakeMessage {
    fn row_items(&self) -> impl Iterator<Item = &Value> {
        self.components
            .iter()
            .flat_map(|row| row["components"].as_array().into_iter().flatten())
    }

    pub fn buttons(&self) -> Vec<Button> {
        self.row_items()
            .filter(|c| c["type"].as_u64() == Some(2))
            .map(|c| Button {
                label: s(&c["label"]),
                custom_id: opt_s(&c["custom_id"]),
                disabled: c["disabled"].as_bool().unwrap_or(false),
                style: c["style"].as_u64().unwrap_or(0) as u8,
                url: opt_s(&c["url"]),
            })
            .collect()
    }

    /// The custom_id of the first button with this label.
    pub fn button_id(&self, label: &str) -> Option<String> {
        self.buttons()
            .into_iter()
            .find(|b| b.label == label)
            .and_then(|b| b.custom_id)
    }

    pub fn selects(&self) -> Vec<Select> {
        self.row_items()
            .filter(|c| matches!(c["type"].as_u64(), Some(3 | 5 | 6 | 7 | 8)))
            .map(|c| Select {
                custom_id: s(&c["custom_id"]),
                kind: c["type"].as_u64().unwrap_or(3) as u8,
                placeholder: opt_s(&c["placeholder"]),
                options: c["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| SelectOption {
                        label: s(&o["label"]),
                        value: s(&o["value"]),
                        description: opt_s(&o["description"]),
                        default: o["default"].as_bool().unwrap_or(false),
                    })
                    .collect(),
                disabled: c["disabled"].as_bool().unwrap_or(false),
                min_values: c["min_values"].as_u64(),
                max_values: c["max_values"].as_u64(),
            })
            .collect()
    }

    /// Content plus the text of every embed (author, title, description, fields, footer),
    /// one piece per line, for `contains` assertions.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if !self.content.is_empty() {
            parts.push(self.content.clone());
        }
        for e in &self.embeds {
            for key in [&e["author"]["name"], &e["title"], &e["description"]] {
                if let Some(t) = key.as_str() {
                    parts.push(t.to_string());
                }
            }
            for f in e["fields"].as_array().into_iter().flatten() {
                parts.push(format!("{}: {}", s(&f["name"]), s(&f["value"])));
            }
            if let Some(t) = e["footer"]["text"].as_str() {
                parts.push(t.to_string());
            }
        }
        parts.join("\n")
    }

    /// The message as a reader sees it; `names` maps user and channel ids to names.
    pub fn render(&self, names: &HashMap<u64, String>) -> String {
        let name = |id: u64| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
        let mut out = String::new();
        if let Some(u) = self.ephemeral_for {
            out.push_str(&format!("(only {} sees this) ", name(u)));
        }
        out.push_str(&name(self.author_id));
        out.push(':');
        if self.edited {
            out.push_str(" (edited)");
        }
        let mut lines: Vec<String> = Vec::new();
        let content = render_markup(&self.content, names);
        let mut content_lines = content.lines();
        if let Some(first) = content_lines.next() {
            out.push(' ');
            out.push_str(first);
        }
        lines.extend(content_lines.map(|l| format!("  {l}")));
        let mut shown_images = Vec::new();
        for e in &self.embeds {
            let mut push = |t: String| lines.push(format!("  | {t}"));
            if let Some(a) = e["author"]["name"].as_str() {
                push(render_markup(a, names));
            }
            if let Some(t) = e["title"].as_str() {
                push(format!("**{}**", render_markup(t, names)));
            }
            if let Some(d) = e["description"].as_str() {
                for l in render_markup(d, names).lines() {
                    push(l.to_string());
                }
            }
            for f in e["fields"].as_array().into_iter().flatten() {
                let value = render_markup(&s(&f["value"]), names);
                let mut value_lines = value.lines();
                push(format!(
                    "{}: {}",
                    render_markup(&s(&f["name"]), names),
                    value_lines.next().unwrap_or("")
                ));
                for l in value_lines {
                    push(format!("  {l}"));
                }
            }
            for key in ["image", "thumbnail"] {
                if let Some(url) = e[key]["url"].as_str() {
                    let file = url.strip_prefix("attachment://").unwrap_or(url);
                    shown_images.push(file.to_string());
                    push(format!("[image: {file}]"));
                }
            }
            if let Some(t) = e["footer"]["text"].as_str() {
                push(format!("— {}", render_markup(t, names)));
            }
        }
        for a in &self.attachments {
            if !shown_images.contains(&a.filename) {
                let kind = if is_image(&a.filename) {
                    "image"
                } else {
                    "file"
                };
                lines.push(format!("  [{kind}: {}]", a.filename));
            }
        }
        for row in &self.components {
            let items: Vec<String> = row["components"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| match c["type"].as_u64() {
                    Some(2) => {
                        let label = s(&c["label"]);
                        let label = if label.is_empty() {
                            c["emoji"]["name"].as_str().unwrap_or("?").to_string()
                        } else {
                            label
                        };
                        if c["disabled"].as_bool() == Some(true) {
                            format!("[{label} (disabled)]")
                        } else {
                            format!("[{label}]")
                        }
                    }
                    Some(3) => {
                        let opts: Vec<String> = c["options"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|o| s(&o["label"]))
                            .collect();
                        let ph = c["placeholder"].as_str().unwrap_or("Select");
                        format!("<{ph}: {}>", opts.join(" | "))
                    }
                    Some(_) => {
                        format!("<{}>", c["placeholder"].as_str().unwrap_or("Select"))
                    }
                    None => String::new(),
                })
                .collect();
            if !items.is_empty() {
                lines.push(format!("  {}", items.join(" ")));
            }
        }
        for l in lines {
            out.push('\n');
            out.push_str(&l);
        }
        out
    }
}

fn is_image(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Ids of users mentioned as `<@id>` or `<@!id>`.
pub(super) fn mentioned_user_ids(text: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let body = rest.strip_prefix('!').unwrap_or(rest);
        if let Some(end) = body.find('>') {
            if let Ok(id) = body[..end].parse::<u64>() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

/// Replaces `<@id>`, `<@!id>`, `<@&id>`, `<#id>` and `<t:UNIX[:STYLE]>` with readable text.
pub(super) fn render_markup(text: &str, names: &HashMap<u64, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match tail
            .find('>')
            .and_then(|end| render_token(&tail[1..end], names).map(|r| (r, end)))
        {
            Some((rendered, end)) => {
                out.push_str(&rendered);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn render_token(token: &str, names: &HashMap<u64, String>) -> Option<String> {
    let name = |id: &str| -> Option<String> {
        let id: u64 = id.parse().ok()?;
        Some(names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
    };
    if let Some(id) = token.strip_prefix("@&") {
        return name(id).map(|n| format!("@{n}"));
    }
    if let Some(id) = token.strip_prefix("@!").or_else(|| token.strip_prefix('@')) {
        return name(id).map(|n| format!("@{n}"));
    }
    if let Some(id) = token.strip_prefix('#') {
        return name(id).map(|n| format!("#{n}"));
    }
    if let Some(ts) = token.strip_prefix("t:") {
        let unix = ts.split(':').next()?.parse::<i64>().ok()?;
        let dt = chrono::DateTime::from_timestamp(unix, 0)?;
        return Some(dt.format("%Y-%m-%d %H:%M UTC").to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup() {
        let names = HashMap::from([(1u64, "alice".to_string()), (2, "us".to_string())]);
        assert_eq!(
            render_markup(
                "hi <@1> in <#2> at <t:1795593600:F> (<t:1795593600:R>) <b>",
                &names
            ),
            "hi @alice in #us at 2026-11-25 08:00 UTC (2026-11-25 08:00 UTC) <b>"
        );
        assert_eq!(mentioned_user_ids("<@1> <@!2> <@&3> <@1>"), vec![1, 2]);
    }
}
