//! Cards to Discord: text parts to message markdown (`<@id>` mentions, `<t:…>` timestamps
//! each reader sees in their own zone, typed text escaped so it is never read as markup, a
//! link or a mention), panels to embeds, controls to action rows, text requests to modals,
//! and who a message may notify to `allowed_mentions`.

use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateButton,
    CreateEmbed, CreateEmbedFooter, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    CreateModal, CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, InputTextStyle,
};

use crate::domain::ids::PersonRef;
use crate::transport::{Card, Control, Panel, Part, Text, TextRequest, TimeStyle, Tone};

/// The accent colour of every embed: a soft warm rose.
pub const COLOUR: u32 = 0xE8_8F_A0;

/// The mentions every message allows by default: nobody.
pub fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .empty_users()
        .empty_roles()
        .everyone(false)
}

/// Allowed mentions that notify exactly these people and nobody else.
pub fn ping(people: &[PersonRef]) -> CreateAllowedMentions {
    no_pings().users(
        people
            .iter()
            .filter_map(|p| p.handle.parse::<u64>().ok())
            .filter(|id| *id != 0)
            .map(serenity::UserId::new),
    )
}

/// What a person typed, made inert: markdown characters escaped, mentions and links broken
/// with an invisible character, kept to one line.
fn escape_inline(s: &str) -> String {
    let one_line: String = s
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    escape(&one_line)
}

/// Escapes one line. `#`, `-` and `>` only mean something at the start of a line (a
/// heading, a list, a quote), so only there are they escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let lead = s.chars().take_while(|c| c.is_whitespace()).count();
    for (i, c) in s.chars().enumerate() {
        let at_start = i == lead;
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '[' | ']')
            || (at_start && matches!(c, '#' | '-' | '>'))
        {
            out.push('\\');
        }
        out.push(c);
        // "@everyone", "@here" and "https://" would be read as a mention or a link.
        if c == '@' {
            out.push('\u{200B}');
        }
    }
    out.replace("://", ":\u{200B}//")
}

fn style(s: TimeStyle) -> char {
    match s {
        TimeStyle::Time => 't',
        TimeStyle::DateTime => 'f',
        TimeStyle::Full => 'F',
        TimeStyle::Relative => 'R',
    }
}

/// A Discord timestamp; each reader sees it in their own local time.
pub fn ts(at: chrono::DateTime<chrono::Utc>, s: TimeStyle) -> String {
    format!("<t:{}:{}>", at.timestamp(), style(s))
}

/// Text as Discord markdown.
pub fn text(t: &Text) -> String {
    let mut out = String::new();
    for p in &t.0 {
        match p {
            Part::Plain(s) => out.push_str(s),
            Part::Person(p) => {
                out.push_str("<@");
                out.push_str(&p.handle);
                out.push('>');
            }
            Part::Instant(at, s) => out.push_str(&ts(*at, *s)),
            Part::User(s) => out.push_str(&escape_inline(s)),
            Part::Quote(s) => {
                let lines: Vec<String> = s.lines().map(|l| format!("> {}", escape(l))).collect();
                out.push_str(&lines.join("\n"));
            }
        }
    }
    out
}

fn embed(p: &Panel, image: Option<&str>) -> CreateEmbed {
    let mut e = CreateEmbed::new().colour(COLOUR);
    let title = text(&p.title);
    if !title.is_empty() {
        e = e.title(title);
    }
    let body = text(&p.body);
    if !body.is_empty() {
        e = e.description(body);
    }
    for f in &p.fields {
        e = e.field(text(&f.name), text(&f.value), f.inline);
    }
    if let Some(footer) = &p.footer {
        e = e.footer(CreateEmbedFooter::new(text(footer)));
    }
    if let Some(file) = image {
        e = e.image(format!("attachment://{file}"));
    }
    e
}

fn button_style(t: Tone) -> ButtonStyle {
    match t {
        Tone::Primary => ButtonStyle::Primary,
        Tone::Secondary => ButtonStyle::Secondary,
        Tone::Success => ButtonStyle::Success,
        Tone::Danger => ButtonStyle::Danger,
    }
}

