//! Cards as Matrix message contents: an `m.notice` with HTML (`org.matrix.custom.html`) and a
//! plain-text fallback, `m.mentions` naming only the people the card may notify, and the
//! card's controls as numbered lines that a person answers with a reply.
//!
//! What a number means rides along inside the bot's own event ([`Meta`], under
//! [`META_KEY`]): the homeserver keeps it (encrypted in encrypted rooms), so a reply is
//! understood after a restart, and only events the bot itself sent are ever read for it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::content::copy::keys;
use crate::content::Library;
use crate::transport::{Card, Control, Part, Text, TextRequest, TimeStyle};
use chrono_tz::Tz;

/// Where a bot event keeps what its numbers and its question mean.
pub const META_KEY: &str = "org.attune.card";

/// What a bot message offers: numbered choices, or a request for words.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The couple room the card is about (a direct room's cards act there).
    pub room: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Ask>,
    /// The post's idempotency key, so an earlier post can be recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// One numbered line: pressing a button, or picking a menu's option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub n: u32,
    /// The control's custom id.
    pub id: String,
    /// The menu option's value; none for a button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether the menu takes several options at once.
    #[serde(default)]
    pub multi: bool,
}

/// A request for words: a reply fills `field` of the request `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    pub id: String,
    pub field: String,
}

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Our own light markdown (`**bold**`, `*italic*`, `` `code` ``, a leading `> `) as HTML.
fn light_markdown(s: &str) -> String {
    let mut lines = Vec::new();
    for line in s.split('\n') {
        let (quoted, body) = match line.strip_prefix("> ") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let mut out = String::new();
        let (mut bold, mut em, mut code) = (false, false, false);
        let chars: Vec<char> = body.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' {
                out.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            } else if code {
                out.push_str(&escape(&c.to_string()));
            } else if c == '*' && chars.get(i + 1) == Some(&'*') {
                out.push_str(if bold { "</strong>" } else { "<strong>" });
                bold = !bold;
                i += 1;
            } else if c == '*' {
                out.push_str(if em { "</em>" } else { "<em>" });
                em = !em;
            } else {
                out.push_str(&escape(&c.to_string()));
            }
            i += 1;
        }
        if code {
            out.push_str("</code>");
        }
        if em {
            out.push_str("</em>");
        }
        if bold {
            out.push_str("</strong>");
        }
        lines.push(if quoted {
            format!("<blockquote>{out}</blockquote>")
        } else {
            out
        });
    }
    lines.join("<br>")
}

/// Whether a card, as rendered, shows an instant (which [`localise`] writes out).
pub fn shows_a_time(lib: &Library, card: &Card) -> bool {
    body(lib, card)
        .0
         .0
        .iter()
        .any(|p| matches!(p, Part::Instant(..)))
}

/// Matrix shows no instant in each reader's own zone, so a card's times are written out in
/// the couple's zones (`zones`: the home zone first), each named by its city.
pub fn localise(text: &mut Text, zones: &[Tz]) {
    if zones.is_empty() {
        return;
    }
    for part in text.0.iter_mut() {
        if let Part::Instant(at, style) = part {
            let f = match style {
                TimeStyle::Time => "%H:%M",
                TimeStyle::DateTime | TimeStyle::Relative => "%a %-d %b, %H:%M",
                TimeStyle::Full => "%A, %-d %B %Y, %H:%M",
            };
            let shown: Vec<String> = zones
                .iter()
                .map(|z| {
                    let city = z.name().rsplit('/').next().unwrap_or("").replace('_', " ");
                    format!("{} ({city})", at.with_timezone(z).format(f))
                })
                .collect();
            *part = Part::Plain(shown.join(" / "));
        }
    }
}

