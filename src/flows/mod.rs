//! The use cases, one module per journey. A use case takes who acts ([`Who`]), where
//! ([`Here`]), on what, with a typed input; authorises once ([`access`]); asks `domain/` to
//! decide; writes in one transaction; plans the follow-up jobs; and returns an [`Answer`]
//! (cards to show) or a typed [`Refusal`]. Scheduled work is prepared here too ([`jobs`]):
//! the scheduler claims a job, a flow says what to deliver, the scheduler delivers it through
//! the transport port and the flow records what was delivered.
//!
//! Flows know no chat platform: they speak in `transport::Card`s and words from `content/`.

pub mod access;
pub mod care;
pub mod checkin;
pub mod delivery;
pub mod jobs;
pub mod micro;
pub mod onboarding;
pub mod plan;
pub mod privacy;
pub mod recap;
pub mod repair;
pub mod round;
pub mod settings;
pub mod view;
pub mod weekly;

use std::time::Duration;

use crate::content::copy::{keys, Arg, Key};
use crate::content::Library;
use crate::domain::couple::Room;
use crate::domain::custom_id::{CustomId, PersonalAction};
use crate::domain::ids::TransportKind;
use crate::state::AppState;
use crate::transport::{Card, Text, TextRequest};

/// Who acts, as their transport identified them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub transport: TransportKind,
    /// Their id on that transport.
    pub handle: String,
}

/// Where they act: a room on a transport (`space` is what the room belongs to, such as a
/// Discord server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    pub transport: TransportKind,
    pub room: String,
    pub space: Option<String>,
    /// A one-to-one conversation with the bot, where couples do not live.
    pub direct: bool,
    /// False when the transport says the bot cannot post in this room.
    pub can_post: bool,
    /// Whether people other than the couple can read the room, when the transport knows
    /// (setup and status tell the couple).
    pub open_to_others: Option<bool>,
}

/// How a flow answers the person who acted.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A new message in the room, for both partners.
    Public(Card),
    /// A message only the person who acted sees.
    Private(Card),
    /// Replaces the message the person acted on (which they may be the only one to see).
    Update(Card),
    /// Asks for words (a modal on Discord).
    AskText(TextRequest),
}

/// A post to make after answering (a notice in the room), with its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub room: Room,
    pub card: Card,
    pub key: String,
}

/// Everything a use case hands back to the transport that called it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub reply: Reply,
    /// Private messages that follow the reply (the moment a repair names, shown to its
    /// writer only).
    pub followups: Vec<Card>,
    pub posts: Vec<Post>,
    /// A durable follow-up planned with the change this answer shows (the repair's card,
    /// posted by a job if the answer never reaches the couple). The transport calls
    /// [`showing`] just before it shows the reply and [`not_shown`] if that failed.
    pub follow_up: Option<crate::domain::jobs::Job>,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer {
            reply,
            followups: Vec::new(),
            posts: Vec::new(),
            follow_up: None,
        }
    }
}

/// The transport is about to show an answer's reply: its durable follow-up
/// (`Answer::follow_up`) is cancelled first, so a reply that is shown is never followed by a
/// second copy. Should the cancel fail, the follow-up shows the same card once more, which
/// beats a partner left without it.
pub async fn showing(st: &AppState, follow_up: Option<&crate::domain::jobs::Job>) {
    let Some(job) = follow_up else {
        return;
    };
    if let Err(e) = crate::store::jobs::cancel_by_key(&st.pool, &job.dedupe_key()).await {
        tracing::warn!(error = %e, kind = job.kind(), "could not cancel a follow-up made needless");
    }
}

/// The reply could not be shown after all: the follow-up is planned again, due now, so the
/// couple get the card from the scheduler.
pub async fn not_shown(st: &AppState, follow_up: Option<&crate::domain::jobs::Job>) {
    let Some(job) = follow_up else {
        return;
    };
    let now = st.clock.now();
    match crate::store::jobs::schedule(&st.pool, job, now, now).await {
        Ok(_) => st.wake.notify_one(),
        // Still pending from the flow's own transaction if the cancel above failed too;
        // otherwise the card waits for the couple's next step.
        Err(e) => {
            tracing::warn!(error = %e, kind = job.kind(), "could not plan a lost reply again")
        }
    }
}

impl Answer {
    pub fn public(card: Card) -> Answer {
        Reply::Public(card).into()
    }

    pub fn private(card: Card) -> Answer {
        Reply::Private(card).into()
    }

    pub fn update(card: Card) -> Answer {
        Reply::Update(card).into()
    }
}

/// A refusal a person can act on: shown to them (privately), nothing changed. Each names
/// the copy text it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub key: Key,
    pub args: Vec<(&'static str, Arg)>,
}

impl Refusal {
    pub fn new(key: Key) -> Refusal {
        Refusal {
            key,
            args: Vec::new(),
        }
    }