fn rows(controls: &[Control]) -> Vec<CreateActionRow> {
    controls
        .iter()
        .map(|c| match c {
            Control::Buttons(bs) => CreateActionRow::Buttons(
                bs.iter()
                    .map(|b| {
                        CreateButton::new(b.id.encode())
                            .label(&b.label)
                            .style(button_style(b.tone))
                    })
                    .collect(),
            ),
            Control::Menu(m) => {
                let options = m
                    .options
                    .iter()
                    .map(|o| {
                        CreateSelectMenuOption::new(&o.label, &o.value)
                            .default_selection(o.selected)
                    })
                    .collect();
                let mut menu =
                    CreateSelectMenu::new(m.id.encode(), CreateSelectMenuKind::String { options })
                        .placeholder(&m.placeholder);
                if (m.min, m.max) != (1, 1) {
                    menu = menu.min_values(m.min).max_values(m.max);
                }
                CreateActionRow::SelectMenu(menu)
            }
        })
        .collect()
}

/// The files a card carries, as attachments.
pub fn files(card: &Card) -> Vec<CreateAttachment> {
    let mut out = Vec::new();
    if let Some(i) = &card.image {
        out.push(
            CreateAttachment::bytes(i.png.clone(), i.filename.clone()).description(i.alt.clone()),
        );
    }
    if let Some(f) = &card.file {
        out.push(CreateAttachment::bytes(f.bytes.clone(), f.filename.clone()));
    }
    out
}

fn embeds(card: &Card) -> Vec<CreateEmbed> {
    card.panel
        .iter()
        .map(|p| embed(p, card.image.as_ref().map(|i| i.filename.as_str())))
        .collect()
}

/// A post in the room (scheduled jobs, notices).
pub fn message(card: &Card) -> CreateMessage {
    let mut m = CreateMessage::new()
        .content(text(&card.text))
        .embeds(embeds(card))
        .components(rows(&card.controls))
        .allowed_mentions(ping(&card.notify));
    for f in files(card) {
        m = m.add_file(f);
    }
    m
}

/// What makes a posted message recognisably a card: its text, its embed's title and
/// description, and its controls' custom ids. Timestamps (`<t:…>`) are left out: a round's
/// closing time may move between two attempts of the same post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    content: String,
    embed: Option<(String, String)>,
    ids: Vec<String>,
}