fn instant(t: &chrono::DateTime<chrono::Utc>, style: TimeStyle) -> String {
    // Matrix shows no instant in each reader's zone: UTC, said so.
    let f = match style {
        TimeStyle::Time => "%H:%M UTC",
        TimeStyle::DateTime | TimeStyle::Relative => "%-d %B %Y %H:%M UTC",
        TimeStyle::Full => "%A, %-d %B %Y %H:%M UTC",
    };
    t.format(f).to_string()
}

/// Our shared words name the slash commands (`/repair`, `/attune setup partner:@them`); on
/// Matrix the same commands are typed after a `!` (see `commands.rs`). Only our own words
/// are rewritten, never what someone typed.
fn typed_here(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains("`/") {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.replace("`/", "`!")
            .replace("setup partner:@them", "setup @them"),
    )
}

/// The plain-text fallback of a text.
pub fn plain(t: &Text) -> String {
    let mut out = String::new();
    for p in &t.0 {
        match p {
            Part::Plain(s) => out.push_str(&typed_here(s)),
            Part::Person(r) => out.push_str(&r.handle),
            Part::Instant(at, style) => out.push_str(&instant(at, *style)),
            Part::User(s) => out.push_str(&s.replace(['\n', '\r'], " ")),
            Part::Quote(s) => {
                for (i, line) in s.lines().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str("> ");
                    out.push_str(line);
                }
            }
        }
    }
    out
}

/// The HTML of a text: people as links to their Matrix ids, what people typed escaped.
pub fn html(t: &Text) -> String {
    let mut out = String::new();
    for p in &t.0 {
        match p {
            Part::Plain(s) => out.push_str(&light_markdown(&typed_here(s))),
            Part::Person(r) => out.push_str(&format!(
                "<a href=\"https://matrix.to/#/{}\">{}</a>",
                escape(&r.handle),
                escape(&r.handle)
            )),
            Part::Instant(at, style) => out.push_str(&escape(&instant(at, *style))),
            Part::User(s) => out.push_str(&escape(&s.replace(['\n', '\r'], " "))),
            Part::Quote(s) => {
                let lines: Vec<String> = s.lines().map(escape).collect();
                out.push_str(&format!("<blockquote>{}</blockquote>", lines.join("<br>")));
            }
        }
    }
    out
}

/// The card's words and panel as one text, then its controls as numbered lines.
fn body(lib: &Library, card: &Card) -> (Text, Vec<Choice>) {
    let mut text = card.text.clone();
    if let Some(panel) = &card.panel {
        let mut t = Text::new();
        if !panel.title.is_empty() {
            t.push_plain("**");
            t.append(panel.title.clone());
            t.push_plain("**");
        }
        let mut t = t.line(panel.body.clone());
        for f in &panel.fields {
            let mut line = Text::new();
            line.push_plain("**");
            line.append(f.name.clone());
            line.push_plain("**: ");
            line.append(f.value.clone());
            t = t.line(line);
        }
        if let Some(footer) = &panel.footer {
            let mut f = Text::new();
            f.push_plain("*");
            f.append(footer.clone());
            f.push_plain("*");
            t = t.line(f);
        }
        text = text.para(t);
    }
    let mut choices = Vec::new();
    let mut n = 0u32;
    let mut multi_any = false;
    for control in &card.controls {
        let mut block = Text::new();
        match control {
            Control::Buttons(bs) => {
                for b in bs {
                    n += 1;
                    block = block.line(Text::plain(format!("{n}. {}", b.label)));
                    choices.push(Choice {
                        n,
                        id: b.id.to_string(),
                        value: None,
                        multi: false,
                    });
                }
            }
            Control::Menu(m) => {
                let multi = m.max > 1;
                multi_any |= multi;
                block = block.line(Text::plain(format!("**{}**", m.placeholder)));
                for o in &m.options {
                    n += 1;
                    let mark = if o.selected { " ✓" } else { "" };
                    block = block.line(Text::plain(format!("{n}. {}{mark}", o.label)));
                    choices.push(Choice {
                        n,
                        id: m.id.to_string(),
                        value: Some(o.value.clone()),
                        multi,
                    });
                }
            }
        }
        text = text.para(block);
    }
    if !choices.is_empty() {
        let hint = if multi_any {
            keys::matrix::PICK_MANY
        } else {
            keys::matrix::PICK_ONE
        };
        let mut h = Text::new();
        h.push_plain("*");
        h.append(lib.t(hint, &[]));
        h.push_plain("*");
        text = text.para(h);
    }
    (text, choices)
}

