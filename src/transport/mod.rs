//! The transport port: what the flows and the scheduler need from a chat platform, and the
//! neutral card they hand it.
//!
//! A [`Card`] is made of [`Text`] (plain words from `content/`, mentions of people, instants
//! each reader sees in their own zone, and what a person typed, which is never read as
//! markup), an optional [`Panel`], rows of [`Control`]s that carry typed custom ids, and
//! optionally an image or a file. A [`TextRequest`] asks a person for words (a modal on
//! Discord, a reply on Matrix). Each transport renders these its own way and declares what it
//! can do ([`Caps`]), so a flow can degrade where a platform lacks something.
//!
//! Nothing here knows Discord or Matrix; the adapters implement [`Transport`].

pub mod recording;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::couple::Room;
use crate::domain::custom_id::CustomId;
use crate::domain::ids::{MessageRef, PersonRef, TransportKind};

/// How an instant is shown; every reader sees it in their own zone where the platform can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// "16:20"
    Time,
    /// "20 April 2021 16:20"
    DateTime,
    /// "Tuesday, 20 April 2021 16:20"
    Full,
    /// "in 2 hours"
    Relative,
}

/// One piece of a text.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Our own words (from `content/`): light markdown (`**bold**`, `*italic*`, `` `code` ``,
    /// a leading `> `) and line breaks.
    Plain(String),
    /// A person, shown by name to every reader.
    Person(PersonRef),
    /// An instant each reader sees in their own zone.
    Instant(DateTime<Utc>, TimeStyle),
    /// Something a person typed, inline: shown exactly as typed, on one line, never read as
    /// markup, a link or a mention.
    User(String),
    /// Something a person typed, as a block quote: every line quoted, nothing read as markup.
    Quote(String),
}

/// Text made of parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text(pub Vec<Part>);

impl Text {
    pub fn new() -> Text {
        Text(Vec::new())
    }

    pub fn plain(s: impl Into<String>) -> Text {
        Text(vec![Part::Plain(s.into())])
    }

    pub fn push(&mut self, part: Part) -> &mut Self {
        self.0.push(part);
        self
    }

    pub fn push_plain(&mut self, s: impl Into<String>) -> &mut Self {
        self.push(Part::Plain(s.into()))
    }

    pub fn append(&mut self, other: Text) -> &mut Self {
        self.0.extend(other.0);
        self
    }

    /// `self`, then `other` after a line break (or just `other` when `self` is empty).
    pub fn line(mut self, other: Text) -> Text {
        if !self.is_empty() && !other.is_empty() {
            self.push_plain("\n");
        }
        self.append(other);
        self
    }

    /// `self`, then `other` after a blank line.
    pub fn para(mut self, other: Text) -> Text {
        if !self.is_empty() && !other.is_empty() {
            self.push_plain("\n\n");
        }
        self.append(other);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|p| match p {
            Part::Plain(s) | Part::User(s) | Part::Quote(s) => s.is_empty(),
            Part::Person(_) | Part::Instant(..) => false,
        })
    }

    /// Our own words and what people typed, for a place that takes no markup or mentions
    /// (a placeholder in a text box); people and instants are left out, so texts meant for
    /// this hold neither.
    pub fn words(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Plain(s) | Part::User(s) | Part::Quote(s) => s.as_str(),
                Part::Person(_) | Part::Instant(..) => "",
            })
            .collect()
    }

    /// Everyone mentioned, in order, without repeats.
    pub fn people(&self) -> Vec<PersonRef> {
        let mut out: Vec<PersonRef> = Vec::new();
        for p in &self.0 {
            if let Part::Person(r) = p {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
        }
        out
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::plain(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::plain(s)
    }
}

/// A framed block under the text (an embed on Discord).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    pub title: Text,
    pub body: Text,
    pub fields: Vec<Field>,
    pub footer: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Text,
    pub value: Text,
    pub inline: bool,
}

/// How strongly a button asks to be pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Primary,
    Secondary,
    Success,
    Danger,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub id: CustomId,
    pub label: String,
    pub tone: Tone,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MenuOption {
    pub label: String,
    pub value: String,
    pub selected: bool,
}

/// A choice of one or more options.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    pub id: CustomId,
    pub placeholder: String,
    pub options: Vec<MenuOption>,
    pub min: u8,
    pub max: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Buttons(Vec<Button>),
    Menu(Menu),
}

/// A picture with the words that describe it to someone who cannot see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub png: Vec<u8>,
    pub filename: String,
    pub alt: String,
}

/// A file for the reader to download (an export).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A message: words, an optional panel, controls, and who it may notify.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    pub text: Text,
    pub panel: Option<Panel>,
    pub controls: Vec<Control>,
    /// The only people this message may notify; nobody else, and never a role or everyone.
    pub notify: Vec<PersonRef>,
    pub image: Option<Image>,
    pub file: Option<Attachment>,
}