    pub fn with(key: Key, args: Vec<(&'static str, Arg)>) -> Refusal {
        Refusal { key, args }
    }

    pub fn stale() -> Refusal {
        Refusal::new(keys::common::STALE_BUTTON)
    }

    pub fn text(&self, lib: &Library) -> Text {
        let args: Vec<(&str, Arg)> = self.args.iter().map(|(k, v)| (*k, v.clone())).collect();
        lib.t(self.key, &args)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Something the person should know or can fix.
    #[error("refused ({})", .0.key.name)]
    Refused(Refusal),
    /// The database is away for the moment; the person is asked to try again.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The work did not finish in the time the transport gives us to answer.
    #[error("no answer within {0:?}")]
    TooSlow(Duration),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// The answer to a form whose text could not be saved (or not confirmed saved in time): a
/// submitted form is gone, so what was typed goes back to its writer, privately, with the
/// truth. A refusal is answered as usual (nothing was at stake). Long texts come as a file.
pub fn unsaved(lib: &Library, e: &FlowError, typed: &[String]) -> Card {
    if matches!(e, FlowError::Refused(_)) || typed.is_empty() {
        return Card::text(e.text(lib));
    }
    let all = typed.join("\n\n");
    // Room for our own words in one message of 2,000 characters.
    if all.chars().count() <= 1_500 {
        return Card::text(lib.t(
            keys::common::UNSAVED,
            &[("text", crate::content::copy::Arg::Quote(all))],
        ));
    }
    let mut card = Card::text(lib.t(keys::common::UNSAVED_FILE, &[]));
    card.file = Some(crate::transport::Attachment {
        filename: "what-you-wrote.txt".into(),
        bytes: all.into_bytes(),
    });
    card
}

impl FlowError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        FlowError::Internal(e.into())
    }

    /// What the person sees.
    pub fn text(&self, lib: &Library) -> Text {
        match self {
            FlowError::Refused(r) => r.text(lib),
            FlowError::Unavailable(_) => lib.t(keys::common::TRY_AGAIN, &[]),
            // The work may have committed just before the deadline: say so, not "nothing
            // was saved".
            FlowError::TooSlow(_) => lib.t(keys::common::TOO_SLOW, &[]),
            FlowError::Internal(_) => lib.t(keys::common::SORRY, &[]),
        }
    }

    /// Logs what the host needs (never user text: refusals may quote input).
    pub fn log(&self, what: &str) {
        match self {
            FlowError::Refused(r) => {
                tracing::debug!(what, refusal = r.key.name, "refused with a message")
            }
            FlowError::Unavailable(e) => tracing::warn!(what, error = %e, "database unavailable"),
            FlowError::TooSlow(d) => tracing::warn!(what, after = ?d, "gave up to answer in time"),
            FlowError::Internal(e) => {
                tracing::error!(what, error = format!("{e:#}"), "internal error")
            }
        }
    }
}

impl From<Refusal> for FlowError {
    fn from(r: Refusal) -> Self {
        FlowError::Refused(r)
    }
}

impl From<sqlx::Error> for FlowError {
    fn from(e: sqlx::Error) -> Self {
        if crate::store::is_transient(&e) {
            FlowError::Unavailable(e)
        } else {
            FlowError::Internal(e.into())
        }
    }
}

/// A refusal as an error, for `?`.
pub fn refuse<T>(key: Key) -> Result<T, FlowError> {
    Err(Refusal::new(key).into())
}

/// A refusal with placeholders, as an error.
pub fn refuse_with<T>(key: Key, args: Vec<(&'static str, Arg)>) -> Result<T, FlowError> {
    Err(Refusal::with(key, args).into())
}

pub type FlowResult<T = Answer> = Result<T, FlowError>;

/// A press of a choice (a button, a menu, a numbered reply), by its typed custom id: the one
/// dispatch every transport hands its parsed presses to (`values` are a menu's choices).
pub async fn press(
    st: &AppState,
    who: &Who,
    here: &Here,
    id: CustomId,
    values: &[String],
) -> FlowResult {
    match id {
        CustomId::Invite(id, action) => {
            onboarding::answer_invitation(st, who, here, id, action).await
        }
        CustomId::Leave(id, action) => onboarding::leave_choice(st, who, here, id, action).await,
        CustomId::Checkin(id, action) => checkin::press(st, who, here, id, action, values).await,
        CustomId::Forget(_, action) => privacy::forget_choice(st, who, here, action).await,
        CustomId::Micro(id, action) => micro::press(st, who, here, id, action).await,
        CustomId::Repair(id, action) => repair::press(st, who, here, id, action).await,
        CustomId::Personal(id, PersonalAction::Care) => {
            care::choose(st, who, here, id, values).await
        }
        CustomId::Personal(id, PersonalAction::MyNumbers) => recap::mine(st, who, here, id).await,
    }
}