/// The `m.mentions` of a card: only the people it may notify.
fn mentions(card: &Card) -> Value {
    let ids: Vec<&str> = card.notify.iter().map(|p| p.handle.as_str()).collect();
    json!({ "user_ids": ids })
}

/// A card as the content of an `m.room.message` (`m.notice`), and what its numbers mean.
pub fn content(
    lib: &Library,
    card: &Card,
    room: &str,
    key: Option<&str>,
    zones: &[Tz],
) -> (Value, Meta) {
    let (mut text, choices) = body(lib, card);
    localise(&mut text, zones);
    let meta = Meta {
        room: room.to_string(),
        choices,
        ask: None,
        key: key.map(str::to_string),
    };
    (notice(&text, mentions(card), &meta), meta)
}

fn notice(text: &Text, mentions: Value, meta: &Meta) -> Value {
    json!({
        "msgtype": "m.notice",
        "body": plain(text),
        "format": "org.matrix.custom.html",
        "formatted_body": html(text),
        "m.mentions": mentions,
        META_KEY: meta,
    })
}

/// A request for words as one message per box, each answered by a reply.
pub fn asks(lib: &Library, req: &TextRequest, room: &str) -> Vec<Value> {
    req.fields
        .iter()
        .map(|f| {
            let mut t = Text::plain(format!("**{}**", req.title));
            t = t.line(Text::plain(f.label.clone()));
            if let Some(v) = &f.value {
                t = t.line(Text::new().push(Part::Quote(v.clone())).clone());
            }
            if let Some(p) = &f.placeholder {
                t = t.line(Text::plain(format!("*{p}*")));
            }
            let mut hint = Text::new();
            hint.push_plain("*");
            hint.append(lib.t(keys::matrix::WRITE_REPLY, &[]));
            hint.push_plain("*");
            t = t.para(hint);
            let meta = Meta {
                room: room.to_string(),
                choices: Vec::new(),
                ask: Some(Ask {
                    id: req.id.to_string(),
                    field: f.key.to_string(),
                }),
                key: None,
            };
            notice(&t, json!({ "user_ids": [] }), &meta)
        })
        .collect()
}

/// A plain notice with no choices (a refusal, a short answer).
pub fn short(text: &Text, room: &str) -> Value {
    let meta = Meta {
        room: room.to_string(),
        ..Meta::default()
    };
    notice(text, json!({ "user_ids": [] }), &meta)
}

/// The replacement of an earlier message (`m.replace`) with new content.
pub fn replacement(original: &str, new: Value) -> Value {
    let mut outer = new.clone();
    if let Some(body) = new.get("body").and_then(Value::as_str) {
        outer["body"] = Value::String(format!("* {body}"));
    }
    if let Some(html) = new.get("formatted_body").and_then(Value::as_str) {
        outer["formatted_body"] = Value::String(format!("* {html}"));
    }
    outer["m.new_content"] = new;
    outer["m.relates_to"] = json!({ "rel_type": "m.replace", "event_id": original });
    outer
}

/// Marks a content as a reply to `event` (`m.in_reply_to`).
pub fn as_reply(mut content: Value, event: &str) -> Value {
    content["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": event } });
    content
}

/// The numbers a person wrote ("2", "1 3", "1, 3"), or none when it is not only numbers.
pub fn numbers(s: &str) -> Option<Vec<u32>> {
    let parts: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(|p| p.trim_end_matches('.'))
        .collect();
    if parts.is_empty() || parts.len() > 25 {
        return None;
    }
    parts.iter().map(|p| p.parse::<u32>().ok()).collect()
}