impl Card {
    pub fn text(text: impl Into<Text>) -> Card {
        Card {
            text: text.into(),
            ..Card::default()
        }
    }

    pub fn with_panel(mut self, panel: Panel) -> Card {
        self.panel = Some(panel);
        self
    }

    pub fn with_buttons(mut self, buttons: Vec<Button>) -> Card {
        if !buttons.is_empty() {
            self.controls.push(Control::Buttons(buttons));
        }
        self
    }

    pub fn notifying(mut self, people: Vec<PersonRef>) -> Card {
        self.notify = people;
        self
    }

    /// Every custom id on the card, in order.
    pub fn ids(&self) -> Vec<CustomId> {
        let mut out = Vec::new();
        for c in &self.controls {
            match c {
                Control::Buttons(bs) => out.extend(bs.iter().map(|b| b.id)),
                Control::Menu(m) => out.push(m.id),
            }
        }
        out
    }
}

/// One box to write in.
#[derive(Debug, Clone, PartialEq)]
pub struct TextField {
    /// The field's key in the answer.
    pub key: &'static str,
    pub label: String,
    pub placeholder: Option<String>,
    /// What is there already (a draft).
    pub value: Option<String>,
    pub max_len: u16,
    pub required: bool,
    /// Several lines rather than one.
    pub long: bool,
}

/// A request for words: a modal on Discord, a reply on Matrix. Its id comes back with the
/// answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRequest {
    pub id: CustomId,
    pub title: String,
    pub fields: Vec<TextField>,
}

/// What a transport can do, so flows can degrade where a platform lacks something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Buttons and menus on a message.
    pub controls: bool,
    /// A form that opens on top of the chat (else a text request becomes a reply).
    pub forms: bool,
    /// A reply only the person who acted sees, in the shared room.
    pub ephemeral: bool,
    /// Editing an earlier message.
    pub edits: bool,
    /// The most options a choice may offer.
    pub max_choices: usize,
}

/// Why a post did not land.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostError {
    /// The room is gone, or the bot was removed from it: retrying will not help.
    #[error("room unreachable ({status})")]
    Gone { status: u16 },
    /// The bot may not do this one thing here (attach a file, say); the rest may work.
    #[error("missing permission ({status})")]
    Forbidden { status: u16 },
    /// The platform asked us to wait this long.
    #[error("rate limited for {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The platform refused our credentials: nothing will work until the host fixes them.
    #[error("unauthorised")]
    Unauthorised,
    /// Anything else (5xx, timeouts, resets): retry with back-off.
    #[error("transient: {0}")]
    Transient(String),
}

/// The port each chat transport implements.
#[async_trait]
pub trait Transport: Send + Sync {
    fn kind(&self) -> TransportKind;

    fn caps(&self) -> Caps;

    /// Posts a card to a room. `key` is stable across retries of the same post, so a retry
    /// after a lost answer lands once.
    async fn post(&self, room: &Room, card: &Card, key: &str) -> Result<MessageRef, PostError>;

    /// Looks for a message this bot posted in `room` since `since` that is this `card` (posted
    /// under `key`, where the platform keeps it), for a delivery that may have reached the
    /// platform without being recorded (its answer lost, then the database away): the
    /// platform's own deduplication of `key` lasts minutes only, so past that the bot must
    /// recognise its earlier message before sending again. `Ok(None)` means "not there:
    /// send". The default cannot look and says so.
    async fn find_recent(
        &self,
        _room: &Room,
        _card: &Card,
        _key: &str,
        _since: DateTime<Utc>,
    ) -> Result<Option<MessageRef>, PostError> {
        Ok(None)
    }

    /// Delivers a card to one person only, outside any interaction: their direct messages
    /// (a direct room with the bot on Matrix, a DM on Discord).
    async fn post_private(
        &self,
        room: &Room,
        to: &PersonRef,
        card: &Card,
        key: &str,
    ) -> Result<MessageRef, PostError>;

    /// Replaces an earlier message with a new card.
    async fn replace(
        &self,
        room: &Room,
        message: &MessageRef,
        card: &Card,
    ) -> Result<(), PostError>;

    /// Removes an earlier message.
    async fn retract(&self, room: &Room, message: &MessageRef) -> Result<(), PostError>;

    /// The person's name as the room shows it, if it can be found.
    async fn display_name(&self, room: &Room, person: &PersonRef) -> Option<String>;
}

/// The transports this process serves, by kind.
#[derive(Clone, Default)]
pub struct Transports(std::collections::HashMap<TransportKind, std::sync::Arc<dyn Transport>>);

impl Transports {
    pub fn new() -> Transports {
        Transports::default()
    }

    pub fn add(&mut self, t: std::sync::Arc<dyn Transport>) {
        self.0.insert(t.kind(), t);
    }

    pub fn get(&self, kind: TransportKind) -> Option<&dyn Transport> {
        self.0.get(&kind).map(|t| t.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