/// Text without its Discord timestamps.
fn without_instants(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("<t:") {
        out.push_str(&rest[..i]);
        match rest[i..].find('>') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// The fingerprint of a card as [`message`] renders it.
pub fn fingerprint(card: &Card) -> Fingerprint {
    Fingerprint {
        content: without_instants(&text(&card.text)),
        embed: card.panel.as_ref().map(|p| {
            (
                without_instants(&text(&p.title)),
                without_instants(&text(&p.body)),
            )
        }),
        ids: card.ids().iter().map(|id| id.encode()).collect(),
    }
}

/// The fingerprint of a message as Discord returns it.
pub fn fingerprint_of(m: &serenity::Message) -> Fingerprint {
    let ids = m
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .filter_map(|c| match c {
            serenity::ActionRowComponent::Button(b) => match &b.data {
                serenity::ButtonKind::NonLink { custom_id, .. } => Some(custom_id.clone()),
                _ => None,
            },
            serenity::ActionRowComponent::SelectMenu(s) => s.custom_id.clone(),
            _ => None,
        })
        .collect();
    Fingerprint {
        content: without_instants(&m.content),
        embed: m.embeds.first().map(|e| {
            (
                without_instants(e.title.as_deref().unwrap_or("")),
                without_instants(e.description.as_deref().unwrap_or("")),
            )
        }),
        ids,
    }
}

/// The data of an interaction answer; private answers notify nobody.
pub fn response_data(card: &Card, ephemeral: bool) -> CreateInteractionResponseMessage {
    let mut m = CreateInteractionResponseMessage::new()
        .content(text(&card.text))
        .embeds(embeds(card))
        .components(rows(&card.controls))
        .allowed_mentions(if ephemeral {
            no_pings()
        } else {
            ping(&card.notify)
        });
    if ephemeral {
        m = m.ephemeral(true);
    }
    for f in files(card) {
        m = m.add_file(f);
    }
    m
}

/// A private message after the answer.
pub fn followup(card: &Card) -> CreateInteractionResponseFollowup {
    let mut f = CreateInteractionResponseFollowup::new()
        .content(text(&card.text))
        .embeds(embeds(card))
        .components(rows(&card.controls))
        .ephemeral(true)
        .allowed_mentions(no_pings());
    for a in files(card) {
        f = f.add_file(a);
    }
    f
}

/// A slash command's reply.
pub fn reply(card: &Card, ephemeral: bool) -> poise::CreateReply {
    let mut r = poise::CreateReply::default()
        .content(text(&card.text))
        .components(rows(&card.controls))
        .ephemeral(ephemeral)
        .allowed_mentions(if ephemeral {
            no_pings()
        } else {
            ping(&card.notify)
        });
    for e in embeds(card) {
        r = r.embed(e);
    }
    for f in files(card) {
        r = r.attachment(f);
    }
    r
}

/// A text request as a modal.
pub fn modal(req: &TextRequest) -> CreateModal {
    let inputs = req
        .fields
        .iter()
        .map(|f| {
            let style = if f.long {
                InputTextStyle::Paragraph
            } else {
                InputTextStyle::Short
            };
            let mut input = CreateInputText::new(style, &f.label, f.key)
                .max_length(f.max_len)
                .required(f.required);
            if let Some(p) = &f.placeholder {
                input = input.placeholder(p);
            }
            if let Some(v) = &f.value {
                input = input.value(v);
            }
            CreateActionRow::InputText(input)
        })
        .collect();
    CreateModal::new(req.id.encode(), &req.title).components(inputs)
}

/// A private plain answer to an interaction.
pub fn ephemeral_response(t: &Text) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text(t))
            .ephemeral(true)
            .allowed_mentions(no_pings()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_timestamps_only() {
        assert_eq!(
            without_instants("open until <t:1764061200:f>, see you"),
            "open until , see you"
        );
        assert_eq!(without_instants("<t:1:R> <t:2:t>"), "");
        assert_eq!(without_instants("a <t:unclosed"), "a <t:unclosed");
        let card = |until: i64, words: &str| {
            Card::text(Text(vec![
                Part::Plain(words.into()),
                Part::Instant(
                    chrono::DateTime::from_timestamp(until, 0).unwrap(),
                    TimeStyle::Time,
                ),
            ]))
        };
        assert_eq!(
            fingerprint(&card(1, "closes at ")),
            fingerprint(&card(2, "closes at "))
        );
        assert_ne!(
            fingerprint(&card(1, "closes at ")),
            fingerprint(&card(1, "reminder: closes at "))
        );
    }

    #[test]
    fn typed_text_cannot_forge_markup_mentions_or_links() {
        let sneaky = "# fine\n**bold** <@123> @everyone [x](https://evil.example) - a-b";
        let t = Text(vec![Part::User(sneaky.into())]);
        let out = text(&t);
        assert!(!out.contains('\n'), "{out}");
        assert!(out.contains("\\*\\*bold\\*\\*"), "{out}");
        assert!(out.contains("\\<@\u{200B}123>"), "{out}");
        assert!(out.contains("@\u{200B}everyone"), "{out}");
        assert!(!out.contains("https://"), "{out}");
        assert!(out.contains("\\[x\\]"), "{out}");
        assert!(out.starts_with("\\# fine"), "{out}");
        assert!(out.ends_with(" - a-b"), "{out}");
        let q = text(&Text(vec![Part::Quote("one\n> two".into())]));
        assert_eq!(q, "> one\n> \\> two");
    }

    #[test]
    fn people_and_times_render_for_every_reader() {
        let at: chrono::DateTime<chrono::Utc> = "2026-11-25T07:00:00Z".parse().unwrap();
        let p = PersonRef {
            id: crate::domain::ids::PersonId::new(),
            handle: "42".into(),
        };
        let t = Text(vec![
            Part::Person(p),
            Part::Plain(" at ".into()),
            Part::Instant(at, TimeStyle::Relative),
        ]);
        assert_eq!(text(&t), format!("<@42> at <t:{}:R>", at.timestamp()));
    }
}