/// The presses a reply of numbers stands for: per control (in order of first pick), the
/// values picked (a single-choice menu keeps the last pick). `None` if a number is not offered.
pub fn presses(choices: &[Choice], picked: &[u32]) -> Option<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for n in picked {
        let c = choices.iter().find(|c| c.n == *n)?;
        match out.iter_mut().find(|(id, _)| *id == c.id) {
            Some((_, values)) => {
                if let Some(v) = &c.value {
                    if c.multi {
                        if !values.contains(v) {
                            values.push(v.clone());
                        }
                    } else {
                        *values = vec![v.clone()];
                    }
                }
            }
            None => out.push((c.id.clone(), c.value.iter().cloned().collect())),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_our_words_name_is_spelled_as_typed_on_matrix() {
        let lib = Library::builtin();
        for (name, words) in &lib.text {
            let t = Text::plain(words.as_str());
            for shown in [plain(&t), html(&t)] {
                assert!(
                    !shown.contains("`/") && !shown.contains(">/"),
                    "{name}: {shown}"
                );
                assert!(!shown.contains("partner:@"), "{name}: {shown}");
            }
        }
        let here = plain(&lib.t(keys::common::NO_COUPLE_HERE, &[]));
        assert!(here.contains("`!attune setup @them`"), "{here}");
        let mut typed = Text::plain("Try ");
        typed.push(Part::User("`/repair`".into()));
        assert!(
            plain(&typed).ends_with("`/repair`"),
            "what people type stays"
        );
    }

    #[test]
    fn times_are_written_in_each_partners_zone() {
        let at: chrono::DateTime<chrono::Utc> = "2026-11-25T07:00:00Z".parse().unwrap();
        let mut t = Text::plain("Next: ");
        t.push(Part::Instant(at, TimeStyle::DateTime));
        let mut utc = t.clone();
        localise(&mut t, &[Tz::Europe__Berlin, Tz::America__New_York]);
        assert_eq!(
            plain(&t),
            "Next: Wed 25 Nov, 08:00 (Berlin) / Wed 25 Nov, 02:00 (New York)"
        );
        localise(&mut utc, &[]);
        assert!(plain(&utc).ends_with("07:00 UTC"), "{}", plain(&utc));
    }

    #[test]
    fn markup_is_ours_only() {
        let mut t = Text::plain("**Hi** *there* `x`\n> quoted ");
        t.push(Part::User("<b>*not* bold</b>\nnext".into()));
        let h = html(&t);
        assert!(h.starts_with("<strong>Hi</strong> <em>there</em> <code>x</code><br>"));
        assert!(h.ends_with("<blockquote>quoted </blockquote>&lt;b&gt;*not* bold&lt;/b&gt; next"));
        assert!(plain(&t).ends_with("<b>*not* bold</b> next"));
    }

    #[test]
    fn numbers_become_presses() {
        assert_eq!(numbers("1, 3 5."), Some(vec![1, 3, 5]));
        assert_eq!(numbers("I feel 3"), None);
        assert_eq!(numbers(""), None);
        let c = |n, id: &str, v: Option<&str>, multi| Choice {
            n,
            id: id.into(),
            value: v.map(str::to_string),
            multi,
        };
        let choices = vec![
            c(1, "mood", Some("1"), false),
            c(2, "mood", Some("2"), false),
            c(3, "feel", Some("a"), true),
            c(4, "feel", Some("b"), true),
            c(5, "submit", None, false),
        ];
        assert_eq!(
            presses(&choices, &[1, 2, 4, 3, 5]),
            Some(vec![
                ("mood".into(), vec!["2".into()]),
                ("feel".into(), vec!["b".into(), "a".into()]),
                ("submit".into(), vec![]),
            ])
        );
        assert_eq!(presses(&choices, &[9]), None);
    }
}
